// EncoderDecoder (mmsegmentation's segmentors/encoder_decoder.py): backbone → decode head, plus an
// optional auxiliary FCN head on an earlier stage. Logits stay at the backbone's output stride (1/8
// typically); upsampling to the label size belongs to the loss. The aux logits are computed first
// and handed to the decode head, so that OCR can use them as soft object regions.
// Legend: N batch, C input channels, K classes, H/W input size, s the output stride.

import { ShapeError, fmtShape, type Tensor } from '@lad/tensor';
import { Module } from '@lad/nn';
import type { Backbone, DecodeHead, SegModel, SegOutputs } from './types.ts';

/** A backbone with a decode head and an optional auxiliary head; logits are upsampled by the losses, not here. */
export class EncoderDecoder extends Module implements SegModel {
  readonly inChannels: number;
  readonly numClasses: number;
  backbone: Backbone;
  decodeHead: DecodeHead;
  auxiliaryHead: DecodeHead | null;

  constructor(o: { backbone: Backbone; decodeHead: DecodeHead; auxiliaryHead?: DecodeHead | null; inChannels: number; numClasses: number }) {
    super();
    this.backbone = o.backbone;
    this.decodeHead = o.decodeHead;
    this.auxiliaryHead = o.auxiliaryHead ?? null;
    this.inChannels = o.inChannels;
    this.numClasses = o.numClasses;
  }

  /** (N, C, H, W) → logits (N, K, ceil(H/s), ceil(W/s)) and aux logits at their stage's stride (or null). */
  forward(x: Tensor): SegOutputs {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new ShapeError(`EncoderDecoder: input must be (N, ${this.inChannels}, H, W): got ${fmtShape(x.shape)}.`);
    }
    const { features } = this.backbone.forward(x);
    const auxLogits = this.auxiliaryHead ? this.auxiliaryHead.forward(features, null) : null; // (N, K, h3, w3)
    const logits = this.decodeHead.forward(features, auxLogits); // (N, K, h4, w4)
    return { logits, auxLogits };
  }
}

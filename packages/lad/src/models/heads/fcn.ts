// FCN head (Long et al. 2015, as mmsegmentation's FCNHead): numConvs × (3x3 conv → BN → ReLU) on
// one backbone stage, optionally concatenated with its input and fused by one more 3x3 conv, then
// dropout and a 1x1 classifier. With numConvs 1, channels C/4 and no concat it is the auxiliary
// head on c3 (lad-method.md §3.2). Legend: N batch, C in channels, D head channels, K classes.

import { ShapeError, cat, defaultGenerator, fmtShape, type Generator, type Tensor } from '@lad/tensor';
import { Conv2d, Dropout2d, Module, Sequential, normal_, zeros_ } from '@lad/nn';
import type { DecodeHead } from '../types.ts';
import { ConvBNReLU, initSegModel_ } from '../layers.ts';

/** Options of FCNHead. */
export interface FCNHeadOptions {
  /** Channels C of the chosen stage. */
  inChannels: number;
  numClasses: number;
  /** Channels D of the 3x3 convs. */
  channels: number;
  /** Which entry of the feature list (3 = c4 for the decode head, 2 = c3 for the aux head). Default 3. */
  inIndex?: number;
  /** Number of 3x3 conv-BN-ReLU before the classifier; default 2 (mmseg), 1 for the aux head. */
  numConvs?: number;
  /** Concatenate the input with the convs' output and fuse with a 3x3 conv (mmseg default true). */
  concatInput?: boolean;
  /** Dilation of the 3x3 convs; default 1. */
  dilation?: number;
  /** Dropout2d rate before the classifier; default 0.1. */
  dropout?: number;
  generator?: Generator;
}

/** FCN decode head (also the auxiliary head): 3x3 convs on one stage, then a 1x1 classifier. */
export class FCNHead extends Module implements DecodeHead {
  readonly inIndex: number;
  readonly inChannels: number;
  convs: Sequential;
  convCat: ConvBNReLU | null;
  dropout: Dropout2d;
  convSeg: Conv2d;

  constructor(o: FCNHeadOptions) {
    super();
    const g = o.generator ?? defaultGenerator,
      d = o.dilation ?? 1,
      n = o.numConvs ?? 2;
    this.inIndex = o.inIndex ?? 3;
    this.inChannels = o.inChannels;
    const convs: ConvBNReLU[] = [];
    for (let i = 0; i < n; i++) convs.push(new ConvBNReLU(i === 0 ? o.inChannels : o.channels, o.channels, 3, { dilation: d, generator: g }));
    this.convs = new Sequential(...convs);
    const concat = (o.concatInput ?? true) && n > 0;
    this.convCat = concat ? new ConvBNReLU(o.inChannels + o.channels, o.channels, 3, { generator: g }) : null;
    this.dropout = new Dropout2d(o.dropout ?? 0.1, { generator: g });
    this.convSeg = new Conv2d(n > 0 ? o.channels : o.inChannels, o.numClasses, 1, { generator: g });
    initHead_(this, this.convSeg, g);
  }

  /** features[inIndex] (N, C, h, w) → (N, K, h, w); auxLogits are ignored. */
  forward(features: Tensor[], _auxLogits: Tensor | null = null): Tensor {
    const x = pickFeature('FCNHead', features, this.inIndex, this.inChannels);
    let h = this.convs.forward(x); // (N, D, h, w)
    if (this.convCat) h = this.convCat.forward(cat([x, h], 1)); // (N, C + D, h, w) → (N, D, h, w)
    return this.convSeg.forward(this.dropout.forward(h)); // (N, K, h, w)
  }
}

/** features[i], checked to have C channels; throws a ShapeError naming the head otherwise. */
export function pickFeature(op: string, features: readonly Tensor[], i: number, channels: number): Tensor {
  const x = features[i];
  if (!x) throw new ShapeError(`${op}: feature list has ${features.length} entries: expected an entry at inIndex ${i}.`);
  if (x.ndim !== 4 || x.shape[1] !== channels) throw new ShapeError(`${op}: features[${i}] must be (N, ${channels}, h, w): got ${fmtShape(x.shape)}.`);
  return x;
}

/** Kaiming-normal (fan_out, relu) convs and BN 1/0, then the classifier ~ N(0, 0.01²), bias 0 (mmseg's conv_seg). */
export function initHead_(head: Module, convSeg: Conv2d, g: Generator): void {
  initSegModel_(head, g);
  normal_(convSeg.weight, 0, 0.01, { generator: g });
  if (convSeg.bias) zeros_(convSeg.bias);
}

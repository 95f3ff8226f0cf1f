// OCR head: object-contextual representations (Yuan et al., "Object-Contextual Representations
// for Semantic Segmentation", ECCV 2020, §3.2–3.3), following mmseg's decode_heads/ocr_head.py
// (SpatialGatherModule + ObjectAttentionBlock, scale 1, no query downsampling). The auxiliary
// head's logits are the soft object regions; their gradient is not stopped (as in mmseg).
// Legend: N batch, C channels of c4, D `channels` (pixel features), E `keyChannels`,
// K classes (= object regions), H/W feature size, P = H·W pixels.

import { ShapeError, ValueError, cat, fmtShape, interpolate, type Generator, type Tensor } from '@lad/tensor';
import { Conv2d, Dropout2d, Module, Sequential } from '@lad/nn';
import { ConvBNReLU, initSegModel_ } from '../layers.ts';
import type { DecodeHead } from '../types.ts';

/** Options of OCRHead. */
export interface OCRHeadOptions {
  /** Channels of c4 (features[3]): 512 for ResNet-18, 2048 for ResNet-101. */
  inChannels: number;
  numClasses: number;
  /** Pixel-representation channels D (paper and mmseg: 512). */
  channels: number;
  /** Query/key/value channels E of the pixel-region attention (paper and mmseg: 256). */
  keyChannels: number;
  /** Dropout2d before the classifier (mmseg's ResNet OCRNet: 0.1). */
  dropout?: number;
  /** Draws the Kaiming-normal init (default: the library's defaultGenerator). */
  generator?: Generator;
}

/**
 * Object region representations (SpatialGatherModule): each class's spatial softmax of the
 * region logits weighs the pixel features. (N, D, H, W), (N, K, H, W) → (N, D, K, 1).
 */
export function gatherObjectRegions(pixels: Tensor, regionLogits: Tensor): Tensor {
  const [N, D, H, W] = pixels.shape;
  const K = regionLogits.shape[1];
  const regions = regionLogits.reshape([N, K, H * W]).softmax(2); // (N, K, P), rows sum to 1 over pixels
  const centres = regions.matmul(pixels.reshape([N, D, H * W]).permute(0, 2, 1)); // (N, K, D)
  return centres.permute(0, 2, 1).reshape([N, D, K, 1]); // (N, D, K, 1)
}

/**
 * Pixel-region relation: scaled dot-product attention of pixel queries (N, E, P) over object
 * keys (N, E, K); softmax over the K regions. Returns (N, P, K), each row summing to 1.
 */
export function pixelRegionRelation(query: Tensor, key: Tensor): Tensor {
  const E = query.shape[1];
  const sim = query.permute(0, 2, 1).matmul(key); // (N, P, K)
  return sim.mul(E ** -0.5).softmax(2);
}

/** Object contextual representation per pixel (mmseg's ObjectAttentionBlock, out = D channels). */
class ObjectAttention extends Module {
  query: Sequential;
  key: Sequential;
  value: ConvBNReLU;
  up: ConvBNReLU;

  constructor(D: number, E: number, generator?: Generator) {
    super();
    const g = { generator };
    this.query = new Sequential(new ConvBNReLU(D, E, 1, g), new ConvBNReLU(E, E, 1, g));
    this.key = new Sequential(new ConvBNReLU(D, E, 1, g), new ConvBNReLU(E, E, 1, g));
    this.value = new ConvBNReLU(D, E, 1, g);
    this.up = new ConvBNReLU(E, D, 1, g);
  }

  /** pixels (N, D, H, W), regions (N, D, K, 1) → context (N, D, H, W). */
  forward(pixels: Tensor, regions: Tensor): Tensor {
    const [N, , H, W] = pixels.shape;
    const q = this.query.forward(pixels).flatten(2); // (N, E, P)
    const k = this.key.forward(regions).flatten(2); // (N, E, K)
    const v = this.value.forward(regions).flatten(2); // (N, E, K)
    const relation = pixelRegionRelation(q, k); // (N, P, K)
    const context = relation.matmul(v.permute(0, 2, 1)); // (N, P, E)
    return this.up.forward(context.permute(0, 2, 1).reshape([N, -1, H, W])); // (N, D, H, W)
  }
}

/** OCRNet's decode head: object-contextual representations from soft object regions. */
export class OCRHead extends Module implements DecodeHead {
  pixel: ConvBNReLU;
  objectAttention: ObjectAttention;
  fuse: ConvBNReLU;
  dropout: Dropout2d;
  classifier: Conv2d;
  readonly inChannels: number;
  readonly numClasses: number;

  constructor(opts: OCRHeadOptions) {
    super();
    const { inChannels, numClasses, channels: D, keyChannels: E } = opts;
    this.inChannels = inChannels;
    this.numClasses = numClasses;
    const g = { generator: opts.generator };
    this.pixel = new ConvBNReLU(inChannels, D, 3, g);
    this.objectAttention = new ObjectAttention(D, E, opts.generator);
    this.fuse = new ConvBNReLU(2 * D, D, 1, g);
    this.dropout = new Dropout2d(opts.dropout ?? 0.1, g);
    this.classifier = new Conv2d(D, numClasses, 1, g);
    initSegModel_(this, opts.generator);
  }

  /** features[3] (N, C, H, W) + auxLogits (N, K, h, w) → logits (N, K, H, W). */
  forward(features: Tensor[], auxLogits: Tensor | null): Tensor {
    if (auxLogits === null) throw new ValueError("OCRHead needs the auxiliary head's logits as soft object regions: build the model with aux: true.");
    const c4 = features[3];
    if (c4 === undefined || c4.ndim !== 4 || c4.shape[1] !== this.inChannels) {
      throw new ShapeError(`OCRHead: features[3] must be (N, ${this.inChannels}, H, W): got ${c4 ? fmtShape(c4.shape) : `${features.length} features`}.`);
    }
    if (auxLogits.ndim !== 4 || auxLogits.shape[1] !== this.numClasses) {
      throw new ShapeError(`OCRHead: auxLogits must be (N, ${this.numClasses}, h, w): got ${fmtShape(auxLogits.shape)}.`);
    }
    const [H, W] = c4.shape.slice(2);
    const regionLogits =
      auxLogits.shape[2] === H && auxLogits.shape[3] === W ? auxLogits : interpolate(auxLogits, { size: [H, W], mode: 'bilinear', alignCorners: false }); // (N, K, H, W)
    const pixels = this.pixel.forward(c4); // (N, D, H, W)
    const regions = gatherObjectRegions(pixels, regionLogits); // (N, D, K, 1)
    const context = this.objectAttention.forward(pixels, regions); // (N, D, H, W)
    const fused = this.fuse.forward(cat([context, pixels], 1)); // (N, 2D, H, W) → (N, D, H, W)
    return this.classifier.forward(this.dropout.forward(fused)); // (N, K, H, W)
  }
}

// DeepLabV3 head (Chen et al. 2017; lad-method.md §3.2, CIRKD's _DeepLabHead): ASPP on c4 with a
// 1x1 branch, three 3x3 atrous branches (rates 6, 12, 18 at output stride 16, doubled at 8) and an
// image-pooling branch, each → BN → ReLU; concat → 1x1 projection → BN → ReLU → dropout → 3x3 conv →
// BN → ReLU → dropout → 1x1 classifier. LAD sets both dropouts to 0.01 (CIRKD: 0.5 and 0.1).
// Legend: N batch, C c4 channels, D branch channels, K classes, h/w the c4 size.

import { cat, defaultGenerator, type Generator, type Tensor } from '@lad/tensor';
import { Dropout2d, Module, ModuleList, Conv2d } from '@lad/nn';
import type { DecodeHead } from '../types.ts';
import { ConvBNReLU } from '../layers.ts';
import { initHead_, pickFeature } from './fcn.ts';

/** Options of ASPPHead (DeepLabV3). */
export interface ASPPHeadOptions {
  /** Channels C of c4. */
  inChannels: number;
  numClasses: number;
  /** Channels D of every branch, the projection and the 3x3 conv (128 for R18, 256 for R101). */
  channels: number;
  /** Output stride of c4; scales the atrous rates as 6·16/os, 12·16/os, 18·16/os. Default 8. */
  outputStride?: number;
  /** Explicit atrous rates of the 3x3 branches; overrides outputStride. */
  dilations?: readonly number[];
  /** Which feature (3 = c4). */
  inIndex?: number;
  /** Dropout2d rate after the projection and after the 3x3 conv; default 0.1. */
  dropout?: number;
  generator?: Generator;
}

/** Atrous rates for an output stride: (6, 12, 18) at 16, (12, 24, 36) at 8. */
export const asppRates = (outputStride: number): number[] => [6, 12, 18].map((r) => (r * 16) / outputStride);

/** Global average pool → 1x1 conv → BN → ReLU, broadcast back to (h, w). */
class ImagePool extends Module {
  block: ConvBNReLU;

  constructor(inC: number, outC: number, g: Generator) {
    super();
    this.block = new ConvBNReLU(inC, outC, 1, { generator: g });
  }

  /** (N, C, h, w) → (N, D, h, w) */
  forward(x: Tensor): Tensor {
    const pooled = this.block.forward(x.mean([2, 3], true)); // (N, D, 1, 1)
    // NOTE: bilinear upsampling (alignCorners) of a 1x1 map is a broadcast; expand is the same, cheaper.
    return pooled.expand([x.shape[0], pooled.shape[1], x.shape[2], x.shape[3]]);
  }
}

/** DeepLabV3's decode head: atrous spatial pyramid pooling over the last stage. */
export class ASPPHead extends Module implements DecodeHead {
  readonly inIndex: number;
  readonly inChannels: number;
  readonly dilations: readonly number[];
  branches: ModuleList<ConvBNReLU>;
  imagePool: ImagePool;
  project: ConvBNReLU;
  dropout1: Dropout2d;
  bottleneck: ConvBNReLU;
  dropout2: Dropout2d;
  convSeg: Conv2d;

  constructor(o: ASPPHeadOptions) {
    super();
    const g = o.generator ?? defaultGenerator,
      C = o.inChannels,
      D = o.channels,
      p = o.dropout ?? 0.1;
    this.inIndex = o.inIndex ?? 3;
    this.inChannels = C;
    this.dilations = o.dilations ?? asppRates(o.outputStride ?? 8);
    const atrous = this.dilations.map((d) => new ConvBNReLU(C, D, 3, { dilation: d, generator: g }));
    this.branches = new ModuleList([new ConvBNReLU(C, D, 1, { generator: g }), ...atrous]);
    this.imagePool = new ImagePool(C, D, g);
    this.project = new ConvBNReLU((this.branches.length + 1) * D, D, 1, { generator: g });
    this.dropout1 = new Dropout2d(p, { generator: g });
    this.bottleneck = new ConvBNReLU(D, D, 3, { generator: g });
    this.dropout2 = new Dropout2d(p, { generator: g });
    this.convSeg = new Conv2d(D, o.numClasses, 1, { generator: g });
    initHead_(this, this.convSeg, g);
  }

  /** features[inIndex] (N, C, h, w) → (N, K, h, w). */
  forward(features: Tensor[], _auxLogits: Tensor | null = null): Tensor {
    const x = pickFeature('ASPPHead', features, this.inIndex, this.inChannels);
    const outs = [...[...this.branches].map((b) => b.forward(x)), this.imagePool.forward(x)];
    const h = this.dropout1.forward(this.project.forward(cat(outs, 1))); // (N, 5D, h, w) → (N, D, h, w)
    return this.convSeg.forward(this.dropout2.forward(this.bottleneck.forward(h))); // (N, K, h, w)
  }
}

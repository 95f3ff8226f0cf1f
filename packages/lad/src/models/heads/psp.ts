// PSPNet head (Zhao et al. 2017; lad-method.md §3.2): a pyramid pooling module on c4 (adaptive
// average pools to 1, 2, 3, 6 bins, each 1x1 conv → BN → ReLU → bilinear upsample with
// alignCorners), concatenated with c4, a 3x3 bottleneck conv → BN → ReLU, dropout, 1x1 classifier.
// Legend: N batch, C c4 channels, P pool-branch channels (C/4), D bottleneck channels, K classes.

import { adaptiveAvgPool2d, cat, defaultGenerator, interpolate, type Generator, type Tensor } from '@lad/tensor';
import { Dropout2d, Module, ModuleList, Conv2d } from '@lad/nn';
import type { DecodeHead } from '../types.ts';
import { ConvBNReLU } from '../layers.ts';
import { initHead_, pickFeature } from './fcn.ts';

/** Options of PSPHead. */
export interface PSPHeadOptions {
  /** Channels C of c4. */
  inChannels: number;
  numClasses: number;
  /** Channels D of the 3x3 bottleneck (128 for R18, 512 for R101). */
  channels: number;
  /** Channels P of each pooling branch; default C/4 (512→128 for R18). */
  poolChannels?: number;
  poolScales?: readonly number[];
  /** Which feature (3 = c4). */
  inIndex?: number;
  /** Dropout2d rate before the classifier; default 0.1 (LAD keeps CIRKD's). */
  dropout?: number;
  generator?: Generator;
}

/** One pyramid level: adaptive pool to s×s bins → 1x1 conv → BN → ReLU. */
class PoolBranch extends Module {
  block: ConvBNReLU;

  constructor(
    readonly scale: number,
    inC: number,
    outC: number,
    g: Generator,
  ) {
    super();
    this.block = new ConvBNReLU(inC, outC, 1, { generator: g });
  }

  /** (N, C, h, w) → (N, P, h, w) */
  forward(x: Tensor): Tensor {
    const pooled = this.block.forward(adaptiveAvgPool2d(x, this.scale)); // (N, P, s, s)
    return interpolate(pooled, { size: [x.shape[2], x.shape[3]], mode: 'bilinear', alignCorners: true });
  }
}

/** PSPNet's decode head: pyramid pooling over the last stage. */
export class PSPHead extends Module implements DecodeHead {
  readonly inIndex: number;
  readonly inChannels: number;
  branches: ModuleList<PoolBranch>;
  bottleneck: ConvBNReLU;
  dropout: Dropout2d;
  convSeg: Conv2d;

  constructor(o: PSPHeadOptions) {
    super();
    const g = o.generator ?? defaultGenerator,
      scales = o.poolScales ?? [1, 2, 3, 6];
    const P = o.poolChannels ?? Math.max(1, Math.floor(o.inChannels / 4));
    this.inIndex = o.inIndex ?? 3;
    this.inChannels = o.inChannels;
    this.branches = new ModuleList(scales.map((s) => new PoolBranch(s, o.inChannels, P, g)));
    this.bottleneck = new ConvBNReLU(o.inChannels + scales.length * P, o.channels, 3, { generator: g });
    this.dropout = new Dropout2d(o.dropout ?? 0.1, { generator: g });
    this.convSeg = new Conv2d(o.channels, o.numClasses, 1, { generator: g });
    initHead_(this, this.convSeg, g);
  }

  /** features[inIndex] (N, C, h, w) → (N, K, h, w). */
  forward(features: Tensor[], _auxLogits: Tensor | null = null): Tensor {
    const x = pickFeature('PSPHead', features, this.inIndex, this.inChannels);
    const pyramid = cat([x, ...[...this.branches].map((b) => b.forward(x))], 1); // (N, C + 4P, h, w)
    return this.convSeg.forward(this.dropout.forward(this.bottleneck.forward(pyramid))); // (N, K, h, w)
  }
}

// STDC-Seg (Fan et al., "Rethinking BiSeNet for Real-time Semantic Segmentation", CVPR 2021),
// following mmseg's backbones/stdc.py (STDCNet 'cat' bottleneck, STDCContextPathNet) with the
// STDC1 settings: channels (w/2, w, 4w, 8w, 16w) for base width w = 64, 2 modules per stage.
// Main logits: FFM (1/8) → 3x3 conv-BN-ReLU → 1x1 (mmseg's FCNHead); aux: the same on the 1/16
// context feature (mmseg's in_index 1). NOTE: the detail-guidance loss (STDCHead, Laplacian
// boundary targets on the 1/8 stage) is training-only and left out here.
// Legend: N batch, C input channels, K classes, w base width, H/W input size, /s = ceil(·/s).

import { ValueError, adaptiveAvgPool2d, avgPool2d, cat, interpolate, type Generator, type Tensor } from '@lad/tensor';
import { Conv2d, Dropout2d, Module, ModuleList, Sequential } from '@lad/nn';
import { ConvBNReLU, initExtraInputChannels_, initSegModel_ } from './layers.ts';
import type { SegModel, SegOutputs } from './types.ts';

/** Options of StdcSeg. */
export interface StdcSegOptions {
  /** 3 for an image, 4 for image + LAD label channel. */
  inChannels: number;
  numClasses: number;
  /** Base width w (STDC1: 64); even. Stage channels are 4w, 8w, 16w. */
  width: number;
  /** Return auxLogits from a head on the 1/16 context feature. */
  aux: boolean;
  /** STDC modules per stage, the first with stride 2 (STDC1: [2, 2, 2]; STDC2: [4, 5, 3]). */
  depths?: [number, number, number];
  /** Dropout2d before each classifier (mmseg: 0.1). */
  dropout?: number;
  /** Std of the extra (label) input channels' first-layer kernel (lad-method.md §3.1: 0.1). */
  labelChannelStd?: number;
  /** Draws every init (default: the library's defaultGenerator). */
  generator?: Generator;
}

type G = { generator?: Generator };

/**
 * Short-term dense concatenate module (paper Fig. 3, 'cat' fusion): convs 1x1 → 3x3 → 3x3 → 3x3
 * with out/2, out/4, out/8, out/8 channels, outputs concatenated to `out`. At stride 2 a depthwise
 * 3x3 stride-2 conv-BN follows the first conv, and a 3x3 avg-pool stride 2 is its skip.
 */
export class StdcModule extends Module {
  convs: ModuleList<ConvBNReLU>;
  downsample: ConvBNReLU | null;

  constructor(
    inC: number,
    outC: number,
    readonly stride: 1 | 2,
    g: G = {},
  ) {
    super();
    const half = outC / 2;
    const outs = [half, outC / 4, outC / 8, outC / 8];
    this.convs = new ModuleList([new ConvBNReLU(inC, half, 1, g)]);
    for (let i = 1; i < outs.length; i++) this.convs.push(new ConvBNReLU(outs[i - 1], outs[i], 3, g));
    this.downsample = stride === 2 ? new ConvBNReLU(half, half, 3, { ...g, stride: 2, groups: half, relu: false }) : null;
  }

  /** (N, inC, h, w) → (N, outC, h/stride, w/stride). */
  forward(x: Tensor): Tensor {
    const x0 = this.convs.at(0).forward(x); // (N, out/2, h, w)
    const outs = [this.downsample ? avgPool2d(x0, 3, { stride: 2, padding: 1 }) : x0]; // skip: (N, out/2, h/s, w/s)
    let y = this.downsample ? this.downsample.forward(x0) : x0;
    for (let i = 1; i < this.convs.length; i++) outs.push((y = this.convs.at(i).forward(y)));
    return cat(outs, 1); // (N, out, h/s, w/s)
  }
}

/** A stage: `depth` STDC modules, the first at stride 2. */
function stage(inC: number, outC: number, depth: number, g: G): Sequential {
  const mods = Array.from({ length: depth }, (_, i) => new StdcModule(i === 0 ? inC : outC, outC, i === 0 ? 2 : 1, g));
  return new Sequential(...mods);
}

/** Attention refinement module: 3x3 conv-BN-ReLU, then channel attention from global context. */
export class AttentionRefinement extends Module {
  conv: ConvBNReLU;
  attention: ConvBNReLU;

  constructor(inC: number, outC: number, g: G = {}) {
    super();
    this.conv = new ConvBNReLU(inC, outC, 3, g);
    this.attention = new ConvBNReLU(outC, outC, 1, { ...g, relu: false });
  }

  /** (N, inC, h, w) → (N, outC, h, w). */
  forward(x: Tensor): Tensor {
    const y = this.conv.forward(x);
    const a = this.attention.forward(adaptiveAvgPool2d(y, 1)).sigmoid(); // (N, outC, 1, 1)
    return y.mul(a);
  }
}

/** Feature fusion module: concat spatial and context → 1x1 conv-BN-ReLU → x + x·SE(x). */
export class FeatureFusion extends Module {
  conv: ConvBNReLU;
  squeeze: Conv2d;
  excite: Conv2d;

  constructor(inC: number, outC: number, g: G = {}) {
    super();
    this.conv = new ConvBNReLU(inC, outC, 1, g);
    this.squeeze = new Conv2d(outC, outC / 4, 1, { ...g, bias: false });
    this.excite = new Conv2d(outC / 4, outC, 1, { ...g, bias: false });
  }

  /** (N, Cs, h, w), (N, Cc, h, w) → (N, outC, h, w). */
  forward(spatial: Tensor, context: Tensor): Tensor {
    const x = this.conv.forward(cat([spatial, context], 1));
    const a = this.excite.forward(this.squeeze.forward(adaptiveAvgPool2d(x, 1)).relu()).sigmoid(); // (N, outC, 1, 1)
    return x.mul(a).add(x);
  }
}

/** mmseg's FCNHead with one conv: 3x3 conv-BN-ReLU → dropout → 1x1 classifier (with bias). */
export class ConvSegHead extends Module {
  conv: ConvBNReLU;
  dropout: Dropout2d;
  classifier: Conv2d;

  constructor(inC: number, channels: number, numClasses: number, dropout: number, g: G = {}) {
    super();
    this.conv = new ConvBNReLU(inC, channels, 3, g);
    this.dropout = new Dropout2d(dropout, g);
    this.classifier = new Conv2d(channels, numClasses, 1, g);
  }

  /** (N, inC, h, w) → (N, K, h, w). */
  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.dropout.forward(this.conv.forward(x)));
  }
}

/** Nearest resize to the spatial size of `like` (mmseg's context path upsamples with 'nearest'). */
const resizeTo = (x: Tensor, like: Tensor): Tensor => interpolate(x, { size: like.shape.slice(2), mode: 'nearest' });

/** STDC segmentation network (STDC1 backbone, attention refinement and feature fusion). */
export class StdcSeg extends Module implements SegModel {
  stem: Sequential;
  stages: ModuleList<Sequential>;
  globalConv: ConvBNReLU;
  arm32: AttentionRefinement;
  arm16: AttentionRefinement;
  refine32: ConvBNReLU;
  refine16: ConvBNReLU;
  ffm: FeatureFusion;
  head: ConvSegHead;
  auxHead: ConvSegHead | null;
  readonly inChannels: number;
  readonly numClasses: number;
  readonly width: number;

  constructor(opts: StdcSegOptions) {
    super();
    const { inChannels, numClasses, width: w } = opts;
    if (!Number.isInteger(w) || w < 2 || w % 2 !== 0) throw new ValueError(`StdcSeg: width must be an even integer >= 2: got ${w}.`);
    const depths = opts.depths ?? [2, 2, 2];
    if (depths.some((d) => !Number.isInteger(d) || d < 1)) throw new ValueError(`StdcSeg: depths must be integers >= 1: got [${depths.join(', ')}].`);
    this.inChannels = inChannels;
    this.numClasses = numClasses;
    this.width = w;
    const g = { generator: opts.generator },
      p = opts.dropout ?? 0.1;
    this.stem = new Sequential(new ConvBNReLU(inChannels, w / 2, 3, { ...g, stride: 2 }), new ConvBNReLU(w / 2, w, 3, { ...g, stride: 2 }));
    this.stages = new ModuleList([stage(w, 4 * w, depths[0], g), stage(4 * w, 8 * w, depths[1], g), stage(8 * w, 16 * w, depths[2], g)]);
    this.globalConv = new ConvBNReLU(16 * w, 2 * w, 1, g);
    this.arm32 = new AttentionRefinement(16 * w, 2 * w, g);
    this.arm16 = new AttentionRefinement(8 * w, 2 * w, g);
    this.refine32 = new ConvBNReLU(2 * w, 2 * w, 3, g);
    this.refine16 = new ConvBNReLU(2 * w, 2 * w, 3, g);
    this.ffm = new FeatureFusion(4 * w + 2 * w, 4 * w, g);
    this.head = new ConvSegHead(4 * w, 4 * w, numClasses, p, g);
    this.auxHead = opts.aux ? new ConvSegHead(2 * w, w, numClasses, p, g) : null;
    initSegModel_(this, opts.generator);
    const stemConv = (this.stem.at(0) as ConvBNReLU).conv;
    initExtraInputChannels_(stemConv, 3, opts.labelChannelStd ?? 0.1, opts.generator);
  }

  /** Backbone stage outputs at 1/8, 1/16, 1/32: (N, 4w, H/8, W/8), (N, 8w, ·), (N, 16w, ·). */
  features(x: Tensor): [Tensor, Tensor, Tensor] {
    const s8 = this.stages.at(0).forward(this.stem.forward(x));
    const s16 = this.stages.at(1).forward(s8);
    return [s8, s16, this.stages.at(2).forward(s16)];
  }

  /** Context path: ARMs on 1/32 and 1/16 with the global context added; → (1/16, 1/8) features. */
  private contextPath(s16: Tensor, s32: Tensor, s8: Tensor): [Tensor, Tensor] {
    const global = this.globalConv.forward(adaptiveAvgPool2d(s32, 1)); // (N, 2w, 1, 1)
    const c32 = this.arm32.forward(s32).add(global); // (N, 2w, H/32, W/32), broadcast
    const c16 = this.refine32.forward(resizeTo(c32, s16)); // (N, 2w, H/16, W/16)
    const c8 = this.refine16.forward(resizeTo(this.arm16.forward(s16).add(c16), s8)); // (N, 2w, H/8, W/8)
    return [c16, c8];
  }

  /** (N, C, H, W) → logits (N, K, H/8, W/8), auxLogits (N, K, H/16, W/16) or null. */
  forward(x: Tensor): SegOutputs {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels)
      throw new ValueError(`StdcSeg: input must be (N, ${this.inChannels}, H, W): got [${x.shape.join(', ')}].`);
    const [s8, s16, s32] = this.features(x);
    const [c16, c8] = this.contextPath(s16, s32, s8);
    const logits = this.head.forward(this.ffm.forward(s8, c8)); // (N, K, H/8, W/8)
    return { logits, auxLogits: this.auxHead ? this.auxHead.forward(c16) : null };
  }
}

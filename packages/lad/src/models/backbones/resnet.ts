// Dilated ResNet "v1s" (lad-method.md §3.1; CIRKD's resnetv1b.py with deep_stem=True): a 3-conv deep
// stem, BasicBlock (R18/34) or Bottleneck (R50/101) stages, and stages 3-4 dilated instead of strided
// so the output stride is 8 (or 16). Field names follow CIRKD (conv1.0, bn1, layer1.0.conv1, ...) so
// weights are exchangeable. Legend: N batch, C in channels, B base width, e block expansion (1 | 4),
// H/W input size; h = ceil(H/4), h8 = ceil(H/8), hs = ceil(H/s) with s the output stride.
// NOTE: every strided conv/pool is k3 p1 s2 (or k1 p0 s2), so each halves a size n to ceil(n/2).

import { ShapeError, ValueError, defaultGenerator, fmtShape, maxPool2d, type Generator, type Tensor } from '@lad/tensor';
import { BatchNorm2d, Conv2d, Module, ReLU, Sequential } from '@lad/nn';
import type { Backbone, BackboneFeatures } from '../types.ts';
import { initExtraInputChannels_, initSegModel_ } from '../layers.ts';

/** The ResNet depths built here. */
export const RESNET_DEPTHS = [18, 34, 50, 101] as const;
/** A ResNet depth (one of RESNET_DEPTHS). */
export type ResNetDepth = (typeof RESNET_DEPTHS)[number];
/** The output strides the ResNet backbone can be dilated to. */
export const OUTPUT_STRIDES = [4, 8, 16] as const;
/** An output stride (one of OUTPUT_STRIDES). */
export type OutputStride = (typeof OUTPUT_STRIDES)[number];

/** Options of ResNetV1s: depth, width, output stride, input channels and the label channel's init. */
export interface ResNetOptions {
  /** Block layout: 18/34 BasicBlock, 50/101 Bottleneck. Default 18. */
  depth?: ResNetDepth;
  /** Base width B: stem B→B→2B, stages B, 2B, 4B, 8B planes. 64 in the paper. Default 64. */
  width?: number;
  /** 3 for an image, 4 for image + label channel. Default 3. */
  inChannels?: number;
  /** 8: stages 3, 4 dilated 2, 4; 16: stage 4 dilated 2. Default 8. */
  outputStride?: OutputStride;
  /** Std of the first conv's weights on input channels ≥ 3 (the label channel); default 0.1 (§3.1). */
  labelChannelStd?: number;
  generator?: Generator;
}

const LAYOUTS: Record<ResNetDepth, { bottleneck: boolean; blocks: readonly number[] }> = {
  18: { bottleneck: false, blocks: [2, 2, 2, 2] },
  34: { bottleneck: false, blocks: [3, 4, 6, 3] },
  50: { bottleneck: true, blocks: [3, 4, 6, 3] },
  101: { bottleneck: true, blocks: [3, 4, 23, 3] },
};

/** Stride and dilation of layer1..layer4 for each output stride. */
const STAGES: Record<OutputStride, { strides: readonly number[]; dilations: readonly number[] }> = {
  4: { strides: [1, 1, 1, 1], dilations: [1, 2, 4, 8] },
  8: { strides: [1, 2, 1, 1], dilations: [1, 1, 2, 4] },
  16: { strides: [1, 2, 2, 1], dilations: [1, 1, 1, 2] },
};

/** A bias-free k×k conv with padding dilation·(k−1)/2 (re-initialised by initSegModel_ later). */
function conv(g: Generator, inC: number, outC: number, k: number, stride = 1, dilation = 1): Conv2d {
  return new Conv2d(inC, outC, k, { stride, dilation, padding: (dilation * (k - 1)) / 2, bias: false, generator: g });
}

/** conv1x1 (stride s) → BN on the shortcut when the shape changes. */
function downsample(g: Generator, inC: number, outC: number, stride: number): Sequential | null {
  if (stride === 1 && inC === outC) return null;
  return new Sequential(conv(g, inC, outC, 1, stride), new BatchNorm2d(outC));
}

/** ResNet-18/34 block: 3x3 (stride s, dilation d1) → 3x3 (dilation d2), plus the shortcut. */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  downsample: Sequential | null;

  constructor(inC: number, planes: number, stride: number, d1: number, d2: number, g: Generator) {
    super();
    this.conv1 = conv(g, inC, planes, 3, stride, d1);
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = conv(g, planes, planes, 3, 1, d2);
    this.bn2 = new BatchNorm2d(planes);
    this.downsample = downsample(g, inC, planes, stride);
  }

  /** (N, C, H, W) → (N, planes, ceil(H/s), ceil(W/s)). */
  forward(x: Tensor): Tensor {
    const h = this.bn1.forward(this.conv1.forward(x), 'relu');
    const y = this.bn2.forward(this.conv2.forward(h));
    return y.add(this.downsample ? this.downsample.forward(x) : x).relu();
  }
}

/** ResNet-50/101 block (v1b: stride on the 3x3): 1x1 → 3x3 (stride s, dilation d) → 1x1 to 4·planes. */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  downsample: Sequential | null;

  constructor(inC: number, planes: number, stride: number, d: number, _d2: number, g: Generator) {
    super();
    this.conv1 = conv(g, inC, planes, 1);
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = conv(g, planes, planes, 3, stride, d);
    this.bn2 = new BatchNorm2d(planes);
    this.conv3 = conv(g, planes, planes * 4, 1);
    this.bn3 = new BatchNorm2d(planes * 4);
    this.downsample = downsample(g, inC, planes * 4, stride);
  }

  /** (N, C, H, W) → (N, 4·planes, ceil(H/s), ceil(W/s)). */
  forward(x: Tensor): Tensor {
    let h = this.bn1.forward(this.conv1.forward(x), 'relu');
    h = this.bn2.forward(this.conv2.forward(h), 'relu');
    const y = this.bn3.forward(this.conv3.forward(h));
    return y.add(this.downsample ? this.downsample.forward(x) : x).relu();
  }
}

/**
 * One stage (CIRKD _make_layer): the first block's first dilation is 1 for stage dilation 1 or 2
 * and 2 for dilation 4; its second conv and every later block use the stage dilation.
 */
function makeStage(bottleneck: boolean, inC: number, planes: number, n: number, stride: number, dilation: number, g: Generator): Sequential {
  const Block = bottleneck ? Bottleneck : BasicBlock;
  const first = dilation <= 2 ? 1 : 2;
  const blocks: (BasicBlock | Bottleneck)[] = [new Block(inC, planes, stride, first, dilation, g)];
  for (let i = 1; i < n; i++) blocks.push(new Block(planes * Block.expansion, planes, 1, dilation, dilation, g));
  return new Sequential(...blocks);
}

/** ResNet-V1s (deep stem, dilated later stages) backbone giving features at four strides. */
export class ResNetV1s extends Module implements Backbone {
  readonly channels: readonly number[];
  readonly strides: readonly number[];
  readonly inChannels: number;
  readonly depth: ResNetDepth;
  readonly width: number;
  readonly outputStride: OutputStride;
  conv1: Sequential; // deep stem: C→B (s2), B→B, B→2B; the last conv's BN is bn1
  bn1: BatchNorm2d;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  layer4: Sequential;

  constructor(opts: ResNetOptions = {}) {
    super();
    const g = opts.generator ?? defaultGenerator;
    this.depth = opts.depth ?? 18;
    this.width = opts.width ?? 64;
    this.inChannels = opts.inChannels ?? 3;
    this.outputStride = opts.outputStride ?? 8;
    const layout = LAYOUTS[this.depth],
      stages = STAGES[this.outputStride];
    if (!layout) throw new ValueError(`ResNetV1s: depth must be 18, 34, 50 or 101: got ${String(opts.depth)}.`);
    if (!stages) throw new ValueError(`ResNetV1s: outputStride must be 4, 8 or 16: got ${String(opts.outputStride)}.`);
    if (!Number.isInteger(this.width) || this.width < 1) throw new ValueError(`ResNetV1s: width must be a positive integer: got ${this.width}.`);
    const B = this.width,
      e = layout.bottleneck ? 4 : 1;
    const stem0 = conv(g, this.inChannels, B, 3, 2);
    this.conv1 = new Sequential(stem0, new BatchNorm2d(B), new ReLU(), conv(g, B, B, 3), new BatchNorm2d(B), new ReLU(), conv(g, B, 2 * B, 3));
    this.bn1 = new BatchNorm2d(2 * B);
    const planes = [B, 2 * B, 4 * B, 8 * B],
      ins = [2 * B, B * e, 2 * B * e, 4 * B * e];
    const [l1, l2, l3, l4] = planes.map((p, i) => makeStage(layout.bottleneck, ins[i], p, layout.blocks[i], stages.strides[i], stages.dilations[i], g));
    [this.layer1, this.layer2, this.layer3, this.layer4] = [l1, l2, l3, l4];
    this.channels = planes.map((p) => p * e);
    this.strides = [4, 8, 8 * stages.strides[2], 8 * stages.strides[2] * stages.strides[3]];
    initSegModel_(this, g); // Kaiming normal (fan_out, relu) convs, BN 1/0
    initExtraInputChannels_(stem0, 3, opts.labelChannelStd ?? 0.1, g); // the label channel: N(0, 0.1²)
  }

  /** (N, C, H, W) → c1..c4: (N, B·e, H/4, W/4), (N, 2B·e, H/8, ..), (N, 4B·e, H/s, ..), (N, 8B·e, H/s, ..) with ceil. */
  forward(x: Tensor): BackboneFeatures {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new ShapeError(`ResNetV1s: input must be (N, ${this.inChannels}, H, W): got ${fmtShape(x.shape)}.`);
    }
    const stem = this.bn1.forward(this.conv1.forward(x), 'relu'); // (N, 2B, ceil(H/2), ceil(W/2))
    const c1 = this.layer1.forward(maxPool2d(stem, 3, { stride: 2, padding: 1 })); // (N, B·e, h, w)
    const c2 = this.layer2.forward(c1); // (N, 2B·e, h8, w8)
    const c3 = this.layer3.forward(c2); // (N, 4B·e, hs3, ws3)
    const c4 = this.layer4.forward(c3); // (N, 8B·e, hs, ws)
    return { features: [c1, c2, c3, c4] };
  }

  override extraRepr(): string {
    return `depth=${this.depth}, width=${this.width}, inChannels=${this.inChannels}, outputStride=${this.outputStride}`;
  }
}

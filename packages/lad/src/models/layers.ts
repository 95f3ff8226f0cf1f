// Building blocks shared by the segmentation models: ConvBNReLU (mmcv's ConvModule with BN and an
// optional ReLU), and the init used by CIRKD and mmseg (Kaiming normal, fan_out, ReLU gain for
// convs; BN weight 1, bias 0), plus LAD's extra-input-channel init (lad-method.md §3.1: the label
// channel's first-layer kernel ~ N(0, 0.1²)). Legend: N batch, C/O in/out channels, H/W size.

import { cat, noGrad, randn, type Generator, type Tensor } from '@lad/tensor';
import { BatchNorm2d, Conv2d, Module, kaimingNormal_, ones_, zeros_ } from '@lad/nn';

/** Options of ConvBNReLU: stride, padding, dilation and the init generator. */
export interface ConvBNReLUOptions {
  stride?: number;
  /** Zero padding per side; default dilation·(k − 1)/2, which keeps H and W at stride 1. */
  padding?: number;
  dilation?: number;
  groups?: number;
  /** Conv bias (default false: the BN's shift plays that role). */
  bias?: boolean;
  /** Apply ReLU after BN (default true); false gives mmcv's `act_cfg=None` (conv-BN only). */
  relu?: boolean;
  /** Draws the conv's default init (re-initialise with `initSegModel_` afterwards). */
  generator?: Generator;
}

/** conv k×k → BN → ReLU (the ReLU optional). */
export class ConvBNReLU extends Module {
  conv: Conv2d;
  bn: BatchNorm2d;
  readonly relu: boolean;

  constructor(inC: number, outC: number, k: number, opts: ConvBNReLUOptions = {}) {
    super();
    const dilation = opts.dilation ?? 1;
    const padding = opts.padding ?? Math.floor((dilation * (k - 1)) / 2);
    this.conv = new Conv2d(inC, outC, k, {
      stride: opts.stride ?? 1,
      padding,
      dilation,
      groups: opts.groups ?? 1,
      bias: opts.bias ?? false,
      generator: opts.generator,
    });
    this.bn = new BatchNorm2d(outC);
    this.relu = opts.relu ?? true;
  }

  /** (N, C, H, W) → (N, O, H', W'). */
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv.forward(x), this.relu ? 'relu' : null);
  }

  override extraRepr(): string {
    return this.relu ? '' : 'relu=false';
  }
}

/**
 * CIRKD/mmseg init over a whole model: every Conv2d weight ~ Kaiming normal (fan_out, ReLU gain)
 * and its bias 0; every BatchNorm2d weight 1, bias 0. Draws from `generator` in module order.
 */
export function initSegModel_(model: Module, generator?: Generator): void {
  for (const m of model.modules()) {
    if (m instanceof Conv2d) {
      kaimingNormal_(m.weight, { mode: 'fanOut', nonlinearity: 'relu', generator });
      if (m.bias) zeros_(m.bias);
    } else if (m instanceof BatchNorm2d) {
      if (m.weight) ones_(m.weight);
      if (m.bias) zeros_(m.bias);
    }
  }
}

/**
 * LAD's 4-channel stem: redraws the kernel slices of input channels ≥ `from` (the label channel)
 * of `conv` from N(0, std²); lad-method.md §3.1 uses std 0.1. The image channels are kept.
 */
export function initExtraInputChannels_(conv: Conv2d, from: number, std: number, generator?: Generator): void {
  const w = conv.weight; // (O, C, kH, kW)
  const [O, C, kH, kW] = w.shape;
  if (from >= C) return;
  const extra = randn([O, C - from, kH, kW], { dtype: w.dtype, generator, device: w.device }).mul(std); // drawn on the CPU, moved to w's device
  noGrad(() => w.copy_(cat([w.slice(1, 0, from), extra], 1)));
}

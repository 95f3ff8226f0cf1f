// Conv2d (torch.nn.Conv2d) over NCHW: stride, padding (numbers, 'valid' or 'same'), dilation,
// groups and an optional bias. Default init as PyTorch: W ~ kaiming_uniform(a=√5), b ~ U(±1/√fanIn)
// with fanIn = (C/groups)·kH·kW. Legend: N batch, C/O in/out channels, H/W height/width.

import { Tensor, ValueError, zeros } from '@lad/tensor';
import { Module, parameter } from '../module.ts';
import { defaultLayerInit_ } from '../init.ts';
import { conv2d, pad } from '../functional.ts';
import { checkInt, fmtPair, intPair, type FactoryOptions } from './util.ts';

/** Options of the Conv2d layer: stride, padding (or 'same'/'valid'), dilation, groups, bias, and the init generator. */
export interface Conv2dLayerOptions extends FactoryOptions {
  stride?: number | readonly number[];
  /** Zero padding per side; 'same' keeps H and W (stride 1, extra pixel on the bottom/right). */
  padding?: number | readonly number[] | 'same' | 'valid';
  dilation?: number | readonly number[];
  groups?: number;
  bias?: boolean;
}

/** 2-D convolution layer: (N, C, H, W) → (N, O, OH, OW), weight (O, C/groups, kH, kW) initialized as torch does. */
export class Conv2d extends Module {
  weight: Tensor; // (O, C/groups, kH, kW)
  bias: Tensor | null; // (O)
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | 'same';
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | readonly number[],
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    const op = 'Conv2d';
    this.kernelSize = intPair(op, 'kernelSize', kernelSize, 1);
    this.stride = intPair(op, 'stride', opts.stride ?? 1, 1);
    this.dilation = intPair(op, 'dilation', opts.dilation ?? 1, 1);
    const p = opts.padding ?? 0;
    this.padding = p === 'same' ? 'same' : intPair(op, 'padding', p === 'valid' ? 0 : p, 0);
    if (p === 'same' && (this.stride[0] !== 1 || this.stride[1] !== 1))
      throw new ValueError(`${op}: padding 'same' needs stride 1: got stride ${fmtPair(this.stride)}.`);
    this.groups = checkInt(op, 'groups', opts.groups ?? 1, 1);
    for (const [name, v] of [
      ['inChannels', inChannels],
      ['outChannels', outChannels],
    ] as const) {
      if (checkInt(op, name, v, 1) % this.groups !== 0) throw new ValueError(`${op}: ${name} must be divisible by groups: got ${v}, groups = ${this.groups}.`);
    }
    const dtype = opts.dtype ?? 'float32';
    this.weight = parameter(zeros([outChannels, inChannels / this.groups, ...this.kernelSize], { dtype }));
    this.bias = (opts.bias ?? true) ? parameter(zeros([outChannels], { dtype })) : null;
    defaultLayerInit_(this.weight, this.bias, opts);
  }

  /** (N, C, H, W) → (N, O, OH, OW). */
  forward(x: Tensor): Tensor {
    const o = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    if (this.padding !== 'same') return conv2d(x, this.weight, this.bias, { ...o, padding: this.padding });
    const [th, tw] = this.kernelSize.map((k, i) => this.dilation[i] * (k - 1)); // total padding per dim
    const [ph, pw] = [Math.floor(th / 2), Math.floor(tw / 2)];
    if (th % 2 === 0 && tw % 2 === 0) return conv2d(x, this.weight, this.bias, { ...o, padding: [ph, pw] });
    const padded = pad(x, [pw, tw - pw, ph, th - ph]); // (N, C, H + th, W + tw)
    return conv2d(padded, this.weight, this.bias, o);
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${fmtPair(this.kernelSize)}, stride=${fmtPair(this.stride)}`;
    if (this.padding === 'same') s += `, padding='same'`;
    else if (this.padding.some((v) => v !== 0)) s += `, padding=${fmtPair(this.padding)}`;
    if (this.dilation.some((v) => v !== 1)) s += `, dilation=${fmtPair(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ', bias=false';
    return s;
  }
}

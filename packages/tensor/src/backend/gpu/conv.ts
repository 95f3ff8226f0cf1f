// 2-D convolution on gpu.js, forward and both backward passes, each gather-style (one thread per
// output element, loops over the window). Inputs are dense NCHW; geometry (groups, stride,
// padding, dilation) is baked in as Integer constants.
//
//   forward       y[n, o, oh, ow]  = b[o] + Σ_{c, kh, kw} x[n, g·Cg + c, oh·sH − pH + kh·dH, …] · w[o, c, kh, kw]
//   input grad    gx[n, c, h, w]   = Σ_{o in c's group, kh, kw : (h + pH − kh·dH) / sH = oh integral} gy[n, o, oh, ow] · w[o, c mod Cg, kh, kw]
//   weight grad   gw[o, c, kh, kw] = Σ_{n, oh, ow} x[n, g·Cg + c, oh·sH − pH + kh·dH, …] · gy[n, o, oh, ow]

import type { Conv2dGeom } from '../cpu/conv.ts';
import type { AnyStorage } from '../../storage.ts';
import { storageDType } from '../../storage.ts';
import { asGpu, launch, type GpuBuffer } from './runtime.ts';
import { Src } from './codegen.ts';

export function conv2d(x: AnyStorage, w: AnyStorage, bias: AnyStorage | null, g: Conv2dGeom): GpuBuffer {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups, Og = O / groups;
  const s = new Src();
  s.line('const i = this.thread.x;');
  const [n, o, oh, ow] = s.unravel('i', [N, O, OH, OW]);
  s.divmod(o, Og, 'grp', 'oo');
  s.line(`let acc = ${bias ? 'x2[' + o + ']' : '0.0'};`);
  s.line(`for (let c = 0; c < ${s.bound(Cg)}; c++) {`);
  s.line(`const xc = (${n} * ${s.int(C)} + grp * ${s.int(Cg)} + c) * ${s.int(H)};`);
  s.line(`const wc = (${o} * ${s.int(Cg)} + c) * ${s.int(kH)};`);
  s.line(`for (let kh = 0; kh < ${s.bound(kH)}; kh++) {`);
  s.line(`const ih = ${oh} * ${s.int(sH)} - ${s.int(pH)} + kh * ${s.int(dH)};`);
  s.line(`if (ih >= 0 && ih < ${s.int(H)}) {`);
  s.line(`for (let kw = 0; kw < ${s.bound(kW)}; kw++) {`);
  s.line(`const iw = ${ow} * ${s.int(sW)} - ${s.int(pW)} + kw * ${s.int(dW)};`);
  s.line(`if (iw >= 0 && iw < ${s.int(W)}) {`);
  s.line(`acc += x0[(xc + ih) * ${s.int(W)} + iw] * x1[(wc + kh) * ${s.int(kW)} + kw];`);
  s.line('}').line('}').line('}').line('}').line('}');
  const args = bias ? [x, w, bias] : [x, w];
  return launch(s.spec('conv2d', N * O * OH * OW, args.map((_, k) => `x${k}`), 'acc'), args.map(asGpu), storageDType(x));
}

export function conv2dBackwardInput(gy: AnyStorage, w: AnyStorage, g: Conv2dGeom): GpuBuffer {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups, Og = O / groups;
  const s = new Src();
  s.line('const i = this.thread.x;');
  const [n, c, h, wi] = s.unravel('i', [N, C, H, W]);
  s.divmod(c, Cg, 'grp', 'cc');
  s.line('let acc = 0.0;');
  s.line(`for (let oo = 0; oo < ${s.bound(Og)}; oo++) {`);
  s.line(`const o = grp * ${s.int(Og)} + oo;`);
  s.line(`for (let kh = 0; kh < ${s.bound(kH)}; kh++) {`);
  s.line(`const th = ${h} + ${s.int(pH)} - kh * ${s.int(dH)};`);
  s.line(`const oh = Math.floor(th / ${s.int(sH)}) | 0;`); // exact: |th| is far below 2^24
  s.line(`if (th >= 0 && oh * ${s.int(sH)} === th && oh < ${s.int(OH)}) {`);
  s.line(`for (let kw = 0; kw < ${s.bound(kW)}; kw++) {`);
  s.line(`const tw = ${wi} + ${s.int(pW)} - kw * ${s.int(dW)};`);
  s.line(`const ow = Math.floor(tw / ${s.int(sW)}) | 0;`);
  s.line(`if (tw >= 0 && ow * ${s.int(sW)} === tw && ow < ${s.int(OW)}) {`);
  s.line(`acc += x0[((${n} * ${s.int(O)} + o) * ${s.int(OH)} + oh) * ${s.int(OW)} + ow] * x1[((o * ${s.int(Cg)} + cc) * ${s.int(kH)} + kh) * ${s.int(kW)} + kw];`);
  s.line('}').line('}').line('}').line('}').line('}');
  return launch(s.spec('conv2d-grad-input', N * C * H * W, ['x0', 'x1'], 'acc'), [asGpu(gy), asGpu(w)], storageDType(gy));
}

export function conv2dBackwardWeight(x: AnyStorage, gy: AnyStorage, g: Conv2dGeom): GpuBuffer {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups, Og = O / groups;
  const s = new Src();
  s.line('const i = this.thread.x;');
  const [o, c, kh, kw] = s.unravel('i', [O, Cg, kH, kW]);
  s.divmod(o, Og, 'grp', 'oo');
  s.line(`const ci = grp * ${s.int(Cg)} + ${c};`);
  s.line('let acc = 0.0;');
  s.line(`for (let n = 0; n < ${s.bound(N)}; n++) {`);
  s.line(`for (let oh = 0; oh < ${s.bound(OH)}; oh++) {`);
  s.line(`const ih = oh * ${s.int(sH)} - ${s.int(pH)} + ${kh} * ${s.int(dH)};`);
  s.line(`if (ih >= 0 && ih < ${s.int(H)}) {`);
  s.line(`for (let ow = 0; ow < ${s.bound(OW)}; ow++) {`);
  s.line(`const iw = ow * ${s.int(sW)} - ${s.int(pW)} + ${kw} * ${s.int(dW)};`);
  s.line(`if (iw >= 0 && iw < ${s.int(W)}) {`);
  s.line(`acc += x0[((n * ${s.int(C)} + ci) * ${s.int(H)} + ih) * ${s.int(W)} + iw] * x1[((n * ${s.int(O)} + ${o}) * ${s.int(OH)} + oh) * ${s.int(OW)} + ow];`);
  s.line('}').line('}').line('}').line('}').line('}');
  return launch(s.spec('conv2d-grad-weight', O * Cg * kH * kW, ['x0', 'x1'], 'acc'), [asGpu(x), asGpu(gy)], storageDType(x));
}

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
import { asInt, Src, THREAD } from './codegen.ts';

const I = asInt; // a small float local read back as an Integer (codegen.ts)

export function conv2d(x: AnyStorage, w: AnyStorage, bias: AnyStorage | null, g: Conv2dGeom): GpuBuffer {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups,
    Og = O / groups;
  const s = new Src();
  const [n, o, oh, ow] = s.unravel(THREAD, [N, O, OH, OW]);
  const grp = s.local('grp', s.div(o, Og));
  s.line(`let acc = ${bias ? `x2[${o}]` : '0.0'};`);
  s.line(`for (let c = 0; c < ${s.bound(Cg)}; c++) {`);
  s.line(`for (let kh = 0; kh < ${s.bound(kH)}; kh++) {`);
  s.line(`const ih = ${oh} * ${s.int(sH)} - ${s.int(pH)} + ${I('kh')} * ${s.int(dH)};`);
  s.line(`if (ih >= 0 && ih < ${s.int(H)}) {`);
  s.line(`for (let kw = 0; kw < ${s.bound(kW)}; kw++) {`);
  s.line(`const iw = ${ow} * ${s.int(sW)} - ${s.int(pW)} + ${I('kw')} * ${s.int(dW)};`);
  s.line(`if (iw >= 0 && iw < ${s.int(W)}) {`);
  const xAt = `((${n} * ${s.int(C)} + ${grp} * ${s.int(Cg)} + ${I('c')}) * ${s.int(H)} + ${I('ih')}) * ${s.int(W)} + ${I('iw')}`;
  const wAt = `((${o} * ${s.int(Cg)} + ${I('c')}) * ${s.int(kH)} + ${I('kh')}) * ${s.int(kW)} + ${I('kw')}`;
  s.line(`acc += x0[${xAt}] * x1[${wAt}];`);
  s.line('}').line('}').line('}').line('}').line('}');
  const args = bias ? [x, w, bias] : [x, w];
  return launch(
    s.spec(
      'conv2d',
      N * O * OH * OW,
      args.map((_, k) => `x${k}`),
      'acc',
    ),
    args.map(asGpu),
    storageDType(x),
  );
}

export function conv2dBackwardInput(gy: AnyStorage, w: AnyStorage, g: Conv2dGeom): GpuBuffer {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups,
    Og = O / groups;
  const s = new Src();
  const [n, c, h, wi] = s.unravel(THREAD, [N, C, H, W]);
  const grp = s.local('grp', s.div(c, Cg));
  const cc = s.local('cc', `${c} - ${grp} * ${s.int(Cg)}`);
  s.line('let acc = 0.0;');
  s.line(`for (let oo = 0; oo < ${s.bound(Og)}; oo++) {`);
  s.line(`const o = ${grp} * ${s.int(Og)} + ${I('oo')};`);
  s.line(`for (let kh = 0; kh < ${s.bound(kH)}; kh++) {`);
  s.line(`const th = ${h} + ${s.int(pH)} - ${I('kh')} * ${s.int(dH)};`);
  s.line(`const oh = ${s.div(I('th'), sH)};`);
  s.line(`if (th >= 0 && ${I('oh')} * ${s.int(sH)} === ${I('th')} && oh < ${s.int(OH)}) {`);
  s.line(`for (let kw = 0; kw < ${s.bound(kW)}; kw++) {`);
  s.line(`const tw = ${wi} + ${s.int(pW)} - ${I('kw')} * ${s.int(dW)};`);
  s.line(`const ow = ${s.div(I('tw'), sW)};`);
  s.line(`if (tw >= 0 && ${I('ow')} * ${s.int(sW)} === ${I('tw')} && ow < ${s.int(OW)}) {`);
  const gyAt = `((${n} * ${s.int(O)} + ${I('o')}) * ${s.int(OH)} + ${I('oh')}) * ${s.int(OW)} + ${I('ow')}`;
  const wAt = `((${I('o')} * ${s.int(Cg)} + ${cc}) * ${s.int(kH)} + ${I('kh')}) * ${s.int(kW)} + ${I('kw')}`;
  s.line(`acc += x0[${gyAt}] * x1[${wAt}];`);
  s.line('}').line('}').line('}').line('}').line('}');
  return launch(s.spec('conv2d-grad-input', N * C * H * W, ['x0', 'x1'], 'acc'), [asGpu(gy), asGpu(w)], storageDType(gy));
}

export function conv2dBackwardWeight(x: AnyStorage, gy: AnyStorage, g: Conv2dGeom): GpuBuffer {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups,
    Og = O / groups;
  const s = new Src();
  const [o, c, kh, kw] = s.unravel(THREAD, [O, Cg, kH, kW]);
  const grp = s.local('grp', s.div(o, Og));
  const ci = s.local('ci', `${grp} * ${s.int(Cg)} + ${c}`);
  s.line('let acc = 0.0;');
  s.line(`for (let n = 0; n < ${s.bound(N)}; n++) {`);
  s.line(`for (let oh = 0; oh < ${s.bound(OH)}; oh++) {`);
  s.line(`const ih = ${I('oh')} * ${s.int(sH)} - ${s.int(pH)} + ${kh} * ${s.int(dH)};`);
  s.line(`if (ih >= 0 && ih < ${s.int(H)}) {`);
  s.line(`for (let ow = 0; ow < ${s.bound(OW)}; ow++) {`);
  s.line(`const iw = ${I('ow')} * ${s.int(sW)} - ${s.int(pW)} + ${kw} * ${s.int(dW)};`);
  s.line(`if (iw >= 0 && iw < ${s.int(W)}) {`);
  const xAt = `((${I('n')} * ${s.int(C)} + ${ci}) * ${s.int(H)} + ${I('ih')}) * ${s.int(W)} + ${I('iw')}`;
  const gyAt = `((${I('n')} * ${s.int(O)} + ${o}) * ${s.int(OH)} + ${I('oh')}) * ${s.int(OW)} + ${I('ow')}`;
  s.line(`acc += x0[${xAt}] * x1[${gyAt}];`);
  s.line('}').line('}').line('}').line('}').line('}');
  return launch(s.spec('conv2d-grad-weight', O * Cg * kH * kW, ['x0', 'x1'], 'acc'), [asGpu(x), asGpu(gy)], storageDType(x));
}

// conv2d (NCHW, PyTorch F.conv2d semantics) and its two backward passes as differentiable ops.
// conv2d is bilinear in (x, w), so each backward is again a conv of the other two kinds:
//   <gy, conv(x, w)> = <convBackwardInput(gy, w), x> = <convBackwardWeight(x, gy), w>.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/tape.ts';
import { checkNumel, fmtShape, pair } from '../shape.ts';
import { DTypeError, ShapeError, ValueError } from '../errors.ts';
import type { Conv2dGeom } from '../backend/backend.ts';
import { be, checkDevices, checkFloat, checkTensor, wrap } from './util.ts';
import { sum } from './reduce.ts';

/** Options of conv2d: stride, zero padding and dilation (a number or [h, w]) and groups. */
export interface Conv2dOptions {
  stride?: number | readonly number[];
  padding?: number | readonly number[];
  dilation?: number | readonly number[];
  groups?: number;
}

/** Validates the arguments and computes the output geometry. */
export function conv2dGeom(x: Tensor, w: Tensor, bias: Tensor | null, o: Conv2dOptions = {}): Conv2dGeom {
  const op = 'conv2d';
  checkTensor(op, 'input', x);
  checkTensor(op, 'weight', w);
  checkFloat(op, 'input', x);
  checkFloat(op, 'weight', w);
  checkDevices(op, bias ? [x, w, bias] : [x, w]);
  if (x.ndim !== 4) throw new ShapeError(`${op}: input must be 4-D (N, C, H, W): got shape ${fmtShape(x.shape)}.`);
  if (w.ndim !== 4) throw new ShapeError(`${op}: weight must be 4-D (O, C/groups, kH, kW): got shape ${fmtShape(w.shape)}.`);
  if (x.dtype !== w.dtype || (bias && bias.dtype !== x.dtype))
    throw new DTypeError(`${op}: input, weight and bias must share a dtype: got ${x.dtype}, ${w.dtype}${bias ? `, ${bias.dtype}` : ''}.`);
  const groups = o.groups ?? 1;
  const [sH, sW] = pair(op, 'stride', o.stride ?? 1),
    [pH, pW] = pair(op, 'padding', o.padding ?? 0),
    [dH, dW] = pair(op, 'dilation', o.dilation ?? 1);
  for (const [name, v, min] of [
    ['stride', sH, 1],
    ['stride', sW, 1],
    ['dilation', dH, 1],
    ['dilation', dW, 1],
    ['padding', pH, 0],
    ['padding', pW, 0],
    ['groups', groups, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new ValueError(`${op}: ${name} must be an integer >= ${min}: got ${v}.`);
  }
  const [N, C, H, W] = x.shape,
    [O, Cg, kH, kW] = w.shape;
  if (C !== Cg * groups) throw new ShapeError(`${op}: input has ${C} channels but weight ${fmtShape(w.shape)} expects ${Cg * groups} (groups = ${groups}).`);
  if (O % groups !== 0) throw new ShapeError(`${op}: weight ${fmtShape(w.shape)} has ${O} output channels, not divisible by groups = ${groups}.`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== O))
    throw new ShapeError(`${op}: bias must have shape [${O}] for weight ${fmtShape(w.shape)}: got ${fmtShape(bias.shape)}.`);
  const OH = Math.floor((H + 2 * pH - dH * (kH - 1) - 1) / sH) + 1;
  const OW = Math.floor((W + 2 * pW - dW * (kW - 1) - 1) / sW) + 1;
  if (OH <= 0 || OW <= 0 || kH === 0 || kW === 0) {
    throw new ShapeError(
      `${op}: input ${fmtShape(x.shape)} (padded ${H + 2 * pH}x${W + 2 * pW}) is smaller than the dilated kernel ${dH * (kH - 1) + 1}x${dW * (kW - 1) + 1}.`,
    );
  }
  checkNumel(op, [N, O, OH, OW], 'the output shape');
  return { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW };
}

/** y = conv2d(x, w) + b: (N, C, H, W) * (O, C/groups, kH, kW) → (N, O, OH, OW). */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  const g = conv2dGeom(x, weight, bias, opts);
  const out = wrap(be(x).conv2d(x.storage, weight.storage, bias?.storage ?? null, g), [g.N, g.O, g.OH, g.OW]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(
    out,
    'conv2d',
    inputs,
    (gy) => [
      x.requiresGrad ? conv2dBackwardInput(gy, weight, g) : null,
      weight.requiresGrad ? conv2dBackwardWeight(x, gy, g) : null,
      bias?.requiresGrad ? sum(gy, [0, 2, 3]) : null,
    ],
    [x, weight],
  );
}

/** dL/dx from dL/dy: (N, O, OH, OW) → (N, C, H, W), a transposed convolution. */
export function conv2dBackwardInput(gy: Tensor, w: Tensor, g: Conv2dGeom): Tensor {
  const out = wrap(be(gy).conv2dBackwardInput(gy.storage, w.storage, g), [g.N, g.C, g.H, g.W]);
  return record(out, 'conv2dBackwardInput', [gy, w], (gg) => [
    gy.requiresGrad ? wrapConv(gg, w, g) : null,
    w.requiresGrad ? conv2dBackwardWeight(gg, gy, g) : null,
  ]);
}

/** dL/dw from x and dL/dy: → (O, C/groups, kH, kW). */
export function conv2dBackwardWeight(x: Tensor, gy: Tensor, g: Conv2dGeom): Tensor {
  const out = wrap(be(x).conv2dBackwardWeight(x.storage, gy.storage, g), [g.O, g.C / g.groups, g.kH, g.kW]);
  return record(out, 'conv2dBackwardWeight', [x, gy], (gg) => [
    x.requiresGrad ? conv2dBackwardInput(gy, gg, g) : null,
    gy.requiresGrad ? wrapConv(x, gg, g) : null,
  ]);
}

/** conv2d with a known geometry (no bias), used by the double-backward rules. */
function wrapConv(x: Tensor, w: Tensor, g: Conv2dGeom): Tensor {
  return conv2d(x, w, null, { stride: [g.sH, g.sW], padding: [g.pH, g.pW], dilation: [g.dH, g.dW], groups: g.groups });
}

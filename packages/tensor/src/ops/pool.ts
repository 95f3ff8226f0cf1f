// Pooling over NCHW images (PyTorch F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d; ceil_mode
// false). The average pools are linear, so forward and backward are each other's gradient;
// max pooling routes gradients through the argmax indices.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/tape.ts';
import { checkNumel, fmtShape, pair } from '../shape.ts';
import { ShapeError, ValueError } from '../errors.ts';
import type { Pool2dGeom } from '../backend/backend.ts';
import { be, checkFloat, checkTensor, wrap } from './util.ts';
import { gatherInRange, reshape } from './movement.ts';

/** Options of the 2-D pools: stride (default: the kernel size) and zero padding. */
export interface Pool2dOptions {
  stride?: number | readonly number[] | null;
  padding?: number | readonly number[];
}

function poolGeom(op: string, x: Tensor, kernelSize: number | readonly number[], o: Pool2dOptions): Pool2dGeom {
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.ndim !== 4) throw new ShapeError(`${op}: input must be 4-D (N, C, H, W): got shape ${fmtShape(x.shape)}.`);
  const [kH, kW] = pair(op, 'kernelSize', kernelSize);
  const [sH, sW] = pair(op, 'stride', o.stride ?? [kH, kW]);
  const [pH, pW] = pair(op, 'padding', o.padding ?? 0);
  for (const [name, v, min] of [
    ['kernelSize', kH, 1],
    ['kernelSize', kW, 1],
    ['stride', sH, 1],
    ['stride', sW, 1],
    ['padding', pH, 0],
    ['padding', pW, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new ValueError(`${op}: ${name} must be an integer >= ${min}: got ${v}.`);
  }
  if (2 * pH > kH || 2 * pW > kW) throw new ValueError(`${op}: padding [${pH}, ${pW}] must be at most half of the kernel size [${kH}, ${kW}].`);
  const [N, C, H, W] = x.shape;
  const OH = Math.floor((H + 2 * pH - kH) / sH) + 1,
    OW = Math.floor((W + 2 * pW - kW) / sW) + 1;
  if (OH <= 0 || OW <= 0)
    throw new ShapeError(`${op}: input ${fmtShape(x.shape)} (padded ${H + 2 * pH}x${W + 2 * pW}) is smaller than the kernel ${kH}x${kW}.`);
  checkNumel(op, [N, C, OH, OW], 'the output shape');
  return { N, C, H, W, kH, kW, sH, sW, pH, pW, OH, OW };
}

/** Max over each window; returns values and the flat h*W+w argmax within each (n, c) plane. */
export function maxPool2dWithIndices(x: Tensor, kernelSize: number | readonly number[], opts: Pool2dOptions = {}): { values: Tensor; indices: Tensor } {
  const g = poolGeom('maxPool2d', x, kernelSize, opts);
  const r = be(x).maxPool2d(x.storage, g);
  const indices = wrap(r.indices, [g.N, g.C, g.OH, g.OW]);
  const values = record(wrap(r.values, indices.shape), 'maxPool2d', [x], (gy) => [maxPool2dBackward(gy, indices, g)], [indices]);
  return { values, indices };
}

/** Max over each kernel window of an (N, C, H, W) input. */
export const maxPool2d = (x: Tensor, kernelSize: number | readonly number[], opts: Pool2dOptions = {}): Tensor =>
  maxPool2dWithIndices(x, kernelSize, opts).values;

/** Scatters gy to the argmax positions; its own gradient gathers from them. */
function maxPool2dBackward(gy: Tensor, indices: Tensor, g: Pool2dGeom): Tensor {
  const out = wrap(be(gy).maxPool2dBackward(gy.storage, indices.storage, g), [g.N, g.C, g.H, g.W]);
  return record(
    out,
    'maxPool2dBackward',
    [gy],
    (gg) => {
      const planes = reshape(gg, [g.N, g.C, g.H * g.W]); // (N, C, H·W)
      return [reshape(gatherInRange(planes, 2, reshape(indices, [g.N, g.C, -1])), gy.shape)]; // argmax positions: in range
    },
    [indices],
  );
}

/** Options of avgPool2d: the pool options, and whether the padding counts in the divisor (default true). */
export interface AvgPool2dOptions extends Pool2dOptions {
  countIncludePad?: boolean;
}

/** Mean over each kernel window of an (N, C, H, W) input. */
export function avgPool2d(x: Tensor, kernelSize: number | readonly number[], opts: AvgPool2dOptions = {}): Tensor {
  const g = poolGeom('avgPool2d', x, kernelSize, opts);
  return avgPoolPair(x, g, opts.countIncludePad ?? true, true);
}

/** The linear pair avg_pool2d ↔ its adjoint; `forward` picks the direction. */
function avgPoolPair(t: Tensor, g: Pool2dGeom, cip: boolean, forward: boolean): Tensor {
  const out = forward
    ? wrap(be(t).avgPool2d(t.storage, g, cip), [g.N, g.C, g.OH, g.OW])
    : wrap(be(t).avgPool2dBackward(t.storage, g, cip), [g.N, g.C, g.H, g.W]);
  return record(out, forward ? 'avgPool2d' : 'avgPool2dBackward', [t], (gy) => [avgPoolPair(gy, g, cip, !forward)], []);
}

/** Averages over bins [floor(i·H/OH), ceil((i+1)·H/OH)); any output size works. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly number[]): Tensor {
  checkTensor('adaptiveAvgPool2d', 'input', x);
  checkFloat('adaptiveAvgPool2d', 'input', x);
  if (x.ndim !== 4) throw new ShapeError(`adaptiveAvgPool2d: input must be 4-D (N, C, H, W): got shape ${fmtShape(x.shape)}.`);
  const [oh, ow] = pair('adaptiveAvgPool2d', 'outputSize', outputSize);
  if (![oh, ow].every((v) => Number.isInteger(v) && v > 0))
    throw new ValueError(`adaptiveAvgPool2d: outputSize must be positive integers: got [${oh}, ${ow}].`);
  if (x.shape[2] === 0 || x.shape[3] === 0) throw new ShapeError(`adaptiveAvgPool2d: input ${fmtShape(x.shape)} has an empty spatial dim.`);
  checkNumel('adaptiveAvgPool2d', [x.shape[0], x.shape[1], oh, ow], 'the output shape');
  return adaptivePair(x, x.shape[2], x.shape[3], oh, ow, true);
}

function adaptivePair(t: Tensor, h: number, w: number, oh: number, ow: number, forward: boolean): Tensor {
  const [N, C] = t.shape;
  const out = forward ? wrap(be(t).adaptiveAvgPool2d(t.storage, oh, ow), [N, C, oh, ow]) : wrap(be(t).adaptiveAvgPool2dBackward(t.storage, h, w), [N, C, h, w]);
  return record(out, forward ? 'adaptiveAvgPool2d' : 'adaptiveAvgPool2dBackward', [t], (gy) => [adaptivePair(gy, h, w, oh, ow, !forward)], []);
}

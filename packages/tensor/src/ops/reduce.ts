// Reductions over any dims with keepdim: sum, mean, var, amax/amin, max/min (values and indices),
// argmax/argmin and logsumexp. The kernels (sum, max, min) drop the reduced dims; keepdim is a
// reshape. Gradients broadcast back through expand.

import { Tensor } from '../tensor.ts';
import { noGrad, record } from '../autograd/tape.ts';
import { normalizeDim, normalizeDims, fmtShape } from '../shape.ts';
import { ShapeError, ValueError } from '../errors.ts';
import { be, checkFloat, checkTensor, fitsInt32, INT32_MAX, wrap } from './util.ts';
import type { Data } from '../storage.ts';
import { deviceBackend } from '../backend/backend.ts';
import { expand, reshape, scatterAdd, unsqueeze } from './movement.ts';
import { where } from './elementwise.ts';
import { zeros } from './create.ts';

export type Dims = number | readonly number[] | null | undefined;
/** A reduction that also returns where its values came from (max, min along a dim). */
export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}
/** Options of variance: the correction (default 1, Bessel's) and keepdim. */
export interface VarOptions {
  correction?: number;
  keepdim?: boolean;
}

/** The shape with the reduced dims set to 1 (keepdim) or removed. */
const reducedShape = (shape: readonly number[], dims: readonly number[], keepdim: boolean): number[] =>
  keepdim ? shape.map((s, i) => (dims.includes(i) ? 1 : s)) : shape.filter((_, i) => !dims.includes(i));

/** normalizeDims, except that a 0-d tensor's dim 0 (or -1) names no dim: torch reduces a scalar to itself. */
const reduceDims = (op: string, dim: Dims, rank: number): number[] => {
  const dims = normalizeDims(op, dim, rank);
  return rank === 0 ? [] : dims;
};

/** g of the reduced shape, broadcast back to the input's shape. */
const spread = (g: Tensor, x: Tensor, dims: readonly number[]): Tensor => expand(reshape(g, reducedShape(x.shape, dims, true)), x.shape);

/** Sum over `dim` (a dim or a list of them; all when omitted). */
export function sum(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  checkTensor('sum', 'input', x);
  const dims = reduceDims('sum', dim, x.ndim);
  if (x.dtype === 'int32' && x.device !== 'cpu') checkExactOnDevice(x, dims);
  const { values } = be(x).reduce('sum', x.storage, dims, x.dtype === 'int32' && x.device === 'cpu' ? 'float64' : x.dtype);
  const out = wrap(x.dtype === 'int32' && x.device === 'cpu' ? int32Sums(values, x) : values, reducedShape(x.shape, dims, keepdim));
  return record(out, 'sum', [x], (g) => [spread(g, x, dims)], []);
}

/** int32 sums, accumulated exactly in float64 (the CPU kernel does), as int32, or a ValueError when one overflows. */
function int32Sums(acc: Data, x: Tensor): Int32Array {
  const v = acc as Float64Array;
  for (let i = 0; i < v.length; i++) {
    if (!fitsInt32(v[i]))
      throw new ValueError(
        `sum: a sum of int32 input ${fmtShape(x.shape)} is ${v[i]}, which overflows int32 (max ${INT32_MAX}); cast the input to float64 first.`,
      );
  }
  return Int32Array.from(v);
}

/**
 * A device accumulates in float32, exact for integers below 2^24: an int32 sum whose Σ|x| reaches
 * 2^23 (half that range, leaving room for the check's own rounding) is reported at the next read.
 */
function checkExactOnDevice(x: Tensor, dims: readonly number[]): void {
  if (x.size === 0) return;
  const bad = x
    .to('float32')
    .abs()
    .sum(dims)
    .amax()
    .ge(2 ** 23); // float32 all the way: no int32 sum here
  deviceBackend(x.device).deferCheck(
    bad.storage,
    () =>
      new ValueError(
        `sum: an int32 sum over input ${fmtShape(x.shape)} on the ${x.device} reaches 2^23 in magnitude, beyond what its float32 accumulation holds exactly; sum on the CPU (.to('cpu')).`,
      ),
  );
}

/** Mean over `dim` (a dim or a list of them; all when omitted). */
export function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  checkTensor('mean', 'input', x);
  checkFloat('mean', 'input', x);
  const dims = reduceDims('mean', dim, x.ndim);
  const count = dims.reduce((a, d) => a * x.shape[d], 1);
  return sum(x, dims, keepdim).div(count);
}

/** Variance with Bessel's correction by default (correction = 1), like torch.var. */
export function variance(x: Tensor, dim?: Dims, opts: VarOptions = {}): Tensor {
  checkFloat('var', 'input', x);
  const dims = reduceDims('var', dim, x.ndim);
  const { correction = 1, keepdim = false } = opts;
  const count = dims.reduce((a, d) => a * x.shape[d], 1);
  const d = x.sub(mean(x, dims, true));
  return sum(d.mul(d), dims, keepdim).div(Math.max(0, count - correction));
}

function extremum(op: 'amax' | 'amin', x: Tensor, dim: Dims, keepdim: boolean): Tensor {
  checkTensor(op, 'input', x);
  const dims = reduceDims(op, dim, x.ndim);
  if (dims.some((d) => x.shape[d] === 0)) throw new ShapeError(`${op}: cannot reduce over an empty dim of input shape ${fmtShape(x.shape)}.`);
  const { values } = be(x).reduce(op === 'amax' ? 'max' : 'min', x.storage, dims, x.dtype);
  const out = wrap(values, reducedShape(x.shape, dims, keepdim));
  // Ties share the gradient evenly, as in torch.amax.
  return record(
    out,
    op,
    [x],
    (g) => {
      const hit = noGrad(() => x.eq(spread(out, x, dims)));
      const count = sum(hit, dims, true);
      return [spread(g, x, dims).mul(hit).div(count)];
    },
    [x, out],
  );
}
/** Largest value over `dim` (all when omitted); a tie splits the gradient equally. */
export const amax = (x: Tensor, dim?: Dims, keepdim = false) => extremum('amax', x, dim, keepdim);
/** Smallest value over `dim` (all when omitted); a tie splits the gradient equally. */
export const amin = (x: Tensor, dim?: Dims, keepdim = false) => extremum('amin', x, dim, keepdim);

function extremumWithIndex(op: 'max' | 'min', x: Tensor, dim: number, keepdim: boolean): ValuesIndices {
  checkTensor(op, 'input', x);
  const d = normalizeDim(op, dim, x.ndim);
  if (x.ndim === 0) return extremumWithIndex(op, reshape(x, [1]), 0, false); // a scalar is its own max, at index 0
  if (x.shape[d] === 0) throw new ShapeError(`${op}: cannot reduce over dim ${dim} of size 0 (input shape ${fmtShape(x.shape)}).`);
  const r = be(x).reduce(op, x.storage, [d], x.dtype);
  const shape = reducedShape(x.shape, [d], keepdim);
  const indices = wrap(r.indices!, shape);
  const values = record(
    wrap(r.values, shape),
    op,
    [x],
    (g) => {
      const k = keepdim ? indices : unsqueeze(indices, d);
      return [scatterAdd(x.shape, d, k, keepdim ? g : unsqueeze(g, d))];
    },
    [indices],
  );
  return { values, indices };
}
/** Largest value along `dim` and its index. */
export const max = (x: Tensor, dim: number, keepdim = false) => extremumWithIndex('max', x, dim, keepdim);
/** Smallest value along `dim` and its index. */
export const min = (x: Tensor, dim: number, keepdim = false) => extremumWithIndex('min', x, dim, keepdim);

/** Index of the largest value along dim, or in the flattened tensor when dim is null. */
export const argmax = (x: Tensor, dim?: number | null, keepdim = false): Tensor => argExtremum('argmax', x, dim, keepdim);
/** Index of the smallest value along dim, or in the flattened tensor when dim is null. */
export const argmin = (x: Tensor, dim?: number | null, keepdim = false): Tensor => argExtremum('argmin', x, dim, keepdim);

function argExtremum(op: 'argmax' | 'argmin', x: Tensor, dim: number | null | undefined, keepdim: boolean): Tensor {
  checkTensor(op, 'input', x);
  const flat = dim === null || dim === undefined;
  const src = flat ? reshape(x, [-1]) : x;
  const d = flat ? 0 : normalizeDim(op, dim, x.ndim); // validated here so that errors name this op
  if (src.ndim > 0 && src.shape[d] === 0) throw new ShapeError(`${op}: cannot reduce over an empty dim of input shape ${fmtShape(x.shape)}.`);
  return extremumWithIndex(op === 'argmax' ? 'max' : 'min', src, d, !flat && keepdim).indices;
}

/** log(sum(exp(x))) over dims, stabilised by the (detached) max; all -inf rows give -inf. */
export function logsumexp(x: Tensor, dim: number | readonly number[], keepdim = false): Tensor {
  checkFloat('logsumexp', 'input', x);
  if (Array.isArray(dim) && dim.length === 0) throw new ValueError('logsumexp: dim must name at least one dim.');
  const dims = reduceDims('logsumexp', dim, x.ndim);
  const m = noGrad(() => {
    if (x.size === 0) return zeros(reducedShape(x.shape, dims, true), { dtype: x.dtype, device: x.device }); // a sum of nothing: log 0 = -inf, as in torch
    const mx = amax(x, dims, true);
    return where(mx.abs().eq(Infinity), 0, mx);
  });
  const out = sum(x.sub(m).exp(), dims, true).log().add(m);
  return keepdim ? out : reshape(out, reducedShape(x.shape, dims, false));
}

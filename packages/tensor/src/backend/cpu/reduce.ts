// Reduction kernels: sum, max and min over any set of dims, with argmax/argmin indices.
// sum walks the input once in its own layout, adding into the output through stride-0 views of
// the reduced dims (no copy). max/min permute the reduced dims to the back (a view), make that
// dense (a copy only when needed) and scan each contiguous run. Accumulation is in double.

import { alloc, type DType, type TypedArray } from './alloc.ts';
import { contiguousData, permute, type Storage } from '../../storage.ts';

export type ReduceOp = 'sum' | 'max' | 'min';

/** Reduces `dims` (sorted, distinct) away; values are in the row-major order of the kept dims. */
export function reduce(op: ReduceOp, x: Storage, dims: readonly number[], dtype: DType): { values: TypedArray; indices: Int32Array | null } {
  return op === 'sum' ? { values: sumDims(x, dims, dtype), indices: null } : extremum(op, x, dims, dtype);
}

/** out[kept] = Σ x[kept, reduced], an odometer over x with the output's strides (0 where reduced). */
function sumDims(x: Storage, dims: readonly number[], dtype: DType): TypedArray {
  const rank = x.shape.length;
  const kept = [...Array(rank).keys()].filter((d) => !dims.includes(d));
  const outSize = kept.reduce((a, d) => a * x.shape[d], 1);
  const acc = new Float64Array(outSize);
  if (x.size === 0 || rank === 0) {
    if (rank === 0) acc[0] = x.data[x.offset];
    return toDType(acc, dtype);
  }
  const ostride = new Array<number>(rank).fill(0);
  for (let k = kept.length - 1, s = 1; k >= 0; k--) (ostride[kept[k]] = s), (s *= x.shape[kept[k]]);
  const { shape, stride } = x,
    src = x.data,
    last = rank - 1;
  const n = shape[last],
    xs = stride[last],
    os = ostride[last];
  const idx = new Array<number>(rank).fill(0);
  let p = x.offset,
    o = 0;
  for (let r = 0, rows = x.size / n; r < rows; r++) {
    if (os === 0) {
      let s = 0;
      for (let i = 0, q = p; i < n; i++, q += xs) s += src[q];
      acc[o] += s;
    } else for (let i = 0, q = p, t = o; i < n; i++, q += xs, t += os) acc[t] += src[q];
    for (let d = last - 1; d >= 0; d--) {
      p += stride[d];
      o += ostride[d];
      if (++idx[d] < shape[d]) break;
      p -= stride[d] * shape[d];
      o -= ostride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return toDType(acc, dtype);
}

const toDType = (acc: Float64Array, dtype: DType): TypedArray => {
  if (dtype === 'float64') return acc;
  const out = alloc(dtype, acc.length);
  out.set(acc);
  return out;
};

function extremum(op: 'max' | 'min', x: Storage, dims: readonly number[], dtype: DType): { values: TypedArray; indices: Int32Array } {
  const rank = x.shape.length;
  const kept = [...Array(rank).keys()].filter((d) => !dims.includes(d));
  const src = contiguousData(permute(x, [...kept, ...dims]));
  const inner = dims.reduce((a, d) => a * x.shape[d], 1);
  const outer = kept.reduce((a, d) => a * x.shape[d], 1);
  const values = alloc(dtype, outer),
    indices = alloc('int32', outer);
  const sign = op === 'max' ? 1 : -1;
  for (let o = 0; o < outer; o++) {
    const base = o * inner;
    let best = src[base],
      bi = 0;
    for (let i = 1; i < inner && best === best; i++) {
      const v = src[base + i];
      if (sign * v > sign * best || v !== v) (best = v), (bi = i); // NaN wins and stops the scan
    }
    values[o] = best;
    indices[o] = bi;
  }
  return { values, indices };
}

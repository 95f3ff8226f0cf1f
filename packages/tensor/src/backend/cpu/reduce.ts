// Reduction kernels: sum, max and min over any set of dims, with argmax/argmin indices.
// The reduced dims are permuted to the back (a view), made dense (a copy only when needed),
// and each output element reduces one contiguous run of `inner` values, accumulating in double.

import { alloc, type DType, type TypedArray } from './alloc.ts';
import { contiguousData, permute, type Storage } from '../../storage.ts';

export type ReduceOp = 'sum' | 'max' | 'min';

/** Reduces `dims` (sorted, distinct) away; values are in the row-major order of the kept dims. */
export function reduce(op: ReduceOp, x: Storage, dims: readonly number[], dtype: DType): { values: TypedArray; indices: Int32Array | null } {
  const rank = x.shape.length;
  const kept = [...Array(rank).keys()].filter((d) => !dims.includes(d));
  const src = contiguousData(permute(x, [...kept, ...dims]));
  const inner = dims.reduce((a, d) => a * x.shape[d], 1);
  const outer = kept.reduce((a, d) => a * x.shape[d], 1);
  const values = alloc(dtype, outer);
  if (op === 'sum') {
    for (let o = 0, p = 0; o < outer; o++) {
      let acc = 0;
      for (let i = 0; i < inner; i++) acc += src[p++];
      values[o] = acc;
    }
    return { values, indices: null };
  }
  const indices = alloc('int32', outer);
  const sign = op === 'max' ? 1 : -1;
  for (let o = 0; o < outer; o++) {
    const base = o * inner;
    let best = src[base], bi = 0;
    for (let i = 1; i < inner && best === best; i++) {
      const v = src[base + i];
      if (sign * v > sign * best || v !== v) (best = v), (bi = i); // NaN wins and stops the scan
    }
    values[o] = best;
    indices[o] = bi;
  }
  return { values, indices };
}

// Copying movement kernels: constant pad, cat, gather and its adjoint scatterAdd.
// (Pure views — permute, slice, expand, flip, reshape — live in storage.ts and never copy.)

import { alloc, type DType, type TypedArray } from './alloc.ts';
import { assign, contiguousData, isRowMajor, slice, storageDType, view, type Storage } from '../../storage.ts';

export function pad(x: Storage, pads: readonly (readonly [number, number])[], value: number): TypedArray {
  const outShape = x.shape.map((s, d) => s + pads[d][0] + pads[d][1]);
  const out = alloc(
    storageDType(x),
    outShape.reduce((a, b) => a * b, 1),
  );
  if (value !== 0) out.fill(value);
  let src = x,
    dst = view(out, outShape);
  pads.forEach(([lo, hi], d) => {
    // negative padding crops the source; positive padding offsets the destination window
    src = slice(src, d, Math.max(0, -lo), src.shape[d] - Math.max(0, -hi), 1);
    dst = slice(dst, d, Math.max(0, lo), outShape[d] - Math.max(0, hi), 1);
  });
  assign(dst, src);
  return out;
}

export function cat(xs: readonly Storage[], dim: number, dtype: DType): TypedArray {
  const outShape = [...xs[0].shape];
  outShape[dim] = xs.reduce((a, x) => a + x.shape[dim], 0);
  const out = alloc(
    dtype,
    outShape.reduce((a, b) => a * b, 1),
  );
  const whole = view(out, outShape);
  const [outer, total, inner] = around(outShape, dim);
  let at = 0;
  for (const x of xs) {
    if (isRowMajor(x)) {
      // a contiguous piece (the usual case): per outer index one block of x.shape[dim]·inner elements
      const len = x.shape[dim] * inner,
        data = x.data;
      for (let o = 0, src = x.offset, dst = at * inner; o < outer; o++, src += len, dst += total * inner) {
        if (len >= 64) out.set(data.subarray(src, src + len), dst);
        else for (let k = 0; k < len; k++) out[dst + k] = data[src + k];
      }
    } else assign(slice(whole, dim, at, at + x.shape[dim], 1), x);
    at += x.shape[dim];
  }
  return out;
}

/** Splits shape around `dim` into [outer, size, inner]. */
const around = (shape: readonly number[], dim: number): [number, number, number] => [
  shape.slice(0, dim).reduce((a, b) => a * b, 1),
  shape[dim],
  shape.slice(dim + 1).reduce((a, b) => a * b, 1),
];

/** x and index agree on every dim but `dim`: out[o, j, i] = x[o, index[o, j, i], i]. */
export function gather(x: Storage, dim: number, index: Storage): TypedArray {
  const src = contiguousData(x),
    idx = contiguousData(index);
  const [outer, n, inner] = around(index.shape, dim),
    m = x.shape[dim];
  const out = alloc(storageDType(x), idx.length);
  for (let o = 0, p = 0; o < outer; o++) for (let j = 0; j < n; j++) for (let i = 0; i < inner; i++, p++) out[p] = src[(o * m + idx[p]) * inner + i];
  return out;
}

/** The adjoint of gather: out = zeros(shape); out[o, index[o, j, i], i] += src[o, j, i]. */
export function scatterAdd(shape: readonly number[], dim: number, index: Storage, src: Storage): TypedArray {
  const s = contiguousData(src),
    idx = contiguousData(index);
  const [outer, n, inner] = around(index.shape, dim),
    m = shape[dim];
  const out = alloc(
    storageDType(src),
    shape.reduce((a, b) => a * b, 1),
  );
  for (let o = 0, p = 0; o < outer; o++) for (let j = 0; j < n; j++) for (let i = 0; i < inner; i++, p++) out[(o * m + idx[p]) * inner + i] += s[p];
  return out;
}

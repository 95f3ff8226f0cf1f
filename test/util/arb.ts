// Shared fast-check arbitraries and a naive reference evaluator for the property suites.
// Shapes are tiny; values are plain JS numbers; a reference array (`Arr`) is a shape plus its
// row-major values, and every reference op is written with flat index math, independent of the
// library. Strided (non-contiguous) tensors are built straight from (data, shape, stride, offset)
// so they do not rely on the library's own view ops; the unused slots of their buffers hold a
// sentinel (NaN for floats) so that a kernel reading a wrong slot shows up.

import fc from 'fast-check';
import { expect } from 'vitest';
import { fromNdarray, tensor, type DType, type Tensor } from '@lad/tensor';

export type Shape = number[];
/** A dense reference array: a shape and its values in row-major order. */
export interface Arr {
  shape: Shape;
  data: number[];
}

// ---- flat index math ----------------------------------------------------------------------

export const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

export function stridesOf(s: readonly number[]): number[] {
  const st = new Array<number>(s.length);
  for (let i = s.length - 1, acc = 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

/** The multi-index of flat position `i` in a row-major array of `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let p = 0;
  for (let d = 0; d < shape.length; d++) p = p * shape[d] + idx[d];
  return p;
}

/** The element of `a` at a multi-index. */
export const at = (a: Arr, idx: readonly number[]): number => a.data[ravel(idx, a.shape)];

/** The naive evaluator: an array of `shape` whose element at idx is f(idx). */
export function tabulate(shape: readonly number[], f: (idx: number[]) => number): Arr {
  return { shape: [...shape], data: Array.from({ length: numel(shape) }, (_, i) => f(unravel(i, shape))) };
}

export const refMap = (a: Arr, f: (x: number) => number): Arr => ({ shape: [...a.shape], data: a.data.map(f) });

/** NumPy broadcasting of shapes, or null when they do not broadcast. */
export function refBroadcastShape(...shapes: (readonly number[])[]): Shape | null {
  const n = Math.max(...shapes.map((s) => s.length));
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const ds = shapes.map((s) => s[s.length - n + i] ?? 1);
    const big = ds.filter((d) => d !== 1);
    if (new Set(big).size > 1) return null;
    out.push(big[0] ?? 1);
  }
  return out;
}

/** The element of `a` that broadcasting maps to output index `idx`. */
export const atBroadcast = (a: Arr, idx: readonly number[]): number => {
  const lead = idx.length - a.shape.length;
  return at(
    a,
    a.shape.map((s, d) => (s === 1 ? 0 : idx[d + lead])),
  );
};

export function refBroadcastTo(a: Arr, shape: readonly number[]): Arr {
  return tabulate(shape, (idx) => atBroadcast(a, idx));
}

/** Broadcasting elementwise map over any number of operands. */
export function refZip(xs: readonly Arr[], f: (...v: number[]) => number): Arr {
  const shape = refBroadcastShape(...xs.map((x) => x.shape));
  if (!shape) throw new Error('refZip: shapes do not broadcast');
  return tabulate(shape, (idx) => f(...xs.map((x) => atBroadcast(x, idx))));
}

/** Reduces `dims` (any order, non-negative) with f over the values in row-major order. */
export function refReduce(a: Arr, dims: readonly number[], keepdim: boolean, f: (vals: number[]) => number): Arr {
  const keptShape = a.shape.map((s, d) => (dims.includes(d) ? 1 : s));
  const redShape = dims.length ? [...dims].sort((x, y) => x - y).map((d) => a.shape[d]) : [];
  const sorted = [...dims].sort((x, y) => x - y);
  const full = tabulate(keptShape, (kidx) => {
    const vals: number[] = [];
    for (let r = 0; r < numel(redShape); r++) {
      const ridx = unravel(r, redShape);
      const idx = [...kidx];
      sorted.forEach((d, k) => (idx[d] = ridx[k]));
      vals.push(at(a, idx));
    }
    return f(vals);
  });
  return keepdim ? full : { shape: a.shape.filter((_, d) => !dims.includes(d)), data: full.data };
}

// ---- arbitraries --------------------------------------------------------------------------

export interface ShapeOpts {
  minRank?: number;
  maxRank?: number;
  minDim?: number;
  maxDim?: number;
}

export const shapeArb = (o: ShapeOpts = {}): fc.Arbitrary<Shape> =>
  fc.array(fc.integer({ min: o.minDim ?? 1, max: o.maxDim ?? 3 }), { minLength: o.minRank ?? 0, maxLength: o.maxRank ?? 3 });

/** Finite doubles in [min, max] (no NaN, no infinities). */
export const valueArb = (min = -3, max = 3): fc.Arbitrary<number> => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

/** Finite doubles with gap <= |v| <= max: away from a kink at 0. */
export const awayFromZero = (gap = 0.1, max = 3): fc.Arbitrary<number> =>
  fc.tuple(fc.boolean(), fc.double({ min: gap, max, noNaN: true })).map(([neg, v]) => (neg ? -v : v));

/** Small integers as doubles: many ties, for comparisons and ties in reductions. */
export const smallIntArb = (lo = -2, hi = 2): fc.Arbitrary<number> => fc.integer({ min: lo, max: hi });

/** `n` values from `value`. */
export const valuesArb = <T>(n: number, value: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.array(value, { minLength: n, maxLength: n });

/** A reference array of a fixed shape, or of a shape drawn from `shape`. */
export function arrArb(shape: Shape | fc.Arbitrary<Shape> = shapeArb(), value: fc.Arbitrary<number> = valueArb()): fc.Arbitrary<Arr> {
  const s = Array.isArray(shape) ? fc.constant(shape) : (shape as fc.Arbitrary<Shape>);
  return s.chain((sh) => valuesArb(numel(sh), value).map((data) => ({ shape: sh, data })));
}

/**
 * `n` pairwise distinct values with gaps of at least 0.3 (a shuffled ladder plus a small jitter):
 * no ties, so max/min/sort-like ops are differentiable there.
 */
export function distinctValuesArb(n: number): fc.Arbitrary<number[]> {
  const ladder = Array.from({ length: n }, (_, i) => i);
  return fc
    .tuple(fc.shuffledSubarray(ladder, { minLength: n, maxLength: n }), valuesArb(n, fc.double({ min: -0.1, max: 0.1, noNaN: true })))
    .map(([perm, jit]) => perm.map((k, i) => (k - n / 2) * 0.4 + jit[i]));
}

/** A shape no larger than `out` that broadcasts to it: leading dims dropped, some dims set to 1. */
export const broadcastableTo = (out: Shape): fc.Arbitrary<Shape> =>
  fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));

/** Two (or k) shapes that broadcast together; `out` is their broadcast shape. */
export function broadcastShapesArb(k = 2, o: ShapeOpts = {}): fc.Arbitrary<{ shapes: Shape[]; out: Shape }> {
  return shapeArb(o)
    .chain((big) => fc.array(broadcastableTo(big), { minLength: k, maxLength: k }))
    .map((shapes) => ({ shapes, out: refBroadcastShape(...shapes)! }));
}

/** Two shapes that do NOT broadcast (some aligned dims differ and neither is 1). */
export const nonBroadcastablePairArb = (): fc.Arbitrary<[Shape, Shape]> =>
  fc
    .tuple(shapeArb({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 4 }), shapeArb({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 4 }))
    .filter(([a, b]) => refBroadcastShape(a, b) === null);

/** A sorted, distinct subset of the dims of a rank-r tensor, each written as d or d - r. */
export const dimsArb = (rank: number, minLength = 0): fc.Arbitrary<number[]> =>
  fc
    .tuple(fc.subarray([...Array(rank).keys()], { minLength }), fc.array(fc.boolean(), { minLength: rank, maxLength: rank }))
    .map(([ds, negs]) => ds.map((d) => (negs[d] ? d - rank : d)));

/** One dim of a rank-r tensor (r >= 1), possibly written negatively. */
export const dimArb = (rank: number): fc.Arbitrary<number> => fc.integer({ min: -rank, max: rank - 1 });

/** A dim written possibly negatively, resolved. */
export const resolveDim = (d: number, rank: number): number => (d < 0 ? d + rank : d);

// ---- strided (non-contiguous) tensors -----------------------------------------------------

/**
 * How a logical array sits in memory: `order` lists dims outermost-first in memory, each dim
 * walks every `steps[d]`-th slot, `flips[d]` gives it a negative stride, `bcast[d]` gives it
 * stride 0 (its values are then constant along d), and the view starts `offset` slots in.
 */
export interface Layout {
  order: number[];
  steps: number[];
  flips: boolean[];
  bcast: boolean[];
  offset: number;
}
export interface Strided extends Arr {
  layout: Layout;
}

export function layoutArb(rank: number, allowBroadcast = true): fc.Arbitrary<Layout> {
  const bools = () => fc.array(fc.boolean(), { minLength: rank, maxLength: rank });
  return fc.record({
    order: fc.shuffledSubarray([...Array(rank).keys()], { minLength: rank, maxLength: rank }),
    steps: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: rank, maxLength: rank }),
    flips: bools(),
    bcast: allowBroadcast ? bools() : fc.constant(new Array<boolean>(rank).fill(false)),
    offset: fc.integer({ min: 0, max: 3 }),
  });
}

/** A logical array of `shape` with a random memory layout (values constant along bcast dims). */
export function stridedArb(
  shape: Shape | fc.Arbitrary<Shape> = shapeArb(),
  value: fc.Arbitrary<number> = valueArb(),
  allowBroadcast = true,
): fc.Arbitrary<Strided> {
  const s = Array.isArray(shape) ? fc.constant(shape) : (shape as fc.Arbitrary<Shape>);
  return s.chain((sh) =>
    layoutArb(sh.length, allowBroadcast).chain((layout) => {
      const small = sh.map((d, i) => (layout.bcast[i] ? 1 : d));
      return arrArb(small, value).map((a) => ({ ...refBroadcastTo(a, sh), layout }));
    }),
  );
}

/** A dense tensor holding `a`'s values. */
export function toTensor(a: Arr, dtype: DType = 'float64'): Tensor {
  return tensor(Float64Array.from(a.data), { shape: a.shape, dtype });
}

/** The strided tensor a `Strided` describes, over a buffer whose unused slots hold a sentinel. */
export function toStrided(a: Strided, dtype: DType = 'float64'): Tensor {
  const { order, steps, flips, bcast, offset } = a.layout;
  const rank = a.shape.length;
  const stride = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let k = rank - 1; k >= 0; k--) {
    const d = order[k];
    if (bcast[d]) continue;
    stride[d] = acc * steps[d];
    acc *= Math.max(1, a.shape[d] * steps[d]);
  }
  let start = offset;
  stride.forEach((st, d) => {
    if (flips[d] && st !== 0 && a.shape[d] > 0) {
      start += (a.shape[d] - 1) * st;
      stride[d] = -st;
    }
  });
  const buf =
    dtype === 'int32' ? new Int32Array(offset + acc + 2).fill(-7777) : new (dtype === 'float32' ? Float32Array : Float64Array)(offset + acc + 2).fill(NaN);
  for (let i = 0; i < a.data.length; i++) {
    const idx = unravel(i, a.shape);
    buf[start + idx.reduce((p, v, d) => p + v * stride[d], 0)] = a.data[i];
  }
  const nd = { data: buf, shape: [...a.shape], stride, offset: start, dtype: dtype, size: a.data.length };
  return fromNdarray(nd as unknown as Parameters<typeof fromNdarray>[0]);
}

// ---- comparisons --------------------------------------------------------------------------

const same = (a: number, b: number): boolean => a === b || (a !== a && b !== b);

/** `t` has `want`'s shape and values: exactly, or within atol + rtol·|want|. NaN matches NaN. */
export function expectArr(t: Tensor, want: Arr, tol: { rtol?: number; atol?: number } | 'exact' = 'exact'): void {
  expect([...t.shape]).toEqual(want.shape);
  const got = t.data();
  expect(got.length).toBe(want.data.length);
  for (let i = 0; i < got.length; i++) {
    const g = got[i],
      w = want.data[i];
    const ok = tol === 'exact' ? same(g, w) : same(g, w) || Math.abs(g - w) <= (tol.atol ?? 0) + (tol.rtol ?? 0) * Math.abs(w);
    if (!ok) expect.fail(`element ${i} (index ${JSON.stringify(unravel(i, want.shape))}) of shape ${JSON.stringify(want.shape)}: got ${g}, want ${w}`);
  }
}

/** Same dtype, shape and values (bit-for-bit up to NaN payloads). */
export function expectSameTensor(a: Tensor, b: Tensor): void {
  expect(a.dtype).toBe(b.dtype);
  expectArr(a, { shape: [...b.shape], data: [...b.data()] }, 'exact');
}

/** Float64 tolerance for results computed in a different order or by a different formula. */
export const F64 = { rtol: 1e-12, atol: 1e-12 } as const;

// Small shared helpers for the NN-op property suites (autograd, linalg/conv, pool/resize, nnfunc,
// creation): deterministic data from a seed, float64 tensors, a tolerance check that names the
// element, and a few fast-check arbitraries. fast-check prints the replayable seed on failure.

import fc from 'fast-check';
import { expect } from 'vitest';
import { Tensor, type DType } from '@lad/tensor';

/** xorshift32 values uniform in [lo, hi), reproducible from `seed`. */
export function seededValues(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(n);
  let s = (seed >>> 0) ^ 0x9e3779b9 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return a;
}

/** Distinct values (a shuffled ramp with spacing `gap`), for max pooling without ties. */
export function distinctValues(n: number, seed: number, gap = 0.1): Float64Array {
  const keys = seededValues(n, seed);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a] - keys[b]);
  const out = new Float64Array(n);
  order.forEach((idx, rank) => {
    out[idx] = (rank - n / 2) * gap;
  });
  return out;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A dense tensor of `shape` with seeded values in [lo, hi). */
export function randT(shape: readonly number[], seed: number, dtype: DType = 'float64', lo = -1, hi = 1): Tensor {
  const v = seededValues(numel(shape), seed, lo, hi);
  const data = dtype === 'float64' ? v : dtype === 'float32' ? Float32Array.from(v) : Int32Array.from(v, Math.floor);
  return Tensor.fromData(data, shape);
}

/** A tensor from a Float64Array (copied into `dtype`). */
export function fromF64(v: Float64Array, shape: readonly number[], dtype: DType = 'float64'): Tensor {
  return Tensor.fromData(dtype === 'float64' ? v : Float32Array.from(v), shape);
}

/** The elements of a tensor as a plain Float64Array in row-major order. */
export const vals = (t: Tensor): Float64Array => Float64Array.from(t.data());

/** |got − want| <= atol + rtol·|want| elementwise (NaN must match NaN), naming the first bad element. */
export function expectClose(got: ArrayLike<number> | Tensor, want: ArrayLike<number> | Tensor, atol = 1e-9, rtol = 1e-9, what = ''): void {
  const g = got instanceof Tensor ? vals(got) : got,
    w = want instanceof Tensor ? vals(want) : want;
  expect(g.length, `${what} length`).toBe(w.length);
  for (let i = 0; i < w.length; i++) {
    const a = g[i],
      b = w[i];
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) expect.fail(`${what}[${i}]: got ${a}, want ${b} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Expects `fn` to throw an instance of `cls` whose message contains every string in `parts`. */
export function expectThrows(fn: () => unknown, cls: abstract new (...a: never[]) => Error, parts: readonly string[] = []): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (caught === null) expect.fail(`expected ${cls.name} to be thrown, nothing was`);
  expect(caught, String(caught)).toBeInstanceOf(cls);
  for (const p of parts) expect((caught as Error).message).toContain(p);
}

/** A seed for the helpers above. */
export const seedArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

/**
 * The same values as `x` (dense, shape (N, C, H, W)) as a non-contiguous view: either a permute of
 * an (N, H, W, C) tensor, or a step-2 slice of a tensor twice as wide. `kind` picks which.
 */
export function nonContiguous(x: Tensor, kind: 0 | 1): Tensor {
  const [N, C, H, W] = x.shape;
  if (kind === 0) {
    const v = x.permute(0, 2, 3, 1).contiguous().detach(); // (N, H, W, C) dense
    return v.permute(0, 3, 1, 2); // (N, C, H, W) view
  }
  const src = vals(x),
    wide = new Float64Array(N * C * H * W * 2).fill(Number.NaN);
  for (let i = 0; i < src.length; i++) wide[2 * i] = src[i];
  return fromF64(wide, [N, C, H, W * 2], x.dtype).slice(3, 0, null, 2);
}

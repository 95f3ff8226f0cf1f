// The batch-norm kernels' fast paths give the bits of plain loops: the WebAssembly SIMD passes of the
// float32 kernels (backend/cpu/wasm/norm-simd.ts) those of norm.ts's JS loops (forward with and without
// the fused ReLU, training backward with the ReLU's mask), on random (N, C, L) shapes whose L leaves
// tails of 1 to 3 floats, with ±0, ±∞, NaN and extreme values among the inputs (and the fused ReLU's
// +0 where the affine output rounds to −0, a case random data does not reach); and the per-channel
// sums (bnStats, bnBackward's gw and gb), taken two channels at a time in JS and four or eight at a
// time in WebAssembly SIMD (wasm/norm-sums-simd.ts), those of one channel at a time, on channel
// counts that leave partial groups of 2, 4 and 8.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bnBackward, bnForward, bnStats } from '../packages/tensor/src/backend/cpu/norm.ts';
import { normOptions, normSimdOn } from '../packages/tensor/src/backend/cpu/wasm/norm-simd.ts';

const specials = [0, -0, Infinity, -Infinity, Number.NaN, 3e38, -3e38, 1e-45, -1e-45];

/** float32 data: mostly N(0,1)-ish from the seed, with a special value every `every` elements (none when 0). */
function data(n: number, seed: number, every: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = every > 0 && s % every === 0 ? specials[s % specials.length]! : (s / 2 ** 31 - 1) * 3;
  }
  return a;
}

/** Same bits, NaNs compared as NaN (their payloads are not specified). */
function expectSameBits(got: Float32Array | Float64Array, want: Float32Array | Float64Array, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const a = got[i]!,
      b = want[i]!;
    if (!(Object.is(a, b) || (a !== a && b !== b))) throw new Error(`${what} element ${i}: got ${a}, want ${b}`);
  }
}

/** The statistics and the backward's sums one channel at a time (float64 sums in (n, i) order). */
function referenceSums(x: Float32Array, g: Float32Array, N: number, C: number, L: number, eps: number) {
  const mean = new Float64Array(C),
    invstd = new Float64Array(C),
    gb = new Float64Array(C),
    gw = new Float64Array(C),
    M = N * L;
  for (let c = 0; c < C; c++) {
    const at = (n: number, i: number) => (n * C + c) * L + i;
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < L; i++) s += x[at(n, i)]!;
    const m = s / M;
    let v = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < L; i++) v += (x[at(n, i)]! - m) * (x[at(n, i)]! - m);
    mean[c] = m;
    invstd[c] = 1 / Math.sqrt(v / M + eps);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < L; i++) {
        gb[c] += g[at(n, i)]!;
        gw[c] += g[at(n, i)]! * (x[at(n, i)]! - m) * invstd[c]!;
      }
  }
  return { mean, invstd, gb, gw };
}

describe('batch-norm kernels (float32)', () => {
  it('take the per-channel sums several channels at a time (JS and SIMD) with the bits of one at a time', () => {
    fc.assert(
      fc.property(
        fc.record({
          N: fc.integer({ min: 1, max: 3 }),
          C: fc.integer({ min: 1, max: 19 }),
          L: fc.integer({ min: 1, max: 11 }),
          seed: fc.integer(),
          every: fc.constantFrom(0, 0, 5, 17),
        }),
        ({ N, C, L, seed, every }) => {
          const n = N * C * L,
            x = data(n, seed, every),
            gy = data(n, seed + 1, every);
          const want = referenceSums(x, gy, N, C, L, 1e-5);
          for (const simd of [true, false]) {
            normOptions.simd = simd;
            try {
              const stats = bnStats(x, N, C, L, 1e-5);
              expectSameBits(stats.mean, want.mean, 'mean');
              expectSameBits(stats.invstd, want.invstd, 'invstd');
              const { gw, gb } = bnBackward(gy, x, N, C, L, stats, null, true, null);
              expectSameBits(gb, want.gb, 'gb');
              expectSameBits(gw, want.gw, 'gw');
            } finally {
              normOptions.simd = true;
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('batch-norm kernels on empty shapes (float32)', () => {
  it('give NaN statistics for every channel when L = 0 (0/0), and agree between SIMD and JS', () => {
    for (const [N, C, L] of [
      [2, 3, 0],
      [0, 3, 4],
      [2, 0, 4],
    ] as const) {
      const results = [true, false].map((simd) => {
        normOptions.simd = simd;
        try {
          const x = new Float32Array(0),
            stats = bnStats(x, N, C, L, 1e-5);
          return { stats, ...bnBackward(x, x, N, C, L, stats, null, true, bnForward(x, N, C, L, stats, null, null, true) as Float32Array) };
        } finally {
          normOptions.simd = true;
        }
      });
      for (const r of results) {
        expectSameBits(r.stats.mean, new Float64Array(C).fill(Number.NaN), `mean of [${N}, ${C}, ${L}]`);
        expectSameBits(r.gb, new Float64Array(C), `gb of [${N}, ${C}, ${L}]`);
        expect(r.gx.length).toBe(0);
      }
    }
  });
});

describe('batch-norm SIMD passes (float32)', () => {
  afterAll(() => {
    normOptions.simd = true;
  });

  it('are available where WebAssembly SIMD is (Node 20)', () => {
    expect(normSimdOn(1000)).toBe(true);
    expect(normSimdOn(1 << 23)).toBe(false); // large tensors stay in JS (module memory never shrinks)
  });

  it("give the fused ReLU's +0 where the affine output rounds to −0, and keep NaN and ±∞ (vector steps and tails)", () => {
    // scale = invstd·w = 1e-30, shift = b − mean·scale = −0: x·scale + shift is −0 for x = −0 and rounds to −0 in float32 for x = −1e-20
    const row = [-0, -1e-20, 0, 1e-20, -Infinity, Infinity, Number.NaN, -3, 3];
    const L = row.length,
      x = new Float32Array([...row, ...row.slice().reverse()]); // (1, 2, 9): both channels, each in steps of 4 and a tail
    const stats = { mean: new Float64Array([0, 0]), invstd: new Float64Array([1e-30, 1e-30]) },
      w = new Float32Array([1, 1]),
      b = new Float32Array([-0, -0]);
    const run = (simd: boolean) => {
      normOptions.simd = simd;
      try {
        return bnForward(x, 1, 2, L, stats, w, b, true) as Float32Array;
      } finally {
        normOptions.simd = true;
      }
    };
    const fast = run(true);
    expectSameBits(fast, run(false), 'forward');
    const want = [0, 0, 0, Math.fround(1e-50), 0, Infinity, Number.NaN, 0, Math.fround(3e-30)];
    expectSameBits(fast, new Float32Array([...want, ...want.slice().reverse()]), 'forward');
  });

  it('give the bits of the JS loops: forward (± ReLU) and training backward (± ReLU mask)', () => {
    fc.assert(
      fc.property(
        fc.record({
          N: fc.integer({ min: 1, max: 3 }),
          C: fc.integer({ min: 1, max: 11 }),
          L: fc.integer({ min: 1, max: 13 }),
          seed: fc.integer(),
          every: fc.constantFrom(0, 0, 5, 17),
          affine: fc.boolean(),
          relu: fc.boolean(),
        }),
        ({ N, C, L, seed, every, affine, relu }) => {
          const n = N * C * L,
            x = data(n, seed, every),
            gy = data(n, seed + 1, every);
          const w = affine ? data(C, seed + 2, 0) : null,
            b = affine ? data(C, seed + 3, 0) : null;
          const stats = bnStats(x, N, C, L, 1e-5);
          const run = (simd: boolean) => {
            normOptions.simd = simd;
            try {
              const y = bnForward(x, N, C, L, stats, w, b, relu) as Float32Array;
              return { y, ...bnBackward(gy, x, N, C, L, stats, w, true, relu ? y : null) };
            } finally {
              normOptions.simd = true;
            }
          };
          const fast = run(true),
            js = run(false);
          expectSameBits(fast.y, js.y, 'forward');
          expectSameBits(fast.gx, js.gx, 'gx');
          expectSameBits(fast.gw, js.gw, 'gw');
          expectSameBits(fast.gb, js.gb, 'gb');
        },
      ),
      { numRuns: 200 },
    );
  });
});

// Tests of the GEMM's FMA kernel and its switch (backend/cpu/wasm/fma.ts, gemm-simd.ts, gemm.ts's setFma):
// the float32 FMA reference itself, a product where one rounding per step and two give different bits, the
// FMA and mul+add kernels agreeing within float32 rounding on random GEMMs and convs (fast-check), each
// bit-identical on 1 and 2 threads, setFma's typed error, and LAD_FMA=0 read at load (in a child process).
// The contract tests of both kernels (bit for bit against the sequential reference) are in cpu-gemm-simd.test.ts.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { lcgFloats } from './util/lcg.ts';
import fc from 'fast-check';
import { ValueError } from '@lad/tensor';
import * as cv from '../packages/tensor/src/backend/cpu/conv.ts';
import { bmm, bmmNaive, bmmPacked, gemmKernel, gemmOptions, setFma, type MatView } from '../packages/tensor/src/backend/cpu/gemm.ts';
import { getNumThreads, setNumThreads, threadStats } from '../packages/tensor/src/backend/cpu/threads.ts';
import { relaxedMaddFuses } from '../packages/tensor/src/backend/cpu/wasm/fma.ts';
import { expectError } from './util/expect-error.ts';
import { fmaF32 } from './util/f32-ref.ts';
import { workerSplitsInFile } from './util/threads.ts';

// The 1-and-2-thread comparisons below are sized for splits from 1 M multiply-adds.
workerSplitsInFile(1 << 20);

const U = 2 ** -24; // unit roundoff of float32
const fuses = relaxedMaddFuses();
if (!fuses) console.warn('cpu-gemm-fma: skipping the FMA kernel tests: this engine has no fused f32x4.relaxed_madd');
const threads = getNumThreads(),
  fmaDefault = gemmOptions.fma;
afterAll(() => {
  setNumThreads(threads);
  setFma(fmaDefault);
});

const rand = lcgFloats;
const rowMajor = (data: Float32Array | Float64Array, R: number, C: number): MatView => ({ data, offset: 0, batchStride: R * C, rowStride: C, colStride: 1 });

/** Runs fn under each kernel ('mul+add' then 'fma', checked with gemmKernel) and returns both results. */
function both<T>(fn: () => T): { mulAdd: T; fma: T } {
  setFma(false);
  expect(gemmKernel()).toBe('mul+add');
  const mulAdd = fn();
  setFma(true);
  expect(gemmKernel()).toBe('fma');
  return { mulAdd, fma: fn() };
}

/** |x - y| <= 2 * 4 sqrt(K) u absSum per element: both within cpu-gemm-simd.test.ts's bound of the exact result. */
function expectAgree(x: Float32Array, y: Float32Array, absSum: Float64Array, K: number, what: string): void {
  const c = 8 * Math.sqrt(Math.max(K, 1)) * U;
  for (let i = 0; i < x.length; i++)
    if (!(Math.abs(x[i]! - y[i]!) <= c * absSum[i]!)) throw new Error(`${what} element ${i}: fma ${y[i]}, mul+add ${x[i]} (bound ${c * absSum[i]!}, K ${K})`);
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

describe('the float32 FMA reference', () => {
  it('rounds once, also where float64 then float32 would round twice', () => {
    // (1 + 2^-23)(1 - 2^-23) - 1 = -2^-46 exactly; float32 products round it away
    expect(fmaF32(1 + 2 ** -23, 1 - 2 ** -23, -1)).toBe(-(2 ** -46));
    expect(Math.fround(Math.fround((1 + 2 ** -23) * (1 - 2 ** -23)) - 1)).toBe(0);
    // a b + c = 1 + 2^-24 + 2^-54: float64 drops 2^-54, leaving a tie that float32 rounds to even (1)
    const [a, b, c] = [1 + 2 ** -15, -(1 - 2 ** -15) * 2 ** -24, 1 + 2 ** -23];
    expect(Math.fround(a * b + c)).toBe(1);
    expect(fmaF32(a, b, c)).toBe(1 + 2 ** -23);
    expect(fmaF32(0.5, 0.25, 0.125)).toBe(0.25);
  });
});

describe.skipIf(!fuses)('the FMA kernel against mul+add', () => {
  it('rounds once per k step: [x0, x1] @ [y0, y1] where the two kernels differ', () => {
    // acc = x0 y0 = 1 + 2^-23, then acc + x1 y1 = 1 + 2^-24 + 2^-54 (the reference's double-rounding case)
    const a = Float32Array.of(1 + 2 ** -23, 1 + 2 ** -15),
      b = Float32Array.of(1, -(1 - 2 ** -15) * 2 ** -24);
    const { mulAdd, fma } = both(() => {
      const out = new Float32Array(1);
      bmmPacked(1, 1, 1, 2, rowMajor(a, 1, 2), rowMajor(b, 2, 1), out);
      return out[0];
    });
    expect(fma).toBe(1 + 2 ** -23);
    expect(mulAdd).toBe(1); // fl(x1 y1) = -2^-24, and 1 + 2^-23 - 2^-24 is a tie: to even
  });

  it('agrees with mul+add within float32 rounding on random GEMMs, each kernel bit-identical on 1 and 2 threads', () => {
    const dim = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 60, max: 300 }));
    const parallel = threadStats().parallelJobs;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), dim, dim, fc.oneof(dim, fc.integer({ min: 321, max: 700 })), fc.integer(), (batch, M, N, K, seed) => {
        fc.pre(batch * M * N * K <= 4e6);
        const a = rowMajor(rand(batch * M * K, seed), M, K),
          b = rowMajor(rand(batch * K * N, ~seed), K, N);
        const run = (T: number) => {
          setNumThreads(T);
          const out = new Float32Array(batch * M * N);
          bmm(batch, M, N, K, a, b, out);
          return out;
        };
        const one = both(() => run(1)),
          two = both(() => run(2));
        expect(sameBits(two.mulAdd, one.mulAdd)).toBe(true);
        expect(sameBits(two.fma, one.fma)).toBe(true);
        const absSum = new Float64Array(batch * M * N),
          abs = (v: MatView): MatView => ({ ...v, data: v.data.map(Math.abs) });
        bmmNaive(batch, M, N, K, abs(a), abs(b), absSum);
        expectAgree(one.mulAdd, one.fma, absSum, K, 'bmm');
      }),
      { numRuns: 25 },
    );
    expect(threadStats().parallelJobs).toBeGreaterThan(parallel); // some cases were split across threads
  });

  it('agrees with mul+add within float32 rounding on random convs (all three passes), each bit-identical on 1 and 2 threads', () => {
    const geomArb = fc.record({
      N: fc.integer({ min: 1, max: 3 }),
      Cg: fc.integer({ min: 1, max: 12 }),
      Og: fc.integer({ min: 1, max: 12 }),
      groups: fc.integer({ min: 1, max: 2 }),
      H: fc.integer({ min: 5, max: 40 }),
      W: fc.integer({ min: 5, max: 40 }),
      k: fc.integer({ min: 1, max: 3 }),
      s: fc.integer({ min: 1, max: 2 }),
      p: fc.integer({ min: 0, max: 1 }),
      seed: fc.integer(),
    });
    const parallel = threadStats().parallelJobs;
    fc.assert(
      fc.property(geomArb, ({ N, Cg, Og, groups, H, W, k, s, p, seed }) => {
        const [C, O] = [Cg * groups, Og * groups];
        const OH = Math.floor((H + 2 * p - k) / s) + 1,
          OW = Math.floor((W + 2 * p - k) / s) + 1;
        const g: cv.Conv2dGeom = { N, C, H, W, O, kH: k, kW: k, sH: s, sW: s, pH: p, pW: p, dH: 1, dW: 1, groups, OH, OW };
        const nx = N * C * H * W,
          nw = O * Cg * k * k,
          ny = N * O * OH * OW;
        const x = rand(nx, seed),
          w = rand(nw, seed + 1),
          gy = rand(ny, seed + 2),
          bias = rand(O, seed + 3);
        const passes = [
          {
            n: ny,
            K: Cg * k * k,
            fast: (o: Float32Array) => cv.conv2dForward(x, w, bias, g, o),
            naive: (o: Float64Array) => cv.conv2dForwardNaive(x.map(Math.abs), w.map(Math.abs), bias.map(Math.abs), g, o),
          },
          {
            n: nx,
            K: Og * k * k,
            fast: (o: Float32Array) => cv.conv2dBackwardInput(gy, w, g, o),
            naive: (o: Float64Array) => cv.conv2dBackwardInputNaive(gy.map(Math.abs), w.map(Math.abs), g, o),
          },
          {
            n: nw,
            K: N * OH * OW,
            fast: (o: Float32Array) => cv.conv2dBackwardWeight(x, gy, g, o),
            naive: (o: Float64Array) => cv.conv2dBackwardWeightNaive(x.map(Math.abs), gy.map(Math.abs), g, o),
          },
        ];
        for (const [i, pass] of passes.entries()) {
          const run = (T: number) => {
            setNumThreads(T);
            const o = new Float32Array(pass.n).fill(Number.NaN);
            pass.fast(o);
            return o;
          };
          const one = both(() => run(1)),
            two = both(() => run(2));
          expect(sameBits(two.mulAdd, one.mulAdd)).toBe(true);
          expect(sameBits(two.fma, one.fma)).toBe(true);
          const absSum = new Float64Array(pass.n);
          pass.naive(absSum);
          // The strided input gradient sums GEMM results over taps (col2im): up to K more roundings, in both.
          expectAgree(one.mulAdd, one.fma, absSum, pass.K, `pass ${i}`);
        }
      }),
      // random geometries are mostly below the threads' threshold: one large enough for all three passes to split
      { numRuns: 20, examples: [[{ N: 2, Cg: 16, Og: 16, groups: 1, H: 40, W: 40, k: 3, s: 1, p: 1, seed: 1 }]] },
    );
    expect(threadStats().parallelJobs).toBeGreaterThan(parallel); // some passes were split across threads
  });
});

describe('the FMA switch', () => {
  it('reports the kernel that runs, and rejects a non-boolean with a ValueError', () => {
    setFma(true);
    expect(gemmKernel()).toBe(fuses ? 'fma' : 'mul+add');
    setFma(false);
    expect(gemmKernel()).toBe('mul+add');
    expectError(() => setFma('no' as unknown as boolean), ValueError, 'setFma', '"no"', 'true or false');
    expect(gemmKernel()).toBe('mul+add');
  });

  it('reads LAD_FMA once at load: 0 starts it off, 1 on', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const kernelWith = (v: string) => {
      const r = spawnSync(join(root, 'node_modules', '.bin', 'tsx'), ['-e', "import('@lad/tensor').then((t) => console.log(t.gemmKernel()))"], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, LAD_FMA: v },
      });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    expect(kernelWith('0')).toBe('mul+add');
    expect(kernelWith('1')).toBe(fuses ? 'fma' : 'mul+add');
  });
});

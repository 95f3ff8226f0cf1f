// Property tests of the packed CPU GEMM (backend/cpu/gemm.ts) against its naive reference:
// random sizes (1s, odd sizes, several K blocks), strided, transposed, broadcast and negative-stride views, float32
// and float64; and the 2-thread result bit-identical to the 1-thread one. All-float32 products run on the SIMD path
// (float32 accumulation): they are checked against the float32 bound of expectF32Close; the rest stays within 1e-11.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { alloc, type FloatArray } from '../packages/tensor/src/backend/cpu/alloc.ts';
import { bmm, bmmNaive, bmmPacked, type MatView } from '../packages/tensor/src/backend/cpu/gemm.ts';
import { getNumThreads, setNumThreads, threadStats } from '../packages/tensor/src/backend/cpu/threads.ts';
import { workerSplitsInFile } from './util/threads.ts';

// The 1-and-2-thread comparisons below are sized for splits from 1 M multiply-adds.
workerSplitsInFile(1 << 20);

type Layout = 'rowMajor' | 'transposed' | 'padded' | 'broadcast' | 'reversed';
const layouts: Layout[] = ['rowMajor', 'transposed', 'padded', 'broadcast', 'reversed'];

/** A random [batch, R, C] operand laid out as asked, with values in [-1, 1). */
function makeView(layout: Layout, batch: number, R: number, C: number, dtype: 'float32' | 'float64', seed: number): MatView {
  const off = layout === 'padded' ? 3 : 0,
    ld = layout === 'padded' ? C + 2 : C;
  const perBatch = layout === 'transposed' ? R * C : R * ld;
  const nb = layout === 'broadcast' ? 1 : batch;
  const data = alloc(dtype, off + nb * perBatch) as FloatArray;
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  const batchStride = layout === 'broadcast' ? 0 : perBatch;
  if (layout === 'reversed') return { data, offset: data.length - 1, batchStride: -perBatch, rowStride: -C, colStride: -1 }; // flipped on every dim
  return layout === 'transposed'
    ? { data, offset: off, batchStride, rowStride: 1, colStride: R }
    : { data, offset: off, batchStride, rowStride: ld, colStride: 1 };
}

/** Index of the first element whose bits differ (-1 if none): a bit-identity check. */
function firstBitDiff(a: FloatArray, b: FloatArray): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return Math.floor(i / a.BYTES_PER_ELEMENT);
  return -1;
}

/**
 * Float32 accumulation (the SIMD path): |got - want| <= 4 sqrt(K) 2^-24 sum_k |a_k b_k|, `absSum` being that
 * sum per element (bmmNaive on absolute values). Above the worst case gamma_K for K <= 15, and > 12 standard
 * deviations of the rounding error beyond; see test/cpu-gemm-simd.test.ts.
 */
function expectF32Close(got: FloatArray, want: FloatArray, absSum: FloatArray, K: number): void {
  expect(got.length).toBe(want.length);
  const c = 4 * Math.sqrt(Math.max(K, 1)) * 2 ** -24;
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= c * absSum[i]!)) {
      throw new Error(`element ${i}: got ${got[i]}, want ${want[i]} (bound ${c * absSum[i]!}, K ${K})`);
    }
  }
}

/** Sum over k of |a_k b_k| per output element. */
function absSums(batch: number, M: number, N: number, K: number, a: MatView, b: MatView): Float64Array {
  const abs = (v: MatView): MatView => ({ ...v, data: v.data.map(Math.abs) });
  const out = new Float64Array(batch * M * N);
  bmmNaive(batch, M, N, K, abs(a), abs(b), out);
  return out;
}

function expectClose(got: FloatArray, want: FloatArray, tol: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)))) {
      throw new Error(`element ${i}: got ${got[i]}, want ${want[i]} (tol ${tol})`);
    }
  }
}

const dim = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 41 }));
const caseArb = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  M: dim,
  N: dim,
  K: fc.oneof(dim, fc.integer({ min: 300, max: 700 })), // more than one K block
  la: fc.constantFrom(...layouts),
  lb: fc.constantFrom(...layouts),
  dtype: fc.constantFrom('float32' as const, 'float64' as const),
  outF64: fc.boolean(),
  seed: fc.integer(),
});

describe('bmm (cpu gemm)', () => {
  const threads = getNumThreads();
  afterAll(() => setNumThreads(threads));

  it('matches bmmNaive on random sizes and views', () => {
    fc.assert(
      fc.property(caseArb, ({ batch, M, N, K, la, lb, dtype, outF64, seed }) => {
        const a = makeView(la, batch, M, K, dtype, seed),
          b = makeView(lb, batch, K, N, dtype, seed ^ 0x5bd1e995);
        const out = outF64 ? 'float64' : dtype;
        const mk = () => alloc(out, batch * M * N) as FloatArray;
        const got = mk().fill(NaN),
          gotP = mk().fill(NaN),
          want = mk();
        bmm(batch, M, N, K, a, b, got);
        bmmPacked(batch, M, N, K, a, b, gotP);
        bmmNaive(batch, M, N, K, a, b, want);
        if (out === 'float32') {
          // float32 accumulation (SIMD path)
          const absSum = absSums(batch, M, N, K, a, b);
          expectF32Close(got, want, absSum, K);
          expectF32Close(gotP, want, absSum, K);
        } else {
          expectClose(got, want, 1e-11);
          expectClose(gotP, want, 1e-11);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('handles K = 0 (zeros) and empty outputs', () => {
    const a = makeView('rowMajor', 2, 3, 0, 'float32', 1),
      b = makeView('rowMajor', 2, 0, 5, 'float32', 2);
    const out = alloc('float32', 30).fill(7);
    bmmPacked(2, 3, 5, 0, a, b, out);
    expect(Array.from(out).every((v) => v === 0)).toBe(true);
    bmmPacked(2, 0, 5, 4, makeView('rowMajor', 2, 0, 4, 'float32', 3), makeView('rowMajor', 2, 4, 5, 'float32', 4), alloc('float32', 0));
  });

  it('gives bit-identical results on 1 and 2 threads, shared or not', () => {
    const [batch, M, N, K] = [2, 67, 130, 150]; // 2.6e6 multiply-adds: split across threads
    for (const [la, lb] of [
      ['rowMajor', 'transposed'],
      ['broadcast', 'padded'],
    ] as const) {
      const a = makeView(la, batch, M, K, 'float32', 11),
        b = makeView(lb, batch, K, N, 'float32', 12);
      const run = (T: number, view: (v: MatView) => MatView = (v) => v) => {
        setNumThreads(T);
        const out = alloc('float32', batch * M * N);
        bmm(batch, M, N, K, view(a), view(b), out);
        return out;
      };
      const one = run(1),
        before = threadStats().parallelJobs;
      const two = run(2);
      // A plain ArrayBuffer input and output are copied through shared scratch.
      const notShared = (v: MatView): MatView => ({ ...v, data: new Float32Array(v.data) });
      const unshared = new Float32Array(batch * M * N);
      setNumThreads(2);
      bmm(batch, M, N, K, notShared(a), notShared(b), unshared);
      expect(threadStats().parallelJobs).toBeGreaterThan(before);
      expect(firstBitDiff(two, one)).toBe(-1);
      expect(firstBitDiff(unshared, one)).toBe(-1);
      const want = alloc('float32', batch * M * N);
      bmmNaive(batch, M, N, K, a, b, want);
      expectF32Close(one, want, absSums(batch, M, N, K, a, b), K);
    }
  });
});

// Property tests of the CPU conv2d kernels (backend/cpu/conv.ts) against their naive references
// over random geometries: stride, per-axis padding, dilation, groups, 1x1, kernels larger than
// the input, dilations whose taps read only padding (dropped); float32 (SIMD GEMM, float32 accumulation: the bound of expectF32Close) and float64;
// 2 threads bit-identical to 1; and the batch-wide GEMMs of small maps (convTuning.wideMaxP) bit-identical
// to one GEMM per image, with blocks that start inside an image.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { alloc, type FloatArray } from '../packages/tensor/src/backend/cpu/alloc.ts';
import * as cv from '../packages/tensor/src/backend/cpu/conv.ts';
import { liveTaps } from '../packages/tensor/src/backend/cpu/conv-taps.ts';
import { directTuning } from '../packages/tensor/src/backend/cpu/conv-direct.ts';
import { getNumThreads, setNumThreads, threadStats } from '../packages/tensor/src/backend/cpu/threads.ts';
import { workerSplitsInFile } from './util/threads.ts';

// The 1-and-2-thread comparisons below are sized for splits from 1 M multiply-adds.
workerSplitsInFile(1 << 20);

type Geom = cv.Conv2dGeom;

function geom(p: Omit<Geom, 'OH' | 'OW'>): Geom {
  const OH = Math.floor((p.H + 2 * p.pH - p.dH * (p.kH - 1) - 1) / p.sH) + 1;
  const OW = Math.floor((p.W + 2 * p.pW - p.dW * (p.kW - 1) - 1) / p.sW) + 1;
  return { ...p, OH, OW };
}

function rand(dtype: 'float32' | 'float64', n: number, seed: number): FloatArray {
  const a = alloc(dtype, n) as FloatArray;
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

function expectClose(got: FloatArray, want: FloatArray, tol: number, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)))) {
      throw new Error(`${what} element ${i}: got ${got[i]}, want ${want[i]} (tol ${tol})`);
    }
  }
}

const small = (max: number) => fc.integer({ min: 1, max });
const general = fc.record({
  N: small(2),
  groups: small(3),
  Cg: small(3),
  Og: small(3),
  H: small(9),
  W: small(9),
  kH: small(4),
  kW: small(4),
  sH: small(3),
  sW: small(3),
  pH: fc.integer({ min: 0, max: 3 }),
  pW: fc.integer({ min: 0, max: 3 }),
  dH: small(2),
  dW: small(2),
});
const oneByOne = fc.record({
  N: small(2),
  groups: small(2),
  Cg: small(5),
  Og: small(5),
  H: small(9),
  W: small(9),
  kH: fc.constant(1),
  kW: fc.constant(1),
  sH: fc.constant(1),
  sW: fc.constant(1),
  pH: fc.constant(0),
  pW: fc.constant(0),
  dH: small(2),
  dW: small(2),
});
/** Dilation and padding up to the map size and beyond (ASPP on a small map): taps reading only padding, dropped (conv-taps.ts). */
const dilated = fc.record({
  N: small(2),
  groups: small(2),
  Cg: small(3),
  Og: small(3),
  H: small(7),
  W: small(7),
  kH: small(3),
  kW: small(3),
  sH: small(2),
  sW: small(2),
  pH: fc.integer({ min: 0, max: 12 }),
  pW: fc.integer({ min: 0, max: 12 }),
  dH: small(12),
  dW: small(12),
});
const caseArb = fc
  .record({
    p: fc.oneof({ arbitrary: general, weight: 3 }, { arbitrary: oneByOne, weight: 1 }, { arbitrary: dilated, weight: 2 }),
    dtype: fc.constantFrom('float32' as const, 'float64' as const),
    bias: fc.boolean(),
    seed: fc.integer(),
  })
  .map(({ p, dtype, bias, seed }) => {
    const g = geom({ ...p, C: p.Cg * p.groups, O: p.Og * p.groups });
    return { g, dtype, bias, seed };
  })
  .filter(({ g }) => g.OH >= 1 && g.OW >= 1);

/**
 * Float32 accumulation (the SIMD GEMM): |got - want| <= 4 sqrt(K) 2^-24 sum |x w| over the K terms of each
 * output, `absSum` being that sum (the naive reference on absolute values); see test/cpu-gemm-simd.test.ts.
 */
function expectF32Close(got: FloatArray, want: FloatArray, absSum: FloatArray, K: number, what: string): void {
  expect(got.length).toBe(want.length);
  const c = 4 * Math.sqrt(Math.max(K, 1)) * 2 ** -24;
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= c * absSum[i]!)) {
      throw new Error(`${what} element ${i}: got ${got[i]}, want ${want[i]} (bound ${c * absSum[i]!}, K ${K})`);
    }
  }
}

/**
 * Runs `fast` and `naive` on fresh outputs (prefilled with NaN) and compares: float64 within 1e-11, float32
 * within the float32 bound for K terms per output (`naive` is then also run on absolute values).
 */
function check(
  n: number,
  dtype: 'float32' | 'float64',
  what: string,
  fast: (o: FloatArray) => void,
  naive: (o: FloatArray, e: (a: FloatArray) => FloatArray) => void,
  K: number,
): void {
  const got = (alloc(dtype, n) as FloatArray).fill(NaN),
    want = alloc(dtype, n) as FloatArray;
  fast(got);
  naive(want, (a) => a);
  if (dtype === 'float64') {
    expectClose(got, want, 1e-11, what);
    return;
  }
  const absSum = new Float64Array(n);
  naive(absSum, (a) => a.map(Math.abs));
  expectF32Close(got, want, absSum, K, what);
}

function sizes(g: Geom) {
  return { x: g.N * g.C * g.H * g.W, w: g.O * (g.C / g.groups) * g.kH * g.kW, y: g.N * g.O * g.OH * g.OW };
}

describe('conv2d kernels (cpu)', () => {
  const threads = getNumThreads();
  afterAll(() => setNumThreads(threads));

  it('match the naive references on random geometries', () => {
    fc.assert(
      fc.property(caseArb, ({ g, dtype, bias, seed }) => {
        const n = sizes(g);
        const x = rand(dtype, n.x, seed),
          w = rand(dtype, n.w, seed + 1),
          gy = rand(dtype, n.y, seed + 2);
        const b = bias ? rand(dtype, g.O, seed + 3) : null,
          kk = g.kH * g.kW;
        check(
          n.y,
          dtype,
          'forward',
          (o) => cv.conv2dForward(x, w, b, g, o),
          (o, e) => cv.conv2dForwardNaive(e(x), e(w), b && e(b), g, o),
          (g.C / g.groups) * kk,
        );
        check(
          n.x,
          dtype,
          'backward input',
          (o) => cv.conv2dBackwardInput(gy, w, g, o),
          (o, e) => cv.conv2dBackwardInputNaive(e(gy), e(w), g, o),
          (g.O / g.groups) * kk,
        );
        check(
          n.w,
          dtype,
          'backward weight',
          (o) => cv.conv2dBackwardWeight(x, gy, g, o),
          (o, e) => cv.conv2dBackwardWeightNaive(e(x), e(gy), g, o),
          g.N * g.OH * g.OW,
        );
      }),
      { numRuns: 50 },
    );
  });

  it('drop the taps that read only padding: a 3x3 with dilation 12 on a 6x6 map runs as its centre tap', () => {
    const g = geom({ N: 2, C: 4, H: 6, W: 6, O: 3, kH: 3, kW: 3, sH: 1, sW: 1, pH: 12, pW: 12, dH: 12, dW: 12, groups: 1 });
    const live = liveTaps(g)!;
    expect([live.kh0, live.kw0, live.g.kH, live.g.kW, live.g.pH, live.g.pW]).toEqual([1, 1, 1, 1, 0, 0]);
    expect(liveTaps(geom({ N: 1, C: 1, H: 6, W: 6, O: 1, kH: 3, kW: 3, sH: 1, sW: 1, pH: 4, pW: 4, dH: 4, dW: 4, groups: 1 }))).toBeNull();
    const n = sizes(g),
      x = rand('float64', n.x, 1),
      w = rand('float64', n.w, 2),
      gy = rand('float64', n.y, 3);
    check(
      n.y,
      'float64',
      'forward',
      (o) => cv.conv2dForward(x, w, null, g, o),
      (o) => cv.conv2dForwardNaive(x, w, null, g, o),
      0,
    );
    check(
      n.x,
      'float64',
      'backward input',
      (o) => cv.conv2dBackwardInput(gy, w, g, o),
      (o) => cv.conv2dBackwardInputNaive(gy, w, g, o),
      0,
    );
    check(
      n.w,
      'float64',
      'backward weight',
      (o) => cv.conv2dBackwardWeight(x, gy, g, o),
      (o) => cv.conv2dBackwardWeightNaive(x, gy, g, o),
      0,
    );
  });

  it('handle a kernel larger than the input, and padding larger than the kernel', () => {
    for (const g of [
      geom({ N: 1, C: 2, H: 2, W: 3, O: 3, kH: 5, kW: 4, sH: 1, sW: 2, pH: 2, pW: 2, dH: 1, dW: 1, groups: 1 }),
      geom({ N: 2, C: 2, H: 3, W: 3, O: 2, kH: 2, kW: 2, sH: 1, sW: 1, pH: 3, pW: 0, dH: 1, dW: 2, groups: 2 }),
    ]) {
      const n = sizes(g),
        x = rand('float64', n.x, 1),
        w = rand('float64', n.w, 2),
        gy = rand('float64', n.y, 3);
      check(
        n.y,
        'float64',
        'forward',
        (o) => cv.conv2dForward(x, w, null, g, o),
        (o) => cv.conv2dForwardNaive(x, w, null, g, o),
        0,
      );
      check(
        n.x,
        'float64',
        'backward input',
        (o) => cv.conv2dBackwardInput(gy, w, g, o),
        (o) => cv.conv2dBackwardInputNaive(gy, w, g, o),
        0,
      );
      check(
        n.w,
        'float64',
        'backward weight',
        (o) => cv.conv2dBackwardWeight(x, gy, g, o),
        (o) => cv.conv2dBackwardWeightNaive(x, gy, g, o),
        0,
      );
    }
  });

  it('give bit-identical results on 1 and 2 threads', () => {
    const cases = [
      // each pass is >= 1e6 multiply-adds, so it is split across threads
      geom({ N: 2, C: 16, H: 24, W: 24, O: 16, kH: 3, kW: 3, sH: 1, sW: 1, pH: 1, pW: 1, dH: 1, dW: 1, groups: 1 }),
      geom({ N: 3, C: 24, H: 41, W: 39, O: 24, kH: 3, kW: 3, sH: 2, sW: 2, pH: 1, pW: 0, dH: 2, dW: 1, groups: 3 }),
      geom({ N: 2, C: 32, H: 20, W: 20, O: 48, kH: 1, kW: 1, sH: 1, sW: 1, pH: 0, pW: 0, dH: 1, dW: 1, groups: 1 }),
    ];
    for (const g of cases) {
      const n = sizes(g),
        x = rand('float32', n.x, 5),
        w = rand('float32', n.w, 6),
        gy = rand('float32', n.y, 7);
      const bias = rand('float32', g.O, 8);
      const run = (T: number) => {
        setNumThreads(T);
        const y = alloc('float32', n.y),
          gx = alloc('float32', n.x),
          gw = alloc('float32', n.w);
        cv.conv2dForward(x, w, bias, g, y);
        cv.conv2dBackwardInput(gy, w, g, gx);
        cv.conv2dBackwardWeight(x, gy, g, gw);
        return [y, gx, gw];
      };
      const one = run(1),
        before = threadStats().parallelJobs,
        two = run(2);
      expect(threadStats().parallelJobs - before).toBeGreaterThanOrEqual(3);
      for (let i = 0; i < 3; i++) expect(firstBitDiff(two[i]!, one[i]!)).toBe(-1);
      if (g.sH === 1) continue;
      // The strided input gradient in several chunks of images (col2im per chunk), 2 threads.
      const chunk = cv.convTuning.colChunk;
      cv.convTuning.colChunk = 1;
      try {
        const gx = new Float32Array(n.x).fill(NaN); // not shared: copied back once
        cv.conv2dBackwardInput(gy, w, g, gx);
        expect(firstBitDiff(gx, one[1]!)).toBe(-1);
      } finally {
        cv.convTuning.colChunk = chunk;
      }
    }
  });
});

describe('conv2d batch-wide GEMMs on small maps', () => {
  const threads = getNumThreads(),
    wideMaxP = cv.convTuning.wideMaxP;
  afterAll(() => {
    setNumThreads(threads);
    cv.convTuning.wideMaxP = wideMaxP;
  });

  /** The three passes with the batch-wide GEMMs allowed at every map size (wideMaxP = Infinity) or never (0). */
  function passes(g: Geom, dtype: 'float32' | 'float64', seed: number, maxP: number): FloatArray[] {
    const n = sizes(g),
      x = rand(dtype, n.x, seed),
      w = rand(dtype, n.w, seed + 1),
      gy = rand(dtype, n.y, seed + 2),
      b = rand(dtype, g.O, seed + 3);
    const y = (alloc(dtype, n.y) as FloatArray).fill(NaN),
      gx = (alloc(dtype, n.x) as FloatArray).fill(NaN),
      gw = (alloc(dtype, n.w) as FloatArray).fill(NaN);
    cv.convTuning.wideMaxP = maxP;
    directTuning.mode = 'gemm'; // the GEMMs, not the direct stride-1 kernels (cpu-conv-direct*.test.ts compare those to them)
    try {
      cv.conv2dForward(x, w, b, g, y);
      cv.conv2dBackwardInput(gy, w, g, gx);
      cv.conv2dBackwardWeight(x, gy, g, gw);
    } finally {
      cv.convTuning.wideMaxP = wideMaxP;
      directTuning.mode = 'auto';
    }
    return [y, gx, gw];
  }

  it('are chosen for batches of more than one image below wideMaxP output pixels', () => {
    const g = (N: number, H: number) => geom({ N, C: 2, H, W: H, O: 2, kH: 3, kW: 3, sH: 1, sW: 1, pH: 1, pW: 1, dH: 1, dW: 1, groups: 1 });
    const P = Math.floor(Math.sqrt(wideMaxP - 1)); // P*P < wideMaxP
    expect(cv.batchWide(g(2, P))).toBe(true);
    expect(cv.batchWide(g(1, P))).toBe(false); // one image: the per-image GEMM is the same GEMM
    expect(cv.batchWide(g(2, Math.ceil(Math.sqrt(wideMaxP))))).toBe(false);
  });

  it('give the bits of one GEMM per image, on random geometries (float32 SIMD and float64)', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 1, max: 9 }), ({ g, dtype, seed }, N) => {
        const gn = { ...g, N }; // up to 9 images: GEMM blocks start inside an image
        const wide = passes(gn, dtype, seed, Number.POSITIVE_INFINITY),
          per = passes(gn, dtype, seed, 0);
        for (let i = 0; i < 3; i++) expect(firstBitDiff(wide[i]!, per[i]!)).toBe(-1);
        // gy too big for the weight gradient's transposed copy (colChunk): forward wide, weight gradient per image
        const chunk = cv.convTuning.colChunk;
        cv.convTuning.colChunk = 1;
        try {
          const capped = passes(gn, dtype, seed, Number.POSITIVE_INFINITY);
          for (let i = 0; i < 3; i++) expect(firstBitDiff(capped[i]!, per[i]!)).toBe(-1);
        } finally {
          cv.convTuning.colChunk = chunk;
        }
      }),
      { numRuns: 40 },
    );
  });

  it('match the naive references when the blocks start inside an image, on 1 and 2 threads', () => {
    // N*P > 256 columns (forward) and > 320 rows (weight gradient): blocks split images mid-row
    for (const g of [
      geom({ N: 9, C: 5, H: 7, W: 7, O: 6, kH: 3, kW: 3, sH: 1, sW: 1, pH: 2, pW: 1, dH: 2, dW: 1, groups: 1 }),
      geom({ N: 8, C: 32, H: 11, W: 13, O: 32, kH: 3, kW: 3, sH: 2, sW: 2, pH: 1, pW: 1, dH: 1, dW: 1, groups: 2 }),
      geom({ N: 8, C: 32, H: 6, W: 6, O: 48, kH: 3, kW: 3, sH: 1, sW: 1, pH: 2, pW: 2, dH: 2, dW: 2, groups: 1 }),
    ]) {
      expect(cv.batchWide(g)).toBe(true);
      for (const dtype of ['float32', 'float64'] as const) {
        setNumThreads(1);
        const one = passes(g, dtype, 11, wideMaxP);
        setNumThreads(2);
        const two = passes(g, dtype, 11, wideMaxP);
        for (let i = 0; i < 3; i++) expect(firstBitDiff(two[i]!, one[i]!)).toBe(-1);
        const n = sizes(g),
          x = rand(dtype, n.x, 11),
          w = rand(dtype, n.w, 12),
          gy = rand(dtype, n.y, 13),
          b = rand(dtype, g.O, 14),
          kk = g.kH * g.kW;
        check(
          n.y,
          dtype,
          'forward',
          (o) => o.set(one[0]!),
          (o, e) => cv.conv2dForwardNaive(e(x), e(w), e(b), g, o),
          (g.C / g.groups) * kk,
        );
        check(
          n.x,
          dtype,
          'backward input',
          (o) => o.set(one[1]!),
          (o, e) => cv.conv2dBackwardInputNaive(e(gy), e(w), g, o),
          (g.O / g.groups) * kk,
        );
        check(
          n.w,
          dtype,
          'backward weight',
          (o) => o.set(one[2]!),
          (o, e) => cv.conv2dBackwardWeightNaive(e(x), e(gy), g, o),
          g.N * g.OH * g.OW,
        );
      }
    }
  });
});

/** Index of the first element whose bits differ (-1 if none): a bit-identity check. */
function firstBitDiff(a: FloatArray, b: FloatArray): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return Math.floor(i / a.BYTES_PER_ELEMENT);
  return -1;
}

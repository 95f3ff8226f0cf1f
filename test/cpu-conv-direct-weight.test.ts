// Tests of the direct conv weight gradient (backend/cpu/conv-wgrad.ts, wasm/conv-wgrad-simd.ts):
// against conv.ts's naive reference (float64 accumulators) within the float32 bound, over random
// geometries (odd widths, width and height 1, padding 0..3 and beyond the kernel reach, dilation 1..4,
// stride 1..3, batch 1..3, channels not a multiple of 4 or 8, bands of rows and of several images), under both
// kernels (mul+add and FMA); the same bits as the SIMD GEMM path, in both of its regimes (batch-wide
// and per image, convTuning.wideMaxP), also on an unpadded 1x1 (its GEMM reads x as a plain view);
// 1 and 2 threads bit-identical; and the routing rule of useDirectWeight.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as cv from '../packages/tensor/src/backend/cpu/conv.ts';
import { directTuning } from '../packages/tensor/src/backend/cpu/conv-direct.ts';
import { useDirectWeight, wgradTuning } from '../packages/tensor/src/backend/cpu/conv-wgrad.ts';
import { gemmKernel, gemmOptions, gemmStats, setFma } from '../packages/tensor/src/backend/cpu/gemm.ts';
import { getNumThreads, setNumThreads, threadStats } from '../packages/tensor/src/backend/cpu/threads.ts';
import { relaxedMaddFuses } from '../packages/tensor/src/backend/cpu/wasm/fma.ts';
import { lcgFloats as rand } from './util/lcg.ts';
import { withWorkerSplits } from './util/threads.ts';

const threads = getNumThreads(),
  fmaDefault = gemmOptions.fma,
  bandPixels = wgradTuning.bandPixels,
  group0 = wgradTuning.group,
  wideMaxP = cv.convTuning.wideMaxP;
afterAll(() => {
  setNumThreads(threads);
  setFma(fmaDefault);
  directTuning.mode = 'auto';
  wgradTuning.bandPixels = bandPixels;
  wgradTuning.group = group0;
  cv.convTuning.wideMaxP = wideMaxP;
});

const fuses = relaxedMaddFuses();
if (!fuses) console.warn('cpu-conv-direct-weight: the FMA kernel is not tested: this engine has no fused f32x4.relaxed_madd');
/** The kernels this engine runs: mul+add, and FMA where relaxed_madd fuses. */
const kernels = fuses ? [false, true] : [false];

type Geom = cv.Conv2dGeom;
function geom(p: Omit<Geom, 'OH' | 'OW' | 'sH' | 'sW' | 'groups'> & { sH?: number; sW?: number }): Geom {
  const sH = p.sH ?? 1,
    sW = p.sW ?? 1;
  const OH = Math.floor((p.H + 2 * p.pH - p.dH * (p.kH - 1) - 1) / sH) + 1,
    OW = Math.floor((p.W + 2 * p.pW - p.dW * (p.kW - 1) - 1) / sW) + 1;
  return { ...p, sH, sW, groups: 1, OH, OW };
}
const sizes = (g: Geom) => ({ x: g.N * g.C * g.H * g.W, w: g.O * g.C * g.kH * g.kW, y: g.N * g.O * g.OH * g.OW });
const sameBits = (a: Float32Array, b: Float32Array) =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** The weight gradient of g under directTuning.mode `mode`, on a fresh NaN-filled output. */
function wgrad(g: Geom, seed: number, mode: 'direct' | 'gemm'): Float32Array {
  const n = sizes(g),
    gw = new Float32Array(n.w).fill(NaN);
  directTuning.mode = mode;
  try {
    cv.conv2dBackwardWeight(rand(n.x, seed), rand(n.y, seed + 1), g, gw);
  } finally {
    directTuning.mode = 'auto';
  }
  return gw;
}

const geomArb = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    C: fc.integer({ min: 1, max: 9 }),
    O: fc.integer({ min: 1, max: 19 }),
    H: fc.integer({ min: 1, max: 10 }),
    W: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 19 })),
    kH: fc.integer({ min: 1, max: 4 }),
    kW: fc.integer({ min: 1, max: 4 }),
    pH: fc.integer({ min: 0, max: 3 }),
    pW: fc.integer({ min: 0, max: 3 }),
    dH: fc.integer({ min: 1, max: 4 }),
    dW: fc.integer({ min: 1, max: 4 }),
    sH: fc.integer({ min: 1, max: 3 }),
    sW: fc.integer({ min: 1, max: 3 }),
  })
  .map(geom)
  .filter((g) => g.OH >= 1 && g.OW >= 1);
/** Band sizes: one row or pixel at a time, a few rows, several images, the default. */
const bandArb = fc.constantFrom(1, 7, 40, 1024);

describe('direct conv2d weight gradient (cpu, float32)', () => {
  it('matches the naive reference on random geometries and bands, under each kernel, without running a GEMM', () => {
    fc.assert(
      fc.property(geomArb, bandArb, fc.integer(), (g, band, seed) => {
        const n = sizes(g),
          x = rand(n.x, seed),
          gy = rand(n.y, seed + 1);
        const want = new Float64Array(n.w),
          bound = new Float64Array(n.w);
        cv.conv2dBackwardWeightNaive(Float64Array.from(x), Float64Array.from(gy), g, want);
        cv.conv2dBackwardWeightNaive(Float64Array.from(x, Math.abs), Float64Array.from(gy, Math.abs), g, bound);
        // the bound of cpu-conv.test.ts for the SIMD GEMM, whose sums these are: 4 sqrt(K) 2^-24 sum |x gy|, K terms
        const c = 4 * Math.sqrt(g.N * g.OH * g.OW) * 2 ** -24;
        wgradTuning.bandPixels = band;
        try {
          for (const fma of kernels) {
            setFma(fma);
            const jobs = gemmStats.simdJobs + gemmStats.jsJobs,
              got = wgrad(g, seed, 'direct');
            expect(gemmStats.simdJobs + gemmStats.jsJobs).toBe(jobs);
            for (let i = 0; i < n.w; i++)
              if (!(Math.abs(got[i]! - want[i]!) <= c * bound[i]!)) throw new Error(`element ${i}: got ${got[i]}, want ${want[i]} (bound ${c * bound[i]!})`);
          }
        } finally {
          wgradTuning.bandPixels = bandPixels;
          setFma(fmaDefault);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('gives the bits of the SIMD GEMM path, batch-wide and per image, under each kernel', () => {
    fc.assert(
      fc.property(geomArb, bandArb, fc.constantFrom(0, Infinity), fc.constantFrom(1, 2, 4), fc.integer(), (g, band, maxP, group, seed) => {
        wgradTuning.bandPixels = band;
        wgradTuning.group = group; // output blocks per pass of the taps
        cv.convTuning.wideMaxP = maxP; // Infinity: one GEMM over the batch (N > 1); 0: one per image, accumulating
        try {
          for (const fma of kernels) {
            setFma(fma);
            expect(gemmKernel()).toBe(fma ? 'fma' : 'mul+add');
            const direct = wgrad(g, seed, 'direct'),
              jobs = gemmStats.simdJobs,
              gemm = wgrad(g, seed, 'gemm');
            expect(gemmStats.simdJobs - jobs).toBe(1); // the reference ran the SIMD GEMM
            expect(sameBits(direct, gemm)).toBe(true);
          }
        } finally {
          wgradTuning.bandPixels = bandPixels;
          wgradTuning.group = group0;
          cv.convTuning.wideMaxP = wideMaxP;
          setFma(fmaDefault);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('gives the bits of the GEMM of an unpadded 1x1 (x read as a plain view) and of a 64x64 map', () => {
    for (const g of [
      geom({ N: 2, C: 40, H: 12, W: 12, O: 8, kH: 1, kW: 1, pH: 0, pW: 0, dH: 1, dW: 1 }),
      geom({ N: 3, C: 5, H: 7, W: 9, O: 6, kH: 1, kW: 1, pH: 0, pW: 0, dH: 1, dW: 1 }),
      geom({ N: 2, C: 6, H: 64, W: 64, O: 10, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1 }),
    ])
      for (const fma of kernels) {
        setFma(fma);
        expect(sameBits(wgrad(g, 9, 'direct'), wgrad(g, 9, 'gemm'))).toBe(true);
      }
    setFma(fmaDefault);
  });

  it('gives bit-identical results on 1 and 2 threads', () => {
    withWorkerSplits(1 << 12, () => {
      try {
        for (const g of [
          geom({ N: 3, C: 7, H: 13, W: 17, O: 10, kH: 3, kW: 3, pH: 1, pW: 2, dH: 1, dW: 2 }), // 2 quads x 9 taps x 2 blocks
          geom({ N: 1, C: 3, H: 20, W: 9, O: 4, kH: 3, kW: 2, pH: 2, pW: 0, dH: 2, dW: 1 }), // 6 units
          geom({ N: 2, C: 9, H: 6, W: 6, O: 17, kH: 3, kW: 3, pH: 4, pW: 4, dH: 4, dW: 4 }), // taps in the padding
          geom({ N: 2, C: 5, H: 15, W: 16, O: 9, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1, sH: 2, sW: 3 }), // strided
        ]) {
          for (const fma of kernels) {
            setFma(fma);
            wgradTuning.group = fma ? 1 : group0; // also the units of one output block at a time
            setNumThreads(1);
            const one = wgrad(g, 5, 'direct');
            setNumThreads(2);
            const before = threadStats().parallelJobs,
              two = wgrad(g, 5, 'direct');
            expect(threadStats().parallelJobs - before).toBe(1);
            expect(sameBits(two, one)).toBe(true);
          }
        }
      } finally {
        setNumThreads(threads);
        setFma(fmaDefault);
        wgradTuning.group = group0;
      }
    });
  });
});

describe('useDirectWeight (the routing rule)', () => {
  const f32 = new Float32Array(0),
    f64 = new Float64Array(0);
  const cnn = geom({ N: 8, C: 32, H: 64, W: 64, O: 32, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1 });
  const routed = (g: Geom, mode: 'auto' | 'direct' | 'gemm' = 'auto', x: object = f32) => {
    wgradTuning.mode = mode;
    try {
      return useDirectWeight(g, x, f32, f32);
    } finally {
      wgradTuning.mode = 'auto';
    }
  };

  it('takes the tiny-CNN and LAD convs, up to 8192 channel pairs', () => {
    expect(routed(cnn)).toBe(true);
    expect(routed({ ...cnn, C: 3 })).toBe(true);
    expect(routed(geom({ N: 8, C: 4, H: 96, W: 96, O: 8, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1, sH: 2, sW: 2 }))).toBe(true); // stride 2
    expect(routed(geom({ N: 8, C: 8, H: 48, W: 48, O: 16, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1 }))).toBe(true);
    expect(routed(geom({ N: 8, C: 32, H: 12, W: 12, O: 64, kH: 3, kW: 3, pH: 2, pW: 2, dH: 2, dW: 2 }))).toBe(true);
    expect(routed(geom({ N: 8, C: 16, H: 12, W: 12, O: 32, kH: 1, kW: 1, pH: 0, pW: 0, dH: 1, dW: 1 }))).toBe(true);
    expect(routed(geom({ N: 8, C: 64, H: 12, W: 12, O: 64, kH: 3, kW: 3, pH: 4, pW: 4, dH: 4, dW: 4 }))).toBe(true);
    expect(routed(geom({ N: 8, C: 160, H: 12, W: 12, O: 32, kH: 1, kW: 1, pH: 0, pW: 0, dH: 1, dW: 1 }))).toBe(true);
  });

  it('leaves to the GEMM: many channels, and whatever the kernel cannot run', () => {
    expect(routed(geom({ N: 2, C: 256, H: 14, W: 14, O: 256, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1 }))).toBe(false);
    expect(routed(geom({ N: 8, C: 128, H: 6, W: 6, O: 128, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1 }))).toBe(false);
    expect(routed({ ...cnn, C: 256 }, 'direct')).toBe(true);
    expect(routed(cnn, 'gemm')).toBe(false);
    directTuning.mode = 'gemm'; // the conv-wide switch, which wgradTuning.mode 'auto' follows
    try {
      expect(routed(cnn)).toBe(false);
    } finally {
      directTuning.mode = 'auto';
    }
    expect(routed(cnn, 'direct', f64)).toBe(false); // float64
    expect(routed({ ...cnn, groups: 2 }, 'direct')).toBe(false);
    gemmOptions.simd = false; // float32 on the JS GEMM: not the bits the direct kernel gives
    try {
      expect(routed(cnn, 'direct')).toBe(false);
    } finally {
      gemmOptions.simd = true;
    }
  });
});

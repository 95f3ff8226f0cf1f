// Tests of the direct convolution (backend/cpu/conv-direct.ts, wasm/conv-direct-simd.ts): forward and
// input gradient (a direct forward at stride 1, the GEMM and col2im otherwise) against conv.ts's naive
// references (float64 accumulators) within the float32 bound, over random geometries (odd widths, width
// and height 1, stride 1..3 per axis, padding 0..3 and beyond the kernel reach, dilation 1..4, batch
// 1..3), under both kernels (mul+add and FMA); the same bits as
// the SIMD GEMM path on the same conv (also 1x1s: unpadded, whose input gradient the GEMM path runs as
// wᵀ @ gy, and strided, whose input gradient the direct path runs as that product scattered); 1 and 2
// threads bit-identical (also when rows are cut in bands); and the routing rule of useDirect.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as cv from '../packages/tensor/src/backend/cpu/conv.ts';
import { directTuning, useDirect } from '../packages/tensor/src/backend/cpu/conv-direct.ts';
import { gemmKernel, gemmOptions, gemmStats, setFma } from '../packages/tensor/src/backend/cpu/gemm.ts';
import { getNumThreads, setNumThreads, threadStats } from '../packages/tensor/src/backend/cpu/threads.ts';
import { relaxedMaddFuses } from '../packages/tensor/src/backend/cpu/wasm/fma.ts';
import { lcgFloats as rand } from './util/lcg.ts';
import { withWorkerSplits } from './util/threads.ts';

const threads = getNumThreads(),
  fmaDefault = gemmOptions.fma;
afterAll(() => {
  setNumThreads(threads);
  setFma(fmaDefault);
  directTuning.mode = 'auto';
});

const fuses = relaxedMaddFuses();
if (!fuses) console.warn('cpu-conv-direct: the FMA kernel is not tested: this engine has no fused f32x4.relaxed_madd');
/** The kernels this engine runs: mul+add, and FMA where relaxed_madd fuses (setFma(true) gives mul+add elsewhere). */
const kernels = fuses ? [false, true] : [false];

type Geom = cv.Conv2dGeom;
function geom(p: Omit<Geom, 'OH' | 'OW' | 'sH' | 'sW' | 'groups'> & { sH?: number; sW?: number }): Geom {
  const { sH = 1, sW = 1 } = p,
    OH = Math.floor((p.H + 2 * p.pH - p.dH * (p.kH - 1) - 1) / sH) + 1,
    OW = Math.floor((p.W + 2 * p.pW - p.dW * (p.kW - 1) - 1) / sW) + 1;
  return { ...p, sH, sW, groups: 1, OH, OW };
}
const sizes = (g: Geom) => ({ x: g.N * g.C * g.H * g.W, w: g.O * g.C * g.kH * g.kW, y: g.N * g.O * g.OH * g.OW });
const sameBits = (a: Float32Array, b: Float32Array) =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** Forward (with bias) and input gradient of g under directTuning.mode `mode`, on fresh NaN-filled outputs; the SIMD GEMM jobs of each. */
function passes(g: Geom, seed: number, mode: 'direct' | 'gemm'): { y: Float32Array; gx: Float32Array; jobs: { y: number; gx: number } } {
  const n = sizes(g);
  const x = rand(n.x, seed),
    w = rand(n.w, seed + 1),
    b = rand(g.O, seed + 2),
    gy = rand(n.y, seed + 3);
  const y = new Float32Array(n.y).fill(NaN),
    gx = new Float32Array(n.x).fill(NaN);
  const j0 = gemmStats.simdJobs;
  directTuning.mode = mode;
  try {
    cv.conv2dForward(x, w, b, g, y);
    const j1 = gemmStats.simdJobs;
    cv.conv2dBackwardInput(gy, w, g, gx);
    return { y, gx, jobs: { y: j1 - j0, gx: gemmStats.simdJobs - j1 } };
  } finally {
    directTuning.mode = 'auto';
  }
}

/**
 * |got - want| <= 4 sqrt(K) 2^-24 sum |x w| per output (K terms): a sequential float32 sum's error is
 * at most K u sum|x w| and in practice grows like sqrt(K) u; the constant is cpu-conv.test.ts's for the
 * SIMD GEMM, whose sums these are. absSum: the reference on absolute values.
 */
function expectF32Close(got: Float32Array, want: Float64Array, absSum: Float64Array, K: number, what: string): void {
  const c = 4 * Math.sqrt(Math.max(K, 1)) * 2 ** -24;
  for (let i = 0; i < got.length; i++)
    if (!(Math.abs(got[i]! - want[i]!) <= c * absSum[i]!))
      throw new Error(`${what} element ${i}: got ${got[i]}, want ${want[i]} (bound ${c * absSum[i]!}, K ${K})`);
}

const geomArb = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    C: fc.integer({ min: 1, max: 6 }),
    O: fc.integer({ min: 1, max: 9 }),
    H: fc.integer({ min: 1, max: 10 }),
    W: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 19 }), fc.integer({ min: 20, max: 30 })),
    kH: fc.integer({ min: 1, max: 4 }),
    kW: fc.integer({ min: 1, max: 4 }),
    pH: fc.integer({ min: 0, max: 3 }),
    pW: fc.integer({ min: 0, max: 3 }),
    dH: fc.integer({ min: 1, max: 4 }),
    dW: fc.integer({ min: 1, max: 4 }),
    sH: fc.constantFrom(1, 1, 2, 2, 3),
    sW: fc.constantFrom(1, 1, 2, 2, 3),
  })
  .map(geom)
  .filter((g) => g.OH >= 1 && g.OW >= 1);

describe('direct conv2d (cpu, float32)', () => {
  it('matches the naive references on random geometries, forward and input gradient, under each kernel', () => {
    let direct = 0;
    fc.assert(
      fc.property(geomArb, fc.integer(), (g, seed) => {
        const n = sizes(g),
          kk = g.kH * g.kW;
        const x = rand(n.x, seed),
          w = rand(n.w, seed + 1),
          b = rand(g.O, seed + 2),
          gy = rand(n.y, seed + 3);
        const abs = (a: Float32Array) => Float64Array.from(a, Math.abs);
        const want = { y: new Float64Array(n.y), gx: new Float64Array(n.x) },
          bound = { y: new Float64Array(n.y), gx: new Float64Array(n.x) };
        cv.conv2dForwardNaive(Float64Array.from(x), Float64Array.from(w), Float64Array.from(b), g, want.y);
        cv.conv2dForwardNaive(abs(x), abs(w), abs(b), g, bound.y);
        cv.conv2dBackwardInputNaive(Float64Array.from(gy), Float64Array.from(w), g, want.gx);
        cv.conv2dBackwardInputNaive(abs(gy), abs(w), g, bound.gx);
        for (const fma of kernels) {
          setFma(fma);
          const got = passes(g, seed, 'direct');
          expectF32Close(got.y, want.y, bound.y, g.C * kk, 'forward');
          expectF32Close(got.gx, want.gx, bound.gx, g.O * kk, 'input gradient');
        }
        if (useDirect(g, new Float32Array(0), new Float32Array(0), null, new Float32Array(0))) direct++;
      }),
      { numRuns: 60 },
    );
    setFma(fmaDefault);
    expect(direct).toBeGreaterThan(20); // most cases ran the direct kernel (rows of 4 pixels or more)
  });

  it('gives the bits of the SIMD GEMM path, under each kernel, without running a GEMM', () => {
    fc.assert(
      fc.property(geomArb, fc.integer(), (g, seed) => {
        for (const fma of kernels) {
          setFma(fma);
          expect(gemmKernel()).toBe(fma ? 'fma' : 'mul+add');
          const direct = passes(g, seed, 'direct');
          // the forward runs the direct kernel when rows have >= 4 pixels; a stride-1 input gradient (a forward) when W >= 4,
          // a strided 1x1's (a 1x1 forward, scattered) when OW >= 4
          expect(direct.jobs.y).toBe(g.OW >= 4 ? 0 : 1);
          if (g.sH === 1 && g.sW === 1) expect(direct.jobs.gx).toBe(g.W >= 4 ? 0 : 1);
          else if (g.kH === 1 && g.kW === 1) expect(direct.jobs.gx).toBe(g.OW >= 4 ? 0 : 1);
          const gemm = passes(g, seed, 'gemm');
          expect(sameBits(direct.y, gemm.y)).toBe(true);
          expect(sameBits(direct.gx, gemm.gx)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
    setFma(fmaDefault);
  });

  it('gives the bits of the GEMMs of 1x1s: unpadded (its input gradient: w transposed times gy), strided (that product scattered)', () => {
    for (const g of [
      geom({ N: 2, C: 40, H: 12, W: 12, O: 8, kH: 1, kW: 1, pH: 0, pW: 0, dH: 1, dW: 1 }),
      geom({ N: 3, C: 5, H: 7, W: 9, O: 6, kH: 1, kW: 1, pH: 0, pW: 0, dH: 1, dW: 1 }),
      geom({ N: 8, C: 8, H: 24, W: 24, O: 16, kH: 1, kW: 1, pH: 0, pW: 0, dH: 1, dW: 1, sH: 2, sW: 2 }), // the LAD model's
      geom({ N: 2, C: 3, H: 13, W: 23, O: 5, kH: 1, kW: 1, pH: 2, pW: 1, dH: 1, dW: 1, sH: 3, sW: 2 }), // padded: a zero border
    ])
      for (const fma of kernels) {
        setFma(fma);
        const jobs = gemmStats.simdJobs,
          direct = passes(g, 9, 'direct');
        expect(gemmStats.simdJobs).toBe(jobs);
        const gemm = passes(g, 9, 'gemm');
        expect(sameBits(direct.y, gemm.y)).toBe(true);
        expect(sameBits(direct.gx, gemm.gx)).toBe(true);
      }
    setFma(fmaDefault);
  });

  it('gives bit-identical results on 1 and 2 threads, also with rows cut in bands', () => {
    withWorkerSplits(1 << 14, () => {
      try {
        for (const g of [
          geom({ N: 3, C: 7, H: 13, W: 17, O: 10, kH: 3, kW: 3, pH: 1, pW: 2, dH: 1, dW: 2 }), // 3 x 3 units
          geom({ N: 1, C: 5, H: 20, W: 9, O: 4, kH: 3, kW: 2, pH: 2, pW: 0, dH: 2, dW: 1 }), // 1 unit: 8 bands of rows
          geom({ N: 2, C: 9, H: 6, W: 6, O: 6, kH: 3, kW: 3, pH: 4, pW: 4, dH: 4, dW: 4 }), // 6x6 rows, taps in the padding
          geom({ N: 3, C: 4, H: 19, W: 20, O: 8, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1, sH: 2, sW: 2 }), // stride 2: 10x10 rows
          geom({ N: 1, C: 3, H: 17, W: 25, O: 5, kH: 2, kW: 4, pH: 0, pW: 3, dH: 2, dW: 1, sH: 1, sW: 3 }), // stride (1, 3), 1 unit: bands
          geom({ N: 3, C: 16, H: 20, W: 18, O: 8, kH: 1, kW: 1, pH: 0, pW: 0, dH: 1, dW: 1, sH: 2, sW: 2 }), // a strided 1x1: the input gradient too
        ]) {
          for (const fma of kernels) {
            setFma(fma);
            setNumThreads(1);
            const one = passes(g, 5, 'direct');
            setNumThreads(2);
            const before = threadStats().parallelJobs,
              two = passes(g, 5, 'direct');
            expect(threadStats().parallelJobs - before).toBe(2);
            expect(sameBits(two.y, one.y)).toBe(true);
            expect(sameBits(two.gx, one.gx)).toBe(true);
          }
        }
      } finally {
        setNumThreads(threads);
        setFma(fmaDefault);
      }
    });
  });
});

describe('useDirect (the routing rule)', () => {
  const f32 = new Float32Array(0),
    f64 = new Float64Array(0);
  const lad = geom({ N: 8, C: 64, H: 12, W: 12, O: 64, kH: 3, kW: 3, pH: 4, pW: 4, dH: 4, dW: 4 });
  const routed = (g: Geom, mode: 'auto' | 'direct' | 'gemm' = 'auto', x: object = f32) => {
    directTuning.mode = mode;
    try {
      return useDirect(g, x, f32, null, f32);
    } finally {
      directTuning.mode = 'auto';
    }
  };

  it('takes the LAD model stride-1 convs, rows a multiple of 4 or at most 32 output channels', () => {
    expect(routed(lad)).toBe(true);
    expect(routed({ ...lad, O: 8 })).toBe(true);
    expect(routed(geom({ N: 8, C: 32, H: 64, W: 64, O: 32, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1 }))).toBe(true);
    expect(routed(geom({ N: 8, C: 32, H: 6, W: 6, O: 32, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1 }))).toBe(true);
    expect(routed(geom({ N: 8, C: 160, H: 12, W: 12, O: 32, kH: 1, kW: 1, pH: 0, pW: 0, dH: 1, dW: 1 }))).toBe(true);
  });

  it('takes the LAD model stride-2 convs (the stem on the image and label channels, the 3x3 and 1x1 downsamplings)', () => {
    const s2 = { dH: 1, dW: 1, sH: 2, sW: 2 };
    expect(routed(geom({ N: 8, C: 4, H: 96, W: 96, O: 8, kH: 3, kW: 3, pH: 1, pW: 1, ...s2 }))).toBe(true);
    expect(routed(geom({ N: 8, C: 8, H: 24, W: 24, O: 16, kH: 3, kW: 3, pH: 1, pW: 1, ...s2 }))).toBe(true);
    expect(routed(geom({ N: 8, C: 8, H: 24, W: 24, O: 16, kH: 1, kW: 1, pH: 0, pW: 0, ...s2 }))).toBe(true);
    expect(routed(geom({ N: 8, C: 8, H: 12, W: 12, O: 16, kH: 3, kW: 3, pH: 1, pW: 1, ...s2 }))).toBe(true);
  });

  it('leaves to the GEMM: 6x6 rows with 64 channels out, over 1152 reduction steps, and whatever the kernel cannot run', () => {
    expect(routed(geom({ N: 8, C: 64, H: 6, W: 6, O: 64, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1 }))).toBe(false);
    expect(routed({ ...lad, C: 129 })).toBe(false); // 1161 steps
    expect(routed({ ...lad, C: 129 }, 'direct')).toBe(true);
    expect(routed(lad, 'gemm')).toBe(false);
    expect(routed(lad, 'direct', f64)).toBe(false); // float64
    expect(routed(geom({ N: 2, C: 128, H: 28, W: 28, O: 256, kH: 3, kW: 3, pH: 1, pW: 1, dH: 1, dW: 1, sH: 2, sW: 2 }))).toBe(false); // 14-pixel rows, 256 channels out
    expect(routed({ ...lad, groups: 2 }, 'direct')).toBe(false);
    expect(routed({ ...lad, OW: 3 }, 'direct')).toBe(false); // rows under 4 pixels
    gemmOptions.simd = false; // float32 on the JS GEMM: not the bits the direct kernel gives
    try {
      expect(routed(lad, 'direct')).toBe(false);
    } finally {
      gemmOptions.simd = true;
    }
  });
});

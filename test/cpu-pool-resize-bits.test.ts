// Bit-equality of the optimised CPU kernels maxPool2d (backend/cpu/pool.ts: border/interior split,
// 3-wide rows unrolled, and the float32 interior in WebAssembly SIMD, wasm/pool-simd.ts, tested on
// and off) and bilinear / bilinearBackward (backend/cpu/resize.ts: inner loops unrolled by 4, the
// backward's column pass summing runs of equal taps in registers) with the plain loops they replaced,
// kept here as the references: same operations in the same order per output element, so every
// output bit, NaN payloads and signed zeros included, must match.
// Inputs mix random floats, small integers (ties) and ±0, ±inf, NaN; float32 and float64; shapes
// with odd sizes, padding and strides (the pool has no dilation or ceil_mode; the kernels take dense
// arrays, strided views are made dense by the ops and checked in props-pool-resize.test.ts).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { maxPool2d, type Pool2dGeom } from '../packages/tensor/src/backend/cpu/pool.ts';
import { poolOptions, poolSimdOn } from '../packages/tensor/src/backend/cpu/wasm/pool-simd.ts';
import { bilinear, bilinearBackward, linearSource } from '../packages/tensor/src/backend/cpu/resize.ts';

type FloatArray = Float32Array | Float64Array;
const RUNS = 60;
const SPECIALS = [0, -0, Infinity, -Infinity, Number.NaN, 1, -1];

/** n values of the given type from `seed`: floats in [-2, 2), small integers (ties) and SPECIALS. */
function values(n: number, seed: number, f64: boolean, specials: boolean): FloatArray {
  const a = f64 ? new Float64Array(n) : new Float32Array(n);
  let s = seed >>> 0 || 1;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let i = 0; i < n; i++) {
    const kind = next();
    a[i] = specials && kind < 0.15 ? SPECIALS[Math.floor(next() * SPECIALS.length)] : kind < 0.4 ? Math.floor(next() * 5) - 2 : next() * 4 - 2;
  }
  return a;
}

/** The bytes of a typed array, for a bit-exact comparison. */
const bytes = (a: FloatArray | Int32Array): number[] => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
/** A garbage-filled output like `like` (kernels must overwrite every element). */
const dirty = (f64: boolean, n: number): FloatArray => (f64 ? new Float64Array(n) : new Float32Array(n)).fill(12345);

// ---- references: the kernels' previous loops --------------------------------------------------

function refMaxPool2d(x: FloatArray, g: Pool2dGeom, out: FloatArray, indices: Int32Array): void {
  let o = 0;
  for (let plane = 0; plane < g.N * g.C; plane++) {
    const base = plane * g.H * g.W;
    for (let oh = 0; oh < g.OH; oh++) {
      const h0 = Math.max(oh * g.sH - g.pH, 0),
        h1 = Math.min(oh * g.sH - g.pH + g.kH, g.H);
      for (let ow = 0; ow < g.OW; ow++, o++) {
        const w0 = Math.max(ow * g.sW - g.pW, 0),
          w1 = Math.min(ow * g.sW - g.pW + g.kW, g.W);
        let best = -Infinity,
          arg = h0 * g.W + w0;
        for (let h = h0; h < h1; h++)
          for (let w = w0; w < w1; w++) {
            const v = x[base + h * g.W + w];
            if (v > best || v !== v) {
              best = v;
              arg = h * g.W + w;
            }
          }
        out[o] = best;
        indices[o] = arg;
      }
    }
  }
}

/** Source indices and weights of output d along an axis (resize.ts's linearAxis, per index). */
function taps(d: number, size: number, O: number, ac: boolean): [number, number, number, number] {
  const real = linearSource(d, size, O, ac);
  const lo = Math.min(Math.floor(real), size - 1);
  const frac = Math.min(Math.max(real - lo, 0), 1);
  return [lo, lo < size - 1 ? lo + 1 : lo, 1 - frac, frac];
}

function refBilinear(x: FloatArray, N: number, C: number, H: number, W: number, OH: number, OW: number, ac: boolean, out: FloatArray): void {
  const rows = new Float64Array(H * OW);
  for (let plane = 0, o = 0; plane < N * C; plane++) {
    for (let h = 0, r = 0; h < H; h++)
      for (let ow = 0; ow < OW; ow++, r++) {
        const [c0, c1, a0, a1] = taps(ow, W, OW, ac);
        rows[r] = a0 * x[(plane * H + h) * W + c0] + a1 * x[(plane * H + h) * W + c1];
      }
    for (let oh = 0; oh < OH; oh++) {
      const [y0, y1, b0, b1] = taps(oh, H, OH, ac);
      for (let ow = 0; ow < OW; ow++, o++) out[o] = b0 * rows[y0 * OW + ow] + b1 * rows[y1 * OW + ow];
    }
  }
}

function refBilinearBackward(gy: FloatArray, N: number, C: number, H: number, W: number, OH: number, OW: number, ac: boolean, gx: FloatArray): void {
  const rows = new Float64Array(H * OW),
    acc = new Float64Array(W);
  for (let plane = 0, o = 0; plane < N * C; plane++) {
    rows.fill(0);
    for (let oh = 0; oh < OH; oh++) {
      const [y0, y1, b0, b1] = taps(oh, H, OH, ac);
      for (let ow = 0; ow < OW; ow++, o++) {
        rows[y0 * OW + ow] += b0 * gy[o];
        rows[y1 * OW + ow] += b1 * gy[o];
      }
    }
    for (let h = 0, r = 0; h < H; h++) {
      acc.fill(0);
      for (let ow = 0; ow < OW; ow++, r++) {
        const [c0, c1, a0, a1] = taps(ow, W, OW, ac);
        acc[c0] += a0 * rows[r];
        acc[c1] += a1 * rows[r];
      }
      for (let w = 0; w < W; w++) gx[(plane * H + h) * W + w] = acc[w];
    }
  }
}

// ---- properties --------------------------------------------------------------------------------

// Pooling geometry as the op allows it (padding <= kernel/2, a window fits), kernels up to 5 so that
// both the unrolled 3-wide rows and the general interior loop run, strides 1, 2 and 3 (the three SIMD
// loads), and widths from none to over 4 interior columns (the SIMD part's last group overlaps).
const poolArb: fc.Arbitrary<Pool2dGeom> = fc
  .record({
    N: fc.integer({ min: 1, max: 2 }),
    C: fc.integer({ min: 1, max: 3 }),
    kH: fc.integer({ min: 1, max: 5 }),
    kW: fc.integer({ min: 1, max: 5 }),
    sH: fc.integer({ min: 1, max: 3 }),
    sW: fc.integer({ min: 1, max: 3 }),
    pH: fc.integer({ min: 0, max: 2 }),
    pW: fc.integer({ min: 0, max: 2 }),
    eH: fc.integer({ min: 0, max: 9 }),
    eW: fc.integer({ min: 0, max: 24 }),
  })
  .map(({ N, C, kH, kW, sH, sW, pH, pW, eH, eW }) => {
    const ph = Math.min(pH, Math.floor(kH / 2)),
      pw = Math.min(pW, Math.floor(kW / 2));
    const H = Math.max(1, kH - 2 * ph) + eH,
      W = Math.max(1, kW - 2 * pw) + eW;
    return { N, C, H, W, kH, kW, sH, sW, pH: ph, pW: pw, OH: Math.floor((H + 2 * ph - kH) / sH) + 1, OW: Math.floor((W + 2 * pw - kW) / sW) + 1 };
  });

describe('maxPool2d keeps the bits of the plain loop', () => {
  it('runs its float32 interior in WebAssembly SIMD here (Node 20 has it)', () => {
    expect(poolSimdOn(1)).toBe(true);
  });

  it.each([true, false])('values and indices, float32 and float64, with ties, ±0, ±inf and NaN (SIMD %s)', (simd) => {
    poolOptions.simd = simd;
    fc.assert(
      fc.property(poolArb, fc.integer(), fc.boolean(), fc.boolean(), (g, seed, f64, specials) => {
        const x = values(g.N * g.C * g.H * g.W, seed, f64, specials);
        const n = g.N * g.C * g.OH * g.OW;
        const out = dirty(f64, n),
          idx = new Int32Array(n).fill(-7),
          want = dirty(f64, n),
          wantIdx = new Int32Array(n);
        maxPool2d(x, g, out, idx);
        refMaxPool2d(x, g, want, wantIdx);
        expect(bytes(out)).toEqual(bytes(want));
        expect(Array.from(idx)).toEqual(Array.from(wantIdx));
      }),
      { numRuns: RUNS },
    );
    poolOptions.simd = true;
  });

  it('the 3x3 stride-2 stem at an odd size', () => {
    const g = { N: 2, C: 3, H: 23, W: 17, kH: 3, kW: 3, sH: 2, sW: 2, pH: 1, pW: 1, OH: 12, OW: 9 };
    for (const f64 of [false, true]) {
      const x = values(g.N * g.C * g.H * g.W, 11, f64, true);
      const n = g.N * g.C * g.OH * g.OW;
      const out = dirty(f64, n),
        idx = new Int32Array(n),
        want = dirty(f64, n),
        wantIdx = new Int32Array(n);
      maxPool2d(x, g, out, idx);
      refMaxPool2d(x, g, want, wantIdx);
      expect(bytes(out)).toEqual(bytes(want));
      expect(Array.from(idx)).toEqual(Array.from(wantIdx));
    }
  });
});

// Up- and downsampling, output widths with every remainder mod 4 (the unrolled loops' tails).
const resizeArb = fc.record({
  N: fc.integer({ min: 1, max: 2 }),
  C: fc.integer({ min: 1, max: 2 }),
  H: fc.integer({ min: 1, max: 13 }),
  W: fc.integer({ min: 1, max: 13 }),
  OH: fc.integer({ min: 1, max: 40 }),
  OW: fc.integer({ min: 1, max: 40 }),
  ac: fc.boolean(),
  f64: fc.boolean(),
  specials: fc.boolean(),
  seed: fc.integer(),
});

describe('bilinear keeps the bits of the plain loops', () => {
  it('forward, float32 and float64, align_corners both', () => {
    fc.assert(
      fc.property(resizeArb, ({ N, C, H, W, OH, OW, ac, f64, specials, seed }) => {
        const x = values(N * C * H * W, seed, f64, specials);
        const out = dirty(f64, N * C * OH * OW),
          want = dirty(f64, out.length);
        bilinear(x, N, C, H, W, OH, OW, ac, out);
        refBilinear(x, N, C, H, W, OH, OW, ac, want);
        expect(bytes(out)).toEqual(bytes(want));
      }),
      { numRuns: RUNS },
    );
  });

  it('backward, float32 and float64, align_corners both', () => {
    fc.assert(
      fc.property(resizeArb, ({ N, C, H, W, OH, OW, ac, f64, specials, seed }) => {
        const gy = values(N * C * OH * OW, seed, f64, specials);
        const gx = dirty(f64, N * C * H * W),
          want = dirty(f64, gx.length);
        bilinearBackward(gy, N, C, H, W, OH, OW, ac, gx);
        refBilinearBackward(gy, N, C, H, W, OH, OW, ac, want);
        expect(bytes(gx)).toEqual(bytes(want));
      }),
      { numRuns: RUNS },
    );
  });

  it('the teacher shapes: 12x12 → 96x96 and back', () => {
    for (const ac of [true, false]) {
      const x = values(2 * 4 * 12 * 12, 5, false, false),
        out = dirty(false, 2 * 4 * 96 * 96),
        want = dirty(false, out.length);
      bilinear(x, 2, 4, 12, 12, 96, 96, ac, out);
      refBilinear(x, 2, 4, 12, 12, 96, 96, ac, want);
      expect(bytes(out)).toEqual(bytes(want));
      const gx = dirty(false, x.length),
        wantGx = dirty(false, x.length);
      bilinearBackward(out, 2, 4, 12, 12, 96, 96, ac, gx);
      refBilinearBackward(out, 2, 4, 12, 12, 96, 96, ac, wantGx);
      expect(bytes(gx)).toEqual(bytes(wantGx));
    }
  });
});

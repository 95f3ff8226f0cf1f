// Property and conformance tests for the CPU pooling kernels (backend/cpu/pool.ts):
// forward against an independent reference written from the PyTorch definitions, each backward
// as the adjoint of its forward, hand-computed examples, and PyTorch reference files.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  adaptiveAvgPool2d,
  adaptiveAvgPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  maxPool2d,
  maxPool2dBackward,
  type Pool2dGeom,
} from '../packages/tensor/src/backend/cpu/pool.ts';

const RUNS = 40;

/** Deterministic fill: uniform in [-1, 1), or small integers (many ties) when `ints`. */
function fill(n: number, seed: number, ints = false): Float64Array {
  const a = new Float64Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = ints ? (s % 5) - 2 : s / 2 ** 31 - 1;
  }
  return a;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!,
      w = want[i]!;
    if (Number.isNaN(w)) {
      expect(g, `[${i}]`).toBeNaN();
      continue;
    }
    if (Math.abs(g - w) > atol + rtol * Math.abs(w)) expect.fail(`[${i}]: got ${g}, want ${w}`);
  }
}

// Random pooling geometry satisfying PyTorch's rules: pad <= k/2, and H + 2p >= k.
const geomArb: fc.Arbitrary<Pool2dGeom> = fc
  .record({
    N: fc.integer({ min: 1, max: 2 }),
    C: fc.integer({ min: 1, max: 3 }),
    kH: fc.integer({ min: 1, max: 4 }),
    kW: fc.integer({ min: 1, max: 4 }),
    sH: fc.integer({ min: 1, max: 3 }),
    sW: fc.integer({ min: 1, max: 3 }),
    pH0: fc.integer({ min: 0, max: 2 }),
    pW0: fc.integer({ min: 0, max: 2 }),
    eH: fc.integer({ min: 0, max: 7 }),
    eW: fc.integer({ min: 0, max: 7 }),
  })
  .map(({ N, C, kH, kW, sH, sW, pH0, pW0, eH, eW }) => {
    const pH = Math.min(pH0, Math.floor(kH / 2)),
      pW = Math.min(pW0, Math.floor(kW / 2));
    const H = Math.max(1, kH - 2 * pH) + eH,
      W = Math.max(1, kW - 2 * pW) + eW;
    const OH = Math.floor((H + 2 * pH - kH) / sH) + 1,
      OW = Math.floor((W + 2 * pW - kW) / sW) + 1;
    return { N, C, H, W, kH, kW, sH, sW, pH, pW, OH, OW };
  });

// Direct definition: visit every window cell (k×k), skip the padding.
function refMax(x: Float64Array, g: Pool2dGeom): { out: Float64Array; idx: Int32Array } {
  const out = new Float64Array(g.N * g.C * g.OH * g.OW),
    idx = new Int32Array(out.length);
  for (let p = 0; p < g.N * g.C; p++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++) {
        let best = -Infinity,
          arg = -1;
        for (let i = 0; i < g.kH; i++)
          for (let j = 0; j < g.kW; j++) {
            const h = oh * g.sH - g.pH + i,
              w = ow * g.sW - g.pW + j;
            if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
            const v = x[(p * g.H + h) * g.W + w]!;
            if (arg < 0 || v > best) {
              best = v;
              arg = h * g.W + w;
            }
          }
        out[(p * g.OH + oh) * g.OW + ow] = best;
        idx[(p * g.OH + oh) * g.OW + ow] = arg;
      }
  return { out, idx };
}

function refAvg(x: Float64Array, g: Pool2dGeom, includePad: boolean): Float64Array {
  const out = new Float64Array(g.N * g.C * g.OH * g.OW);
  for (let p = 0; p < g.N * g.C; p++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++) {
        let s = 0,
          n = 0;
        for (let i = 0; i < g.kH; i++)
          for (let j = 0; j < g.kW; j++) {
            const h = oh * g.sH - g.pH + i,
              w = ow * g.sW - g.pW + j;
            const inside = h >= 0 && h < g.H && w >= 0 && w < g.W;
            if (inside) s += x[(p * g.H + h) * g.W + w]!;
            if (inside || includePad) n++;
          }
        out[(p * g.OH + oh) * g.OW + ow] = s / n;
      }
  return out;
}

function refAdaptive(x: Float64Array, N: number, C: number, H: number, W: number, OH: number, OW: number): Float64Array {
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const h0 = Math.floor((oh * H) / OH),
          h1 = Math.ceil(((oh + 1) * H) / OH);
        const w0 = Math.floor((ow * W) / OW),
          w1 = Math.ceil(((ow + 1) * W) / OW);
        let s = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) s += x[(p * H + h) * W + w]!;
        out[(p * OH + oh) * OW + ow] = s / ((h1 - h0) * (w1 - w0));
      }
  return out;
}

/** Output buffers pre-filled with garbage, to check that kernels overwrite every element. */
const dirty = (n: number): Float64Array => new Float64Array(n).fill(12345);
const dirtyI = (n: number): Int32Array => new Int32Array(n).fill(-7);

describe('maxPool2d', () => {
  it('matches the direct definition (values and first-max indices, with ties)', () => {
    fc.assert(
      fc.property(geomArb, fc.integer(), fc.boolean(), (g, seed, ints) => {
        const x = fill(g.N * g.C * g.H * g.W, seed, ints);
        const n = g.N * g.C * g.OH * g.OW;
        const out = dirty(n),
          idx = dirtyI(n);
        maxPool2d(x, g, out, idx);
        const ref = refMax(x, g);
        expect(Array.from(out)).toEqual(Array.from(ref.out));
        expect(Array.from(idx)).toEqual(Array.from(ref.idx));
      }),
      { numRuns: RUNS },
    );
  });

  it('backward is the adjoint of forward at fixed indices', () => {
    fc.assert(
      fc.property(geomArb, fc.integer(), (g, seed) => {
        const x = fill(g.N * g.C * g.H * g.W, seed),
          gy = fill(g.N * g.C * g.OH * g.OW, seed + 1);
        const out = dirty(gy.length),
          idx = dirtyI(gy.length),
          gx = dirty(x.length);
        maxPool2d(x, g, out, idx);
        maxPool2dBackward(gy, idx, g, gx);
        expect(dot(x, gx)).toBeCloseTo(dot(out, gy), 10);
      }),
      { numRuns: RUNS },
    );
  });

  it('hand example: 3x3, k2 s1 p0 and k3 s2 p1', () => {
    // x = [[1,5,2],[7,3,9],[4,8,6]]
    const x = Float32Array.of(1, 5, 2, 7, 3, 9, 4, 8, 6);
    const out = new Float32Array(4),
      idx = new Int32Array(4);
    maxPool2d(x, { N: 1, C: 1, H: 3, W: 3, kH: 2, kW: 2, sH: 1, sW: 1, pH: 0, pW: 0, OH: 2, OW: 2 }, out, idx);
    expect(Array.from(out)).toEqual([7, 9, 8, 9]);
    expect(Array.from(idx)).toEqual([3, 5, 7, 5]);
    // k3 s2 p1: windows clip to rows/cols [0,2) and [1,3) → same maxima as above.
    const g = { N: 1, C: 1, H: 3, W: 3, kH: 3, kW: 3, sH: 2, sW: 2, pH: 1, pW: 1, OH: 2, OW: 2 };
    maxPool2d(x, g, out, idx);
    expect(Array.from(out)).toEqual([7, 9, 8, 9]);
    expect(Array.from(idx)).toEqual([3, 5, 7, 5]);
    // gy = 1 everywhere: the 9 at index 5 is the max of two windows → gradient 2.
    const gx = new Float32Array(9).fill(3);
    maxPool2dBackward(Float32Array.of(1, 1, 1, 1), idx, g, gx);
    expect(Array.from(gx)).toEqual([0, 0, 0, 1, 0, 2, 0, 1, 0]);
  });

  it('NaN is the max (last NaN in window order), and padding is -inf', () => {
    const out = new Float32Array(1),
      idx = new Int32Array(1);
    maxPool2d(Float32Array.of(1, NaN, 3, NaN), { N: 1, C: 1, H: 2, W: 2, kH: 2, kW: 2, sH: 2, sW: 2, pH: 0, pW: 0, OH: 1, OW: 1 }, out, idx);
    expect(out[0]).toBeNaN();
    expect(idx[0]).toBe(3);
    // All-negative input with padding: the padded cells never win.
    const o2 = new Float32Array(4),
      i2 = new Int32Array(4);
    // k2 s2 p1 on 2x2: each window holds one real cell and three padded ones.
    maxPool2d(Float32Array.of(-5, -4, -3, -2), { N: 1, C: 1, H: 2, W: 2, kH: 2, kW: 2, sH: 2, sW: 2, pH: 1, pW: 1, OH: 2, OW: 2 }, o2, i2);
    expect(Array.from(o2)).toEqual([-5, -4, -3, -2]);
    expect(Array.from(i2)).toEqual([0, 1, 2, 3]);
  });
});

describe('avgPool2d', () => {
  for (const includePad of [true, false]) {
    it(`matches the direct definition (countIncludePad ${includePad})`, () => {
      fc.assert(
        fc.property(geomArb, fc.integer(), (g, seed) => {
          const x = fill(g.N * g.C * g.H * g.W, seed);
          const out = dirty(g.N * g.C * g.OH * g.OW);
          avgPool2d(x, g, includePad, out);
          expectClose(out, refAvg(x, g, includePad), 1e-12, 1e-12);
        }),
        { numRuns: RUNS },
      );
    });

    it(`backward is the adjoint of forward (countIncludePad ${includePad})`, () => {
      fc.assert(
        fc.property(geomArb, fc.integer(), (g, seed) => {
          const x = fill(g.N * g.C * g.H * g.W, seed),
            gy = fill(g.N * g.C * g.OH * g.OW, seed + 1);
          const out = dirty(gy.length),
            gx = dirty(x.length);
          avgPool2d(x, g, includePad, out);
          avgPool2dBackward(gy, g, includePad, gx);
          expect(dot(x, gx)).toBeCloseTo(dot(out, gy), 10);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('hand example: 2x2, k2 s1 p1', () => {
    // x = [[1,2],[3,4]], padded to 4x4; the 3x3 outputs see 1, 2 or 4 real cells.
    // include pad (divide by 4): [[1,3,2],[4,10,6],[3,7,4]]/4
    // exclude pad: [[1,1.5,2],[2,2.5,3],[3,3.5,4]]
    const x = Float64Array.of(1, 2, 3, 4);
    const g = { N: 1, C: 1, H: 2, W: 2, kH: 2, kW: 2, sH: 1, sW: 1, pH: 1, pW: 1, OH: 3, OW: 3 };
    const out = new Float64Array(9);
    avgPool2d(x, g, true, out);
    expect(Array.from(out)).toEqual([1, 3, 2, 4, 10, 6, 3, 7, 4].map((v) => v / 4));
    avgPool2d(x, g, false, out);
    expect(Array.from(out)).toEqual([1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
    // Exclude-pad backward with gy = 1: cell (0,0) is in 4 windows of sizes 1, 2, 2, 4 → 1+.5+.5+.25.
    const gx = new Float64Array(4).fill(9);
    avgPool2dBackward(new Float64Array(9).fill(1), g, false, gx);
    expect(Array.from(gx)).toEqual([2.25, 2.25, 2.25, 2.25]);
  });
});

describe('adaptiveAvgPool2d', () => {
  const arb = fc.record({
    N: fc.integer({ min: 1, max: 2 }),
    C: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 11 }),
    W: fc.integer({ min: 1, max: 11 }),
    OH: fc.integer({ min: 1, max: 8 }),
    OW: fc.integer({ min: 1, max: 8 }),
    seed: fc.integer(),
  });

  it('matches the direct definition (non-dividing sizes, upsampling bins, 1x1)', () => {
    fc.assert(
      fc.property(arb, ({ N, C, H, W, OH, OW, seed }) => {
        const x = fill(N * C * H * W, seed),
          out = dirty(N * C * OH * OW);
        adaptiveAvgPool2d(x, N, C, H, W, OH, OW, out);
        expectClose(out, refAdaptive(x, N, C, H, W, OH, OW), 1e-12, 1e-12);
      }),
      { numRuns: RUNS },
    );
  });

  it('backward is the adjoint of forward', () => {
    fc.assert(
      fc.property(arb, ({ N, C, H, W, OH, OW, seed }) => {
        const x = fill(N * C * H * W, seed),
          gy = fill(N * C * OH * OW, seed + 1);
        const out = dirty(gy.length),
          gx = dirty(x.length);
        adaptiveAvgPool2d(x, N, C, H, W, OH, OW, out);
        adaptiveAvgPool2dBackward(gy, N, C, H, W, OH, OW, gx);
        expect(dot(x, gx)).toBeCloseTo(dot(out, gy), 10);
      }),
      { numRuns: RUNS },
    );
  });

  it('hand example: 1x5 → 1x3 overlapping bins', () => {
    // W=5, OW=3: bins [0,2), [1,4), [3,5) → means of (1,2), (2,3,4), (4,5).
    const out = new Float64Array(3);
    adaptiveAvgPool2d(Float64Array.of(1, 2, 3, 4, 5), 1, 1, 1, 5, 1, 3, out);
    expect(Array.from(out)).toEqual([1.5, 3, 4.5]);
  });
});

// ---- PyTorch reference files -------------------------------------------------------------
interface TorchCase {
  name: string;
  op: string;
  params: Record<string, unknown>;
  inputs: { x: { shape: number[]; data: number[] } };
  output: { shape: number[]; data: number[] };
  upstream: { data: number[] };
  grads: { x: { data: number[] } };
  tolerance: { rtol: number; atol: number };
}
const TORCH_DIR = new URL('./conformance/torch/', import.meta.url);
const loadCase = (name: string): TorchCase => JSON.parse(readFileSync(new URL(`${name}.json`, TORCH_DIR), 'utf8')) as TorchCase;
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0] as number, v[1] as number] : [v as number, v as number]);

describe('PyTorch conformance', () => {
  for (const name of ['max_pool2d0', 'max_pool2d1', 'avg_pool2d2', 'avg_pool2d3']) {
    it(name, () => {
      const c = loadCase(name);
      const [N, C, H, W] = c.inputs.x.shape as [number, number, number, number];
      const [kH, kW] = pair(c.params.kernel_size);
      const [sH, sW] = pair(c.params.stride ?? c.params.kernel_size);
      const [pH, pW] = pair(c.params.padding ?? 0);
      const g = { N, C, H, W, kH, kW, sH, sW, pH, pW, OH: Math.floor((H + 2 * pH - kH) / sH) + 1, OW: Math.floor((W + 2 * pW - kW) / sW) + 1 };
      expect([N, C, g.OH, g.OW]).toEqual(c.output.shape);
      const x = Float32Array.from(c.inputs.x.data),
        gy = Float32Array.from(c.upstream.data);
      const out = new Float32Array(gy.length),
        gx = new Float32Array(x.length);
      if (c.op === 'max_pool2d') {
        const idx = new Int32Array(gy.length);
        maxPool2d(x, g, out, idx);
        maxPool2dBackward(gy, idx, g, gx);
      } else {
        const includePad = (c.params.count_include_pad as boolean | undefined) ?? true;
        avgPool2d(x, g, includePad, out);
        avgPool2dBackward(gy, g, includePad, gx);
      }
      expectClose(out, c.output.data, c.tolerance.rtol, c.tolerance.atol);
      expectClose(gx, c.grads.x.data, c.tolerance.rtol, c.tolerance.atol);
    });
  }

  for (const name of ['adaptive_avg_pool2d0', 'adaptive_avg_pool2d1', 'adaptive_avg_pool2d2', 'adaptive_avg_pool2d3']) {
    it(name, () => {
      const c = loadCase(name);
      const [N, C, H, W] = c.inputs.x.shape as [number, number, number, number];
      const [OH, OW] = pair(c.params.output_size);
      expect([N, C, OH, OW]).toEqual(c.output.shape);
      const x = Float32Array.from(c.inputs.x.data),
        gy = Float32Array.from(c.upstream.data);
      const out = new Float32Array(gy.length),
        gx = new Float32Array(x.length);
      adaptiveAvgPool2d(x, N, C, H, W, OH, OW, out);
      adaptiveAvgPool2dBackward(gy, N, C, H, W, OH, OW, gx);
      expectClose(out, c.output.data, c.tolerance.rtol, c.tolerance.atol);
      expectClose(gx, c.grads.x.data, c.tolerance.rtol, c.tolerance.atol);
    });
  }
});

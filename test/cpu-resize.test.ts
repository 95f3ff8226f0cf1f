// Property and conformance tests for the CPU resize kernels (backend/cpu/resize.ts):
// forward against an independent reference (bilinear as a sum of tent weights over all input
// pixels), against the in-file naive references, each backward as the adjoint of its forward,
// hand-computed examples, and PyTorch reference files.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bilinear, bilinearBackward, bilinearRef, nearest, nearestBackward, nearestRef, nearestSource } from '../packages/tensor/src/backend/cpu/resize.ts';

const RUNS = 40;

function fill(n: number, seed: number): Float64Array {
  const a = new Float64Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = s / 2 ** 31 - 1;
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
    if (Math.abs(g - w) > atol + rtol * Math.abs(w)) expect.fail(`[${i}]: got ${g}, want ${w}`);
  }
}

const dirty = (n: number): Float64Array => new Float64Array(n).fill(12345);

/** Independent bilinear: out = Σ_{h,w} tent(sy - h) · tent(sx - w) · x[h, w], coordinates clamped to [0, in-1]. */
function refBilinear(x: Float64Array, N: number, C: number, H: number, W: number, OH: number, OW: number, ac: boolean): Float64Array {
  const src = (d: number, size: number, O: number): number => {
    const s = ac ? (O > 1 ? (d * (size - 1)) / (O - 1) : 0) : Math.max((d + 0.5) * (size / O) - 0.5, 0);
    return Math.min(s, size - 1);
  };
  const tent = (t: number): number => Math.max(0, 1 - Math.abs(t));
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const sy = src(oh, H, OH),
          sx = src(ow, W, OW);
        let s = 0;
        for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) s += tent(sy - h) * tent(sx - w) * x[(p * H + h) * W + w]!;
        out[(p * OH + oh) * OW + ow] = s;
      }
  return out;
}

/** Independent nearest: PyTorch's floorf(d * (float)(in/out)) done in float32 through a Float32Array. */
function refNearest(x: Float64Array, N: number, C: number, H: number, W: number, OH: number, OW: number): Float64Array {
  const f = new Float32Array(2);
  const src = (d: number, size: number, O: number): number => {
    f[0] = size / O;
    f[1] = d * f[0]!;
    return Math.min(Math.floor(f[1]!), size - 1);
  };
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        out[(p * OH + oh) * OW + ow] = x[(p * H + src(oh, H, OH)) * W + src(ow, W, OW)]!;
      }
  return out;
}

// Up- and downsampling, including 1-pixel inputs and outputs.
const arb = fc.record({
  N: fc.integer({ min: 1, max: 2 }),
  C: fc.integer({ min: 1, max: 2 }),
  H: fc.integer({ min: 1, max: 9 }),
  W: fc.integer({ min: 1, max: 9 }),
  OH: fc.integer({ min: 1, max: 13 }),
  OW: fc.integer({ min: 1, max: 13 }),
  seed: fc.integer(),
});

describe('bilinear', () => {
  for (const ac of [true, false]) {
    it(`matches the tent-weight definition and bilinearRef (alignCorners ${ac})`, () => {
      fc.assert(
        fc.property(arb, ({ N, C, H, W, OH, OW, seed }) => {
          const x = fill(N * C * H * W, seed),
            out = dirty(N * C * OH * OW),
            ref = dirty(out.length);
          bilinear(x, N, C, H, W, OH, OW, ac, out);
          bilinearRef(x, N, C, H, W, OH, OW, ac, ref);
          const want = refBilinear(x, N, C, H, W, OH, OW, ac);
          expectClose(out, want, 1e-12, 1e-12);
          expectClose(ref, want, 1e-12, 1e-12);
        }),
        { numRuns: RUNS },
      );
    });

    it(`backward is the adjoint of forward (alignCorners ${ac})`, () => {
      fc.assert(
        fc.property(arb, ({ N, C, H, W, OH, OW, seed }) => {
          const x = fill(N * C * H * W, seed),
            gy = fill(N * C * OH * OW, seed + 1);
          const out = dirty(gy.length),
            gx = dirty(x.length);
          bilinear(x, N, C, H, W, OH, OW, ac, out);
          bilinearBackward(gy, N, C, H, W, OH, OW, ac, gx);
          expect(dot(x, gx)).toBeCloseTo(dot(out, gy), 10);
        }),
        { numRuns: RUNS },
      );
    });
  }

  // x = [[0,1],[2,3]] is f(h,w) = 2h + w, which bilinear interpolation reproduces exactly,
  // so each output is 2·sy + sx at its source coordinates (sy, sx).
  it('hand example: 2x2 → 4x4, alignCorners true', () => {
    // scale (2-1)/(4-1) = 1/3: sources 0, 1/3, 2/3, 1.
    const out = new Float64Array(16);
    bilinear(Float64Array.of(0, 1, 2, 3), 1, 1, 2, 2, 4, 4, true, out);
    const want = [0, 1 / 3, 2 / 3, 1, 2 / 3, 1, 4 / 3, 5 / 3, 4 / 3, 5 / 3, 2, 7 / 3, 2, 7 / 3, 8 / 3, 3];
    expectClose(out, want, 0, 1e-12);
  });

  it('hand example: 2x2 → 4x4, alignCorners false', () => {
    // scale 2/4: (d+0.5)/2 - 0.5 = -0.25 → 0, 0.25, 0.75, 1.25 → clamps to pixel 1 (weight on 1 only).
    // So sources 0, .25, .75, 1 on both axes.
    const out = new Float64Array(16);
    bilinear(Float64Array.of(0, 1, 2, 3), 1, 1, 2, 2, 4, 4, false, out);
    const want = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3];
    expectClose(out, want, 0, 1e-12);
    // Backward with gy = 1: column weights per input column are 1+.75+.25+0 = 2 and 0+.25+.75+1 = 2,
    // likewise rows, so every input pixel gets 2·2 = 4.
    const gx = new Float64Array(4).fill(7);
    bilinearBackward(new Float64Array(16).fill(1), 1, 1, 2, 2, 4, 4, false, gx);
    expectClose(gx, [4, 4, 4, 4], 0, 1e-12);
  });

  it('hand example: 1x1 outputs', () => {
    const out = new Float64Array(1);
    // alignCorners true, out == 1: scale 0 → the top-left pixel.
    bilinear(Float64Array.of(0, 1, 2, 3), 1, 1, 2, 2, 1, 1, true, out);
    expect(out[0]).toBe(0);
    // alignCorners false: source (0.5)·2 - 0.5 = 0.5 on both axes → mean of all four = 1.5.
    bilinear(Float64Array.of(0, 1, 2, 3), 1, 1, 2, 2, 1, 1, false, out);
    expect(out[0]).toBe(1.5);
  });
});

describe('nearest', () => {
  it('matches the definition and nearestRef', () => {
    fc.assert(
      fc.property(arb, ({ N, C, H, W, OH, OW, seed }) => {
        const x = fill(N * C * H * W, seed),
          out = dirty(N * C * OH * OW),
          ref = dirty(out.length);
        nearest(x, N, C, H, W, OH, OW, out);
        nearestRef(x, N, C, H, W, OH, OW, ref);
        const want = refNearest(x, N, C, H, W, OH, OW);
        expect(Array.from(out)).toEqual(Array.from(want));
        expect(Array.from(ref)).toEqual(Array.from(want));
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
        nearest(x, N, C, H, W, OH, OW, out);
        nearestBackward(gy, N, C, H, W, OH, OW, gx);
        expect(dot(x, gx)).toBeCloseTo(dot(out, gy), 10);
      }),
      { numRuns: RUNS },
    );
  });

  it('hand example: 1x3 → 1x7 and 1x5 → 1x2', () => {
    // 3 → 7: floor(d·3/7) for d = 0..6 → 0,0,0,1,1,2,2.
    const out = new Float64Array(7);
    nearest(Float64Array.of(10, 20, 30), 1, 1, 1, 3, 1, 7, out);
    expect(Array.from(out)).toEqual([10, 10, 10, 20, 20, 30, 30]);
    const gx = new Float64Array(3).fill(5);
    nearestBackward(new Float64Array(7).fill(1), 1, 1, 1, 3, 1, 7, gx);
    expect(Array.from(gx)).toEqual([3, 2, 2]);
    // 5 → 2: floor(d·2.5) → 0, 2.
    const o2 = new Float64Array(2);
    nearest(Float64Array.of(1, 2, 3, 4, 5), 1, 1, 1, 5, 1, 2, o2);
    expect(Array.from(o2)).toEqual([1, 3]);
  });

  it('uses PyTorch float32 index arithmetic', () => {
    // float32(2/82) · 41 rounds to just below 1, so PyTorch picks pixel 0 where exact math says 1.
    expect(nearestSource(41, 2, 82)).toBe(0);
    expect(Math.floor((41 * 2) / 82)).toBe(1);
    // Where the float product is not near an integer it agrees with exact math.
    for (let d = 0; d < 10; d++) expect(nearestSource(d, 4, 10)).toBe(Math.floor((d * 4) / 10));
  });
});

// ---- PyTorch reference files -------------------------------------------------------------
interface TorchCase {
  name: string;
  op: string;
  params: { size: [number, number]; mode: string; align_corners: boolean | null };
  inputs: { x: { shape: number[]; data: number[] } };
  output: { shape: number[]; data: number[] };
  upstream: { data: number[] };
  grads: { x: { data: number[] } };
  tolerance: { rtol: number; atol: number };
}
const TORCH_DIR = new URL('./conformance/torch/', import.meta.url);
const loadCase = (name: string): TorchCase => JSON.parse(readFileSync(new URL(`${name}.json`, TORCH_DIR), 'utf8')) as TorchCase;

describe('PyTorch conformance', () => {
  const names = ['interpolate_bilinear0', 'interpolate_bilinear1', 'interpolate_bilinear2', 'interpolate_bilinear3', 'interpolate_nearest'];
  for (const name of names) {
    it(name, () => {
      const c = loadCase(name);
      const [N, C, H, W] = c.inputs.x.shape as [number, number, number, number];
      const [OH, OW] = c.params.size;
      expect([N, C, OH, OW]).toEqual(c.output.shape);
      const x = Float32Array.from(c.inputs.x.data),
        gy = Float32Array.from(c.upstream.data);
      const out = new Float32Array(gy.length),
        gx = new Float32Array(x.length);
      if (c.params.mode === 'bilinear') {
        const ac = c.params.align_corners === true;
        bilinear(x, N, C, H, W, OH, OW, ac, out);
        bilinearBackward(gy, N, C, H, W, OH, OW, ac, gx);
      } else {
        expect(c.params.mode).toBe('nearest');
        nearest(x, N, C, H, W, OH, OW, out);
        nearestBackward(gy, N, C, H, W, OH, OW, gx);
      }
      expectClose(out, c.output.data, c.tolerance.rtol, c.tolerance.atol);
      expectClose(gx, c.grads.x.data, c.tolerance.rtol, c.tolerance.atol);
    });
  }
});

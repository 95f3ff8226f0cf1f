// The float32 log-softmax forward in WebAssembly SIMD (backend/cpu/wasm/softmax-simd.ts) against a
// float64 reference: y within Y_ULPS and p = softmax(x) within P_ULPS ulps, on random (outer, n, inner)
// shapes whose inner leaves 0 to 3 pixels past a multiple of 4, n = 1, large |x| and −∞ entries
// (exactly p = 0, y = −∞); a pixel gets the same bits in a vector or in the last, overlapping one,
// and a plane the same bits in a call by several chunks or alone;
// columns whose max is NaN, +∞ or −∞ give the JS loops' bits; the switch off gives the JS loops' bits;
// the backward (gx = g − p·Σg, float64 inside) the JS loops' bits; and through the public ops, the
// same bits on 1 and 2 threads.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Generator, Tensor, crossEntropy, grad, logSoftmax as logSoftmaxOp, tensor } from '@lad/tensor';
import {
  logSoftmax,
  logSoftmaxBackward,
  logSoftmaxBackwardColumns,
  logSoftmaxBackwardPlanes,
  logSoftmaxColumns,
  logSoftmaxPlanes,
} from '../packages/tensor/src/backend/cpu/softmax.ts';
import { logSoftmaxF32, softmaxOptions, softmaxSimdOn } from '../packages/tensor/src/backend/cpu/wasm/softmax-simd.ts';
import { getNumThreads, setNumThreads } from '../packages/tensor/src/backend/cpu/threads.ts';

/** Max error in ulps of the float32 result (the kernel's file header states them). */
const Y_ULPS = 3,
  P_ULPS = 3;

/** log_softmax and softmax along n in float64: L = log1p(Σ over all but one max of exp(x − m)). */
function reference(x: Float32Array, outer: number, n: number, inner: number): { y: Float64Array; p: Float64Array } {
  const y = new Float64Array(x.length),
    p = new Float64Array(x.length);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const at = (k: number) => (o * n + k) * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, x[at(k)]!);
      let t = 0,
        seen = false;
      for (let k = 0; k < n; k++)
        if (!seen && x[at(k)] === m) seen = true;
        else t += Math.exp(x[at(k)]! - m);
      const L = Math.log1p(t);
      for (let k = 0; k < n; k++) {
        y[at(k)] = x[at(k)]! - m - L;
        p[at(k)] = Math.exp(x[at(k)]! - m) / (1 + t);
      }
    }
  return { y, p };
}

/** |got − want| in ulps of float32 at want (subnormal ulps below 2^-126); 0 when got is want rounded. */
function ulps(got: number, want: number): number {
  if (got === Math.fround(want)) return 0;
  const e = Math.max(Math.floor(Math.log2(Math.abs(want))), -126);
  return Math.abs(got - want) / 2 ** (e - 23);
}

/** The float32 bits, every NaN as one value (payloads are not specified). */
function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (b, j) => (Number.isNaN(a[j]) ? -1 : b));
}

/** outer·n·inner float32 values, N(0, scale) from the seed, with −∞ at some places not in class 0 (no column all −∞). */
function data(outer: number, n: number, inner: number, seed: number, scale: number, masked: number[]): Float32Array {
  const x = new Float32Array(outer * n * inner);
  new Generator(seed).fillNormal(x, 0, scale);
  for (const j of masked) if (Math.floor((j % x.length) / inner) % n !== 0) x[j % x.length] = -Infinity;
  return x;
}

/** The SIMD kernel's y and p (and its y when p is not asked), checked to have run. */
function simd(x: Float32Array, outer: number, n: number, inner: number): { y: Float32Array; p: Float32Array; yOnly: Float32Array } {
  const y = new Float32Array(x.length),
    p = new Float32Array(x.length),
    yOnly = new Float32Array(x.length);
  expect(logSoftmaxF32(x, outer, n, inner, y, p)).toBe(true);
  expect(logSoftmaxF32(x, outer, n, inner, yOnly, null)).toBe(true);
  return { y, p, yOnly };
}

const shapeArb = fc.record({
  outer: fc.integer({ min: 1, max: 3 }),
  n: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 17, max: 256 })),
  inner: fc.integer({ min: 4, max: 23 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  scale: fc.constantFrom(1e-4, 1, 5, 30, 1e3, 1e30),
});

describe('log-softmax, float32 WebAssembly SIMD', () => {
  const threads = getNumThreads();
  afterAll(() => {
    softmaxOptions.simd = true;
    setNumThreads(threads);
  });

  it('is available where WebAssembly SIMD is (Node 20), for inner ≥ 4', () => {
    expect(softmaxSimdOn(11, 4096)).toBe(true);
    expect(softmaxSimdOn(11, 3)).toBe(false);
    expect([softmaxSimdOn(256, 64), softmaxSimdOn(257, 64), softmaxSimdOn(0, 64)]).toEqual([true, false, false]);
    const empty = new Float32Array(0); // an empty softmax dim: nothing to do, nothing read
    expect(() => logSoftmax(empty, 3, 0, 1 << 20, empty, empty)).not.toThrow();
  });

  it(`is within ${Y_ULPS} ulps (y) and ${P_ULPS} ulps (p) of float64, −∞ entries exactly p = 0, y = −∞`, () => {
    let worstY = 0,
      worstP = 0;
    fc.assert(
      fc.property(shapeArb, fc.array(fc.nat(), { maxLength: 8 }), ({ outer, n, inner, seed, scale }, masked) => {
        const x = data(outer, n, inner, seed, scale, masked);
        const { y, p, yOnly } = simd(x, outer, n, inner),
          want = reference(x, outer, n, inner);
        expect(bits(yOnly)).toEqual(bits(y));
        for (let j = 0; j < x.length; j++) {
          if (x[j] === -Infinity) {
            expect([y[j], Object.is(p[j], 0)]).toEqual([-Infinity, true]);
            continue;
          }
          const ey = ulps(y[j]!, want.y[j]!),
            ep = ulps(p[j]!, want.p[j]!);
          worstY = Math.max(worstY, ey);
          worstP = Math.max(worstP, ep);
          if (ey > Y_ULPS || ep > P_ULPS) throw new Error(`element ${j} of [${outer}, ${n}, ${inner}]: y ${y[j]} vs ${want.y[j]}, p ${p[j]} vs ${want.p[j]}`);
        }
      }),
      { numRuns: 300 },
    );
    console.log(`log-softmax SIMD: max error ${worstY.toFixed(2)} ulps in y, ${worstP.toFixed(2)} in p`);
  });

  it('gives a pixel the same bits in a vector and in the last, overlapping one', () => {
    fc.assert(
      fc.property(shapeArb, ({ n, inner, seed, scale }) => {
        const x = data(1, n, inner, seed, scale, []),
          got = simd(x, 1, n, inner);
        const i = inner - 1; // in the last vector; alone (4 copies) it is in a first one
        const col = new Float32Array(4 * n);
        for (let k = 0; k < n; k++) col.fill(x[k * inner + i]!, 4 * k, 4 * k + 4);
        const alone = simd(col, 1, n, 4);
        for (let k = 0; k < n; k++) {
          expect(Object.is(got.y[k * inner + i], alone.y[4 * k])).toBe(true);
          expect(Object.is(got.p[k * inner + i], alone.p[4 * k])).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('hands columns with a NaN, +∞ or all −∞ to the JS loops (their bits); the switch off runs the JS loops', () => {
    const special = fc.constantFrom(Number.NaN, Infinity, -Infinity);
    fc.assert(
      fc.property(
        shapeArb,
        fc.array(fc.tuple(fc.nat(), special), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        ({ outer, n, inner, seed }, specials, allMinusInf) => {
          const x = data(outer, n, inner, seed, 3, []);
          for (const [j, v] of specials) x[j % x.length] = v;
          if (allMinusInf) for (let k = 0; k < n; k++) x[k * inner] = -Infinity; // column (0, ·, 0)
          const run = (kernel: typeof logSoftmax, on: boolean) => {
            const y = new Float32Array(x.length),
              p = new Float32Array(x.length);
            softmaxOptions.simd = on;
            try {
              kernel(x, outer, n, inner, y, p);
            } finally {
              softmaxOptions.simd = true;
            }
            return [...bits(y), ...bits(p)];
          };
          const js = run(logSoftmaxPlanes, true);
          expect(run(logSoftmaxColumns, true)).toEqual(js);
          if (allMinusInf || x.some((v) => v !== v || v === Infinity)) expect(run(logSoftmax, true)).toEqual(js);
          expect(run(logSoftmax, false)).toEqual(js);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('backward: gx = g − p·Σg with the bits of the JS loops (float64 sums and products, one rounding), non-finite values included', () => {
    const special = fc.constantFrom(Number.NaN, Infinity, -Infinity, 0, -0, 3e38, 1e-45);
    fc.assert(
      fc.property(shapeArb, fc.array(fc.tuple(fc.nat(), special), { maxLength: 6 }), ({ outer, n, inner, seed, scale }, specials) => {
        const x = data(outer, n, inner, seed, scale, []),
          g = data(outer, n, inner, seed + 1, 1, []),
          p = new Float32Array(x.length);
        logSoftmaxF32(x, outer, n, inner, new Float32Array(x.length), p);
        for (const [j, v] of specials) g[j % g.length] = v;
        for (const [j, v] of specials.slice(3)) p[(j * 7) % p.length] = v;
        const run = (kernel: typeof logSoftmaxBackward) => {
          const gx = new Float32Array(x.length);
          kernel(g, p, outer, n, inner, gx);
          return bits(gx);
        };
        expect(softmaxSimdOn(n, inner)).toBe(true);
        const simdBits = run(logSoftmaxBackward);
        expect(simdBits).toEqual(run(logSoftmaxBackwardColumns));
        expect(simdBits).toEqual(run(logSoftmaxBackwardPlanes));
      }),
      { numRuns: 150 },
    );
  });

  it('runs big calls by chunks of planes with the bits of one call per plane; a non-finite max in the last chunk still gives the JS bits', () => {
    const [outer, n, inner] = [3, 5, 20001], // a plane over the 2^16-element chunk: three chunks
      plane = n * inner,
      x = data(outer, n, inner, 11, 3, [1, 77777]),
      g = data(outer, n, inner, 12, 1, []);
    const whole = simd(x, outer, n, inner),
      gx = new Float32Array(x.length);
    logSoftmaxBackward(g, whole.p, outer, n, inner, gx);
    for (let o = 0; o < outer; o++) {
      const part = (a: Float32Array) => a.subarray(o * plane, (o + 1) * plane);
      const one = simd(part(x), 1, n, inner),
        gxOne = new Float32Array(plane);
      logSoftmaxBackward(part(g), part(whole.p), 1, n, inner, gxOne);
      expect([bits(part(whole.y)), bits(part(whole.p)), bits(part(gx))]).toEqual([bits(one.y), bits(one.p), bits(gxOne)]);
    }
    x[x.length - 1] = Number.NaN;
    const y = new Float32Array(x.length),
      p = new Float32Array(x.length),
      yJs = new Float32Array(x.length),
      pJs = new Float32Array(x.length);
    logSoftmax(x, outer, n, inner, y, p);
    logSoftmaxPlanes(x, outer, n, inner, yJs, pJs);
    expect([bits(y), bits(p)]).toEqual([bits(yJs), bits(pJs)]);
  });

  it('gives the same bits on 1 and 2 threads through logSoftmax and crossEntropy (value and gradient)', () => {
    const [N, C, H, W] = [3, 5, 7, 9],
      x = data(N, C, H * W, 7, 4, []);
    const target = tensor(
      Int32Array.from({ length: N * H * W }, (_, j) => (j * 7) % C),
      { dtype: 'int32', shape: [N, H, W] },
    );
    const run = () => {
      const xt = Tensor.fromData(x.slice(), [N, C, H, W]).requiresGrad_();
      const y = logSoftmaxOp(xt, 1),
        loss = crossEntropy(xt, target);
      const [gx] = grad([loss], [xt]);
      return [bits(y.data() as Float32Array), bits(loss.data() as Float32Array), bits(gx!.data() as Float32Array)];
    };
    setNumThreads(1);
    const one = run();
    setNumThreads(2);
    expect(run()).toEqual(one);
    // and it is the SIMD kernel that ran: its bits, not the JS loops'
    const want = simd(x, N, C, H * W);
    expect(one[0]).toEqual(bits(want.y));
  });
});

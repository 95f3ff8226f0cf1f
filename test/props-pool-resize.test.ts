// Property tests for the pooling and resizing ops (ops/pool.ts, ops/resize.ts) through the public
// API: forward against references written here from PyTorch's definitions (F.max_pool2d,
// F.avg_pool2d, F.adaptive_avg_pool2d, F.interpolate), gradchecks in float64, strided views, and
// the errors. Legend: N batch, C channels, H×W input, OH×OW output.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { maxPool2d, maxPool2dWithIndices, avgPool2d, adaptiveAvgPool2d, interpolate, gradcheck, tensor, ShapeError, ValueError, DTypeError } from '@lad/tensor';
import { distinctValues, expectClose, expectThrows, fromF64, nonContiguous, randT, seedArb, vals } from './util/nn-arb.ts';

interface PoolCase {
  N: number;
  C: number;
  H: number;
  W: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
}

/** Valid pooling geometry: padding <= kernel/2 and the padded input holds a window. */
const poolArb: fc.Arbitrary<PoolCase> = fc
  .record({
    N: fc.integer({ min: 1, max: 2 }),
    C: fc.integer({ min: 1, max: 2 }),
    kH: fc.integer({ min: 1, max: 4 }),
    kW: fc.integer({ min: 1, max: 4 }),
    sH: fc.integer({ min: 1, max: 3 }),
    sW: fc.integer({ min: 1, max: 3 }),
    pH: fc.integer({ min: 0, max: 2 }),
    pW: fc.integer({ min: 0, max: 2 }),
    eH: fc.integer({ min: 0, max: 5 }),
    eW: fc.integer({ min: 0, max: 5 }),
  })
  .map(({ N, C, kH, kW, sH, sW, pH, pW, eH, eW }) => {
    const ph = Math.min(pH, Math.floor(kH / 2)),
      pw = Math.min(pW, Math.floor(kW / 2));
    return { N, C, kH, kW, sH, sW, pH: ph, pW: pw, H: Math.max(1, kH - 2 * ph) + eH, W: Math.max(1, kW - 2 * pw) + eW };
  });

const outSize = (c: PoolCase) => [Math.floor((c.H + 2 * c.pH - c.kH) / c.sH) + 1, Math.floor((c.W + 2 * c.pW - c.kW) / c.sW) + 1];

/** Max (first maximum in row-major window order) and avg over every window; padding is skipped
 *  by max, and counted (kH·kW) or not by avg. Indices are h·W + w within the (n, c) plane. */
function refPool(x: Float64Array, c: PoolCase, countIncludePad: boolean) {
  const [OH, OW] = outSize(c),
    P = c.N * c.C;
  const max = new Float64Array(P * OH * OW),
    idx = new Int32Array(max.length),
    avg = new Float64Array(max.length);
  for (let p = 0; p < P; p++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        let m = -Infinity,
          mi = -1,
          s = 0,
          cnt = 0;
        for (let a = 0; a < c.kH; a++)
          for (let b = 0; b < c.kW; b++) {
            const h = i * c.sH - c.pH + a,
              w = j * c.sW - c.pW + b;
            if (h < 0 || h >= c.H || w < 0 || w >= c.W) continue;
            const v = x[(p * c.H + h) * c.W + w];
            if (v > m) {
              m = v;
              mi = h * c.W + w;
            }
            s += v;
            cnt++;
          }
        const o = (p * OH + i) * OW + j;
        max[o] = m;
        idx[o] = mi;
        avg[o] = s / (countIncludePad ? c.kH * c.kW : cnt);
      }
  return { max, idx, avg, OH, OW };
}

describe('maxPool2d', () => {
  it('values and indices match the reference', () => {
    fc.assert(
      fc.property(poolArb, seedArb, (c, seed) => {
        const x = fromF64(distinctValues(c.N * c.C * c.H * c.W, seed), [c.N, c.C, c.H, c.W]);
        const r = refPool(vals(x), c, true);
        const o = { stride: [c.sH, c.sW], padding: [c.pH, c.pW] };
        const { values, indices } = maxPool2dWithIndices(x, [c.kH, c.kW], o);
        expect(values.shape).toEqual([c.N, c.C, r.OH, r.OW]);
        expect(indices.dtype).toBe('int32');
        expectClose(values, r.max, 0, 0);
        expect(Array.from(indices.data())).toEqual(Array.from(r.idx));
        expectClose(maxPool2d(x.to('float32'), [c.kH, c.kW], o), r.max, 1e-6, 1e-6);
      }),
      { numRuns: 40 },
    );
  });

  it('gradcheck in float64 (no ties)', () => {
    fc.assert(
      fc.property(poolArb, seedArb, (c, seed) => {
        const x = fromF64(distinctValues(c.N * c.C * c.H * c.W, seed), [c.N, c.C, c.H, c.W]);
        expect(gradcheck((t) => maxPool2d(t, [c.kH, c.kW], { stride: [c.sH, c.sW], padding: [c.pH, c.pW] }), [x])).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('default stride is the kernel size; a hand example', () => {
    const x = tensor([
      [
        [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
          [9, 10, 11, 12],
          [13, 14, 15, 16],
        ],
      ],
    ]);
    expect(maxPool2d(x, 2).toArray()).toEqual([
      [
        [
          [6, 8],
          [14, 16],
        ],
      ],
    ]);
    expect(maxPool2dWithIndices(x, 2).indices.toArray()).toEqual([
      [
        [
          [5, 7],
          [13, 15],
        ],
      ],
    ]);
    expect(avgPool2d(x, 2).toArray()).toEqual([
      [
        [
          [3.5, 5.5],
          [11.5, 13.5],
        ],
      ],
    ]);
  });
});

describe('avgPool2d', () => {
  it('matches the reference with countIncludePad true and false', () => {
    fc.assert(
      fc.property(poolArb, seedArb, fc.boolean(), (c, seed, cip) => {
        const x = randT([c.N, c.C, c.H, c.W], seed);
        const r = refPool(vals(x), c, cip);
        const y = avgPool2d(x, [c.kH, c.kW], { stride: [c.sH, c.sW], padding: [c.pH, c.pW], countIncludePad: cip });
        expect(y.shape).toEqual([c.N, c.C, r.OH, r.OW]);
        expectClose(y, r.avg, 1e-12, 1e-10);
      }),
      { numRuns: 40 },
    );
  });

  it('countIncludePad defaults to true (PyTorch)', () => {
    const x = tensor([
      [
        [
          [1, 2],
          [3, 4],
        ],
      ],
    ]);
    expect(avgPool2d(x, 2, { stride: 1, padding: 1 }).toArray()).toEqual([
      [
        [
          [0.25, 0.75, 0.5],
          [1, 2.5, 1.5],
          [0.75, 1.75, 1],
        ],
      ],
    ]);
    expect(avgPool2d(x, 2, { stride: 1, padding: 1, countIncludePad: false }).toArray()).toEqual([
      [
        [
          [1, 1.5, 2],
          [2, 2.5, 3],
          [3, 3.5, 4],
        ],
      ],
    ]);
  });

  it('gradcheck in float64', () => {
    fc.assert(
      fc.property(poolArb, seedArb, fc.boolean(), (c, seed, cip) => {
        const o = { stride: [c.sH, c.sW], padding: [c.pH, c.pW], countIncludePad: cip };
        expect(gradcheck((t) => avgPool2d(t, [c.kH, c.kW], o), [randT([c.N, c.C, c.H, c.W], seed)])).toBe(true);
      }),
      { numRuns: 20 },
    );
  });
});

describe('pooling on strided views', () => {
  it('max and avg pooling of a non-contiguous view equal those of its dense copy', () => {
    fc.assert(
      fc.property(poolArb, seedArb, fc.constantFrom<0 | 1>(0, 1), (c, seed, kind) => {
        const x = fromF64(distinctValues(c.N * c.C * c.H * c.W, seed), [c.N, c.C, c.H, c.W]);
        const xv = nonContiguous(x, kind);
        const o = { stride: [c.sH, c.sW], padding: [c.pH, c.pW] };
        expectClose(maxPool2d(xv, [c.kH, c.kW], o), maxPool2d(x, [c.kH, c.kW], o), 0, 0);
        expect(Array.from(maxPool2dWithIndices(xv, [c.kH, c.kW], o).indices.data())).toEqual(
          Array.from(maxPool2dWithIndices(x, [c.kH, c.kW], o).indices.data()),
        );
        expectClose(avgPool2d(xv, [c.kH, c.kW], o), avgPool2d(x, [c.kH, c.kW], o), 1e-14, 1e-14);
        expectClose(adaptiveAvgPool2d(xv, [2, 3]), adaptiveAvgPool2d(x, [2, 3]), 1e-14, 1e-14);
        // the gradient reaching a strided leaf is in its logical layout
        const xl = xv.detach().requiresGrad_(),
          xd = x.detach().requiresGrad_();
        const r = refPool(vals(x), c, true),
          gy = randT([c.N, c.C, r.OH, r.OW], seed + 3);
        maxPool2d(xl, [c.kH, c.kW], o).backward(gy);
        maxPool2d(xd, [c.kH, c.kW], o).backward(gy);
        expectClose(xl.grad!, xd.grad!, 0, 0);
      }),
      { numRuns: 25 },
    );
  });
});

// ---- adaptive average pooling --------------------------------------------------------------------

/** Bins [floor(i·H/OH), ceil((i+1)·H/OH)) per axis. */
function refAdaptive(x: Float64Array, P: number, H: number, W: number, OH: number, OW: number): Float64Array {
  const out = new Float64Array(P * OH * OW);
  for (let p = 0; p < P; p++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        const h0 = Math.floor((i * H) / OH),
          h1 = Math.ceil(((i + 1) * H) / OH);
        const w0 = Math.floor((j * W) / OW),
          w1 = Math.ceil(((j + 1) * W) / OW);
        let s = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) s += x[(p * H + h) * W + w];
        out[(p * OH + i) * OW + j] = s / ((h1 - h0) * (w1 - w0));
      }
  return out;
}

const adaptArb = fc.record({
  N: fc.integer({ min: 1, max: 2 }),
  C: fc.integer({ min: 1, max: 2 }),
  H: fc.integer({ min: 1, max: 7 }),
  W: fc.integer({ min: 1, max: 7 }),
  OH: fc.integer({ min: 1, max: 5 }),
  OW: fc.integer({ min: 1, max: 5 }),
});

describe('adaptiveAvgPool2d', () => {
  it('matches the reference for any output size (dividing or not, up or down)', () => {
    fc.assert(
      fc.property(adaptArb, seedArb, ({ N, C, H, W, OH, OW }, seed) => {
        const x = randT([N, C, H, W], seed);
        const y = adaptiveAvgPool2d(x, [OH, OW]);
        expect(y.shape).toEqual([N, C, OH, OW]);
        expectClose(y, refAdaptive(vals(x), N * C, H, W, OH, OW), 1e-12, 1e-10);
      }),
      { numRuns: 40 },
    );
    // 7 → 3 (not dividing): bins [0,3), [2,5), [4,7)
    const x = tensor([[[[0, 1, 2, 3, 4, 5, 6]]]]);
    expect(adaptiveAvgPool2d(x, [1, 3]).toArray()).toEqual([[[[1, 3, 5]]]]);
    expect(adaptiveAvgPool2d(x, 1).shape).toEqual([1, 1, 1, 1]);
  });

  it('gradcheck in float64', () => {
    fc.assert(
      fc.property(adaptArb, seedArb, ({ N, C, H, W, OH, OW }, seed) => {
        expect(gradcheck((t) => adaptiveAvgPool2d(t, [OH, OW]), [randT([N, C, H, W], seed)])).toBe(true);
      }),
      { numRuns: 20 },
    );
  });
});

// ---- interpolate -------------------------------------------------------------------------------

/** PyTorch's source index rules (aten UpSample.h): bilinear with/without align_corners, and
 *  nearest as floorf(d · float(in/out)) clamped (float32 arithmetic, as PyTorch does). */
function refResize(x: Float64Array, P: number, H: number, W: number, OH: number, OW: number, mode: 'bilinear' | 'nearest', ac: boolean): Float64Array {
  const out = new Float64Array(P * OH * OW);
  const near = (d: number, n: number, o: number) => Math.min(Math.floor(Math.fround(d * Math.fround(n / o))), n - 1);
  const lin = (d: number, n: number, o: number): [number, number, number] => {
    const src = ac ? (o > 1 ? (d * (n - 1)) / (o - 1) : 0) : Math.max((n / o) * (d + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(src), n - 1),
      i1 = Math.min(i0 + 1, n - 1);
    return [i0, i1, src - i0];
  };
  for (let p = 0; p < P; p++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        const at = (h: number, w: number) => x[(p * H + h) * W + w];
        let v: number;
        if (mode === 'nearest') v = at(near(i, H, OH), near(j, W, OW));
        else {
          const [h0, h1, lh] = lin(i, H, OH),
            [w0, w1, lw] = lin(j, W, OW);
          v = (1 - lh) * ((1 - lw) * at(h0, w0) + lw * at(h0, w1)) + lh * ((1 - lw) * at(h1, w0) + lw * at(h1, w1));
        }
        out[(p * OH + i) * OW + j] = v;
      }
  return out;
}

const resizeArb = fc.record({
  N: fc.integer({ min: 1, max: 2 }),
  C: fc.integer({ min: 1, max: 2 }),
  H: fc.integer({ min: 1, max: 6 }),
  W: fc.integer({ min: 1, max: 6 }),
  OH: fc.integer({ min: 1, max: 9 }),
  OW: fc.integer({ min: 1, max: 9 }),
  mode: fc.constantFrom<'bilinear' | 'nearest'>('bilinear', 'nearest'),
  ac: fc.boolean(),
});

describe('interpolate', () => {
  it('matches the reference: bilinear (alignCorners both) and nearest, up and down', () => {
    fc.assert(
      fc.property(resizeArb, seedArb, ({ N, C, H, W, OH, OW, mode, ac }, seed) => {
        const x = randT([N, C, H, W], seed);
        const y = interpolate(x, mode === 'bilinear' ? { size: [OH, OW], mode, alignCorners: ac } : { size: [OH, OW], mode });
        expect(y.shape).toEqual([N, C, OH, OW]);
        expectClose(y, refResize(vals(x), N * C, H, W, OH, OW, mode, mode === 'bilinear' && ac), 1e-12, 1e-10);
      }),
      { numRuns: 40 },
    );
  });

  it('scaleFactor gives size floor(in · scale) and the same values as that size', () => {
    fc.assert(
      fc.property(resizeArb, seedArb, fc.constantFrom(0.5, 2, 3, 1.5, [2, 0.5]), ({ N, C, H, W, mode, ac }, seed, s) => {
        const [fh, fw] = typeof s === 'number' ? [s, s] : s;
        const oh = Math.floor(H * fh),
          ow = Math.floor(W * fw);
        fc.pre(oh > 0 && ow > 0);
        const x = randT([N, C, H, W], seed);
        const extra = mode === 'bilinear' ? { alignCorners: ac } : {};
        const y = interpolate(x, { scaleFactor: s, mode, ...extra });
        expect(y.shape).toEqual([N, C, oh, ow]);
        expectClose(y, interpolate(x, { size: [oh, ow], mode, ...extra }), 0, 0);
        // integer factors (exact in/out ratios) also agree with PyTorch's scale-factor indexing
        if (Number.isInteger(fh) && Number.isInteger(fw))
          expectClose(y, refResize(vals(x), N * C, H, W, oh, ow, mode, mode === 'bilinear' && ac), 1e-12, 1e-10);
      }),
      { numRuns: 30 },
    );
  });

  it('hand examples: 2x bilinear without and with alignCorners, nearest', () => {
    const x = tensor([[[[0, 1]]]]);
    expectClose(interpolate(x, { size: [1, 4], mode: 'bilinear' }), [0, 0.25, 0.75, 1]);
    expectClose(interpolate(x, { size: [1, 4], mode: 'bilinear', alignCorners: true }), [0, 1 / 3, 2 / 3, 1], 1e-7, 1e-6);
    expectClose(interpolate(x, { scaleFactor: 2 }), [0, 0, 1, 1, 0, 0, 1, 1]); // (1, 1, 2, 4)
    expectClose(interpolate(x, { scaleFactor: [1, 2] }), [0, 0, 1, 1]);
    expectClose(interpolate(tensor([[[[1, 2, 3, 4]]]]), { size: [1, 2], mode: 'nearest' }), [1, 3]);
  });

  it('gradcheck in float64', () => {
    fc.assert(
      fc.property(resizeArb, seedArb, ({ N, C, H, W, OH, OW, mode, ac }, seed) => {
        const o = mode === 'bilinear' ? { size: [OH, OW], mode, alignCorners: ac } : { size: [OH, OW], mode };
        expect(gradcheck((t) => interpolate(t, o), [randT([N, C, H, W], seed)])).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('strided views equal their dense copies', () => {
    fc.assert(
      fc.property(resizeArb, seedArb, fc.constantFrom<0 | 1>(0, 1), ({ N, C, H, W, OH, OW, mode, ac }, seed, kind) => {
        const x = randT([N, C, H, W], seed);
        const o = mode === 'bilinear' ? { size: [OH, OW], mode, alignCorners: ac } : { size: [OH, OW], mode };
        expectClose(interpolate(nonContiguous(x, kind), o), interpolate(x, o), 0, 0);
      }),
      { numRuns: 20 },
    );
  });
});

describe('errors', () => {
  const x = randT([1, 1, 4, 4], 1);
  it('pooling: padding > kernel/2, wrong rank, kernel > padded input, int32', () => {
    expectThrows(() => maxPool2d(x, 2, { padding: 2 }), ValueError, ['padding', 'half']);
    expectThrows(() => avgPool2d(x, [3, 2], { padding: [1, 2] }), ValueError, ['padding']);
    expectThrows(() => maxPool2d(randT([1, 4, 4], 1), 2), ShapeError, ['4-D', '[1, 4, 4]']);
    expectThrows(() => avgPool2d(randT([4, 4], 1), 2), ShapeError, ['4-D']);
    expectThrows(() => adaptiveAvgPool2d(randT([1, 4, 4], 1), 2), ShapeError, ['4-D']);
    expectThrows(() => maxPool2d(x, 5), ShapeError, ['[1, 1, 4, 4]', '5x5']);
    expectThrows(() => maxPool2d(x, 2, { stride: 0 }), ValueError, ['stride']);
    expectThrows(() => maxPool2d(randT([1, 1, 4, 4], 1, 'int32'), 2), DTypeError, ['int32']);
    expectThrows(() => adaptiveAvgPool2d(x, [0, 2]), ValueError, ['outputSize']);
  });

  it('interpolate: 3-D input, bad mode, size and scaleFactor together or neither', () => {
    expectThrows(() => interpolate(randT([1, 4, 4], 1), { size: 2 }), ShapeError, ['4-D', '[1, 4, 4]']);
    expectThrows(() => interpolate(x, { size: 2, mode: 'bicubic' as 'nearest' }), ValueError, ['bicubic']);
    expectThrows(() => interpolate(x, { size: 2, scaleFactor: 2 }), ValueError, ['exactly one']);
    expectThrows(() => interpolate(x, {}), ValueError, ['exactly one']);
    expectThrows(() => interpolate(x, { scaleFactor: 0.1 }), ValueError, ['[0, 0]']);
    expectThrows(() => interpolate(x, { scaleFactor: -2 }), ValueError, ['positive']);
    expectThrows(() => interpolate(x, { size: 2, mode: 'nearest', alignCorners: true }), ValueError, ['alignCorners']);
  });
});

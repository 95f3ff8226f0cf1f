// Property tests for the GPU pooling and resizing kernels (backend/gpu/pool.ts, backend/gpu/resize.ts)
// in gpu.js's cpu and webasm modes: every op through the public API on the GPU agrees with the CPU
// backend within float32 tolerance, forward and backward (the gradient of a random weighting
// Σ y·v), over random geometry (kernel, stride, padding, countIncludePad, non-square, up- and
// downsampling, alignCorners both ways) and dense, permuted and sliced inputs. Max-pool indices
// must match exactly (ties and NaNs included). Ceil-mode geometry (a last window over the edge),
// which the ops do not produce, is checked through the backend tables. No op may fall back to the host.
// Legend: N batch, C channels, H×W input, OH×OW output.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  adaptiveAvgPool2d,
  avgPool2d,
  backendFor,
  disposeBackend,
  initBackend,
  interpolate,
  maxPool2dWithIndices,
  type Backend,
  type InterpolateOptions,
} from '@lad/tensor';
import type { Pool2dGeom } from '../packages/tensor/src/backend/cpu/pool.ts';
import type { Data, Storage } from '../packages/tensor/src/storage.ts';
import { expectClose, numel, seedArb, seededValues } from './util/nn-arb.ts';

const RUNS = 20;
const ATOL = 1e-5,
  RTOL = 1e-5;

type Dev = 'cpu' | 'gpu';
/** 0: dense; 1: a permute of an (N, H, W, C) leaf; 2: a step-2 slice of an (N, C, H, 2W) leaf. */
type Layout = 0 | 1 | 2;
const layoutArb = fc.constantFrom<Layout>(0, 1, 2);

/** float32 values in [-1, 1), or small integers (many ties) when `ints`. */
function values(n: number, seed: number, ints = false): Float32Array {
  const v = seededValues(n, seed);
  return Float32Array.from(v, (a) => (ints ? Math.floor(a * 3) : a));
}

/** The leaf (requiring grad) on `dev` and the (N, C, H, W) view of it that the op reads. */
function input(dev: Dev, shape: readonly number[], layout: Layout, data: Float32Array): { leaf: Tensor; x: Tensor } {
  const [N, C, H, W] = shape;
  const leafShape = layout === 0 ? [N, C, H, W] : layout === 1 ? [N, H, W, C] : [N, C, H, 2 * W];
  let leaf = Tensor.fromData(data.subarray(0, numel(leafShape)), leafShape);
  if (dev === 'gpu') leaf = leaf.to('gpu');
  leaf.requiresGrad_();
  const x = layout === 0 ? leaf : layout === 1 ? leaf.permute(0, 3, 1, 2) : leaf.slice(3, 1, null, 2);
  return { leaf, x };
}

/**
 * Runs `f` on the CPU and on the GPU over the same input, backpropagates Σ y·v for the same random
 * v, and compares y, the extra outputs (exactly) and the leaf gradients.
 */
function agree(shape: readonly number[], layout: Layout, seed: number, f: (x: Tensor) => { y: Tensor; exact?: Tensor[] }, ints = false): void {
  const data = values(numel(shape) * 2, seed, ints);
  const run = (dev: Dev) => {
    const { leaf, x } = input(dev, shape, layout, data);
    const { y, exact = [] } = f(x);
    const v = Tensor.fromData(values(y.size, seed + 7), y.shape);
    y.mul(dev === 'gpu' ? v.to('gpu') : v)
      .sum()
      .backward();
    return { y: y.data(), exact: exact.map((t) => Array.from(t.data())), grad: leaf.grad!.data(), device: y.device };
  };
  const c = run('cpu'),
    g = run('gpu');
  expect(g.device).toBe('gpu');
  expectClose(g.y, c.y, ATOL, RTOL, 'forward');
  g.exact.forEach((e, k) => expect(e).toEqual(c.exact[k]));
  expectClose(g.grad, c.grad, ATOL, RTOL, 'grad');
}

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

/** Valid pooling geometry: padding <= kernel/2, the padded input holds a window; non-square. */
const poolArb: fc.Arbitrary<PoolCase> = fc
  .record({
    N: fc.integer({ min: 1, max: 2 }),
    C: fc.integer({ min: 1, max: 3 }),
    kH: fc.integer({ min: 1, max: 4 }),
    kW: fc.integer({ min: 1, max: 4 }),
    sH: fc.integer({ min: 1, max: 3 }),
    sW: fc.integer({ min: 1, max: 3 }),
    pH: fc.integer({ min: 0, max: 2 }),
    pW: fc.integer({ min: 0, max: 2 }),
    eH: fc.integer({ min: 0, max: 6 }),
    eW: fc.integer({ min: 0, max: 6 }),
  })
  .map(({ N, C, kH, kW, sH, sW, pH, pW, eH, eW }) => {
    const ph = Math.min(pH, Math.floor(kH / 2)),
      pw = Math.min(pW, Math.floor(kW / 2));
    return { N, C, kH, kW, sH, sW, pH: ph, pW: pw, H: Math.max(1, kH - 2 * ph) + eH, W: Math.max(1, kW - 2 * pw) + eW };
  });

const shapeOf = (c: PoolCase) => [c.N, c.C, c.H, c.W];
const poolOpts = (c: PoolCase) => ({ stride: [c.sH, c.sW], padding: [c.pH, c.pW] });

/** PyTorch's ceil_mode output size: ⌈(size + 2p − k)/s⌉ + 1, less one when the last window starts past size + p. */
function ceilOut(size: number, k: number, s: number, p: number): number {
  let o = Math.ceil((size + 2 * p - k) / s) + 1;
  if ((o - 1) * s >= size + p) o--;
  return o;
}

const planeArb = fc.record({
  N: fc.integer({ min: 1, max: 2 }),
  C: fc.integer({ min: 1, max: 2 }),
  H: fc.integer({ min: 1, max: 9 }),
  W: fc.integer({ min: 1, max: 9 }),
  OH: fc.integer({ min: 1, max: 13 }),
  OW: fc.integer({ min: 1, max: 13 }),
});

describe.each(['cpu', 'webasm'] as const)('gpu pooling and resizing (gpu.js %s mode)', (mode) => {
  beforeAll(async () => {
    await initBackend('gpu', { mode });
  });
  afterAll(async () => {
    await disposeBackend('gpu');
  });

  it('maxPool2d: values, indices (ties included) and gradient match the CPU', () => {
    fc.assert(
      fc.property(poolArb, layoutArb, seedArb, fc.boolean(), (c, layout, seed, ints) => {
        agree(
          shapeOf(c),
          layout,
          seed,
          (x) => {
            const r = maxPool2dWithIndices(x, [c.kH, c.kW], poolOpts(c));
            return { y: r.values, exact: [r.indices] };
          },
          ints,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('maxPool2d: a NaN wins its window and -inf windows report their first cell, as on the CPU', () => {
    fc.assert(
      fc.property(poolArb, seedArb, (c, seed) => {
        const n = numel(shapeOf(c));
        const data = values(n, seed);
        const r = seededValues(n, seed + 1);
        for (let i = 0; i < n; i++)
          if (r[i] > 0.6) data[i] = Number.NaN;
          else if (r[i] < -0.3) data[i] = -Infinity;
        const x = Tensor.fromData(data, shapeOf(c));
        const a = maxPool2dWithIndices(x, [c.kH, c.kW], poolOpts(c)),
          b = maxPool2dWithIndices(x.to('gpu'), [c.kH, c.kW], poolOpts(c));
        expect(Array.from(b.values.data())).toEqual(Array.from(a.values.data())); // NaN and -inf compare equal here
        expect(Array.from(b.indices.data())).toEqual(Array.from(a.indices.data()));
      }),
      { numRuns: RUNS },
    );
  });

  it('avgPool2d (countIncludePad both ways): forward and gradient match the CPU', () => {
    fc.assert(
      fc.property(poolArb, layoutArb, seedArb, fc.boolean(), (c, layout, seed, cip) => {
        agree(shapeOf(c), layout, seed, (x) => ({ y: avgPool2d(x, [c.kH, c.kW], { ...poolOpts(c), countIncludePad: cip }) }));
      }),
      { numRuns: RUNS },
    );
  });

  it('ceil-mode geometry (windows clipped at the far edge) matches the CPU backend', () => {
    const gpu = (): Backend => backendFor('gpu');
    const cpu = (): Backend => backendFor('cpu');
    const read = (d: Data, shape: number[]): number[] => Array.from(Tensor.fromData(d, shape).data());
    const st = (t: Tensor): Storage => t.storage as Storage;
    fc.assert(
      fc.property(poolArb, seedArb, (c, seed) => {
        const g: Pool2dGeom = { ...c, OH: ceilOut(c.H, c.kH, c.sH, c.pH), OW: ceilOut(c.W, c.kW, c.sW, c.pW) };
        const inShape = shapeOf(c),
          outShape = [c.N, c.C, g.OH, g.OW];
        const xc = Tensor.fromData(values(numel(inShape), seed), inShape),
          xg = xc.to('gpu');
        const yc = Tensor.fromData(values(numel(outShape), seed + 1), outShape),
          yg = yc.to('gpu');
        const mc = cpu().maxPool2d(st(xc), g),
          mg = gpu().maxPool2d(st(xg), g);
        expectClose(read(mg.values, outShape), read(mc.values, outShape), 0, 0, 'max');
        expect(read(mg.indices, outShape)).toEqual(read(mc.indices, outShape));
        const ic = st(Tensor.fromData(mc.indices, outShape)),
          ig = st(Tensor.fromData(mg.indices, outShape));
        expectClose(read(gpu().maxPool2dBackward(st(yg), ig, g), inShape), read(cpu().maxPool2dBackward(st(yc), ic, g), inShape), ATOL, RTOL, 'max grad');
        for (const cip of [true, false]) {
          expectClose(read(gpu().avgPool2d(st(xg), g, cip), outShape), read(cpu().avgPool2d(st(xc), g, cip), outShape), ATOL, RTOL, `avg ${cip}`);
          expectClose(
            read(gpu().avgPool2dBackward(st(yg), g, cip), inShape),
            read(cpu().avgPool2dBackward(st(yc), g, cip), inShape),
            ATOL,
            RTOL,
            `avg grad ${cip}`,
          );
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('adaptiveAvgPool2d (up and down, non-square): forward and gradient match the CPU', () => {
    fc.assert(
      fc.property(planeArb, layoutArb, seedArb, (p, layout, seed) => {
        agree([p.N, p.C, p.H, p.W], layout, seed, (x) => ({ y: adaptiveAvgPool2d(x, [p.OH, p.OW]) }));
      }),
      { numRuns: RUNS },
    );
  });

  for (const [name, opts] of [
    ['bilinear, alignCorners', { mode: 'bilinear', alignCorners: true }],
    ['bilinear, pixel centres', { mode: 'bilinear', alignCorners: false }],
    ['nearest', { mode: 'nearest' }],
  ] as const) {
    it(`interpolate ${name} to a size (up and down): forward and gradient match the CPU`, () => {
      fc.assert(
        fc.property(planeArb, layoutArb, seedArb, (p, layout, seed) => {
          agree([p.N, p.C, p.H, p.W], layout, seed, (x) => ({ y: interpolate(x, { ...opts, size: [p.OH, p.OW] } as InterpolateOptions) }));
        }),
        { numRuns: RUNS },
      );
    });

    it(`interpolate ${name} by a scale factor: forward and gradient match the CPU`, () => {
      const scale = fc.constantFrom(0.5, 0.75, 1, 1.5, 2, 3.3);
      fc.assert(
        fc.property(planeArb, scale, scale, layoutArb, seedArb, (p, fh, fw, layout, seed) => {
          fc.pre(Math.floor(p.H * fh) > 0 && Math.floor(p.W * fw) > 0);
          agree([p.N, p.C, p.H, p.W], layout, seed, (x) => ({ y: interpolate(x, { ...opts, scaleFactor: [fh, fw] } as InterpolateOptions) }));
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('larger and edge-case geometries match the CPU', () => {
    const cases: [number[], number[]][] = [
      [
        [1, 1, 2, 2],
        [82, 82],
      ], // nearest's float32 rounding case (source of output 41 is 0)
      [
        [1, 2, 3, 40],
        [40, 3],
      ], // strong up- and downsampling along different axes
      [
        [2, 1, 37, 5],
        [5, 37],
      ],
      [
        [1, 1, 1, 1],
        [7, 1],
      ],
      [
        [1, 1, 9, 1],
        [1, 6],
      ],
    ];
    for (const [shape, size] of cases) {
      for (const opts of [{ mode: 'bilinear', alignCorners: true }, { mode: 'bilinear', alignCorners: false }, { mode: 'nearest' }] as const) {
        agree(shape, 0, 11, (x) => ({ y: interpolate(x, { ...opts, size } as InterpolateOptions) }));
      }
      agree(shape, 1, 12, (x) => ({ y: adaptiveAvgPool2d(x, size) }));
    }
    agree([2, 3, 17, 23], 2, 13, (x) => {
      const r = maxPool2dWithIndices(x, [4, 3], { stride: [1, 2], padding: [2, 1] });
      return { y: r.values, exact: [r.indices] };
    });
    agree([2, 3, 17, 23], 1, 14, (x) => ({ y: avgPool2d(x, [3, 4], { stride: [2, 3], padding: [1, 2], countIncludePad: false }) }));
  });
});

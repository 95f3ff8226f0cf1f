// Property tests for the reductions (ops/reduce.ts) over any dims, with keepdim: forward against a
// naive flat-index reference, gradients against gradcheck (float64), strided inputs against their
// dense copies, dtype rules, and torch's conventions for ties (amax splits the gradient evenly,
// max/argmax pick the first index) and NaN (it wins, with its index).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tensor, amax, amin, argmax, argmin, gradcheck, logsumexp, max, mean, min, sum, tensor, variance, DTypeError } from '@lad/tensor';
import {
  F64,
  arrArb,
  dimArb,
  dimsArb,
  distinctValuesArb,
  expectArr,
  expectSameTensor,
  numel,
  refReduce,
  resolveDim,
  shapeArb,
  smallIntArb,
  stridedArb,
  toStrided,
  toTensor,
  valueArb,
  type Arr,
  type Strided,
} from './util/arb.ts';

const RUNS = 30;
const GRAD_RUNS = 15;
const f32 = Math.fround;

type Dims = number[] | null;
interface Case {
  a: Arr;
  dims: Dims;
  keepdim: boolean;
}

/** A tensor, a set of dims to reduce (null = all; never an empty list) and keepdim. */
function caseArb(value: fc.Arbitrary<number> = valueArb(), o: { maxRank?: number; strided?: boolean } = {}): fc.Arbitrary<Case> {
  const shapes = shapeArb({ maxRank: o.maxRank ?? 3, maxDim: 3 });
  return shapes.chain((s) =>
    fc.record({
      a: o.strided ? stridedArb(s, value) : arrArb(s, value),
      dims: s.length === 0 ? fc.constant(null) : fc.option(dimsArb(s.length, 1), { nil: null }),
      keepdim: fc.boolean(),
    }),
  );
}
/** A tensor of rank >= 1 and one dim. */
function dimCaseArb(value: fc.Arbitrary<number> = valueArb(), strided = false) {
  return shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 }).chain((s) =>
    fc.record({ a: strided ? stridedArb(s, value) : arrArb(s, value), dim: dimArb(s.length), keepdim: fc.boolean() }),
  );
}
const resolved = (dims: Dims, rank: number): number[] => (dims === null ? [...Array(rank).keys()] : dims.map((d) => resolveDim(d, rank)));

const addAll = (v: number[]): number => v.reduce((s, x) => s + x, 0);
const varRef =
  (c: number) =>
  (v: number[]): number => {
    const m = addAll(v) / v.length;
    return addAll(v.map((x) => (x - m) ** 2)) / Math.max(0, v.length - c);
  };
const lseRef = (v: number[]): number => {
  const m = Math.max(...v);
  return m + Math.log(addAll(v.map((x) => Math.exp(x - m))));
};
/** torch.max(dim) semantics: the first maximal value's index; a NaN wins at its first index. */
const argBest =
  (sign: 1 | -1) =>
  (v: number[]): number => {
    let bi = 0;
    for (let i = 1; i < v.length && v[bi] === v[bi]; i++) if (v[i] !== v[i] || sign * v[i] > sign * v[bi]) bi = i;
    return bi;
  };

interface ReduceSpec {
  name: string;
  f: (x: Tensor, dims: Dims, keepdim: boolean) => Tensor;
  ref: (v: number[]) => number;
  /** exact: the result does not depend on the order of accumulation (bit-for-bit comparable). */
  exact: boolean;
  /** Whether int32 inputs are accepted (keeping int32). */
  intOk: boolean;
  /** Values to run gradcheck at; null = distinct values (no ties). */
  gradValues: fc.Arbitrary<number> | null;
}

const REDUCE: ReduceSpec[] = [
  { name: 'sum', f: (x, d, k) => sum(x, d, k), ref: addAll, exact: false, intOk: true, gradValues: valueArb() },
  { name: 'mean', f: (x, d, k) => mean(x, d, k), ref: (v) => addAll(v) / v.length, exact: false, intOk: false, gradValues: valueArb() },
  { name: 'var (correction 1)', f: (x, d, k) => variance(x, d, { keepdim: k }), ref: varRef(1), exact: false, intOk: false, gradValues: null },
  {
    name: 'var (correction 0)',
    f: (x, d, k) => variance(x, d, { correction: 0, keepdim: k }),
    ref: varRef(0),
    exact: false,
    intOk: false,
    gradValues: valueArb(),
  },
  { name: 'amax', f: (x, d, k) => amax(x, d, k), ref: (v) => Math.max(...v), exact: true, intOk: true, gradValues: null },
  { name: 'amin', f: (x, d, k) => amin(x, d, k), ref: (v) => Math.min(...v), exact: true, intOk: true, gradValues: null },
  { name: 'logsumexp', f: (x, d, k) => logsumexp(x, d ?? [...Array(x.ndim).keys()], k), ref: lseRef, exact: false, intOk: false, gradValues: valueArb() },
];

describe.each(REDUCE)('$name', (spec) => {
  it('forward over any dims, with keepdim, matches the reference', () => {
    fc.assert(
      fc.property(caseArb(), ({ a, dims, keepdim }) => {
        if (spec.name === 'logsumexp' && a.shape.length === 0) return; // needs a dim to name
        const want = refReduce(a, resolved(dims, a.shape.length), keepdim, spec.ref);
        expectArr(spec.f(toTensor(a), dims, keepdim), want, spec.exact ? 'exact' : F64);
      }),
      { numRuns: RUNS },
    );
  });

  it('float32 inputs give float32 results, accumulated in double', () => {
    fc.assert(
      fc.property(caseArb(), ({ a, dims, keepdim }) => {
        if (spec.name === 'logsumexp' && a.shape.length === 0) return;
        const a32 = { shape: a.shape, data: a.data.map(f32) };
        const y = spec.f(toTensor(a, 'float32'), dims, keepdim);
        expect(y.dtype).toBe('float32');
        const ref = spec.name === 'mean' ? (v: number[]) => f32(addAll(v)) / v.length : spec.ref;
        const want = refReduce(a32, resolved(dims, a.shape.length), keepdim, (v) => f32(ref(v)));
        expectArr(y, want, spec.exact ? 'exact' : { rtol: 1e-6, atol: 1e-6 });
      }),
      { numRuns: RUNS },
    );
  });

  it(spec.intOk ? 'keeps int32 inputs int32' : 'rejects int32 inputs with a DTypeError', () => {
    fc.assert(
      fc.property(caseArb(smallIntArb(-9, 9)), ({ a, dims, keepdim }) => {
        if (spec.name === 'logsumexp' && a.shape.length === 0) return;
        const x = toTensor(a, 'int32');
        if (!spec.intOk) {
          expect(() => spec.f(x, dims, keepdim)).toThrow(DTypeError);
          return;
        }
        const y = spec.f(x, dims, keepdim);
        expect(y.dtype).toBe('int32');
        expectArr(y, refReduce(a, resolved(dims, a.shape.length), keepdim, spec.ref), 'exact');
      }),
      { numRuns: 15 },
    );
  });

  it('a strided input gives exactly what its dense copy gives', () => {
    fc.assert(
      fc.property(caseArb(valueArb(), { strided: true }), ({ a, dims, keepdim }) => {
        if (spec.name === 'logsumexp' && a.shape.length === 0) return;
        const x = toStrided(a as Strided);
        expectSameTensor(spec.f(x, dims, keepdim), spec.f(x.contiguous(), dims, keepdim));
        expectSameTensor(spec.f(x, dims, keepdim), spec.f(toTensor(a), dims, keepdim));
      }),
      { numRuns: RUNS },
    );
  });

  it('gradient matches finite differences (float64)', () => {
    const cases = shapeArb({ maxRank: 3, maxDim: 3 }).chain((s) =>
      fc.record({
        a: spec.gradValues ? arrArb(s, spec.gradValues) : distinctValuesArb(numel(s)).map((data) => ({ shape: s, data })),
        dims: s.length === 0 ? fc.constant(null) : fc.option(dimsArb(s.length, 1), { nil: null }),
        keepdim: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(cases, ({ a, dims, keepdim }) => {
        if (spec.name === 'logsumexp' && a.shape.length === 0) return;
        // var with correction 1 needs at least two reduced elements
        if (spec.name === 'var (correction 1)' && resolved(dims, a.shape.length).reduce((n, d) => n * a.shape[d], 1) < 2) return;
        expect(gradcheck((x) => spec.f(x, dims, keepdim), [toTensor(a)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

describe('amax / amin with ties', () => {
  it('split the gradient evenly among tied extrema (torch.amax)', () => {
    fc.assert(
      fc.property(caseArb(smallIntArb(-1, 1)), fc.constantFrom('amax' as const, 'amin' as const), ({ a, dims, keepdim }, op) => {
        const x = toTensor(a).requiresGrad_();
        const f = op === 'amax' ? amax : amin;
        f(x, dims, keepdim).sum().backward();
        const ds = resolved(dims, a.shape.length);
        const best = refReduce(a, ds, true, (v) => (op === 'amax' ? Math.max(...v) : Math.min(...v)));
        const count = refReduce(a, ds, true, (v) => v.filter((u) => u === (op === 'amax' ? Math.max(...v) : Math.min(...v))).length);
        const want = a.data.map((v, i) => {
          const kidx = a.shape.map((s, d) => (ds.includes(d) ? 0 : Math.floor(i / a.shape.slice(d + 1).reduce((p, q) => p * q, 1)) % s));
          const k = kidx.reduce((p, v2, d) => p * best.shape[d] + v2, 0);
          return v === best.data[k] ? 1 / count.data[k] : 0;
        });
        expectArr(x.grad!, { shape: a.shape, data: want }, F64);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- max / min with indices, argmax / argmin ------------------------------------------------

describe.each([
  { name: 'max', f: max, sign: 1 as const },
  { name: 'min', f: min, sign: -1 as const },
])('$name(dim) values and indices', ({ f, sign }) => {
  const pick = (v: number[]) => v[argBest(sign)(v)];

  it('match the reference, ties resolved to the first index', () => {
    fc.assert(
      fc.property(dimCaseArb(fc.oneof(smallIntArb(-1, 1), valueArb())), ({ a, dim, keepdim }) => {
        const d = resolveDim(dim, a.shape.length);
        const { values, indices } = f(toTensor(a), dim, keepdim);
        expect(indices.dtype).toBe('int32');
        expectArr(values, refReduce(a, [d], keepdim, pick), 'exact');
        expectArr(indices, refReduce(a, [d], keepdim, argBest(sign)), 'exact');
      }),
      { numRuns: RUNS },
    );
  });

  it('strided inputs give exactly what their dense copies give; int32 stays int32', () => {
    fc.assert(
      fc.property(dimCaseArb(fc.oneof(smallIntArb(-1, 1), valueArb()), true), ({ a, dim, keepdim }) => {
        const x = toStrided(a as Strided);
        const got = f(x, dim, keepdim),
          want = f(toTensor(a), dim, keepdim);
        expectSameTensor(got.values, want.values);
        expectSameTensor(got.indices, want.indices);
        const ri = f(toStrided({ ...(a as Strided), data: a.data.map(Math.round) }, 'int32'), dim, keepdim);
        expect(ri.values.dtype).toBe('int32');
        expectArr(ri.values, refReduce({ shape: a.shape, data: a.data.map(Math.round) }, [resolveDim(dim, a.shape.length)], keepdim, pick), 'exact');
      }),
      { numRuns: RUNS },
    );
  });

  it("the values' gradient matches finite differences and goes to the chosen index", () => {
    const arb = shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 }).chain((s) =>
      fc.record({ a: distinctValuesArb(numel(s)).map((data) => ({ shape: s, data })), dim: dimArb(s.length), keepdim: fc.boolean() }),
    );
    fc.assert(
      fc.property(arb, ({ a, dim, keepdim }) => {
        expect(gradcheck((x) => f(x, dim, keepdim).values, [toTensor(a)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
    // with ties, the whole gradient goes to the returned (first) index, as in torch
    const x = tensor(
      [
        [1, 3, 3],
        [2, 2, 0],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    f(x, 1).values.sum().backward();
    expect(x.grad!.toArray()).toEqual(
      sign === 1
        ? [
            [0, 1, 0],
            [1, 0, 0],
          ]
        : [
            [1, 0, 0],
            [0, 0, 1],
          ],
    );
  });
});

describe.each([
  { name: 'argmax', f: argmax, sign: 1 as const },
  { name: 'argmin', f: argmin, sign: -1 as const },
])('$name', ({ f, sign }) => {
  it('over one dim (keepdim) and over the flattened tensor match the reference', () => {
    fc.assert(
      fc.property(dimCaseArb(fc.oneof(smallIntArb(-1, 1), valueArb()), true), ({ a, dim, keepdim }) => {
        const d = resolveDim(dim, a.shape.length);
        expectArr(f(toTensor(a), dim, keepdim), refReduce(a, [d], keepdim, argBest(sign)), 'exact');
        const flat = f(toTensor(a));
        expect(flat.dtype).toBe('int32');
        expectArr(flat, { shape: [], data: [argBest(sign)(a.data)] }, 'exact');
        const x = toStrided(a as Strided);
        expectSameTensor(f(x), flat);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('reductions: hand-checked PyTorch semantics', () => {
  it('NaN wins max/min/amax with its index; sum propagates it', () => {
    const x = tensor(
      [
        [1, NaN, 5],
        [7, 2, NaN],
      ],
      { dtype: 'float64' },
    );
    const m = max(x, 1);
    expectArr(m.values, { shape: [2], data: [NaN, NaN] });
    expect([...m.indices.data()]).toEqual([1, 2]);
    expect([...min(x, 1).indices.data()]).toEqual([1, 2]);
    expect([...argmax(tensor([0, NaN, 1, NaN])).data()]).toEqual([1]);
    expectArr(amax(x, 0), { shape: [3], data: [7, NaN, NaN] });
    expectArr(sum(x, 0), { shape: [3], data: [8, NaN, NaN] });
  });
  it('logsumexp is stable for large values and handles infinite rows', () => {
    expectArr(
      logsumexp(
        tensor(
          [
            [1000, 1000],
            [-1000, -1000],
          ],
          { dtype: 'float64' },
        ),
        1,
      ),
      { shape: [2], data: [1000 + Math.LN2, -1000 + Math.LN2] },
      F64,
    );
    expectArr(
      logsumexp(
        tensor(
          [
            [-Infinity, -Infinity],
            [Infinity, 1],
            [Infinity, -Infinity],
          ],
          { dtype: 'float64' },
        ),
        1,
      ),
      { shape: [3], data: [-Infinity, Infinity, Infinity] },
    );
  });
  it('var of a single element with correction 1 is NaN (0/0), like torch', () => {
    expect(variance(tensor([3], { dtype: 'float64' })).item()).toBeNaN();
    expect(variance(tensor([3], { dtype: 'float64' }), null, { correction: 0 }).item()).toBe(0);
  });
  it('reduces a 0-d tensor over dim 0 / -1 (identity, like torch)', () => {
    const s = tensor(5, { dtype: 'float64' });
    for (const d of [0, -1]) {
      expectArr(sum(s, d), { shape: [], data: [5] });
      expectArr(sum(s, d, true), { shape: [], data: [5] });
      expectArr(amax(s, d), { shape: [], data: [5] });
      expectArr(max(s, d).values, { shape: [], data: [5] });
      expectArr(max(s, d).indices, { shape: [], data: [0] });
      expectArr(mean(s, d), { shape: [], data: [5] });
      expectArr(logsumexp(s, d), { shape: [], data: [5] });
    }
  });
  it('sum over all dims of an empty tensor is 0; mean is NaN', () => {
    const e = tensor(new Float64Array(0), { shape: [2, 0] });
    expectArr(sum(e), { shape: [], data: [0] });
    expectArr(sum(e, 1), { shape: [2], data: [0, 0] });
    expect(mean(e).item()).toBeNaN();
  });
});

describe('int32 sums', () => {
  const LIM = 2 ** 31;
  it('are exact while they fit, and a ValueError naming sum and the value when one overflows (never wraps)', () => {
    const big = fc.oneof(
      fc.integer({ min: -LIM, max: LIM - 1 }),
      fc.integer({ min: LIM - 4, max: LIM - 1 }),
      fc.integer({ min: -LIM, max: -LIM + 4 }),
      fc.integer({ min: -5, max: 5 }),
    );
    fc.assert(
      fc.property(fc.array(big, { minLength: 1, maxLength: 8 }), fc.boolean(), (vs, rows) => {
        const x = tensor(vs, { dtype: 'int32' });
        const want = vs.reduce((a, b) => a + b, 0); // exact: |sum| < 2^34
        const f = rows ? () => sum(x.reshape([1, vs.length]), 1) : () => sum(x);
        if (want >= -LIM && want <= LIM - 1) {
          const got = f();
          expect(got.dtype).toBe('int32');
          expect(Array.from(got.data())).toEqual([want]);
        } else {
          let err: unknown = null;
          try {
            f();
          } catch (e) {
            err = e;
          }
          expect(String(err)).toMatch(/^ValueError: sum: /);
          expect(String(err)).toContain(String(want));
        }
      }),
      { numRuns: 100 },
    );
  });
});

// Property tests for the elementwise ops (ops/elementwise.ts): forward against plain-JS references,
// gradients against finite differences (gradcheck, float64), strided inputs against their dense
// copies, broadcasting against explicit expand, dtype rules, and second derivatives against the
// analytic ones. PyTorch's semantics are the reference (torch.clamp, torch.maximum, torch.where).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  abs,
  add,
  clamp,
  div,
  eq,
  exp,
  full,
  ge,
  grad,
  gradcheck,
  gt,
  le,
  log,
  logSoftmax,
  logsumexp,
  lt,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  relu,
  rsqrt,
  sigmoid,
  sign,
  softmax,
  sqrt,
  sub,
  tanh,
  tensor,
  where,
  withGradMode,
  DTypeError,
  type TensorLike,
} from '@lad/tensor';
import {
  F64,
  arrArb,
  awayFromZero,
  broadcastShapesArb,
  expectArr,
  expectSameTensor,
  refMap,
  refZip,
  shapeArb,
  smallIntArb,
  stridedArb,
  toStrided,
  toTensor,
  valueArb,
  valuesArb,
  numel,
  type Arr,
} from './util/arb.ts';

const RUNS = 30;
const GRAD_RUNS = 15;
const small = shapeArb({ maxRank: 3, maxDim: 3 });
const tiny = shapeArb({ maxRank: 2, maxDim: 3 });
const F32 = { rtol: 3e-7, atol: 1e-37 };
const f32 = Math.fround;

// ---- unary --------------------------------------------------------------------------------

interface UnarySpec {
  name: string;
  f: (x: Tensor) => Tensor;
  ref: (x: number) => number;
  /** Forward domain (may include points where the result is NaN or infinite). */
  fwd: fc.Arbitrary<number>;
  /** A domain away from kinks and poles, for gradcheck; null: no gradient to check. */
  dom: fc.Arbitrary<number> | null;
  /** The result dtype for an int32 input; null: int32 is rejected with a DTypeError. */
  int: 'int32' | 'float32' | null;
}

const tanhRef = (x: number): number => {
  const e = Math.expm1(2 * x);
  return Math.abs(x) > 20 ? Math.sign(x) : e / (e + 2);
};

const UNARY: UnarySpec[] = [
  { name: 'neg', f: neg, ref: (x) => -x, fwd: valueArb(), dom: valueArb(), int: 'int32' },
  { name: 'exp', f: exp, ref: (x) => Math.E ** x, fwd: valueArb(-20, 20), dom: valueArb(), int: null },
  { name: 'log', f: log, ref: Math.log, fwd: valueArb(-1, 5), dom: valueArb(0.2, 3), int: null },
  { name: 'sqrt', f: sqrt, ref: (x) => x ** 0.5, fwd: valueArb(-1, 5), dom: valueArb(0.2, 3), int: null },
  { name: 'rsqrt', f: rsqrt, ref: (x) => 1 / Math.sqrt(x), fwd: valueArb(-1, 5), dom: valueArb(0.2, 3), int: null },
  { name: 'abs', f: abs, ref: (x) => (x < 0 ? -x : x), fwd: valueArb(), dom: awayFromZero(), int: 'int32' },
  { name: 'sign', f: sign, ref: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), fwd: fc.oneof(valueArb(), smallIntArb()), dom: null, int: 'int32' },
  { name: 'relu', f: relu, ref: (x) => (x > 0 ? x : 0), fwd: valueArb(), dom: awayFromZero(), int: 'int32' },
  { name: 'sigmoid', f: sigmoid, ref: (x) => 1 / (1 + Math.exp(-x)), fwd: valueArb(-30, 30), dom: valueArb(-4, 4), int: null },
  { name: 'tanh', f: tanh, ref: tanhRef, fwd: valueArb(-5, 5), dom: valueArb(-3, 3), int: null },
  { name: 'square (pow 2)', f: (x) => pow(x, 2), ref: (x) => x * x, fwd: valueArb(), dom: valueArb(), int: 'float32' },
  { name: 'pow 3', f: (x) => pow(x, 3), ref: (x) => x * x * x, fwd: valueArb(), dom: valueArb(), int: 'float32' },
  { name: 'pow 0.5', f: (x) => pow(x, 0.5), ref: (x) => Math.sqrt(x), fwd: valueArb(0, 5), dom: valueArb(0.2, 3), int: 'float32' },
  { name: 'pow -1', f: (x) => pow(x, -1), ref: (x) => 1 / x, fwd: awayFromZero(0.01), dom: awayFromZero(0.3), int: 'float32' },
  { name: 'pow 1.5', f: (x) => pow(x, 1.5), ref: (x) => Math.exp(1.5 * Math.log(x)), fwd: valueArb(0.01, 5), dom: valueArb(0.2, 3), int: 'float32' },
];

describe.each(UNARY)('unary $name', (spec) => {
  it('forward matches the reference (float64 and float32)', () => {
    fc.assert(
      fc.property(arrArb(small, spec.fwd), (a) => {
        const y = spec.f(toTensor(a));
        expect(y.dtype).toBe('float64');
        expectArr(y, refMap(a, spec.ref), F64);
        const y32 = spec.f(toTensor(a, 'float32'));
        expect(y32.dtype).toBe('float32');
        expectArr(
          y32,
          refMap(a, (v) => f32(spec.ref(f32(v)))),
          F32,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it(spec.int ? `maps int32 inputs to ${spec.int}` : 'rejects int32 inputs with a DTypeError', () => {
    fc.assert(
      fc.property(arrArb(small, smallIntArb(-5, 5)), (a) => {
        const x = toTensor(a, 'int32');
        if (!spec.int) {
          expect(() => spec.f(x)).toThrow(DTypeError);
          return;
        }
        const y = spec.f(x);
        expect(y.dtype).toBe(spec.int);
        expectArr(
          y,
          refMap(a, (v) => (spec.int === 'float32' ? f32(spec.ref(v)) : spec.ref(v))),
          spec.int === 'float32' ? F32 : 'exact',
        );
      }),
      { numRuns: 10 },
    );
  });

  it('a strided input gives exactly what its dense copy gives', () => {
    fc.assert(
      fc.property(stridedArb(small, spec.fwd), fc.constantFrom('float64' as const, 'float32' as const), (s, dtype) => {
        const x = toStrided(s, dtype);
        expectSameTensor(spec.f(x), spec.f(x.contiguous()));
        expectSameTensor(spec.f(x), spec.f(toTensor(s, dtype)));
      }),
      { numRuns: RUNS },
    );
  });

  if (spec.dom) {
    const dom = spec.dom;
    it('gradient matches finite differences (float64)', () => {
      fc.assert(
        fc.property(arrArb(tiny, dom), (a) => {
          expect(gradcheck(spec.f, [toTensor(a)])).toBe(true);
        }),
        { numRuns: GRAD_RUNS },
      );
    });
  }
});

describe('unary: hand-checked PyTorch semantics', () => {
  it('relu and abs have gradient 0 at 0 (torch convention); relu keeps NaN', () => {
    const x = tensor([0, -0, 2, -2], { dtype: 'float64', requiresGrad: true });
    relu(x).sum().backward();
    expect([...x.grad!.data()]).toEqual([0, 0, 1, 0]);
    const z = tensor([0, 3, -3], { dtype: 'float64', requiresGrad: true });
    abs(z).sum().backward();
    expect([...z.grad!.data()]).toEqual([0, 1, -1]);
    expect(relu(tensor([NaN])).item()).toBeNaN();
  });
  it('relu at ±∞, −0 and NaN, and its gradient with non-finite upstream gradients (the branch-free kernel)', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const y = [...relu(tensor([-Infinity, Infinity, -0, -1e-30, NaN, -5, 5], { dtype })).data()];
      expect(y.slice(0, 4)).toEqual([0, Infinity, 0, 0]);
      expect(Object.is(y[2], 0) && Object.is(y[3], 0)).toBe(true); // +0, as torch.relu
      expect(y[4]).toBeNaN();
      expect(y.slice(5)).toEqual([0, 5]);
      const x = tensor([-1, -1, -1, 2, 2, 2], { dtype, requiresGrad: true });
      relu(x).backward(tensor([Infinity, NaN, -3, Infinity, -3, -0], { dtype }));
      const g = [...x.grad!.data()];
      expect(g.slice(0, 5)).toEqual([0, 0, 0, Infinity, -3]);
      expect(g[5]).toBe(0);
    }
    expect([...relu(tensor([-3, 0, 4], { dtype: 'int32' })).data()]).toEqual([0, 0, 4]);
  });
  it('sigmoid does not overflow for large |x|', () => {
    expectArr(sigmoid(tensor([-800, 800, 0], { dtype: 'float64' })), { shape: [3], data: [0, 1, 0.5] }, 'exact');
  });
});

// ---- clamp --------------------------------------------------------------------------------

/** Half-integers plus a jitter of at most 0.3: at least 0.2 away from every integer. */
const offGrid = fc.tuple(smallIntArb(-3, 2), fc.double({ min: -0.3, max: 0.3, noNaN: true })).map(([k, j]) => k + 0.5 + j);
const boundsArb = fc
  .tuple(fc.option(smallIntArb(-2, 2)), fc.option(smallIntArb(-2, 2)))
  .filter(([lo, hi]) => lo !== null || hi !== null)
  .map(([lo, hi]): [number | null, number | null] => (lo !== null && hi !== null && lo > hi ? [hi, lo] : [lo, hi]));
const clampRef = (lo: number | null, hi: number | null) => (x: number) => Math.min(Math.max(x, lo ?? -Infinity), hi ?? Infinity);

describe('clamp', () => {
  it('forward matches the reference, for float64, float32, int32 and strided inputs', () => {
    fc.assert(
      fc.property(stridedArb(small, valueArb()), boundsArb, (s, [lo, hi]) => {
        const want = refMap(s, clampRef(lo, hi));
        expectArr(clamp(toTensor(s), lo, hi), want, 'exact');
        expectArr(clamp(toStrided(s), lo, hi), want, 'exact');
        const y32 = clamp(toTensor(s, 'float32'), lo, hi);
        expect(y32.dtype).toBe('float32');
        expectArr(
          y32,
          refMap(s, (v) => clampRef(lo, hi)(f32(v))),
          'exact',
        );
        const yi = clamp(toTensor(refMap(s, Math.round), 'int32'), lo, hi);
        expect(yi.dtype).toBe('int32');
        expectArr(
          yi,
          refMap(s, (v) => clampRef(lo, hi)(Math.round(v))),
          'exact',
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('gradient matches finite differences away from the bounds', () => {
    fc.assert(
      fc.property(arrArb(tiny, offGrid), boundsArb, (a, [lo, hi]) => {
        expect(gradcheck((x) => clamp(x, lo, hi), [toTensor(a)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it('passes the gradient at the bounds themselves (torch: min <= x <= max)', () => {
    const x = tensor([-1, 0, 0.5, 1, 2], { dtype: 'float64', requiresGrad: true });
    clamp(x, 0, 1).sum().backward();
    expect([...x.grad!.data()]).toEqual([0, 1, 1, 1, 0]);
  });

  it('keeps NaN (torch.clamp)', () => {
    expectArr(clamp(tensor([NaN, -5, 5]), -1, 1), { shape: [3], data: [NaN, -1, 1] });
  });
});

// ---- binary -------------------------------------------------------------------------------

type Bin = (a: TensorLike, b: TensorLike) => Tensor;
interface BinarySpec {
  name: string;
  f: Bin;
  ref: (a: number, b: number) => number;
  fwdA: fc.Arbitrary<number>;
  fwdB: fc.Arbitrary<number>;
  /** Domains for gradcheck (away from ties and poles); null for comparisons. */
  dom: [fc.Arbitrary<number>, fc.Arbitrary<number>] | null;
  /** Result dtype for two int32 operands. */
  intDtype: 'int32' | 'float32';
}

/** Integers ± 0.2 vs half-integers ± 0.2: never closer than 0.1, so maximum/minimum have no ties. */
const nearInt = fc.tuple(smallIntArb(-2, 2), fc.double({ min: -0.2, max: 0.2, noNaN: true })).map(([k, j]) => k + j);
const nearHalf = fc.tuple(smallIntArb(-3, 2), fc.double({ min: -0.2, max: 0.2, noNaN: true })).map(([k, j]) => k + 0.5 + j);
const cmpVals = fc.oneof(smallIntArb(-2, 2), valueArb(-2, 2), fc.constant(NaN));
const nanOr =
  (f: (a: number, b: number) => number) =>
  (a: number, b: number): number =>
    a !== a || b !== b ? NaN : f(a, b);
const b01 = (x: boolean): number => (x ? 1 : 0);

const BINARY: BinarySpec[] = [
  { name: 'add', f: add, ref: (a, b) => a + b, fwdA: valueArb(), fwdB: valueArb(), dom: [valueArb(), valueArb()], intDtype: 'int32' },
  { name: 'sub', f: sub, ref: (a, b) => a - b, fwdA: valueArb(), fwdB: valueArb(), dom: [valueArb(), valueArb()], intDtype: 'int32' },
  { name: 'mul', f: mul, ref: (a, b) => a * b, fwdA: valueArb(), fwdB: valueArb(), dom: [valueArb(), valueArb()], intDtype: 'int32' },
  { name: 'div', f: div, ref: (a, b) => a / b, fwdA: valueArb(), fwdB: valueArb(), dom: [valueArb(), awayFromZero(0.3)], intDtype: 'float32' },
  {
    name: 'pow',
    f: pow,
    ref: (a, b) => Math.exp(b * Math.log(a)),
    fwdA: valueArb(0.01, 4),
    fwdB: valueArb(-3, 3),
    dom: [valueArb(0.3, 2), valueArb(-2, 2)],
    intDtype: 'float32',
  },
  { name: 'maximum', f: maximum, ref: nanOr((a, b) => (a >= b ? a : b)), fwdA: cmpVals, fwdB: cmpVals, dom: [nearInt, nearHalf], intDtype: 'int32' },
  { name: 'minimum', f: minimum, ref: nanOr((a, b) => (a <= b ? a : b)), fwdA: cmpVals, fwdB: cmpVals, dom: [nearHalf, nearInt], intDtype: 'int32' },
  { name: 'eq', f: eq, ref: (a, b) => b01(a === b), fwdA: cmpVals, fwdB: cmpVals, dom: null, intDtype: 'int32' },
  { name: 'ne', f: ne, ref: (a, b) => b01(a !== b), fwdA: cmpVals, fwdB: cmpVals, dom: null, intDtype: 'int32' },
  { name: 'lt', f: lt, ref: (a, b) => b01(a < b), fwdA: cmpVals, fwdB: cmpVals, dom: null, intDtype: 'int32' },
  { name: 'le', f: le, ref: (a, b) => b01(a <= b), fwdA: cmpVals, fwdB: cmpVals, dom: null, intDtype: 'int32' },
  { name: 'gt', f: gt, ref: (a, b) => b01(a > b), fwdA: cmpVals, fwdB: cmpVals, dom: null, intDtype: 'int32' },
  { name: 'ge', f: ge, ref: (a, b) => b01(a >= b), fwdA: cmpVals, fwdB: cmpVals, dom: null, intDtype: 'int32' },
];

/** Two reference arrays of broadcast-compatible shapes, values from the given domains. */
const pairArb = (va: fc.Arbitrary<number>, vb: fc.Arbitrary<number>, maxRank = 3) =>
  broadcastShapesArb(2, { maxRank, maxDim: 3 }).chain(({ shapes: [sa, sb], out }) => fc.tuple(arrArb(sa, va), arrArb(sb, vb)).map(([a, b]) => ({ a, b, out })));

describe.each(BINARY)('binary $name', (spec) => {
  const isCmp = spec.dom === null;
  const tol = spec.name === 'pow' ? { rtol: 1e-13, atol: 1e-300 } : 'exact';

  it('forward with broadcasting matches the reference', () => {
    fc.assert(
      fc.property(pairArb(spec.fwdA, spec.fwdB), ({ a, b }) => {
        const y = spec.f(toTensor(a), toTensor(b));
        expect(y.dtype).toBe(isCmp ? 'int32' : 'float64');
        expectArr(y, refZip([a, b], spec.ref), tol);
      }),
      { numRuns: RUNS },
    );
  });

  it('broadcasting equals expand-then-op', () => {
    fc.assert(
      fc.property(pairArb(spec.fwdA, spec.fwdB), ({ a, b, out }) => {
        const [x, y] = [toTensor(a), toTensor(b)];
        const want = spec.f(x.expand(out), y.expand(out));
        expectSameTensor(spec.f(x, y), want);
        expectSameTensor(spec.f(x.expand(out).contiguous(), y.expand(out).contiguous()), want);
      }),
      { numRuns: RUNS },
    );
  });

  it('strided operands give exactly what their dense copies give', () => {
    const arb = small.chain((s) => fc.tuple(stridedArb(s, spec.fwdA), stridedArb(s, spec.fwdB)));
    fc.assert(
      fc.property(arb, fc.constantFrom('float64' as const, 'float32' as const), ([a, b], dtype) => {
        const [x, y] = [toStrided(a, dtype), toStrided(b, dtype)];
        const want = spec.f(toTensor(a, dtype), toTensor(b, dtype));
        expectSameTensor(spec.f(x, y), want);
        expectSameTensor(spec.f(x.contiguous(), y), want);
        expectSameTensor(spec.f(x, y.contiguous()), want);
      }),
      { numRuns: RUNS },
    );
  });

  it("a number operand acts as a 0-d tensor of the other operand's dtype", () => {
    fc.assert(
      fc.property(arrArb(small, spec.fwdA), spec.fwdB, fc.constantFrom('float64' as const, 'float32' as const), (a, s, dtype) => {
        const x = toTensor(a, dtype);
        const sT = full(x.shape, s, { dtype });
        const s32 = dtype === 'float32' ? f32(s) : s;
        expectSameTensor(spec.f(x, s), spec.f(x, sT));
        expectSameTensor(spec.f(s, x), spec.f(sT, x));
        expectArr(
          spec.f(x, s),
          refMap(a, (v) => (dtype === 'float32' && !isCmp ? f32(spec.ref(f32(v), s32)) : spec.ref(dtype === 'float32' ? f32(v) : v, s32))),
          tol === 'exact' ? 'exact' : F32,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('promotes dtypes like torch (int32 op int32, float32 op float64)', () => {
    fc.assert(
      fc.property(pairArb(smallIntArb(1, 4), smallIntArb(-2, 3)), ({ a, b }) => {
        const yi = spec.f(toTensor(a, 'int32'), toTensor(b, 'int32'));
        expect(yi.dtype).toBe(isCmp ? 'int32' : spec.intDtype);
        if (spec.name !== 'pow')
          expectArr(
            yi,
            refZip([a, b], (u, v) => (spec.intDtype === 'float32' ? f32(spec.ref(u, v)) : spec.ref(u, v))),
            'exact',
          );
        expect(spec.f(toTensor(a, 'float32'), toTensor(b, 'float64')).dtype).toBe(isCmp ? 'int32' : 'float64');
        expect(spec.f(toTensor(a, 'int32'), toTensor(b, 'float32')).dtype).toBe(isCmp ? 'int32' : 'float32');
      }),
      { numRuns: 15 },
    );
  });

  if (spec.dom) {
    const [da, db] = spec.dom;
    it('gradients w.r.t. both operands (broadcast) match finite differences', () => {
      fc.assert(
        fc.property(pairArb(da, db, 2), ({ a, b }) => {
          expect(gradcheck((x, y) => spec.f(x, y), [toTensor(a), toTensor(b)])).toBe(true);
        }),
        { numRuns: GRAD_RUNS },
      );
    });
  } else {
    it('carries no gradient', () => {
      const x = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
      expect(spec.f(x, 2).requiresGrad).toBe(false);
    });
  }
});

describe('binary: hand-checked PyTorch semantics', () => {
  it('maximum/minimum propagate NaN and split the gradient of ties evenly', () => {
    expectArr(maximum(tensor([NaN, 1, 2]), tensor([0, NaN, 1])), { shape: [3], data: [NaN, NaN, 2] });
    expectArr(minimum(tensor([NaN, 1, 2]), tensor([0, NaN, 1])), { shape: [3], data: [NaN, NaN, 1] });
    const a = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const b = tensor([1, 0, 3], { dtype: 'float64', requiresGrad: true });
    maximum(a, b).sum().backward();
    expect([...a.grad!.data()]).toEqual([0.5, 1, 0.5]);
    expect([...b.grad!.data()]).toEqual([0.5, 0, 0.5]);
  });
  it('int32 division is true division; int32 + fractional number is float32', () => {
    const y = div(tensor([7, -7, 1], { dtype: 'int32' }), 2);
    expect(y.dtype).toBe('float32');
    expect([...y.data()]).toEqual([3.5, -3.5, 0.5]);
    const z = add(tensor([1, 2], { dtype: 'int32' }), 0.5);
    expect(z.dtype).toBe('float32');
    expect([...z.data()]).toEqual([1.5, 2.5]);
    expect(add(tensor([1, 2], { dtype: 'int32' }), 3).dtype).toBe('int32');
  });
  it('pow gradients at a zero base or a zero exponent are 0, not NaN (torch pow_backward_*)', () => {
    const x = tensor([0, 1], { dtype: 'float64', requiresGrad: true });
    pow(x, 2).sum().backward();
    expect([...x.grad!.data()]).toEqual([0, 2]);
    const z = tensor([0, 2], { dtype: 'float64', requiresGrad: true });
    pow(z, 0).sum().backward(); // d x^0 / dx = 0, also at x = 0
    expect([...z.grad!.data()]).toEqual([0, 0]);
    const a = tensor([0, 0, 0, 2], { dtype: 'float64', requiresGrad: true });
    const b = tensor([2, 0, -1, 3], { dtype: 'float64', requiresGrad: true });
    pow(a, b).sum().backward();
    expect([...b.grad!.data()]).toEqual([0, 0, -Infinity, 8 * Math.log(2)]); // 0^b·ln 0 := 0 for b >= 0; ∞·-∞ below
    expect([...a.grad!.data()]).toEqual([0, 0, -Infinity, 12]);
  });
});

describe('empty tensors', () => {
  it('every unary and binary op maps a shape with a 0 dim to an empty result of the broadcast shape', () => {
    const shapes = fc.tuple(shapeArb({ minRank: 1, maxRank: 3, minDim: 0, maxDim: 2 }), fc.nat(2)).map(([s, k]) => {
      const z = [...s];
      z[k % z.length] = 0;
      return z;
    });
    fc.assert(
      fc.property(shapes, (s) => {
        const x = toTensor({ shape: s, data: [] });
        for (const u of UNARY) expectArr(u.f(x), { shape: s, data: [] });
        for (const b of BINARY) {
          expectArr(b.f(x, x), { shape: s, data: [] });
          expectArr(b.f(x, toTensor({ shape: [1], data: [2] })), { shape: s, data: [] });
        }
        expectArr(where(x, x, 1), { shape: s, data: [] });
        expectArr(clamp(x, 0, 1), { shape: s, data: [] });
      }),
      { numRuns: 10 },
    );
  });
});

// ---- where --------------------------------------------------------------------------------

const whereArb = (va: fc.Arbitrary<number>, maxRank = 3) =>
  broadcastShapesArb(3, { maxRank, maxDim: 3 }).chain(({ shapes: [sc, sa, sb], out }) =>
    fc
      .tuple(arrArb(sc, smallIntArb(-1, 2)), arrArb(sa, va), arrArb(sb, va), fc.constantFrom('int32' as const, 'float64' as const))
      .map(([c, a, b, cdt]) => ({ c, a, b, out, cdt })),
  );
const whereRef = (c: Arr, a: Arr, b: Arr) => refZip([c, a, b], (cv, av, bv) => (cv !== 0 ? av : bv));

describe('where', () => {
  it('forward with three-way broadcasting matches the reference', () => {
    fc.assert(
      fc.property(whereArb(valueArb()), ({ c, a, b, cdt }) => {
        const y = where(toTensor(c, cdt), toTensor(a), toTensor(b));
        expect(y.dtype).toBe('float64');
        expectArr(y, whereRef(c, a, b), 'exact');
      }),
      { numRuns: RUNS },
    );
  });

  it('broadcasting equals expand-then-op; strided operands equal dense copies', () => {
    fc.assert(
      fc.property(whereArb(valueArb()), ({ c, a, b, out, cdt }) => {
        const [ct, at, bt] = [toTensor(c, cdt), toTensor(a), toTensor(b)];
        const want = where(ct.expand(out), at.expand(out), bt.expand(out));
        expectSameTensor(where(ct, at, bt), want);
        expectSameTensor(where(ct.expand(out).contiguous(), at.expand(out).contiguous(), bt.expand(out).contiguous()), want);
      }),
      { numRuns: RUNS },
    );
    const arb = small.chain((s) => fc.tuple(stridedArb(s, smallIntArb(-1, 2)), stridedArb(s, valueArb()), stridedArb(s, valueArb())));
    fc.assert(
      fc.property(arb, ([c, a, b]) => {
        expectSameTensor(where(toStrided(c, 'int32'), toStrided(a), toStrided(b)), where(toTensor(c, 'int32'), toTensor(a), toTensor(b)));
      }),
      { numRuns: RUNS },
    );
  });

  it('accepts numbers for either branch and promotes the branch dtypes', () => {
    const c = tensor([1, 0, 2], { dtype: 'int32' });
    expectArr(where(c, tensor([1, 2, 3], { dtype: 'float64' }), 0), { shape: [3], data: [1, 0, 3] });
    expectArr(where(c, -1, tensor([4, 5, 6])), { shape: [3], data: [-1, 5, -1] });
    expect(where(c, tensor([1, 2, 3], { dtype: 'float32' }), tensor([1, 2, 3], { dtype: 'float64' })).dtype).toBe('float64');
  });

  it('gradients w.r.t. both branches (broadcast) match finite differences', () => {
    fc.assert(
      fc.property(whereArb(valueArb(), 2), ({ c, a, b, cdt }) => {
        const ct = toTensor(c, cdt);
        expect(gradcheck((x, y) => where(ct, x, y), [toTensor(a), toTensor(b)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

// ---- second derivatives -------------------------------------------------------------------

/** d²/dx² of sum(f(x)), elementwise, by differentiating the gradient again. */
function secondDiag(f: (x: Tensor) => Tensor, a: Arr): { g: Tensor; h: Tensor } {
  const x = toTensor(a).requiresGrad_();
  const [g] = grad([f(x).sum()], [x], { createGraph: true });
  expect(g!.requiresGrad).toBe(true);
  const [h] = grad([g!.sum()], [x]);
  return { g: g!, h: h! };
}

interface SecondSpec {
  name: string;
  f: (x: Tensor) => Tensor;
  d1: (x: number) => number;
  d2: (x: number) => number;
  dom: fc.Arbitrary<number>;
}
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const SECOND: SecondSpec[] = [
  { name: 'tanh', f: tanh, d1: (x) => 1 - Math.tanh(x) ** 2, d2: (x) => -2 * Math.tanh(x) * (1 - Math.tanh(x) ** 2), dom: valueArb() },
  { name: 'sigmoid', f: sigmoid, d1: (x) => sig(x) * (1 - sig(x)), d2: (x) => sig(x) * (1 - sig(x)) * (1 - 2 * sig(x)), dom: valueArb(-5, 5) },
  { name: 'exp', f: exp, d1: Math.exp, d2: Math.exp, dom: valueArb() },
  { name: 'log', f: log, d1: (x) => 1 / x, d2: (x) => -1 / (x * x), dom: valueArb(0.2, 3) },
  { name: 'sqrt', f: sqrt, d1: (x) => 0.5 / Math.sqrt(x), d2: (x) => -0.25 * x ** -1.5, dom: valueArb(0.2, 3) },
  { name: 'rsqrt', f: rsqrt, d1: (x) => -0.5 * x ** -1.5, d2: (x) => 0.75 * x ** -2.5, dom: valueArb(0.2, 3) },
  { name: 'pow 3', f: (x) => pow(x, 3), d1: (x) => 3 * x * x, d2: (x) => 6 * x, dom: valueArb() },
  { name: 'pow -2', f: (x) => pow(x, -2), d1: (x) => -2 * x ** -3, d2: (x) => 6 * x ** -4, dom: awayFromZero(0.3) },
  { name: 'pow 2.5', f: (x) => pow(x, 2.5), d1: (x) => 2.5 * x ** 1.5, d2: (x) => 3.75 * x ** 0.5, dom: valueArb(0.2, 3) },
  { name: 'x·x', f: (x) => mul(x, x), d1: (x) => 2 * x, d2: () => 2, dom: valueArb() },
  { name: '1/x (div)', f: (x) => div(1, x), d1: (x) => -1 / (x * x), d2: (x) => 2 / (x * x * x), dom: awayFromZero(0.3) },
  {
    name: 'sigmoid∘tanh',
    f: (x) => sigmoid(tanh(x)),
    d1: (x) => sig(Math.tanh(x)) * (1 - sig(Math.tanh(x))) * (1 - Math.tanh(x) ** 2),
    d2: (x) => {
      const t = Math.tanh(x),
        s = sig(t),
        dt = 1 - t * t;
      return s * (1 - s) * (1 - 2 * s) * dt * dt + s * (1 - s) * (-2 * t * dt);
    },
    dom: valueArb(),
  },
];
const D2 = { rtol: 1e-10, atol: 1e-12 };

describe('second derivatives', () => {
  it.each(SECOND)('$name: grad of grad matches the analytic second derivative', (spec) => {
    fc.assert(
      fc.property(arrArb(tiny, spec.dom), (a) => {
        const { g, h } = secondDiag(spec.f, a);
        expectArr(g, refMap(a, spec.d1), D2);
        expectArr(h, refMap(a, spec.d2), D2);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it('pow(x, y): the full Hessian in (x, y) matches the analytic one', () => {
    // y = 0 exactly is left out: there the base gradient is masked to 0 (torch's pow_backward_self),
    // so its derivative in y is 0 rather than the analytic 1/x, in torch as here.
    const arb = tiny.chain((s) => fc.tuple(arrArb(s, valueArb(0.3, 2)), arrArb(s, awayFromZero(0.01, 2))));
    fc.assert(
      fc.property(arb, ([a, b]) => {
        const x = toTensor(a).requiresGrad_(),
          y = toTensor(b).requiresGrad_();
        const [gx, gy] = grad([pow(x, y).sum()], [x, y], { createGraph: true });
        const [hxx, hxy] = grad([gx!.sum()], [x, y], { retainGraph: true });
        const [hyx, hyy] = grad([gy!.sum()], [x, y]);
        expectArr(
          hxx!,
          refZip([a, b], (u, v) => v * (v - 1) * u ** (v - 2)),
          D2,
        );
        expectArr(
          hxy!,
          refZip([a, b], (u, v) => u ** (v - 1) * (1 + v * Math.log(u))),
          D2,
        );
        expectArr(
          hyx!,
          refZip([a, b], (u, v) => u ** (v - 1) * (1 + v * Math.log(u))),
          D2,
        );
        expectArr(
          hyy!,
          refZip([a, b], (u, v) => u ** v * Math.log(u) ** 2),
          D2,
        );
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it('div(a, b) and mul(a, b): the Hessians match the analytic ones', () => {
    const arb = tiny.chain((s) => fc.tuple(arrArb(s, valueArb()), arrArb(s, awayFromZero(0.3))));
    fc.assert(
      fc.property(arb, ([a, b]) => {
        const x = toTensor(a).requiresGrad_(),
          y = toTensor(b).requiresGrad_();
        const [gx, gy] = grad([div(x, y).sum()], [x, y], { createGraph: true });
        const [hxx, hxy] = grad([gx!.sum()], [x, y], { retainGraph: true, allowUnused: true });
        const [hyx, hyy] = grad([gy!.sum()], [x, y]);
        if (hxx)
          expectArr(
            hxx,
            refMap(a, () => 0),
            'exact',
          ); // d²(a/b)/da² = 0
        expectArr(
          hxy!,
          refMap(b, (v) => -1 / (v * v)),
          D2,
        );
        expectArr(
          hyx!,
          refMap(b, (v) => -1 / (v * v)),
          D2,
        );
        expectArr(
          hyy!,
          refZip([a, b], (u, v) => (2 * u) / (v * v * v)),
          D2,
        );

        const [mx, my] = grad([mul(x, y).sum()], [x, y], { createGraph: true });
        const [mxx, mxy] = grad([mx!.sum()], [x, y], { allowUnused: true });
        if (mxx)
          expectArr(
            mxx,
            refMap(a, () => 0),
            'exact',
          );
        expectArr(
          mxy!,
          refMap(a, () => 1),
          'exact',
        );
        expect(my!.requiresGrad).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it('logsumexp / softmax: Hessian-vector products match diag(p) − p pᵀ', () => {
    const arb = shapeArb({ minRank: 2, maxRank: 2, minDim: 1, maxDim: 4 }).chain((s) => fc.tuple(arrArb(s, valueArb()), arrArb(s, valueArb())));
    fc.assert(
      fc.property(arb, ([a, v]) => {
        const x = toTensor(a).requiresGrad_();
        const [g] = grad([logsumexp(x, -1).sum()], [x], { createGraph: true });
        const [n, k] = a.shape;
        const p = a.data.map((_, i) => {
          const r = Math.floor(i / k);
          const row = a.data.slice(r * k, r * k + k);
          const m = Math.max(...row);
          return Math.exp(a.data[i] - m) / row.reduce((s, u) => s + Math.exp(u - m), 0);
        });
        expectArr(g!, { shape: a.shape, data: p }, D2);
        expectArr(softmax(toTensor(a), -1), { shape: a.shape, data: p }, D2);
        const [hv] = grad([g!], [x], { gradOutputs: [toTensor(v)] });
        const want = p.map((pi, i) => {
          const r = Math.floor(i / k);
          let dot = 0;
          for (let j = r * k; j < r * k + k; j++) dot += p[j] * v.data[j];
          return pi * v.data[i] - pi * dot;
        });
        expect(n * k).toBe(numel(a.shape));
        expectArr(hv!, { shape: a.shape, data: want }, D2);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it('gradients of compositions are themselves differentiable (gradcheck of the gradient)', () => {
    const comps: [string, (x: Tensor) => Tensor][] = [
      [
        'softmax·w',
        (x) =>
          softmax(x, -1)
            .mul(tensor([[1, -2, 0.5]], { dtype: 'float64' }))
            .sum(),
      ],
      [
        'logSoftmax·t (cross-entropy)',
        (x) =>
          logSoftmax(x, 1)
            .mul(
              tensor(
                [
                  [0, 1, 0],
                  [1, 0, 0],
                ],
                { dtype: 'float64' },
              ),
            )
            .sum()
            .neg(),
      ],
      ['log sigmoid(x²)', (x) => sigmoid(mul(x, x)).log().sum()],
      ['tanh(x)²/(1+x²)', (x) => div(pow(tanh(x), 2), add(mul(x, x), 1)).sum()],
      ['exp(x)·x − sqrt(x²+1)', (x) => sub(mul(exp(x), x), sqrt(add(mul(x, x), 1))).sum()],
    ];
    const arb = valuesArb(6, valueArb(-2, 2)).map((d): Arr => ({ shape: [2, 3], data: d }));
    for (const [name, f] of comps) {
      fc.assert(
        fc.property(arb, (a) => {
          const gradOf = (x: Tensor): Tensor => withGradMode(true, () => grad([f(x)], [x], { createGraph: true })[0]!);
          expect(gradcheck(gradOf, [toTensor(a)]), name).toBe(true);
        }),
        { numRuns: 8 },
      );
    }
  });
});

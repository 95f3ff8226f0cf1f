// Autograd engine tests: backward() seeding and accumulation, noGrad, detach, graph freeing and
// retainGraph, grad() with createGraph (second derivatives vs analytic values and vs gradcheck of
// the first-derivative function), fan-out, and gradcheck's ability to fail.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  tensor,
  grad,
  gradcheck,
  noGrad,
  isGradEnabled,
  withGradMode,
  DTypeError,
  TensorError,
  ShapeError,
  tanh,
  sigmoid,
  exp,
  log,
  pow,
  matmul,
  conv2d,
  maxPool2d,
  avgPool2d,
  adaptiveAvgPool2d,
  interpolate,
  softmax,
  logSoftmax,
  crossEntropy,
  batchNorm,
  sum,
  mul,
  maximum,
  where,
  profile,
} from '@lad/tensor';
import { distinctValues, expectClose, expectThrows, fromF64, randT, seedArb, vals } from './util/nn-arb.ts';

const leaf = (xs: number[], shape?: number[]): Tensor => tensor(xs, { dtype: 'float64', requiresGrad: true, ...(shape ? { shape } : {}) });

/** The gradient of the scalar f(x) w.r.t. x, itself differentiable. */
const d1 =
  (f: (x: Tensor) => Tensor) =>
  (x: Tensor): Tensor =>
    grad([f(x)], [x], { createGraph: true })[0]!;

describe('backward()', () => {
  it('seeds a scalar output with 1', () => {
    const x = leaf([1, 2, 3]);
    x.mul(x).sum().backward(); // d Σx² = 2x
    expectClose(x.grad!, [2, 4, 6]);
    expect(x.grad!.requiresGrad).toBe(false);
  });

  it('takes an explicit upstream gradient for a non-scalar output', () => {
    const x = leaf([1, 2, 3]);
    x.mul(2).backward(tensor([1, 10, 100], { dtype: 'float64' }));
    expectClose(x.grad!, [2, 20, 200]);
  });

  it('requires a gradient for a non-scalar output', () => {
    const x = leaf([1, 2]);
    expectThrows(() => x.mul(2).backward(), ShapeError, ['[2]']);
  });

  it('accumulates gradients across backward calls and zeroGrad resets', () => {
    const x = leaf([1, -2]);
    x.mul(3).sum().backward();
    x.mul(x).sum().backward();
    expectClose(x.grad!, [3 + 2, 3 - 4]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
    x.mul(5).sum().backward();
    expectClose(x.grad!, [5, 5]);
  });

  it('a second backward without retainGraph throws a clear error; retainGraph keeps the graph', () => {
    const x = leaf([1, 2]);
    const y = x.exp().sum();
    y.backward();
    let err: unknown = null;
    try {
      y.backward();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TensorError);
    expect(String((err as Error).message)).toMatch(/second time/);
    expect(String((err as Error).message)).toContain('retainGraph');

    const z = leaf([1, 2]);
    const w = z.exp().sum();
    w.backward(undefined, { retainGraph: true });
    w.backward();
    expectClose(z.grad!, [2 * Math.E, 2 * Math.E ** 2], 1e-12, 1e-12);
  });

  it('the sum of gradients of a tensor used twice (fan-out)', () => {
    const x = leaf([0.5, -1.5, 2]);
    const a = x.mul(x); // x²
    const b = x.exp(); // e^x on another branch
    const y = a.add(b).add(x.mul(3)).sum(); // x² + e^x + 3x
    y.backward();
    expectClose(
      x.grad!,
      [0.5, -1.5, 2].map((v) => 2 * v + Math.exp(v) + 3),
      1e-12,
      1e-12,
    );

    // The same intermediate feeding two consumers.
    const u = leaf([1, 2]);
    const h = u.mul(2); // h = 2u
    h.mul(h).add(h).sum().backward(); // h² + h → (2h + 1)·2
    expectClose(u.grad!, [(4 + 1) * 2, (8 + 1) * 2]);
  });

  it('computes no gradient for an operand that needs none (mul, sub, div, maximum, where)', () => {
    const x = leaf([0.5, -1.5, 2]),
      c = tensor([3, 0, -2], { dtype: 'float64' }); // no gradient wanted
    /** How many times the backward of Σ f() ran the kernel `op`. */
    const calls = (f: () => Tensor, op: string): number => {
      const out = f().sum();
      return profile(() => out.backward(), { print: false }).rows.find((r) => r.phase === 'backward' && r.op === op)?.calls ?? 0;
    };
    // Σ x·c: g·c for x only, not g·x for c
    expect([calls(() => x.mul(c), 'binary.mul'), calls(() => c.mul(x), 'binary.mul')]).toEqual([1, 1]);
    expect([calls(() => c.sub(x), 'unary.neg'), calls(() => x.sub(c), 'unary.neg')]).toEqual([1, 0]);
    expect([calls(() => x.div(c), 'binary.div'), calls(() => c.div(x), 'binary.div')]).toEqual([1, 1]); // g/c; −g·out/x, not g/x for c
    expect(calls(() => maximum(x, c), 'binary.mul')).toBe(2); // g·(win + tie·½) for x alone
    expect(calls(() => where(c.gt(0), x, c), 'where')).toBe(1);
    // and the gradients are still right
    x.grad = null;
    x.mul(c).add(c.sub(x)).sum().backward();
    expectClose(x.grad!, [2, -1, -3]);
  });

  it('a freed subgraph shared by a second root throws too (as in PyTorch)', () => {
    const x = leaf([1, 2]);
    const h = x.exp();
    const a = h.sum(),
      b = h.mul(2).sum();
    a.backward();
    expectThrows(() => b.backward(), TensorError, ['second time']);
  });

  it('gradients arrive in the leaf dtype across casts; backward with createGraph gives a differentiable .grad', () => {
    const x = tensor([1, 2], { requiresGrad: true }); // float32
    x.to('float64').mul(3).sum().backward();
    expect(x.grad!.dtype).toBe('float32');
    expectClose(x.grad!, [3, 3]);
    const z = leaf([0.5, 1.5]);
    z.pow(3).sum().backward(undefined, { createGraph: true });
    expect(z.grad!.requiresGrad).toBe(true);
    const [h] = grad([z.grad!.sum()], [z]); // d/dz Σ3z² = 6z
    expectClose(h!, [3, 9], 1e-12, 1e-12);
  });

  it('requiresGrad_ rejects int32 tensors', () => {
    const t = tensor([1, 2, 3], { dtype: 'int32' });
    expectThrows(() => t.requiresGrad_(), DTypeError, ['int32']);
    expectThrows(() => tensor([1, 2], { dtype: 'int32', requiresGrad: true }), DTypeError);
  });
});

describe('noGrad and detach', () => {
  it('noGrad records nothing and restores the mode, even on throw', () => {
    const x = leaf([1, 2]);
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return x.mul(2).exp();
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(isGradEnabled()).toBe(true);
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
    const z = withGradMode(false, () => withGradMode(true, () => x.mul(2)));
    expect(z.requiresGrad).toBe(true);
  });

  it('detach shares storage and cuts the graph', () => {
    const x = leaf([3, 4]);
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    expect(d.storage.data).toBe(x.storage.data);
    x.detach().mul(x).sum().backward(); // d(c·x)/dx with c = x held constant
    expectClose(x.grad!, [3, 4]);
  });
});

describe('grad()', () => {
  it('returns gradients without touching .grad; createGraph makes them differentiable', () => {
    const x = leaf([0.3, -0.7]);
    const [g] = grad([x.pow(3).sum()], [x]);
    expectClose(g!, [3 * 0.09, 3 * 0.49], 1e-12, 1e-12);
    expect(g!.requiresGrad).toBe(false);
    expect(x.grad).toBeNull();
    const [g2] = grad([x.pow(3).sum()], [x], { createGraph: true });
    expect(g2!.requiresGrad).toBe(true);
    g2!.sum().backward(); // Σ 3x² → 6x
    expectClose(x.grad!, [6 * 0.3, -6 * 0.7], 1e-12, 1e-12);
  });

  it('throws for an unused input unless allowUnused', () => {
    const x = leaf([1]),
      y = leaf([2]);
    expectThrows(() => grad([x.mul(2).sum()], [x, y]), TensorError, ['inputs[1]']);
    const [gx, gy] = grad([x.mul(2).sum()], [x, y], { allowUnused: true });
    expectClose(gx!, [2]);
    expect(gy).toBeNull();
  });

  // Second derivatives of unary maps against their closed forms, at random points.
  const unary: [string, (x: Tensor) => Tensor, (v: number) => number, number, number][] = [
    ['tanh', tanh, (v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2), -2, 2],
    [
      'sigmoid',
      sigmoid,
      (v) => {
        const s = 1 / (1 + Math.exp(-v));
        return s * (1 - s) * (1 - 2 * s);
      },
      -3,
      3,
    ],
    ['exp', exp, (v) => Math.exp(v), -2, 2],
    ['log', log, (v) => -1 / (v * v), 0.2, 3],
    ['pow(x, 3)', (x) => pow(x, 3), (v) => 6 * v, -2, 2],
    ['pow(x, 2.5)', (x) => pow(x, 2.5), (v) => 2.5 * 1.5 * v ** 0.5, 0.2, 3],
  ];
  for (const [name, f, f2, lo, hi] of unary) {
    it(`second derivative of ${name} matches the closed form`, () => {
      fc.assert(
        fc.property(seedArb, (seed) => {
          const x = randT([5], seed, 'float64', lo, hi).requiresGrad_();
          const g = d1((t) => f(t).sum())(x);
          const [h] = grad([g.sum()], [x]); // diagonal Hessian
          expectClose(h!, Array.from(vals(x), f2), 1e-9, 1e-7, name);
        }),
        { numRuns: 15 },
      );
    });
  }

  it('second derivatives of pow(a, b) in both arguments', () => {
    const a = leaf([1.5, 2]),
      b = leaf([2, 0.5]);
    const [ga, gb] = grad([pow(a, b).sum()], [a, b], { createGraph: true });
    // ∂²/∂a∂b a^b = a^(b−1)(1 + b ln a), ∂²/∂b² = a^b ln² a
    const [hab] = grad([ga!.sum()], [b]);
    const [hbb] = grad([gb!.sum()], [b]);
    const A = [1.5, 2],
      B = [2, 0.5];
    expectClose(
      hab!,
      A.map((v, i) => v ** (B[i] - 1) * (1 + B[i] * Math.log(v))),
      1e-10,
      1e-9,
    );
    expectClose(
      hbb!,
      A.map((v, i) => v ** B[i] * Math.log(v) ** 2),
      1e-10,
      1e-9,
    );
  });

  it('double backward of matmul: d/dA of (∂/∂B Σ(AB)²)', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), (seed, m, k, n) => {
        const a = randT([m, k], seed),
          b = randT([k, n], seed + 1);
        const f = (x: Tensor, y: Tensor) => {
          const p = matmul(x, y);
          return p.mul(p).sum();
        };
        expect(gradcheck((x, y) => grad([f(x, y)], [x], { createGraph: true })[0]!, [a, b])).toBe(true);
        expect(gradcheck((x, y) => grad([f(x, y)], [y], { createGraph: true })[0]!, [a, b])).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  it('double backward of conv2d through conv2dBackwardInput/Weight', () => {
    const geom = fc.record({
      stride: fc.integer({ min: 1, max: 2 }),
      padding: fc.integer({ min: 0, max: 1 }),
      dilation: fc.integer({ min: 1, max: 2 }),
      groups: fc.integer({ min: 1, max: 2 }),
      seed: seedArb,
    });
    fc.assert(
      fc.property(geom, ({ stride, padding, dilation, groups, seed }) => {
        const x = randT([1, 2 * groups, 5, 4], seed),
          w = randT([2 * groups, 2, 2, 2], seed + 1);
        const b = randT([2 * groups], seed + 2);
        const o = { stride, padding, dilation, groups };
        const f = (xx: Tensor, ww: Tensor, bb: Tensor) => {
          const y = conv2d(xx, ww, bb, o);
          return y.mul(y).sum();
        };
        gradcheck((xx, ww, bb) => grad([f(xx, ww, bb)], [xx], { createGraph: true })[0]!, [x, w, b]);
        gradcheck((xx, ww, bb) => grad([f(xx, ww, bb)], [ww], { createGraph: true })[0]!, [x, w, b]);
      }),
      { numRuns: 8 },
    );
  });

  it('double backward of maxPool2d (no ties) and avgPool2d', () => {
    fc.assert(
      fc.property(seedArb, fc.boolean(), (seed, cip) => {
        const x = fromF64(distinctValues(2 * 5 * 5, seed), [1, 2, 5, 5]);
        const sq = (t: Tensor) => t.mul(t).sum();
        gradcheck(
          d1((t) => sq(maxPool2d(t, 2, { stride: 1 }))),
          [x],
        );
        gradcheck(
          d1((t) => sq(maxPool2d(t, 3, { stride: 2, padding: 1 }))),
          [x],
        );
        gradcheck(
          d1((t) => sq(avgPool2d(t, 3, { stride: 2, padding: 1, countIncludePad: cip }))),
          [x],
        );
        gradcheck(
          d1((t) => sq(adaptiveAvgPool2d(t, [3, 2]))),
          [x],
        );
      }),
      { numRuns: 10 },
    );
  });

  it('double backward of interpolate', () => {
    fc.assert(
      fc.property(seedArb, fc.boolean(), (seed, ac) => {
        const x = randT([1, 2, 3, 4], seed);
        const sq = (t: Tensor) => t.mul(t).sum();
        gradcheck(
          d1((t) => sq(interpolate(t, { size: [5, 3], mode: 'bilinear', alignCorners: ac }))),
          [x],
        );
        gradcheck(
          d1((t) => sq(interpolate(t, { size: [7, 2], mode: 'nearest' }))),
          [x],
        );
      }),
      { numRuns: 10 },
    );
  });

  it('double backward of softmax, logSoftmax and crossEntropy', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const x = randT([3, 4], seed, 'float64', -2, 2);
        const c = randT([3, 4], seed + 1);
        const target = tensor([0, 3, 1], { dtype: 'int32' });
        gradcheck(
          d1((t) => softmax(t, 1).mul(c).sum()),
          [x],
        );
        gradcheck(
          d1((t) => logSoftmax(t, 0).mul(c).sum()),
          [x],
        );
        gradcheck(
          d1((t) => crossEntropy(t, target)),
          [x],
        );
      }),
      { numRuns: 10 },
    );
  });

  it('double backward of batchNorm in training mode (input, weight, bias)', () => {
    fc.assert(
      fc.property(seedArb, fc.constantFrom<number[]>([3, 2], [2, 2, 3], [2, 1, 2, 2]), (seed, shape) => {
        const C = shape[1];
        const x = randT(shape, seed, 'float64', -2, 2),
          w = randT([C], seed + 1, 'float64', 0.5, 2),
          b = randT([C], seed + 2);
        const c = randT(shape, seed + 3);
        const f = (xx: Tensor, ww: Tensor, bb: Tensor) => batchNorm(xx, null, null, ww, bb, { training: true }).mul(c).sum();
        gradcheck((xx, ww, bb) => grad([f(xx, ww, bb)], [xx], { createGraph: true })[0]!, [x, w, b]);
        gradcheck((xx, ww, bb) => grad([f(xx, ww, bb)], [ww], { createGraph: true })[0]!, [x, w, b]);
      }),
      { numRuns: 8 },
    );
  });

  it('Hessian of crossEntropy equals (diag(p) − p pᵀ)/N', () => {
    const x = leaf([0.2, -1, 0.5, 1, 0, -0.5], [2, 3]);
    const t = tensor([2, 0], { dtype: 'int32' });
    const g = grad([crossEntropy(x, t)], [x], { createGraph: true })[0]!;
    const p = vals(softmax(x.detach(), 1));
    // d/dx[0][0] of g: row 0 only
    const [h] = grad([g.select(0, 0).select(0, 0)], [x]);
    expectClose(h!, [(p[0] - p[0] * p[0]) / 2, (-p[0] * p[1]) / 2, (-p[0] * p[2]) / 2, 0, 0, 0], 1e-12, 1e-10);
  });
});

describe('gradcheck', () => {
  it('passes on correct gradients and returns true', () => {
    const x = randT([2, 3], 7);
    expect(gradcheck((t) => t.tanh().mul(t), [x])).toBe(true);
  });

  it('catches a wrong gradient built with detach or noGrad', () => {
    const x = randT([4], 11, 'float64', 0.5, 1.5);
    // x · stop_gradient(x): the value is x², the recorded gradient x instead of 2x.
    expectThrows(() => gradcheck((t) => t.mul(t.detach()), [x]), TensorError, ['inputs[0]', 'analytic', 'numeric']);
    expectThrows(() => gradcheck((t) => t.mul(noGrad(() => t.exp())), [x]), TensorError, ['inputs[0]']);
    // The same function written honestly passes.
    expect(gradcheck((t) => t.mul(t.exp()), [x])).toBe(true);
  });

  it('requires float64 inputs', () => {
    expectThrows(() => gradcheck((t) => t.mul(2), [randT([2], 1, 'float32')]), DTypeError, ['float64']);
  });

  it('checks every input of a multi-input function', () => {
    const a = randT([2, 2], 3),
      b = randT([2, 2], 4);
    expect(gradcheck((p, q) => mul(p, q).add(sum(p)), [a, b])).toBe(true);
    expectThrows(() => gradcheck((p, q) => mul(p, q.detach()).add(q.mul(0)), [a, b]), TensorError, ['inputs[1]']);
  });
});

describe('in-place writes and saved tensors (version counters)', () => {
  /** op, forward on (a, b), and which of a, b its gradient rule reads. */
  const OPS: [string, (a: Tensor, b: Tensor) => Tensor, boolean, boolean][] = [
    ['mul', (a, b) => a.mul(b), true, true],
    ['div', (a, b) => a.div(b), false, true],
    ['pow', (a, b) => a.pow(b), true, true],
    ['maximum', (a, b) => a.maximum(b), true, true],
    ['log', (a) => a.log(), true, false],
    ['abs', (a) => a.abs(), true, false],
    ['relu', (a) => a.relu(), true, false],
    ['clamp', (a) => a.clamp(0.5, 1), true, false],
    ['bmm', (a, b) => matmul(a.reshape([2, 1]), b.reshape([1, 2])), true, true],
    ['amax', (a) => a.amax(), true, false],
    ['add', (a, b) => a.add(b), false, false],
    ['sub', (a, b) => a.sub(b), false, false],
    ['reshape', (a) => a.reshape([1, 2]), false, false],
    ['sum', (a) => a.sum(), false, false],
  ];
  /** The ways to write into a's storage: a itself, a detached alias, a view of one element. */
  const WRITES: [string, (a: Tensor) => void][] = [
    ['copy_ into the leaf', (a) => noGrad(() => a.copy_(tensor([7, 9], { dtype: 'float64' })))],
    ['copy_ a number into a detached alias', (a) => a.detach().copy_(3)],
    ['copy_ into a one-element view', (a) => a.detach().slice(0, 1, 2).copy_(5)],
  ];

  it('backward throws, naming the op and the versions, iff a tensor the rule reads was written in place', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OPS), fc.constantFrom(...WRITES), fc.boolean(), seedArb, ([op, f, readsA, readsB], [, write], intoB, seed) => {
        const a = randT([2], seed, 'float64', 0.6, 0.9).requiresGrad_(),
          b = randT([2], seed + 1, 'float64', 0.6, 0.9).requiresGrad_();
        const y = f(a, b).sum();
        write(intoB ? b : a);
        if (intoB ? readsB : readsA) {
          expectThrows(() => y.backward(), TensorError, [`${op} backward: `, 'modified in place', 'version 0 → 1']);
        } else {
          y.backward(); // the rule reads neither the value written nor a view of it: the gradient stands
          const ref = randT([2], seed, 'float64', 0.6, 0.9).requiresGrad_(),
            refB = randT([2], seed + 1, 'float64', 0.6, 0.9).requiresGrad_();
          f(ref, refB).sum().backward();
          expectClose(a.grad ?? [0, 0], ref.grad ?? [0, 0]);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('y = a·a, then a.copy_(10) under noGrad: backward throws instead of giving 20', () => {
    const a = leaf([2]);
    const y = a.mul(a);
    noGrad(() => a.copy_(10));
    expectThrows(() => y.backward(), TensorError, ['mul backward', 'version 0 → 1']);
    expect(a.grad).toBeNull();
  });

  it('an op that saves its output notices a write into the output', () => {
    const a = leaf([0.5, 1]);
    const e = a.exp();
    const y = e.sum();
    e.detach().copy_(0);
    expectThrows(() => y.backward(), TensorError, ['exp backward', 'its output']);
  });

  it('every write bumps the version once; views and detach share the counter, clones do not', () => {
    const a = leaf([1, 2, 3]);
    const c = a.clone();
    noGrad(() => a.copy_(0));
    a.detach().slice(0, 0, 1).copy_(1);
    a.reshape([3, 1]).detach().copy_(2);
    expect(a.version.n).toBe(3);
    expect(a.detach().version).toBe(a.version);
    expect(c.version.n).toBe(0);
  });

  it('a graph built after the write, or freed before it, is unaffected (the optimizer-step pattern)', () => {
    const a = leaf([1, 2]);
    for (let step = 0; step < 3; step++) {
      a.zeroGrad();
      a.mul(a).sum().backward(); // frees the graph
      noGrad(() => a.copy_(a.sub(a.grad!.mul(0.1))));
    }
    expectClose(
      a.grad!,
      vals(a).map((v) => (2 * v) / 0.8),
    );
    const y = a.mul(a).sum();
    y.backward(undefined, { retainGraph: true });
    noGrad(() => a.copy_(a.mul(2)));
    expectThrows(() => y.backward(), TensorError, ['mul backward']); // the retained graph saw the write
  });
});

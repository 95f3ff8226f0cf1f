// Optimizer tests: SGD, Adam and AdamW against reference loops written here over Float64Arrays from
// the algorithm boxes of the torch.optim docs (an independent implementation, not the classes),
// state-dict round trips (bit-identical resumes), validation errors, and clipGradNorm against
// hand-computed norms.

import { describe, expect, it } from 'vitest';
import { DTypeError, ShapeError, Tensor, TensorError, ValueError, noGrad, tensor } from '@lad/tensor';
import { Adam, AdamW, SGD, clipGradNorm, type AdamOptions, type SGDOptions } from '../packages/nn/src/optim/index.ts';
import { expectClose, expectThrows, seededValues, vals } from './util/nn-arb.ts';

const SHAPES = [[2, 3], [4]] as const;
const TOL = 1e-12;
type Opt = SGD | Adam | AdamW;

/** Fresh float64 leaves with seeded values in [-1, 1). */
const makeParams = (seed = 1): Tensor[] =>
  SHAPES.map((s, k) =>
    Tensor.fromData(
      seededValues(
        s.reduce((a, b) => a * b, 1),
        seed + k,
      ),
      s,
    ).requiresGrad_(),
  );

/**
 * The gradient of parameter k at step t, a function of its current values: a quadratic bowl plus
 * a drift, with every other step's gradient 100× smaller (so v_t falls and AMSGrad's max matters).
 */
function gradAt(theta: Float64Array, k: number, t: number): Float64Array {
  const scale = t % 2 === 1 ? 1 : 0.01;
  return theta.map((x, i) => scale * (2 * (i + 1) * (x - 0.3 * k) + 0.5 * Math.sin(t + i + k)));
}

/** Runs `steps` steps, setting every grad from gradAt (t counted from `t0`). */
function run(opt: Opt, ps: Tensor[], steps: number, t0 = 1): void {
  for (let t = t0; t < t0 + steps; t++) {
    ps.forEach((p, k) => {
      p.grad = tensor(gradAt(vals(p), k, t), { shape: p.shape });
    });
    opt.step();
  }
}

// ---- reference loops (torch.optim docs' algorithm boxes, one element at a time) ---------------

/** torch.optim.SGD: (maximize negates g first, as torch's code does). */
function refSGD(theta0: Float64Array, k: number, steps: number, o: SGDOptions): Float64Array {
  const th = theta0.slice(),
    b = new Float64Array(th.length);
  for (let t = 1; t <= steps; t++) {
    const g0 = gradAt(th, k, t);
    for (let i = 0; i < th.length; i++) {
      let g = o.maximize ? -g0[i] : g0[i];
      if (o.weightDecay !== 0) g = g + o.weightDecay * th[i];
      if (o.momentum !== 0) {
        b[i] = t > 1 ? o.momentum * b[i] + (1 - o.dampening) * g : g;
        g = o.nesterov ? g + o.momentum * b[i] : b[i];
      }
      th[i] = th[i] - o.lr * g;
    }
  }
  return th;
}

/** torch.optim.Adam / AdamW (decoupled), AMSGrad as corrected in pytorch#142351. */
function refAdam(theta0: Float64Array, k: number, steps: number, o: AdamOptions, decoupled: boolean): Float64Array {
  const n = theta0.length,
    th = theta0.slice();
  const m = new Float64Array(n),
    v = new Float64Array(n),
    vmax = new Float64Array(n);
  const [b1, b2] = o.betas;
  for (let t = 1; t <= steps; t++) {
    const g0 = gradAt(th, k, t);
    for (let i = 0; i < n; i++) {
      let g = o.maximize ? -g0[i] : g0[i];
      if (o.weightDecay !== 0 && decoupled) th[i] = th[i] - o.lr * o.weightDecay * th[i];
      if (o.weightDecay !== 0 && !decoupled) g = g + o.weightDecay * th[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const mhat = m[i] / (1 - b1 ** t);
      vmax[i] = Math.max(vmax[i], v[i]);
      const vhat = (o.amsgrad ? vmax[i] : v[i]) / (1 - b2 ** t);
      th[i] = th[i] - (o.lr * mhat) / (Math.sqrt(vhat) + o.eps);
    }
  }
  return th;
}

const SGD_BASE: SGDOptions = { lr: 0.05, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };
const ADAM_BASE: AdamOptions = { lr: 0.02, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };

function checkAgainst(make: (ps: Tensor[]) => Opt, ref: (th: Float64Array, k: number, steps: number) => Float64Array, steps = 6): void {
  const ps = makeParams();
  const start = ps.map(vals);
  run(make(ps), ps, steps);
  ps.forEach((p, k) => {
    expect(p.dtype).toBe('float64');
    expectClose(vals(p), ref(start[k], k, steps), TOL, TOL, `param ${k}`);
  });
}

describe('SGD vs the torch.optim.SGD algorithm', () => {
  const cases: [string, Partial<SGDOptions>][] = [
    ['plain', {}],
    ['momentum', { momentum: 0.9 }],
    ['momentum + dampening', { momentum: 0.8, dampening: 0.3 }],
    ['nesterov', { momentum: 0.9, nesterov: true }],
    ['weight decay', { weightDecay: 0.1 }],
    ['nesterov + weight decay', { momentum: 0.7, nesterov: true, weightDecay: 0.05 }],
    ['maximize + momentum + weight decay', { momentum: 0.5, weightDecay: 0.1, maximize: true }],
  ];
  for (const [name, o] of cases) {
    it(name, () => {
      const opts = { ...SGD_BASE, ...o };
      checkAgainst(
        (ps) => new SGD(ps, opts),
        (th, k, n) => refSGD(th, k, n, opts),
      );
    });
  }

  it('two param groups with their own lr and momentum', () => {
    const ps = makeParams(7);
    const start = ps.map(vals);
    const opt = new SGD([{ params: [ps[0]] }, { params: [ps[1]], lr: 0.2, momentum: 0.5 }], { lr: 0.01, momentum: 0.9, weightDecay: 0.01 });
    expect(opt.paramGroups.map((g) => [g.lr, g.momentum, g.weightDecay])).toEqual([
      [0.01, 0.9, 0.01],
      [0.2, 0.5, 0.01],
    ]);
    run(opt, ps, 5);
    expectClose(vals(ps[0]), refSGD(start[0], 0, 5, { ...SGD_BASE, lr: 0.01, momentum: 0.9, weightDecay: 0.01 }), TOL, TOL, 'group 0');
    expectClose(vals(ps[1]), refSGD(start[1], 1, 5, { ...SGD_BASE, lr: 0.2, momentum: 0.5, weightDecay: 0.01 }), TOL, TOL, 'group 1');
  });

  it('follows a real backward pass (loss = Σ w·(θ − c)²)', () => {
    const p = tensor([0.5, -1, 2], { dtype: 'float64', requiresGrad: true });
    const w = tensor([1, 2, 0.5], { dtype: 'float64' }),
      c = tensor([0.1, 0.2, 0.3], { dtype: 'float64' });
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true });
    const th = [0.5, -1, 2],
      b = [0, 0, 0],
      wv = [1, 2, 0.5],
      cv = [0.1, 0.2, 0.3];
    for (let t = 1; t <= 4; t++) {
      opt.zeroGrad();
      const loss = opt.step(() => {
        const l = p.sub(c).square().mul(w).sum();
        l.backward();
        return l.item();
      });
      expect(loss).toBeCloseTo(
        th.reduce((s, x, i) => s + wv[i] * (x - cv[i]) ** 2, 0),
        12,
      );
      th.forEach((x, i) => {
        const g = 2 * wv[i] * (x - cv[i]);
        b[i] = t > 1 ? 0.9 * b[i] + g : g;
        th[i] = x - 0.1 * (g + 0.9 * b[i]);
      });
    }
    expectClose(vals(p), th, TOL, TOL);
  });
});

describe('Adam and AdamW vs the torch.optim algorithms', () => {
  const cases: [string, Partial<AdamOptions>][] = [
    ['defaults', {}],
    ['weight decay', { weightDecay: 0.1 }],
    ['amsgrad', { amsgrad: true }],
    ['amsgrad + weight decay + betas', { amsgrad: true, weightDecay: 0.05, betas: [0.8, 0.99] }],
    ['maximize', { maximize: true, eps: 1e-3 }],
  ];
  for (const [name, o] of cases) {
    it(`Adam: ${name}`, () => {
      const opts = { ...ADAM_BASE, ...o };
      checkAgainst(
        (ps) => new Adam(ps, opts),
        (th, k, n) => refAdam(th, k, n, opts, false),
      );
    });
    it(`AdamW: ${name}`, () => {
      const opts = { ...ADAM_BASE, weightDecay: 0.01, ...o };
      checkAgainst(
        (ps) => new AdamW(ps, opts),
        (th, k, n) => refAdam(th, k, n, opts, true),
      );
    });
  }

  it('AdamW defaults to weightDecay 0.01, Adam to 0; amsgrad changes the result', () => {
    expect(new AdamW(makeParams()).paramGroups[0].weightDecay).toBe(0.01);
    expect(new Adam(makeParams()).paramGroups[0].weightDecay).toBe(0);
    const a = makeParams(),
      b = makeParams();
    run(new Adam(a, { lr: 0.1 }), a, 4);
    run(new Adam(b, { lr: 0.1, amsgrad: true }), b, 4);
    expect(vals(a[0])).not.toEqual(vals(b[0]));
  });

  it('two param groups with their own lr and betas', () => {
    const ps = makeParams(3);
    const start = ps.map(vals);
    const opt = new AdamW(
      [
        { params: [ps[0]], lr: 0.05 },
        { params: [ps[1]], betas: [0.5, 0.9] },
      ],
      { lr: 0.01 },
    );
    run(opt, ps, 5);
    expectClose(vals(ps[0]), refAdam(start[0], 0, 5, { ...ADAM_BASE, lr: 0.05, weightDecay: 0.01 }, true), TOL, TOL, 'group 0');
    expectClose(vals(ps[1]), refAdam(start[1], 1, 5, { ...ADAM_BASE, lr: 0.01, weightDecay: 0.01, betas: [0.5, 0.9] }, true), TOL, TOL, 'group 1');
  });
});

describe('step, zeroGrad and in-place updates', () => {
  it('skips parameters whose grad is null and keeps no state for them', () => {
    const ps = makeParams();
    const before = vals(ps[1]);
    const opt = new Adam(ps, { lr: 0.1 });
    ps[0].grad = tensor(gradAt(vals(ps[0]), 0, 1), { shape: ps[0].shape });
    opt.step();
    expect(vals(ps[1])).toEqual(before);
    expect(Object.keys(opt.stateDict().state)).toEqual(['0']);
    expect(opt.stateDict().state[0].step).toBe(1);
  });

  it("rejects a grad whose shape is not the parameter's", () => {
    const ps = makeParams();
    ps[1].grad = tensor([1], { dtype: 'float64' });
    expectThrows(() => new SGD(ps).step(), ShapeError, ['SGD.step', 'parameter 1', 'got shape [1], expected [4]']);
  });

  it('zeroGrad sets every grad to null', () => {
    const ps = makeParams();
    ps.forEach((p) => {
      p.grad = tensor(vals(p), { shape: p.shape });
    });
    new SGD(ps).zeroGrad();
    expect(ps.map((p) => p.grad)).toEqual([null, null]);
  });

  it('writes into the parameter storage, so other references see the update', () => {
    const ps = makeParams();
    const storage = ps[0].storage,
      alias = ps[0].detach();
    run(new SGD(ps, { lr: 0.1, momentum: 0.9 }), ps, 2);
    expect(ps[0].storage).toBe(storage);
    expect(vals(alias)).toEqual(vals(ps[0]));
    expect(ps[0].requiresGrad && ps[0].isLeaf).toBe(true);
  });

  it('keeps float32 parameters and state in float32', () => {
    const p = tensor([1, -2, 3], { requiresGrad: true });
    const opt = new Adam([p], { lr: 0.1, amsgrad: true });
    p.grad = tensor([0.5, 0.5, -1]);
    opt.step();
    expect(p.dtype).toBe('float32');
    const s = opt.stateDict().state[0];
    expect([s.exp_avg, s.exp_avg_sq, s.max_exp_avg_sq].map((t) => (t as Tensor).dtype)).toEqual(['float32', 'float32', 'float32']);
    expectClose(vals(p), [0.9, -2.1, 3.1], 1e-6, 1e-6); // first Adam step is lr·sign(g)
  });
});

describe('stateDict / loadStateDict', () => {
  const makers: [string, (ps: Tensor[]) => Opt][] = [
    ['SGD nesterov', (ps) => new SGD([{ params: [ps[0]] }, { params: [ps[1]], lr: 0.3 }], { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['Adam amsgrad', (ps) => new Adam([{ params: [ps[0]] }, { params: [ps[1]], lr: 0.03 }], { lr: 0.01, amsgrad: true, weightDecay: 0.1 })],
    ['AdamW', (ps) => new AdamW(ps, { lr: 0.02 })],
  ];
  for (const [name, make] of makers) {
    it(`${name}: 3 steps, save, load into a new optimizer, 3 more = 6 uninterrupted, bit for bit`, () => {
      const full = makeParams();
      run(make(full), full, 6);

      const first = makeParams();
      const opt1 = make(first);
      run(opt1, first, 3);
      const sd = opt1.stateDict();
      const snapshot = (): string =>
        JSON.stringify(Object.values(sd.state).map((st) => Object.values(st).map((v) => (v instanceof Tensor ? [...vals(v)] : v))));
      const saved = snapshot();
      const second = makeParams(); // new parameters holding the values after 3 steps
      noGrad(() => second.forEach((p, k) => p.copy_(first[k])));
      run(opt1, first, 2, 4); // the original goes on: the saved dict must not change

      const opt2 = make(second);
      opt2.paramGroups.forEach((g) => {
        g.lr = 123;
      });
      opt2.loadStateDict(sd);
      expect(opt2.paramGroups.map((g) => g.lr)).toEqual(opt1.paramGroups.map((g) => g.lr));
      run(opt2, second, 3, 4);
      second.forEach((p, k) => expect(vals(p)).toEqual(vals(full[k])));
      expect(snapshot()).toBe(saved);
    });
  }

  it('has the OptimizerStateDict shape: state by flat index, groups with option values and indices', () => {
    const ps = makeParams();
    const opt = new SGD([{ params: [ps[0]] }, { params: [ps[1]], lr: 0.5 }], { lr: 0.1, momentum: 0.9 });
    run(opt, ps, 1);
    const sd = opt.stateDict();
    expect(sd.paramGroups).toEqual([
      { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, params: [0] },
      { lr: 0.5, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, params: [1] },
    ]);
    expect(Object.keys(sd.state[1])).toEqual(['momentum_buffer']);
    expect((sd.state[1].momentum_buffer as Tensor).shape).toEqual([4]);
    const adam = new Adam(ps, { amsgrad: true });
    run(adam, ps, 2);
    expect(Object.keys(adam.stateDict().state[0]).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
    expect(adam.stateDict().paramGroups[0].betas).toEqual([0.9, 0.999]);
  });

  it('copies loaded tensors, so later steps do not write into the given dict', () => {
    const ps = makeParams();
    const opt = new SGD(ps, { lr: 0.1, momentum: 0.9 });
    const buf = tensor([1, 2, 3, 4], { dtype: 'float64' });
    opt.loadStateDict({ state: { 1: { momentum_buffer: buf } }, paramGroups: opt.stateDict().paramGroups });
    run(opt, ps, 2);
    expect([...vals(buf)]).toEqual([1, 2, 3, 4]);
  });

  it('rejects dicts that do not fit, with errors naming what and where', () => {
    const ps = makeParams();
    const opt = new Adam([{ params: [ps[0]] }, { params: [ps[1]] }]);
    run(opt, ps, 1);
    const sd = opt.stateDict();
    expectThrows(() => opt.loadStateDict({ ...sd, paramGroups: [sd.paramGroups[0]] }), ValueError, ['Adam.loadStateDict', 'got 1 groups, expected 2']);
    const twoInFirst = [
      { ...sd.paramGroups[0], params: [0, 1] },
      { ...sd.paramGroups[1], params: [] },
    ];
    expectThrows(() => opt.loadStateDict({ ...sd, paramGroups: twoInFirst }), ValueError, ['paramGroups[0].params', 'got 2 parameters, expected 1']);
    const badShape = { ...sd, state: { ...sd.state, 1: { ...sd.state[1], exp_avg: tensor([1, 2], { dtype: 'float64' }) } } };
    expectThrows(() => opt.loadStateDict(badShape), ShapeError, ['state[1].exp_avg', 'got shape [2], expected [4]']);
    expectThrows(() => opt.loadStateDict({ ...sd, state: { 5: sd.state[0] } }), ValueError, ['state[5]']);
    expectThrows(() => opt.loadStateDict({ ...sd, state: { 0: { ...sd.state[0], momentum_buffer: sd.state[0].exp_avg } } }), ValueError, [
      'state[0].momentum_buffer',
      'unknown',
    ]);
    expectThrows(() => opt.loadStateDict({ ...sd, paramGroups: [{ ...sd.paramGroups[0], lr: -1 }, sd.paramGroups[1]] }), ValueError, ['Adam: lr', 'got -1']);
    expect(opt.paramGroups[0].lr).toBe(1e-3); // nothing changed by the failed loads
  });
});

describe('validation', () => {
  const p = (): Tensor => tensor([1, 2], { dtype: 'float64', requiresGrad: true });
  it('rejects out-of-domain options with a ValueError naming the optimizer and option', () => {
    expectThrows(() => new SGD([p()], { lr: -0.1 }), ValueError, ['SGD', 'lr', 'got -0.1']);
    expectThrows(() => new SGD([p()], { momentum: -0.5 }), ValueError, ['SGD', 'momentum', 'got -0.5']);
    expectThrows(() => new SGD([p()], { weightDecay: -1 }), ValueError, ['SGD', 'weightDecay']);
    expectThrows(() => new SGD([p()], { nesterov: true }), ValueError, ['SGD', 'nesterov', 'momentum 0']);
    expectThrows(() => new SGD([p()], { nesterov: true, momentum: 0.9, dampening: 0.1 }), ValueError, ['SGD', 'nesterov', 'dampening 0.1']);
    expectThrows(() => new Adam([p()], { betas: [1, 0.999] }), ValueError, ['Adam', 'betas[0]', 'got 1']);
    expectThrows(() => new AdamW([p()], { betas: [0.9, -0.1] }), ValueError, ['AdamW', 'betas[1]', 'got -0.1']);
    expectThrows(() => new Adam([p()], { eps: -1e-8 }), ValueError, ['Adam', 'eps']);
    expectThrows(() => new Adam([p()], { lr: -1 }), ValueError, ['Adam', 'lr']);
    expectThrows(() => new SGD([{ params: [p()] }, { params: [p()], lr: -2 }]), ValueError, ['SGD', 'lr (param group 1)', 'got -2']);
  });

  it('rejects parameters that are not float leaves requiring grad, naming their index', () => {
    expectThrows(() => new SGD([p(), tensor([1, 2], { dtype: 'int32' })]), DTypeError, ['SGD', 'parameter 1', 'int32']);
    expectThrows(() => new SGD([p(), tensor([1, 2], { dtype: 'float64' })]), ValueError, ['parameter 1', 'requiresGrad']);
    expectThrows(() => new Adam([p(), p().mul(2)]), ValueError, ['Adam', 'parameter 1', 'non-leaf']);
    expectThrows(() => new SGD([]), ValueError, ['SGD', 'empty']);
  });

  it('rejects a parameter in two groups', () => {
    const shared = p();
    expectThrows(() => new SGD([{ params: [p(), shared] }, { params: [shared] }]), ValueError, [
      'parameter 2 (param group 1)',
      'parameter 1 (param group 0)',
      'one group',
    ]);
  });
});

describe('clipGradNorm vs hand-computed norms', () => {
  /** Two leaves with grads [3, 4] and [12] (2-norm 13, 1-norm 19, ∞-norm 12) and one without. */
  function setup(): Tensor[] {
    const a = tensor([0, 0], { dtype: 'float64', requiresGrad: true }),
      b = tensor([0], { dtype: 'float64', requiresGrad: true });
    a.grad = tensor([3, -4], { dtype: 'float64' });
    b.grad = tensor([12], { dtype: 'float64' });
    return [a, b, tensor([0], { dtype: 'float64', requiresGrad: true })];
  }
  const grads = (ps: Tensor[]): number[] => ps.slice(0, 2).flatMap((p) => [...vals(p.grad!)]);

  it('2-norm: returns the total and scales by maxNorm/(total + 1e-6)', () => {
    const ps = setup();
    expect(clipGradNorm(ps, 6.5)).toBe(13);
    const c = 6.5 / (13 + 1e-6);
    expectClose(grads(ps), [3 * c, -4 * c, 12 * c], 1e-15, 1e-15);
  });
  it('1-, 3- and ∞-norms', () => {
    let ps = setup();
    expect(clipGradNorm(ps, 1, 1)).toBe(19);
    expectClose(
      grads(ps),
      [3, -4, 12].map((g) => g / (19 + 1e-6)),
      1e-15,
      1e-15,
    );
    ps = setup();
    expect(clipGradNorm(ps, 100, 3)).toBeCloseTo((27 + 64 + 1728) ** (1 / 3), 12);
    ps = setup();
    expect(clipGradNorm(ps, 6, Infinity)).toBe(12);
    expectClose(
      grads(ps),
      [3, -4, 12].map((g) => (g * 6) / (12 + 1e-6)),
      1e-15,
      1e-15,
    );
  });
  it('leaves grads alone when the norm is within maxNorm, and returns 0 without grads', () => {
    const ps = setup();
    expect(clipGradNorm(ps, 20)).toBe(13);
    expect(grads(ps)).toEqual([3, -4, 12]);
    expect(clipGradNorm([tensor([1], { requiresGrad: true })], 1)).toBe(0);
  });
  it('scales grads that share storage once each', () => {
    const a = tensor([3], { dtype: 'float64', requiresGrad: true }),
      b = tensor([4], { dtype: 'float64', requiresGrad: true });
    a.add(b)
      .mul(tensor([2], { dtype: 'float64' }))
      .sum()
      .backward(); // both grads are [2]
    expect(a.grad!.storage.data).toBe(b.grad!.storage.data); // the premise: one buffer
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(Math.SQRT2 * 2, 14);
    expectClose([...vals(a.grad!), ...vals(b.grad!)], [2 / (2 * Math.SQRT2 + 1e-6), 2 / (2 * Math.SQRT2 + 1e-6)], 1e-15, 1e-15);
  });
  it('non-finite norms: an error with errorIfNonfinite, else returned', () => {
    const ps = setup();
    ps[1].grad = tensor([Infinity], { dtype: 'float64' });
    expectThrows(() => clipGradNorm(ps, 1, 2, { errorIfNonfinite: true }), ValueError, ['clipGradNorm', 'Infinity']);
    ps[1].grad = tensor([NaN], { dtype: 'float64' });
    expectThrows(() => clipGradNorm(ps, 1, 2, { errorIfNonfinite: true }), ValueError, ['NaN']);
    expect(clipGradNorm(ps, 1)).toBeNaN();
  });
});

describe('optimizer steps and autograd version checks', () => {
  const mk = (): Opt[] => [new SGD(makeParams(), { lr: 0.1, momentum: 0.9 }), new Adam(makeParams(), { lr: 0.1 }), new AdamW(makeParams(), { lr: 0.1 })];
  const loss = (ps: readonly Tensor[]): Tensor => ps[0].mul(ps[0]).sum().add(ps[1].exp().sum());
  it('a step after backward writes the parameters in place without tripping the check on the next step', () => {
    for (const opt of mk()) {
      const ps = opt.paramGroups.flatMap((g) => g.params);
      const before = ps.map((p) => p.version.n);
      let first = 0,
        last = 0;
      for (let t = 0; t < 5; t++) {
        opt.zeroGrad();
        const l = loss(ps);
        l.backward();
        opt.step();
        t === 0 ? (first = l.item()) : (last = l.item());
      }
      expect(last).toBeLessThan(first);
      ps.forEach((p, k) => expect(p.version.n).toBeGreaterThan(before[k])); // the steps were in-place writes
    }
  });
  it('backward through a graph retained across a step throws, naming the op that saved the parameter', () => {
    for (const opt of mk()) {
      const ps = opt.paramGroups.flatMap((g) => g.params);
      const l = loss(ps);
      l.backward(undefined, { retainGraph: true });
      opt.step();
      expectThrows(() => l.backward(), TensorError, ['mul backward', 'modified in place']);
    }
  });
});

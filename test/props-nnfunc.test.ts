// Property tests for the composed NN functions (ops/nnfunc.ts): softmax / logSoftmax, the losses
// (crossEntropy, nllLoss, klDiv, mseLoss, binaryCrossEntropyWithLogits), batchNorm and dropout,
// against references written here from the PyTorch F.* definitions, with float64 gradchecks.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  tensor,
  softmax,
  logSoftmax,
  crossEntropy,
  nllLoss,
  klDiv,
  mseLoss,
  binaryCrossEntropyWithLogits,
  batchNorm,
  dropout,
  logsumexp,
  gradcheck,
  grad,
  Generator,
  manualSeed,
  ones,
  zeros,
  ShapeError,
  ValueError,
  DTypeError,
} from '@lad/tensor';
import { expectClose, expectThrows, numel, randT, seedArb, seededValues, vals } from './util/nn-arb.ts';
import {
  COLUMN_MAX_N,
  logSoftmaxBackwardColumns,
  logSoftmaxBackwardPlanes,
  logSoftmaxColumns,
  logSoftmaxPlanes,
} from '../packages/tensor/src/backend/cpu/softmax.ts';

/** Index of element k of the line (o, i) along a dim of size n: shape = [outer, n, inner]. */
const lineIdx = (o: number, k: number, i: number, n: number, inner: number) => (o * n + k) * inner + i;

function splitAt(shape: readonly number[], d: number): [number, number, number] {
  return [numel(shape.slice(0, d)), shape[d], numel(shape.slice(d + 1))];
}

/** log-softmax along `d` in float64 by definition (max-shifted). */
function refLogSoftmax(x: Float64Array, shape: readonly number[], d: number): Float64Array {
  const [outer, n, inner] = splitAt(shape, d),
    out = new Float64Array(x.length);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, x[lineIdx(o, k, i, n, inner)]);
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(x[lineIdx(o, k, i, n, inner)] - m);
      for (let k = 0; k < n; k++) out[lineIdx(o, k, i, n, inner)] = x[lineIdx(o, k, i, n, inner)] - m - Math.log(s);
    }
  return out;
}

/** A small shape (rank 1-4) and a dim in it, possibly negative. */
const shapeDimArb = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
  .chain((shape) => fc.record({ shape: fc.constant(shape), dim: fc.integer({ min: -shape.length, max: shape.length - 1 }) }));

describe('softmax / logSoftmax', () => {
  it('sum to 1 along any dim and match the reference', () => {
    fc.assert(
      fc.property(shapeDimArb, seedArb, ({ shape, dim }, seed) => {
        const x = randT(shape, seed, 'float64', -5, 5);
        const d = dim < 0 ? dim + shape.length : dim;
        const want = refLogSoftmax(vals(x), shape, d);
        const p = softmax(x, dim),
          lp = logSoftmax(x, dim);
        expect(p.shape).toEqual(shape);
        expectClose(lp, want, 1e-12, 1e-10);
        expectClose(p, Array.from(want, Math.exp), 1e-12, 1e-10);
        const s = p.sum(dim);
        expectClose(s, new Float64Array(s.size).fill(1), 1e-12, 0);
        expectClose(x.softmax(dim), p, 0, 0); // method sugar agrees
      }),
      { numRuns: 40 },
    );
  });

  it('stay finite for huge logits (float32)', () => {
    const x = tensor([
      [1000, 0, -1000],
      [-3e38, 3e38, 0],
    ]);
    const p = vals(softmax(x, 1)),
      lp = vals(logSoftmax(x, 1));
    expect(p.every(Number.isFinite)).toBe(true);
    expectClose(p, [1, 0, 0, 0, 1, 0], 1e-6, 0);
    expect(lp[0]).toBe(0);
    expect(lp[1]).toBeCloseTo(-1000, 3);
  });

  it('gradcheck in float64 over any dim', () => {
    fc.assert(
      fc.property(shapeDimArb, seedArb, ({ shape, dim }, seed) => {
        const x = randT(shape, seed, 'float64', -3, 3);
        expect(gradcheck((t) => softmax(t, dim), [x])).toBe(true);
        expect(gradcheck((t) => logSoftmax(t, dim), [x])).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('fused kernels: forward within float32 rounding of the composed ops, backward equal to the rule in ops (createGraph), double backward', () => {
    fc.assert(
      fc.property(shapeDimArb, seedArb, ({ shape, dim }, seed) => {
        const x = randT(shape, seed, 'float64', -4, 4),
          x32 = x.to('float32');
        const composed = x32.sub(logsumexp(x32, dim, true)); // what logSoftmax ran before the fused kernel
        expectClose(logSoftmax(x32, dim), vals(composed), 1e-5, 1e-5);
        const w = randT(shape, seed + 1, 'float64', -1, 1);
        const xg = x.detach().requiresGrad_();
        const [fused] = grad([logSoftmax(xg, dim).mul(w).sum()], [xg]);
        const [inOps] = grad([logSoftmax(xg, dim).mul(w).sum()], [xg], { createGraph: true });
        expectClose(fused!, vals(inOps!), 1e-14, 1e-12);
        // the first derivative is differentiable again (finite differences in float64)
        expect(gradcheck((t) => grad([logSoftmax(t, dim).mul(w).sum()], [t], { createGraph: true })[0]!, [x])).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  /** Each value's bits, any NaN as one (its sign and payload depend on the JIT's operand order, not on the kernel). */
  const bitsOf = (a: Float32Array | Float64Array) =>
    Array.from(a, (v) => (Number.isNaN(v) ? 'NaN' : [...new Uint8Array(new Float64Array([v]).buffer)].join(',')));
  it('the column kernels (short softmax dims) give the plane kernels’ bits, forward (probabilities too) and backward, non-finite values included', () => {
    const special = fc.constantFrom(Number.NaN, Infinity, -Infinity, 0, -0, 88.7, -104, 1e-30);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: COLUMN_MAX_N }),
        fc.integer({ min: 2, max: 40 }),
        fc.boolean(),
        fc.boolean(),
        seedArb,
        fc.array(fc.tuple(fc.nat(), special), { maxLength: 6 }),
        (outer, n, inner, f64, probs, seed, specials) => {
          const len = outer * n * inner,
            x = f64 ? new Float64Array(len) : new Float32Array(len);
          new Generator(seed).fillNormal(x, 0, 6);
          for (const [at, v] of specials) x[at % len] = v;
          const run = (kernel: typeof logSoftmaxColumns) => {
            const y = f64 ? new Float64Array(len) : new Float32Array(len),
              p = probs ? (f64 ? new Float64Array(len) : new Float32Array(len)) : null;
            kernel(x, outer, n, inner, y, p);
            return [...bitsOf(y), ...(p ? bitsOf(p) : [])];
          };
          expect(run(logSoftmaxColumns)).toEqual(run(logSoftmaxPlanes));
          const g = f64 ? new Float64Array(len) : new Float32Array(len),
            p = f64 ? new Float64Array(len) : new Float32Array(len);
          new Generator(seed + 1).fillNormal(g);
          logSoftmaxColumns(x, outer, n, inner, g.slice(), p); // probabilities, non-finite ones too
          for (const [at, v] of specials.slice(3)) g[at % len] = v;
          const back = (kernel: typeof logSoftmaxBackwardColumns) => {
            const gx = f64 ? new Float64Array(len) : new Float32Array(len);
            kernel(g, p, outer, n, inner, gx);
            return bitsOf(gx);
          };
          expect(back(logSoftmaxBackwardColumns)).toEqual(back(logSoftmaxBackwardPlanes));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('non-finite logits: a NaN spoils its line, +∞ gives NaN there and −∞ elsewhere, as torch', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const lp = [
        ...logSoftmax(
          tensor(
            [
              [NaN, 0, 1],
              [Infinity, 0, 1],
              [-Infinity, 0, 0],
            ],
            { dtype },
          ),
          1,
        ).data(),
      ];
      expect(lp.slice(0, 3).every(Number.isNaN)).toBe(true);
      expect(Number.isNaN(lp[3])).toBe(true);
      expect(lp.slice(4, 6)).toEqual([-Infinity, -Infinity]);
      expect(lp[6]).toBe(-Infinity);
      expectClose(tensor(lp.slice(7)), [-Math.LN2, -Math.LN2], 1e-6, 0);
    }
  });

  it('reject a dim out of range and int32 input', () => {
    expectThrows(() => softmax(randT([2, 3], 1), 2), ShapeError, ['dim 2']);
    expectThrows(() => logSoftmax(randT([2, 3], 1), -3), ShapeError, ['-3']);
    expectThrows(() => softmax(tensor([1, 2], { dtype: 'int32' }), 0), DTypeError);
  });
});

// ---- cross-entropy and NLL -----------------------------------------------------------------------

interface CeCase {
  shape: number[];
  targets: number[];
  weight: number[] | null;
  ignoreIndex: number;
  reduction: 'mean' | 'sum' | 'none';
}

/** (N, C) or (N, C, H, W) logits, targets in range or equal to ignoreIndex, optional class weights. */
const ceArb: fc.Arbitrary<CeCase> = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    C: fc.integer({ min: 1, max: 4 }),
    spatial: fc.constantFrom<number[]>([], [1, 1], [2, 3]),
    ignoreIndex: fc.constantFrom(-100, 255, -1, 0),
    weighted: fc.boolean(),
    reduction: fc.constantFrom<'mean' | 'sum' | 'none'>('mean', 'sum', 'none'),
    seed: seedArb,
  })
  .map(({ N, C, spatial, ignoreIndex: ii, weighted, reduction, seed }) => {
    const ignoreIndex = ii === 0 && C === 1 ? -100 : ii; // keep one valid class
    const shape = [N, C, ...spatial];
    const count = N * numel(spatial);
    const r = seededValues(count + C, seed, 0, 1);
    // one target is always valid so that 'mean' has a non-zero denominator
    const targets = Array.from({ length: count }, (_, i) => (i > 0 && r[i] < 0.25 ? ignoreIndex : Math.floor(r[i] * 4 * C) % C));
    if (targets[0] === ignoreIndex) targets[0] = C - 1;
    const weight = weighted ? Array.from({ length: C }, (_, c) => 0.25 + r[count + c]) : null;
    return { shape, targets, weight, ignoreIndex, reduction };
  });

/** F.nll_loss over log-probabilities lp (N, C, S...): −w[t]·lp[n, t, s]; mean divides by Σ w[t]. */
function refNll(lp: Float64Array, c: CeCase): Float64Array {
  const [N, C] = c.shape,
    S = numel(c.shape.slice(2));
  const loss = new Float64Array(N * S);
  let wsum = 0;
  for (let n = 0; n < N; n++)
    for (let s = 0; s < S; s++) {
      const t = c.targets[n * S + s];
      if (t === c.ignoreIndex) continue;
      const w = c.weight ? c.weight[t] : 1;
      loss[n * S + s] = -w * lp[(n * C + t) * S + s];
      wsum += w;
    }
  if (c.reduction === 'none') return loss;
  const total = loss.reduce((a, b) => a + b, 0);
  return Float64Array.of(c.reduction === 'sum' ? total : total / wsum);
}

const targetT = (c: CeCase) => tensor(c.targets, { dtype: 'int32', shape: [c.shape[0], ...c.shape.slice(2)] });
const ceOpts = (c: CeCase) => ({ ignoreIndex: c.ignoreIndex, reduction: c.reduction, weight: c.weight && tensor(c.weight, { dtype: 'float64' }) });

describe('crossEntropy / nllLoss', () => {
  it('match the reference over (N, C) and (N, C, H, W), weights, ignoreIndex and reductions', () => {
    fc.assert(
      fc.property(ceArb, seedArb, (c, seed) => {
        const x = randT(c.shape, seed, 'float64', -3, 3);
        const lp = refLogSoftmax(vals(x), c.shape, 1);
        const want = refNll(lp, c);
        const ce = crossEntropy(x, targetT(c), ceOpts(c));
        expect(ce.shape).toEqual(c.reduction === 'none' ? [c.shape[0], ...c.shape.slice(2)] : []);
        expectClose(ce, want, 1e-12, 1e-10);
        expectClose(nllLoss(logSoftmax(x, 1), targetT(c), ceOpts(c)), want, 1e-12, 1e-10);
        // float32 logits give the same within float32 rounding
        const ce32 = crossEntropy(x.to('float32'), targetT(c), { ...ceOpts(c), weight: c.weight && tensor(c.weight) });
        expect(ce32.dtype).toBe('float32');
        expectClose(ce32, want, 1e-5, 1e-4);
      }),
      { numRuns: 40 },
    );
  });

  it('gradcheck in float64 (input; ignored positions get zero gradient)', () => {
    fc.assert(
      fc.property(ceArb, seedArb, (c, seed) => {
        const x = randT(c.shape, seed, 'float64', -2, 2);
        const t = targetT(c),
          o = ceOpts(c);
        expect(gradcheck((z) => crossEntropy(z, t, o), [x])).toBe(true);
        const xl = x.detach().requiresGrad_();
        crossEntropy(xl, t, { ...o, reduction: 'sum' }).backward();
        const [N, C] = c.shape,
          S = numel(c.shape.slice(2)),
          g = vals(xl.grad!);
        for (let n = 0; n < N; n++)
          for (let s = 0; s < S; s++) {
            if (c.targets[n * S + s] !== c.ignoreIndex) continue;
            for (let k = 0; k < C; k++) expect(g[(n * C + k) * S + s]).toBe(0);
          }
      }),
      { numRuns: 25 },
    );
  });

  it('hand example: uniform logits give log C; all targets ignored with mean gives NaN (PyTorch)', () => {
    const x = zeros([2, 4], { dtype: 'float64' });
    expect(crossEntropy(x, tensor([1, 3], { dtype: 'int32' })).item()).toBeCloseTo(Math.log(4), 12);
    expect(crossEntropy(x, tensor([255, 255], { dtype: 'int32' }), { ignoreIndex: 255 }).item()).toBeNaN();
    expect(crossEntropy(x, tensor([255, 255], { dtype: 'int32' }), { ignoreIndex: 255, reduction: 'sum' }).item()).toBe(0);
  });

  it('an out-of-range target is a ShapeError naming the value', () => {
    const x = randT([2, 3], 1);
    expectThrows(() => crossEntropy(x, tensor([0, 3], { dtype: 'int32' })), ShapeError, ['target value 3', '3 classes']);
    expectThrows(() => crossEntropy(x, tensor([-1, 0], { dtype: 'int32' })), ShapeError, ['-1']);
    expectThrows(() => crossEntropy(x, tensor([255, 0], { dtype: 'int32' }), { ignoreIndex: -1 }), ShapeError, ['255']);
    expectThrows(() => nllLoss(x, tensor([7, 0], { dtype: 'int32' })), ShapeError, ['7']);
  });

  it('rejects float targets, shape mismatches and a bad weight', () => {
    const x = randT([2, 3, 2, 2], 1);
    expectThrows(() => crossEntropy(x, tensor([0, 1])), DTypeError, ['int32']);
    expectThrows(() => crossEntropy(x, tensor([0, 1], { dtype: 'int32' })), ShapeError, ['[2]', '[2, 2, 2]']);
    expectThrows(() => crossEntropy(randT([3], 1), tensor([0], { dtype: 'int32' })), ShapeError);
    expectThrows(() => crossEntropy(randT([2, 3], 1), tensor([0, 1], { dtype: 'int32' }), { weight: ones([2], { dtype: 'float64' }) }), ShapeError, ['[3]']);
    expectThrows(() => crossEntropy(randT([2, 3], 1), tensor([0, 1], { dtype: 'int32' }), { reduction: 'avg' as 'mean' }), ValueError);
  });
});

// ---- KL, MSE, BCE ------------------------------------------------------------------------------

function refKl(x: Float64Array, t: Float64Array, logTarget: boolean): Float64Array {
  return x.map((xi, i) => (logTarget ? Math.exp(t[i]) * (t[i] - xi) : t[i] > 0 ? t[i] * (Math.log(t[i]) - xi) : 0));
}
function reduceRef(l: Float64Array, reduction: string, batch: number): number[] {
  const s = l.reduce((a, b) => a + b, 0);
  if (reduction === 'none') return Array.from(l);
  if (reduction === 'sum') return [s];
  if (reduction === 'batchmean') return [s / batch];
  return [s / l.length];
}

const klArb = fc.record({
  shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
  reduction: fc.constantFrom('none', 'sum', 'mean', 'batchmean') as fc.Arbitrary<'none' | 'sum' | 'mean' | 'batchmean'>,
  logTarget: fc.boolean(),
  seed: seedArb,
});

describe('klDiv', () => {
  it('matches the reference for every reduction, with and without logTarget', () => {
    fc.assert(
      fc.property(klArb, ({ shape, reduction, logTarget, seed }) => {
        const x = logSoftmax(randT(shape, seed, 'float64', -2, 2), -1);
        // probabilities with some exact zeros, or log-probabilities
        const raw = vals(randT(shape, seed + 1, 'float64', -0.5, 1)).map((v) => Math.max(v, 0));
        const t = tensor(logTarget ? raw.map((v) => Math.log(v + 0.1)) : raw, { shape });
        const got = klDiv(x, t, { reduction, logTarget });
        expectClose(got, reduceRef(refKl(vals(x), vals(t), logTarget), reduction, shape[0]), 1e-12, 1e-10);
      }),
      { numRuns: 40 },
    );
  });

  it('zero targets give 0 (not NaN) and a finite input gradient', () => {
    const x = tensor([-1, -2, -0.5], { dtype: 'float64', requiresGrad: true });
    const t = tensor([0, 0.5, 0], { dtype: 'float64' });
    const l = klDiv(x, t, { reduction: 'none' });
    expectClose(l, [0, 0.5 * (Math.log(0.5) + 2), 0], 1e-15, 1e-12);
    klDiv(x, t, { reduction: 'sum' }).backward();
    expectClose(x.grad!, [0, -0.5, 0], 0, 0); // d/dx = −t
    expect(klDiv(x.detach(), zeros([3], { dtype: 'float64' }), { reduction: 'sum' }).item()).toBe(0);
  });

  it('gradcheck in float64 for input and target', () => {
    fc.assert(
      fc.property(klArb, ({ shape, reduction, logTarget, seed }) => {
        const x = randT(shape, seed, 'float64', -2, 0);
        const t = randT(shape, seed + 1, 'float64', logTarget ? -2 : 0.1, logTarget ? 0 : 1); // targets away from 0
        expect(gradcheck((a, b) => klDiv(a, b, { reduction, logTarget }), [x, t])).toBe(true);
      }),
      { numRuns: 20 },
    );
  });
});

describe('mseLoss', () => {
  it('matches the reference and gradcheck', () => {
    fc.assert(
      fc.property(klArb, ({ shape, reduction, seed }) => {
        const r = reduction === 'batchmean' ? 'mean' : reduction;
        const x = randT(shape, seed),
          y = randT(shape, seed + 1);
        const d = vals(x).map((v, i) => (v - vals(y)[i]) ** 2);
        expectClose(mseLoss(x, y, { reduction: r }), reduceRef(d, r, shape[0]), 1e-12, 1e-10);
        expect(gradcheck((a, b) => mseLoss(a, b, { reduction: r }), [x, y])).toBe(true);
      }),
      { numRuns: 20 },
    );
    expect(mseLoss(tensor([1, 2, 3]), tensor([1, 2, 5])).item()).toBeCloseTo(4 / 3, 6);
  });
});

describe('binaryCrossEntropyWithLogits', () => {
  /** log(1 + e^x) computed stably. */
  const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
  /** PyTorch: (1 − t)·x + (1 + (pw − 1)·t)·softplus(−x); without pw this is softplus(x) − x·t. */
  const ref = (x: number, t: number, pw = 1) => (1 - t) * x + (1 + (pw - 1) * t) * softplus(-x);

  it('matches the reference (with and without posWeight) and gradcheck', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 6 }), fc.boolean(), (seed, n, withPw) => {
        const x = randT([2, n], seed, 'float64', -6, 6),
          t = randT([2, n], seed + 1, 'float64', 0, 1);
        const pw = withPw ? randT([n], seed + 2, 'float64', 0.5, 3) : null;
        const pwv = pw ? vals(pw) : null;
        const want = vals(x).map((v, i) => ref(v, vals(t)[i], pwv ? pwv[i % n] : 1));
        expectClose(binaryCrossEntropyWithLogits(x, t, { reduction: 'none', posWeight: pw }), want, 1e-12, 1e-10);
        expectClose(binaryCrossEntropyWithLogits(x, t, { posWeight: pw }), [want.reduce((a, b) => a + b, 0) / want.length], 1e-12, 1e-10);
        expect(gradcheck((a, b) => binaryCrossEntropyWithLogits(a, b, { posWeight: pw }), [x, t])).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('is stable at large |x| (values and gradients)', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = tensor([1000, -1000, 1000, -1000, 80, -80], { dtype, requiresGrad: true });
      const t = tensor([0, 1, 1, 0, 0, 1], { dtype });
      const l = binaryCrossEntropyWithLogits(x, t, { reduction: 'none' });
      expectClose(l, [1000, 1000, 0, 0, 80, 80], 1e-4, 1e-6);
      binaryCrossEntropyWithLogits(x, t, { reduction: 'sum' }).backward();
      expectClose(x.grad!, [1, -1, 0, 0, 1, -1], 1e-6, 0); // σ(x) − t
      const lw = binaryCrossEntropyWithLogits(x.detach(), t, { reduction: 'none', posWeight: tensor([2, 2, 2, 2, 2, 2], { dtype }) });
      expectClose(lw, [1000, 2000, 0, 0, 80, 160], 1e-4, 1e-6);
    }
  });
});

// ---- batch norm --------------------------------------------------------------------------------

const bnArb = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    C: fc.integer({ min: 1, max: 3 }),
    spatial: fc.constantFrom<number[]>([], [2], [2, 3]),
    momentum: fc.constantFrom(0.1, 0.5, 1),
    affine: fc.boolean(),
    seed: seedArb,
  })
  .filter(({ N, spatial }) => N * numel(spatial) > 1);

/** Per-channel batch stats of x (N, C, S...): mean, biased var, unbiased var. */
function channelStats(x: Float64Array, shape: readonly number[]) {
  const [N, C] = shape,
    S = numel(shape.slice(2)),
    m = N * S;
  const mean = new Float64Array(C),
    vb = new Float64Array(C),
    vu = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let k = 0; k < S; k++) s += x[(n * C + c) * S + k];
    mean[c] = s / m;
    let q = 0;
    for (let n = 0; n < N; n++) for (let k = 0; k < S; k++) q += (x[(n * C + c) * S + k] - mean[c]) ** 2;
    vb[c] = q / m;
    vu[c] = q / (m - 1);
  }
  return { mean, vb, vu, S };
}

describe('batchNorm', () => {
  it('training: normalises with batch stats, updates running stats with unbiased var and momentum', () => {
    fc.assert(
      fc.property(bnArb, ({ N, C, spatial, momentum, affine, seed }) => {
        const shape = [N, C, ...spatial],
          eps = 1e-5;
        const x = randT(shape, seed, 'float64', -2, 3);
        const w = affine ? randT([C], seed + 1, 'float64', 0.5, 2) : null,
          b = affine ? randT([C], seed + 2) : null;
        const rm0 = randT([C], seed + 3),
          rv0 = randT([C], seed + 4, 'float64', 0.5, 2);
        const rm = rm0.clone(),
          rv = rv0.clone();
        const y = batchNorm(x, rm, rv, w, b, { training: true, momentum, eps });
        const { mean, vb, vu, S } = channelStats(vals(x), shape);
        const xv = vals(x),
          want = new Float64Array(xv.length);
        for (let i = 0; i < xv.length; i++) {
          const c = Math.floor(i / S) % C;
          want[i] = ((xv[i] - mean[c]) / Math.sqrt(vb[c] + eps)) * (w ? vals(w)[c] : 1) + (b ? vals(b)[c] : 0);
        }
        expectClose(y, want, 1e-10, 1e-9);
        expectClose(
          rm,
          vals(rm0).map((v, c) => (1 - momentum) * v + momentum * mean[c]),
          1e-12,
          1e-10,
        );
        expectClose(
          rv,
          vals(rv0).map((v, c) => (1 - momentum) * v + momentum * vu[c]),
          1e-12,
          1e-10,
        );
        expect(rm.requiresGrad).toBe(false);
        // float32 input and running stats agree within float32 rounding
        const rm32 = rm0.to('float32'),
          rv32 = rv0.to('float32');
        const y32 = batchNorm(x.to('float32'), rm32, rv32, w && w.to('float32'), b && b.to('float32'), { training: true, momentum, eps });
        expect(y32.dtype).toBe('float32');
        expectClose(y32, want, 1e-4, 1e-4);
        expectClose(rm32, vals(rm), 1e-5, 1e-5);
        expectClose(rv32, vals(rv), 1e-4, 1e-4);
      }),
      { numRuns: 30 },
    );
  });

  it('training: the one-loop running-stat update on dense CPU stats gives the bits of the composed ops (strided stats)', () => {
    fc.assert(
      fc.property(bnArb, ({ N, C, spatial, momentum, seed }) => {
        for (const dtype of ['float32', 'float64'] as const) {
          const x = randT([N, C, ...spatial], seed, dtype, -2, 3);
          const rm0 = randT([C], seed + 3, dtype),
            rv0 = randT([C], seed + 4, dtype, 0.5, 2);
          const dense = [rm0.clone(), rv0.clone()];
          // every other element of a [2C] buffer: not dense, so the update runs as ops (copy_)
          const strided = [rm0, rv0].map((t) => zeros([C, 2], { dtype }).select(1, 0).copy_(t));
          const ver = strided.map((t) => t.version.n);
          batchNorm(x, dense[0], dense[1], null, null, { training: true, momentum });
          batchNorm(x, strided[0], strided[1], null, null, { training: true, momentum });
          for (let k = 0; k < 2; k++) {
            expect([...dense[k].data()]).toEqual([...strided[k].data()]);
            expect(dense[k].version.n).toBe(1);
            expect(strided[k].version.n).toBe(ver[k] + 1);
          }
        }
      }),
      { numRuns: 20 },
    );
  });

  it("activation 'relu': the fused kernels give the bits of batchNorm then relu, forward and backward, in training and eval", () => {
    fc.assert(
      fc.property(bnArb, ({ N, C, spatial, momentum, affine, seed }) => {
        for (const dtype of ['float32', 'float64'] as const)
          for (const training of [true, false]) {
            const x = randT([N, C, ...spatial], seed, dtype, -2, 3),
              gy = randT([N, C, ...spatial], seed + 5, dtype);
            const w = affine ? randT([C], seed + 1, dtype, -1, 2) : null,
              b = affine ? randT([C], seed + 2, dtype) : null;
            const run = (fused: boolean) => {
              const rm = randT([C], seed + 3, dtype),
                rv = randT([C], seed + 4, dtype, 0.5, 2);
              const [xx, ww, bb] = [x, w, b].map((t) => t && t.detach().requiresGrad_());
              const o = { training, momentum, eps: 1e-5 };
              const y = fused ? batchNorm(xx!, rm, rv, ww, bb, { ...o, activation: 'relu' }) : batchNorm(xx!, rm, rv, ww, bb, o).relu();
              y.backward(gy);
              return [y, rm, rv, xx!.grad!, ...(affine ? [ww!.grad!, bb!.grad!] : [])].map((t) => [...t.data()]);
            };
            const [fused, plain] = [run(true), run(false)];
            fused.forEach((got, i) => expect(got).toEqual(plain[i]));
          }
      }),
      { numRuns: 20 },
    );
  });

  it("activation 'relu': gradcheck in float64; double backward through the composed reference, with a frozen weight and bias", () => {
    fc.assert(
      fc.property(bnArb, ({ N, C, spatial, seed }) => {
        const shape = [N, C, ...spatial];
        const x = randT(shape, seed, 'float64', -2, 2),
          w = randT([C], seed + 1, 'float64', 0.5, 2),
          b = randT([C], seed + 2);
        const f = (a: Tensor, ww: Tensor, bb: Tensor) => batchNorm(a, null, null, ww, bb, { training: true, activation: 'relu' });
        expect(gradcheck(f, [x, w, b], { atol: 1e-5, rtol: 1e-3 })).toBe(true);
        const gy = randT(shape, seed + 3);
        for (const activation of [null, 'relu'] as const) {
          // w and b do not require grad here
          const g = (a: Tensor) => grad([batchNorm(a, null, null, w, b, { training: true, activation })], [a], { gradOutputs: [gy], createGraph: true })[0]!;
          expect(gradcheck(g, [x], { atol: 1e-5, rtol: 1e-3 })).toBe(true);
        }
      }),
      { numRuns: 10 },
    );
    expectThrows(() => batchNorm(randT([2, 3], 1), null, null, null, null, { training: true, activation: 'gelu' as 'relu' }), ValueError, [
      'activation',
      'gelu',
    ]);
  });

  it('eval: uses the running stats and leaves them unchanged', () => {
    fc.assert(
      fc.property(bnArb, ({ N, C, spatial, affine, seed }) => {
        const shape = [N, C, ...spatial],
          eps = 1e-3;
        const x = randT(shape, seed),
          rm = randT([C], seed + 1),
          rv = randT([C], seed + 2, 'float64', 0.5, 2);
        const w = affine ? randT([C], seed + 3) : null,
          b = affine ? randT([C], seed + 4) : null;
        const before = [vals(rm), vals(rv)];
        const y = batchNorm(x, rm, rv, w, b, { training: false, eps });
        const S = numel(spatial),
          xv = vals(x);
        const want = xv.map((v, i) => {
          const c = Math.floor(i / S) % C;
          return ((v - before[0][c]) / Math.sqrt(before[1][c] + eps)) * (w ? vals(w)[c] : 1) + (b ? vals(b)[c] : 0);
        });
        expectClose(y, want, 1e-12, 1e-10);
        expectClose(rm, before[0], 0, 0);
        expectClose(rv, before[1], 0, 0);
      }),
      { numRuns: 20 },
    );
  });

  it('gradcheck in training mode for input, weight and bias', () => {
    fc.assert(
      fc.property(bnArb, ({ N, C, spatial, seed }) => {
        const shape = [N, C, ...spatial];
        const x = randT(shape, seed, 'float64', -2, 2),
          w = randT([C], seed + 1, 'float64', 0.5, 2),
          b = randT([C], seed + 2);
        expect(gradcheck((a, ww, bb) => batchNorm(a, null, null, ww, bb, { training: true }), [x, w, b], { atol: 1e-5, rtol: 1e-3 })).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  it('errors: one value per channel in training, missing running stats in eval, bad shapes', () => {
    expectThrows(() => batchNorm(randT([1, 3], 1), null, null, null, null, { training: true }), ValueError, ['more than 1 value']);
    expectThrows(() => batchNorm(randT([2, 3], 1), null, null, null, null, { training: false }), ValueError, ['running']);
    expectThrows(() => batchNorm(randT([2, 3], 1), randT([2], 1), randT([3], 1), null, null), ShapeError, ['runningMean', '[3]', '[2]']);
    expectThrows(() => batchNorm(randT([3], 1), null, null, null, null, { training: true }), ShapeError);
  });
});

// ---- dropout -----------------------------------------------------------------------------------

describe('dropout', () => {
  it('same seed, same mask; different seeds differ; kept values are scaled by 1/(1−p)', () => {
    fc.assert(
      fc.property(seedArb, fc.constantFrom(0.1, 0.5, 0.8), (seed, p) => {
        const x = randT([64], seed, 'float64', 1, 2);
        const a = vals(dropout(x, p, true, new Generator(seed)));
        const b = vals(dropout(x, p, true, new Generator(seed)));
        expect(Array.from(a)).toEqual(Array.from(b));
        const c = vals(dropout(x, p, true, new Generator(seed + 1)));
        expect(Array.from(c)).not.toEqual(Array.from(a));
        const xv = vals(x);
        a.forEach((v, i) => {
          if (v !== 0) expect(v).toBeCloseTo(xv[i] / (1 - p), 12);
        });
        // the default generator follows manualSeed
        manualSeed(seed);
        const d = vals(dropout(x, p));
        manualSeed(seed);
        expect(Array.from(vals(dropout(x, p)))).toEqual(Array.from(d));
      }),
      { numRuns: 20 },
    );
  });

  it('drops about a fraction p and keeps the mean', () => {
    const x = ones([20000], { dtype: 'float64' });
    for (const p of [0.2, 0.5, 0.9]) {
      const y = vals(dropout(x, p, true, new Generator(42)));
      const kept = y.filter((v) => v !== 0).length / y.length;
      expect(Math.abs(kept - (1 - p))).toBeLessThan(0.02);
      expect(Math.abs(y.reduce((a, b) => a + b, 0) / y.length - 1)).toBeLessThan(0.1);
    }
  });

  it('identity for p = 0 and in eval; zeros for p = 1; gradient is the mask times the scale', () => {
    const x = randT([3, 4], 5);
    expect(dropout(x, 0)).toBe(x);
    expect(dropout(x, 0.7, false)).toBe(x);
    expectClose(dropout(x, 1), new Float64Array(12), 0, 0);
    const xl = x.detach().requiresGrad_();
    const y = dropout(xl, 0.5, true, new Generator(3));
    y.sum().backward();
    const yv = vals(y);
    expectClose(
      xl.grad!,
      yv.map((v) => (v !== 0 ? 2 : 0)),
      0,
      0,
    );
  });

  it('p outside [0, 1] is a ValueError', () => {
    const x = randT([3], 1);
    for (const p of [-0.1, 1.5, Number.NaN]) expectThrows(() => dropout(x, p), ValueError, ['[0, 1]']);
    expectThrows(() => dropout(tensor([1], { dtype: 'int32' }), 0.5), DTypeError);
  });
});

describe('softmax / logSoftmax / logsumexp on empty inputs', () => {
  it('give an empty output (softmax) or -inf (logsumexp over an empty dim), as torch does, never an amax error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (m, n, keepdim) => {
        fc.pre(m * n === 0);
        const x = zeros([m, n]);
        expect(softmax(x, 1).shape).toEqual([m, n]);
        expect(logSoftmax(x, 0).shape).toEqual([m, n]);
        const l = logsumexp(x, 1, keepdim);
        expect(l.shape).toEqual(keepdim ? [m, 1] : [m]);
        expect([...l.data()].every((v) => v === -Infinity)).toBe(n === 0 || m === 0);
      }),
      { numRuns: 30 },
    );
  });
});

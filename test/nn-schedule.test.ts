// LR schedule tests: each schedule's lr sequence against its closed form written out here, the
// LRScheduler driving an optimizer's groups, resuming from stateDict, and argument errors.

import { describe, expect, it } from 'vitest';
import { Tensor, ValueError, tensor } from '@lad/tensor';
import { LRScheduler, SGD, chain, cosine, linearWarmup, poly, sequential, stepDecay, type Schedule } from '../packages/nn/src/optim/index.ts';
import { expectThrows } from './util/nn-arb.ts';

const lrs = (f: Schedule, n: number, base = 0.1): number[] => Array.from({ length: n }, (_, i) => f(i, base));
const close = (got: number[], want: number[]): void => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]), `iter ${i}: got ${g}, want ${want[i]}`).toBeLessThanOrEqual(1e-15));
};
const leaf = (): Tensor => tensor([1, 2], { dtype: 'float64', requiresGrad: true });

describe('schedules vs closed forms', () => {
  it('poly: base·(1 − it/max)^power, and with minLr, held after maxIters', () => {
    close(
      lrs(poly({ power: 0.9, maxIters: 10 }), 13),
      [...Array(13).keys()].map((i) => 0.1 * (1 - Math.min(i, 10) / 10) ** 0.9),
    );
    close(lrs(poly({ power: 1, maxIters: 4, minLr: 0.01 }), 6), [0.1, 0.0775, 0.055, 0.0325, 0.01, 0.01]);
  });
  it('stepDecay: base·γ^⌊it/stepSize⌋', () => {
    close(lrs(stepDecay({ stepSize: 3, gamma: 0.5 }), 8), [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]);
    close(lrs(stepDecay({ stepSize: 2 }), 5), [0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1 ** 2]);
  });
  it('cosine: η_min + (base − η_min)(1 + cos(π·it/tMax))/2', () => {
    close(lrs(cosine({ tMax: 4, etaMin: 0.02 }), 5), [0.1, 0.02 + 0.04 * (1 + Math.SQRT1_2), 0.06, 0.02 + 0.04 * (1 - Math.SQRT1_2), 0.02]);
    close(lrs(cosine({ tMax: 2 }), 3, 1), [1, 0.5, 0]);
  });
  it('linearWarmup: from startFactor·base up to base over warmupIters, then base', () => {
    close(lrs(linearWarmup({ warmupIters: 4, startFactor: 0.2 }), 7, 1), [0.2, 0.4, 0.6, 0.8, 1, 1, 1]);
    close(lrs(linearWarmup({ warmupIters: 2 }), 3, 3), [1, 2, 3]); // default startFactor 1/3, as torch LinearLR
  });
  it('sequential: warmup, then poly counted from the milestone', () => {
    const f = sequential([linearWarmup({ warmupIters: 3, startFactor: 0.25 }), poly({ power: 2, maxIters: 4 })], [3]);
    close(lrs(f, 9, 1), [0.25, 0.5, 0.75, 1, 0.5625, 0.25, 0.0625, 0, 0]);
  });
  it('chain: warmup factor times poly factor', () => {
    const f = chain([linearWarmup({ warmupIters: 2, startFactor: 0.5 }), poly({ power: 1, maxIters: 4 })]);
    close(lrs(f, 5, 1), [0.5 * 1, 0.75 * 0.75, 1 * 0.5, 1 * 0.25, 0]);
  });
  it('rejects bad arguments', () => {
    expectThrows(() => poly({ power: 1, maxIters: 0 }), ValueError, ['poly', 'maxIters', 'got 0']);
    expectThrows(() => stepDecay({ stepSize: -1 }), ValueError, ['stepDecay', 'stepSize']);
    expectThrows(() => cosine({ tMax: NaN }), ValueError, ['cosine', 'tMax']);
    expectThrows(() => linearWarmup({ warmupIters: 5, startFactor: 0 }), ValueError, ['linearWarmup', 'startFactor']);
    expectThrows(() => sequential([poly({ power: 1, maxIters: 2 })], [3]), ValueError, ['sequential', 'milestones']);
    expectThrows(() => sequential([cosine({ tMax: 2 }), cosine({ tMax: 2 }), cosine({ tMax: 2 })], [4, 4]), ValueError, ['milestones[1]', 'got 4']);
  });
});

describe('LRScheduler', () => {
  it('sets lr(0) on construction and lr(k) after k steps, per group from its base lr', () => {
    const opt = new SGD([{ params: [leaf()] }, { params: [leaf()], lr: 0.5 }], { lr: 0.1 });
    const f = poly({ power: 0.9, maxIters: 5 });
    const sched = new LRScheduler(opt, f);
    expect(sched.baseLrs).toEqual([0.1, 0.5]);
    for (let k = 0; k <= 6; k++) {
      const want = [f(k, 0.1), f(k, 0.5)];
      expect(opt.paramGroups.map((g) => g.lr)).toEqual(want);
      expect(sched.getLr()).toEqual(want);
      sched.step();
    }
  });

  it('takes one schedule per group', () => {
    const opt = new SGD([{ params: [leaf()] }, { params: [leaf()] }], { lr: 1 });
    const sched = new LRScheduler(opt, [stepDecay({ stepSize: 1, gamma: 0.5 }), cosine({ tMax: 2 })]);
    sched.step();
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.5, 0.5]);
    sched.step();
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.25, 0]);
    expectThrows(() => new LRScheduler(opt, [cosine({ tMax: 2 })]), ValueError, ['LRScheduler', 'got 1 schedules', 'one or 2']);
  });

  it('the optimizer steps with the scheduled lr', () => {
    const p = tensor([1], { dtype: 'float64', requiresGrad: true });
    const opt = new SGD([p], { lr: 1 });
    const sched = new LRScheduler(opt, stepDecay({ stepSize: 1, gamma: 0.5 }));
    let want = 1;
    for (let k = 0; k < 4; k++) {
      p.grad = tensor([1], { dtype: 'float64' });
      opt.step();
      want -= 0.5 ** k;
      sched.step();
    }
    expect(p.item()).toBe(want);
  });

  it('resumes from stateDict: the same lrs as an uninterrupted run', () => {
    const make = (): [SGD, () => LRScheduler] => {
      const opt = new SGD([{ params: [leaf()] }, { params: [leaf()], lr: 0.3 }], { lr: 0.1, momentum: 0.9 });
      const f = sequential([linearWarmup({ warmupIters: 3 }), poly({ power: 0.9, maxIters: 9 })], [3]);
      return [opt, () => new LRScheduler(opt, f)];
    };
    const [optA, schedA] = make();
    const a = schedA();
    const seqA: number[][] = [];
    for (let k = 0; k < 12; k++) {
      seqA.push(optA.paramGroups.map((g) => g.lr));
      a.step();
    }

    const [optB, schedB] = make();
    const b = schedB();
    for (let k = 0; k < 7; k++) b.step();
    const saved = { opt: optB.stateDict(), sched: b.stateDict() };
    expect(saved.sched).toEqual({ iter: 7, baseLrs: [0.1, 0.3] });

    // A fresh run: the optimizer is loaded first (its groups now hold the lr of iteration 7),
    // then the scheduler is built and loaded.
    const [optC, schedC] = make();
    optC.loadStateDict(saved.opt);
    const c = schedC();
    c.loadStateDict(saved.sched);
    const seqC: number[][] = [];
    for (let k = 7; k < 12; k++) {
      seqC.push(optC.paramGroups.map((g) => g.lr));
      c.step();
    }
    expect(seqC).toEqual(seqA.slice(7));
    expectThrows(() => c.loadStateDict({ iter: 2, baseLrs: [0.1] }), ValueError, ['baseLrs', 'got 1 values, expected 2']);
    expectThrows(() => c.loadStateDict({ iter: -1, baseLrs: [0.1, 0.3] }), ValueError, ['iter', 'got -1']);
  });
});

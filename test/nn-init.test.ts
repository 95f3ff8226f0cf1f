// Tests for @lad/nn's init (packages/nn/src/init.ts) against torch.nn.init's formulas: fans,
// gains, the Kaiming/Xavier bounds and spreads on large tensors (loose tolerances), seeding
// through a Generator or the default one, and each layer's PyTorch default init.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DTypeError, Generator, ShapeError, Tensor, manualSeed, zeros } from '@lad/tensor';
import { BatchNorm2d, Conv2d, Linear, init, parameter } from '@lad/nn';
import { expectThrows, vals } from './util/nn-arb.ts';

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const v = vals(t);
  let s = 0,
    s2 = 0,
    min = Infinity,
    max = -Infinity;
  for (const x of v) {
    s += x;
    s2 += x * x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(s2 / v.length - mean * mean), min, max };
}

describe('fans and gains', () => {
  it('computes fanIn / fanOut as PyTorch: size(1)·receptive, size(0)·receptive', () => {
    expect(init.calculateFanInAndFanOut(zeros([5, 3]))).toEqual({ fanIn: 3, fanOut: 5 });
    expect(init.calculateFanInAndFanOut(zeros([8, 4, 3, 5]))).toEqual({ fanIn: 60, fanOut: 120 });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 5 }), (shape) => {
        const rf = shape.slice(2).reduce((a, b) => a * b, 1);
        expect(init.calculateFanInAndFanOut(zeros(shape))).toEqual({ fanIn: shape[1] * rf, fanOut: shape[0] * rf });
      }),
    );
    expectThrows(() => init.calculateFanInAndFanOut(zeros([4])), ShapeError, ['at least 2 dims', '[4]']);
  });

  it('gives torch.nn.init.calculate_gain values', () => {
    expect(init.calculateGain('linear')).toBe(1);
    expect(init.calculateGain('conv2d')).toBe(1);
    expect(init.calculateGain('sigmoid')).toBe(1);
    expect(init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(init.calculateGain('leakyRelu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 12);
    expect(init.calculateGain('leakyRelu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(init.calculateGain('selu')).toBe(0.75);
  });
});

describe('random init distributions (large tensors, loose tolerances)', () => {
  const g = () => new Generator(42);

  it('kaimingUniform_: U(±gain·√(3/fanIn))', () => {
    const t = init.kaimingUniform_(zeros([128, 64, 3, 3]), { nonlinearity: 'relu', generator: g() }); // fanIn 576
    const bound = Math.SQRT2 * Math.sqrt(3 / 576),
      s = stats(t);
    expect(s.max).toBeLessThanOrEqual(bound);
    expect(s.min).toBeGreaterThanOrEqual(-bound);
    expect(s.max).toBeGreaterThan(0.99 * bound);
    expect(Math.abs(s.mean)).toBeLessThan(0.01 * bound);
    expect(s.std / (bound / Math.sqrt(3))).toBeCloseTo(1, 1);
  });

  it('kaimingNormal_ with mode fanOut: N(0, 2/fanOut) for relu', () => {
    const t = init.kaimingNormal_(zeros([64, 128, 3, 3]), { mode: 'fanOut', nonlinearity: 'relu', generator: g() }); // fanOut 576
    const s = stats(t),
      std = Math.sqrt(2 / 576);
    expect(Math.abs(s.std / std - 1)).toBeLessThan(0.02);
    expect(Math.abs(s.mean)).toBeLessThan(0.02 * std);
  });

  it('xavierUniform_ and xavierNormal_ with a gain: std = gain·√(2/(fanIn+fanOut))', () => {
    const u = init.xavierUniform_(zeros([300, 200]), { gain: 2, generator: g() });
    const a = 2 * Math.sqrt(6 / 500),
      su = stats(u);
    expect(su.max).toBeLessThanOrEqual(a);
    expect(su.min).toBeGreaterThanOrEqual(-a);
    expect(su.max).toBeGreaterThan(0.99 * a);
    const n = init.xavierNormal_(zeros([300, 200], { dtype: 'float64' }), { gain: 0.5, generator: g() });
    expect(n.dtype).toBe('float64');
    expect(Math.abs(stats(n).std / (0.5 * Math.sqrt(2 / 500)) - 1)).toBeLessThan(0.02);
  });

  it('normal_, uniform_ and the constants', () => {
    const n = stats(init.normal_(zeros([100000]), 3, 0.5, { generator: g() }));
    expect(n.mean).toBeCloseTo(3, 2);
    expect(n.std).toBeCloseTo(0.5, 2);
    const u = stats(init.uniform_(zeros([100000]), -2, 5, { generator: g() }));
    expect(u.min).toBeGreaterThanOrEqual(-2);
    expect(u.max).toBeLessThan(5);
    expect(u.mean).toBeCloseTo(1.5, 1);
    // constants fill parameters in place without touching autograd state
    const p = parameter(zeros([2, 3]));
    expect(init.constant_(p, 0.25)).toBe(p);
    expect(Array.from(vals(p))).toEqual(new Array(6).fill(0.25));
    expect(Array.from(vals(init.ones_(p)))).toEqual(new Array(6).fill(1));
    expect(Array.from(vals(init.zeros_(p)))).toEqual(new Array(6).fill(0));
    expect(p.requiresGrad && p.isLeaf).toBe(true);
    expectThrows(() => init.uniform_(zeros([2], { dtype: 'int32' })), DTypeError, ['uniform_', 'int32']);
  });

  it('is reproducible through an explicit Generator or the seeded default one', () => {
    const a = init.kaimingNormal_(zeros([10, 10]), { generator: new Generator(5) });
    const b = init.kaimingNormal_(zeros([10, 10]), { generator: new Generator(5) });
    expect(vals(a)).toEqual(vals(b));
    manualSeed(9);
    const c = init.xavierUniform_(zeros([10, 10]));
    manualSeed(9);
    expect(vals(init.xavierUniform_(zeros([10, 10])))).toEqual(vals(c));
  });
});

describe('default layer init (PyTorch reset_parameters)', () => {
  it('Linear: weight and bias in U(±1/√in)', () => {
    const lin = new Linear(50, 400, { generator: new Generator(1) });
    const bound = 1 / Math.sqrt(50),
      w = stats(lin.weight),
      b = stats(lin.bias!);
    expect(Math.max(w.max, -w.min)).toBeLessThanOrEqual(bound);
    expect(w.max).toBeGreaterThan(0.98 * bound);
    expect(Math.abs(w.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.03);
    expect(Math.max(b.max, -b.min)).toBeLessThanOrEqual(bound);
    expect(b.max).toBeGreaterThan(0.9 * bound);
  });

  it('Conv2d: fanIn = (C/groups)·kH·kW, with groups', () => {
    const conv = new Conv2d(8, 64, [3, 5], { groups: 2, generator: new Generator(2) }); // fanIn 4·15 = 60
    const bound = 1 / Math.sqrt(60),
      w = stats(conv.weight),
      b = stats(conv.bias!);
    expect(Math.max(w.max, -w.min)).toBeLessThanOrEqual(bound);
    expect(w.max).toBeGreaterThan(0.98 * bound);
    expect(Math.max(b.max, -b.min)).toBeLessThanOrEqual(bound);
    expect(b.max).toBeGreaterThan(0.8 * bound);
  });

  it('BatchNorm2d: weight ones, bias zeros, running mean 0 and var 1', () => {
    const bn = new BatchNorm2d(3);
    expect(Array.from(vals(bn.weight!))).toEqual([1, 1, 1]);
    expect(Array.from(vals(bn.bias!))).toEqual([0, 0, 0]);
    expect(Array.from(vals(bn.runningMean!))).toEqual([0, 0, 0]);
    expect(Array.from(vals(bn.runningVar!))).toEqual([1, 1, 1]);
    expect(bn.numBatchesTracked!.dtype).toBe('int32');
  });

  it('layers built after the same seed are identical', () => {
    manualSeed(123);
    const a = new Conv2d(3, 4, 3);
    manualSeed(123);
    const b = new Conv2d(3, 4, 3);
    expect(vals(a.weight)).toEqual(vals(b.weight));
    expect(vals(a.bias!)).toEqual(vals(b.bias!));
  });
});

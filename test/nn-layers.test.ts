// Tests for @lad/nn's layers: each forward and gradient against a hand-computed case or the
// @lad/tensor functional form (Linear, Conv2d with every option, BatchNorm2d train/eval and its
// running statistics, activations, Dropout/Dropout2d seeding, Upsample), plus F.linear/dropout2d.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Generator, Tensor, ShapeError, ValueError, gradcheck, noGrad, ones, randn, tensor, zeros } from '@lad/tensor';
import { BatchNorm2d, Conv2d, Dropout, Dropout2d, F, Identity, Linear, ReLU, Sigmoid, Upsample } from '@lad/nn';
import { expectClose, expectThrows, randT, seedArb, vals } from './util/nn-arb.ts';

/** The elements as a plain array (for toEqual against literals). */
const arr = (t: Tensor): number[] => Array.from(vals(t));

/** Overwrites a module tensor in place (parameters need noGrad for copy_). */
const set = (t: Tensor | null, v: Tensor) => noGrad(() => t!.copy_(v));

describe('Linear', () => {
  it('computes x·Wᵀ + b and its gradients by hand', () => {
    const lin = new Linear(2, 3);
    set(
      lin.weight,
      tensor([
        [1, 2],
        [0, -1],
        [3, 0.5],
      ]),
    );
    set(lin.bias, tensor([0.5, 0, -1]));
    const x = tensor([
      [1, 1],
      [2, -1],
    ]);
    const y = lin.forward(x); // (2, 3)
    expect(y.toArray()).toEqual([
      [3.5, -1, 2.5],
      [0.5, 1, 4.5],
    ]);
    y.sum().backward();
    expect(lin.weight.grad!.toArray()).toEqual([
      [3, 0],
      [3, 0],
      [3, 0],
    ]); // Σ_n x[n] per row
    expect(lin.bias!.grad!.toArray()).toEqual([2, 2, 2]);
  });

  it('maps any leading dims, checks the feature count, and gradchecks in float64', () => {
    const lin = new Linear(4, 2, { dtype: 'float64', bias: false });
    expect(lin.bias).toBeNull();
    expect(lin.forward(randn([2, 3, 4], { dtype: 'float64' })).shape).toEqual([2, 3, 2]);
    expectThrows(() => lin.forward(randn([2, 3], { dtype: 'float64' })), ShapeError, ['linear', '3 features', 'expected 4']);
    const x = randT([3, 4], 1),
      w = randT([2, 4], 2),
      b = randT([2], 3);
    expect(gradcheck((x, w, b) => F.linear(x, w, b), [x, w, b])).toBe(true);
  });
});

describe('Conv2d', () => {
  const optsArb = fc.record({
    k: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 2 }),
    padding: fc.integer({ min: 0, max: 2 }),
    dilation: fc.integer({ min: 1, max: 2 }),
    groups: fc.constantFrom(1, 2),
    bias: fc.boolean(),
  });

  it('matches F.conv2d (forward and gradients) for every option', () => {
    fc.assert(
      fc.property(optsArb, seedArb, (o, seed) => {
        const conv = new Conv2d(4, 2, [o.k, 3], {
          stride: o.stride,
          padding: o.padding,
          dilation: o.dilation,
          groups: o.groups,
          bias: o.bias,
          generator: new Generator(seed),
        });
        expect(conv.weight.shape).toEqual([2, 4 / o.groups, o.k, 3]);
        const x = randT([2, 4, 7, 7], seed, 'float32');
        const y = conv.forward(x);
        const w = conv.weight.detach().requiresGrad_(),
          b = conv.bias?.detach().requiresGrad_() ?? null;
        const ref = F.conv2d(x, w, b, { stride: o.stride, padding: o.padding, dilation: o.dilation, groups: o.groups });
        expect(arr(y)).toEqual(arr(ref));
        y.sum().backward();
        ref.sum().backward();
        expect(arr(conv.weight.grad!)).toEqual(arr(w.grad!));
        if (b) expect(arr(conv.bias!.grad!)).toEqual(arr(b.grad!));
      }),
      { numRuns: 25 },
    );
  });

  it("padding 'same' keeps H and W (odd and even kernels) and equals explicit padding when symmetric", () => {
    const x = randn([1, 2, 5, 6]);
    for (const [k, d] of [
      [3, 1],
      [2, 1],
      [4, 1],
      [3, 2],
      [2, 3],
    ] as const) {
      const conv = new Conv2d(2, 3, k, { padding: 'same', dilation: d });
      expect(conv.forward(x).shape, `k=${k} d=${d}`).toEqual([1, 3, 5, 6]);
    }
    const same = new Conv2d(2, 3, 3, { padding: 'same' });
    expect(arr(same.forward(x))).toEqual(arr(F.conv2d(x, same.weight, same.bias, { padding: 1 })));
    // even kernel: total padding 1 goes to the bottom/right, as PyTorch
    const even = new Conv2d(2, 1, 2, { padding: 'same', bias: false });
    expect(arr(even.forward(x))).toEqual(arr(F.conv2d(F.pad(x, [0, 1, 0, 1]), even.weight)));
    expect(new Conv2d(2, 3, 3, { padding: 'valid' }).forward(x).shape).toEqual([1, 3, 3, 4]);
  });

  it('rejects bad arguments with the library error format', () => {
    expectThrows(() => new Conv2d(3, 4, 3, { groups: 2 }), ValueError, ['Conv2d', 'inChannels must be divisible by groups', 'got 3']);
    expectThrows(() => new Conv2d(2, 4, 0), ValueError, ['kernelSize must be an integer >= 1', 'got 0']);
    expectThrows(() => new Conv2d(2, 4, 3, { padding: 'same', stride: 2 }), ValueError, ["'same' needs stride 1"]);
    expectThrows(() => new Conv2d(2, 4, 3).forward(zeros([1, 3, 5, 5])), ShapeError, ['input has 3 channels']);
  });
});

describe('BatchNorm2d', () => {
  // x: N=2, C=2, 1x2; channel 0 holds [1, 3, 5, 7], channel 1 holds [0, 0, 2, 2]
  const x = () =>
    tensor([
      [[[1, 3]], [[0, 0]]],
      [[[5, 7]], [[2, 2]]],
    ]);

  it('normalises with batch stats in training and updates the running stats (hand-computed)', () => {
    const bn = new BatchNorm2d(2);
    const y = bn.forward(x());
    // channel 0: mean 4, biased var 5 → (v − 4)/√(5 + 1e-5); channel 1: mean 1, var 1
    const s0 = Math.sqrt(5 + 1e-5),
      s1 = Math.sqrt(1 + 1e-5);
    expectClose(y, [-3 / s0, -1 / s0, -1 / s1, -1 / s1, 1 / s0, 3 / s0, 1 / s1, 1 / s1], 1e-6, 1e-6);
    // running = 0.9·init + 0.1·batch, with the unbiased variance (20/3 and 4/3)
    expectClose(bn.runningMean!, [0.4, 0.1], 1e-6, 1e-6);
    expectClose(bn.runningVar!, [0.9 + 0.1 * (20 / 3), 0.9 + 0.1 * (4 / 3)], 1e-6, 1e-6);
    expect(bn.numBatchesTracked!.item()).toBe(1);
    bn.forward(x());
    expectClose(bn.runningMean!, [0.4 * 0.9 + 0.4, 0.1 * 0.9 + 0.1], 1e-6, 1e-6);
    expect(bn.numBatchesTracked!.item()).toBe(2);
  });

  it('uses the running stats in eval, with the affine weight and bias, and leaves them alone', () => {
    const bn = new BatchNorm2d(2);
    set(bn.runningMean, tensor([1, -1]));
    set(bn.runningVar, tensor([4, 0.25]));
    set(bn.weight, tensor([2, 1]));
    set(bn.bias, tensor([0, 10]));
    bn.eval();
    const y = bn.forward(x());
    const a = 2 / Math.sqrt(4 + 1e-5),
      b = 1 / Math.sqrt(0.25 + 1e-5);
    expectClose(y, [0, 2 * a, 10 + b, 10 + b, 4 * a, 6 * a, 10 + 3 * b, 10 + 3 * b], 1e-5, 1e-6);
    expect(arr(bn.runningMean!)).toEqual([1, -1]);
    expect(bn.numBatchesTracked!.item()).toBe(0);
  });

  it('momentum null keeps a cumulative average; trackRunningStats false always uses batch stats', () => {
    const bn = new BatchNorm2d(2, { momentum: null });
    bn.forward(x());
    bn.forward(x().mul(3));
    expectClose(bn.runningMean!, [(4 + 12) / 2, (1 + 3) / 2], 1e-5, 1e-6); // plain mean of the two batches
    const free = new BatchNorm2d(2, { trackRunningStats: false, affine: false });
    expect(free.stateDict()).toEqual({});
    free.eval();
    expectClose(free.forward(x()), new BatchNorm2d(2).forward(x()), 1e-7, 0);
  });

  it('has the gradients of F.batchNorm, and checks its input', () => {
    const bn = new BatchNorm2d(3);
    const xx = randn([2, 3, 4, 4]).requiresGrad_();
    const w = bn.weight!.detach().requiresGrad_(),
      b = bn.bias!.detach().requiresGrad_();
    const gy = randn([2, 3, 4, 4]);
    bn.forward(xx).mul(gy).sum().backward();
    const gx = xx.grad!;
    xx.grad = null;
    F.batchNorm(xx, null, null, w, b, { training: true }).mul(gy).sum().backward();
    expectClose(gx, xx.grad!, 1e-6, 1e-5);
    expectClose(bn.weight!.grad!, w.grad!, 1e-6, 1e-5);
    expectClose(bn.bias!.grad!, b.grad!, 1e-6, 1e-5);
    expectThrows(() => bn.forward(zeros([2, 3, 4])), ShapeError, ['BatchNorm2d', 'must be 4-D', '[2, 3, 4]']);
    expectThrows(() => bn.forward(zeros([2, 2, 4, 4])), ShapeError, ['batchNorm', '[3]']);
  });
});

describe('activations and Identity', () => {
  it('ReLU, Sigmoid and Identity match the tensor ops and pass gradients', () => {
    const x = tensor([-2, -0.5, 0, 1.5]).requiresGrad_();
    expect(arr(new ReLU().forward(x))).toEqual([0, 0, 0, 1.5]);
    expectClose(
      new Sigmoid().forward(x),
      [-2, -0.5, 0, 1.5].map((v) => 1 / (1 + Math.exp(-v))),
      1e-7,
      1e-6,
    );
    expect(new Identity().forward(x)).toBe(x);
    new ReLU().forward(x).sum().backward();
    expect(arr(x.grad!)).toEqual([0, 0, 0, 1]);
  });
});

describe('Dropout / Dropout2d', () => {
  it('Dropout2d zeroes whole channels, scales the rest by 1/(1−p), and is seeded', () => {
    const x = randn([4, 16, 3, 3]).add(5); // no zeros in the input
    const d = new Dropout2d(0.5, { generator: new Generator(7) });
    const y = vals(d.forward(x)),
      xs = vals(x);
    let dropped = 0;
    for (let nc = 0; nc < 64; nc++) {
      const plane = Array.from({ length: 9 }, (_, i) => nc * 9 + i);
      const zero = plane.map((i) => y[i] === 0);
      expect(
        zero.every((z) => z === zero[0]),
        `channel ${nc} all-or-nothing`,
      ).toBe(true);
      if (zero[0]) dropped++;
      else for (const i of plane) expect(y[i]).toBeCloseTo(xs[i] * 2, 4);
    }
    expect(dropped).toBeGreaterThan(16);
    expect(dropped).toBeLessThan(48);
    // the same seed gives the same mask; another seed a different one
    expect(vals(new Dropout2d(0.5, { generator: new Generator(7) }).forward(x))).toEqual(y);
    expect(vals(new Dropout2d(0.5, { generator: new Generator(8) }).forward(x))).not.toEqual(y);
    // and it is F.dropout2d with that generator
    expect(vals(F.dropout2d(x, 0.5, true, new Generator(7)))).toEqual(y);
  });

  it('Dropout matches F.dropout with its generator; both are the identity in eval', () => {
    const x = randn([8, 8]);
    expect(arr(new Dropout(0.3, { generator: new Generator(3) }).forward(x))).toEqual(arr(F.dropout(x, 0.3, true, new Generator(3))));
    expect(new Dropout(0.3).eval().forward(x)).toBe(x);
    const x4 = randn([2, 3, 2, 2]);
    expect(new Dropout2d(0.3).eval().forward(x4)).toBe(x4);
    expectThrows(() => new Dropout(1.5), ValueError, ['Dropout', 'p must be in [0, 1]', '1.5']);
    expectThrows(() => new Dropout2d().forward(zeros([2, 3])), ShapeError, ['dropout2d', 'must be 4-D']);
  });

  it('dropout2d gradient: the mask times 1/(1−p) (gradcheck with a fixed generator)', () => {
    const x = randT([2, 3, 2, 2], 5);
    expect(gradcheck((t) => F.dropout2d(t, 0.4, true, new Generator(11)), [x])).toBe(true);
    expect(arr(F.dropout2d(ones([1, 2, 2, 2]), 1))).toEqual(new Array(8).fill(0));
  });
});

describe('Upsample', () => {
  it('is F.interpolate with its options (size or scaleFactor, nearest or bilinear)', () => {
    const x = randn([1, 2, 3, 4]);
    const up = new Upsample({ scaleFactor: 2, mode: 'bilinear', alignCorners: true });
    expect(arr(up.forward(x))).toEqual(arr(F.interpolate(x, { scaleFactor: 2, mode: 'bilinear', alignCorners: true })));
    expect(new Upsample({ size: [5, 7] }).forward(x).shape).toEqual([1, 2, 5, 7]);
    expect(arr(new Upsample({ scaleFactor: 2 }).forward(tensor([[[[1, 2]]]])))).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
    expect(String(up)).toBe("Upsample(scaleFactor=2, mode='bilinear', alignCorners=true)");
    expect(String(new Upsample({ size: 8 }))).toBe("Upsample(size=8, mode='nearest')");
    expectThrows(() => new Upsample({}), ValueError, ['exactly one of size and scaleFactor']);
    // gradient flows back (nearest ×2 sums 4 ones per input pixel)
    const xr = ones([1, 1, 2, 2]).requiresGrad_();
    new Upsample({ scaleFactor: 2 }).forward(xr).sum().backward();
    expect(arr(xr.grad!)).toEqual([4, 4, 4, 4]);
  });
});

// The CPU buffer pool (backend/cpu/alloc.ts) fed by backward passes (autograd/tape.ts): training with
// gradient recycling gives the bits of training without it (a buffer given back while still in use
// would change them), the pool is used, and buffers that escape (leaf gradients, grad() results,
// user-given output gradients) are never recycled.

import { afterAll, describe, expect, it } from 'vitest';
import { Generator, Tensor, add, batchNorm, conv2d, crossEntropy, grad, noGrad, randint, randn } from '@lad/tensor';
import { setGradientRecycling } from '../packages/tensor/src/autograd/tape.ts';
import { pooled } from '../packages/tensor/src/backend/cpu/alloc.ts';

afterAll(() => setGradientRecycling(true));

/** Three SGD steps of a small residual conv net (shared weights, views, broadcasts): losses and final parameters. */
function train(recycle: boolean): number[][] {
  setGradientRecycling(recycle);
  const g = new Generator(5);
  const leaf = (t: Tensor) => t.requiresGrad_();
  const w1 = leaf(randn([6, 3, 3, 3], { generator: g }).mul(0.3)),
    w2 = leaf(randn([6, 6, 3, 3], { generator: g }).mul(0.2));
  const gamma = leaf(randn([6], { generator: g }).add(1)),
    beta = leaf(randn([6], { generator: g }).mul(0.1));
  const head = leaf(randn([4, 6, 1, 1], { generator: g })),
    bias = leaf(randn([4], { generator: g }));
  const x = randn([2, 3, 8, 8], { generator: g }),
    y = randint(0, 4, [2, 8, 8], { generator: g });
  const params = [w1, w2, gamma, beta, head, bias],
    losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    const h = batchNorm(conv2d(x, w1, null, { padding: 1 }), null, null, gamma, beta, { training: true, activation: 'relu' });
    const r = add(h, conv2d(h, w2, null, { padding: 1 }).relu()); // a residual: add's rule hands its gradient to both inputs
    const z = conv2d(r.permute([0, 1, 3, 2]).contiguous().permute([0, 1, 3, 2]), head, bias); // views on the way
    const loss = crossEntropy(z, y).add(conv2d(h, w2, null, { padding: 1 }).square().mean().mul(0.01)); // w2 used twice
    loss.backward();
    losses.push(loss.item());
    noGrad(() => {
      for (const p of params) p.copy_(p.sub(p.grad!.mul(0.1))), p.zeroGrad();
    });
  }
  return [losses, ...params.map((p) => [...p.data()])];
}

describe('gradient recycling into the CPU buffer pool', () => {
  it('training gives the same bits with and without it, and reuses pooled buffers', () => {
    const reused0 = pooled.reused;
    const on = train(true),
      mid = pooled.reused,
      off = train(false);
    expect(mid).toBeGreaterThan(reused0);
    on.forEach((a, i) => expect(a).toEqual(off[i]));
  });

  it('never recycles what escapes: leaf .grad, grad() results, the user gradient, a gradient returned as a view', () => {
    setGradientRecycling(true);
    const x = randn([4, 5]).requiresGrad_(),
      gy = randn([4, 5]);
    const y = x.mul(2).add(1).reshape([20]).reshape([4, 5]); // reshape's rule returns a view of its gradient
    const gyCopy = [...gy.data()];
    y.backward(gy);
    const leafGrad = x.grad!,
      gx = [...leafGrad.data()];
    const [gg] = grad([x.mul(3).exp().sum()], [x]);
    const ggCopy = [...gg!.data()];
    for (let i = 0; i < 5; i++) x.mul(2).add(1).relu().sum().backward(); // churn the pool
    expect([...gy.data()]).toEqual(gyCopy);
    expect([...gg!.data()]).toEqual(ggCopy);
    expect([...leafGrad.data()]).toEqual(gx);
    expect(gx).toEqual(gyCopy.map((v) => Math.fround(2 * v)));
  });
});

// End-to-end check of @lad/nn: a small conv net (Conv2d-BatchNorm2d-ReLU-Conv2d) overfits one
// fixed batch of 4 random 1x8x8 images with random 2-class pixel labels, trained by plain SGD
// written inline (noGrad + copy_). The loss must fall below 10% of its start.

import { describe, expect, it } from 'vitest';
import { Generator, noGrad, randint, randn } from '@lad/tensor';
import { BatchNorm2d, Conv2d, CrossEntropyLoss, ReLU, Sequential } from '@lad/nn';

describe('a small conv net', () => {
  it('overfits one batch', () => {
    const g = new Generator(0);
    const net = new Sequential(
      new Conv2d(1, 16, 3, { padding: 1, generator: g }),
      new BatchNorm2d(16),
      new ReLU(),
      new Conv2d(16, 2, 3, { padding: 1, generator: g }),
    );
    const x = randn([4, 1, 8, 8], { generator: g }); // (N, 1, H, W)
    const y = randint(0, 2, [4, 8, 8], { generator: g }); // (N, H, W)
    const criterion = new CrossEntropyLoss();
    const lr = 0.5;
    const losses: number[] = [];
    for (let step = 0; step < 400; step++) {
      const loss = criterion.forward(net.forward(x), y);
      losses.push(loss.item());
      if (losses[step] < 0.05 * losses[0]) break;
      net.zeroGrad();
      loss.backward();
      noGrad(() => {
        for (const p of net.parameters()) p.copy_(p.sub(p.grad!.mul(lr)));
      });
    }
    const last = losses[losses.length - 1];
    expect(last, `${losses.length} steps, loss ${losses[0].toFixed(4)} → ${last.toFixed(4)}`).toBeLessThan(0.1 * losses[0]);
    // in eval the running statistics are used; the net still fits the batch well
    net.eval();
    const acc = noGrad(() => net.forward(x).argmax(1).eq(y).sum().item()) / y.size;
    expect(acc).toBeGreaterThan(0.9);
  });
});

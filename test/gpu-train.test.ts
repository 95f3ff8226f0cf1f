// Training on the GPU backend (gpu.js cpu and webasm modes): a small conv net written for the CPU
// runs unchanged on the GPU after `model.to('gpu')`, with one await per step, giving the same
// losses and parameters; and a long training loop keeps its live device buffers flat.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor, crossEntropy, disposeBackend, flush, gpuStats, initBackend, interpolate, manualSeed, randint, randn, type Device } from '@lad/tensor';
import { BatchNorm2d, Conv2d, Module, ReLU, SGD, Sequential } from '@lad/nn';

/** A tiny segmentation net: conv-BN-ReLU, a strided conv, logits upsampled back (bilinear). */
class TinySeg extends Module {
  body = new Sequential(new Conv2d(3, 6, 3, { padding: 1 }), new BatchNorm2d(6), new ReLU(), new Conv2d(6, 4, 3, { stride: 2, padding: 1 }));
  forward(x: Tensor): Tensor {
    return interpolate(this.body.forward(x), { size: [x.shape[2], x.shape[3]], mode: 'bilinear', alignCorners: false });
  }
}

/** The losses of `steps` SGD steps (momentum, weight decay) and the final parameters, on `device`. */
async function train(device: Device, steps: number): Promise<{ losses: number[]; params: Float32Array[] }> {
  manualSeed(0);
  const model = new TinySeg().to(device);
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  manualSeed(1);
  const x = randn([4, 3, 10, 12]).to(device),
    y = randint(0, 4, [4, 10, 12]).to(device);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    losses.push(await loss.itemAsync()); // the one await per step
  }
  return { losses, params: await Promise.all(model.parameters().map(async (p) => (await p.dataAsync()) as Float32Array)) };
}

describe.each(['cpu', 'webasm'] as const)('training on the gpu backend in gpu.js %s mode', (mode) => {
  beforeAll(async () => {
    await initBackend('gpu', { mode });
  });
  afterAll(async () => {
    await disposeBackend('gpu');
  });

  it('the same steps give the same losses and parameters on the CPU and the GPU', async () => {
    const cpu = await train('cpu', 3),
      gpu = await train('gpu', 3);
    expect(cpu.losses[2]).toBeLessThan(cpu.losses[0]); // it trains
    gpu.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i])).toBeLessThan(1e-4 * Math.abs(cpu.losses[i]) + 1e-5));
    gpu.params.forEach((p, k) => p.forEach((v, i) => expect(Math.abs(v - cpu.params[k][i])).toBeLessThan(1e-4)));
  });
});

describe('a long training loop on the gpu backend', () => {
  it('keeps live device buffers flat over 1,000 steps', async () => {
    // a small gcBytes makes the runtime ask V8 for collections the way a real GPU's memory would
    await initBackend('gpu', { mode: 'cpu', gcBytes: 1 << 20 });
    manualSeed(0);
    const model = new TinySeg().to('gpu');
    const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const x = randn([2, 3, 8, 8]).to('gpu'),
      y = randint(0, 4, [2, 8, 8]).to('gpu');
    const live: number[] = [];
    for (let s = 1; s <= 1000; s++) {
      const loss = crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      await flush();
      if (s % 50 === 0) live.push((await gpuStats()).liveBuffers);
    }
    const stats = await gpuStats();
    console.log(`live buffers every 50 steps: ${live.join(' ')}; ${stats.collections} collections asked for`);
    expect(stats.collections).toBeGreaterThan(0);
    // buffers pile up between collections (a sawtooth whose phase against the samples depends on
    // V8's timing); a leak of one buffer per step would lift the second half's peak by 500
    const peak = (xs: number[]) => Math.max(...xs);
    expect(peak(live.slice(10)) - peak(live.slice(0, 10))).toBeLessThan(250);
    // after a full collection only the parameters, their gradients, momenta and the batch are left
    const gc = (process.getBuiltinModule('node:vm') as typeof import('node:vm')).runInNewContext('gc') as () => void;
    const held = 3 * model.parameters().length + 2;
    for (let turn = 0; turn < 20 && (await gpuStats()).liveBuffers > held + 10; turn++) {
      gc();
      await new Promise((r) => setTimeout(r, 5)); // finalizers run as tasks
    }
    expect((await gpuStats()).liveBuffers).toBeLessThanOrEqual(held + 10);
    await disposeBackend('gpu');
  }, 120_000);
});

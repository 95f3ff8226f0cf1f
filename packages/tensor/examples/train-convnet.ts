// Demo: trains a tiny fully-convolutional net with @lad/tensor alone to segment bright squares
// from noise (2 classes per pixel), printing the loss as it falls. The main job until the LAD
// trainer lands. Run: `pnpm demo` (about 10 s on 2 cores).

import { Tensor, batchNorm, conv2d, crossEntropy, manualSeed, noGrad, ones, randn, zeros, Generator } from '@lad/tensor';

manualSeed(0);
const gen = new Generator(1);
const [N, S, C] = [8, 24, 16]; // batch, image size, hidden channels

/** A batch of noisy images, each with one bright square; labels mark the square's pixels. */
function batch(): { x: Tensor; y: Tensor } {
  const x = randn([N, 1, S, S], { generator: gen }).mul(0.5);
  const y = new Int32Array(N * S * S);
  const xd = x.storage.data as Float32Array; // a fresh CPU tensor
  for (let n = 0; n < N; n++) {
    const k = gen.nextInt(4, 10),
      r0 = gen.nextInt(0, S - k),
      c0 = gen.nextInt(0, S - k);
    for (let r = r0; r < r0 + k; r++)
      for (let c = c0; c < c0 + k; c++) {
        xd[(n * S + r) * S + c] += 1;
        y[(n * S + r) * S + c] = 1;
      }
  }
  return { x, y: Tensor.fromData(y, [N, S, S]) };
}

const kaiming = (o: number, i: number, k: number) =>
  randn([o, i, k, k])
    .mul(Math.sqrt(2 / (i * k * k)))
    .requiresGrad_();
const params = {
  w1: kaiming(C, 1, 3),
  g1: ones([C], { requiresGrad: true }),
  b1: zeros([C], { requiresGrad: true }),
  w2: kaiming(C, C, 3),
  g2: ones([C], { requiresGrad: true }),
  b2: zeros([C], { requiresGrad: true }),
  w3: kaiming(2, C, 1),
  b3: zeros([2], { requiresGrad: true }),
};
const stats = [zeros([C]), ones([C]), zeros([C]), ones([C])];

function forward(x: Tensor, training: boolean): Tensor {
  const p = params;
  let h = conv2d(x, p.w1, null, { padding: 1 }); // (N, C, S, S)
  h = batchNorm(h, stats[0], stats[1], p.g1, p.b1, { training }).relu();
  h = conv2d(h, p.w2, null, { padding: 2, dilation: 2 });
  h = batchNorm(h, stats[2], stats[3], p.g2, p.b2, { training }).relu();
  return conv2d(h, p.w3, p.b3); // (N, 2, S, S)
}

const lr = 0.1,
  momentum = 0.9;
const velocity = new Map<Tensor, Tensor>();
const t0 = performance.now();
for (let step = 0; step <= 150; step++) {
  const { x, y } = batch();
  const loss = crossEntropy(forward(x, true), y);
  loss.backward();
  noGrad(() => {
    for (const p of Object.values(params)) {
      const v = (velocity.get(p) ?? zeros(p.shape)).mul(momentum).add(p.grad!);
      velocity.set(p, v);
      p.copy_(p.sub(v.mul(lr)));
      p.zeroGrad();
    }
  });
  if (step % 15 === 0) console.log(`step ${String(step).padStart(3)}  loss ${loss.item().toFixed(4)}`);
}

const { x, y } = batch();
const pred = noGrad(() => forward(x, false).argmax(1));
const acc = pred.eq(y).sum().item() / y.size;
console.log(`eval pixel accuracy ${(100 * acc).toFixed(1)}%  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

// Profiles one training step of the bench workloads with `profile` (per-op self time, share, bytes):
// the LAD teacher step at 48×48 (bench/lad.ts's model and optimizer) and the tiny-CNN step of bench/cpu.ts.
// Usage: `pnpm --filter @lad/bench profile [all|teacher|cnn] [steps]` (env THREADS=n, MIN_MACS=m for setSplitMacs, SIZE=96 for the
// teacher at 96×96; TIDY=0 to run the steps bare instead of in tidy() as the bench rows and trainModel do). A tool
// for finding costs, not a benchmark row.

import {
  Generator,
  Tensor,
  batchNorm,
  conv2d,
  crossEntropy,
  manualSeed,
  noGrad,
  profile,
  randint,
  randn,
  setNumThreads,
  setSplitMacs,
  tidy,
} from '@lad/tensor';
import { threadStats } from '../packages/tensor/src/backend/cpu/threads.ts';
import { SGD } from '@lad/nn';
import { buildModel, resolveLabelScale, teacherLoss } from '@lad/lad';
import { QUICK } from '../packages/lad/src/presets.ts';

const which = process.argv[2] ?? 'all',
  steps = Number(process.argv[3] ?? 3);
manualSeed(0);
if (process.env.THREADS) setNumThreads(Number(process.env.THREADS));
if (process.env.MIN_MACS) setSplitMacs(Number(process.env.MIN_MACS));

function run(label: string, bare: () => void): void {
  const step = process.env.TIDY === '0' ? bare : () => tidy(bare);
  step(); // warmup
  const totals: number[] = [],
    jobs0 = threadStats().parallelJobs;
  for (let i = 0; i < steps; i++) {
    const p = profile(step, { label: `${label} ${i}`, print: i === steps - 1 });
    totals.push(p.totalMs);
  }
  console.log(`${label}: step ms ${totals.map((t) => t.toFixed(1)).join(', ')}; parallel jobs per step ${(threadStats().parallelJobs - jobs0) / steps}\n`);
}

if (which === 'all' || which === 'teacher') {
  const K = 4,
    size = Number(process.env.SIZE ?? 48);
  const model = buildModel({ ...QUICK.model, numClasses: K }, { generator: new Generator(1) });
  const b = { images: randn([8, 3, size, size]), labels: randint(0, K, [8, size, size]) };
  const opt = new SGD(model.parameters(), { lr: QUICK.teacher.lr, momentum: QUICK.teacher.momentum, weightDecay: QUICK.teacher.weightDecay });
  const gen = new Generator(7),
    lad = resolveLabelScale(QUICK.lad, 1);
  run(`LAD teacher ${size}`, () => {
    teacherLoss(model, b, K, lad, gen).loss.backward();
    opt.step();
    opt.zeroGrad();
  });
}

if (which === 'all' || which === 'cnn') {
  const C = 32,
    K = 11;
  const leaf = (t: Tensor) => t.requiresGrad_();
  const blocks = Array.from({ length: 4 }, (_, i) => {
    const cin = i === 0 ? 3 : C;
    return { w: leaf(randn([C, cin, 3, 3]).mul(Math.sqrt(2 / (cin * 9)))), gamma: leaf(randn([C]).mul(0.1).add(1)), beta: leaf(randn([C]).mul(0.1)) };
  });
  const headW = leaf(randn([K, C, 1, 1]).mul(Math.sqrt(1 / C))),
    headB = leaf(randn([K]).mul(0.1));
  const x = randn([8, 3, 64, 64]),
    target = randint(0, K, [8, 64, 64]);
  const params = [...blocks.flatMap((b) => [b.w, b.gamma, b.beta]), headW, headB];
  run('tiny CNN', () => {
    let h = x;
    for (const b of blocks) h = batchNorm(conv2d(h, b.w, null, { padding: 1 }), null, null, b.gamma, b.beta, { training: true, eps: 1e-5, activation: 'relu' });
    crossEntropy(conv2d(h, headW, headB), target).backward();
    noGrad(() => {
      for (const q of params) q.copy_(q.sub(q.grad!.mul(0.1))), q.zeroGrad();
    });
  });
}

// A/B of the CPU thread pool's settings on a shared machine: one process runs the training step of
// `teacher` (the LAD teacher, bench/lad.ts's model; SIZE=48 or 96) or `cnn` (bench/cpu.ts's tiny CNN)
// under each setting in turn, in a shuffled order each round, so that other load and V8's garbage
// collections fall on all of them alike; prints each setting's median, first quartile and least step ms.
// Each step runs in tidy(), as trainModel's and the bench rows' do.
// Usage: `npx tsx bench/threads-ab.ts [teacher|cnn] [rounds]` (env SIZE). A tool, not a benchmark row.

import { Generator, type Tensor, batchNorm, conv2d, crossEntropy, manualSeed, noGrad, randint, randn, setNumThreads, tidy } from '@lad/tensor';
import { threadStats, threadTuning } from '../packages/tensor/src/backend/cpu/threads.ts';
import { SGD } from '@lad/nn';
import { buildModel, resolveLabelScale, teacherLoss } from '@lad/lad';
import { QUICK } from '../packages/lad/src/presets.ts';

const which = process.argv[2] ?? 'teacher',
  rounds = Number(process.argv[3] ?? 40);
manualSeed(0);

function teacherStep(): () => void {
  const K = 4,
    size = Number(process.env.SIZE ?? 48);
  const model = buildModel({ ...QUICK.model, numClasses: K }, { generator: new Generator(1) });
  const b = { images: randn([8, 3, size, size]), labels: randint(0, K, [8, size, size]) };
  const opt = new SGD(model.parameters(), { lr: QUICK.teacher.lr, momentum: QUICK.teacher.momentum, weightDecay: QUICK.teacher.weightDecay });
  const gen = new Generator(7),
    lad = resolveLabelScale(QUICK.lad, 1);
  return () =>
    tidy(() => {
      teacherLoss(model, b, K, lad, gen).loss.backward();
      opt.step();
      opt.zeroGrad();
    });
}

function cnnStep(): () => void {
  const C = 32,
    K = 11,
    leaf = (t: Tensor) => t.requiresGrad_();
  const blocks = Array.from({ length: 4 }, (_, i) => {
    const cin = i === 0 ? 3 : C;
    return { w: leaf(randn([C, cin, 3, 3]).mul(Math.sqrt(2 / (cin * 9)))), gamma: leaf(randn([C]).mul(0.1).add(1)), beta: leaf(randn([C]).mul(0.1)) };
  });
  const headW = leaf(randn([K, C, 1, 1]).mul(Math.sqrt(1 / C))),
    headB = leaf(randn([K]).mul(0.1));
  const x = randn([8, 3, 64, 64]),
    target = randint(0, K, [8, 64, 64]);
  const params = [...blocks.flatMap((b) => [b.w, b.gamma, b.beta]), headW, headB];
  return () =>
    tidy(() => {
      let h = x;
      for (const b of blocks)
        h = batchNorm(conv2d(h, b.w, null, { padding: 1 }), null, null, b.gamma, b.beta, { training: true, eps: 1e-5, activation: 'relu' });
      crossEntropy(conv2d(h, headW, headB), target).backward();
      noGrad(() => {
        for (const q of params) q.copy_(q.sub(q.grad!.mul(0.1))), q.zeroGrad();
      });
    });
}

const step = which === 'cnn' ? cnnStep() : teacherStep();
const settings = [
  { name: '1 thread', threads: 1, minMacs: 1 << 22, joinSpinMs: 0, takeBack: true },
  { name: '2 threads, no spin in join', threads: 2, minMacs: 1 << 22, joinSpinMs: 0, takeBack: true },
  { name: '2 threads, no take-back', threads: 2, minMacs: 1 << 22, joinSpinMs: 2, takeBack: false },
  { name: '2 threads (default)', threads: 2, minMacs: 1 << 22, joinSpinMs: 2, takeBack: true },
  { name: '2 threads, split from 32 M', threads: 2, minMacs: 1 << 25, joinSpinMs: 2, takeBack: true },
  { name: '2 threads, split from 1 M', threads: 2, minMacs: 1 << 20, joinSpinMs: 2, takeBack: true },
];
const use = (s: (typeof settings)[number]) => {
  setNumThreads(s.threads);
  Object.assign(threadTuning, { minMacs: s.minMacs, joinSpinMs: s.joinSpinMs, takeBack: s.takeBack });
};
for (const s of settings) use(s), step(), step(); // warm up
const times = settings.map(() => [] as number[]),
  jobs = settings.map(() => 0);
let seed = 1;
const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32; // the order only
for (let r = 0; r < rounds; r++)
  for (const i of settings.map((_, k) => k).sort(() => random() - 0.5)) {
    use(settings[i]!);
    const j0 = threadStats().parallelJobs,
      t0 = performance.now();
    step();
    times[i]!.push(performance.now() - t0);
    jobs[i]! += threadStats().parallelJobs - j0;
  }
const at = (a: number[], q: number) => [...a].sort((x, y) => x - y)[Math.floor(q * (a.length - 1))]!.toFixed(1);
console.log(`${which === 'cnn' ? 'tiny CNN' : `LAD teacher ${process.env.SIZE ?? 48}`} step ms, ${rounds} rounds:`);
settings.forEach((s, i) =>
  console.log(
    `  ${s.name.padEnd(28)} median ${at(times[i]!, 0.5)}  q25 ${at(times[i]!, 0.25)}  min ${at(times[i]!, 0)}; split jobs per step ${(jobs[i]! / rounds).toFixed(1)}`,
  ),
);

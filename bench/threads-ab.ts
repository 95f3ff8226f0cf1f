// A/B of the CPU thread pool's settings on a shared machine: one process runs the training step of
// `teacher` (the LAD teacher; SIZE=48 or 96) or `cnn` (the tiny CNN) of bench/steps.ts
// under each setting in turn, in a shuffled order each round, so that other load and V8's garbage
// collections fall on all of them alike; prints each setting's median, first quartile and least step ms.
// Each step runs in tidy(), as trainModel's and the bench rows' do.
// Usage: `npx tsx bench/threads-ab.ts [teacher|cnn] [rounds]` (env SIZE). A tool, not a benchmark row.

import { manualSeed, setNumThreads, tidy } from '@lad/tensor';
import { threadStats, threadTuning } from '../packages/tensor/src/backend/cpu/threads.ts';
import { teacherStep, tinyCnnStep } from './steps.ts';

const which = process.argv[2] ?? 'teacher',
  rounds = Number(process.argv[3] ?? 40);
manualSeed(0);

const bare = which === 'cnn' ? tinyCnnStep() : teacherStep(Number(process.env.SIZE ?? 48)),
  step = () => tidy(bare);
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

// Profiles one training step of the bench workloads with `profile` (per-op self time, share, bytes):
// the LAD teacher step at 48×48 and the tiny-CNN step (bench/steps.ts).
// Usage: `pnpm --filter @lad/bench profile [all|teacher|cnn] [steps]` (env THREADS=n, MIN_MACS=m for setSplitMacs, SIZE=96 for the
// teacher at 96×96; TIDY=0 to run the steps bare instead of in tidy() as the bench rows and trainModel do). A tool
// for finding costs, not a benchmark row.

import { manualSeed, profile, setNumThreads, setSplitMacs, tidy } from '@lad/tensor';
import { threadStats } from '../packages/tensor/src/backend/cpu/threads.ts';
import { teacherStep, tinyCnnStep } from './steps.ts';

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

if (which === 'all' || which === 'teacher') run(`LAD teacher ${process.env.SIZE ?? 48}`, teacherStep(Number(process.env.SIZE ?? 48)));
if (which === 'all' || which === 'cnn') run('tiny CNN', tinyCnnStep());

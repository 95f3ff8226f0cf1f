// CPU time (user + system of this process) per training step on 1 thread (THREADS=n: n), for comparisons on a shared
// machine: wall times there measure the other processes' load too (bench/cpu.ts warns when it is high).
// Rows (bench/steps.ts): the LAD teacher step at 48 and 96, the student step at 48, the tiny-CNN step;
// FUSED=1 runs the CNN with batchNorm's activation 'relu'; LAD_FMA=0 the mul+add GEMM kernel instead of
// fma (the first line says which ran). Each step runs in tidy() as trainModel's
// does; TIDY=0 runs them bare (fresh buffers every step) for comparison.
// Usage: `pnpm --filter @lad/bench cputime`. A measuring tool, not a benchmark table.
import { gemmKernel, manualSeed, setNumThreads, tidy } from '@lad/tensor';
import { studentStep, teacherStep, tinyCnnStep } from './steps.ts';
setNumThreads(Number(process.env.THREADS ?? 1));
manualSeed(0);
console.log(`float32 GEMM kernel: ${gemmKernel()}`);
const fused = process.env.FUSED === '1',
  reps = 12;
const tidied = process.env.TIDY !== '0';
function measure(label: string, bare: () => void) {
  const step = tidied ? () => tidy(bare) : bare;
  step();
  step();
  const cpu: number[] = [],
    wall: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    step();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    wall.push(performance.now() - t0);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(
    `${label.padEnd(22)} cpu ms/step median ${med(cpu).toFixed(1).padStart(7)} min ${Math.min(...cpu)
      .toFixed(1)
      .padStart(7)} | wall median ${med(wall).toFixed(1).padStart(7)} min ${Math.min(...wall)
      .toFixed(1)
      .padStart(7)}`,
  );
}
for (const size of [48, 96]) measure(`LAD teacher ${size}`, teacherStep(size));
measure('LAD student 48', studentStep(48));
measure(`tiny CNN${fused ? ' (fused bn+relu)' : ''}`, tinyCnnStep(fused));

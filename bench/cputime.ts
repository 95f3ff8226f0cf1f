// CPU time (user + system of this process) per training step on 1 thread (THREADS=n: n), for comparisons on a shared
// machine: wall times there measure the other processes' load too (bench/cpu.ts warns when it is high).
// Rows: the LAD teacher step at 48 and 96, the student step at 48 (as bench/lad.ts, without dropout's
// export), the tiny-CNN step of bench/cpu.ts; FUSED=1 runs the CNN with batchNorm's activation 'relu'; LAD_FMA=0
// the mul+add GEMM kernel instead of fma (the first line says which ran). Each step runs in tidy() as trainModel's
// does; TIDY=0 runs them bare (fresh buffers every step) for comparison.
// Usage: `pnpm --filter @lad/bench cputime`. A measuring tool, not a benchmark table.
import { Generator, Tensor, batchNorm, conv2d, crossEntropy, gemmKernel, manualSeed, noGrad, randint, randn, setNumThreads, tidy } from '@lad/tensor';
import { SGD } from '@lad/nn';
import { buildModel, resolveLabelScale, studentLoss, teacherLoss } from '@lad/lad';
import { QUICK } from '../packages/lad/src/presets.ts';
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
const K = 4,
  lad = resolveLabelScale(QUICK.lad, 1),
  mcfg = { ...QUICK.model, numClasses: K };
for (const size of [48, 96]) {
  const model = buildModel(mcfg, { generator: new Generator(1) });
  const b = { images: randn([8, 3, size, size]), labels: randint(0, K, [8, size, size]) };
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }),
    gen = new Generator(7);
  measure(`LAD teacher ${size}`, () => {
    teacherLoss(model, b, K, lad, gen).loss.backward();
    opt.step();
    opt.zeroGrad();
  });
}
{
  const teacher = buildModel(mcfg, { generator: new Generator(2) }),
    student = buildModel(mcfg, { generator: new Generator(3) });
  for (const p of teacher.parameters()) p.requiresGrad_(false);
  const b = { images: randn([8, 3, 48, 48]), labels: randint(0, K, [8, 48, 48]) };
  const opt = new SGD(student.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }),
    gen = new Generator(11);
  measure('LAD student 48', () => {
    studentLoss(student, teacher, b, K, lad, gen).loss.backward();
    opt.step();
    opt.zeroGrad();
  });
}
{
  const C = 32,
    Kc = 11,
    leaf = (t: Tensor) => t.requiresGrad_();
  const blocks = Array.from({ length: 4 }, (_, i) => {
    const cin = i === 0 ? 3 : C;
    return { w: leaf(randn([C, cin, 3, 3]).mul(Math.sqrt(2 / (cin * 9)))), gamma: leaf(randn([C]).mul(0.1).add(1)), beta: leaf(randn([C]).mul(0.1)) };
  });
  const headW = leaf(randn([Kc, C, 1, 1]).mul(Math.sqrt(1 / C))),
    headB = leaf(randn([Kc]).mul(0.1));
  const x = randn([8, 3, 64, 64]),
    target = randint(0, Kc, [8, 64, 64]);
  const params = [...blocks.flatMap((b) => [b.w, b.gamma, b.beta]), headW, headB];
  measure(`tiny CNN${fused ? ' (fused bn+relu)' : ''}`, () => {
    let h = x;
    for (const b of blocks)
      h = fused
        ? batchNorm(conv2d(h, b.w, null, { padding: 1 }), null, null, b.gamma, b.beta, { training: true, eps: 1e-5, activation: 'relu' })
        : batchNorm(conv2d(h, b.w, null, { padding: 1 }), null, null, b.gamma, b.beta, { training: true, eps: 1e-5 }).relu();
    crossEntropy(conv2d(h, headW, headB), target).backward();
    noGrad(() => {
      for (const q of params) q.copy_(q.sub(q.grad!.mul(0.1))), q.zeroGrad();
    });
  });
}

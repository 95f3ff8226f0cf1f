// The training steps the bench tools time (profile-steps.ts, threads-ab.ts, cputime.ts), each a bare
// step (the tools wrap it in tidy() as trainModel does): the LAD teacher step of the `quick` preset's
// model (bench/lad.ts's) and the student step distilled from a frozen teacher, batch 8, 4 classes;
// and bench/cpu.ts's tiny CNN (4 x [conv 3x3 32 → batch norm → ReLU], a 1x1 head, 11 classes, batch
// 8 at 64×64, plain SGD).

import { Generator, type Tensor, batchNorm, conv2d, crossEntropy, noGrad, randint, randn } from '@lad/tensor';
import { SGD } from '@lad/nn';
import { buildModel, resolveLabelScale, studentLoss, teacherLoss } from '@lad/lad';
import { QUICK } from '../packages/lad/src/presets.ts';

const K = 4,
  lad = resolveLabelScale(QUICK.lad, 1),
  model = () => ({ ...QUICK.model, numClasses: K });
const batch = (size: number) => ({ images: randn([8, 3, size, size]), labels: randint(0, K, [8, size, size]) });
const sgd = (params: Tensor[]) => new SGD(params, { lr: QUICK.teacher.lr, momentum: QUICK.teacher.momentum, weightDecay: QUICK.teacher.weightDecay });

/** The LAD teacher step (two paths, consistency) at size×size. */
export function teacherStep(size = 48): () => void {
  const m = buildModel(model(), { generator: new Generator(1) }),
    b = batch(size),
    opt = sgd(m.parameters()),
    gen = new Generator(7);
  return () => {
    teacherLoss(m, b, K, lad, gen).loss.backward();
    opt.step();
    opt.zeroGrad();
  };
}

/** The LAD student step at size×size: a frozen teacher's forward (eval) and the student's forward and backward. */
export function studentStep(size = 48): () => void {
  const teacher = buildModel(model(), { generator: new Generator(2) }),
    student = buildModel(model(), { generator: new Generator(3) });
  for (const p of teacher.parameters()) p.requiresGrad_(false);
  const b = batch(size),
    opt = sgd(student.parameters()),
    gen = new Generator(11);
  return () => {
    studentLoss(student, teacher, b, K, lad, gen).loss.backward();
    opt.step();
    opt.zeroGrad();
  };
}

/** The tiny-CNN step; `fused`: batch norm with its activation 'relu' (the default) rather than a separate relu. */
export function tinyCnnStep(fused = true): () => void {
  const C = 32,
    Kc = 11,
    leaf = (t: Tensor) => t.requiresGrad_();
  const blocks = Array.from({ length: 4 }, (_, i) => {
    const cin = i === 0 ? 3 : C;
    return { w: leaf(randn([C, cin, 3, 3]).mul(Math.sqrt(2 / (cin * 9)))), gamma: leaf(randn([C]).mul(0.1).add(1)), beta: leaf(randn([C]).mul(0.1)) };
  });
  const headW = leaf(randn([Kc, C, 1, 1]).mul(Math.sqrt(1 / C))),
    headB = leaf(randn([Kc]).mul(0.1));
  const x = randn([8, 3, 64, 64]), // (N, 3, H, W)
    target = randint(0, Kc, [8, 64, 64]);
  const params = [...blocks.flatMap((b) => [b.w, b.gamma, b.beta]), headW, headB];
  const bn = { training: true, eps: 1e-5 };
  return () => {
    let h = x;
    for (const b of blocks) {
      const y = conv2d(h, b.w, null, { padding: 1 }); // (N, 32, H, W)
      h = fused ? batchNorm(y, null, null, b.gamma, b.beta, { ...bn, activation: 'relu' }) : batchNorm(y, null, null, b.gamma, b.beta, bn).relu();
    }
    crossEntropy(conv2d(h, headW, headB), target).backward();
    noGrad(() => {
      for (const q of params) q.copy_(q.sub(q.grad!.mul(0.1))), q.zeroGrad();
    });
  };
}

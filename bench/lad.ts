// LAD rows of `pnpm bench`: one teacher step (dual path, teacherLoss) and one student step (eval-mode frozen
// teacher forward + student forward/backward, studentLoss) of the tiny DeepLabV3 the `quick` preset builds
// (4 input channels, K = 4, batch 8, 48×48), plus the teacher step at 96×96. A step = loss, backward, SGD
// with the preset's momentum and weight decay, zeroGrad, inside tidy() as trainModel runs it. Images ~ N(0, 1) and labels in [0, K) from our
// seeded generator. Each row also exports its weights and inputs (the two encoded teacher inputs, or the
// teacher's and student's inputs) for bench/torch_bench.py, with our first-step loss (dropout off) to check.

import { Generator, noGrad, randint, randn, tidy } from '@lad/tensor';
import { Dropout2d, SGD, type Module, type StateDict } from '@lad/nn';
import { buildModel, resolveLabelScale, studentLoss, teacherInput, teacherLoss, unlabelledInput, type SegModel } from '@lad/lad';
import { QUICK } from '../packages/lad/src/presets.ts';
import { exportTensors } from './torch.ts';

export type LadRow = 'ladTeacher48' | 'ladStudent48' | 'ladTeacher96';
export const LAD_ROWS: [LadRow, string][] = [
  ['ladTeacher48', 'LAD teacher step 48x48 (ms)'],
  ['ladStudent48', 'LAD student step 48x48 (ms)'],
  ['ladTeacher96', 'LAD teacher step 96x96 (ms)'],
];
const K = 4,
  N = 8;
const cfg = resolveLabelScale(QUICK.lad, 1); // images ~ N(0, 1): scale 'auto' resolves for std 1
const modelCfg = { ...QUICK.model, numClasses: K };
const dropoutP = modelCfg.dropout ?? 0.01; // deeplabv3's rule in models/build.ts

export interface LadResult {
  ms: number;
  minMs: number;
  runs: number;
  cold: boolean;
  loss0: number;
}
type Timer = (fn: () => void, reps: number, budgetMs?: number) => { ms: number; minMs: number; runs: number; cold: boolean };

const prefixed = (p: string, sd: StateDict): StateDict => Object.fromEntries(Object.entries(sd).map(([k, v]) => [p + k, v]));
const setDropout = (m: Module, p: number) => {
  for (const d of m.modules()) if (d instanceof Dropout2d) (d as { p: number }).p = p; // bench only: the check runs without dropout
};

function sgdFor(model: Module, train: typeof QUICK.teacher): SGD {
  return new SGD(model.parameters(), { lr: train.lr, momentum: train.momentum, weightDecay: train.weightDecay });
}

/** Exported config the PyTorch side needs to build the same model and loss. */
function torchConfig(train: typeof QUICK.teacher) {
  const { width } = modelCfg.backbone;
  return {
    model: { width, headChannels: modelCfg.headChannels, numClasses: K, inChannels: 4, dropout: dropoutP },
    lr: train.lr,
    momentum: train.momentum,
    weightDecay: train.weightDecay,
    auxWeightTeacher: cfg.auxWeightTeacher,
    auxWeightStudent: cfg.auxWeightStudent,
    consWeight: cfg.consWeight,
    consT: cfg.consT,
    kdWeight: cfg.kdWeight,
    kdT: cfg.kdT,
  };
}

function batch(size: number) {
  return { images: randn([N, 3, size, size]), labels: randint(0, K, [N, size, size]) };
}

/** The teacher step at `size`: exports weights and both encoded inputs, checks nothing itself (torch compares). */
export function ladTeacher(size: number, time: Timer, file: string): { result: LadResult; spec: Record<string, unknown> } {
  const model = buildModel(modelCfg, { generator: new Generator(1) });
  const b = batch(size);
  const seed = 7;
  // The two inputs teacherLoss draws (path 1 first), from a generator in the same state.
  const g0 = new Generator(seed);
  const [x1, x2] = noGrad(() => [teacherInput(model, b, K, cfg.encodeTrain, g0), teacherInput(model, b, K, cfg.encodeTrain, g0)]);
  exportTensors(file, { ...prefixed('model.', model.stateDict()), 'in.x1': x1, 'in.x2': x2, 'in.labels': b.labels });
  setDropout(model, 0);
  const loss0 = noGrad(() => teacherLoss(model, b, K, cfg, new Generator(seed)).loss.item());
  setDropout(model, dropoutP);
  const opt = sgdFor(model, QUICK.teacher),
    gen = new Generator(seed);
  const t = time(
    () =>
      tidy(() => {
        teacherLoss(model, b, K, cfg, gen).loss.backward();
        opt.step();
        opt.zeroGrad();
      }),
    10,
    30_000,
  );
  return { result: { ...t, loss0 }, spec: { kind: 'teacher', file, config: torchConfig(QUICK.teacher), reps: 10 } };
}

/** The student step at 48×48: a frozen teacher (eval mode, noGrad) and a student from another init. */
export function ladStudent(time: Timer, file: string): { result: LadResult; spec: Record<string, unknown> } {
  const teacher: SegModel = buildModel(modelCfg, { generator: new Generator(2) });
  const student: SegModel = buildModel(modelCfg, { generator: new Generator(3) });
  for (const p of teacher.parameters()) p.requiresGrad_(false);
  const b = batch(48);
  const seed = 11;
  const xt = noGrad(() => teacherInput(teacher, b, K, cfg.encodeDistill, new Generator(seed)));
  const xs = noGrad(() => unlabelledInput(student, b.images));
  exportTensors(file, {
    ...prefixed('teacher.', teacher.stateDict()),
    ...prefixed('student.', student.stateDict()),
    'in.xt': xt,
    'in.xs': xs,
    'in.labels': b.labels,
  });
  setDropout(student, 0);
  const loss0 = noGrad(() => studentLoss(student, teacher, b, K, cfg, new Generator(seed)).loss.item());
  setDropout(student, dropoutP);
  const opt = sgdFor(student, QUICK.student),
    gen = new Generator(seed);
  const t = time(
    () =>
      tidy(() => {
        studentLoss(student, teacher, b, K, cfg, gen).loss.backward();
        opt.step();
        opt.zeroGrad();
      }),
    10,
    30_000,
  );
  return { result: { ...t, loss0 }, spec: { kind: 'student', file, config: torchConfig(QUICK.student), reps: 10 } };
}

/** All LAD rows for ours, and the manifest entries for the PyTorch side. */
export function runLad(time: Timer): { results: Record<LadRow, LadResult>; manifest: Record<string, unknown> } {
  const t48 = ladTeacher(48, time, 'lad-teacher-48.safetensors');
  const s48 = ladStudent(time, 'lad-student-48.safetensors');
  const t96 = ladTeacher(96, time, 'lad-teacher-96.safetensors');
  return {
    results: { ladTeacher48: t48.result, ladStudent48: s48.result, ladTeacher96: t96.result },
    manifest: { ladTeacher48: t48.spec, ladStudent48: s48.spec, ladTeacher96: t96.spec },
  };
}

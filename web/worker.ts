// "Train it here": the `quick` experiment's LAD pipeline (4 of its 7 arms, one seed) in a Web Worker,
// with the CLI's --set settings, on the CPU backend (one thread) or
// the GPU backend (initBackend('gpu'): webgpu, else webgl2, on an OffscreenCanvas).
// The stages of experiment/unit.ts, in its order: the baseline student (zeros in the label channel),
// the LAD teacher from it (label-channel weights redrawn), the teacher's diagnostics, the LAD student
// distilled from it on the fixed code, and the control (the student recipe without KD). Every loss is
// the library's (baselineLoss, teacherLoss, studentLoss); this file only runs the loop and reports.

import {
  Conv2d,
  type Device,
  type ExperimentConfig,
  Generator,
  defaultGenerator,
  hashName,
  QUICK,
  type SegModel,
  SGD,
  STREAM,
  Tensor,
  type TrainConfig,
  applySettings,
  armSpec,
  baselineLoss,
  buildModel,
  encodeLabels,
  encodingAgreement,
  evaluate,
  imageStd,
  initBackend,
  initExtraInputChannels_,
  loadBatch,
  mixSeed,
  noGrad,
  pct,
  poly,
  readParts,
  resolveLabelScale,
  studentLoss,
  teacherLoss,
  teacherVerdict,
  upsampleTo,
  withLabelChannel,
  zeros,
} from './lad.ts';
import { loadDigits, makeData } from './data.ts';

/** 'cpu', or a GPU mode for initBackend('gpu', { mode }) ('auto': webgpu if an adapter answers, else webgl2, ...). */
export type Backend = 'cpu' | 'auto' | 'webgpu' | 'webgl2';
export type ToWorker = { type: 'start'; settings: string[]; seed: number; backend: Backend } | { type: 'pause' } | { type: 'resume' };
export interface DiagRow {
  teacher: string;
  encoded: number;
  zeros: number;
  otherImage: number;
  fixedCode: number;
  agreement: number;
  verdict: ReturnType<typeof teacherVerdict>;
}
export type FromWorker =
  | { type: 'config'; text: string; device: string; H: number; W: number; K: number; image: Float32Array; label: Int32Array }
  | { type: 'stage'; stage: string; iterations: number }
  | { type: 'step'; stage: string; step: number; loss: number; parts: Record<string, number>; stepsPerSec: number }
  | { type: 'pred'; stage: string; step: number; pred: Int32Array }
  | { type: 'eval'; stage: string; mIoU: number; finalLoss: number }
  | { type: 'diagnostics'; rows: DiagRow[] }
  /** The trained LAD teacher's weights (section 3 redraws its two paths with them). */
  | { type: 'teacher'; K: number; steps: number; state: Record<string, { data: Float32Array | Int32Array; shape: number[] }> }
  | { type: 'done'; seconds: number }
  | { type: 'error'; msg: string };

const scope = self as unknown as { postMessage(m: FromWorker): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker): void => scope.postMessage(m);
let paused = false,
  wake: (() => void) | null = null;

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'pause') paused = true;
  else if (m.type === 'resume') [paused, wake] = [false, (wake?.(), null)];
  else
    run(applySettings(QUICK, m.settings), m.seed, m.backend).catch((err: unknown) =>
      post({ type: 'error', msg: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
    );
};

/** Lets messages in between steps, and waits while paused. */
async function checkpoint(): Promise<void> {
  await new Promise((r) => setTimeout(r, 0));
  if (paused) await new Promise<void>((r) => (wake = r));
}

async function run(cfg0: ExperimentConfig, seed: number, backend: Backend): Promise<void> {
  const t0 = performance.now();
  let device: Device = 'cpu',
    deviceText = 'cpu (one thread)';
  if (backend !== 'cpu') {
    const info = await initBackend('gpu', { mode: backend });
    [device, deviceText] = [
      'gpu',
      `gpu, ${info.mode} (${
        info.tried
          .filter((t) => !t.ok)
          .map((t) => `${t.mode}: ${t.why}`)
          .join('; ') || 'first choice'
      })`,
    ];
  }
  await loadDigits(cfg0.data, '');
  const data = makeData(cfg0.data);
  const lad = resolveLabelScale(cfg0.lad, imageStd(data.train)); // scale 'auto' → 1.7 × image std, as the CLI
  const cfg = { ...cfg0, lad };
  const K = data.train.numClasses,
    shown = data.val.get(0);
  const [, H, W] = shown.image.shape;
  post({
    type: 'config',
    device: deviceText,
    text: JSON.stringify({
      data: cfg.data,
      baseline: cfg.baseline.iterations,
      teacher: cfg.teacher.iterations,
      student: cfg.student.iterations,
      labelScale: lad.encodeTrain.scale,
    }),
    H,
    W,
    K,
    image: shown.image.data() as Float32Array,
    label: shown.label.data() as Int32Array,
  });
  const modelCfg = { ...cfg.model, inChannels: 4, numClasses: K };
  const fresh = (stream: number) => buildModel(modelCfg, { generator: new Generator(mixSeed(seed, stream)) }).to(device); // init drawn on the CPU
  const copyOf = (src: SegModel, stream: number) => {
    const m = fresh(stream);
    m.loadStateDict(src.stateDict());
    return m;
  };
  const evalOpts = { numClasses: K, limit: cfg.eval.limit ?? undefined, batchSize: cfg.eval.batchSize, seed: mixSeed(seed, STREAM.eval) };

  /**
   * Trains `model` with `lossFn` for tc.iterations SGD steps (poly lr), reporting loss and a live
   * prediction. The random streams are trainModel's and runUnit's (data order as DataLoader.plan with
   * dropLast, loss generator, defaultGenerator per arm), so on the CPU its numbers are the CLI's.
   */
  async function stage(
    name: string,
    model: SegModel,
    tc: TrainConfig,
    lossFn: (b: { images: Tensor; labels: Tensor }, g: Generator) => { loss: Tensor; terms: Record<string, Tensor | number> },
    labelled = false,
  ) {
    post({ type: 'stage', stage: name, iterations: tc.iterations });
    defaultGenerator.manualSeed(mixSeed(seed, STREAM.default, hashName(name)));
    const opt = new SGD(model.parameters(), { lr: tc.lr, momentum: tc.momentum, weightDecay: tc.weightDecay });
    const lrAt = poly({ power: tc.polyPower, maxIters: tc.iterations });
    const gen = new Generator(mixSeed(STREAM.loss, tc.seed)),
      n = data.train.length,
      B = tc.batchSize,
      perEpoch = Math.floor(n / B);
    let t = performance.now(),
      loss = NaN;
    for (let step = 0; step < tc.iterations; step++) {
      await checkpoint();
      const epoch = Math.floor(step / perEpoch),
        b = step % perEpoch;
      const order = new Generator(mixSeed(STREAM.shuffle, tc.seed, epoch)).shuffle(Array.from({ length: n }, (_, i) => i));
      const raw = loadBatch(data.train, order.slice(b * B, (b + 1) * B), epoch, tc.seed);
      const batch = {
        images: Tensor.fromData(raw.images, [B, 3, ...raw.shape.slice(1)]).to(device),
        labels: Tensor.fromData(raw.labels, raw.shape).to(device),
      }; // (B, 3, H, W), (B, H, W)
      for (const g of opt.paramGroups) g.lr = lrAt(step, tc.lr);
      const out = lossFn(batch, gen);
      out.loss.backward();
      opt.step();
      opt.zeroGrad();
      const { __loss, ...parts } = await readParts({ __loss: out.loss, ...out.terms });
      const now = performance.now();
      loss = __loss;
      post({ type: 'step', stage: name, step: step + 1, loss, parts, stepsPerSec: 1000 / (now - t) });
      t = now;
      if ((step + 1) % 5 === 0 || step + 1 === tc.iterations) post({ type: 'pred', stage: name, step: step + 1, pred: await predict(model, labelled) });
    }
    const r = await evaluate(model, data.val, { ...evalOpts, labelMode: labelled ? 'encoded' : 'zeros', encoding: lad.encodeTeacherEval });
    post({ type: 'eval', stage: name, mIoU: pct(r.mIoU), finalLoss: loss });
    return r;
  }

  /** Class ids (H, W) of the shown val image: a teacher sees its labels under the fixed code, a student zeros. */
  async function predict(model: SegModel, labelled: boolean): Promise<Int32Array> {
    const y = shown.label.reshape([1, H, W]).to(device);
    const ch = labelled ? encodeLabels(y, K, lad.encodeDistill, new Generator(0)) : zeros([1, 1, H, W], { device }); // (1, 1, H, W)
    model.eval();
    const ids = noGrad(() => upsampleTo(model.forward(withLabelChannel(shown.image.reshape([1, 3, H, W]).to(device), ch)).logits, y).argmax(1)); // (1, H, W)
    return Int32Array.from(await ids.dataAsync());
  }

  // -- the stages, in the experiment's order --------------------------------------------------------
  const start = fresh(STREAM.init);
  const bl = { ...cfg.baseline, seed: mixSeed(seed, STREAM.baseline) };
  await stage('baseline-start', start, bl, (b) => baselineLoss(start, b, lad));
  const tune = (tc: TrainConfig) => ({ ...tc, seed: mixSeed(seed, STREAM.finetune) });

  const teacher = copyOf(start, armSpec('teacher-lad').stream);
  initExtraInputChannels_(firstConv(teacher), 3, lad.labelChannelInitStd, new Generator(mixSeed(seed, STREAM.redraw)));
  const own = await stage('teacher-lad', teacher, tune(cfg.teacher), (b, g) => teacherLoss(teacher, b, K, lad, g), true);
  const diag = {
    encoded: pct(own.mIoU),
    zeros: pct((await evaluate(teacher, data.val, { ...evalOpts, labelMode: 'zeros' })).mIoU),
    otherImage: pct((await evaluate(teacher, data.val, { ...evalOpts, labelMode: 'otherImage', encoding: lad.encodeTeacherEval })).mIoU),
    fixedCode: pct((await evaluate(teacher, data.val, { ...evalOpts, labelMode: 'encoded', encoding: lad.encodeDistill })).mIoU),
    agreement: pct(await encodingAgreement(teacher, data.val, { ...evalOpts, encoding: lad.encodeTeacherEval })),
  };
  post({ type: 'diagnostics', rows: [{ teacher: 'teacher-lad', ...diag, verdict: teacherVerdict(diag) }] });
  const state: Record<string, { data: Float32Array | Int32Array; shape: number[] }> = {};
  for (const [k, t] of Object.entries(teacher.stateDict())) state[k] = { data: (await t.dataAsync()) as Float32Array | Int32Array, shape: [...t.shape] };
  post({ type: 'teacher', K, steps: cfg.teacher.iterations, state });

  const student = copyOf(start, armSpec('student-lad').stream);
  await stage('student-lad', student, tune(cfg.student), (b, g) => studentLoss(student, teacher, b, K, lad, g));
  const control = copyOf(start, armSpec('control').stream),
    controlLad = armSpec('control').lad(lad); // KD off
  await stage('control', control, tune(cfg.student), (b, g) => studentLoss(control, null, b, K, controlLad, g));
  post({ type: 'done', seconds: (performance.now() - t0) / 1000 });
}

/** The first convolution that sees the input (its channel 3 is the label channel), as experiment/unit.ts finds it. */
function firstConv(model: SegModel): Conv2d {
  for (const m of model.modules()) if (m instanceof Conv2d && m.inChannels === model.inChannels) return m;
  throw new Error('firstConv: no convolution takes the model input');
}

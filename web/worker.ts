// "Train it here": one unit of the `quick` experiment (one seed; the baseline, the control, the LAD
// teacher and the LAD student) in a Web Worker, with the CLI's --set settings, on the CPU backend
// (initThreads: more Web Workers on a cross-origin isolated page, else one thread) or the GPU backend
// (initBackend('gpu'): webgpu, else webgl2, on an OffscreenCanvas).
// The training is the CLI's own: runUnit (experiment/unit.ts) with trainModel's loop, run in memory
// (no outDir); this file only watches it (a loss per step, a live prediction, each arm's numbers)
// and holds it while the page has it stopped.

import { type Device, type Tensor, initBackend, getNumThreads, initThreads, singleThreadReason, threadStats, setSplitMacs } from '@lad/tensor';
import {
  type ArmSeedMetrics,
  type ExperimentConfig,
  QUICK,
  type SegModel,
  applySettings,
  datasetInfo,
  resolveLabelScale,
  runUnit,
  teacherVerdict,
  validateExperimentConfig,
} from '@lad/lad';
import { loadDigits, makeData } from './data.ts';
import { predictIds, seesLabels } from './predict.ts';

/** 'cpu', or a GPU mode for initBackend('gpu', { mode }) ('auto': webgpu if an adapter answers, else webgl2, ...). */
export type Backend = 'cpu' | 'auto' | 'webgpu' | 'webgl2';
/**
 * `threads`: the CPU backend's threads (default: initThreads', min(2, cores)); more than 1 needs a
 * cross-origin isolated page. `minMacs`: the job size from which they split (setSplitMacs).
 */
export type ToWorker =
  | { type: 'start'; settings: string[]; seed: number; backend: Backend; threads?: number; minMacs?: number }
  | { type: 'pause' }
  | { type: 'resume' };
export interface DiagRow extends NonNullable<ArmSeedMetrics['diagnostics']> {
  teacher: string;
  verdict: ReturnType<typeof teacherVerdict>;
}
export type FromWorker =
  | { type: 'config'; text: string; device: string; H: number; W: number; K: number; image: Float32Array; label: Int32Array }
  | { type: 'stage'; stage: string; iterations: number }
  | { type: 'step'; stage: string; step: number; loss: number; parts: Record<string, number>; stepsPerSec: number }
  | { type: 'pred'; stage: string; step: number; pred: Int32Array }
  | { type: 'eval'; stage: string; mIoU: number; finalLoss: number | null }
  | { type: 'diagnostics'; rows: DiagRow[] }
  /** The trained LAD teacher's weights (section 3 redraws its two paths with them). */
  | { type: 'teacher'; K: number; steps: number; state: Record<string, { data: Float32Array | Int32Array; shape: number[] }> }
  /** `threads`, `parallelJobs`: the CPU backend's threads and the jobs it split over them (threadStats). */
  | { type: 'done'; seconds: number; threads: number; parallelJobs: number }
  | { type: 'error'; msg: string };

/** The arms the page trains (runUnit adds the student's teacher, teacher-lad, and starts from the baseline). */
const ARMS: ExperimentConfig['arms'] = ['control', 'student-lad'];

const scope = self as unknown as { postMessage(m: FromWorker): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker): void => scope.postMessage(m);
let paused = false,
  wake: (() => void) | null = null;

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'pause') paused = true;
  else if (m.type === 'resume') [paused, wake] = [false, (wake?.(), null)];
  else
    run(applySettings(QUICK, m.settings), m.seed, m.backend, m.threads, m.minMacs).catch((err: unknown) =>
      post({ type: 'error', msg: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
    );
};

async function run(cfg0: ExperimentConfig, seed: number, backend: Backend, threads: number | undefined, minMacs: number | undefined): Promise<void> {
  const t0 = performance.now();
  let device: Device = 'cpu',
    deviceText = '';
  if (backend === 'cpu') {
    if (minMacs !== undefined) setSplitMacs(minMacs);
    const n = await initThreads(threads);
    deviceText = n > 1 ? `cpu, ${n} threads (Web Workers over SharedArrayBuffer)` : `cpu, 1 thread (${singleThreadReason() ?? 'as asked'})`;
  } else {
    const info = await initBackend('gpu', { mode: backend });
    const failed = info.tried.filter((t) => !t.ok).map((t) => `${t.mode}: ${t.why}`);
    [device, deviceText] = ['gpu', `gpu, ${info.mode} (${failed.join('; ') || 'first choice'})`];
  }
  validateExperimentConfig(cfg0);
  await loadDigits(cfg0.data);
  const data = makeData(cfg0.data);
  const dataset = datasetInfo(data, cfg0.eval.limit);
  const cfg = { ...cfg0, arms: ARMS, lad: resolveLabelScale(cfg0.lad, dataset.imageStd) }; // scale 'auto' → 1.7 × image std, as the CLI
  const K = dataset.numClasses,
    shown = data.val.get(0);
  const [, H, W] = shown.image.shape;
  const { baseline, teacher, student } = cfg;
  const text = JSON.stringify({ data: cfg.data, iterations: [baseline, teacher, student].map((t) => t.iterations), labelScale: cfg.lad.encodeTrain.scale });
  post({ type: 'config', device: deviceText, text, H, W, K, image: shown.image.data() as Float32Array, label: shown.label.data() as Int32Array });

  /** Class ids (H, W) of the shown val image: a teacher sees its labels under the fixed code, a student zeros. */
  const predict = (model: SegModel, stage: string) => predictIds(model, shown.image, shown.label, K, seesLabels(stage) ? cfg.lad.encodeDistill : null, device);

  let t = performance.now();
  await runUnit(cfg, {}, '', seed, {
    outDir: null, // in memory: nothing written
    data,
    dataset,
    device,
    resume: false,
    quiet: true,
    owner: 'page',
    log: () => {},
    watch: {
      start: (stage, iterations) => post({ type: 'stage', stage, iterations }),
      step: async (stage, e, model) => {
        const now = performance.now();
        post({ type: 'step', stage, step: e.step, loss: e.loss, parts: e.parts, stepsPerSec: 1000 / (now - t) });
        t = now;
        if (e.step % 5 === 0) post({ type: 'pred', stage, step: e.step, pred: await predict(model, stage) });
        if (paused) await new Promise<void>((r) => (wake = r)); // stopped: trainModel waits for this step to return
      },
      done: async (stage, metrics, model) => {
        post({ type: 'pred', stage, step: metrics.iterations, pred: await predict(model, stage) });
        post({ type: 'eval', stage, mIoU: metrics.mIoU, finalLoss: metrics.finalLoss });
        if (metrics.diagnostics)
          post({ type: 'diagnostics', rows: [{ teacher: stage, ...metrics.diagnostics, verdict: teacherVerdict(metrics.diagnostics) }] });
        if (stage === 'teacher-lad') post({ type: 'teacher', K, steps: metrics.iterations, state: await weights(model) });
      },
    },
  });
  post({ type: 'done', seconds: (performance.now() - t0) / 1000, threads: getNumThreads(), parallelJobs: threadStats().parallelJobs });
}

/** A model's state dict as arrays that a message can carry. */
async function weights(model: SegModel): Promise<Record<string, { data: Float32Array | Int32Array; shape: number[] }>> {
  const state: Record<string, { data: Float32Array | Int32Array; shape: number[] }> = {};
  for (const [k, v] of Object.entries(model.stateDict()))
    state[k] = { data: (await (v as Tensor).dataAsync()) as Float32Array | Int32Array, shape: [...v.shape] };
  return state;
}

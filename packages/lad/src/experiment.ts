// The LAD experiment (lad-method.md §7.1 item 8): the controls and LAD side by side, on the same data
// and budget, over several seeds, written to one run folder with a report.
//
// Recipe (the released one, §2.4): a baseline student is trained first with zeros in the label channel
// of the 4-channel network. Then, all from that baseline, per seed:
//   baseline      the baseline continued for the students' budget (CE only, zeros): the fair control;
//   teacher-nocons a label teacher without consistency (consWeight 0 / consLoss 'none'), label-channel
//                 first-layer weights redrawn N(0, labelChannelInitStd²) before fine-tuning with labels;
//   teacher-lad   the LAD teacher (dual path + consistency), same redraw, same data order;
//   student-kd    a student distilled from a same-size teacher that had no labels: the `baseline` arm's
//                 final model (trained with a zero label channel), with a zero channel at distillation
//                 too, i.e. conventional KD at equal size;
//   student-lad   a student distilled from teacher-lad (encodeDistill: the fixed grid code).
// With init 'scratch' the baseline stage is skipped and every arm starts from the same fresh init.
// Each arm trains through trainModel (its JSONL log and checkpoints in <out>/seed-<s>/<arm>/), so an
// interrupted experiment resumes arm by arm (`resume`): a finished arm is loaded, not retrained.
//
// report.json is deterministic: the same config and seeds give the same bits on CPU, except the
// "timing" key (wall times, images/s, machine), which a comparison must drop (`deterministicPart`).
// All IoU / accuracy numbers in the report are percentages.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, arch as osArch } from 'node:os';
import { join } from 'node:path';
import { type Device, Generator, defaultGenerator, getNumThreads, noGrad, stack, interpolate } from '@lad/tensor';
import type { LadConfig, LabelEncoding, TrainConfig } from './config.ts';
import { EXPERIMENT_PRESETS, KNOB_ALIASES, type ExperimentConfig, type ExperimentData, type SweepSpec } from './presets.ts';
import { digitsSeg } from './data/digits-seg.ts';
import { texturedBlobs } from './data/textured-blobs.ts';
import { FolderDataset } from './data/folder.ts';
import { mixSeed } from './data/batch.ts';
import { UNIT_NORMALIZATION, type Normalization, type SegDataset } from './data/types.ts';
import { buildModel, type ModelConfig } from './models/build.ts';
import type { SegModel } from './models/types.ts';
import { Conv2d } from '@lad/nn';
import { initExtraInputChannels_ } from './models/layers.ts';
import { teacherLoss } from './teacher.ts';
import { studentLoss, baselineLoss } from './student.ts';
import { encodeLabels, withLabelChannel } from './label-encoding.ts';
import { trainModel, type TrainResult, type LossFn } from './train.ts';
import { evaluate, encodingAgreement, type EvalResult } from './evaluate.ts';
import { linePlotPng, segGridPng, classPalette, labelToRgb, channelToRgb, imageToRgb, type GridCell } from './report/index.ts';

// ------------------------------------------------------------------------------------------------
// Arms

export type ArmName = 'baseline' | 'teacher-nocons' | 'teacher-lad' | 'student-kd' | 'student-lad';

export const ARMS: readonly ArmName[] = ['baseline', 'teacher-nocons', 'teacher-lad', 'student-kd', 'student-lad'];

export const ARM_INFO: Record<ArmName | 'baseline-start', { title: string; input: string }> = {
  'baseline-start': { title: 'baseline student before fine-tuning (the common starting point)', input: 'zeros' },
  baseline: { title: '(i) baseline continued for the fine-tuning budget (CE only): the fair control', input: 'zeros' },
  'teacher-nocons': { title: '(ii) label teacher without consistency (consWeight 0)', input: 'labels (encodeTeacherEval)' },
  'teacher-lad': { title: '(iii) LAD teacher (dual path + consistency)', input: 'labels (encodeTeacherEval)' },
  'student-kd': { title: '(iv) student distilled from the same-size teacher without labels (conventional KD)', input: 'zeros' },
  'student-lad': { title: '(v) LAD student (distilled from the LAD teacher)', input: 'zeros' },
};

const isTeacher = (arm: string) => arm.startsWith('teacher') || arm.startsWith('sweep');

// Seed streams: every fine-tuning arm of a seed shares STREAM_FINETUNE (the same data order), so arms
// differ only in what the issue varies.
const STREAM_BASELINE = 11, STREAM_FINETUNE = 12, STREAM_INIT = 13, STREAM_REDRAW = 14, STREAM_DEFAULT = 15, STREAM_EVAL = 16;

// ------------------------------------------------------------------------------------------------
// Report types

export interface Stat { mean: number; std: number; min: number; max: number; n: number }

export interface TeacherDiagnostics {
  /** mIoU with the label channel of the same image (encodeTeacherEval): the privileged score. */
  encoded: number;
  /** mIoU with an all-zero label channel. */
  zeros: number;
  /** mIoU with the encoded labels of another image. */
  otherImage: number;
  /** Pixel agreement (%) of the teacher's predictions under two independent encodeTeacherEval draws. */
  agreement: number;
}

export interface ArmSeedMetrics {
  seed: number;
  mIoU: number;
  mIoUAll: number;
  pixAcc: number;
  /** Per class; null where the class is absent from both ground truth and prediction. */
  iou: (number | null)[];
  /** Validation mIoU against steps (the input of the arm's row). */
  curve: [number, number][];
  finalLoss: number | null;
  /** The class predicted most often on the labelled val pixels of the row's evaluation, and its share (%). */
  topClass: TopClass;
  diagnostics?: TeacherDiagnostics;
}

export interface DiagnosticsSummary {
  encoded: Stat;
  zeros: Stat;
  otherImage: Stat;
  agreement: Stat;
  verdict: Verdict;
}

export interface ArmReport {
  title: string;
  /** What the label channel holds when the row's mIoU is measured. */
  input: string;
  perSeed: ArmSeedMetrics[];
  mIoU: Stat;
  mIoUAll: Stat;
  pixAcc: Stat;
  /** Mean per-class IoU over seeds (seeds where the class is absent are skipped; null if all are). */
  iou: (number | null)[];
  /**
   * Set when, in some seed, one class takes more than SINGLE_CLASS_SHARE % of the predicted labelled
   * val pixels: the arm has not learnt the task (its mIoU is that of a constant prediction).
   */
  singleClass: SingleClassVerdict | null;
  diagnostics?: DiagnosticsSummary;
}

export interface SweepRow {
  value: number | string | boolean | null;
  perSeed: (TeacherDiagnostics & { seed: number })[];
  encoded: Stat;
  zeros: Stat;
  otherImage: Stat;
  agreement: Stat;
  verdict: Verdict;
}

export interface ExperimentReport {
  version: 1;
  preset: string;
  config: ExperimentConfig;
  dataset: { name: string; numClasses: number; classNames: string[]; train: number; val: number; evalImages: number };
  seeds: number[];
  arms: Record<string, ArmReport>;
  /** Differences in mIoU points, per seed then summarised. */
  deltas: { name: string; perSeed: number[]; stat: Stat }[];
  sweep: { path: string; rows: SweepRow[] } | null;
  files: { reportMd: string; plots: string[]; examples: string | null };
  /** NOT deterministic: drop this key when comparing runs (see deterministicPart). */
  timing: {
    totalSeconds: number;
    arms: Record<string, { seed: number; seconds: number; imgsPerSec: number | null }[]>;
    machine: { cpus: number; cpuModel: string; threads: number; memGiB: number; platform: string; node: string; device: string };
  };
}

/** report.json without its "timing" key: the part that is bit-identical across runs of the same seed. */
export function deterministicPart(report: ExperimentReport | Record<string, unknown>): Record<string, unknown> {
  const { timing: _timing, ...rest } = report as Record<string, unknown>;
  return rest;
}

// ------------------------------------------------------------------------------------------------
// Verdict

export interface Verdict {
  /** The three teacher mIoUs are within `tolerance` points of each other. */
  ignoresLabels: boolean;
  /** The teacher scores more than `tolerance` points higher with its labels than with zeros. */
  usesLabels: boolean;
  text: string;
}

/**
 * The plain-language reading of a teacher's diagnostics (mIoU in points): with its own labels, with
 * zeros, with another image's labels. All within `tolerance` (default 1 point): it ignores its labels.
 */
export function teacherVerdict(m: { encoded: number; zeros: number; otherImage: number }, tolerance = 1): Verdict {
  const f = (v: number) => v.toFixed(1);
  const vals = [m.encoded, m.zeros, m.otherImage];
  const spread = Math.max(...vals) - Math.min(...vals);
  const scores = `its own labels ${f(m.encoded)}, zeros ${f(m.zeros)}, another image's labels ${f(m.otherImage)} mIoU`;
  if (spread <= tolerance) {
    return { ignoresLabels: true, usesLabels: false, text: `The teacher is ignoring its labels: its mIoU is the same within ${tolerance} point with ${scores}. Its label channel adds nothing, so distilling from it is conventional KD.` };
  }
  const gain = m.encoded - m.zeros;
  if (gain > tolerance) {
    const wrong = m.otherImage < m.zeros - tolerance ? ` Another image's labels pull it below zeros, so it follows the channel rather than the image where they disagree.` : '';
    return { ignoresLabels: false, usesLabels: true, text: `The teacher uses its labels: ${f(gain)} points above zeros (${scores}).${wrong}` };
  }
  return { ignoresLabels: false, usesLabels: false, text: `The teacher does not gain from its own labels (${scores}); its scores differ by ${f(spread)} points, but its labels do not raise them above zeros.` };
}

/** The class a model predicts most often, and on what share (%) of the labelled pixels. */
export interface TopClass { classId: number; className: string; share: number }

export interface SingleClassVerdict {
  /** The seeds in which one class took more than the threshold share of the predictions. */
  seeds: number[];
  text: string;
}

/** Above this share (%) of the predicted pixels, a model "predicts one class almost everywhere". */
export const SINGLE_CLASS_SHARE = 98;

/** The most predicted class of a (K, K) confusion matrix (rows ground truth, columns prediction). */
export function topPredictedClass(confusion: readonly (readonly number[])[], classNames: readonly string[]): TopClass {
  const K = confusion.length;
  const cols = Array.from({ length: K }, (_, j) => confusion.reduce((a, row) => a + row[j], 0));
  const total = cols.reduce((a, b) => a + b, 0);
  let best = 0;
  for (let j = 1; j < K; j++) if (cols[j] > cols[best]) best = j;
  return { classId: best, className: classNames[best] ?? String(best), share: total > 0 ? pct(cols[best] / total) : NaN };
}

/**
 * The plain statement for a model that predicts (nearly) one class everywhere: in the seeds where the
 * top class takes more than `threshold` % of the predicted labelled pixels. Null when no seed does.
 */
export function singleClassVerdict(perSeed: readonly { seed: number; topClass: TopClass }[], threshold = SINGLE_CLASS_SHARE): SingleClassVerdict | null {
  const hit = perSeed.filter((p) => p.topClass.share > threshold);
  if (hit.length === 0) return null;
  const names = [...new Set(hit.map((p) => p.topClass.className))];
  const cls = names.map((n) => `'${n}'`).join(' or ');
  const shares = hit.map((p) => `${p.topClass.share.toFixed(1)}%`).join(', ');
  const where = perSeed.length === 1 ? '' : hit.length === perSeed.length ? `In every seed (${hit.map((p) => p.seed).join(', ')}) it ` : `In seed${hit.length > 1 ? 's' : ''} ${hit.map((p) => p.seed).join(', ')} of ${perSeed.length} it `;
  const text = `${where ? where : 'It '}predicts class ${cls} almost everywhere: it has not learnt the task at this budget (${shares} of the predicted labelled val pixels).`;
  return { seeds: hit.map((p) => p.seed), text };
}

// ------------------------------------------------------------------------------------------------
// Config paths (--set, --sweep)

type Scalar = number | string | boolean | null;

const ENUMS: Record<string, readonly string[]> = {
  init: ['baseline', 'scratch'],
  'lad.consLoss': ['cwd', 'pixelKL', 'mse', 'none'],
  'lad.kdLoss': ['cwd', 'pixelKD', 'none'],
  codeDist: ['normal', 'uniform', 'permutedGrid', 'fixedGrid', 'zeros'],
  'model.arch': ['fcn', 'psp', 'deeplabv3', 'ocr', 'stdc'],
  'data.kind': ['digits-seg', 'textured-blobs', 'folder'],
};

/** The concrete dotted paths a knob name stands for: an alias, a path, or a path under `lad.`. */
export function resolveKnob(cfg: ExperimentConfig, knob: string): string[] {
  if (KNOB_ALIASES[knob]) return KNOB_ALIASES[knob];
  const has = (path: string) => {
    let o: unknown = cfg;
    for (const k of path.split('.')) {
      if (o === null || typeof o !== 'object' || Array.isArray(o) || !Object.hasOwn(o, k)) return false;
      o = (o as Record<string, unknown>)[k];
    }
    return o === null || typeof o !== 'object';
  };
  for (const p of [knob, `lad.${knob}`]) if (has(p)) return [p];
  throw new Error(`unknown knob '${knob}': give a dotted path to a number, string or boolean of the experiment config (e.g. lad.consWeight, teacher.iterations, lad.encodeTrain.sigma) or one of ${Object.keys(KNOB_ALIASES).join(', ')}.`);
}

function getPath(cfg: ExperimentConfig, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], cfg);
}

/** Parses `text` as a value for `path` of `cfg` (typed like the current value; enums checked). */
export function parseKnobValue(cfg: ExperimentConfig, path: string, text: string): Scalar {
  const cur = getPath(cfg, path);
  const t = text.trim();
  if (typeof cur === 'number' || cur === null) {
    if (t === 'null' && (cur === null || path.endsWith('cropSize') || path.endsWith('limit') || path === 'data.val')) return null;
    const n = Number(t);
    if (t === '' || !Number.isFinite(n)) throw new Error(`${path} takes a number${cur === null ? ' or null' : ''}: got '${text}'.`);
    return n;
  }
  if (typeof cur === 'boolean') {
    if (t !== 'true' && t !== 'false') throw new Error(`${path} takes true or false: got '${text}'.`);
    return t === 'true';
  }
  const allowed = ENUMS[path] ?? ENUMS[path.split('.').at(-1)!];
  if (allowed && !allowed.includes(t)) throw new Error(`${path} takes one of ${allowed.join(', ')}: got '${text}'.`);
  return t;
}

/** A copy of `cfg` with `knob` (a path or alias) set to `value`. */
export function withKnob(cfg: ExperimentConfig, knob: string, value: Scalar): ExperimentConfig {
  const out = structuredClone(cfg);
  for (const path of resolveKnob(cfg, knob)) {
    const keys = path.split('.');
    const parent = keys.slice(0, -1).reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, out as unknown as Record<string, unknown>);
    parent[keys.at(-1)!] = value;
  }
  return out;
}

/** `path=v1,v2,…` → a SweepSpec with typed values (throws with a message that says what to change). */
export function parseSweep(cfg: ExperimentConfig, text: string): SweepSpec {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`a sweep is KNOB=V1,V2,... (e.g. labelScale=1,10,100 or lad.consWeight=0,5): got '${text}'.`);
  const path = text.slice(0, eq).trim();
  const parts = text.slice(eq + 1).split(',').filter((s) => s.trim() !== '');
  if (parts.length === 0) throw new Error(`the sweep '${text}' lists no values after '='.`);
  const first = resolveKnob(cfg, path)[0];
  return { path, values: parts.map((p) => parseKnobValue(cfg, first, p)) };
}

/** Applies `path=value` settings (e.g. from --set) in order. */
export function applySettings(cfg: ExperimentConfig, settings: readonly string[]): ExperimentConfig {
  let out = cfg;
  for (const s of settings) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new Error(`a setting is KNOB=VALUE (e.g. teacher.iterations=50): got '${s}'.`);
    const knob = s.slice(0, eq).trim();
    const paths = resolveKnob(out, knob);
    out = withKnob(out, knob, parseKnobValue(out, paths[0], s.slice(eq + 1)));
  }
  return out;
}

/** A preset by name, optionally with settings applied; throws listing the presets for an unknown name. */
export function experimentPreset(name: string, settings: readonly string[] = []): ExperimentConfig {
  const p = EXPERIMENT_PRESETS[name];
  if (!p) throw new Error(`unknown preset '${name}'; the presets are ${Object.keys(EXPERIMENT_PRESETS).join(', ')}.`);
  return applySettings(structuredClone(p), settings);
}

// ------------------------------------------------------------------------------------------------
// Statistics

/** Mean, sample std (0 for one value), min and max. */
export function stat(xs: readonly number[]): Stat {
  const n = xs.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs), n };
}

/** "62.3 ± 1.2" (points), with the range when there are several seeds. */
export function fmtStat(s: Stat, digits = 1): string {
  if (!Number.isFinite(s.mean)) return 'n/a';
  return s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}
const fmtRange = (s: Stat, digits = 1) => (s.n > 1 ? `${s.min.toFixed(digits)}–${s.max.toFixed(digits)}` : '(1 seed)');

const pct = (v: number) => 100 * v;

// ------------------------------------------------------------------------------------------------
// Data

export interface ExperimentDataSets { train: SegDataset; val: SegDataset; normalization: Normalization }

/** The datasets of `spec`; a folder is checked to exist up front. */
export function loadExperimentData(spec: ExperimentData): ExperimentDataSets {
  if (spec.kind === 'folder') {
    if (!spec.dir) throw new Error(`the dataset folder is not set: give one (--data DIR) written in the folder layout (lad data export, or a converted real dataset).`);
    if (!existsSync(spec.dir)) throw new Error(`the dataset folder ${spec.dir} does not exist.`);
    const train = new FolderDataset(spec.dir, 'train'), val = new FolderDataset(spec.dir, 'val');
    return { train, val, normalization: train.normalization };
  }
  // cached: every arm of every seed reads the same few hundred samples many times
  const base = { train: spec.train, val: spec.val, seed: spec.seed, size: spec.size, cache: true };
  const { train, val } = spec.kind === 'digits-seg' ? digitsSeg({ ...spec.options, ...base }) : texturedBlobs({ ...spec.options, ...base });
  return { train, val, normalization: train.normalization ?? UNIT_NORMALIZATION };
}

// ------------------------------------------------------------------------------------------------
// The run

export interface RunExperimentOptions {
  outDir: string;
  /** Continue an interrupted experiment in outDir: finished arms are loaded, the running one resumes. */
  resume?: boolean;
  /** No training progress output. */
  quiet?: boolean;
  /** Where experiment-level progress lines go (default stderr). */
  log?: (line: string) => void;
  /** Where trainModel's progress goes (default stderr). */
  print?: (text: string) => void;
  /**
   * Where every arm trains and is evaluated (default 'cpu'); 'gpu' needs `await initBackend('gpu', …)`
   * first. Random draws stay on the CPU generators, so the numbers differ from a CPU run only by
   * float rounding (report.json's bits are reproducible per device and GPU mode).
   */
  device?: Device;
  /** How the device is described in report.json's timing.machine.device (e.g. 'gpu (webasm)'); default `device`. */
  deviceLabel?: string;
}

interface ArmRun { model: SegModel; result: TrainResult }

/** Runs every arm for every seed (and the sweep), writes the run folder, and returns the report. */
export async function runExperiment(cfg: ExperimentConfig, opts: RunExperimentOptions): Promise<ExperimentReport> {
  const t0 = performance.now();
  const log = opts.log ?? ((l: string) => void process.stderr.write(l + '\n'));
  const { outDir } = opts;
  const device = opts.device ?? 'cpu';
  checkExperimentConfig(cfg);
  const data = loadExperimentData(cfg.data);
  const K = data.train.numClasses;
  const modelCfg: ModelConfig = { ...cfg.model, inChannels: 4, numClasses: K };
  const evalImages = Math.min(cfg.eval.limit ?? data.val.length, data.val.length);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');

  const perArm: Record<string, ArmSeedMetrics[]> = {};
  const results: Record<string, { seed: number; result: TrainResult }[]> = {};
  const sweepRuns: { seed: number; diag: TeacherDiagnostics }[][] = (cfg.sweep?.values ?? []).map(() => []);
  const timings: ExperimentReport['timing']['arms'] = {};
  let gridModels: { teacher: SegModel; baseline: SegModel; kd: SegModel; lad: SegModel } | null = null;

  const evalSeed = (seed: number) => mixSeed(seed, STREAM_EVAL);
  const evalOpts = (seed: number) => ({ numClasses: K, limit: evalImages, batchSize: cfg.eval.batchSize, seed: evalSeed(seed) });

  for (const seed of cfg.seeds) {
    const seedDir = join(outDir, `seed-${seed}`);
    // built on the CPU (the init draws), then moved to the device
    const fresh = (stream: number) => buildModel(modelCfg, { generator: new Generator(mixSeed(seed, stream)) }).to(device);
    const copyOf = (src: SegModel, stream: number) => {
      const m = fresh(stream);
      m.loadStateDict(src.stateDict()); // device to device
      return m;
    };
    const zerosEval = (m: SegModel) => evaluate(m, data.val, { ...evalOpts(seed), labelMode: 'zeros' });
    const encodedEval = (lad: LadConfig) => (m: SegModel) => evaluate(m, data.val, { ...evalOpts(seed), labelMode: 'encoded', encoding: lad.encodeTeacherEval });
    type EvalFn = (m: SegModel) => Promise<EvalResult>;
    const fineTune = (base: TrainConfig): TrainConfig => ({ ...base, seed: mixSeed(seed, STREAM_FINETUNE) });

    const arm = async (name: string, model: SegModel, train: TrainConfig, lossFn: (m: SegModel) => LossFn, evalFn: EvalFn): Promise<ArmRun> => {
      log(`[experiment] seed ${seed}: ${name} (${train.iterations} iterations)`);
      defaultGenerator.manualSeed(mixSeed(seed, STREAM_DEFAULT, hashName(name)));
      const result = await trainModel({
        name, model, lossFn: lossFn(model), train: data.train, val: data.val, numClasses: K, cfg: train, outDir: seedDir, evalFn,
        resume: opts.resume, quiet: opts.quiet, print: opts.print, device, extra: { model: JSON.stringify(modelCfg), arm: name },
      });
      (results[name] ??= []).push({ seed, result });
      (timings[name] ??= []).push({ seed, seconds: result.seconds, imgsPerSec: meanImgsPerSec(result) });
      return { model, result };
    };
    const record = (name: string, run: ArmRun, final: EvalResult, diagnostics?: TeacherDiagnostics) => {
      (perArm[name] ??= []).push({
        seed, mIoU: pct(final.mIoU), mIoUAll: pct(final.mIoUAll), pixAcc: pct(final.pixAcc),
        iou: final.iou.map((v) => (Number.isFinite(v) ? pct(v) : null)),
        curve: run.result.evals.map((e) => [e.step, pct(e.result.mIoU)]),
        finalLoss: run.result.history.at(-1)?.loss ?? null,
        topClass: topPredictedClass(final.confusion, data.val.classNames),
        ...(diagnostics ? { diagnostics } : {}),
      });
    };
    const diagnose = async (teacher: SegModel, lad: LadConfig, encodedFinal: EvalResult): Promise<TeacherDiagnostics> => ({
      encoded: pct(encodedFinal.mIoU),
      zeros: pct((await zerosEval(teacher)).mIoU),
      otherImage: pct((await evaluate(teacher, data.val, { ...evalOpts(seed), labelMode: 'otherImage', encoding: lad.encodeTeacherEval })).mIoU),
      agreement: pct(await encodingAgreement(teacher, data.val, { ...evalOpts(seed), encoding: lad.encodeTeacherEval })),
    });
    const finalOf = async (run: ArmRun, evalFn: EvalFn): Promise<EvalResult> => run.result.final ?? (await evalFn(run.model));

    // -- the starting point ------------------------------------------------------------------------
    const init = fresh(STREAM_INIT);
    let start: SegModel;
    if (cfg.init === 'baseline') {
      const run = await arm('baseline-start', init, { ...cfg.baseline, seed: mixSeed(seed, STREAM_BASELINE) }, (m) => (b) => baselineLoss(m, b, cfg.lad), zerosEval);
      record('baseline-start', run, await finalOf(run, zerosEval));
      start = run.model;
    } else start = init;

    // A teacher: the starting point with its label-channel first-layer weights redrawn (the same draw
    // for every teacher of this seed).
    const teacherFrom = (stream: number) => {
      const t = copyOf(start, stream);
      const conv = firstConv(t);
      initExtraInputChannels_(conv, 3, cfg.lad.labelChannelInitStd, new Generator(mixSeed(seed, STREAM_REDRAW)));
      return t;
    };
    const trainTeacher = async (name: string, lad: LadConfig, teacherCfg: TrainConfig, stream: number) => {
      const run = await arm(name, teacherFrom(stream), fineTune(teacherCfg), (m) => (b, _s, g) => teacherLoss(m, b, K, lad, g), encodedEval(lad));
      const final = await finalOf(run, encodedEval(lad));
      return { run, final, diag: await diagnose(run.model, lad, final) };
    };

    // (i) the baseline continued: the fair control, and the no-labels teacher of (iv)
    const control = await arm('baseline', copyOf(start, 21), fineTune(cfg.student), (m) => (b) => baselineLoss(m, b, cfg.lad), zerosEval);
    record('baseline', control, await finalOf(control, zerosEval));

    // (ii) label teacher without consistency, (iii) the LAD teacher
    const nocons = await trainTeacher('teacher-nocons', { ...cfg.lad, consWeight: 0, consLoss: 'none' }, cfg.teacher, 22);
    record('teacher-nocons', nocons.run, nocons.final, nocons.diag);
    const ladTeacher = await trainTeacher('teacher-lad', cfg.lad, cfg.teacher, 23);
    record('teacher-lad', ladTeacher.run, ladTeacher.final, ladTeacher.diag);

    // (iv) conventional KD from the no-labels teacher (a zero channel at distillation), (v) LAD
    const noLabels: LadConfig = { ...cfg.lad, encodeDistill: { ...cfg.lad.encodeDistill, codeDist: 'zeros' } };
    const kd = await arm('student-kd', copyOf(start, 24), fineTune(cfg.student), (m) => (b, _s, g) => studentLoss(m, control.model, b, K, noLabels, g), zerosEval);
    record('student-kd', kd, await finalOf(kd, zerosEval));
    const lad = await arm('student-lad', copyOf(start, 25), fineTune(cfg.student), (m) => (b, _s, g) => studentLoss(m, ladTeacher.run.model, b, K, cfg.lad, g), zerosEval);
    record('student-lad', lad, await finalOf(lad, zerosEval));

    // -- the sweep of the teacher arm ----------------------------------------------------------------
    if (cfg.sweep) {
      for (const [i, value] of cfg.sweep.values.entries()) {
        const swept = withKnob(cfg, cfg.sweep.path, value);
        const r = await trainTeacher(`sweep-${sanitize(cfg.sweep.path)}-${sanitize(String(value))}`, swept.lad, swept.teacher, 30 + i);
        sweepRuns[i].push({ seed, diag: r.diag });
      }
    }

    if (!gridModels) gridModels = { teacher: ladTeacher.run.model, baseline: control.model, kd: kd.model, lad: lad.model };
  }

  // -- aggregate ---------------------------------------------------------------------------------------
  const arms: Record<string, ArmReport> = {};
  for (const name of [...(cfg.init === 'baseline' ? ['baseline-start'] : []), ...ARMS]) {
    const rows = perArm[name] ?? [];
    const info = ARM_INFO[name as keyof typeof ARM_INFO];
    const report: ArmReport = {
      title: info.title, input: info.input, perSeed: rows,
      mIoU: stat(rows.map((r) => r.mIoU)), mIoUAll: stat(rows.map((r) => r.mIoUAll)), pixAcc: stat(rows.map((r) => r.pixAcc)),
      iou: Array.from({ length: K }, (_, k) => {
        const xs = rows.map((r) => r.iou[k]).filter((v): v is number => v !== null);
        return xs.length ? stat(xs).mean : null;
      }),
      singleClass: singleClassVerdict(rows),
    };
    if (isTeacher(name)) report.diagnostics = summariseDiagnostics(rows.map((r) => r.diagnostics!));
    arms[name] = report;
  }
  const delta = (a: string, b: string) => {
    const per = cfg.seeds.map((_, i) => arms[a].perSeed[i].mIoU - arms[b].perSeed[i].mIoU);
    return { name: `${a} − ${b}`, perSeed: per, stat: stat(per) };
  };
  const deltas = [delta('student-lad', 'baseline'), delta('student-lad', 'student-kd'), delta('student-kd', 'baseline'), delta('teacher-lad', 'teacher-nocons')];
  const sweep = cfg.sweep
    ? {
        path: cfg.sweep.path,
        rows: cfg.sweep.values.map((value, i) => {
          const per = sweepRuns[i];
          const s = summariseDiagnostics(per.map((p) => p.diag));
          return { value, perSeed: per.map((p) => ({ seed: p.seed, ...p.diag })), ...s };
        }),
      }
    : null;

  // -- files -------------------------------------------------------------------------------------------
  const plots = writePlots(outDir, results);
  let examples: string | null = null;
  if (gridModels && cfg.eval.examples > 0) {
    examples = 'examples.png';
    writeFileSync(join(outDir, examples), await examplesGrid(data, gridModels, cfg, K, evalSeed(cfg.seeds[0]), device));
  }
  const valName = data.val.name;
  const report: ExperimentReport = {
    version: 1,
    preset: cfg.preset,
    config: cfg,
    dataset: { name: valName, numClasses: K, classNames: [...data.val.classNames], train: data.train.length, val: data.val.length, evalImages },
    seeds: cfg.seeds,
    arms,
    deltas,
    sweep,
    files: { reportMd: 'report.md', plots, examples },
    timing: {
      totalSeconds: (performance.now() - t0) / 1000,
      arms: timings,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', threads: getNumThreads(), memGiB: Math.round(totalmem() / 2 ** 30), platform: `${platform()}-${osArch()}`, node: process.version, device: opts.deviceLabel ?? device },
    },
  };
  writeFileSync(join(outDir, 'report.json'), JSON.stringify(report, jsonNumbers, 2) + '\n');
  writeFileSync(join(outDir, 'report.md'), renderReportMd(report));
  return report;
}

function checkExperimentConfig(cfg: ExperimentConfig): void {
  if (!Array.isArray(cfg.seeds) || cfg.seeds.length === 0 || !cfg.seeds.every((s) => Number.isSafeInteger(s))) throw new Error(`experiment: seeds must be a non-empty list of integers: got ${JSON.stringify(cfg.seeds)}.`);
  if (new Set(cfg.seeds).size !== cfg.seeds.length) throw new Error(`experiment: seeds must be distinct: got ${JSON.stringify(cfg.seeds)}.`);
  if (cfg.init !== 'baseline' && cfg.init !== 'scratch') throw new Error(`experiment: init must be 'baseline' or 'scratch': got '${String(cfg.init)}'.`);
}

/** The first convolution that sees the input (the stem's first conv), whose channel 3 is the label channel. */
function firstConv(model: SegModel): Conv2d {
  for (const m of model.modules()) if (m instanceof Conv2d && m.inChannels === model.inChannels) return m;
  throw new Error(`experiment: found no convolution with ${model.inChannels} input channels in the model.`);
}

const hashName = (s: string) => [...s].reduce((h, c) => mixSeed(h, c.charCodeAt(0)), 0);
const sanitize = (s: string) => s.replace(/[^A-Za-z0-9.+-]+/g, '_');

function meanImgsPerSec(r: TrainResult): number | null {
  const xs = r.history.slice(1).map((h) => h.imgsPerSec).filter(Number.isFinite);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** JSON has no NaN / Infinity: write them as null. */
function jsonNumbers(_k: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

function summariseDiagnostics(ds: TeacherDiagnostics[]): DiagnosticsSummary {
  const s = {
    encoded: stat(ds.map((d) => d.encoded)), zeros: stat(ds.map((d) => d.zeros)),
    otherImage: stat(ds.map((d) => d.otherImage)), agreement: stat(ds.map((d) => d.agreement)),
  };
  return { ...s, verdict: teacherVerdict({ encoded: s.encoded.mean, zeros: s.zeros.mean, otherImage: s.otherImage.mean }) };
}

// ------------------------------------------------------------------------------------------------
// Figures

function writePlots(outDir: string, results: Record<string, { seed: number; result: TrainResult }[]>): string[] {
  const names = Object.keys(results).filter((n) => !n.startsWith('sweep'));
  const first = (n: string) => results[n][0];
  const smooth = (pts: [number, number][], w: number): [number, number][] =>
    pts.map(([x], i) => {
      const win = pts.slice(Math.max(0, i - w + 1), i + 1);
      return [x, win.reduce((a, p) => a + p[1], 0) / win.length];
    });
  const files: string[] = [];
  const write = (file: string, png: Uint8Array) => (writeFileSync(join(outDir, file), png), files.push(file));
  const seed = results[names[0]]?.[0]?.seed ?? 0;
  write('losses.png', linePlotPng({
    title: `training loss (seed ${seed}, moving mean of 10 steps)`, xLabel: 'step', yLabel: 'loss', logY: true,
    series: names.map((n) => ({ name: n, points: smooth(first(n).result.history.map((h) => [h.step, h.loss]), 10) })),
  }));
  write('val-miou.png', linePlotPng({
    title: `validation mIoU (seed ${seed}; teachers with their label channel)`, xLabel: 'step', yLabel: 'mIoU (%)',
    series: names.map((n) => ({ name: n, points: first(n).result.evals.map((e) => [e.step, pct(e.result.mIoU)]) })),
  }));
  for (const n of names) {
    const h = first(n).result.history;
    const keys = [...new Set(h.flatMap((e) => Object.keys(e.parts)))].filter((k) => k !== 'total');
    write(`loss-${n}.png`, linePlotPng({
      title: `${n}: loss and its parts (seed ${seed})`, xLabel: 'step', yLabel: 'loss',
      series: [{ name: 'total', points: h.map((e) => [e.step, e.loss]) }, ...keys.map((k) => ({ name: k, points: h.map((e): [number, number] => [e.step, e.parts[k] ?? NaN]) }))],
    }));
  }
  return files;
}

/**
 * Rows: the first val images. Columns: image, ground truth, the teacher's label channel, predictions.
 * Inputs are built on the CPU and moved to `device`; predictions are read back with dataAsync.
 */
async function examplesGrid(data: ExperimentDataSets, models: { teacher: SegModel; baseline: SegModel; kd: SegModel; lad: SegModel }, cfg: ExperimentConfig, K: number, seed: number, device: Device): Promise<Uint8Array> {
  const n = Math.min(cfg.eval.examples, data.val.length);
  const samples = Array.from({ length: n }, (_, i) => data.val.get(i));
  const palette = classPalette(K);
  const gen = new Generator(seed);
  const rows: { cells: GridCell[] }[] = [];
  for (const s of samples) {
    const [, H, W] = s.image.shape;
    const images = stack([s.image]); // (1, 3, H, W)
    const labels = stack([s.label]); // (1, H, W)
    const channel = encodeLabels(labels, K, cfg.lad.encodeTeacherEval, gen); // (1, 1, H, W)
    const predict = async (m: SegModel, x: typeof images): Promise<GridCell> => {
      const was = m.training;
      m.eval();
      const pred = noGrad(() => interpolate(m.forward(x.to(device)).logits, { size: [H, W], mode: 'bilinear', alignCorners: true }).argmax(1));
      m.train(was);
      return { rgb: labelToRgb((await pred.dataAsync()) as Int32Array, W, H, palette), width: W, height: H };
    };
    const zeros = withLabelChannel(images, encodeLabels(labels, K, { ...cfg.lad.encodeTeacherEval, codeDist: 'zeros' }, gen));
    const cell = (rgb: Uint8Array): GridCell => ({ rgb, width: W, height: H });
    rows.push({
      cells: [
        cell(imageToRgb(s.image.data() as Float32Array, W, H, data.normalization.mean, data.normalization.std)),
        cell(labelToRgb(s.label.data() as Int32Array, W, H, palette)),
        cell(channelToRgb(channel.data() as Float32Array, W, H)),
        await predict(models.teacher, withLabelChannel(images, channel)),
        await predict(models.baseline, zeros),
        await predict(models.kd, zeros),
        await predict(models.lad, zeros),
      ],
    });
  }
  return segGridPng({ columns: ['image', 'ground truth', 'label channel', 'LAD teacher', 'baseline', 'KD student', 'LAD student'], rows, scale: 2 });
}

// ------------------------------------------------------------------------------------------------
// report.md

export function renderReportMd(r: ExperimentReport): string {
  const c = r.config;
  const L: string[] = [];
  const its = (t: TrainConfig) => `${t.iterations} its, batch ${t.batchSize}, lr ${t.lr}${t.cropSize ? `, crop ${t.cropSize}` : ''}`;
  L.push(`# LAD experiment: preset \`${r.preset}\``, '');
  const gen = c.data.kind !== 'folder' ? `; ${c.data.size}×${c.data.size}${c.data.options ? `, generator options ${JSON.stringify(c.data.options)}` : ''}` : '';
  L.push(`- data: ${r.dataset.name}, ${r.dataset.numClasses} classes (${r.dataset.classNames.join(', ')}), ${r.dataset.train} train images, validation on ${r.dataset.evalImages} val images${gen}`);
  L.push(`- model: ${c.model.arch}, ResNet-${c.model.backbone.depth} width ${c.model.backbone.width}, head ${c.model.headChannels}, 4 input channels (image + label channel)`);
  L.push(`- init: ${c.init === 'baseline' ? `from a baseline student (${its(c.baseline)}; zeros in the label channel)` : 'every arm from the same fresh init'}`);
  L.push(`- teachers: ${its(c.teacher)}; students and the continued baseline: ${its(c.student)}; SGD momentum ${c.student.momentum}, wd ${c.student.weightDecay}, poly ${c.student.polyPower}`);
  L.push(`- seeds: ${r.seeds.join(', ')} (${r.seeds.length}); numbers are val mIoU in points, mean ± std over seeds [min–max]`);
  L.push('');
  L.push('## Arms', '');
  L.push('| arm | what | label channel at eval | mIoU | min–max | per seed | mIoU (all K) | pixAcc |');
  L.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, a] of Object.entries(r.arms)) {
    L.push(`| ${name} | ${a.title} | ${a.input} | ${fmtStat(a.mIoU)} | ${fmtRange(a.mIoU)} | ${a.perSeed.map((p) => p.mIoU.toFixed(1)).join(', ')} | ${fmtStat(a.mIoUAll)} | ${fmtStat(a.pixAcc)} |`);
  }
  L.push('');
  const collapsed = Object.entries(r.arms).filter(([, a]) => a.singleClass);
  if (collapsed.length > 0) {
    for (const [name, a] of collapsed) L.push(`- **${name}**: ${a.singleClass!.text}`);
    L.push('');
  }
  L.push('Differences (mIoU points, per seed, then mean ± std):', '');
  L.push('| difference | mean ± std | per seed |', '| --- | --- | --- |');
  for (const d of r.deltas) L.push(`| ${d.name} | ${fmtStat(d.stat)} | ${d.perSeed.map((v) => (v >= 0 ? '+' : '') + v.toFixed(1)).join(', ')} |`);
  L.push('');
  L.push(r.seeds.length > 1
    ? 'A difference smaller than about two seed std is not evidence either way.'
    : 'One seed only: differences of a few points are noise; run more seeds (--seeds 3) before reading anything into them.');
  L.push('');

  L.push('## Per-class IoU (mean over seeds)', '');
  const names = r.dataset.classNames;
  L.push(`| arm | ${names.join(' | ')} |`, `| --- | ${names.map(() => '---').join(' | ')} |`);
  for (const [name, a] of Object.entries(r.arms)) L.push(`| ${name} | ${a.iou.map((v) => (v === null ? '–' : v.toFixed(1))).join(' | ')} |`);
  L.push('');

  L.push('## Teacher diagnostics', '');
  L.push('mIoU of each teacher with its own labels in the label channel (encodeTeacherEval), with zeros, and with the labels of another image; agreement: % of labelled pixels on which its predictions agree under two independent random encodings.', '');
  L.push('| teacher | own labels | zeros | another image\'s labels | agreement (%) | verdict |', '| --- | --- | --- | --- | --- | --- |');
  for (const [name, a] of Object.entries(r.arms)) {
    const d = a.diagnostics;
    if (!d) continue;
    L.push(`| ${name} | ${fmtStat(d.encoded)} | ${fmtStat(d.zeros)} | ${fmtStat(d.otherImage)} | ${fmtStat(d.agreement)} | ${d.verdict.ignoresLabels ? '**ignores its labels**' : d.verdict.usesLabels ? 'uses its labels' : 'no gain from its labels'} |`);
  }
  L.push('');
  for (const [name, a] of Object.entries(r.arms)) if (a.diagnostics) L.push(`- **${name}**: ${a.diagnostics.verdict.text}${a.singleClass ? ` ${a.singleClass.text}` : ''}`);
  L.push('');

  if (r.sweep) {
    L.push(`## Sweep of the LAD teacher: \`${r.sweep.path}\``, '');
    L.push(`| ${r.sweep.path} | own labels | zeros | another image's labels | agreement (%) | verdict |`, '| --- | --- | --- | --- | --- | --- |');
    for (const row of r.sweep.rows) {
      L.push(`| ${String(row.value)} | ${fmtStat(row.encoded)} | ${fmtStat(row.zeros)} | ${fmtStat(row.otherImage)} | ${fmtStat(row.agreement)} | ${row.verdict.ignoresLabels ? '**ignores its labels**' : row.verdict.usesLabels ? 'uses its labels' : 'no gain from its labels'} |`);
    }
    L.push('');
  }

  L.push('## Files', '');
  L.push('- report.json: config, per-arm per-seed metrics, means/stds, diagnostics; its "timing" key (wall times, machine) is the only part that differs between runs of the same seeds.');
  L.push(`- plots: ${r.files.plots.map((p) => `[${p}](${p})`).join(', ')}`);
  if (r.files.examples) L.push(`- examples: [${r.files.examples}](${r.files.examples}) (columns: image, ground truth, the LAD teacher's noised label channel, LAD teacher, baseline, KD student, LAD student)`);
  L.push('- per arm: seed-<s>/<arm>/log.jsonl and ckpt-<step>.safetensors');
  L.push('');
  const dev = r.timing.machine.device && r.timing.machine.device !== 'cpu' ? `, device ${r.timing.machine.device}` : '';
  L.push(`Timing: ${r.timing.totalSeconds.toFixed(0)} s on ${r.timing.machine.cpus} × ${r.timing.machine.cpuModel} (${r.timing.machine.threads} threads${dev}).`);
  L.push('');
  return L.join('\n');
}

export type { ExperimentConfig, SweepSpec } from './presets.ts';
export type { LabelEncoding };

// The training loop shared by the baseline, the teacher and the student (lad-method.md §2.5): an
// iteration-based DataLoader (seeded shuffle, optional random scale/crop/flip), SGD with momentum and
// weight decay on all parameters, the poly learning rate set before each step, a JSONL log, periodic
// evaluation and atomic checkpoints that hold everything needed to resume bit for bit: model,
// optimizer, step, and every generator the step draws from (the loss's, the model's dropout
// generators, the library's defaultGenerator). The data order and augmentation need no state: they
// depend only on (seed, epoch, index). Flat and readable, after nanoGPT's train.py.
// Device: the model is moved to `device` before its optimizer is made, each batch is moved there
// when its step starts, and the step's loss and parts are read back once, asynchronously, after the
// optimizer step (one await per step; every GPU mode, webgpu too). The step itself (loss, backward,
// update) runs in tidy(), so its CPU tensor buffers are reused by the next step. Checkpoints are written from
// CPU copies (cpuAsync) and loaded with copy_, which takes a CPU source for a device tensor.
// With no outDir nothing is written (a run held in memory, as the teaching page's worker runs it),
// and Node's file system is not touched (node.ts): the loop runs in a browser too.

import { type Device, Generator, Tensor, ValueError, defaultGenerator, tidy } from '@lad/tensor';
import { SGD, poly, saveCheckpoint, restoreCheckpoint, latestCheckpoint, checkpointPath, type OptimizerStateDict, type StateDict } from '@lad/nn';
import { DataLoader, type Batch } from './data/loader.ts';
import { mixSeed, STREAM } from './seeds.ts';
import type { SegDataset } from './data/types.ts';
import type { SegModel } from './models/types.ts';
import type { TrainConfig } from './config.ts';
import { validateTrainConfig } from './validate.ts';
import { evaluate, modelDevice, type EvalResult } from './evaluate.ts';
import { readStacked, stackParts, type StepLoss } from './teacher.ts';
import { nodeModule } from './node.ts';

/**
 * The loss of one batch (images and labels already on the run's device); see teacherLoss / studentLoss / baselineLoss.
 * Synchronous: the step (loss, backward, update) runs inside tidy(), which reuses its tensor buffers next step.
 */
export type LossFn = (batch: Batch, step: number, gen: Generator) => StepLoss;

/** Options of trainModel: the run's name and folder, model, loss, data, config, device, resume and output. */
export interface TrainOptions {
  /** The run's folder under outDir: `<outDir>/<name>/`. */
  name: string;
  model: SegModel;
  /** The loss of one batch; `step` is the 0-based iteration, `gen` the run's loss generator. */
  lossFn: LossFn;
  train: SegDataset;
  val?: SegDataset | null;
  numClasses: number;
  cfg: TrainConfig;
  /** Where the run's folder goes; null: nothing is written (no log, no checkpoints, no resume). */
  outDir: string | null;
  /** Validation; default `evaluate(model, val, { labelMode: 'zeros' })` when there is a val set. */
  evalFn?: (model: SegModel) => EvalResult | Promise<EvalResult>;
  /**
   * Where to train: the model is moved there (model.to) before the optimizer is made, and every batch
   * when its step starts. Default: the device the model's parameters are on ('cpu' for a fresh model).
   * 'gpu' needs `await initBackend('gpu', …)` first.
   */
  device?: Device;
  /**
   * Continue from the latest checkpoint in the run's folder (a fresh start when there is none). A fresh
   * start removes the folder's log.jsonl and ckpt-*.safetensors, so a later resume cannot pick up a stale run.
   */
  resume?: boolean;
  /**
   * Start afresh in a folder that already holds a run (checkpoints or a non-empty log), deleting them.
   * Default false: such a folder is refused unless `resume` or `overwrite` is set.
   */
  overwrite?: boolean;
  /** No progress output. */
  quiet?: boolean;
  /** Stop after this step without the final evaluation and checkpoint, as if killed (for tests). */
  stopAfter?: number;
  /** Build batches in a worker thread (DataLoader prefetch). Default false. */
  prefetch?: boolean;
  /** Strings stored in every checkpoint (e.g. the model config, so the CLI can rebuild the model). */
  extra?: Record<string, string>;
  /** Where progress goes (default stderr). */
  print?: (text: string) => void;
  /** Called after each step with its log entry (a live view draws here; awaiting it holds the run). */
  onStep?: (entry: HistoryEntry, model: SegModel) => void | Promise<void>;
}

/** One logged training step: loss, its parts, learning rate and throughput. */
export interface HistoryEntry {
  step: number;
  loss: number;
  parts: Record<string, number>;
  lr: number;
  imgsPerSec: number;
}

/** What trainModel returns: the history, evaluations, the final scores and the last checkpoint. */
export interface TrainResult {
  name: string;
  history: HistoryEntry[];
  evals: { step: number; result: EvalResult }[];
  final: EvalResult | null;
  /** The last checkpoint written ('' when none: no outDir). */
  checkpoint: string;
  seconds: number;
}

/** Trains `model` for cfg.iterations steps (or the rest of them, on resume). */
export async function trainModel(opts: TrainOptions): Promise<TrainResult> {
  const { name, model, lossFn, train, numClasses, cfg, outDir, quiet = false } = opts;
  const val = opts.val ?? null;
  const evalFn = opts.evalFn ?? (val ? (m: SegModel) => evaluate(m, val, { numClasses, labelMode: 'zeros', seed: cfg.seed }) : null);
  checkConfig(cfg, train);
  const device = opts.device ?? modelDevice(model);
  if (device !== 'cpu' && device !== 'gpu') throw new ValueError(`trainModel: device: got ${JSON.stringify(device)}, expected 'cpu' or 'gpu'.`);
  const files = outDir === null ? null : runFolder(outDir, name);
  const held = files ? runFiles(files.dir) : [];
  if (held.length > 0 && !opts.resume && !opts.overwrite) {
    throw new ValueError(
      `trainModel: ${files!.dir} already holds a run (${held.join(', ')}): pass resume: true to continue it, overwrite: true to replace it, or choose another name or outDir.`,
    );
  }
  model.to(device); // before the optimizer: it holds the (moved) parameters
  const t0 = performance.now();

  // -- optimizer, schedule, generators ------------------------------------------------------------
  const optimizer = new SGD(model.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const lrAt = poly({ power: cfg.polyPower, maxIters: cfg.iterations });
  const lossGen = new Generator(mixSeed(STREAM.loss, cfg.seed));
  const generators: Record<string, Generator> = { loss: lossGen, default: defaultGenerator, ...modelGenerators(model) };

  // -- fresh start or resume ----------------------------------------------------------------------
  let start = 0;
  const history: HistoryEntry[] = [];
  const evals: { step: number; result: EvalResult }[] = [];
  let checkpoint = '';
  const latest = files && opts.resume ? latestCheckpoint(files.dir) : null;
  if (files && latest) {
    start = restoreCheckpoint(latest, { model, optimizer, generators }).step;
    checkpoint = latest;
    // keep the log up to the checkpoint; a killed run may have logged steps past it
    const kept = readLog(files.log).filter((e) => e.step <= start);
    files.fs.writeFileSync(files.log, kept.map((e) => JSON.stringify(e) + '\n').join(''));
    for (const e of kept) {
      if (e.type === 'step') history.push({ step: e.step, loss: e.loss, parts: e.parts, lr: e.lr, imgsPerSec: e.imgsPerSec });
      if (e.type === 'eval') evals.push({ step: e.step, result: e.result });
    }
    if (!quiet) (opts.print ?? printErr)(`${name}: resuming from ${latest} (step ${start} of ${cfg.iterations})\n`);
  } else if (files) {
    for (const f of files.fs.readdirSync(files.dir)) if (/^ckpt-\d+\.safetensors$/.test(f) || f === 'log.jsonl') files.fs.rmSync(`${files.dir}/${f}`);
    files.fs.writeFileSync(files.log, '');
  }
  const log = (line: object) => files?.fs.appendFileSync(files.log, JSON.stringify(line) + '\n');
  const save = async (step: number) => {
    if (!files) return;
    const path = checkpointPath(files.dir, step);
    const [sd, osd] = [await cpuStateDict(model.stateDict()), await cpuOptimizerState(optimizer.stateDict())];
    saveCheckpoint(path, {
      model: { stateDict: () => sd },
      optimizer: { stateDict: () => osd },
      step,
      generators,
      extra: { name, train: JSON.stringify(cfg), ...opts.extra },
    });
    checkpoint = path;
  };
  const runEval = async (step: number): Promise<EvalResult | null> => {
    if (!evalFn) return null;
    const result = await evalFn(model);
    evals.push({ step, result });
    log({ type: 'eval', step, mIoU: result.mIoU, mIoUPresent: result.mIoUPresent, pixAcc: result.pixAcc, result });
    return result;
  };

  // -- the loop -----------------------------------------------------------------------------------
  const loader = new DataLoader(train, {
    batchSize: cfg.batchSize,
    shuffle: true,
    dropLast: true,
    seed: cfg.seed,
    augment: cfg.cropSize ? { cropSize: cfg.cropSize } : undefined,
    prefetch: opts.prefetch ?? false,
  });
  const progress = quiet ? null : new Progress(name, cfg.iterations, start, opts.print ?? printErr);
  model.train();
  let step = start;
  let tStep = performance.now();
  try {
    for await (const cpuBatch of loader.iterations(cfg.iterations - start, start)) {
      await breathe();
      const batch = device === 'cpu' ? cpuBatch : { ...cpuBatch, images: cpuBatch.images.to(device), labels: cpuBatch.labels.to(device) };
      const lr = lrAt(step, cfg.lr);
      for (const g of optimizer.paramGroups) g.lr = lr;
      // the step inside tidy(): its tensors' buffers go back to the pool, and the next step reuses them
      const stacked = tidy(() => {
        const r: StepLoss | Promise<unknown> = lossFn(batch, step, lossGen);
        if (r instanceof Promise)
          throw new ValueError(`trainModel: lossFn returned a Promise: expected a StepLoss (the step runs inside tidy(), synchronously).`);
        const { loss, terms } = r;
        loss.backward();
        optimizer.step();
        optimizer.zeroGrad();
        return stackParts({ __loss: loss, ...terms });
      });
      // the one read-back of the step, after the update has been queued
      const { __loss: lossValue, ...parts } = await readStacked(stacked);
      if (!Number.isFinite(lossValue)) throw nonFiniteLoss(name, step + 1, lossValue, parts, cfg.lr);
      step++;

      const now = performance.now();
      const entry: HistoryEntry = { step, loss: lossValue, parts, lr, imgsPerSec: (batch.images.shape[0] * 1000) / (now - tStep) };
      tStep = now;
      history.push(entry);
      log({ type: 'step', ...entry });
      progress?.update(entry);
      await opts.onStep?.(entry, model);

      const last = step === cfg.iterations;
      if (!last && cfg.evalEvery > 0 && step % cfg.evalEvery === 0) {
        const r = await runEval(step);
        progress?.note(r);
      }
      if (!last && cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0) await save(step);
      if (opts.stopAfter !== undefined && step >= opts.stopAfter) break;
    }
  } finally {
    await loader.close();
    progress?.done();
  }

  // -- the end: evaluate and checkpoint ----------------------------------------------------------
  let final: EvalResult | null = null;
  if (step === cfg.iterations) {
    final = start === cfg.iterations ? (evals.at(-1)?.result ?? (await runEval(step))) : await runEval(step);
    if (start < cfg.iterations || !checkpoint) await save(step);
    if (!quiet && final)
      (opts.print ?? printErr)(`${name}: step ${step} mIoU ${pct(final.mIoU)} (present classes ${pct(final.mIoUPresent)}) pixAcc ${pct(final.pixAcc)}\n`);
  }
  return { name, history, evals, final, checkpoint, seconds: (performance.now() - t0) / 1000 };
}

/** CPU copies of a state dict's tensors (read with cpuAsync: every device and GPU mode). */
async function cpuStateDict(sd: StateDict): Promise<StateDict> {
  const out: StateDict = {};
  for (const [k, t] of Object.entries(sd)) out[k] = await t.cpuAsync();
  return out;
}

/**
 * A macrotask turn at most every 50 ms of training: a step loop of only microtasks would starve the
 * event loop for the whole run (a test runner's RPC times out, a page's worker cannot be stopped).
 */
let lastTurn = performance.now();
async function breathe(): Promise<void> {
  if (performance.now() - lastTurn < 50) return;
  await new Promise<void>((r) => setTimeout(r, 0));
  lastTurn = performance.now();
}

/** An optimizer state dict with its tensors copied to the CPU. */
async function cpuOptimizerState(sd: OptimizerStateDict): Promise<OptimizerStateDict> {
  const state: OptimizerStateDict['state'] = {};
  for (const [idx, ps] of Object.entries(sd.state)) {
    const entry: (typeof state)[number] = {};
    for (const [k, v] of Object.entries(ps)) entry[k] = v instanceof Tensor ? await v.cpuAsync() : v;
    state[Number(idx)] = entry;
  }
  return { ...sd, state };
}

/** Fails fast on a config the loop cannot run, saying what to change. */
function checkConfig(cfg: TrainConfig, train: SegDataset): void {
  validateTrainConfig(cfg, 'cfg', 'trainModel');
  if (train.length < cfg.batchSize)
    throw new ValueError(
      `trainModel: the train set '${train.name}' has ${train.length} samples, fewer than one batch of ${cfg.batchSize}; lower train.batchSize or use more samples.`,
    );
}

/** The run's folder `<outDir>/<name>` (made if missing), its log's path, and Node's fs to write them. */
function runFolder(outDir: string, name: string) {
  const fs = nodeModule('trainModel', 'node:fs'),
    dir = nodeModule('trainModel', 'node:path').join(outDir, name);
  fs.mkdirSync(dir, { recursive: true });
  return { fs, dir, log: `${dir}/log.jsonl` };
}

/** What makes `dir` hold a run: its checkpoints and a non-empty log.jsonl (empty when there are none). */
export function runFiles(dir: string): string[] {
  const { existsSync, readdirSync, statSync } = nodeModule('runFiles', 'node:fs');
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir)
    .filter((f) => /^ckpt-\d+\.safetensors$/.test(f))
    .sort();
  const log = `${dir}/log.jsonl`;
  return existsSync(log) && statSync(log).size > 0 ? ['log.jsonl', ...files] : files;
}

/**
 * The error for a loss that is NaN or infinite: names the first term (in the order the loss function
 * made them) that is not finite. When every term went non-finite together the run diverged (lower the
 * learning rate); when some stayed finite the culprit is that term's own computation or settings.
 */
function nonFiniteLoss(name: string, step: number, loss: number, parts: Record<string, number>, lr: number): ValueError {
  const terms = Object.entries(parts).filter(([k]) => k !== 'total');
  const bad = terms.filter(([, v]) => !Number.isFinite(v));
  const shown = JSON.stringify(Object.fromEntries(terms.map(([k, v]) => [k, Number.isFinite(v) ? v : String(v)])));
  const why =
    bad.length === 0
      ? `every logged term is finite (${shown}), so the combination overflowed; lower the learning rate (lr ${lr}) or the loss weights`
      : bad.length === terms.length
        ? `every term is non-finite, the first being '${bad[0][0]}' (${shown}): the run diverged; lower the learning rate (lr ${lr})`
        : `the first non-finite term is '${bad[0][0]}' (${bad[0][1]}) while ${terms
            .filter(([, v]) => Number.isFinite(v))
            .map(([k]) => `'${k}'`)
            .join(', ')} stayed finite (${shown}); check what '${bad[0][0]}' computes and its settings`;
  return new ValueError(`${name}: the loss is ${loss} at step ${step}: ${why}.`);
}

/** The distinct generators a model's modules draw from (dropout), except defaultGenerator. */
function modelGenerators(model: SegModel): Record<string, Generator> {
  const found: Generator[] = [];
  for (const m of model.modules()) {
    const g = (m as { generator?: unknown }).generator;
    if (g instanceof Generator && g !== defaultGenerator && !found.includes(g)) found.push(g);
  }
  return Object.fromEntries(found.map((g, i) => [`model.${i}`, g]));
}

/** One line of a run's log.jsonl: a training step or an evaluation. */
export type LogLine = ({ type: 'step' } & HistoryEntry) | { type: 'eval'; step: number; result: EvalResult };

/** The lines of a run's log.jsonl (empty when absent); a line cut short by a kill ends it. */
export function readLog(path: string): LogLine[] {
  const { existsSync, readFileSync } = nodeModule('readLog', 'node:fs');
  if (!existsSync(path)) return [];
  const lines: LogLine[] = [];
  for (const text of readFileSync(path, 'utf8').split('\n')) {
    if (text.trim() === '') continue;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      break; // a line cut short by a kill: drop it and everything after
    }
  }
  return lines;
}

const printErr = (text: string) => (globalThis.process?.stderr ? void process.stderr.write(text) : console.log(text.trimEnd()));
const pct = (v: number) => (100 * v).toFixed(2);
const fmtParts = (parts: Record<string, number>) =>
  Object.entries(parts)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(' ');
const fmtTime = (s: number) =>
  s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`
      : `${s.toFixed(0)}s`;

/** On a TTY, one line redrawn with \r (bar, ETA, losses); otherwise a plain line every `every` steps. */
class Progress {
  private readonly tty = Boolean(globalThis.process?.stderr?.isTTY);
  private readonly every: number;
  private readonly t0 = performance.now();

  constructor(
    private readonly name: string,
    private readonly total: number,
    private readonly start: number,
    private readonly print: (text: string) => void,
  ) {
    this.every = Math.max(1, Math.round(total / 20));
  }

  update(e: HistoryEntry): void {
    const done = e.step - this.start;
    const elapsed = (performance.now() - this.t0) / 1000;
    const eta = (elapsed / done) * (this.total - e.step);
    const text = `${this.name} ${e.step}/${this.total} loss ${e.loss.toFixed(4)} (${fmtParts(e.parts)}) lr ${e.lr.toExponential(2)} ${e.imgsPerSec.toFixed(1)} img/s ETA ${fmtTime(eta)}`;
    if (this.tty) {
      const width = 20,
        filled = Math.round((width * e.step) / this.total);
      this.print(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`.slice(0, (process.stderr.columns ?? 160) - 1) + '\x1b[K');
    } else if (e.step % this.every === 0 || e.step === this.total) this.print(text + '\n');
  }

  note(r: EvalResult | null): void {
    if (r) this.print(`${this.tty ? '\n' : ''}${this.name}: val mIoU ${pct(r.mIoU)} (present classes ${pct(r.mIoUPresent)}) pixAcc ${pct(r.pixAcc)}\n`);
  }

  done(): void {
    if (this.tty) this.print('\n');
  }
}

// One unit of an experiment: one seed of one grid point. It trains (or, on resume, loads) the arms of
// arms.ts from a common starting point, evaluates them, measures the teachers' label usage, and
// writes unit.json (report.ts's UnitResult) atomically; a unit whose unit.json exists is done.
// The baseline stage depends only on (data, model, baseline recipe, seed), so grid points share it:
// it lives in <out>/baseline-<key>/seed-<s>/ and is published by an atomic rename, so parallel shards
// that race to train it write identical bits and the loser's copy is dropped.
// With no outDir nothing is written and nothing resumed: the teaching page runs a unit in memory,
// watching its arms through `watch`.

import { type Device, Generator, ValueError, defaultGenerator } from '@lad/tensor';
import { Conv2d, type StateDict } from '@lad/nn';
import type { LadConfig, TrainConfig } from '../config.ts';
import type { ExperimentConfig, KnobValue } from '../presets.ts';
import { STREAM, hashName, mixSeed } from '../seeds.ts';
import { imageStd } from '../label-encoding.ts';
import { buildModel, type ModelConfig } from '../models/build.ts';
import type { SegModel } from '../models/types.ts';
import { countMacs } from '../models/complexity.ts';
import { initExtraInputChannels_ } from '../models/layers.ts';
import { describePretrainedLoad, loadPretrainedBackbone_ } from '../models/pretrained.ts';
import { teacherLadAt, teacherLoss } from '../teacher.ts';
import { studentLoss, baselineLoss } from '../student.ts';
import { trainModel, type HistoryEntry, type LossFn, type TrainResult } from '../train.ts';
import { evaluate, encodingAgreement, type EvalResult } from '../evaluate.ts';
import type { SegDataset } from '../data/types.ts';
import { ARMS, armSpec, armsToRun, type ArmName, type ArmSpec } from './arms.ts';
import { pct, topPredictedClass, type ArmSeedMetrics, type TeacherDiagnostics, type UnitResult } from './report.ts';
import { nodeModule } from '../node.ts';

/** A live view of a unit (the teaching page's): each arm's start, steps and end. */
export interface UnitWatch {
  start?: (arm: ArmName | 'baseline-start', iterations: number) => void;
  /** After each step (awaiting it holds the run). */
  step?: (arm: ArmName | 'baseline-start', entry: HistoryEntry, model: SegModel) => void | Promise<void>;
  /** When the arm's metrics are in (a teacher's with its diagnostics). */
  done?: (arm: ArmName | 'baseline-start', metrics: ArmSeedMetrics, model: SegModel) => void | Promise<void>;
}

/** What runUnit needs besides the config: the folder (or none), data, device, output and a live view. */
export interface UnitContext {
  /** The experiment's folder; null: a unit in memory (nothing written, nothing resumed). */
  outDir: string | null;
  data: { train: SegDataset; val: SegDataset };
  dataset: UnitResult['dataset'];
  device: Device;
  resume: boolean;
  quiet: boolean;
  /** Names this process's private copy of a shared baseline while it trains ('main', or the shard 'i-of-n'). */
  owner: string;
  log: (line: string) => void;
  print?: (text: string) => void;
  /** The tensors of cfg.backboneFrom, read once by the runner; null without one. */
  pretrained?: StateDict | null;
  /** A live view of the unit's arms (the teaching page's); none for the CLI. */
  watch?: UnitWatch;
}

/** What a finished unit hands back besides unit.json: the trained models (for the examples grid). */
export interface UnitRun {
  result: UnitResult;
  models: Partial<Record<ArmName | 'baseline-start', SegModel>>;
}

/** Forward passes (in units of one forward) per image per step: a backward counts as two forwards. */
export function forwardsPerStep(arm: Pick<ArmSpec, 'loss'>, lad: LadConfig): number {
  if (arm.loss === 'teacher') return 3 * (lad.dualPath ? 2 : 1);
  return 3 + (lad.kdLoss !== 'none' && lad.kdWeight !== 0 ? 1 : 0); // + the frozen teacher's forward
}

/** Training FLOPs of `iterations` steps: 2 · forward MACs per image · forwards per step · batch. */
export const trainFlops = (macs: number, iterations: number, batchSize: number, forwards: number): number => 2 * macs * iterations * batchSize * forwards;

/** The compute-matched control's iterations: the FLOPs of teacher-lad + student-lad at the control's cost per step. */
export function computeMatchedIterations(cfg: ExperimentConfig, lad: LadConfig): number {
  const arm = (n: ArmName) => ARMS.find((a) => a.name === n)!;
  const spent =
    cfg.teacher.iterations * cfg.teacher.batchSize * forwardsPerStep(arm('teacher-lad'), lad) +
    cfg.student.iterations * cfg.student.batchSize * forwardsPerStep(arm('student-lad'), lad);
  return Math.max(1, Math.round(spent / (cfg.student.batchSize * forwardsPerStep(arm('control'), arm('control').lad(lad)))));
}

/** A short key of what the baseline stage depends on. */
export const baselineKey = (cfg: ExperimentConfig): string =>
  (hashName(JSON.stringify([cfg.data, cfg.model, cfg.baseline, cfg.lad.auxWeightBaseline, cfg.init, ...(cfg.backboneFrom ? [cfg.backboneFrom] : [])])) >>> 0)
    .toString(16)
    .padStart(8, '0');

const fs = () => nodeModule('experiment', 'node:fs');
const join = (...parts: string[]) => nodeModule('experiment', 'node:path').join(...parts);

function writeAtomic(path: string, text: string): void {
  fs().writeFileSync(path + '.tmp', text);
  fs().renameSync(path + '.tmp', path);
}

/** The first convolution that sees the input (the stem's first conv), whose channel 3 is the label channel. */
function firstConv(model: SegModel): Conv2d {
  for (const m of model.modules()) if (m instanceof Conv2d && m.inChannels === model.inChannels) return m;
  throw new ValueError(`experiment: found no convolution with ${model.inChannels} input channels in the model.`);
}

function meanImgsPerSec(r: TrainResult): number | null {
  const xs = r.history
    .slice(1)
    .map((h) => h.imgsPerSec)
    .filter(Number.isFinite);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** What a unit records of its data: names, sizes, the images evaluated, the train images' std. */
export function datasetInfo(data: { train: SegDataset; val: SegDataset }, evalLimit: number | null): UnitResult['dataset'] {
  return {
    name: data.val.name,
    numClasses: data.train.numClasses,
    classNames: [...data.val.classNames],
    train: data.train.length,
    val: data.val.length,
    evalImages: Math.min(evalLimit ?? data.val.length, data.val.length),
    imageStd: imageStd(data.train),
  };
}

/** The options of a unit's val evaluations: the images, the batch size, the seed of their label codes. */
export const unitEvalOptions = (cfg: ExperimentConfig, seed: number, dataset: UnitResult['dataset']) => ({
  numClasses: dataset.numClasses,
  limit: dataset.evalImages,
  batchSize: cfg.eval.batchSize,
  seed: mixSeed(seed, STREAM.eval),
});

/**
 * How a unit measures an arm's model for its report row: zeros in the label channel, or for a
 * teacher measured with labels (evalInput 'labels') its labels under encodeTeacherEval. `cfg` is the
 * unit's config (label scale resolved), as report.json's points[i].config holds it.
 */
export function armEvaluation(cfg: ExperimentConfig, arm: ArmName | 'baseline-start', seed: number, val: SegDataset, dataset: UnitResult['dataset']) {
  const opts = unitEvalOptions(cfg, seed, dataset);
  const spec = arm === 'baseline-start' ? null : armSpec(arm);
  return (m: SegModel): Promise<EvalResult> =>
    spec?.evalInput === 'labels'
      ? evaluate(m, val, { ...opts, labelMode: 'encoded', encoding: spec.lad(cfg.lad).encodeTeacherEval })
      : evaluate(m, val, { ...opts, labelMode: 'zeros' });
}

/** Runs (or resumes) one seed of one grid point; `cfg` is the point's config with its label scale resolved. */
export async function runUnit(cfg: ExperimentConfig, point: Record<string, KnobValue>, pointName: string, seed: number, ctx: UnitContext): Promise<UnitRun> {
  const { data, device } = ctx;
  const K = ctx.dataset.numClasses;
  const unitDir = ctx.outDir === null ? null : join(ctx.outDir, pointName, `seed-${seed}`);
  if (unitDir) fs().mkdirSync(unitDir, { recursive: true });
  const modelCfg: ModelConfig = { ...cfg.model, inChannels: 4, numClasses: K };
  const imageSize = cfg.student.cropSize ?? data.train.get(0).label.shape[0];
  const macs = countMacs(buildModel(modelCfg, { generator: new Generator(0) }), [1, 4, imageSize, imageSize]);
  const evalOpts = unitEvalOptions(cfg, seed, ctx.dataset);
  const zerosEval = armEvaluation(cfg, 'baseline-start', seed, data.val, ctx.dataset);
  const fresh = (stream: number) => buildModel(modelCfg, { generator: new Generator(mixSeed(seed, stream)) }).to(device); // init drawn on the CPU
  const copyOf = (src: SegModel, stream: number) => {
    const m = fresh(stream);
    m.loadStateDict(src.stateDict());
    return m;
  };
  const arms: UnitResult['arms'] = {};
  const timing: UnitResult['timing'] = {};
  const models: UnitRun['models'] = {};

  const train = async (
    name: ArmName | 'baseline-start',
    dir: string | null,
    model: SegModel,
    tc: TrainConfig,
    lossFn: LossFn,
    evalFn: (m: SegModel) => Promise<EvalResult>,
    resume = ctx.resume,
  ) => {
    ctx.log(`[experiment] ${pointName ? `${pointName} ` : ''}seed ${seed}: ${name} (${tc.iterations} iterations)`);
    ctx.watch?.start?.(name, tc.iterations);
    defaultGenerator.manualSeed(mixSeed(seed, STREAM.default, hashName(name)));
    const result = await trainModel({
      name,
      model,
      lossFn,
      train: data.train,
      val: data.val,
      numClasses: K,
      cfg: tc,
      outDir: dir,
      evalFn,
      resume,
      quiet: ctx.quiet,
      print: ctx.print,
      device,
      extra: { model: JSON.stringify(modelCfg), arm: name, seed: String(seed), point: pointName },
      onStep: ctx.watch?.step && ((entry, m) => ctx.watch!.step!(name, entry, m)),
    });
    timing[name] = { seconds: result.seconds, imgsPerSec: meanImgsPerSec(result) };
    models[name] = model;
    return { result, final: result.final ?? (await evalFn(model)) };
  };
  const metrics = (run: { result: TrainResult; final: EvalResult }, tc: TrainConfig, forwards: number, diagnostics?: TeacherDiagnostics): ArmSeedMetrics => ({
    seed,
    mIoU: pct(run.final.mIoU),
    mIoUPresent: pct(run.final.mIoUPresent),
    pixAcc: pct(run.final.pixAcc),
    iou: run.final.iou.map((v) => (Number.isFinite(v) ? pct(v) : null)),
    curve: run.result.evals.map((e) => [e.step, pct(e.result.mIoU)]),
    finalLoss: run.result.history.at(-1)?.loss ?? null,
    topClass: topPredictedClass(run.final.confusion, data.val.classNames),
    iterations: tc.iterations,
    trainFlops: trainFlops(macs, tc.iterations, tc.batchSize, forwards),
    ...(diagnostics ? { diagnostics } : {}),
  });

  // -- the starting point: the baseline student (shared by the grid points), or a fresh init -------
  const start = fresh(STREAM.init);
  if (ctx.pretrained && cfg.backboneFrom) {
    const opts = { source: cfg.backboneFrom, labelChannelStd: cfg.model.backbone.labelChannelStd, generator: new Generator(mixSeed(seed, STREAM.pretrained)) };
    ctx.log(`[experiment] seed ${seed}: ${describePretrainedLoad(loadPretrainedBackbone_(start, ctx.pretrained, opts), cfg.backboneFrom)}`);
  }
  if (cfg.init === 'baseline') {
    const shared = ctx.outDir === null ? null : join(ctx.outDir, `baseline-${baselineKey(cfg)}`, `seed-${seed}`);
    const tc = { ...cfg.baseline, seed: mixSeed(seed, STREAM.baseline) };
    const lossFn: LossFn = (b) => baselineLoss(start, b, cfg.lad);
    let run: Awaited<ReturnType<typeof train>>;
    if (shared === null) run = await train('baseline-start', null, start, tc, lossFn, zerosEval);
    else if (fs().existsSync(join(shared, 'done')))
      run = await train('baseline-start', shared, start, tc, lossFn, zerosEval, true); // loads
    else {
      const mine = `${shared}.${ctx.owner}.tmp`; // resumable by the same owner
      run = await train('baseline-start', mine, start, tc, lossFn, zerosEval);
      fs().writeFileSync(join(mine, 'done'), '');
      fs().mkdirSync(join(shared, '..'), { recursive: true });
      try {
        fs().renameSync(mine, shared);
      } catch {
        fs().rmSync(mine, { recursive: true, force: true }); // another shard published the same bits first
      }
    }
    arms['baseline-start'] = metrics(run, tc, 3);
    await ctx.watch?.done?.('baseline-start', arms['baseline-start'], start);
  }

  // -- the arms ---------------------------------------------------------------------------------------
  const finetune = (tc: TrainConfig): TrainConfig => ({ ...tc, seed: mixSeed(seed, STREAM.finetune) });
  for (const arm of armsToRun(cfg.arms)) {
    const lad = arm.lad(cfg.lad);
    const recipe =
      arm.recipe === 'teacher' ? cfg.teacher : arm.recipe === 'student' ? cfg.student : { ...cfg.student, iterations: computeMatchedIterations(cfg, cfg.lad) };
    const tc = finetune(recipe);
    const model = copyOf(start, arm.stream);
    if (arm.loss === 'teacher') initExtraInputChannels_(firstConv(model), 3, cfg.lad.labelChannelInitStd, new Generator(mixSeed(seed, STREAM.redraw)));
    const teacher = arm.teacher ? models[arm.teacher]! : null;
    const lossFn: LossFn =
      arm.loss === 'teacher' ? (b, s, g) => teacherLoss(model, b, K, teacherLadAt(lad, s), g) : (b, _s, g) => studentLoss(model, teacher, b, K, lad, g);
    const evalFn = armEvaluation(cfg, arm.name, seed, data.val, ctx.dataset);
    const run = await train(arm.name, unitDir, model, tc, lossFn, evalFn);
    const diagnostics = arm.evalInput === 'labels' ? await diagnose(model, lad, run.final) : undefined;
    arms[arm.name] = metrics(run, tc, forwardsPerStep(arm, lad), diagnostics);
    await ctx.watch?.done?.(arm.name, arms[arm.name]!, model);
  }

  async function diagnose(teacher: SegModel, lad: LadConfig, own: EvalResult): Promise<TeacherDiagnostics> {
    return {
      encoded: pct(own.mIoU),
      zeros: pct((await zerosEval(teacher)).mIoU),
      otherImage: pct((await evaluate(teacher, data.val, { ...evalOpts, labelMode: 'otherImage', encoding: lad.encodeTeacherEval })).mIoU),
      fixedCode: pct((await evaluate(teacher, data.val, { ...evalOpts, labelMode: 'encoded', encoding: lad.encodeDistill })).mIoU),
      agreement: pct(await encodingAgreement(teacher, data.val, { ...evalOpts, encoding: lad.encodeTeacherEval })),
    };
  }

  const result: UnitResult = { version: 2, point, pointName, seed, config: cfg, dataset: ctx.dataset, arms, timing };
  if (unitDir) writeAtomic(join(unitDir, 'unit.json'), JSON.stringify(result, jsonNumbers, 2) + '\n');
  return { result, models };
}

/** JSON has no NaN / Infinity: write them as null. */
export function jsonNumbers(_k: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

/** A finished unit's result, or null. */
export function readUnit(outDir: string, pointName: string, seed: number): UnitResult | null {
  const path = join(outDir, pointName, `seed-${seed}`, 'unit.json');
  return fs().existsSync(path) ? (JSON.parse(fs().readFileSync(path, 'utf8')) as UnitResult) : null;
}

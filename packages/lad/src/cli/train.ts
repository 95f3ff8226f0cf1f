// `lad train` (the CE baseline), `lad train-teacher` (the label-assisted teacher, §2.3) and
// `lad distill` (the student, §2.4): build the run config (run-config.ts), the model and the loss,
// then hand them to trainModel. Each run writes <out>/<name>/: config.json, log.jsonl, ckpt-*.safetensors.
// Checkpoints carry the run config (extra.config), so `lad eval` and `lad distill` can rebuild the model.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Device, Generator, Tensor, TensorError, ValueError, profileSteps } from '@lad/tensor';
import { SafetensorsError, loadCheckpoint, loadSafetensors, type Checkpoint } from '@lad/nn';
import { buildModel, type ModelConfig } from '../models/build.ts';
import type { SegModel } from '../models/types.ts';
import { describePretrainedLoad, loadPretrainedBackbone_ } from '../models/pretrained.ts';
import { mixSeed, STREAM } from '../seeds.ts';
import { evaluate } from '../evaluate.ts';
import { autoLabelScale } from '../label-encoding.ts';
import { runFiles, trainModel, type LossFn } from '../train.ts';
import { teacherLadAt, teacherLoss } from '../teacher.ts';
import { baselineLoss, studentLoss } from '../student.ts';
import { UsageError, formatFlags, parseFlags, suggest, type CliIO, type FlagSpec, type Parsed, type CommandRun } from './args.ts';
import { ARCHS, RUN_FLAGS, checkModelConfig, runConfig, type RunConfig } from './run-config.ts';
import { withDevice } from './device.ts';

type Kind = 'baseline' | 'teacher' | 'student';

const TEACHER_FLAGS: FlagSpec = {
  'init-from': {
    type: 'string',
    value: 'CKPT',
    help: 'start from a (baseline) checkpoint; the label-channel weights of the first conv are redrawn N(0, lad.labelChannelInitStd²)',
  },
};
const DISTILL_FLAGS: FlagSpec = {
  'init-from': {
    type: 'string',
    value: 'CKPT',
    help: 'start the student from a trained (baseline) checkpoint, as the released recipe fine-tunes a trained student (with --lr 0.001); default: a fresh init',
  },
  teacher: { type: 'string', value: 'CKPT', help: 'the teacher checkpoint (required; written by lad train-teacher)' },
  'teacher-arch': { type: 'string', value: 'ARCH', help: "the teacher architecture when the checkpoint does not record it (default: the student's)" },
};

const HELP: Record<Kind, { cmd: string; line: string; about: string; flags: FlagSpec }> = {
  baseline: {
    cmd: 'lad train',
    line: 'lad train [--dataset NAME] [--config FILE] [flags]',
    about: 'Trains the baseline segmenter with cross-entropy (+ aux CE), no label channel.',
    flags: RUN_FLAGS,
  },
  teacher: {
    cmd: 'lad train-teacher',
    line: 'lad train-teacher [--init-from CKPT] [flags]',
    about: 'Trains the LAD teacher: a 4-channel model that sees its encoded labels, two paths tied by a consistency loss.',
    flags: { ...TEACHER_FLAGS, ...RUN_FLAGS },
  },
  student: {
    cmd: 'lad distill',
    line: 'lad distill --teacher CKPT [flags]',
    about: 'Distils a frozen teacher (on grid-encoded labels) into a student that sees a zero label channel.',
    flags: { ...DISTILL_FLAGS, ...RUN_FLAGS },
  },
};

function helpText(kind: Kind): string {
  const h = HELP[kind];
  return [
    `usage: ${h.line}`,
    '',
    h.about,
    `Writes <out>/<name>/config.json, log.jsonl and ckpt-*.safetensors. Flags override --config, which overrides the defaults.`,
    '',
    ...formatFlags(h.flags),
  ].join('\n');
}

/** Reads a checkpoint given on the command line, failing with a UsageError when it cannot. */
export function readCheckpoint(cmd: string, flag: string, file: string): { ck: Checkpoint; config: RunConfig | null } {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`${cmd}: ${flag} ${file}: file not found.`);
  let ck: Checkpoint;
  try {
    ck = loadCheckpoint(path);
  } catch (e) {
    throw new UsageError(`${cmd}: ${flag} ${file}: ${(e as Error).message}`);
  }
  if (!ck.extra.config) return { ck, config: null };
  try {
    return { ck, config: JSON.parse(ck.extra.config) as RunConfig };
  } catch (e) {
    throw new UsageError(`${cmd}: ${flag} ${file}: its run config (extra.config) is not valid JSON: ${(e as Error).message}`);
  }
}

/** Loads a checkpoint's weights into `model`, explaining a mismatch. */
export function loadWeights(cmd: string, what: string, model: SegModel, ck: Checkpoint, cfg: ModelConfig): void {
  try {
    model.loadStateDict(ck.model, { strict: true });
  } catch (e) {
    throw new UsageError(
      `${cmd}: ${what} does not fit a ${cfg.arch} model (${cfg.inChannels} input channels, ${cfg.numClasses} classes, width ${cfg.backbone.width}): ${(e as Error).message.split('\n')[0]}; give the matching model config (--arch / --config).`,
    );
  }
}

/** The first conv's weight: the first 4-D parameter that reads the model's input channels. */
function stemWeightName(model: SegModel): string {
  const hit = model.namedParameters().find(([, p]) => p.ndim === 4 && p.shape[1] === model.inChannels);
  if (!hit) throw new ValueError(`no first-layer conv weight with ${model.inChannels} input channels found.`);
  return hit[0];
}

/**
 * Loads a 3- or 4-channel checkpoint into a 4-channel teacher or student: every weight as saved, except
 * that the first conv's label channel is redrawn from N(0, std²) (lad-method.md §3.1; a student sees
 * zeros there, so its draw does not matter).
 */
function initFrom(cmd: string, file: string, model: SegModel, cfg: RunConfig): void {
  const { ck } = readCheckpoint(cmd, '--init-from', file);
  const name = stemWeightName(model);
  const saved = ck.model[name];
  const want = model.stateDict()[name].shape;
  if (
    !saved ||
    saved.ndim !== 4 ||
    saved.shape[0] !== want[0] ||
    saved.shape[2] !== want[2] ||
    saved.shape[3] !== want[3] ||
    (saved.shape[1] !== 3 && saved.shape[1] !== 4)
  ) {
    throw new UsageError(
      `${cmd}: --init-from ${file}: its '${name}' is ${saved ? `[${saved.shape.join(', ')}]` : 'missing'}, expected [${want[0]}, 3 or 4, ${want[2]}, ${want[3]}]; train the baseline with the same model config (--arch / --config).`,
    );
  }
  const [O, C, kh, kw] = saved.shape;
  const src = saved.data(),
    plane = kh * kw;
  const noise = new Float32Array(O * plane); // (O, 1, kh, kw)
  new Generator(mixSeed(STREAM.cliLabelRedraw, cfg.train.seed)).fillNormal(noise, 0, cfg.lad.labelChannelInitStd);
  const out = new Float32Array(O * 4 * plane);
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < 3; c++) out.set(src.subarray((o * C + c) * plane, (o * C + c + 1) * plane), (o * 4 + c) * plane);
    out.set(noise.subarray(o * plane, (o + 1) * plane), (o * 4 + 3) * plane);
  }
  const sd = { ...ck.model, [name]: Tensor.fromData(out, [O, 4, kh, kw]) };
  loadWeights(cmd, `--init-from ${file}`, model, { ...ck, model: sd }, cfg.model);
}

/** --backbone-from: an ImageNet ResNet's weights in the backbone, the stem widened as the official loader does. */
function backboneFrom(cmd: string, file: string, model: SegModel, cfg: RunConfig, io: CliIO): void {
  if (!existsSync(file)) throw new UsageError(`${cmd}: --backbone-from ${file} does not exist.`);
  try {
    const opts = { source: file, labelChannelStd: cfg.model.backbone.labelChannelStd, generator: new Generator(mixSeed(STREAM.pretrained, cfg.train.seed)) };
    io.err(`${cmd}: ${describePretrainedLoad(loadPretrainedBackbone_(model, loadSafetensors(file).tensors, opts), file)}`);
  } catch (e) {
    if (e instanceof TensorError || e instanceof SafetensorsError)
      throw new UsageError(`${cmd}: --${e.message.replace(/^backbone-from: /, 'backbone-from: ')}`);
    throw e;
  }
}

/** Builds the frozen eval-mode teacher of `lad distill` (on the CPU; the caller moves it). */
function loadTeacher(cmd: string, flags: Parsed['flags'], student: RunConfig): SegModel {
  const file = flags.teacher;
  if (typeof file !== 'string' || file === '') throw new UsageError(`${cmd}: --teacher CKPT is required (a checkpoint written by lad train-teacher).`);
  const { ck, config } = readCheckpoint(cmd, '--teacher', file);
  const arch = flags['teacher-arch'];
  if (arch !== undefined && !ARCHS.includes(arch as ModelConfig['arch'])) {
    const guess = suggest(String(arch), ARCHS);
    throw new UsageError(
      `${cmd}: --teacher-arch: unknown architecture '${String(arch)}'${guess ? ` (did you mean '${guess}'?)` : ''}; choose one of ${ARCHS.join(', ')}.`,
    );
  }
  if (config && arch !== undefined && arch !== config.model.arch)
    throw new UsageError(`${cmd}: --teacher-arch ${String(arch)}, but ${file} holds a ${config.model.arch} teacher; drop --teacher-arch.`);
  const model: ModelConfig = config ? config.model : { ...student.model, inChannels: 4, ...(arch ? { arch: arch as ModelConfig['arch'] } : {}) };
  if (model.numClasses !== student.model.numClasses) {
    throw new UsageError(
      `${cmd}: the teacher ${file} predicts ${model.numClasses} classes but the student's dataset has ${student.model.numClasses}; distil on the teacher's dataset (${config?.data.dataset ?? 'unknown'}).`,
    );
  }
  checkModelConfig(cmd, model, student.model.numClasses);
  const teacher = buildModel(model);
  loadWeights(cmd, `--teacher ${file}`, teacher, ck, model);
  teacher.eval();
  teacher.requiresGrad_(false);
  return teacher;
}

/** Refuses to start afresh in a folder that holds a run, unless --overwrite; --resume continues it. */
function checkRunFolder(cmd: string, runDir: string, flags: Parsed['flags']): void {
  if (flags.resume && flags.overwrite)
    throw new UsageError(`${cmd}: --resume and --overwrite contradict each other: --resume continues the run in ${runDir}, --overwrite deletes it.`);
  const held = runFiles(runDir);
  if (held.length > 0 && !flags.resume && !flags.overwrite) {
    throw new UsageError(
      `${cmd}: ${runDir} already holds a run (${held.join(', ')}); pass --resume to continue it, choose a new --out or --name, or pass --overwrite to replace it.`,
    );
  }
}

async function runKind(kind: Kind, args: string[], io: CliIO): Promise<number> {
  const { cmd, flags: spec } = HELP[kind];
  const { flags, positionals } = parseFlags(cmd, args, spec);
  if (flags.help) return (io.out(helpText(kind)), 0);
  if (positionals.length > 0) throw new UsageError(`${cmd}: unexpected argument '${positionals[0]}'; every option is a flag (see ${cmd} --help).`);
  if (flags.out === '' || flags.name === '') throw new UsageError(`${cmd}: --${flags.out === '' ? 'out' : 'name'} needs a value.`);
  const name = typeof flags.name === 'string' ? flags.name : kind;
  const outDir = resolve(typeof flags.out === 'string' ? flags.out : 'runs');
  checkRunFolder(cmd, join(outDir, name), flags);
  const inChannels = kind === 'baseline' ? 3 : 4;
  const { cfg, train, val, device: choice, imageStd } = runConfig(cmd, flags, inChannels);
  if (kind === 'teacher' && cfg.model.inChannels !== 4)
    throw new UsageError(`${cmd}: a teacher needs model.inChannels 4 (image + label channel): got ${cfg.model.inChannels}.`);
  const K = cfg.model.numClasses;
  if (kind !== 'baseline')
    io.err(
      `${cmd}: label scale ${cfg.lad.encodeTrain.scale} (training), ${cfg.lad.encodeDistill.scale} (distillation code); 'auto' is ${autoLabelScale(imageStd)}: 1.7 × the training images' std ${imageStd.toFixed(3)}`,
    );
  // built and loaded on the CPU (the init draws, checkpoints); trainModel moves the model to the device
  const model = buildModel(cfg.model, { generator: new Generator(cfg.train.seed) });
  let teacher: SegModel | null = null;
  const pretrained = flags['backbone-from'];
  if (typeof pretrained === 'string') {
    if (flags['init-from'] !== undefined) throw new UsageError(`${cmd}: --backbone-from and --init-from both give the starting weights: pass one.`);
    backboneFrom(cmd, resolve(pretrained), model, cfg, io);
  }
  if (kind !== 'baseline' && typeof flags['init-from'] === 'string') initFrom(cmd, flags['init-from'], model, cfg);
  if (kind === 'student') teacher = loadTeacher(cmd, flags, cfg);

  return withDevice(cmd, choice, io, async (device: Device) => {
    teacher?.to(device);
    let lossFn: LossFn;
    if (kind === 'baseline') lossFn = (batch) => baselineLoss(model, batch, cfg.lad);
    else if (kind === 'teacher') lossFn = (batch, step, gen) => teacherLoss(model, batch, K, teacherLadAt(cfg.lad, step), gen);
    else lossFn = (batch, _step, gen) => studentLoss(model, teacher!, batch, K, cfg.lad, gen);
    if (flags.profile) lossFn = profileSteps(lossFn, { print: io.out, label: 'iteration' }); // iterations 2-4, each to the next loss call
    // the teacher is validated with its labels (the privileged score), the others with a zero channel
    const evalFn = (m: SegModel) =>
      evaluate(
        m,
        val,
        kind === 'teacher'
          ? { numClasses: K, labelMode: 'encoded', encoding: cfg.lad.encodeTeacherEval, seed: cfg.train.seed }
          : { numClasses: K, seed: cfg.train.seed },
      );

    mkdirSync(join(outDir, name), { recursive: true });
    writeFileSync(
      join(outDir, name, 'config.json'),
      JSON.stringify({ kind, ...cfg, backboneFrom: typeof pretrained === 'string' ? resolve(pretrained) : null }, null, 2) + '\n',
    );
    const r = await trainModel({
      name,
      model,
      lossFn,
      train,
      val,
      numClasses: K,
      cfg: cfg.train,
      outDir,
      evalFn,
      device,
      resume: Boolean(flags.resume),
      overwrite: Boolean(flags.overwrite),
      quiet: Boolean(flags.quiet),
      prefetch: Boolean(flags.prefetch),
      extra: { kind, config: JSON.stringify(cfg) },
    });
    const f = r.final;
    io.out(
      `${name}: ${cfg.train.iterations} iterations in ${r.seconds.toFixed(1)} s on ${device}${f ? `; val mIoU ${(100 * f.mIoU).toFixed(2)} (present classes ${(100 * f.mIoUPresent).toFixed(2)}), pixAcc ${(100 * f.pixAcc).toFixed(2)}` : ''}; checkpoint ${r.checkpoint}`,
    );
    return 0;
  });
}

export const runTrain: CommandRun = (args, io) => runKind('baseline', args, io);
export const runTrainTeacher: CommandRun = (args, io) => runKind('teacher', args, io);
export const runDistill: CommandRun = (args, io) => runKind('student', args, io);

// The one value check of LAD's configs: LabelEncoding, LadConfig, TrainConfig (config.ts), ModelConfig
// (models/build.ts) and ExperimentConfig (presets.ts). Every key must be present and known (a typo
// such as `kdweight` is an error, not ignored), every enum is one of the `as const` lists the unions
// are derived from, every number is in its range, and the cross-field rules hold. The CLI, --set /
// --sweep and the library entry points (trainModel, the losses, runExperiment) all call these, so a
// bad value fails once, up front, with a ConfigError naming the key path:
//   config: lad.kdLoss: got 'cdw', expected one of cwd, pixelKD, none.
// The schemas are typed `{ [K in keyof T]-?: Check }`, so a field added to a config type without a
// rule here (or a rule for a field that does not exist) is a type error.

import { ValueError } from '@lad/tensor';
import { CODE_DISTS, CONS_LOSSES, KD_LOSSES, type LabelEncoding, type LadConfig, type TrainConfig } from './config.ts';
import { ARCHS, type BackboneConfig, type ModelConfig } from './models/build.ts';
import { OUTPUT_STRIDES, RESNET_DEPTHS } from './models/backbones/resnet.ts';
import type { ExperimentConfig, ExperimentData } from './presets.ts';
import { gridPoints, resolveKnob } from './experiment/knobs.ts';
import { ARM_NAMES } from './experiment/arms.ts';
import type { DigitsSegOptions } from './data/digits-seg.ts';
import type { TexturedBlobsOptions } from './data/textured-blobs.ts';
import type { SyntheticOptions } from './data/synthetic.ts';
import { suggest } from './suggest.ts';

/** A config value out of its domain; `path` is the dotted key path (`lad.kdLoss`, `seeds[1]`). */
export class ConfigError extends ValueError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** A leaf rule: a test and what it expects (for the message). */
interface Rule {
  ok(v: unknown): boolean;
  expected: string | ((v: unknown) => string);
}
/** Throws a ConfigError unless `v` is valid at `path`. */
type Check = (v: unknown, path: string) => void;
type Schema<T> = { [K in keyof T]-?: Rule | Check };

const show = (v: unknown): string =>
  v === undefined ? 'nothing (the key is missing)' : typeof v === 'string' ? `'${v}'` : typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v));
const fail = (path: string, v: unknown, expected: string): never => {
  throw new ConfigError(path, `config: ${path}: got ${show(v)}, expected ${expected}.`);
};
const check = (r: Rule | Check, v: unknown, path: string): void => {
  if (typeof r === 'function') r(v, path);
  else if (!r.ok(v)) fail(path, v, typeof r.expected === 'string' ? r.expected : r.expected(v));
};
const join = (path: string, key: string) => (path ? `${path}.${key}` : key);
const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// -- rules -----------------------------------------------------------------------------------------

const int = (min: number): Rule => ({
  ok: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min,
  expected: min === Number.MIN_SAFE_INTEGER ? 'an integer' : `an integer >= ${min}`,
});
const seed = int(Number.MIN_SAFE_INTEGER);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const positive: Rule = { ok: (v) => finite(v) && v > 0, expected: 'a finite number > 0' };
const nonNegative: Rule = { ok: (v) => finite(v) && v >= 0, expected: 'a finite number >= 0' };
const unitInterval: Rule = { ok: (v) => finite(v) && v >= 0 && v <= 1, expected: 'a number in [0, 1]' };
const probability: Rule = { ok: (v) => finite(v) && v >= 0 && v < 1, expected: 'a number in [0, 1)' };
const bool: Rule = { ok: (v) => typeof v === 'boolean', expected: 'true or false' };
const str: Rule = { ok: (v) => typeof v === 'string', expected: 'a string' };
const oneOf = (list: readonly (string | number)[]): Rule => ({
  ok: (v) => (typeof v === 'string' || typeof v === 'number') && list.includes(v),
  expected: (v) => {
    const guess = typeof v === 'string' ? suggest(v, list.map(String)) : undefined;
    return `one of ${list.join(', ')}${guess ? ` (did you mean '${guess}'?)` : ''}`;
  },
});
const nullable = (r: Rule, what: string): Rule => ({ ok: (v) => v === null || r.ok(v), expected: `null (${what}) or ${r.expected as string}` });
const optional =
  (r: Rule | Check): Check =>
  (v, p) =>
    void (v !== undefined && check(r, v, p));
/** [min, max] of numbers (integers when `integers`) with min <= max. */
const range = (integers: boolean): Rule => ({
  ok: (v) => Array.isArray(v) && v.length === 2 && v.every((x) => (integers ? Number.isSafeInteger(x) : finite(x))) && v[0] <= v[1],
  expected: `[min, max] ${integers ? 'integers' : 'numbers'} with min <= max`,
});

/** An object with exactly the schema's keys (absent optional keys allowed), each checked; then `cross`. */
function object<T>(schema: Schema<T>, cross?: (v: T, path: string) => void): Check {
  const keys = Object.keys(schema);
  return (v, p) => {
    if (!isPlain(v)) fail(p || 'config', v, `an object with the keys ${keys.join(', ')}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (Object.hasOwn(schema, k)) continue;
      const guess = suggest(k, keys);
      throw new ConfigError(
        join(p, k),
        `config: ${join(p, k)}: unknown key${guess ? ` (did you mean '${guess}'?)` : ''}; the keys of ${p || 'the config'} are ${keys.join(', ')}.`,
      );
    }
    for (const [k, r] of Object.entries(schema) as [string, Rule | Check][]) check(r, o[k], join(p, k));
    cross?.(o as T, p);
  };
}

// -- the schemas -----------------------------------------------------------------------------------

const scale: Rule = { ok: (v) => v === 'auto' || positive.ok(v), expected: "a finite number > 0 or 'auto' (1.7 × the image std)" };
const LABEL_ENCODING: Schema<LabelEncoding> = { codeDist: oneOf(CODE_DISTS), sigma: nonNegative, scale, smoothPasses: int(0) };
const encoding = object(LABEL_ENCODING);

const LAD: Schema<LadConfig> = {
  encodeTrain: encoding,
  encodeDistill: encoding,
  encodeTeacherEval: encoding,
  dualPath: bool,
  consLoss: oneOf(CONS_LOSSES),
  consWeight: nonNegative,
  consT: positive,
  consSymmetric: bool,
  auxWeightTeacher: nonNegative,
  auxWeightStudent: nonNegative,
  auxWeightBaseline: nonNegative,
  kdLoss: oneOf(KD_LOSSES),
  kdWeight: nonNegative,
  kdT: positive,
  resizeTeacherLogits: bool,
  labelChannelInitStd: nonNegative,
  labelScaleWarmup: optional(int(0)),
  teacherLabels: optional(oneOf(['own', 'otherImage'])),
};
const lad = object(LAD);

const TRAIN: Schema<TrainConfig> = {
  iterations: int(1),
  batchSize: int(1),
  lr: positive,
  momentum: probability,
  weightDecay: nonNegative,
  polyPower: nonNegative,
  cropSize: nullable(int(1), 'whole images'),
  evalEvery: int(0),
  checkpointEvery: int(0),
  seed,
};
const train = object(TRAIN);

const BACKBONE: Schema<BackboneConfig> = { depth: oneOf(RESNET_DEPTHS), width: int(1), outputStride: oneOf(OUTPUT_STRIDES), labelChannelStd: nonNegative };

const MODEL: Schema<ModelConfig> = {
  arch: oneOf(ARCHS),
  backbone: object(BACKBONE),
  inChannels: oneOf([3, 4]),
  numClasses: int(1),
  aux: bool,
  headChannels: int(1),
  auxChannels: nullable(int(1), 'c3 channels / 4'),
  keyChannels: nullable(int(1), 'headChannels / 2'),
  dropout: nullable(probability, 'the per-arch default'),
  auxDropout: nullable(probability, 'the per-arch default'),
};
const model = object(MODEL, (m, p) => {
  if (m.arch === 'ocr' && !m.aux) fail(join(p, 'aux'), m.aux, "true with arch 'ocr' (its aux logits are the soft object regions)");
  if (m.arch === 'stdc' && m.backbone.width % 2 !== 0) fail(join(p, 'backbone.width'), m.backbone.width, "an even integer with arch 'stdc'");
});

/** The data kinds of ExperimentData; the type below fails to compile if they drift from the union. */
export const DATA_KINDS = ['digits-seg', 'textured-blobs', 'folder'] as const;
/** How an experiment's teachers and students start: from the baseline, or from scratch. */
export const INIT_MODES = ['baseline', 'scratch'] as const;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _kinds: Same<(typeof DATA_KINDS)[number], ExperimentData['kind']> = true;
const _inits: Same<(typeof INIT_MODES)[number], ExperimentConfig['init']> = true;
void _kinds, void _inits;

type DataOf<K extends ExperimentData['kind']> = Extract<ExperimentData, { kind: K }>;
const DIGITS_OPTIONS: Schema<Omit<DigitsSegOptions, keyof SyntheticOptions>> = {
  digits: optional(range(true)),
  digitSize: optional(range(true)),
  thickenProb: optional(unitInterval),
  thickenPasses: optional(int(1)),
  noise: optional(nonNegative),
  classes: optional({ ok: (v) => Array.isArray(v) && v.every((c) => Number.isSafeInteger(c)), expected: 'a list of digits 0-9' }),
};
const BLOBS_OPTIONS: Schema<Omit<TexturedBlobsOptions, keyof SyntheticOptions>> = {
  objects: optional(range(true)),
  radius: optional(range(false)),
  period: optional(range(false)),
  ignoreBand: optional(nonNegative),
  noise: optional(nonNegative),
};
const DATA: { [K in ExperimentData['kind']]: Check } = {
  'digits-seg': object<DataOf<'digits-seg'>>({ kind: str, train: int(1), val: int(1), seed, size: int(1), options: optional(object(DIGITS_OPTIONS)) }),
  'textured-blobs': object<DataOf<'textured-blobs'>>({ kind: str, train: int(1), val: int(1), seed, size: int(1), options: optional(object(BLOBS_OPTIONS)) }),
  folder: object<DataOf<'folder'>>({
    kind: str,
    dir: { ok: (v) => typeof v === 'string' && v !== '', expected: 'the dataset folder (lad experiment --data DIR)' },
    val: nullable(int(1), 'the whole val split'),
  }),
};
const data: Check = (v, p) => {
  if (!isPlain(v)) fail(p, v, `an object { kind: ${DATA_KINDS.join(' | ')}, ... }`);
  const kind = (v as { kind?: unknown }).kind;
  check(oneOf(DATA_KINDS), kind, join(p, 'kind'));
  DATA[kind as ExperimentData['kind']](v, p);
};

const seeds: Check = (v, p) => {
  if (!Array.isArray(v) || v.length === 0) fail(p, v, 'a non-empty list of integer seeds');
  (v as unknown[]).forEach((s, i) => check(seed, s, `${p}[${i}]`));
  if (new Set(v as number[]).size !== (v as number[]).length) fail(p, v, 'distinct seeds');
};

const scalar: Rule = { ok: (v) => v === null || ['number', 'string', 'boolean'].includes(typeof v), expected: 'a number, string, boolean or null' };
const axis = object<ExperimentConfig['sweep'][number]>({
  path: str,
  values: (vs, q) => {
    if (!Array.isArray(vs) || vs.length === 0) fail(q, vs, 'a non-empty list of values');
    (vs as unknown[]).forEach((x, i) => check(scalar, x, `${q}[${i}]`));
  },
});
const sweep: Check = (v, p) => {
  if (!Array.isArray(v)) fail(p, v, 'a list of grid axes { path, values } ([] for none)');
  (v as unknown[]).forEach((a, i) => axis(a, `${p}[${i}]`));
};
const arms: Check = (v, p) => {
  if (v === null) return;
  if (!Array.isArray(v) || v.length === 0) fail(p, v, `null (every arm) or a non-empty list of ${ARM_NAMES.join(', ')}`);
  (v as unknown[]).forEach((a, i) => check(oneOf(ARM_NAMES), a, `${p}[${i}]`));
};

const EXPERIMENT: Schema<ExperimentConfig> = {
  preset: str,
  data,
  model,
  lad,
  init: oneOf(INIT_MODES),
  backboneFrom: nullable(
    { ok: (v) => typeof v === 'string' && v !== '', expected: 'a safetensors file (lad experiment --backbone-from FILE)' },
    'a random init',
  ),
  baseline: train,
  teacher: train,
  student: train,
  seeds,
  eval: object<ExperimentConfig['eval']>({ limit: nullable(int(1), 'the whole val split'), batchSize: int(1), examples: int(0) }),
  arms,
  sweep,
};
/**
 * The teachers' label-channel weights are drawn twice: at the model's build (model.backbone.labelChannelStd)
 * and again, for every teacher arm, by the experiment (lad.labelChannelInitStd). Only the second reaches a
 * teacher (the other arms see a zero channel), so a config where they differ would sweep a knob that
 * changes nothing: it is refused.
 */
const experiment = object(EXPERIMENT, (c, p) => {
  const built = c.model.backbone.labelChannelStd,
    redrawn = c.lad.labelChannelInitStd;
  if (built !== redrawn)
    throw new ConfigError(
      join(p, 'model.backbone.labelChannelStd'),
      `config: model.backbone.labelChannelStd is ${built} but lad.labelChannelInitStd is ${redrawn}: every teacher arm redraws its label-channel weights N(0, lad.labelChannelInitStd²), so model.backbone.labelChannelStd would change no run; set both to the same value (the labelChannelStd knob does).`,
    );
  const otherImage = c.lad.teacherLabels === 'otherImage' || c.arms === null || c.arms.includes('teacher-otherlabels');
  if (otherImage && c.teacher.batchSize < 2)
    throw new ConfigError(
      join(p, 'teacher.batchSize'),
      `config: teacher.batchSize is ${c.teacher.batchSize}: teacher-otherlabels (lad.teacherLabels 'otherImage') gives each image the labels of another in its batch, so it needs at least 2; raise it, or leave that arm out (--arms).`,
    );
});

// -- the entry points ------------------------------------------------------------------------------

/**
 * Runs `c` on `v`; errors read `<op>: <path>: got X, expected Y.` (op 'config' by default; a library
 * function passes its own name and argument, e.g. ('teacherLoss', 'cfg')).
 */
function run(c: Check, v: unknown, path: string, op: string): void {
  try {
    c(v, path);
  } catch (e) {
    if (e instanceof ConfigError && op !== 'config') throw new ConfigError(e.path, e.message.replace(/^config: /, `${op}: `));
    throw e;
  }
}

/** Checks a LabelEncoding; `path` names it in errors (e.g. 'lad.encodeTrain'). */
export function validateLabelEncoding(v: unknown, path = 'encoding', op = 'config'): asserts v is LabelEncoding {
  run(encoding, v, path, op);
}

/** Checks a LadConfig (every key, enum and range); throws a ConfigError naming the key path. */
export function validateLadConfig(v: unknown, path = 'lad', op = 'config'): asserts v is LadConfig {
  run(lad, v, path, op);
}

/** Checks a TrainConfig (iterations >= 1, lr > 0, momentum in [0, 1), cropSize null or >= 1, ...). */
export function validateTrainConfig(v: unknown, path = 'train', op = 'config'): asserts v is TrainConfig {
  run(train, v, path, op);
}

/** Checks a ModelConfig, with its cross-field rules (ocr needs aux; stdc needs an even width). */
export function validateModelConfig(v: unknown, path = 'model', op = 'config'): asserts v is ModelConfig {
  run(model, v, path, op);
}

/**
 * Checks a whole ExperimentConfig: data, model, lad, every stage's TrainConfig (baseline, teacher,
 * student), seeds, eval, and the sweep, whose every value is applied and the result checked again,
 * so no stage fails after the ones before it have trained.
 */
export function validateExperimentConfig(v: unknown): asserts v is ExperimentConfig {
  experiment(v, '');
  const cfg = v as ExperimentConfig;
  if (cfg.sweep.length === 0) return;
  cfg.sweep.forEach((a, i) => {
    try {
      resolveKnob(cfg, a.path);
    } catch (e) {
      throw new ConfigError(`sweep[${i}].path`, `config: sweep[${i}].path: ${(e as Error).message}`);
    }
  });
  for (const p of gridPoints(cfg)) {
    try {
      experiment(p.cfg, '');
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      throw new ConfigError(e.path, `config: at grid point ${p.name}: ${e.message.replace(/^config: /, '')}`);
    }
  }
}

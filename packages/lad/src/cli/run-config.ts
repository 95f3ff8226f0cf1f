// The run configuration shared by `lad train`, `lad train-teacher`, `lad distill` and `lad eval`:
// { data, model, lad, train }, built as defaults < `--config file.json` (a partial config, merged key
// by key) < flags. Every unknown key, bad value or inconsistency is a UsageError that names the key
// and what to change. Datasets are named: digits-seg, textured-blobs, or folder:<dir>.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AUTO_SCALE_LAD, DEFAULT_TRAIN, type LadConfig, type TrainConfig } from '../config.ts';
import { imageStd, resolveLabelScale } from '../label-encoding.ts';
import { DigitsSeg } from '../data/digits-seg.ts';
import { TexturedBlobs } from '../data/textured-blobs.ts';
import { FolderDataset } from '../data/folder.ts';
import { withSpec } from '../data/dataset-spec.ts';
import type { SegDataset, Split } from '../data/types.ts';
import { ARCHS, TINY_MODEL, type ModelConfig } from '../models/build.ts';
import { ConfigError, validateLadConfig, validateModelConfig, validateTrainConfig } from '../validate.ts';
import { UsageError, intFlag, suggest, type FlagSpec, type Parsed } from './args.ts';
import { DEVICE_FLAGS, parseDevice, type DeviceChoice } from './device.ts';

export interface DataConfig {
  /** digits-seg | textured-blobs | folder:<dir> */
  dataset: string;
  /** Synthetic datasets: samples per split and canvas side (null = the dataset's default). */
  trainSamples: number | null;
  valSamples: number | null;
  size: number | null;
  /** Synthetic datasets: the base seed of the samples. */
  seed: number;
}

export interface RunConfig {
  data: DataConfig;
  model: ModelConfig;
  lad: LadConfig;
  train: TrainConfig;
}

export const DEFAULT_DATA: DataConfig = { dataset: 'digits-seg', trainSamples: null, valSamples: null, size: null, seed: 0 };

/** Training defaults for the small synthetic datasets (64×64): whole images, a CPU-sized run. */
export const SMALL_TRAIN: TrainConfig = { ...DEFAULT_TRAIN, iterations: 2000, batchSize: 8, cropSize: null, evalEvery: 500, checkpointEvery: 500 };

export { ARCHS };
const SYNTHETIC = ['digits-seg', 'textured-blobs'];
/** This module's extension ('.ts' from the sources, '.js' from dist/): the dataset modules' specs name the same kind of file. */
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** The flags every run command takes. */
export const RUN_FLAGS: FlagSpec = {
  config: { type: 'string', value: 'FILE', help: 'JSON file with a partial { data, model, lad, train } config, merged over the defaults' },
  dataset: { type: 'string', value: 'NAME', help: 'digits-seg (default), textured-blobs or folder:<dir> (written by lad data export)' },
  'train-samples': { type: 'string', value: 'N', help: 'synthetic datasets: train samples' },
  'val-samples': { type: 'string', value: 'N', help: 'synthetic datasets: val samples' },
  arch: { type: 'string', value: 'ARCH', help: `model architecture: ${ARCHS.join(', ')} (default deeplabv3, the tiny ResNet-18 preset)` },
  iterations: { type: 'string', value: 'N', help: 'training iterations (default 2000 on synthetic data)' },
  'batch-size': { type: 'string', value: 'N', help: 'images per step (default 8 on synthetic data)' },
  lr: { type: 'string', value: 'X', help: 'initial learning rate of the poly schedule (default 0.02)' },
  'crop-size': {
    type: 'string',
    value: 'N|none',
    help: 'random scale/crop/flip augmentation to N×N; none trains on whole images (default none on synthetic data)',
  },
  'eval-every': { type: 'string', value: 'N', help: 'validate every N iterations (0: only at the end)' },
  'checkpoint-every': { type: 'string', value: 'N', help: 'checkpoint every N iterations (0: only at the end)' },
  seed: { type: 'string', value: 'S', help: 'seed of the model init, data order, augmentation and label codes (default 0)' },
  'backbone-from': {
    type: 'string',
    value: 'FILE',
    help: "ImageNet ResNet weights (safetensors, CIRKD's or torchvision's names) for the backbone; a 4-channel stem gets the label channel drawn N(0, 0.1²) as the official code does. Needs paper width (--config model.backbone.width 64)",
  },
  ...DEVICE_FLAGS,
  out: { type: 'string', value: 'DIR', help: 'output directory; the run writes DIR/<name>/ (default runs)' },
  name: { type: 'string', value: 'NAME', help: 'run name (default: the command, e.g. baseline, teacher, student)' },
  resume: { type: 'boolean', help: 'continue from the latest checkpoint in DIR/<name>/' },
  overwrite: { type: 'boolean', help: 'start afresh in DIR/<name>/ even if it holds a run (deletes its checkpoints and log)' },
  prefetch: { type: 'boolean', help: 'build batches in a worker thread' },
  quiet: { type: 'boolean', help: 'no progress output' },
  profile: { type: 'boolean', help: 'print a per-op profile (@lad/tensor profile) of iterations 2-4' },
  help: { type: 'boolean', help: 'show this help' },
};

/** `--device`, `--gpu-mode`, `--dawn` (see device.ts). */
export function checkDevice(cmd: string, flags: Parsed['flags']): DeviceChoice {
  return parseDevice(cmd, flags);
}

/** Reads a partial config file. */
export function readConfigFile(cmd: string, file: string): Record<string, unknown> {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`${cmd}: --config ${file}: file not found.`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`${cmd}: --config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlain(json)) throw new UsageError(`${cmd}: --config ${file} must hold a JSON object { data?, model?, lad?, train? }.`);
  return json;
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `patch` merged over `base`, recursively over plain objects; keys not in `base` and values of another
 * type are errors naming `where` (e.g. 'train.lr'). Nullable fields take null or the base's type.
 */
export function mergeConfig<T>(cmd: string, base: T, patch: unknown, where: string, nullable: readonly string[] = []): T {
  if (!isPlain(patch)) throw new UsageError(`${cmd}: config '${where}' must be an object: got ${JSON.stringify(patch)}.`);
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) {
    const key = where ? `${where}.${k}` : k;
    if (!Object.hasOwn(out, k)) {
      const guess = suggest(k, Object.keys(out));
      throw new UsageError(
        `${cmd}: unknown config key '${key}'${guess ? ` (did you mean '${guess}'?)` : ''}; the keys of '${where || 'the config'}' are ${Object.keys(out).join(', ')}.`,
      );
    }
    const b = out[k];
    if (isPlain(b)) out[k] = mergeConfig(cmd, b, v, key, nullable);
    else if (v === null && (b === null || nullable.includes(key))) out[k] = null;
    else if (b !== null && typeof v !== typeof b && !key.endsWith('.scale'))
      throw new UsageError(`${cmd}: config '${key}' must be a ${typeof b}: got ${JSON.stringify(v)}.`);
    else out[k] = v;
  }
  return out as T;
}

const NULLABLE = [
  'train.cropSize',
  'data.trainSamples',
  'data.valSamples',
  'data.size',
  'model.auxChannels',
  'model.keyChannels',
  'model.dropout',
  'model.auxDropout',
];

/** defaults < file < flags, with the model's class count taken from the dataset. */
export function runConfig(
  cmd: string,
  flags: Parsed['flags'],
  inChannels: number,
): { cfg: RunConfig; train: SegDataset; val: SegDataset; device: DeviceChoice; imageStd: number } {
  const device = checkDevice(cmd, flags);
  const file = typeof flags.config === 'string' ? readConfigFile(cmd, flags.config) : {};
  for (const k of Object.keys(file))
    if (!['data', 'model', 'lad', 'train'].includes(k))
      throw new UsageError(`${cmd}: unknown config key '${k}' in ${String(flags.config)}; the sections are data, model, lad, train.`);
  const data = mergeConfig(cmd, DEFAULT_DATA, { ...(file.data as object), ...defined({ dataset: flags.dataset }) }, 'data', NULLABLE);
  if (flags['train-samples'] !== undefined) data.trainSamples = intFlag(cmd, flags, 'train-samples', undefined, 1)!;
  if (flags['val-samples'] !== undefined) data.valSamples = intFlag(cmd, flags, 'val-samples', undefined, 1)!;
  const trainBase = SYNTHETIC.includes(data.dataset) ? SMALL_TRAIN : DEFAULT_TRAIN;
  const train = mergeConfig(cmd, trainBase, file.train ?? {}, 'train', NULLABLE);
  train.iterations = intFlag(cmd, flags, 'iterations', train.iterations, 1)!;
  train.batchSize = intFlag(cmd, flags, 'batch-size', train.batchSize, 1)!;
  train.evalEvery = intFlag(cmd, flags, 'eval-every', train.evalEvery)!;
  train.checkpointEvery = intFlag(cmd, flags, 'checkpoint-every', train.checkpointEvery)!;
  train.seed = intFlag(cmd, flags, 'seed', train.seed, Number.MIN_SAFE_INTEGER)!;
  if (flags.lr !== undefined) {
    const lr = Number(flags.lr);
    if (!(lr > 0) || !Number.isFinite(lr)) throw new UsageError(`${cmd}: --lr must be a number > 0: got '${String(flags.lr)}'.`);
    train.lr = lr;
  }
  if (flags['crop-size'] !== undefined) train.cropSize = flags['crop-size'] === 'none' ? null : intFlag(cmd, flags, 'crop-size', undefined, 1)!;
  const auto = mergeConfig(cmd, AUTO_SCALE_LAD, file.lad ?? {}, 'lad', NULLABLE);
  asUsage(cmd, () => (validateTrainConfig(train), validateLadConfig(auto)));
  const ds = loadDatasets(cmd, data);
  const std = imageStd(ds.train);
  const lad = resolveLabelScale(auto, std); // 'auto' scales (the default): 1.7 × the images' std
  const modelPatch = { inChannels, numClasses: ds.train.numClasses, ...(file.model as object), ...defined({ arch: flags.arch }) };
  const model = mergeConfig(cmd, TINY_MODEL, modelPatch, 'model', NULLABLE);
  checkModelConfig(cmd, model, ds.train.numClasses);
  return { cfg: { data, model, lad, train }, ...ds, device, imageStd: std };
}

/** Only the entries whose value is defined. */
const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Runs the validators in `f`, turning a ConfigError into a UsageError (exit 2) prefixed with `cmd`. */
export function asUsage(cmd: string, f: () => void): void {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${cmd}: ${e.message}`);
    throw e;
  }
}

/** Every value of the model config (validate.ts), and its class count against the dataset's. */
export function checkModelConfig(cmd: string, model: ModelConfig, numClasses: number): void {
  asUsage(cmd, () => validateModelConfig(model));
  if (model.numClasses !== numClasses)
    throw new UsageError(
      `${cmd}: model.numClasses is ${model.numClasses} but the dataset has ${numClasses} classes; remove model.numClasses from the config (it is taken from the dataset).`,
    );
}

/** The train and val splits of `data.dataset`, with specs attached so the loader can prefetch them. */
export function loadDatasets(cmd: string, data: DataConfig): { train: SegDataset; val: SegDataset } {
  const name = data.dataset;
  if (name.startsWith('folder:')) {
    const dir = resolve(name.slice('folder:'.length));
    if (!existsSync(dir)) throw new UsageError(`${cmd}: dataset folder ${dir} not found; write one with lad data export <dataset> --out DIR.`);
    const split = (s: Split) => {
      try {
        return withSpec(new FolderDataset(dir, s), { kind: 'folder', args: { dir, split: s } });
      } catch (e) {
        throw new UsageError(`${cmd}: --dataset ${name}: ${(e as Error).message}`);
      }
    };
    return { train: split('train'), val: split('val') };
  }
  const classes = {
    'digits-seg': { cls: DigitsSeg, file: `../data/digits-seg${EXT}`, export: 'DigitsSeg' },
    'textured-blobs': { cls: TexturedBlobs, file: `../data/textured-blobs${EXT}`, export: 'TexturedBlobs' },
  } as const;
  const entry = classes[name as keyof typeof classes];
  if (!entry) {
    const guess = suggest(name, SYNTHETIC);
    throw new UsageError(`${cmd}: unknown dataset '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}; use digits-seg, textured-blobs or folder:<dir>.`);
  }
  const split = (s: Split) => {
    const opts = defined({ train: data.trainSamples ?? undefined, val: data.valSamples ?? undefined, size: data.size ?? undefined, seed: data.seed });
    try {
      const ds = new entry.cls(s, opts);
      return withSpec(ds, { kind: 'module', module: new URL(entry.file, import.meta.url).href, export: entry.export, args: [s, opts], construct: true });
    } catch (e) {
      throw new UsageError(`${cmd}: dataset ${name}: ${(e as Error).message}`);
    }
  };
  return { train: split('train'), val: split('val') };
}

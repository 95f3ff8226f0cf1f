// The one on-disk dataset layout that every dataset exports to and reads back from:
//   images/<id>.png  RGB          labels/<id>.png  8-bit gray class ids, 255 = ignore (↔ -1)
//   train.txt, val.txt  one id a line          dataset.json  { name, numClasses, classNames, normalization }
// Export writes the 8-bit canvas a dataset generated (`getRaw`), so reading it back gives
// bit-identical normalised tensors. Every validation error names the file at fault.

import { ShapeError, ValueError } from '@lad/tensor';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Normalization, Sample, SegDataset, Split } from './types.ts';
import { encodePng, readLabel, readRgb } from './image-io.ts';
import { checkNormalization, hasRaw, rawToSample, type RawSample, type RawSource } from './raw.ts';

/** The value of an ignored pixel (label −1) in a label PNG. */
export const IGNORE_PNG_VALUE = 255;

/** A dataset folder's file that is missing or malformed; the message names the file. */
export class DatasetFileError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`dataset: ${file}: ${detail}`);
    this.name = 'DatasetFileError';
  }
}

/** The contents of a dataset folder's dataset.json. */
export interface DatasetMeta {
  name: string;
  numClasses: number;
  classNames: string[];
  normalization: Normalization;
}

/** A dataset `exportDataset` can write: it hands out raw 8-bit samples and says how it normalises. */
export type ExportableDataset = SegDataset & RawSource & { readonly normalization: Normalization };

/** Options of exportDataset: overwriting and a progress callback. */
export interface ExportOptions {
  /** Write into a non-empty directory (files of the same names are replaced). Default false. */
  overwrite?: boolean;
  /** Called after each sample is written. */
  onProgress?: (done: number, total: number) => void;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Writes both splits of `ds` to `dir` in the folder layout. */
export function exportDataset(ds: { train: ExportableDataset; val: ExportableDataset }, dir: string, opts: ExportOptions = {}): void {
  const { train, val } = ds;
  for (const [split, d] of [
    ['train', train],
    ['val', val],
  ] as const) {
    if (!d || !hasRaw(d))
      throw new ValueError(
        `exportDataset: ds.${split} must be a dataset with getRaw(i) (the 8-bit samples): got ${(d as object | undefined)?.constructor?.name ?? String(d)}.`,
      );
    if (d.numClasses > IGNORE_PNG_VALUE)
      throw new ValueError(`exportDataset: ds.${split} has ${d.numClasses} classes; 8-bit label PNGs hold at most ${IGNORE_PNG_VALUE} (255 = ignore).`);
  }
  if (train.numClasses !== val.numClasses || train.name !== val.name)
    throw new ValueError(`exportDataset: train and val disagree: '${train.name}' with ${train.numClasses} classes vs '${val.name}' with ${val.numClasses}.`);
  if (existsSync(dir) && readdirSync(dir).length > 0 && !opts.overwrite)
    throw new ValueError(`exportDataset: ${dir} is not empty; choose a new directory or pass overwrite.`);
  for (const sub of ['images', 'labels']) mkdirSync(join(dir, sub), { recursive: true });
  const meta: DatasetMeta = { name: train.name, numClasses: train.numClasses, classNames: [...train.classNames], normalization: train.normalization };
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify(meta, null, 2) + '\n');
  const seen = new Set<string>();
  const total = train.length + val.length;
  let done = 0;
  for (const [split, d] of [
    ['train', train],
    ['val', val],
  ] as const) {
    const ids: string[] = [];
    for (let i = 0; i < d.length; i++) {
      const raw = d.getRaw(i);
      if (!ID_PATTERN.test(raw.id) || seen.has(raw.id))
        throw new ValueError(`exportDataset: ${split} sample ${i} has id '${raw.id}', which is ${seen.has(raw.id) ? 'a duplicate' : 'not a safe file name'}.`);
      seen.add(raw.id);
      writeRaw(dir, raw, d.numClasses);
      ids.push(raw.id);
      opts.onProgress?.(++done, total);
    }
    writeFileSync(join(dir, `${split}.txt`), ids.map((id) => id + '\n').join(''));
  }
}

function writeRaw(dir: string, raw: RawSample, numClasses: number): void {
  const gray = new Uint8Array(raw.label.length);
  for (let p = 0; p < gray.length; p++) {
    const v = raw.label[p];
    if (v >= numClasses || (v < 0 && v !== -1))
      throw new ValueError(
        `exportDataset: sample '${raw.id}' has label ${v} at pixel ${p % raw.width},${Math.floor(p / raw.width)}: expected 0..${numClasses - 1} or -1.`,
      );
    gray[p] = v < 0 ? IGNORE_PNG_VALUE : v;
  }
  writeFileSync(join(dir, 'images', `${raw.id}.png`), encodePng(raw.width, raw.height, raw.rgb, 3));
  writeFileSync(join(dir, 'labels', `${raw.id}.png`), encodePng(raw.width, raw.height, gray, 1));
}

/** Reads and validates `dataset.json`. */
export function readDatasetMeta(dir: string): DatasetMeta {
  const file = join(dir, 'dataset.json');
  if (!existsSync(file)) throw new DatasetFileError(file, 'file not found; is this a directory written by exportDataset (`lad data export`)?');
  let meta: Partial<DatasetMeta>;
  try {
    meta = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DatasetFileError(file, `not valid JSON (${(e as Error).message})`);
  }
  const { name, numClasses: K, classNames, normalization } = meta;
  if (typeof name !== 'string') throw new DatasetFileError(file, `"name" must be a string: got ${JSON.stringify(name)}.`);
  if (!Number.isInteger(K) || K! < 1 || K! > IGNORE_PNG_VALUE)
    throw new DatasetFileError(file, `"numClasses" must be an integer in 1..255: got ${JSON.stringify(K)}.`);
  if (!Array.isArray(classNames) || classNames.length !== K || !classNames.every((c) => typeof c === 'string'))
    throw new DatasetFileError(file, `"classNames" must be ${K} strings: got ${JSON.stringify(classNames)}.`);
  try {
    checkNormalization('normalization', normalization!);
  } catch (e) {
    throw new DatasetFileError(file, (e as Error).message);
  }
  return { name, numClasses: K!, classNames, normalization: normalization! };
}

/** Options of FolderDataset. */
export interface FolderDatasetOptions {
  /** Overrides the normalisation recorded in dataset.json. */
  normalization?: Normalization;
}

/** One split of a folder-layout dataset, read lazily (files are checked to exist up front). */
export class FolderDataset implements SegDataset, RawSource {
  readonly name: string;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly normalization: Normalization;
  readonly ids: readonly string[];

  constructor(
    readonly dir: string,
    readonly split: Split,
    opts: FolderDatasetOptions = {},
  ) {
    if (split !== 'train' && split !== 'val') throw new ValueError(`FolderDataset: split must be 'train' or 'val': got '${String(split)}'.`);
    const meta = readDatasetMeta(dir);
    [this.name, this.numClasses, this.classNames] = [meta.name, meta.numClasses, meta.classNames];
    this.normalization = opts.normalization ?? meta.normalization;
    checkNormalization('FolderDataset: opts.normalization', this.normalization);
    this.ids = readIdList(join(dir, `${split}.txt`));
    for (const id of this.ids) {
      for (const f of [this.imageFile(id), this.labelFile(id)])
        if (!existsSync(f)) throw new DatasetFileError(f, `file not found (id '${id}' is listed in ${split}.txt).`);
    }
  }

  get length(): number {
    return this.ids.length;
  }

  imageFile(id: string): string {
    return join(this.dir, 'images', `${id}.png`);
  }
  labelFile(id: string): string {
    return join(this.dir, 'labels', `${id}.png`);
  }

  getRaw(i: number): RawSample {
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new ShapeError(`FolderDataset(${this.dir}, ${this.split}): index ${i} out of range for length ${this.length}.`);
    const id = this.ids[i];
    const [imageFile, labelFile] = [this.imageFile(id), this.labelFile(id)];
    const img = readRgb(imageFile);
    const lab = readLabel(labelFile);
    if (img.width !== lab.width || img.height !== lab.height)
      throw new DatasetFileError(labelFile, `size ${lab.width}x${lab.height} does not match its image ${imageFile} (${img.width}x${img.height}).`);
    const label = new Int32Array(lab.data.length); // (H, W)
    for (let p = 0; p < label.length; p++) {
      const v = lab.data[p];
      if (v >= this.numClasses && v !== IGNORE_PNG_VALUE)
        throw new DatasetFileError(
          labelFile,
          `pixel ${p % lab.width},${Math.floor(p / lab.width)} has value ${v}: expected 0..${this.numClasses - 1} or ${IGNORE_PNG_VALUE} (ignore).`,
        );
      label[p] = v === IGNORE_PNG_VALUE ? -1 : v;
    }
    return { id, width: img.width, height: img.height, rgb: img.data, label };
  }

  get(i: number): Sample {
    return rawToSample(this.getRaw(i), this.normalization);
  }
}

/** Ids of a list file: one a line, blank lines and surrounding spaces ignored. */
function readIdList(file: string): string[] {
  if (!existsSync(file)) throw new DatasetFileError(file, 'list file not found (expected one sample id a line).');
  const ids = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const bad = ids.find((id) => !ID_PATTERN.test(id));
  if (bad !== undefined) throw new DatasetFileError(file, `id '${bad}' is not a plain file name.`);
  return ids;
}

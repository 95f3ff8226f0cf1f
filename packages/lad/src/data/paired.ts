// The shared core of the real-dataset folder loaders (VOC, Cityscapes, ADE20K, COCO-Stuff): a lazy
// SegDataset over (id, image file, label file) pairs, a 256-entry lookup table that turns raw label
// values into class ids (-1 = ignore), and layout checks whose errors name the missing path.
// Follows the Sample contract of types.ts and the input convention of lad-method.md §2.1.

import { ShapeError } from '@lad/tensor';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readLabel, readRgb } from './image-io.ts';
import { CAFFE_NORMALIZATION, type Normalization, type Sample, type SegDataset } from './types.ts';
import { checkNormalization, rawToSample, type RawSample, type RawSource } from './raw.ts';
import { DatasetFileError } from './folder.ts';
import type { DatasetSpec } from './spec-types.ts';

export interface PairEntry {
  id: string;
  image: string;
  label: string;
}

/** Raw label value → class id; -1 = ignore, INVALID = a value the dataset never uses (an error). */
export const INVALID = -2;
export type LabelTable = Int32Array;

/** A table mapping every raw value to INVALID except those in `entries` ([raw, id] pairs). */
export function labelTable(entries: Iterable<readonly [number, number]>): LabelTable {
  const t = new Int32Array(256).fill(INVALID);
  for (const [raw, id] of entries) t[raw] = id;
  return t;
}

export interface PairedOptions {
  name: string;
  classNames: readonly string[];
  entries: readonly PairEntry[];
  table: LabelTable;
  /** Label PNG colours → raw values (palette PNGs such as VOC's SegmentationClass). */
  palette?: ReadonlyMap<number, number>;
  normalization?: Normalization;
  spec?: DatasetSpec;
}

/** A lazy SegDataset over image/label file pairs: each `get(i)` reads and decodes its two files. */
export class PairedDataset implements SegDataset, RawSource {
  readonly name: string;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly entries: readonly PairEntry[];
  readonly normalization: Normalization;
  readonly spec?: DatasetSpec;

  constructor(private readonly opts: PairedOptions) {
    this.name = opts.name;
    this.classNames = opts.classNames;
    this.numClasses = opts.classNames.length;
    this.entries = opts.entries;
    this.normalization = opts.normalization ?? CAFFE_NORMALIZATION;
    checkNormalization(opts.name, this.normalization);
    this.spec = opts.spec;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Sample i before normalisation: 8-bit RGB and class ids. */
  getRaw(i: number): RawSample {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new ShapeError(`${this.name}: index ${i} is out of range [0, ${this.length}).`);
    const e = this.entries[i];
    const rgb = readRgb(e.image);
    const raw = readLabel(e.label, this.opts.palette);
    if (raw.width !== rgb.width || raw.height !== rgb.height) {
      throw new DatasetFileError(e.label, `label is ${raw.width}x${raw.height} (WxH) but its image ${e.image} is ${rgb.width}x${rgb.height}.`);
    }
    return { id: e.id, width: rgb.width, height: rgb.height, rgb: rgb.data, label: mapLabel(raw.data, raw.width, this.opts.table, e.label) };
  }

  get(i: number): Sample {
    return rawToSample(this.getRaw(i), this.normalization);
  }
}

/** Raw label bytes → int32 class ids through `table`; a value the table marks INVALID is an error. */
export function mapLabel(raw: Uint8Array, width: number, table: LabelTable, file: string): Int32Array {
  const out = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const id = table[raw[i]];
    if (id === INVALID)
      throw new DatasetFileError(file, `pixel ${i % width},${Math.floor(i / width)} has label value ${raw[i]}, which is not a class of this dataset`);
    out[i] = id;
  }
  return out;
}

// ---- layout checks ---------------------------------------------------------------------------

export function requireDir(dir: string, what: string): string {
  if (!existsSync(dir)) throw new DatasetFileError(dir, `${what} not found`);
  if (!statSync(dir).isDirectory()) throw new DatasetFileError(dir, `${what} is not a directory`);
  return dir;
}

export function requireFile(file: string, what: string): string {
  if (!existsSync(file)) throw new DatasetFileError(file, `${what} not found`);
  if (!statSync(file).isFile()) throw new DatasetFileError(file, `${what} is not a file`);
  return file;
}

/** The first of `candidates` that is a directory, or an error naming the first (the documented one). */
export function findDir(candidates: readonly string[], what: string): string {
  const hit = candidates.find((d) => existsSync(d) && statSync(d).isDirectory());
  if (hit === undefined)
    throw new DatasetFileError(candidates[0], `${what} not found${candidates.length > 1 ? ` (also tried ${candidates.slice(1).join(', ')})` : ''}`);
  return hit;
}

/**
 * The ids of a split list file: one per line, blank lines skipped. A line with two paths (the DeepLab
 * list format `/JPEGImages/x.jpg /SegmentationClassAug/x.png`) gives the stem of the first.
 */
export function readList(file: string): string[] {
  requireFile(file, 'split list');
  const ids = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => stem(l.split(/\s+/)[0]));
  if (ids.length === 0) throw new DatasetFileError(file, 'split list is empty');
  return ids;
}

/** File name without folders and without its last extension. */
export function stem(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** Sorted names in `dir` ending with `suffix` (checked to exist first). */
export function listFiles(dir: string, suffix: string, what: string): string[] {
  requireDir(dir, what);
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort();
}

/** Entries for `ids`, with every image and label file checked to exist up front. */
export function entriesFor(ids: readonly string[], image: (id: string) => string, label: (id: string) => string): PairEntry[] {
  return ids.map((id) => ({ id, image: requireFile(image(id), 'image'), label: requireFile(label(id), 'label') }));
}

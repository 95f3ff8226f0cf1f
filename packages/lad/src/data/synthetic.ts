// Shared machinery of the procedurally generated datasets (digits-seg, textured-blobs): options,
// per-sample seeding and the SegDataset base class (drawing helpers live in draw.ts).
// Sample i of a split is drawn from its own generator seeded by (dataset, seed, split, i), so a
// sample never depends on which samples were generated before it (lad-method.md §7.2).

import { Generator, ShapeError, ValueError } from '@lad/tensor';
import { UNIT_NORMALIZATION, type Normalization, type Sample, type SegDataset, type Split } from './types.ts';
import { checkNormalization, rawToSample, type RawSample, type RawSource } from './raw.ts';

/** Options common to the synthetic datasets: split sizes, canvas size, seed, normalisation. */
export interface SyntheticOptions {
  /** Samples in the train split (default per dataset). */
  train?: number;
  /** Samples in the val split (default per dataset). */
  val?: number;
  /** Canvas side, or [height, width] (default 64). */
  size?: number | readonly [number, number];
  /** Base seed (a safe integer; default 0). */
  seed?: number;
  /** Default UNIT_NORMALIZATION: pixels to [-1, 1]. */
  normalization?: Normalization;
  /**
   * Keep every drawn raw sample in memory (default false). Drawing a digits-seg sample costs about
   * 2 ms, so a small set read hundreds of times (the experiment presets) is faster cached; memory is
   * 4 bytes per pixel per sample. getRaw then hands out the cached arrays: do not write to them.
   */
  cache?: boolean;
}

/** What a generator draws: interleaved 8-bit RGB (H, W, 3) and class ids (H, W), -1 = ignore. */
export interface Drawn {
  rgb: Uint8Array;
  label: Int32Array;
}

const fmix32 = (h: number): number => {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
};

const hashString = (s: string): number => [...s].reduce((h, ch) => fmix32(h ^ ch.charCodeAt(0)), 0x811c9dc5);

/** A generator for sample `index` of `split`, independent of every other sample. */
export function sampleGenerator(dataset: string, seed: number, split: Split, index: number): Generator {
  let h = hashString(dataset);
  h = fmix32(h ^ (seed >>> 0));
  h = fmix32(h ^ (Math.floor(seed / 2 ** 32) >>> 0));
  h = fmix32(h ^ (split === 'train' ? 0x7a11 : 0xba1d));
  h = fmix32(h ^ index);
  return new Generator(h);
}

function checkCount(where: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new ValueError(`${where}: option ${name} must be a non-negative integer: got ${v}.`);
  return v;
}

/** Base class: validation, indexing, normalisation. Subclasses only draw a canvas from a generator. */
export abstract class SyntheticDataset<D extends Drawn = Drawn> implements SegDataset, RawSource {
  abstract readonly name: string;
  abstract readonly numClasses: number;
  abstract readonly classNames: readonly string[];
  readonly length: number;
  readonly height: number;
  readonly width: number;
  readonly seed: number;
  readonly normalization: Normalization;
  private readonly rawCache: (RawSample | undefined)[] | null;

  constructor(
    readonly split: Split,
    opts: SyntheticOptions,
    defaults: { train: number; val: number },
    where: string,
  ) {
    if (split !== 'train' && split !== 'val') throw new ValueError(`${where}: split must be 'train' or 'val': got '${String(split)}'.`);
    this.length = checkCount(where, split, opts[split] ?? defaults[split]);
    const size = opts.size ?? 64;
    [this.height, this.width] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    if (![this.height, this.width].every((v) => Number.isInteger(v) && v > 0))
      throw new ValueError(`${where}: option size must be a positive integer or [height, width]: got ${JSON.stringify(size)}.`);
    this.seed = opts.seed ?? 0;
    if (!Number.isSafeInteger(this.seed)) throw new ValueError(`${where}: option seed must be a safe integer: got ${this.seed}.`);
    this.normalization = opts.normalization ?? UNIT_NORMALIZATION;
    checkNormalization(where, this.normalization);
    this.rawCache = opts.cache ? new Array<RawSample | undefined>(this.length) : null;
  }

  /** Draws one sample's canvas (everything random comes from `gen`). */
  protected abstract draw(gen: Generator): D;

  /** The canvas of sample i with whatever extra record the generator keeps (for tests and figures). */
  inspect(i: number): D {
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new ShapeError(`${this.name}: index ${i} out of range for the ${this.split} split of length ${this.length}.`);
    return this.draw(sampleGenerator(this.name, this.seed, this.split, i));
  }

  getRaw(i: number): RawSample {
    const hit = this.rawCache?.[i];
    if (hit) return hit;
    const { rgb, label } = this.inspect(i);
    const raw = { id: `${this.split}-${String(i).padStart(5, '0')}`, width: this.width, height: this.height, rgb, label };
    if (this.rawCache) this.rawCache[i] = raw;
    return raw;
  }

  get(i: number): Sample {
    return rawToSample(this.getRaw(i), this.normalization);
  }
}

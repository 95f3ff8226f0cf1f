// DataLoader over a SegDataset, as torch.utils.data.DataLoader with a seeded RandomSampler, plus the
// released code's iteration-based batch sampler (`iterations(n)` runs on across epochs; lad-method.md
// §2.1). Epoch e's order depends only on (seed, e); each sample's augmentation generator only on
// (seed, e, index), so the optional prefetch worker (prefetch.ts) yields the same bits as the
// synchronous path. Prefetch needs a DatasetSpec (dataset-spec.ts); without one it loads synchronously.
// Legend: N batch, H×W plane.

import { Generator, Tensor, ShapeError, ValueError } from '@lad/tensor';
import type { AugmentOptions } from './augment.ts';
import { loadBatch, type RawBatch } from './batch.ts';
import { mixSeed, STREAM } from '../seeds.ts';
import type { DatasetSpec } from './spec-types.ts'; // not dataset-spec.ts: it imports the file loaders (Node only)
import { Prefetcher } from './prefetch.ts';
import type { SegDataset } from './types.ts';

/** Options of DataLoader: batch size, shuffling, seed, augmentation and prefetching in a worker thread. */
export interface LoaderOptions {
  batchSize: number;
  /** Reshuffle every epoch from (seed, epoch). Default false (dataset order). */
  shuffle?: boolean;
  /** Seed of the shuffles and of the augmentation. Default 0. */
  seed?: number;
  /** Drop the last incomplete batch of each epoch (the released training sampler does). Default false. */
  dropLast?: boolean;
  /** Augment each sample (augment.ts); plain data so that the worker can apply it too. */
  augment?: AugmentOptions;
  /** Build batches in a worker thread, this many ahead (true = 2). Default false. */
  prefetch?: boolean | number;
  /** How the worker rebuilds the dataset; default the dataset's own `spec`. */
  spec?: DatasetSpec;
  /** Where the reason for falling back to synchronous loading is printed. Default console.warn. */
  warn?: (message: string) => void;
}

/** One batch of a DataLoader: images, labels, and the samples' ids, indices and epoch. */
export interface Batch {
  /** float32 (N, 3, H, W). */
  images: Tensor;
  /** int32 (N, H, W), -1 = ignore. */
  labels: Tensor;
  ids: string[];
  /** Dataset indices of the samples. */
  indices: number[];
  epoch: number;
}

interface Step {
  epoch: number;
  indices: number[];
}

/** Batches of a SegDataset in dataset or seeded shuffled order, with optional augmentation, built in a worker thread when prefetching. */
export class DataLoader implements AsyncIterable<Batch> {
  readonly batchSize: number;
  readonly seed: number;
  private prefetcher: Prefetcher | undefined;
  private prefetchChecked = false;
  private epochCounter = 0;

  constructor(
    readonly dataset: SegDataset,
    readonly opts: LoaderOptions,
  ) {
    const { batchSize, seed = 0 } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ValueError(`DataLoader: batchSize must be a positive integer: got ${batchSize}.`);
    if (!Number.isInteger(seed)) throw new ValueError(`DataLoader: seed must be an integer: got ${seed}.`);
    if (dataset.length === 0) throw new ValueError(`DataLoader: dataset '${dataset.name}' is empty.`);
    this.batchSize = batchSize;
    this.seed = seed;
  }

  /** Whether batches are being built in the worker thread (it starts on the first async iteration). */
  get prefetching(): boolean {
    return this.prefetcher !== undefined;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length / this.batchSize;
    return this.opts.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The sample order of `epoch`: a permutation seeded by (seed, epoch) when shuffling. */
  order(epoch: number): number[] {
    const idx = Array.from({ length: this.dataset.length }, (_, i) => i);
    return this.opts.shuffle ? new Generator(mixSeed(STREAM.shuffle, this.seed, epoch)).shuffle(idx) : idx;
  }

  /** The index lists of the batches of `epoch`. */
  plan(epoch: number): number[][] {
    const order = this.order(epoch);
    return Array.from({ length: this.length }, (_, b) => order.slice(b * this.batchSize, (b + 1) * this.batchSize));
  }

  /** Batch `b` of `epoch`, loaded synchronously. */
  batch(epoch: number, b: number): Batch {
    const indices = this.plan(epoch)[b];
    if (indices === undefined) throw new ShapeError(`DataLoader: batch ${b} is out of range [0, ${this.length}).`);
    return this.wrap(epoch, loadBatch(this.dataset, indices, epoch, this.seed, this.opts.augment));
  }

  /** One epoch, synchronously. */
  *epochSync(epoch: number): IterableIterator<Batch> {
    for (const s of this.epochSteps(epoch)) yield this.wrap(s.epoch, loadBatch(this.dataset, s.indices, s.epoch, this.seed, this.opts.augment));
  }

  /** n batches from global iteration `start` on, across epochs (iteration i is batch i mod length of epoch ⌊i / length⌋). */
  *iterationsSync(n: number, start = 0): IterableIterator<Batch> {
    for (const s of this.iterationSteps(n, start)) yield this.wrap(s.epoch, loadBatch(this.dataset, s.indices, s.epoch, this.seed, this.opts.augment));
  }

  /** One epoch; batches are built in the worker when prefetching. */
  epoch(epoch: number): AsyncIterableIterator<Batch> {
    return this.stream(this.epochSteps(epoch));
  }

  /** n batches across epochs, as iterationsSync, prefetched when enabled. */
  iterations(n: number, start = 0): AsyncIterableIterator<Batch> {
    return this.stream(this.iterationSteps(n, start));
  }

  /** Successive `for await` loops run epochs 0, 1, 2, … */
  [Symbol.asyncIterator](): AsyncIterableIterator<Batch> {
    return this.epoch(this.epochCounter++);
  }

  /** Stops the worker, if any. The loader still works afterwards, synchronously. */
  async close(): Promise<void> {
    const p = this.prefetcher;
    this.prefetcher = undefined;
    this.prefetchChecked = true;
    await p?.close();
  }

  private *epochSteps(epoch: number): IterableIterator<Step> {
    for (const indices of this.plan(epoch)) yield { epoch, indices };
  }

  private *iterationSteps(n: number, start: number): IterableIterator<Step> {
    if (!Number.isInteger(n) || n < 0 || !Number.isInteger(start) || start < 0)
      throw new ValueError(`DataLoader.iterations: n and start must be non-negative integers: got ${n}, ${start}.`);
    if (n > 0 && this.length === 0)
      throw new ValueError(`DataLoader.iterations: an epoch has no batch (${this.dataset.length} samples, batchSize ${this.batchSize}, dropLast).`);
    let plan: number[][] = [],
      planEpoch = -1;
    for (let i = start; i < start + n; i++) {
      const epoch = Math.floor(i / this.length);
      if (epoch !== planEpoch) [plan, planEpoch] = [this.plan(epoch), epoch];
      yield { epoch, indices: plan[i % this.length] };
    }
  }

  private async *stream(steps: IterableIterator<Step>): AsyncIterableIterator<Batch> {
    const pf = this.getPrefetcher();
    if (!pf) {
      for (const s of steps) yield this.wrap(s.epoch, loadBatch(this.dataset, s.indices, s.epoch, this.seed, this.opts.augment));
      return;
    }
    const depth = this.opts.prefetch === true ? 2 : Math.max(1, Number(this.opts.prefetch));
    const queue: { epoch: number; result: Promise<RawBatch> }[] = [];
    const refill = () => {
      while (queue.length < depth) {
        const s = steps.next();
        if (s.done) return;
        const result = pf.request(s.value.epoch, s.value.indices);
        result.catch(() => {}); // awaited below in order; an abandoned one must not be "unhandled"
        queue.push({ epoch: s.value.epoch, result });
      }
    };
    refill();
    while (queue.length > 0) {
      const head = queue.shift()!;
      const raw = await head.result;
      refill();
      yield this.wrap(head.epoch, raw);
    }
  }

  /** The worker, started on first use; undefined (with the reason printed once) when it cannot be. */
  private getPrefetcher(): Prefetcher | undefined {
    if (this.prefetcher || this.prefetchChecked || !this.opts.prefetch) return this.prefetcher;
    this.prefetchChecked = true;
    const spec = this.opts.spec ?? (this.dataset as { spec?: DatasetSpec }).spec; // dataset-spec.ts's specOf
    if (!spec) {
      (this.opts.warn ?? console.warn)(
        `DataLoader: dataset '${this.dataset.name}' has no DatasetSpec (give options.spec or use withSpec), so it cannot be rebuilt in a worker; loading synchronously.`,
      );
      return undefined;
    }
    try {
      structuredClone({ spec, augment: this.opts.augment });
    } catch (e) {
      (this.opts.warn ?? console.warn)(
        `DataLoader: the DatasetSpec of '${this.dataset.name}' cannot be sent to a worker (${(e as Error).message}); loading synchronously.`,
      );
      return undefined;
    }
    this.prefetcher = new Prefetcher(spec, this.seed, this.opts.augment, { name: this.dataset.name, length: this.dataset.length });
    return this.prefetcher;
  }

  private wrap(epoch: number, raw: RawBatch): Batch {
    const [N, H, W] = raw.shape;
    return {
      images: Tensor.fromData(raw.images, [N, 3, H, W]),
      labels: Tensor.fromData(raw.labels, [N, H, W]),
      ids: raw.ids,
      indices: raw.indices,
      epoch,
    };
  }
}

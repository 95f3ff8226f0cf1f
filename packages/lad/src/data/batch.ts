// Building one loader batch from dataset indices: per-sample augmentation seeded from (seed, epoch,
// index) only, then collation into dense typed arrays. Shared by the loader's synchronous path and its
// prefetch worker, so both produce the same bits. Legend: N batch, H×W plane.

import { Generator, ShapeError } from '@lad/tensor';
import { augment, type AugmentOptions } from './augment.ts';
import type { Sample, SegDataset } from './types.ts';
import { mixSeed, STREAM } from '../seeds.ts';

/** Collated batch data (the loader wraps it in Tensors): images (N, 3, H, W), labels (N, H, W). */
export interface RawBatch {
  images: Float32Array;
  labels: Int32Array;
  shape: [number, number, number];
  ids: string[];
  indices: number[];
}

/** Sample `index` of `epoch`, augmented with its own generator when `aug` is given. */
export function loadSample(ds: SegDataset, index: number, epoch: number, seed: number, aug?: AugmentOptions): Sample {
  const s = ds.get(index);
  return aug ? augment(s, new Generator(mixSeed(STREAM.augment, seed, epoch, index)), aug) : s;
}

/** Stacks samples of equal size into dense arrays; different sizes are an error naming two ids. */
export function collate(samples: readonly Sample[], indices: number[]): RawBatch {
  const [, H, W] = samples[0].image.shape;
  const plane = H * W;
  const images = new Float32Array(samples.length * 3 * plane),
    labels = new Int32Array(samples.length * plane);
  samples.forEach((s, n) => {
    const [, h, w] = s.image.shape;
    if (h !== H || w !== W) {
      throw new ShapeError(`DataLoader: cannot batch '${samples[0].id}' (${H}×${W}) with '${s.id}' (${h}×${w}): use batchSize 1 or an augmentation crop.`);
    }
    images.set(s.image.data(), n * 3 * plane); // (3, H, W) at n
    labels.set(s.label.data(), n * plane); // (H, W) at n
  });
  return { images, labels, shape: [samples.length, H, W], ids: samples.map((s) => s.id), indices };
}

/** The batch of `indices` in `epoch`. */
export function loadBatch(ds: SegDataset, indices: number[], epoch: number, seed: number, aug?: AugmentOptions): RawBatch {
  return collate(
    indices.map((i) => loadSample(ds, i, epoch, seed, aug)),
    indices,
  );
}

// The dataset contract shared by synthetic generators, folder loaders, augmentation and the loader.
// Images are float32 [3, H, W] after normalisation; labels int32 [H, W] with -1 = ignore.

import type { Tensor } from '@lad/tensor';

/** One sample of a SegDataset: normalised image, label map and id. */
export interface Sample {
  /** float32 [3, H, W], normalised (see `Normalization`). */
  image: Tensor;
  /** int32 [H, W]: class ids in [0, numClasses), -1 = ignore. */
  label: Tensor;
  id: string;
}

/** A dataset split. */
export type Split = 'train' | 'val';

/** A segmentation dataset: its classes, normalisation and samples by index. */
export interface SegDataset {
  readonly name: string;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly length: number;
  /** The i-th sample (deterministic: the same index gives the same bits). */
  get(i: number): Sample;
}

/**
 * How raw 0..255 RGB becomes the network input: x = (rgb − mean) / std per channel.
 * The released LAD code subtracts the BGR mean only (std 1); the small presets use [0, 1]-scale
 * statistics so the label channel's scale can be compared directly (lad-method.md §2.1, §2.2).
 */
export interface Normalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** The released code's convention on RGB input (its BGR mean reordered), no std division. */
export const CAFFE_NORMALIZATION: Normalization = { mean: [122.67891434, 116.66876762, 104.00698793], std: [1, 1, 1] };
/** Pixels scaled to [0, 1] and centred: the default of the bundled synthetic datasets. */
export const UNIT_NORMALIZATION: Normalization = { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] };

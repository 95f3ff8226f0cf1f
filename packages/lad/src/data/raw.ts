// Raw samples: the 8-bit RGB canvas and int32 label map a dataset stores or generates, before
// normalisation. Exporting raw samples (not de-normalised tensors) makes export → read back
// bit-identical. Normalisation follows lad-method.md §2.1: x = (rgb − mean) / std per channel.

import { Tensor, ValueError } from '@lad/tensor';
import type { Normalization, Sample } from './types.ts';

/** A sample before normalisation: 8-bit RGB and an int32 label map. */
export interface RawSample {
  id: string;
  width: number;
  height: number;
  /** Interleaved 8-bit RGB, row-major: (H, W, 3). */
  rgb: Uint8Array;
  /** Class ids, -1 = ignore: (H, W). */
  label: Int32Array;
}

/** A dataset that can hand out its samples before normalisation (what `exportDataset` writes). */
export interface RawSource {
  getRaw(i: number): RawSample;
}

/** Whether `ds` can hand out raw samples (`getRaw`). */
export const hasRaw = (ds: object): ds is RawSource => typeof (ds as Partial<RawSource>).getRaw === 'function';

/** (H, W, 3) uint8 → (3, H, W) float32, normalised. */
export function normalizeRgb(rgb: Uint8Array, height: number, width: number, norm: Normalization): Float32Array {
  const plane = height * width;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const m = norm.mean[c],
      s = norm.std[c];
    for (let p = 0; p < plane; p++) out[c * plane + p] = (rgb[3 * p + c] - m) / s;
  }
  return out;
}

/** The network-ready sample: image float32 [3, H, W], label int32 [H, W]. */
export function rawToSample(raw: RawSample, norm: Normalization): Sample {
  const { width: W, height: H } = raw;
  return {
    image: Tensor.fromData(normalizeRgb(raw.rgb, H, W, norm), [3, H, W]),
    label: Tensor.fromData(raw.label.slice(), [H, W]),
    id: raw.id,
  };
}

/** Checks a normalisation (finite means, positive finite stds); `where` names the caller. */
export function checkNormalization(where: string, norm: Normalization): void {
  const ok = norm && [0, 1, 2].every((c) => Number.isFinite(norm.mean[c]) && Number.isFinite(norm.std[c]) && norm.std[c] > 0);
  if (!ok) throw new ValueError(`${where}: normalization must have 3 finite means and 3 positive stds: got ${JSON.stringify(norm)}.`);
}

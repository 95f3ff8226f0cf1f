// Training augmentation as in the released code (lad-method.md §2.1), on already normalised samples:
// random scale from {min, min+step, …, max} (bilinear image, nearest label), pad bottom/right to the
// crop (image 0 = the mean colour after normalisation, label -1), uniform random crop, horizontal flip.
// Draws from the given Generator in this order: scale, crop top, crop left, flip. Options are plain
// data, so the loader can send them to its prefetch worker.
// Legend: H×W input plane, SH×SW scaled plane, CH×CW crop.

import { interpolate, Tensor, type Generator, ShapeError, ValueError } from '@lad/tensor';
import type { Sample } from './types.ts';

/** Options of the training augmentation: random scale, crop and horizontal flip. */
export interface AugmentOptions {
  /** Crop height and width (a number = square). Released code: 512 for VOC, [512, 1024] for Cityscapes. */
  cropSize: number | readonly [number, number];
  /** Smallest and largest scale factor. Default [0.5, 2.0]. */
  scaleRange?: readonly [number, number];
  /** Spacing of the scale factors. Default 0.1 (16 factors 0.5, 0.6, …, 2.0). */
  scaleStep?: number;
  /** Horizontal flip with p = 0.5. Default true. */
  flip?: boolean;
}

/** The scale factors drawn from, uniformly. */
export function scaleChoices(opts: AugmentOptions): number[] {
  const [lo, hi] = opts.scaleRange ?? [0.5, 2.0];
  const step = opts.scaleStep ?? 0.1;
  if (!(lo > 0 && hi >= lo && step > 0))
    throw new ValueError(`augment: need 0 < scaleRange[0] <= scaleRange[1] and scaleStep > 0: got scaleRange [${lo}, ${hi}], scaleStep ${step}.`);
  const n = Math.floor((hi - lo) / step + 1e-9) + 1;
  // NOTE: rounded to 1e-9 so that 0.5 + 3·0.1 is 0.8, as the released code's 0.5 + randint(0, 15) / 10.
  return Array.from({ length: n }, (_, k) => Math.round((lo + k * step) * 1e9) / 1e9);
}

function cropOf(opts: AugmentOptions): [number, number] {
  const c = opts.cropSize;
  const [ch, cw] = typeof c === 'number' ? [c, c] : c;
  if (![ch, cw].every((v) => Number.isInteger(v) && v > 0)) throw new ValueError(`augment: cropSize must be positive integers: got ${JSON.stringify(c)}.`);
  return [ch, cw];
}

/** Rounds half to even, as OpenCV's cvRound (cv2.resize's output size for fx, fy is cvRound(size · f)). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Resizes image (bilinear, alignCorners false) and label (nearest) by factor f, sizes rounded as cv2 does. */
export function rescale(s: Sample, f: number): Sample {
  const [, H, W] = s.image.shape;
  const [SH, SW] = [Math.max(1, roundHalfEven(H * f)), Math.max(1, roundHalfEven(W * f))];
  if (SH === H && SW === W) return s;
  const image = interpolate(s.image.reshape([1, 3, H, W]), { size: [SH, SW], mode: 'bilinear', alignCorners: false }).reshape([3, SH, SW]);
  const label = interpolate(s.label.to('float32').reshape([1, 1, H, W]), { size: [SH, SW], mode: 'nearest' })
    .reshape([SH, SW])
    .to('int32');
  return { id: s.id, image, label };
}

/**
 * Pads bottom/right to at least CH×CW (image 0, label -1), then takes the CH×CW window at (top, left),
 * mirrored left-right when `flip`. One pass over the output.
 */
export function padCropFlip(s: Sample, crop: [number, number], top: number, left: number, flip: boolean): Sample {
  const [CH, CW] = crop;
  const [, H, W] = s.image.shape;
  const img = s.image.data(),
    lab = s.label.data();
  const outImg = new Float32Array(3 * CH * CW),
    outLab = new Int32Array(CH * CW).fill(-1);
  for (let y = 0; y < CH; y++) {
    const sy = top + y;
    if (sy >= H) break;
    for (let x = 0; x < CW; x++) {
      const sx = left + (flip ? CW - 1 - x : x);
      if (sx >= W) continue;
      const o = y * CW + x,
        i = sy * W + sx;
      outLab[o] = lab[i];
      for (let c = 0; c < 3; c++) outImg[c * CH * CW + o] = img[c * H * W + i];
    }
  }
  return { id: s.id, image: Tensor.fromData(outImg, [3, CH, CW]), label: Tensor.fromData(outLab, [CH, CW]) };
}

/** One augmented sample: scale, pad, crop, flip (lad-method.md §2.1), all draws from `gen`. */
export function augment(s: Sample, gen: Generator, opts: AugmentOptions): Sample {
  checkSample(s);
  const crop = cropOf(opts);
  const scales = scaleChoices(opts);
  const scaled = rescale(s, scales[gen.nextInt(0, scales.length)]);
  const [, SH, SW] = scaled.image.shape;
  const top = gen.nextInt(0, Math.max(SH, crop[0]) - crop[0] + 1);
  const left = gen.nextInt(0, Math.max(SW, crop[1]) - crop[1] + 1);
  const flip = (opts.flip ?? true) && gen.nextFloat() < 0.5;
  return padCropFlip(scaled, crop, top, left, flip);
}

function checkSample(s: Sample): void {
  const [C, H, W] = s.image.shape;
  if (s.image.ndim !== 3 || C !== 3 || s.label.ndim !== 2 || s.label.shape[0] !== H || s.label.shape[1] !== W) {
    throw new ShapeError(
      `augment: sample '${s.id}' needs image [3, H, W] and label [H, W]: got [${s.image.shape.join(', ')}] and [${s.label.shape.join(', ')}].`,
    );
  }
}

// Segmentation data as RGB pixels: class palettes (PASCAL VOC's bit-interleaved colours), label maps,
// the signed label channel and normalised images. Ignored pixels (label < 0) are white. Pure code
// (no Node, no PNG), so that the web page draws with it too.

import { ValueError } from '@lad/tensor';
import type { Rgb } from './font.ts';

const WHITE: Rgb = [255, 255, 255];

/** PASCAL VOC's colour map: class k's bits spread over the high bits of R, G and B (0 is black). */
export function classPalette(numClasses: number): [number, number, number][] {
  return Array.from({ length: numClasses }, (_, k) => {
    const rgb: [number, number, number] = [0, 0, 0];
    for (let bit = 7, c = k; c > 0; bit--, c >>= 3) {
      for (let ch = 0; ch < 3; ch++) rgb[ch] |= ((c >> ch) & 1) << bit;
    }
    return rgb;
  });
}

/** Label map (row-major, w×h) → interleaved RGB: class k → palette[k], negative (ignore) → white. */
export function labelToRgb(label: Int32Array, w: number, h: number, palette: readonly Rgb[]): Uint8Array {
  checkSize('labelToRgb', label.length, w * h);
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const k = label[i];
    if (k >= palette.length) throw new ValueError(`labelToRgb: class ${k} at pixel ${i} has no palette colour (palette has ${palette.length}).`);
    out.set(k < 0 ? WHITE : palette[k], 3 * i);
  }
  return out;
}

/**
 * A signed map (row-major, w×h) → RGB on a blue–white–red diverging scale: 0 is white, −range is
 * blue, +range red. `range` defaults to the largest |value| (so cells are comparable only when
 * given the same range); non-finite values are grey.
 */
export function channelToRgb(values: Float32Array, w: number, h: number, range?: number): Uint8Array {
  checkSize('channelToRgb', values.length, w * h);
  let r = range ?? 0;
  if (range === undefined) for (const v of values) if (Number.isFinite(v)) r = Math.max(r, Math.abs(v));
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) out.set(diverging(values[i], r > 0 ? r : 1), 3 * i);
  return out;
}

function diverging(v: number, range: number): Rgb {
  if (!Number.isFinite(v)) return [128, 128, 128];
  const t = Math.max(-1, Math.min(1, v / range));
  const end: Rgb = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const a = Math.abs(t);
  return [0, 1, 2].map((c) => Math.round(255 + (end[c] - 255) * a)) as unknown as Rgb;
}

/** A normalised image [3, H, W] back to interleaved 8-bit RGB: rgb = x · std + mean, clamped. */
export function imageToRgb(image: Float32Array, w: number, h: number, mean: ArrayLike<number>, std: ArrayLike<number>): Uint8Array {
  checkSize('imageToRgb', image.length, 3 * w * h);
  const plane = w * h,
    out = new Uint8Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) out[3 * p + c] = Math.max(0, Math.min(255, Math.round(image[c * plane + p] * std[c] + mean[c])));
  }
  return out;
}

function checkSize(fn: string, got: number, want: number): void {
  if (got !== want) throw new ValueError(`${fn}: expected ${want} values, got ${got}.`);
}

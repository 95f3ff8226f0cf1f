// Drawing helpers of the synthetic datasets (internal: not re-exported by data/index.ts): a float
// RGB canvas in [0, 1] with alpha compositing, Gaussian pixel noise and 8-bit quantisation.

import type { Generator } from '@lad/tensor';

/** A float RGB canvas in [0, 1], interleaved (H, W, 3). */
export class Canvas {
  readonly data: Float32Array;
  constructor(
    readonly height: number,
    readonly width: number,
  ) {
    this.data = new Float32Array(height * width * 3);
  }

  /** c ← c·(1 − a) + colour·a where `alpha` (h, w) is placed with its top-left at (top, left). */
  composite(alpha: Float32Array, h: number, w: number, top: number, left: number, colour: readonly number[]): void {
    for (let y = 0; y < h; y++) {
      const cy = top + y;
      if (cy < 0 || cy >= this.height) continue;
      for (let x = 0; x < w; x++) {
        const cx = left + x;
        const a = alpha[y * w + x];
        if (cx < 0 || cx >= this.width || a <= 0) continue;
        const o = 3 * (cy * this.width + cx);
        for (let c = 0; c < 3; c++) this.data[o + c] += (colour[c] - this.data[o + c]) * a;
      }
    }
  }

  /** Adds i.i.d. normal(0, sigma) noise to every channel of every pixel. */
  addNoise(gen: Generator, sigma: number): void {
    const noise = new Float32Array(this.data.length);
    gen.fillNormal(noise, 0, sigma);
    for (let k = 0; k < noise.length; k++) this.data[k] += noise[k];
  }

  /** round(255 · clamp(v, 0, 1)). */
  toUint8(): Uint8Array {
    const out = new Uint8Array(this.data.length);
    for (let k = 0; k < out.length; k++) out[k] = Math.round(255 * Math.min(1, Math.max(0, this.data[k])));
    return out;
  }
}

/** A uniformly random RGB colour in [0, 1]³. */
export const randomColour = (gen: Generator): [number, number, number] => [gen.nextFloat(), gen.nextFloat(), gen.nextFloat()];

/** Uniform float in [lo, hi). */
export const uniform = (gen: Generator, lo: number, hi: number): number => lo + (hi - lo) * gen.nextFloat();

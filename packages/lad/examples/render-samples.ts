// Renders a few samples of a synthetic dataset to one PNG for a visual check: the images on the
// top row, their label maps below (background black, ignore white, classes in distinct hues),
// each scaled up 3x with nearest neighbour.
// Usage: tsx packages/lad/examples/render-samples.ts [digits-seg|textured-blobs] [out.png] [count]

import { writeFileSync } from 'node:fs';
import { DigitsSeg, TexturedBlobs, encodePng, type RawSample } from '../src/data/index.ts';

const [name = 'digits-seg', out = `/tmp/${name}.png`, countArg = '8'] = process.argv.slice(2);
if (name !== 'digits-seg' && name !== 'textured-blobs') throw new Error(`render-samples: unknown dataset '${name}': use digits-seg or textured-blobs.`);
const ds = name === 'digits-seg' ? new DigitsSeg('train') : new TexturedBlobs('train');
const count = Number(countArg);
const SCALE = 3,
  GAP = 4;

/** A distinct colour per class id (golden-angle hues); 0 black, -1 white. */
function classColour(k: number): [number, number, number] {
  if (k < 0) return [255, 255, 255];
  if (k === 0) return [0, 0, 0];
  const h = (k * 137.5) % 360,
    f = (n: number) => {
      const q = (n + h / 60) % 6;
      return Math.round(255 * (1 - Math.max(0, Math.min(q, 4 - q, 1))));
    };
  return [f(5), f(3), f(1)];
}

const samples: RawSample[] = Array.from({ length: count }, (_, i) => ds.getRaw(i));
const { width: w, height: h } = samples[0];
const [cw, ch] = [count * (w * SCALE + GAP), 2 * (h * SCALE + GAP)];
const grid = new Uint8Array(cw * ch * 3).fill(128);
samples.forEach((s, i) => {
  for (let y = 0; y < h * SCALE; y++) {
    for (let x = 0; x < w * SCALE; x++) {
      const p = Math.floor(y / SCALE) * w + Math.floor(x / SCALE);
      const gx = i * (w * SCALE + GAP) + x;
      grid.set(s.rgb.subarray(3 * p, 3 * p + 3), 3 * (y * cw + gx));
      grid.set(classColour(s.label[p]), 3 * ((y + h * SCALE + GAP) * cw + gx));
    }
  }
});
writeFileSync(out, encodePng(cw, ch, grid, 3));
console.log(`${out}: ${count} ${name} samples (top: image, bottom: label)`);

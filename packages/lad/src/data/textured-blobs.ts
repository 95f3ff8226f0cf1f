// textured-blobs: a synthetic dataset where class identity is a texture, not a shape or a colour
// (lad-method.md §7.2). 1-3 random ellipses on smooth random-colour noise; inside each, a sinusoidal
// grating whose stripe orientation is the class (0°, 36°, 72°, 108°, 144° → classes 1..5; 0 is
// background) in random colours, period and phase. A ~1 px ignore band (-1) follows every ellipse
// boundary, and the edges are anti-aliased over that band, so the boundary is ambiguous in the image.

import { type Generator, Tensor, interpolate, ValueError } from '@lad/tensor';
import type { Split } from './types.ts';
import { SyntheticDataset, type Drawn, type SyntheticOptions } from './synthetic.ts';
import { Canvas, randomColour, uniform } from './draw.ts';

/** Options of textured-blobs: the synthetic options, ellipses per canvas and their radii. */
export interface TexturedBlobsOptions extends SyntheticOptions {
  /** Ellipses per canvas, [min, max] inclusive (default [1, 3]). */
  objects?: readonly [number, number];
  /** Ellipse radii in px, [min, max] (default [7, 18]). */
  radius?: readonly [number, number];
  /** Grating period in px, [min, max] (default [4, 7]). */
  period?: readonly [number, number];
  /** Width in px of the ignore band centred on each boundary (default 1). */
  ignoreBand?: number;
  /** Pixel noise sigma on the [0, 1] scale (default 0.04). */
  noise?: number;
}

/** One drawn ellipse (sample i's record, for tests and figures). */
export interface Blob {
  /** Class id in 1..5; the stripes run at (cls − 1)·36° from the x axis (image coordinates, y down). */
  cls: number;
  cy: number;
  cx: number;
  ry: number;
  rx: number;
  /** Rotation of the ellipse's x radius from the x axis, radians. */
  rotation: number;
  period: number;
  phase: number;
  colours: [[number, number, number], [number, number, number]];
}

/** What one textured-blobs sample drew: the canvas, the label map and its ellipses. */
export interface BlobsDrawn extends Drawn {
  blobs: Blob[];
}

/** The stripe orientations of the five object classes (degrees). */
export const GRATING_ORIENTATIONS_DEG = [0, 36, 72, 108, 144] as const;
/** Side of the low-resolution colour grid that is upsampled into the background. */
const BACKGROUND_GRID = 5;
/** Minimum RGB distance between a grating's two colours (best of 16 draws). */
const MIN_GRATING_CONTRAST = 0.35;

function checkRange(name: string, r: readonly [number, number], lo: number, integer: boolean): void {
  const ok = Array.isArray(r) && r.length === 2 && r.every((v) => Number.isFinite(v) && (!integer || Number.isInteger(v))) && lo <= r[0] && r[0] <= r[1];
  if (!ok)
    throw new ValueError(`TexturedBlobs: option ${name} must be [min, max]${integer ? ' integers' : ''} with ${lo} <= min <= max: got ${JSON.stringify(r)}.`);
}

/** textured-blobs: ellipses filled with stripes of five orientations on smooth colour noise; the class is the orientation. */
export class TexturedBlobs extends SyntheticDataset<BlobsDrawn> {
  readonly name = 'textured-blobs';
  readonly numClasses = 6;
  readonly classNames = ['background', ...GRATING_ORIENTATIONS_DEG.map((d) => `stripes ${d}°`)] as const;
  readonly objects: readonly [number, number];
  readonly radius: readonly [number, number];
  readonly period: readonly [number, number];
  readonly ignoreBand: number;
  readonly noise: number;

  constructor(split: Split, opts: TexturedBlobsOptions = {}) {
    super(split, opts, { train: 2000, val: 500 }, 'TexturedBlobs');
    this.objects = opts.objects ?? [1, 3];
    this.radius = opts.radius ?? [7, 18];
    this.period = opts.period ?? [4, 7];
    this.ignoreBand = opts.ignoreBand ?? 1;
    this.noise = opts.noise ?? 0.04;
    checkRange('objects', this.objects, 0, true);
    checkRange('radius', this.radius, 1, false);
    checkRange('period', this.period, 2, false);
    if (!(this.ignoreBand >= 0)) throw new ValueError(`TexturedBlobs: option ignoreBand must be >= 0: got ${this.ignoreBand}.`);
    if (!(this.noise >= 0)) throw new ValueError(`TexturedBlobs: option noise must be >= 0: got ${this.noise}.`);
  }

  protected draw(gen: Generator): BlobsDrawn {
    const canvas = smoothNoise(gen, this.height, this.width);
    const label = new Int32Array(this.height * this.width); // (H, W), 0 = background
    const blobs: Blob[] = [];
    const n = gen.nextInt(this.objects[0], this.objects[1] + 1);
    for (let k = 0; k < n; k++) {
      const blob = this.drawBlob(gen);
      paintBlob(canvas, label, blob, this.ignoreBand / 2);
      blobs.push(blob);
    }
    canvas.addNoise(gen, this.noise);
    return { rgb: canvas.toUint8(), label, blobs };
  }

  private drawBlob(gen: Generator): Blob {
    const margin = Math.min(4, (this.width - 1) / 2, (this.height - 1) / 2);
    return {
      cls: gen.nextInt(1, 6),
      cy: uniform(gen, margin, this.height - 1 - margin),
      cx: uniform(gen, margin, this.width - 1 - margin),
      ry: uniform(gen, this.radius[0], this.radius[1]),
      rx: uniform(gen, this.radius[0], this.radius[1]),
      rotation: uniform(gen, 0, Math.PI),
      period: uniform(gen, this.period[0], this.period[1]),
      phase: uniform(gen, 0, 2 * Math.PI),
      colours: contrastingPair(gen),
    };
  }
}

/** Train and val splits with the same options. */
export const texturedBlobs = (opts: TexturedBlobsOptions = {}) => ({ train: new TexturedBlobs('train', opts), val: new TexturedBlobs('val', opts) });

/** Random colours on a 5x5 grid, upsampled bilinearly (alignCorners) to the canvas. */
function smoothNoise(gen: Generator, H: number, W: number): Canvas {
  const g = BACKGROUND_GRID;
  const grid = new Float32Array(3 * g * g);
  gen.fillUniform(grid);
  const up = interpolate(Tensor.fromData(grid, [1, 3, g, g]), { size: [H, W], mode: 'bilinear', alignCorners: true }).data(); // (1, 3, H, W)
  const canvas = new Canvas(H, W);
  for (let c = 0; c < 3; c++) for (let p = 0; p < H * W; p++) canvas.data[3 * p + c] = up[c * H * W + p];
  return canvas;
}

/** Two random colours at least MIN_GRATING_CONTRAST apart (the best of 16 draws). */
function contrastingPair(gen: Generator): [[number, number, number], [number, number, number]] {
  let best = [randomColour(gen), randomColour(gen)] as [[number, number, number], [number, number, number]];
  const dist = (p: number[][]) => Math.hypot(p[0][0] - p[1][0], p[0][1] - p[1][1], p[0][2] - p[1][2]);
  for (let k = 0; k < 15 && dist(best) < MIN_GRATING_CONTRAST; k++) {
    const pair = [randomColour(gen), randomColour(gen)] as typeof best;
    if (dist(pair) > dist(best)) best = pair;
  }
  return best;
}

/**
 * Signed distance in px from (y, x) to the blob's boundary (negative inside), to first order:
 * with r = |(u/rx, v/ry)| the normalised radius, d ≈ (r − 1) / |∇r|.
 */
export function ellipseDistance(b: Blob): (y: number, x: number) => number {
  const [cos, sin] = [Math.cos(b.rotation), Math.sin(b.rotation)];
  return (y, x) => {
    const u = (x - b.cx) * cos + (y - b.cy) * sin;
    const v = -(x - b.cx) * sin + (y - b.cy) * cos;
    const r = Math.hypot(u / b.rx, v / b.ry);
    if (r === 0) return -Math.min(b.rx, b.ry);
    const grad = Math.hypot(u / (b.rx * b.rx), v / (b.ry * b.ry)) / r;
    return (r - 1) / grad;
  };
}

/** Composites the grating with coverage clamp(0.5 − d, 0, 1); labels inside, ignores |d| < halfBand. */
function paintBlob(canvas: Canvas, label: Int32Array, b: Blob, halfBand: number): void {
  const { height: H, width: W, data } = canvas;
  const theta = (GRATING_ORIENTATIONS_DEG[b.cls - 1] * Math.PI) / 180;
  const [nx, ny] = [-Math.sin(theta), Math.cos(theta)]; // the wave runs across the stripes
  const reach = Math.max(b.rx, b.ry) + halfBand + 2;
  const [y0, y1] = [Math.max(0, Math.floor(b.cy - reach)), Math.min(H - 1, Math.ceil(b.cy + reach))];
  const [x0, x1] = [Math.max(0, Math.floor(b.cx - reach)), Math.min(W - 1, Math.ceil(b.cx + reach))];
  const [ca, cb] = b.colours;
  const dist = ellipseDistance(b);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const d = dist(y, x);
      const a = Math.min(1, Math.max(0, 0.5 - d));
      if (a > 0) {
        const s = 0.5 + 0.5 * Math.sin((2 * Math.PI * (x * nx + y * ny)) / b.period + b.phase);
        const o = 3 * (y * W + x);
        for (let c = 0; c < 3; c++) data[o + c] += (ca[c] + (cb[c] - ca[c]) * s - data[o + c]) * a;
      }
      if (Math.abs(d) < halfBand) label[y * W + x] = -1;
      else if (d < 0) label[y * W + x] = b.cls;
    }
  }
}

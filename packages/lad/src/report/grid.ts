// Qualitative segmentation figures: class palettes (PASCAL VOC's bit-interleaved colours), label
// maps, the signed label channel and normalised images turned into RGB, and a titled grid of such
// cells (image, ground truth, label channel, teacher, baseline, LAD student, ...) as one PNG.
// Ignored pixels (label < 0) are white; `segGridLayout` exposes the geometry for tests.

import { ValueError } from '@lad/tensor';
import { Canvas, type Rgb } from './canvas.ts';
import { textHeight, textWidth } from './font.ts';

/** One image of a segmentation grid: interleaved RGB and its size. */
export interface GridCell { rgb: Uint8Array; width: number; height: number }
/** A segmentation grid: column titles and rows of cells (null leaves a cell empty), drawn at `scale`. */
export interface SegGridOptions { columns: string[]; rows: { cells: (GridCell | null)[] }[]; scale?: number }
/** The geometry of a segmentation grid (for tests and callers that draw on it). */
export interface SegGridLayout { width: number; height: number; colWidth: number; rowHeight: number; cellX(col: number): number; cellY(row: number): number }

/** Margin around a segmentation grid (px). */
export const GRID_MARGIN = 8;
/** Gap between a grid's cells (px). */
export const GRID_GAP = 4;
/** Height of a grid's column-title row (px). */
export const GRID_HEADER = textHeight() + 6;
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
  const plane = w * h, out = new Uint8Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) out[3 * p + c] = Math.max(0, Math.min(255, Math.round(image[c * plane + p] * std[c] + mean[c])));
  }
  return out;
}

function checkSize(fn: string, got: number, want: number): void {
  if (got !== want) throw new ValueError(`${fn}: expected ${want} values, got ${got}.`);
}

/** Columns are as wide as the widest scaled cell (or title); rows as tall as the tallest cell. */
export function segGridLayout(opts: SegGridOptions): SegGridLayout {
  const scale = opts.scale ?? 2;
  if (!(Number.isInteger(scale) && scale >= 1)) throw new ValueError(`segGridPng: scale must be a positive integer: got ${scale}.`);
  const cells = opts.rows.flatMap((r) => r.cells).filter((c): c is GridCell => c !== null);
  const colWidth = Math.max(16, ...cells.map((c) => c.width * scale), ...opts.columns.map((t) => textWidth(t)));
  const rowHeight = Math.max(16, ...cells.map((c) => c.height * scale));
  const n = Math.max(1, opts.columns.length), m = opts.rows.length;
  return {
    width: 2 * GRID_MARGIN + n * colWidth + (n - 1) * GRID_GAP,
    height: 2 * GRID_MARGIN + GRID_HEADER + m * rowHeight + Math.max(0, m - 1) * GRID_GAP,
    colWidth,
    rowHeight,
    cellX: (col) => GRID_MARGIN + col * (colWidth + GRID_GAP),
    cellY: (row) => GRID_MARGIN + GRID_HEADER + row * (rowHeight + GRID_GAP),
  };
}

/** The grid as a PNG: titles centred over columns, each cell upscaled (nearest) and centred. */
export function segGridPng(opts: SegGridOptions): Uint8Array {
  const L = segGridLayout(opts), scale = opts.scale ?? 2;
  const c = new Canvas(L.width, L.height);
  opts.columns.forEach((title, j) => c.drawText(L.cellX(j) + Math.floor((L.colWidth - textWidth(title)) / 2), GRID_MARGIN, title, [20, 20, 20]));
  opts.rows.forEach((row, i) => {
    if (row.cells.length > opts.columns.length) throw new ValueError(`segGridPng: row ${i} has ${row.cells.length} cells for ${opts.columns.length} columns.`);
    row.cells.forEach((cell, j) => drawCell(c, L, cell, L.cellX(j), L.cellY(i), scale));
  });
  return c.toPng();
}

function drawCell(c: Canvas, L: SegGridLayout, cell: GridCell | null, x: number, y: number, scale: number): void {
  if (cell === null) {
    c.fillRect(x, y, L.colWidth, L.rowHeight, [240, 240, 240]);
    return;
  }
  const ox = x + Math.floor((L.colWidth - cell.width * scale) / 2), oy = y + Math.floor((L.rowHeight - cell.height * scale) / 2);
  c.strokeRect(ox - 1, oy - 1, cell.width * scale + 2, cell.height * scale + 2, [200, 200, 200]);
  c.blit(cell.rgb, cell.width, cell.height, ox, oy, scale);
}

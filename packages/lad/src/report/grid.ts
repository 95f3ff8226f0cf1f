// Qualitative segmentation figures: a titled grid of RGB cells (image, ground truth, label channel,
// teacher, baseline, LAD student, ..., made by colors.ts) as one PNG. `segGridLayout` exposes the
// geometry for tests.

import { ValueError } from '@lad/tensor';
import { Canvas } from './canvas.ts';
import { textHeight, textWidth } from './font.ts';

/** One image of a segmentation grid: interleaved RGB and its size. */
export interface GridCell {
  rgb: Uint8Array;
  width: number;
  height: number;
}
/** A segmentation grid: column titles and rows of cells (null leaves a cell empty), drawn at `scale`. */
export interface SegGridOptions {
  columns: string[];
  rows: { cells: (GridCell | null)[] }[];
  scale?: number;
}
/** The geometry of a segmentation grid (for tests and callers that draw on it). */
export interface SegGridLayout {
  width: number;
  height: number;
  colWidth: number;
  rowHeight: number;
  cellX(col: number): number;
  cellY(row: number): number;
}

/** Margin around a segmentation grid (px). */
export const GRID_MARGIN = 8;
/** Gap between a grid's cells (px). */
export const GRID_GAP = 4;
/** Height of a grid's column-title row (px). */
export const GRID_HEADER = textHeight() + 6;
/** Columns are as wide as the widest scaled cell (or title); rows as tall as the tallest cell. */
export function segGridLayout(opts: SegGridOptions): SegGridLayout {
  const scale = opts.scale ?? 2;
  if (!(Number.isInteger(scale) && scale >= 1)) throw new ValueError(`segGridPng: scale must be a positive integer: got ${scale}.`);
  const cells = opts.rows.flatMap((r) => r.cells).filter((c): c is GridCell => c !== null);
  const colWidth = Math.max(16, ...cells.map((c) => c.width * scale), ...opts.columns.map((t) => textWidth(t)));
  const rowHeight = Math.max(16, ...cells.map((c) => c.height * scale));
  const n = Math.max(1, opts.columns.length),
    m = opts.rows.length;
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
  const L = segGridLayout(opts),
    scale = opts.scale ?? 2;
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
  const ox = x + Math.floor((L.colWidth - cell.width * scale) / 2),
    oy = y + Math.floor((L.rowHeight - cell.height * scale) / 2);
  c.strokeRect(ox - 1, oy - 1, cell.width * scale + 2, cell.height * scale + 2, [200, 200, 200]);
  c.blit(cell.rgb, cell.width, cell.height, ox, oy, scale);
}

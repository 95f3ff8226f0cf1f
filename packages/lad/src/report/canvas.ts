// An RGB raster to draw report graphics on: pixels, rectangles, Bresenham lines (1–2 px thick),
// bitmap text, nearest-neighbour blits of interleaved RGB images, and PNG encoding. Everything
// clips at the canvas edges, so callers may draw partly outside it.

import { ValueError } from '@lad/tensor';
import { encodePng } from '../data/image-io.ts';
import { drawText, type Rgb } from './font.ts';

export type { Rgb } from './font.ts';

/** An RGB raster for report graphics, with drawing primitives and PNG encoding. */
export class Canvas {
  /** Interleaved RGB, row-major. */
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      throw new ValueError(`Canvas: width and height must be positive integers: got ${width}x${height}.`);
    }
    this.data = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, color: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = 3 * (y * this.width + x);
    this.data[i] = color[0];
    this.data[i + 1] = color[1];
    this.data[i + 2] = color[2];
  }

  /** The colour at (x, y); throws outside the canvas. */
  getPixel(x: number, y: number): Rgb {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) throw new ValueError(`Canvas.getPixel: (${x}, ${y}) is outside ${this.width}x${this.height}.`);
    const i = 3 * (y * this.width + x);
    return [this.data[i], this.data[i + 1], this.data[i + 2]];
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    const x0 = Math.max(0, Math.round(x)),
      y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w)),
      y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.setPixel(xx, yy, color);
  }

  /** A 1-pixel rectangle outline. */
  strokeRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    this.fillRect(x, y, w, 1, color);
    this.fillRect(x, y + h - 1, w, 1, color);
    this.fillRect(x, y, 1, h, color);
    this.fillRect(x + w - 1, y, 1, h, color);
  }

  /** Bresenham line between pixel centres; thickness 2 also paints the neighbour across the line. */
  drawLine(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness: 1 | 2 = 1): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0),
      dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1,
      sy = y0 < y1 ? 1 : -1;
    const steep = -dy > dx;
    let err = dx + dy;
    for (;;) {
      this.setPixel(x0, y0, color);
      if (thickness === 2) this.setPixel(steep ? x0 + 1 : x0, steep ? y0 : y0 + 1, color);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  drawText(x: number, y: number, text: string, color: Rgb, scale = 1): void {
    drawText(this, x, y, text, color, scale);
  }

  /** Copies an interleaved RGB image (w×h) with its top-left at (x, y), each pixel a scale×scale block. */
  blit(rgb: Uint8Array, w: number, h: number, x: number, y: number, scale = 1): void {
    if (rgb.length !== w * h * 3) throw new ValueError(`Canvas.blit: expected ${w}x${h}x3 = ${w * h * 3} bytes, got ${rgb.length}.`);
    if (!(Number.isInteger(scale) && scale >= 1)) throw new ValueError(`Canvas.blit: scale must be a positive integer: got ${scale}.`);
    for (let yy = 0; yy < h * scale; yy++) {
      const row = Math.floor(yy / scale) * w;
      for (let xx = 0; xx < w * scale; xx++) {
        const i = 3 * (row + Math.floor(xx / scale));
        this.setPixel(x + xx, y + yy, [rgb[i], rgb[i + 1], rgb[i + 2]]);
      }
    }
  }

  toPng(): Uint8Array {
    return encodePng(this.width, this.height, this.data, 3);
  }
}

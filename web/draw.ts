// Drawing on the page: RGB pixels (from the library's report/colors.ts) into a <canvas>, scaled up
// without smoothing, and a small line plot of loss curves. Nothing here knows about the method.

import { classPalette, imageToRgb, labelToRgb, channelToRgb } from '@lad/lad';

/** Interleaved RGB (w×h) into `canvas`, each pixel drawn as scale×scale. */
export function putRgb(canvas: HTMLCanvasElement, rgb: Uint8Array, w: number, h: number, scale = 4): void {
  const small = new OffscreenCanvas(w, h),
    img = new ImageData(w, h);
  for (let i = 0; i < w * h; i++) img.data.set([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], 255], 4 * i);
  small.getContext('2d')!.putImageData(img, 0, 0);
  canvas.width = w * scale;
  canvas.height = h * scale;
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, w * scale, h * scale);
}

/** A normalised image (3, H, W) as the digits-seg datasets hand it out (pixels in [-1, 1]). */
export const drawImage = (c: HTMLCanvasElement, x: Float32Array, w: number, h: number): void =>
  putRgb(c, imageToRgb(x, w, h, [127.5, 127.5, 127.5], [127.5, 127.5, 127.5]), w, h);
/** Class ids (H, W): class k in PASCAL VOC's colour k, ignore (−1) white. */
export const drawLabels = (c: HTMLCanvasElement, y: Int32Array, w: number, h: number, K: number): void => putRgb(c, labelToRgb(y, w, h, classPalette(K)), w, h);
/** A signed map on a blue–white–red scale (0 white), ±range at the ends. */
export const drawSigned = (c: HTMLCanvasElement, v: Float32Array, w: number, h: number, range?: number): void => putRgb(c, channelToRgb(v, w, h, range), w, h);
/** A non-negative map on a white–red scale, each pixel scale×scale. */
export const drawHeat = (c: HTMLCanvasElement, v: Float32Array, w: number, h: number, scale = 4): void => {
  let max = 0;
  for (const x of v) max = Math.max(max, x);
  putRgb(c, channelToRgb(v, w, h, max || 1), w, h, scale);
};

export interface Curve {
  name: string;
  color: string;
  points: [number, number][];
}

/** Line plot of `curves` (x: step, y: loss), axes from the data, a legend in the corner. */
export function plotCurves(canvas: HTMLCanvasElement, curves: Curve[]): void {
  const ctx = canvas.getContext('2d')!,
    W = canvas.width,
    H = canvas.height,
    pad = 36;
  ctx.clearRect(0, 0, W, H);
  const pts = curves.flatMap((c) => c.points);
  if (pts.length === 0) return;
  const [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]), 1)];
  const [y0, y1] = [0, Math.max(...pts.map((p) => p[1]))];
  const X = (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad),
    Y = (y: number) => H - pad - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  ctx.strokeStyle = '#888';
  ctx.strokeRect(pad, pad, W - 2 * pad, H - 2 * pad);
  ctx.fillStyle = '#333';
  ctx.font = '11px sans-serif';
  ctx.fillText(y1.toFixed(2), 2, pad + 4);
  ctx.fillText('0', 2, H - pad);
  ctx.fillText(`step ${x1}`, W - pad - 40, H - pad + 14);
  curves.forEach((c, i) => {
    ctx.strokeStyle = ctx.fillStyle = c.color;
    ctx.beginPath();
    c.points.forEach(([x, y], j) => (j ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
    ctx.stroke();
    ctx.fillText(c.name, W - pad - 110, pad + 14 + 13 * i);
  });
}

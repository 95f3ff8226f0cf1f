// Line plots of training curves as PNG: a title, framed axes with nice ticks, light grid lines,
// tick and axis labels, and a legend to the right of the plot area. Each series gets a distinct
// colour; NaN (and, on a log axis, non-positive) points are skipped and break the line; a point
// with no drawable neighbour is drawn as a marker. `plotLayout` exposes the geometry for tests.

import { ValueError } from '@lad/tensor';
import { Canvas, type Rgb } from './canvas.ts';
import { drawTextVertical, textHeight, textWidth } from './font.ts';
import { formatNumber, formatTick, linearTicks, logTicks, type Ticks } from './ticks.ts';

/** One line of a line plot: its name and (x, y) points. */
export interface Series {
  name: string;
  points: [number, number][];
}
/** Options of linePlot: titles, series, size and axes. */
export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  yRange?: [number, number] | null;
  logY?: boolean;
}
/** A rectangle (px). */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}
/** The geometry of a line plot (for tests and callers that draw on it). */
export interface PlotLayout {
  width: number;
  height: number;
  /** The title's font scale: 2, or 1 when a scale-2 title would not fit the width. */
  titleScale: number;
  /** The data area, inside the axis frame. */
  plot: Rect;
  legend: Rect;
  xTicks: Ticks;
  /** In log10 space when logY. */
  yTicks: Ticks;
  /** Pixel position of a data point (y in data units, log applied here). */
  toPixel(x: number, y: number): [number, number];
}

/** tab10, darkened where needed to read on white. */
export const SERIES_COLORS: Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];
/** The colour of the i-th series of a plot. */
export const seriesColor = (i: number): Rgb => SERIES_COLORS[i % SERIES_COLORS.length];

const PAD = 10,
  TICK = 4,
  TITLE_SCALE = 2,
  LEGEND_ROW = 14,
  SWATCH = 16,
  MAX_NAME = 28;
const AXIS: Rgb = [60, 60, 60],
  GRID: Rgb = [228, 228, 228],
  TEXT: Rgb = [20, 20, 20];

const legendName = (name: string): string => (name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 2)}..` : name);
const transformY = (y: number, logY: boolean): number => (logY ? (y > 0 ? Math.log10(y) : NaN) : y);

/** Finite [min, max] of the values, or null when there are none. */
function extent(values: number[]): [number, number] | null {
  const ok = values.filter(Number.isFinite);
  return ok.length === 0 ? null : [Math.min(...ok), Math.max(...ok)];
}

/** Widens a degenerate range so it has a positive span. */
function widen([lo, hi]: [number, number]): [number, number] {
  if (hi > lo) return [lo, hi];
  const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
  return [lo - pad, hi + pad];
}

function yTicksFor(opts: LinePlotOptions, plotH: number): Ticks {
  const logY = opts.logY ?? false;
  const target = Math.max(2, Math.floor(plotH / 45));
  if (opts.yRange) {
    const [a, b] = widen([transformY(opts.yRange[0], logY), transformY(opts.yRange[1], logY)]);
    if (!Number.isFinite(a) || !Number.isFinite(b))
      throw new ValueError(`linePlotPng: yRange ${JSON.stringify(opts.yRange)} is not usable${logY ? ' on a log axis (both ends must be positive)' : ''}.`);
    return logY ? logTicks(a, b) : linearTicks(a, b, target, false);
  }
  const ys = opts.series.flatMap((s) => s.points.map((p) => transformY(p[1], logY)));
  const [lo, hi] = widen(extent(ys) ?? (logY ? [0, 1] : [0, 1]));
  return logY ? logTicks(Math.floor(lo), Math.ceil(hi)) : linearTicks(lo, hi, target, true);
}

function xTicksFor(opts: LinePlotOptions, plotW: number): Ticks {
  const [lo, hi] = widen(extent(opts.series.flatMap((s) => s.points.map((p) => p[0]))) ?? [0, 1]);
  for (let target = Math.max(2, Math.floor(plotW / 70)); ; target--) {
    const ticks = linearTicks(lo, hi, target, false);
    const step = ticks.values.length > 1 ? ticks.values[1] - ticks.values[0] : hi - lo;
    const widest = Math.max(...ticks.values.map((v) => textWidth(formatTick(v, step))));
    if (target <= 2 || (widest + 12) * ticks.values.length <= plotW) return ticks;
  }
}

const tickStep = (t: Ticks): number => (t.values.length > 1 ? t.values[1] - t.values[0] : t.hi - t.lo);
const yTickLabel = (t: Ticks, v: number, logY: boolean): string => (logY ? formatNumber(10 ** v) : formatTick(v, tickStep(t)));
const xTickLabel = (t: Ticks, v: number): string => formatTick(v, tickStep(t));

/** The plot's geometry: margins sized to the title, tick labels, axis labels and legend. */
export function plotLayout(opts: LinePlotOptions): PlotLayout {
  const height = opts.height ?? 400,
    logY = opts.logY ?? false;
  const titleScale = textWidth(opts.title, TITLE_SCALE) <= (opts.width ?? 640) - 2 * PAD ? TITLE_SCALE : 1;
  const width = Math.max(opts.width ?? 640, textWidth(opts.title, titleScale) + 2 * PAD); // a title is never cut
  const fh = textHeight();
  const top = PAD + textHeight(titleScale) + PAD;
  const bottom = height - (PAD + fh + 6 + fh + TICK + 3);
  const yTicks = yTicksFor(opts, bottom - top);
  const yLabelW = Math.max(0, ...yTicks.values.map((v) => textWidth(yTickLabel(yTicks, v, logY))));
  const left = PAD + fh + 8 + yLabelW + TICK + 3;
  const names = opts.series.map((s) => textWidth(legendName(s.name)));
  const legendW = opts.series.length === 0 ? 0 : 8 + SWATCH + 6 + Math.max(...names) + 8;
  const right = width - PAD - (legendW > 0 ? legendW + PAD : 0);
  if (right - left < 40 || bottom - top < 40) throw new ValueError(`linePlotPng: ${width}x${height} is too small for the labels and legend.`);
  const plot = { x: left, y: top, w: right - left, h: bottom - top };
  const legend = { x: right + PAD, y: top, w: legendW, h: 6 + LEGEND_ROW * opts.series.length };
  const xTicks = xTicksFor(opts, plot.w);
  const toPixel = (x: number, y: number): [number, number] => [
    plot.x + ((x - xTicks.lo) / (xTicks.hi - xTicks.lo)) * (plot.w - 1),
    plot.y + plot.h - 1 - ((transformY(y, logY) - yTicks.lo) / (yTicks.hi - yTicks.lo)) * (plot.h - 1),
  ];
  return { width, height, titleScale, plot, legend, xTicks, yTicks, toPixel };
}

function drawAxes(c: Canvas, L: PlotLayout, opts: LinePlotOptions): void {
  const { plot, xTicks, yTicks } = L,
    logY = opts.logY ?? false;
  for (const v of yTicks.values) {
    const py = Math.round(plot.y + plot.h - 1 - ((v - yTicks.lo) / (yTicks.hi - yTicks.lo)) * (plot.h - 1));
    c.fillRect(plot.x, py, plot.w, 1, GRID);
    c.fillRect(plot.x - 1 - TICK, py, TICK, 1, AXIS);
    const label = yTickLabel(yTicks, v, logY);
    c.drawText(plot.x - 1 - TICK - 3 - textWidth(label), py - 3, label, TEXT);
  }
  for (const v of xTicks.values) {
    const px = Math.round(plot.x + ((v - xTicks.lo) / (xTicks.hi - xTicks.lo)) * (plot.w - 1));
    c.fillRect(px, plot.y, 1, plot.h, GRID);
    c.fillRect(px, plot.y + plot.h + 1, 1, TICK, AXIS);
    const label = xTickLabel(xTicks, v);
    const lx = Math.min(Math.max(px - Math.floor(textWidth(label) / 2), 0), L.width - textWidth(label));
    c.drawText(lx, plot.y + plot.h + 1 + TICK + 3, label, TEXT);
  }
  c.strokeRect(plot.x - 1, plot.y - 1, plot.w + 2, plot.h + 2, AXIS);
}

function drawLabels(c: Canvas, L: PlotLayout, opts: LinePlotOptions): void {
  const { plot } = L;
  const tw = textWidth(opts.title, L.titleScale);
  c.drawText(Math.min(Math.max(PAD, Math.round(plot.x + plot.w / 2 - tw / 2)), L.width - PAD - tw), PAD, opts.title, TEXT, L.titleScale);
  const xw = textWidth(opts.xLabel);
  c.drawText(Math.round(plot.x + plot.w / 2 - xw / 2), L.height - PAD - textHeight(), opts.xLabel, TEXT);
  const yw = textWidth(opts.yLabel);
  drawTextVertical(c, PAD, Math.max(0, Math.round(plot.y + plot.h / 2 - yw / 2)), opts.yLabel, TEXT);
}

/** Clips segment a→b to the rectangle (Liang–Barsky); null when nothing is inside. */
export function clipSegment(a: [number, number], b: [number, number], r: Rect): [[number, number], [number, number]] | null {
  const dx = b[0] - a[0],
    dy = b[1] - a[1];
  let t0 = 0,
    t1 = 1;
  const edges: [number, number][] = [
    [-dx, a[0] - r.x],
    [dx, r.x + r.w - 1 - a[0]],
    [-dy, a[1] - r.y],
    [dy, r.y + r.h - 1 - a[1]],
  ];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return null;
      continue;
    }
    const t = q / p;
    if (p < 0) t0 = Math.max(t0, t);
    else t1 = Math.min(t1, t);
    if (t0 > t1) return null;
  }
  return [
    [a[0] + t0 * dx, a[1] + t0 * dy],
    [a[0] + t1 * dx, a[1] + t1 * dy],
  ];
}

function drawSeries(c: Canvas, L: PlotLayout, s: Series, color: Rgb, logY: boolean): void {
  const px = s.points.map(([x, y]) => (Number.isFinite(x) && Number.isFinite(transformY(y, logY)) ? L.toPixel(x, y) : null));
  for (let i = 0; i < px.length; i++) {
    const p = px[i],
      q = px[i + 1];
    if (p && q) {
      const seg = clipSegment(p, q, L.plot);
      if (seg) c.drawLine(seg[0][0], seg[0][1], seg[1][0], seg[1][1], color, 2);
    } else if (p && !px[i - 1] && inside(p, L.plot)) c.fillRect(Math.round(p[0]) - 2, Math.round(p[1]) - 2, 5, 5, color);
  }
}

const inside = (p: [number, number], r: Rect): boolean => p[0] >= r.x && p[0] <= r.x + r.w - 1 && p[1] >= r.y && p[1] <= r.y + r.h - 1;

function drawLegend(c: Canvas, L: PlotLayout, series: Series[]): void {
  if (series.length === 0) return;
  const { x, y, w, h } = L.legend;
  c.strokeRect(x, y, w, h, [180, 180, 180]);
  series.forEach((s, i) => {
    const rowY = y + 6 + i * LEGEND_ROW;
    c.fillRect(x + 8, rowY + 2, SWATCH, 3, seriesColor(i));
    c.drawText(x + 8 + SWATCH + 6, rowY, legendName(s.name), TEXT);
  });
}

/** A PNG line plot of the series (see the file header for the conventions). */
export function linePlotPng(opts: LinePlotOptions): Uint8Array {
  const L = plotLayout(opts);
  const c = new Canvas(L.width, L.height);
  drawAxes(c, L, opts);
  opts.series.forEach((s, i) => drawSeries(c, L, s, seriesColor(i), opts.logY ?? false));
  drawLegend(c, L, opts.series);
  drawLabels(c, L, opts);
  return c.toPng();
}

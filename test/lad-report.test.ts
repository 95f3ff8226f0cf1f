// Report graphics: the canvas and font, line plots (size, series pixels where the data says,
// legend text, NaN/single-point/empty handling, log axes), segmentation grids (palette, label,
// channel and image conversions, grid geometry) and the TTY progress line.

import { describe, expect, it } from 'vitest';
import { decodeRgb } from '../packages/lad/src/data/image-io.ts';
import {
  Canvas,
  channelToRgb,
  classPalette,
  clipSegment,
  drawText,
  formatDuration,
  formatTick,
  imageToRgb,
  labelToRgb,
  linePlotPng,
  linearTicks,
  plotLayout,
  progressLine,
  segGridLayout,
  segGridPng,
  seriesColor,
  textWidth,
  type LinePlotOptions,
  type Rgb,
} from '../packages/lad/src/report/index.ts';

const pixel = (img: { width: number; data: Uint8Array }, x: number, y: number): Rgb => {
  const i = 3 * (y * img.width + x);
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
};
const same = (a: Rgb, b: Rgb) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
/** How many pixels of the colour lie in the rectangle. */
function count(img: { width: number; data: Uint8Array }, x0: number, y0: number, w: number, h: number, pred: (c: Rgb) => boolean): number {
  let n = 0;
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (pred(pixel(img, x, y))) n++;
  return n;
}
const WHITE: Rgb = [255, 255, 255];

describe('canvas and font', () => {
  it('draws pixels, lines, text and blits, and encodes to a PNG of its size', () => {
    const c = new Canvas(40, 20, [10, 20, 30]);
    c.setPixel(0, 0, [1, 2, 3]);
    c.setPixel(-1, 50, [9, 9, 9]); // clipped, no throw
    expect(c.getPixel(0, 0)).toEqual([1, 2, 3]);
    c.drawLine(0, 10, 39, 10, [255, 0, 0]);
    for (let x = 0; x < 40; x++) expect(c.getPixel(x, 10)).toEqual([255, 0, 0]);
    c.drawLine(5, 0, 5, 19, [0, 255, 0], 2);
    expect(c.getPixel(6, 3)).toEqual([0, 255, 0]);
    c.blit(new Uint8Array([7, 7, 7, 8, 8, 8]), 2, 1, 30, 0, 3);
    expect(c.getPixel(32, 2)).toEqual([7, 7, 7]);
    expect(c.getPixel(33, 0)).toEqual([8, 8, 8]);
    const img = decodeRgb(c.toPng());
    expect([img.width, img.height]).toEqual([40, 20]);
    expect(pixel(img, 39, 19)).toEqual([10, 20, 30]);
  });

  it('draws glyphs inside their box only, scaled', () => {
    const c = new Canvas(60, 20);
    drawText(c, 2, 2, 'Hi!', [0, 0, 0], 2);
    const img = { width: 60, data: c.data };
    const dark = (p: Rgb) => p[0] === 0;
    expect(count(img, 2, 2, textWidth('Hi!', 2), 14, dark)).toBeGreaterThan(20);
    expect(count(img, 0, 0, 60, 20, dark)).toBe(count(img, 2, 2, textWidth('Hi!', 2), 14, dark));
  });
});

describe('ticks', () => {
  it('chooses nice steps and labels', () => {
    expect(linearTicks(0, 1, 5, false).values).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearTicks(0.13, 0.87, 5, true)).toMatchObject({ lo: 0, hi: 1 });
    expect(formatTick(0.30000000000000004, 0.1)).toBe('0.3');
    expect(formatTick(1000, 200)).toBe('1000');
  });

  it('clips segments to a rectangle', () => {
    const r = { x: 0, y: 0, w: 11, h: 11 };
    expect(clipSegment([-10, 5], [20, 5], r)).toEqual([
      [0, 5],
      [10, 5],
    ]);
    expect(clipSegment([-10, -5], [-1, -5], r)).toBeNull();
  });
});

describe('linePlotPng', () => {
  const opts: LinePlotOptions = {
    title: 'val mIoU',
    xLabel: 'step',
    yLabel: 'mIoU',
    series: [
      {
        name: 'flat',
        points: [
          [0, 0.5],
          [50, 0.5],
          [100, 0.5],
        ],
      },
      {
        name: 'rising',
        points: [
          [0, 0.1],
          [100, 0.9],
        ],
      },
    ],
    width: 500,
    height: 300,
    yRange: [0, 1],
  };

  it('decodes to the requested size', () => {
    const img = decodeRgb(linePlotPng(opts));
    expect([img.width, img.height]).toEqual([500, 300]);
    expect([decodeRgb(linePlotPng({ ...opts, width: undefined, height: undefined })).width]).toEqual([640]);
  });

  it('draws y = 0.5 across the middle row of the plot area in the series colour', () => {
    const img = decodeRgb(linePlotPng(opts));
    const { plot, toPixel } = plotLayout(opts);
    const midRow = Math.round(plot.y + (plot.h - 1) / 2);
    expect(Math.round(toPixel(0, 0.5)[1])).toBe(midRow);
    const blue = seriesColor(0);
    const hits = count(img, plot.x, midRow, plot.w, 1, (p) => same(p, blue));
    expect(hits).toBeGreaterThan(plot.w * 0.8);
    // Nowhere near the top or bottom of the plot.
    expect(count(img, plot.x, plot.y, plot.w, 10, (p) => same(p, blue))).toBe(0);
    // The rising series starts bottom-left, ends top-right.
    const [x0, y0] = toPixel(0, 0.1),
      [x1, y1] = toPixel(100, 0.9);
    expect(
      same(pixel(img, Math.round(x0) + 1, Math.round(y0 + (y1 - y0) / (x1 - x0))), seriesColor(1)) ||
        count(img, Math.round(x0), Math.round(y0) - 2, 3, 5, (p) => same(p, seriesColor(1))) > 0,
    ).toBe(true);
    expect(count(img, Math.round(x1) - 2, Math.round(y1) - 2, 5, 5, (p) => same(p, seriesColor(1)))).toBeGreaterThan(0);
  });

  it('shows the legend: swatches in the series colours and text', () => {
    const img = decodeRgb(linePlotPng(opts));
    const { legend } = plotLayout(opts);
    const inner = [legend.x + 1, legend.y + 1, legend.w - 2, legend.h - 2] as const;
    expect(count(img, ...inner, (p) => same(p, seriesColor(0)))).toBeGreaterThan(10);
    expect(count(img, ...inner, (p) => same(p, seriesColor(1)))).toBeGreaterThan(10);
    expect(count(img, ...inner, (p) => p[0] < 60 && p[1] < 60 && p[2] < 60)).toBeGreaterThan(30);
    expect(legend.x).toBeGreaterThan(plotLayout(opts).plot.x + plotLayout(opts).plot.w);
  });

  it('skips NaN points, marks a lone point, handles empty series and log axes', () => {
    const o: LinePlotOptions = {
      ...opts,
      yRange: null,
      series: [
        {
          name: 'gappy',
          points: [
            [0, 1],
            [1, NaN],
            [2, 3],
            [3, NaN],
          ],
        },
        { name: 'none', points: [] },
      ],
    };
    const img = decodeRgb(linePlotPng(o));
    const { toPixel } = plotLayout(o);
    for (const [x, y] of [
      [0, 1],
      [2, 3],
    ]) {
      const [px, py] = toPixel(x, y).map(Math.round);
      expect(count(img, px - 2, py - 2, 5, 5, (p) => same(p, seriesColor(0)))).toBe(25);
    }
    expect(decodeRgb(linePlotPng({ ...opts, series: [] })).width).toBe(500);
    expect(decodeRgb(linePlotPng({ ...opts, series: [{ name: 'one', points: [[3, 7]] }], yRange: null })).height).toBe(300);
    const log: LinePlotOptions = {
      ...opts,
      yRange: null,
      logY: true,
      series: [
        {
          name: 'loss',
          points: [
            [0, 2],
            [50, 0.1],
            [100, 0.01],
            [101, 0],
          ],
        },
      ],
    };
    expect(plotLayout(log).yTicks).toMatchObject({ lo: -2, hi: 1 });
    expect(decodeRgb(linePlotPng(log)).width).toBe(500);
  });
});

describe('segmentation grid', () => {
  it('classPalette is VOC: background black, distinct colours', () => {
    const pal = classPalette(21);
    expect(pal.slice(0, 4)).toEqual([
      [0, 0, 0],
      [128, 0, 0],
      [0, 128, 0],
      [128, 128, 0],
    ]);
    expect(pal[15]).toEqual([192, 128, 128]);
    expect(new Set(pal.map((c) => c.join())).size).toBe(21);
  });

  it('labelToRgb maps class k to palette[k] and -1 to white', () => {
    const pal = classPalette(5);
    const rgb = labelToRgb(new Int32Array([0, 1, 4, -1]), 2, 2, pal);
    expect([...rgb]).toEqual([...pal[0], ...pal[1], ...pal[4], ...WHITE]);
    expect(() => labelToRgb(new Int32Array([5]), 1, 1, pal)).toThrow(/palette/);
  });

  it('channelToRgb is white at 0, blue below, red above; imageToRgb undoes normalisation', () => {
    const rgb = channelToRgb(new Float32Array([0, -2, 2, NaN]), 4, 1);
    expect(pixel({ width: 4, data: rgb }, 0, 0)).toEqual(WHITE);
    const [neg, pos] = [pixel({ width: 4, data: rgb }, 1, 0), pixel({ width: 4, data: rgb }, 2, 0)];
    expect(neg[2]).toBeGreaterThan(neg[0]);
    expect(pos[0]).toBeGreaterThan(pos[2]);
    const img = imageToRgb(new Float32Array([-1, 1, 0, 0, 5, -5]), 2, 1, [127.5, 127.5, 127.5], [127.5, 127.5, 127.5]);
    expect([...img]).toEqual([0, 128, 255, 255, 128, 0]);
  });

  it('segGridPng is columns × cell size + margins and places each cell', () => {
    const pal = classPalette(3);
    const cell = { rgb: labelToRgb(new Int32Array(48 * 32).fill(1), 48, 32, pal), width: 48, height: 32 };
    const opts = { columns: ['image', 'ground truth', 'LAD student'], rows: [{ cells: [cell, null, cell] }, { cells: [cell, cell, cell] }] };
    const img = decodeRgb(segGridPng(opts));
    const L = segGridLayout(opts);
    expect(L.colWidth).toBe(96);
    expect(L.rowHeight).toBe(64);
    expect(img.width).toBe(2 * 8 + 3 * 96 + 2 * 4);
    expect(img.height).toBe(2 * 8 + (7 + 6) + 2 * 64 + 4);
    expect(count(img, L.cellX(2), L.cellY(1), 96, 64, (p) => same(p, pal[1]))).toBe(96 * 64);
    expect(count(img, L.cellX(1), L.cellY(0), 96, 64, (p) => same(p, pal[1]))).toBe(0);
    expect(count(img, L.cellX(0), 8, 96, 7, (p) => p[0] < 60)).toBeGreaterThan(10); // the title
    expect(decodeRgb(segGridPng({ ...opts, scale: 1 })).width).toBe(2 * 8 + 3 * textWidth('ground truth') + 2 * 4); // the title is wider than 48
  });
});

describe('progressLine', () => {
  it('shows the percent, the ETA and the losses, within the width', () => {
    const line = progressLine({ step: 250, total: 1000, startedAt: 0, now: 60_000, parts: { loss: 0.123456, kd: 1.5e-5 }, width: 100 });
    expect(line).toContain('25.0%');
    expect(line).toContain('ETA 0:03:00');
    expect(line).toContain('loss 0.1235');
    expect(line).toContain('kd 1.50e-5');
    expect(line.length).toBeLessThanOrEqual(100);
    expect(progressLine({ step: 0, total: 10, startedAt: 0, now: 0, parts: {} })).toContain('ETA -:--:--');
    expect(progressLine({ step: 1, total: 10, startedAt: 0, now: 1000, parts: { a: 1, b: 2, c: 3 }, width: 30 }).length).toBeLessThanOrEqual(30);
  });

  it('formats durations as h:mm:ss', () => {
    expect(formatDuration(0)).toBe('0:00:00');
    expect(formatDuration(3723.4)).toBe('1:02:03');
    expect(formatDuration(100 * 3600)).toBe('100:00:00');
    expect(formatDuration(NaN)).toBe('-:--:--');
  });
});

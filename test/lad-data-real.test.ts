// Real-dataset folder loaders on small fabricated layouts: split sizes, label mapping (VOC palette,
// Cityscapes trainIds, ADE20K reduce-zero-label, COCO-Stuff 182 → 171), normalisation, specs, and
// errors that name the file (missing root/list/file, truncated or undecodable image, size mismatch).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, truncateSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShapeError } from '@lad/tensor';
import { readRgb } from '../packages/lad/src/data/image-io.ts';
import { CAFFE_NORMALIZATION } from '../packages/lad/src/data/types.ts';
import { DatasetFileError } from '../packages/lad/src/data/folder.ts';
import { VOC_CLASSES, vocColor, vocDataset } from '../packages/lad/src/data/voc.ts';
import { CITYSCAPES_CLASSES, CITYSCAPES_LABEL_IDS, cityscapesDataset } from '../packages/lad/src/data/cityscapes.ts';
import { ADE20K_CLASSES, ade20kDataset } from '../packages/lad/src/data/ade20k.ts';
import { COCO_STUFF_CLASSES, COCO_STUFF_ID_TO_CLASS, cocoStuffDataset } from '../packages/lad/src/data/cocostuff.ts';
import { datasetFromSpec, specOf } from '../packages/lad/src/data/dataset-spec.ts';
import { pattern, writeGrayPng, writeJpeg, writePalettePng, writeRgbPng, writeText } from './util/lad-fixtures.ts';

const W = 16,
  H = 12;
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lad-real-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Raw label values cycling through `values`, one per pixel. */
const cycle = (values: readonly number[], n = W * H) => Uint8Array.from({ length: n }, (_, i) => values[i % values.length]);
const labels = (ds: { get(i: number): { label: { data(): ArrayLike<number> } } }, i: number) => Array.from(ds.get(i).label.data());

const VOC_PALETTE_COLORS = Array.from({ length: 256 }, (_, i) => vocColor(i));

function makeVoc(root: string): void {
  const dir = join(root, 'VOCdevkit', 'VOC2012');
  const all = ['2007_000032', '2007_000039', '2007_000063', '2008_000002'];
  all.forEach((id, k) => writeJpeg(join(dir, 'JPEGImages', `${id}.jpg`), W, H, pattern(W, H, k)));
  const values = [0, 1, 5, 20, 255, 15];
  for (const id of all.slice(0, 3)) writePalettePng(join(dir, 'SegmentationClass', `${id}.png`), W, H, cycle(values), VOC_PALETTE_COLORS);
  for (const id of all) writeGrayPng(join(dir, 'SegmentationClassAug', `${id}.png`), W, H, cycle(values));
  writeText(join(dir, 'ImageSets', 'Segmentation', 'train.txt'), '2007_000032\n2007_000039\n');
  writeText(join(dir, 'ImageSets', 'Segmentation', 'val.txt'), '2007_000063\n');
  // DeepLab's list format: two paths a line.
  writeText(
    join(dir, 'ImageSets', 'Segmentation', 'train_aug.txt'),
    all.map((id) => `/JPEGImages/${id}.jpg /SegmentationClassAug/${id}.png`).join('\n') + '\n',
  );
}

describe('PASCAL VOC 2012', () => {
  let root: string;
  beforeAll(() => {
    root = join(tmp, 'voc');
    makeVoc(root);
  });

  it('reads each split with its count, 21 class names and the palette → ids with 255 → -1', () => {
    const train = vocDataset({ root, split: 'train' });
    expect([train.length, vocDataset({ root, split: 'val' }).length, vocDataset({ root, split: 'train_aug' }).length]).toEqual([2, 1, 4]);
    expect(train.numClasses).toBe(21);
    expect(train.classNames).toEqual(VOC_CLASSES);
    expect(train.get(0).id).toBe('2007_000032');
    const want = Array.from(cycle([0, 1, 5, 20, -1, 15].map((v) => (v + 256) % 256))).map((v) => (v === 255 ? -1 : v));
    expect(labels(train, 0)).toEqual(want);
    expect(labels(vocDataset({ root, split: 'train_aug' }), 3)).toEqual(want);
  });

  it('decodes an RGB PNG coloured with the VOC palette the same as the palette PNG', () => {
    const r2 = join(tmp, 'voc-rgb');
    makeVoc(r2);
    const idx = cycle([0, 1, 5, 20, 255, 15]);
    const rgb = new Uint8Array(W * H * 3);
    idx.forEach((v, i) => rgb.set(vocColor(v), 3 * i));
    writeRgbPng(join(r2, 'VOCdevkit', 'VOC2012', 'SegmentationClass', '2007_000032.png'), W, H, rgb);
    expect(labels(vocDataset({ root: r2 }), 0)).toEqual(labels(vocDataset({ root }), 0));
  });

  it('normalises with CAFFE_NORMALIZATION by default and with the given normalisation otherwise', () => {
    const file = join(root, 'VOCdevkit', 'VOC2012', 'JPEGImages', '2007_000039.jpg');
    const rgb = readRgb(file).data;
    const img = vocDataset({ root }).get(1).image;
    expect(img.dtype).toBe('float32');
    expect(img.shape).toEqual([3, H, W]);
    const d = img.data();
    const plane = W * H;
    for (const p of [0, 7, plane - 1]) for (let c = 0; c < 3; c++) expect(d[c * plane + p]).toBe(Math.fround(rgb[3 * p + c] - CAFFE_NORMALIZATION.mean[c]));
    const unit = vocDataset({ root, normalization: { mean: [10, 20, 30], std: [2, 4, 8] } })
      .get(1)
      .image.data();
    for (let c = 0; c < 3; c++) expect(unit[c * plane + 5]).toBe(Math.fround((rgb[3 * 5 + c] - [10, 20, 30][c]) / [2, 4, 8][c]));
  });

  it('accepts the VOCdevkit or VOC2012 folder as root, and rebuilds from its spec', async () => {
    expect(vocDataset({ root: join(root, 'VOCdevkit') }).length).toBe(2);
    expect(vocDataset({ root: join(root, 'VOCdevkit', 'VOC2012'), split: 'val' }).length).toBe(1);
    const ds = vocDataset({ root, split: 'val' });
    const again = await datasetFromSpec(specOf(ds)!);
    expect(again.length).toBe(1);
    expect(Array.from(again.get(0).image.data())).toEqual(Array.from(ds.get(0).image.data()));
  });

  it('a palette index outside the 21 classes and 255 is an error naming the file', () => {
    const r3 = join(tmp, 'voc-bad');
    makeVoc(r3);
    const file = join(r3, 'VOCdevkit', 'VOC2012', 'SegmentationClass', '2007_000063.png');
    writePalettePng(file, W, H, cycle([0, 30]), VOC_PALETTE_COLORS);
    expect(() => vocDataset({ root: r3, split: 'val' }).get(0)).toThrow(file);
  });
});

describe('Cityscapes', () => {
  let root: string;
  const raw = [0, 1, 6, 7, 8, 9, 11, 24, 26, 33, 34, 255, 31, 17];
  beforeAll(() => {
    root = join(tmp, 'cityscapes');
    const put = (split: string, city: string, name: string) => {
      writeRgbPng(join(root, 'leftImg8bit', split, city, `${name}_leftImg8bit.png`), W, H);
      writeGrayPng(join(root, 'gtFine', split, city, `${name}_gtFine_labelIds.png`), W, H, cycle(raw));
    };
    put('train', 'aachen', 'aachen_000000_000019');
    put('train', 'aachen', 'aachen_000001_000019');
    put('train', 'bochum', 'bochum_000000_000313');
    put('val', 'frankfurt', 'frankfurt_000000_000294');
  });

  it('counts samples per split over city folders, sorted by city then name', () => {
    const train = cityscapesDataset({ root, split: 'train' });
    expect([train.length, cityscapesDataset({ root, split: 'val' }).length]).toEqual([3, 1]);
    expect([0, 1, 2].map((i) => train.get(i).id)).toEqual(['aachen_000000_000019', 'aachen_000001_000019', 'bochum_000000_000313']);
    expect(train.classNames).toEqual(CITYSCAPES_CLASSES);
    expect(train.numClasses).toBe(19);
  });

  it('maps labelIds to trainIds, unmapped ids to -1', () => {
    const table: Record<number, number> = { 0: -1, 1: -1, 6: -1, 7: 0, 8: 1, 9: -1, 11: 2, 24: 11, 26: 13, 33: 18, 34: -1, 255: -1, 31: 16, 17: 5 };
    expect(labels(cityscapesDataset({ root, split: 'val' }), 0)).toEqual(Array.from(cycle(raw), (v) => table[v]));
    expect(CITYSCAPES_LABEL_IDS.length).toBe(19);
  });
});

describe('ADE20K', () => {
  let root: string;
  beforeAll(() => {
    root = join(tmp, 'ade');
    const dir = join(root, 'ADEChallengeData2016');
    for (const [sub, id] of [
      ['training', 'ADE_train_00000001'],
      ['training', 'ADE_train_00000002'],
      ['validation', 'ADE_val_00000001'],
    ]) {
      writeJpeg(join(dir, 'images', sub, `${id}.jpg`), W, H);
      writeGrayPng(join(dir, 'annotations', sub, `${id}.png`), W, H, cycle([0, 1, 2, 150, 77]));
    }
  });

  it('counts splits and reduces the zero label (0 → -1, k → k-1)', () => {
    const train = ade20kDataset({ root, split: 'train' });
    expect([train.length, ade20kDataset({ root, split: 'val' }).length]).toEqual([2, 1]);
    expect(train.numClasses).toBe(150);
    expect(train.classNames).toEqual(ADE20K_CLASSES);
    expect(labels(train, 1)).toEqual(Array.from(cycle([0, 1, 2, 150, 77]), (v) => v - 1));
  });

  it('a value above 150 is an error naming the file', () => {
    const file = join(root, 'ADEChallengeData2016', 'annotations', 'validation', 'ADE_val_00000001.png');
    writeGrayPng(file, W, H, cycle([3, 151]));
    expect(() => ade20kDataset({ root, split: 'val' }).get(0)).toThrow(/ADE_val_00000001\.png.*value 151/);
  });
});

describe('COCO-Stuff', () => {
  const raw = [0, 10, 11, 12, 25, 90, 91, 181, 255, 44];
  const want = (v: number) => (v === 255 ? -1 : COCO_STUFF_ID_TO_CLASS[v]);

  it('has 171 classes; the 182 → 171 table skips the 11 unused thing ids', () => {
    expect(COCO_STUFF_CLASSES.length).toBe(171);
    expect(COCO_STUFF_ID_TO_CLASS.filter((c) => c >= 0)).toEqual(Array.from({ length: 171 }, (_, k) => k));
    expect([0, 10, 11, 12, 25, 90, 91, 181].map((v) => COCO_STUFF_ID_TO_CLASS[v])).toEqual([0, 10, -1, 11, -1, -1, 80, 170]);
    expect(COCO_STUFF_CLASSES[80]).toBe('banner');
  });

  it('164K: images/<split>2017 with stuffthingmaps (or annotations/), 255 → -1', () => {
    const root = join(tmp, 'coco164k');
    for (const [sub, id] of [
      ['train2017', '000000000009'],
      ['train2017', '000000000025'],
      ['val2017', '000000000139'],
    ]) {
      writeJpeg(join(root, 'images', sub, `${id}.jpg`), W, H);
      writeGrayPng(join(root, 'stuffthingmaps_trainval2017', sub, `${id}.png`), W, H, cycle(raw));
    }
    const train = cocoStuffDataset({ root, split: 'train' });
    expect([train.length, cocoStuffDataset({ root, split: 'val' }).length]).toEqual([2, 1]);
    expect(labels(train, 0)).toEqual(Array.from(cycle(raw), want));
    const alt = join(tmp, 'coco164k-mmseg');
    writeJpeg(join(alt, 'images', 'val2017', 'a.jpg'), W, H);
    writeGrayPng(join(alt, 'annotations', 'val2017', 'a.png'), W, H, cycle(raw));
    expect(labels(cocoStuffDataset({ root: alt, split: 'val' }), 0)).toEqual(Array.from(cycle(raw), want));
  });

  it('10K: converted PNG layout with imageLists; zero-based and one-based (.mat S) encodings', () => {
    const root = join(tmp, 'coco10k');
    for (const id of ['COCO_train2014_000000000077', 'COCO_train2014_000000000078', 'COCO_train2014_000000000110']) {
      writeJpeg(join(root, 'images', `${id}.jpg`), W, H);
      writeGrayPng(join(root, 'annotations', `${id}.png`), W, H, cycle(raw));
    }
    writeText(join(root, 'imageLists', 'train.txt'), 'COCO_train2014_000000000077\nCOCO_train2014_000000000078\n');
    writeText(join(root, 'imageLists', 'test.txt'), 'COCO_train2014_000000000110\n');
    const train = cocoStuffDataset({ root, variant: '10k', split: 'train' });
    expect([train.length, cocoStuffDataset({ root, variant: '10k', split: 'val' }).length]).toEqual([2, 1]);
    expect(labels(train, 1)).toEqual(Array.from(cycle(raw), want));
    const one = [0, 1, 12, 13, 182];
    writeGrayPng(join(root, 'annotations', 'COCO_train2014_000000000110.png'), W, H, cycle(one));
    expect(labels(cocoStuffDataset({ root, variant: '10k', split: 'test', encoding: 'one-based' }), 0)).toEqual(
      Array.from(cycle(one), (v) => (v === 0 ? -1 : COCO_STUFF_ID_TO_CLASS[v - 1])),
    );
  });

  it('a value outside 0..181 and 255 is an error naming the file', () => {
    const root = join(tmp, 'coco164k-bad');
    writeJpeg(join(root, 'images', 'val2017', 'x.jpg'), W, H);
    writeGrayPng(join(root, 'stuffthingmaps_trainval2017', 'val2017', 'x.png'), W, H, cycle([3, 200]));
    expect(() => cocoStuffDataset({ root, split: 'val' }).get(0)).toThrow(/x\.png.*value 200/);
  });
});

describe('errors name the file', () => {
  let root: string;
  let dir: string;
  beforeAll(() => {
    root = join(tmp, 'voc-err');
    makeVoc(root);
    dir = join(root, 'VOCdevkit', 'VOC2012');
  });

  it('missing root, folder and list', () => {
    const nowhere = join(tmp, 'nowhere');
    expect(() => vocDataset({ root: nowhere })).toThrow(DatasetFileError);
    expect(() => vocDataset({ root: nowhere })).toThrow(nowhere);
    expect(() => vocDataset({ root, split: 'trainval' })).toThrow(join(dir, 'ImageSets', 'Segmentation', 'trainval.txt'));
    expect(() => cityscapesDataset({ root: join(tmp, 'cityscapes'), split: 'test' })).toThrow(join(tmp, 'cityscapes', 'leftImg8bit', 'test'));
    expect(() => ade20kDataset({ root: tmp })).toThrow(join(tmp, 'ADEChallengeData2016'));
    expect(() => cocoStuffDataset({ root: join(tmp, 'coco10k') })).toThrow(join(tmp, 'coco10k', 'images', 'train2017'));
  });

  it('a listed image or label that does not exist, at construction', () => {
    writeText(join(dir, 'ImageSets', 'Segmentation', 'trainval.txt'), '2007_000032\n2099_000001\n');
    expect(() => vocDataset({ root, split: 'trainval' })).toThrow(join(dir, 'JPEGImages', '2099_000001.jpg'));
    writeJpeg(join(dir, 'JPEGImages', '2099_000001.jpg'), W, H);
    expect(() => vocDataset({ root, split: 'trainval' })).toThrow(join(dir, 'SegmentationClass', '2099_000001.png'));
  });

  it('a truncated JPEG, an undecodable label and an image/label size mismatch, at get()', () => {
    const jpg = join(dir, 'JPEGImages', '2007_000039.jpg');
    truncateSync(jpg, Math.floor(statSync(jpg).size / 2));
    expect(() => vocDataset({ root }).get(1)).toThrow(jpg);
    const png = join(dir, 'SegmentationClass', '2007_000032.png');
    writeFileSync(png, Buffer.from('not an image at all'));
    expect(() => vocDataset({ root }).get(0)).toThrow(png);
    const lab = join(dir, 'SegmentationClass', '2007_000063.png');
    writePalettePng(lab, W, H + 1, new Uint8Array(W * (H + 1)), VOC_PALETTE_COLORS);
    expect(() => vocDataset({ root, split: 'val' }).get(0)).toThrow(DatasetFileError);
    expect(() => vocDataset({ root, split: 'val' }).get(0)).toThrow(/2007_000063\.png: label is 16x13 \(WxH\) but its image .*2007_000063\.jpg is 16x12/);
  });

  it('an empty city folder set and an out-of-range index', () => {
    const r = join(tmp, 'cs-empty');
    mkdirSync(join(r, 'leftImg8bit', 'val', 'x'), { recursive: true });
    mkdirSync(join(r, 'gtFine', 'val'), { recursive: true });
    expect(() => cityscapesDataset({ root: r, split: 'val' })).toThrow(join(r, 'leftImg8bit', 'val'));
    expect(() => vocDataset({ root: join(tmp, 'voc') }).get(2)).toThrow(ShapeError);
  });
});

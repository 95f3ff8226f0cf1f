// Segmentation metrics: hand-computed confusion matrices with ignore pixels (IoU, mIoU over present
// classes and over all classes, pixel and class accuracy), batch accumulation, errors, the table,
// and properties on random inputs.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { tensor, DTypeError, ShapeError, ValueError } from '@lad/tensor';
import { ConfusionMatrix } from '../packages/lad/src/metrics.ts';

const i32 = (data: number[][] | number[][][]) => tensor(data, { dtype: 'int32' });

// target (-1 = ignore) and prediction, 2x4; the ignored pixels predict 2 and 0, which must not count.
const TARGET = [
  [0, 0, 1, -1],
  [1, 2, 2, -1],
];
const PRED = [
  [0, 1, 1, 2],
  [1, 2, 0, 0],
];

describe('ConfusionMatrix: hand-computed', () => {
  // Counted pairs (t, p): (0,0) (0,1) (1,1) (1,1) (2,2) (2,0).
  // rows (truth) 2, 2, 2; columns (pred) 2, 3, 1; diagonal 1, 2, 1.
  it('counts only labelled pixels', () => {
    const cm = new ConfusionMatrix(3).update(i32(PRED), i32(TARGET));
    expect([...cm.matrix]).toEqual([1, 1, 0, 0, 2, 0, 1, 0, 1]);
    expect(cm.total).toBe(6);
  });

  it('IoU, mIoU, pixel accuracy and class accuracy', () => {
    const cm = new ConfusionMatrix(3).update(i32(PRED), i32(TARGET));
    const iou = cm.iou();
    expect(iou[0]).toBeCloseTo(1 / 3, 12); // 1 / (2 + 2 − 1)
    expect(iou[1]).toBeCloseTo(2 / 3, 12); // 2 / (2 + 3 − 2)
    expect(iou[2]).toBeCloseTo(1 / 2, 12); // 1 / (2 + 1 − 1)
    expect(cm.meanIoU('present')).toBeCloseTo(0.5, 12);
    expect(cm.pixelAccuracy()).toBeCloseTo(4 / 6, 12);
    expect(cm.classAccuracy()).toEqual([0.5, 1, 0.5]);
    expect(cm.meanClassAccuracy()).toBeCloseTo(2 / 3, 12);
  });

  it('leaves classes absent from both truth and prediction out of mIoU (no NaN); "all" counts them as 0', () => {
    const cm = new ConfusionMatrix(5).update(i32(PRED), i32(TARGET));
    const iou = cm.iou();
    expect(Number.isNaN(iou[3]) && Number.isNaN(iou[4])).toBe(true);
    expect(cm.meanIoU('present')).toBeCloseTo(0.5, 12);
    expect(cm.meanIoU('all')).toBeCloseTo(1.5 / 5, 12); // the released code's convention
    expect(cm.meanIoU()).toBe(cm.meanIoU('all')); // the default, the headline
    expect(cm.meanClassAccuracy()).toBeCloseTo(2 / 3, 12);
  });

  it('counts a class that is only predicted, with IoU 0', () => {
    const cm = new ConfusionMatrix(4).update(i32([[0, 3]]), i32([[0, 0]]));
    expect(cm.iou()[0]).toBeCloseTo(0.5, 12); // 1 / (2 + 1 − 1)
    expect(cm.iou()[3]).toBe(0);
    expect(cm.meanIoU('present')).toBeCloseTo(0.25, 12);
    expect(cm.pixelAccuracy()).toBe(0.5);
    expect(cm.meanClassAccuracy()).toBe(0.5); // only class 0 is in the truth
  });

  it('is 0, not NaN, before any labelled pixel', () => {
    const cm = new ConfusionMatrix(3).update(i32([[1, 2]]), i32([[-1, -1]]));
    expect([cm.total, cm.meanIoU('present'), cm.meanIoU('all'), cm.pixelAccuracy(), cm.meanClassAccuracy()]).toEqual([0, 0, 0, 0, 0]);
  });

  it('accumulates a batch (N, H, W) like its images one by one, and over calls', () => {
    const batch = new ConfusionMatrix(3).update(i32([PRED, PRED]), i32([TARGET, TARGET]));
    const single = new ConfusionMatrix(3).update(i32(PRED), i32(TARGET)).update(i32(PRED), i32(TARGET));
    expect([...batch.matrix]).toEqual([...single.matrix]);
    expect(batch.meanIoU('present')).toBeCloseTo(0.5, 12);
    expect(batch.reset().total).toBe(0);
  });

  it('treats every negative target as ignore', () => {
    const cm = new ConfusionMatrix(2).update(i32([[0, 1, 1]]), i32([[0, -1, -255]]));
    expect(cm.total).toBe(1);
  });
});

describe('ConfusionMatrix: errors', () => {
  const cm = new ConfusionMatrix(3);
  it('rejects float inputs, mismatched shapes and out-of-range ids', () => {
    expect(() => cm.update(tensor([[0, 1]]), i32([[0, 1]]))).toThrow(DTypeError);
    expect(() => cm.update(tensor([[0, 1]]), i32([[0, 1]]))).toThrow(/argmax/);
    expect(() => cm.update(i32([[0, 1]]), i32([[0], [1]]))).toThrow(ShapeError);
    expect(() => cm.update(i32([[0, 1]]), i32([[0], [1]]))).toThrow(/\[1, 2\].*\[2, 1\]/);
    expect(() => cm.update(i32([[0, 3]]), i32([[0, 1]]))).toThrow(/pred value 3/);
    expect(() => cm.update(i32([[0, 1]]), i32([[0, 7]]))).toThrow(/target value 7/);
    expect(() => new ConfusionMatrix(0)).toThrow(ValueError);
  });
});

describe('ConfusionMatrix.formatTable', () => {
  it('lists every class with its IoU and accuracy, "-" for absent ones, and the summary', () => {
    const cm = new ConfusionMatrix(4).update(i32(PRED), i32(TARGET));
    const table = cm.formatTable(['background', 'cat', 'dog', 'bird']);
    expect(table).toContain('| 0 | background | 33.33 | 50.00 | 33.33 |');
    expect(table).toContain('| 1 | cat | 66.67 | 100.00 | 33.33 |');
    expect(table).toContain('| 3 | bird | - | - | 0.00 |');
    expect(table).toMatch(/mIoU 37\.50 \(over all 4 classes; present classes only: 50\.00\) \| pixAcc 66\.67 \| mAcc 66\.67 \| 6 labelled pixels/);
    expect(() => cm.formatTable(['a'])).toThrow(/1 class names for 4 classes/);
  });
});

describe('ConfusionMatrix: properties', () => {
  const K = 4;
  const pairs = fc.array(fc.tuple(fc.integer({ min: 0, max: K - 1 }), fc.integer({ min: -1, max: K - 1 })), { minLength: 1, maxLength: 60 });
  const cmOf = (ps: [number, number][]) =>
    new ConfusionMatrix(K).updateArrays(
      ps.map((p) => p[0]),
      ps.map((p) => p[1]),
    );

  it('total = labelled pixels; metrics in [0, 1] and NaN-free; mIoU(all) <= mIoU', () => {
    fc.assert(
      fc.property(pairs, (ps) => {
        const cm = cmOf(ps);
        expect(cm.total).toBe(ps.filter((p) => p[1] >= 0).length);
        for (const v of [cm.meanIoU('present'), cm.meanIoU('all'), cm.pixelAccuracy(), cm.meanClassAccuracy()]) expect(v >= 0 && v <= 1).toBe(true);
        expect(cm.meanIoU('all')).toBeLessThanOrEqual(cm.meanIoU('present') + 1e-12);
      }),
    );
  });

  it('perfect predictions give 1 everywhere; merging equals updating with both', () => {
    fc.assert(
      fc.property(pairs, pairs, (a, b) => {
        const perfect = new ConfusionMatrix(K).updateArrays(
          a.map((p) => Math.max(0, p[1])),
          a.map((p) => p[1]),
        );
        if (perfect.total > 0) expect([perfect.meanIoU('present'), perfect.pixelAccuracy(), perfect.meanClassAccuracy()]).toEqual([1, 1, 1]);
        expect([...cmOf(a).merge(cmOf(b)).matrix]).toEqual([...cmOf([...a, ...b]).matrix]);
      }),
    );
  });
});

// Segmentation metrics accumulated over a whole dataset (lad-method.md §2.6): a confusion matrix
// (rows = ground truth, columns = prediction) over pixels whose target is >= 0, then per-class IoU,
// mIoU, pixel accuracy and mean class accuracy. mIoU averages over all K classes by default, absent
// ones counting 0, as the released code does (`meanIoU('present')`: only the classes present in the
// ground truth or the prediction).

import { type Tensor, DTypeError, ShapeError, ValueError, fmtShape } from '@lad/tensor';

/** Pixels, intersection and union counts use float64: exact up to 2^53 pixels. */
export class ConfusionMatrix {
  /** (K, K) row-major: matrix[t·K + p] = pixels of true class t predicted as p. */
  readonly matrix: Float64Array;

  constructor(readonly numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new ValueError(`ConfusionMatrix: numClasses must be a positive integer: got ${numClasses}.`);
    this.matrix = new Float64Array(numClasses * numClasses);
  }

  /** Adds a batch: pred and target int32 of the same shape ((N, H, W) or (H, W)); target < 0 is ignored. */
  update(pred: Tensor, target: Tensor): this {
    this.checkPair('ConfusionMatrix.update', pred, target);
    return this.updateArrays(pred.data() as Int32Array, target.data() as Int32Array);
  }

  private checkPair(op: string, pred: Tensor, target: Tensor): void {
    if (pred.dtype !== 'int32' || target.dtype !== 'int32')
      throw new DTypeError(`${op}: pred and target must be int32: got ${pred.dtype} and ${target.dtype} (take argmax of the logits over dim 1).`);
    if (pred.ndim < 2 || pred.ndim > 3 || fmtShape(pred.shape) !== fmtShape(target.shape)) {
      throw new ShapeError(
        `${op}: pred and target must have the same shape, (N, H, W) or (H, W): got pred ${fmtShape(pred.shape)} and target ${fmtShape(target.shape)}.`,
      );
    }
  }

  /** `update` for tensors on any device: reads pred and target with dataAsync (works in webgpu mode too). */
  async updateAsync(pred: Tensor, target: Tensor): Promise<this> {
    this.checkPair('ConfusionMatrix.updateAsync', pred, target);
    const [p, t] = await Promise.all([pred.dataAsync(), target.dataAsync()]);
    return this.updateArrays(p, t);
  }

  /** Same as `update` on flat arrays of equal length. */
  updateArrays(pred: ArrayLike<number>, target: ArrayLike<number>): this {
    const K = this.numClasses;
    if (pred.length !== target.length) throw new ShapeError(`ConfusionMatrix.updateArrays: pred has ${pred.length} values, target ${target.length}.`);
    for (let i = 0; i < target.length; i++) {
      const t = target[i];
      if (t < 0) continue;
      const p = pred[i];
      if (t >= K || !Number.isInteger(t))
        throw new ValueError(`ConfusionMatrix.update: target value ${t} at flat index ${i} is not a class id in [0, ${K}) or negative (ignore).`);
      if (p < 0 || p >= K || !Number.isInteger(p))
        throw new ValueError(`ConfusionMatrix.update: pred value ${p} at flat index ${i} is not a class id in [0, ${K}).`);
      this.matrix[t * K + p]++;
    }
    return this;
  }

  reset(): this {
    this.matrix.fill(0);
    return this;
  }

  /** Adds another matrix's counts (e.g. from another worker). */
  merge(other: ConfusionMatrix): this {
    if (other.numClasses !== this.numClasses) throw new ValueError(`ConfusionMatrix.merge: ${other.numClasses} classes vs ${this.numClasses}.`);
    for (let k = 0; k < this.matrix.length; k++) this.matrix[k] += other.matrix[k];
    return this;
  }

  /** Labelled pixels counted so far. */
  get total(): number {
    return this.matrix.reduce((a, b) => a + b, 0);
  }

  private rowSum = (k: number) => this.matrix.subarray(k * this.numClasses, (k + 1) * this.numClasses).reduce((a, b) => a + b, 0);
  private colSum = (k: number) => Array.from({ length: this.numClasses }, (_, t) => this.matrix[t * this.numClasses + k]).reduce((a, b) => a + b, 0);
  private diag = (k: number) => this.matrix[k * this.numClasses + k];
  private classes = () => Array.from({ length: this.numClasses }, (_, k) => k);

  /** IoU_k = TP / (TP + FP + FN); NaN for a class absent from both ground truth and prediction. */
  iou(): number[] {
    return this.classes().map((k) => {
      const union = this.rowSum(k) + this.colSum(k) - this.diag(k);
      return union > 0 ? this.diag(k) / union : NaN;
    });
  }

  /**
   * Mean IoU. 'present' (default): over classes present in the ground truth or the prediction (at
   * labelled pixels);
   * 'all': over all K classes with absent ones counting 0, as the released LAD/CIRKD code does.
   * 0 when nothing has been counted.
   */
  meanIoU(over: 'present' | 'all' = 'all'): number {
    const ious = this.iou();
    const present = ious.filter((v) => !Number.isNaN(v));
    const denom = over === 'all' ? this.numClasses : present.length;
    return denom > 0 ? present.reduce((a, b) => a + b, 0) / denom : 0;
  }

  /** Σ correct / Σ labelled (0 when nothing has been counted). */
  pixelAccuracy(): number {
    const total = this.total;
    return total > 0 ? this.classes().reduce((a, k) => a + this.diag(k), 0) / total : 0;
  }

  /** Recall per class, TP / (TP + FN); NaN for a class absent from the ground truth. */
  classAccuracy(): number[] {
    return this.classes().map((k) => (this.rowSum(k) > 0 ? this.diag(k) / this.rowSum(k) : NaN));
  }

  /** Mean of the class accuracies over classes present in the ground truth (0 if none). */
  meanClassAccuracy(): number {
    const acc = this.classAccuracy().filter((v) => !Number.isNaN(v));
    return acc.length > 0 ? acc.reduce((a, b) => a + b, 0) / acc.length : 0;
  }

  /** A markdown table: per-class IoU, accuracy and pixel share, then mIoU, pixAcc and mAcc (percent). */
  formatTable(classNames: readonly string[]): string {
    if (classNames.length !== this.numClasses)
      throw new ValueError(`ConfusionMatrix.formatTable: got ${classNames.length} class names for ${this.numClasses} classes.`);
    const pct = (v: number) => (Number.isNaN(v) ? '-' : (100 * v).toFixed(2));
    const [ious, accs, total] = [this.iou(), this.classAccuracy(), this.total];
    const rows = this.classes().map(
      (k) => `| ${k} | ${classNames[k]} | ${pct(ious[k])} | ${pct(accs[k])} | ${total > 0 ? pct(this.rowSum(k) / total) : '-'} |`,
    );
    return [
      '| id | class | IoU % | acc % | GT pixels % |',
      '| ---: | --- | ---: | ---: | ---: |',
      ...rows,
      '',
      `mIoU ${pct(this.meanIoU())} (over all ${this.numClasses} classes; present classes only: ${pct(this.meanIoU('present'))}) | pixAcc ${pct(this.pixelAccuracy())} | mAcc ${pct(this.meanClassAccuracy())} | ${total} labelled pixels`,
    ].join('\n');
  }
}

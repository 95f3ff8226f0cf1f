// evaluate() and encodingAgreement() on hand-built models and datasets: a "teacher" whose logits are
// a fixed function of its label channel (it decodes the grid code back to the class), so it scores
// mIoU 1 with its own encoded labels and less with zeros or another image's labels; a model that
// ignores the label channel; and the metrics checked against a ConfusionMatrix filled by hand.

import { describe, expect, it } from 'vitest';
import { Generator, Tensor } from '@lad/tensor';
import { Module } from '@lad/nn';
import { ConfusionMatrix } from '../packages/lad/src/metrics.ts';
import { evaluate, encodingAgreement } from '../packages/lad/src/evaluate.ts';
import type { LabelEncoding } from '../packages/lad/src/config.ts';
import type { SegDataset, Sample } from '../packages/lad/src/data/types.ts';
import type { SegModel, SegOutputs } from '../packages/lad/src/models/types.ts';

const K = 4,
  H = 6,
  W = 5;
const GRID: LabelEncoding = { codeDist: 'fixedGrid', sigma: 0, scale: 1, smoothPasses: 0 };
const NOISY: LabelEncoding = { codeDist: 'normal', sigma: 0.03, scale: 1, smoothPasses: 0 };

/** n samples: images hold class/10 in channel 0; labels random classes with a few ignored pixels. */
function tinyDataset(n: number, seed = 1, classes = K): SegDataset {
  const g = new Generator(seed);
  const samples: Sample[] = Array.from({ length: n }, (_, i) => {
    const label = new Int32Array(H * W).map(() => (g.nextFloat() < 0.1 ? -1 : g.nextInt(0, classes)));
    const image = new Float32Array(3 * H * W);
    label.forEach((k, p) => (image[p] = Math.max(k, 0) / 10));
    return { image: Tensor.fromData(image, [3, H, W]), label: Tensor.fromData(label, [H, W]), id: `s${i}` };
  });
  return { name: 'tiny', numClasses: K, classNames: ['a', 'b', 'c', 'd'], length: n, get: (i) => samples[i] };
}

/** Logits (N, K, H, W) one-hot at `cls(n, p)` (10 vs 0), at full resolution. */
function oneHot(N: number, cls: (n: number, p: number) => number): Tensor {
  const out = new Float32Array(N * K * H * W);
  for (let n = 0; n < N; n++) for (let p = 0; p < H * W; p++) out[(n * K + Math.min(K - 1, Math.max(0, cls(n, p)))) * H * W + p] = 10;
  return Tensor.fromData(out, [N, K, H, W]);
}

/** 4 channels: decodes the fixed-grid code c_k = −1.1 + 2.1·k/K back to k. Records its mode. */
class LabelReader extends Module implements SegModel {
  readonly inChannels = 4;
  readonly numClasses = K;
  modes: boolean[] = [];
  forward(x: Tensor): SegOutputs {
    this.modes.push(this.training);
    const d = x.data(),
      N = x.shape[0],
      plane = H * W;
    return { logits: oneHot(N, (n, p) => Math.round(((d[(n * 4 + 3) * plane + p] + 1.1) * K) / 2.1)), auxLogits: null };
  }
}

/** `inChannels` channels: reads the class from the image (channel 0), ignores any label channel. */
class ImageReader extends Module implements SegModel {
  readonly numClasses = K;
  constructor(readonly inChannels: number) {
    super();
  }
  forward(x: Tensor): SegOutputs {
    const d = x.data(),
      N = x.shape[0],
      plane = H * W;
    return { logits: oneHot(N, (n, p) => Math.round(d[n * this.inChannels * plane + p] * 10)), auxLogits: null };
  }
}

describe('evaluate', () => {
  const ds = tinyDataset(5);

  it("a model that reads its labels: mIoU 1 with 'encoded', lower with 'zeros' and 'otherImage'", async () => {
    const m = new LabelReader();
    const enc = await evaluate(m, ds, { numClasses: K, labelMode: 'encoded', encoding: GRID });
    expect(enc.mIoU).toBe(1);
    expect(enc.mIoUPresent).toBe(1);
    expect(enc.pixAcc).toBe(1);
    const zeros = await evaluate(m, ds, { numClasses: K, labelMode: 'zeros', encoding: GRID });
    const other = await evaluate(m, ds, { numClasses: K, labelMode: 'otherImage', encoding: GRID });
    expect(zeros.mIoU).toBeLessThan(0.5);
    expect(other.mIoU).toBeLessThan(0.6);
    expect(other.pixAcc).toBeLessThan(0.6);
  });

  it('matches a ConfusionMatrix filled by hand (zeros → every pixel predicted as the class of code 0)', async () => {
    const r = await evaluate(new LabelReader(), ds, { numClasses: K, labelMode: 'zeros', batchSize: 2 });
    const cm = new ConfusionMatrix(K);
    const c0 = Math.round((1.1 * K) / 2.1); // the slot whose code is nearest 0
    for (let i = 0; i < ds.length; i++) {
      const y = ds.get(i).label.data();
      cm.updateArrays(new Int32Array(y.length).fill(c0), y);
    }
    expect(r.mIoU).toBeCloseTo(cm.meanIoU('all'), 12);
    expect(r.mIoUPresent).toBeCloseTo(cm.meanIoU('present'), 12);
    expect(r.pixAcc).toBeCloseTo(cm.pixelAccuracy(), 12);
    expect(r.iou.map((v) => (Number.isNaN(v) ? -1 : v))).toEqual(cm.iou().map((v) => (Number.isNaN(v) ? -1 : v)));
    expect(r.confusion.flat()).toEqual(Array.from(cm.matrix));
    // a class absent from labels and predictions: NaN IoU, counted 0 in mIoU, left out of mIoUPresent
    const three = await evaluate(new ImageReader(3), tinyDataset(3, 2, K - 1), { numClasses: K });
    expect([three.mIoUPresent, three.mIoU, Number.isNaN(three.iou[K - 1])]).toEqual([1, (K - 1) / K, true]);
  });

  it('does not depend on the batch size; limit evaluates a prefix', async () => {
    const m = new LabelReader();
    const a = await evaluate(m, ds, { numClasses: K, labelMode: 'otherImage', encoding: GRID, batchSize: 1 });
    const b = await evaluate(m, ds, { numClasses: K, labelMode: 'otherImage', encoding: GRID, batchSize: 3 });
    expect(b.confusion).toEqual(a.confusion);
    const one = await evaluate(m, ds, { numClasses: K, labelMode: 'zeros', limit: 1 });
    const y = ds.get(0).label.data();
    expect(one.confusion.flat().reduce((s, v) => s + v, 0)).toBe(Array.from(y).filter((v) => v >= 0).length);
  });

  it('3-channel models ignore labelMode; the 4-channel image reader scores 1 in every mode', async () => {
    for (const mode of ['zeros', 'encoded', 'otherImage'] as const) {
      expect((await evaluate(new ImageReader(3), ds, { numClasses: K, labelMode: mode })).mIoU).toBe(1);
      expect((await evaluate(new ImageReader(4), ds, { numClasses: K, labelMode: mode, encoding: NOISY })).mIoU).toBe(1);
    }
  });

  it('runs in eval mode and restores the previous mode', async () => {
    const m = new LabelReader();
    m.train();
    await evaluate(m, ds, { numClasses: K });
    expect(m.modes.every((t) => t === false)).toBe(true);
    expect(m.training).toBe(true);
    m.eval();
    await evaluate(m, ds, { numClasses: K });
    expect(m.training).toBe(false);
  });

  it('fails clearly on a class-count mismatch and on otherImage with one sample', async () => {
    await expect(evaluate(new LabelReader(), ds, { numClasses: K + 1 })).rejects.toThrow(/predicts 4 classes but numClasses is 5/);
    await expect(evaluate(new LabelReader(), tinyDataset(1), { numClasses: K, labelMode: 'otherImage' })).rejects.toThrow(/at least 2 samples/);
  });
});

describe('encodingAgreement', () => {
  const ds = tinyDataset(4);
  it('is 1 for a model that ignores its label channel', async () => {
    expect(await encodingAgreement(new ImageReader(4), ds, { numClasses: K, encoding: NOISY })).toBe(1);
    expect(await encodingAgreement(new ImageReader(3), ds, { numClasses: K, encoding: NOISY })).toBe(1);
  });
  it('is below 1 for a model that follows random codes, and 1 when the codes are deterministic', async () => {
    expect(await encodingAgreement(new LabelReader(), ds, { numClasses: K, encoding: NOISY })).toBeLessThan(0.8);
    expect(await encodingAgreement(new LabelReader(), ds, { numClasses: K, encoding: GRID })).toBe(1);
  });
});

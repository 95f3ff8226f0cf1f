// Validation of a segmentation model over a whole dataset (lad-method.md §2.6): eval mode, no grad,
// full images, main logits upsampled bilinearly (align_corners) to the label size, argmax, and one
// ConfusionMatrix accumulated over every labelled pixel. A 4-channel model gets a label channel:
// zeros (the student; the "no labels" control), the encoded labels of the same image (the teacher's
// privileged score), or the encoded labels of another image (a fixed derangement: sample i gets the
// labels of sample i+1), which tells whether a teacher reads its labels at all (§7.1 item 8).
// Device: batches are stacked on the CPU and moved to the model's device; predictions are read back
// with dataAsync, so evaluation is async and works in every GPU mode (webgpu too).
// Legend: N batch, K classes, H×W label plane.

import { type Device, Generator, Tensor, interpolate, noGrad, stack, tidy, ValueError } from '@lad/tensor';
import { ConfusionMatrix } from './metrics.ts';
import { DEFAULT_LAD, type LabelEncoding } from './config.ts';
import { encodeLabels, withLabelChannel, zeroChannel } from './label-encoding.ts';
import type { SegDataset } from './data/types.ts';
import type { SegModel } from './models/types.ts';

/** What a 4-channel model's label channel holds during evaluation: zeros, its own encoded labels, or another image's. */
export type LabelMode = 'zeros' | 'encoded' | 'otherImage';

/** The scores of an evaluation: mIoU (all classes and present classes), pixel accuracy and per-class IoU. */
export interface EvalResult {
  /** The headline mIoU, as the released code computes it: the mean over all K classes, absent ones counting 0. */
  mIoU: number;
  /** Mean IoU over the classes present in the ground truth or the prediction only. */
  mIoUPresent: number;
  /** Σ correct / Σ labelled. */
  pixAcc: number;
  /** IoU per class; NaN for a class absent from both ground truth and prediction. */
  iou: number[];
  /** (K, K) pixel counts, rows = ground truth, columns = prediction. */
  confusion: number[][];
}

/** Options of evaluate: the classes, the label channel's content and encoding, batch size, seed, a sample limit and the device. */
export interface EvalOptions {
  numClasses: number;
  /** The label channel of a 4-channel model (default 'zeros'); 3-channel models ignore it. */
  labelMode?: LabelMode;
  /** How labels are encoded for 'encoded' and 'otherImage' (default DEFAULT_LAD.encodeTeacherEval). */
  encoding?: LabelEncoding;
  /** Images per forward pass (default 8); images of different sizes go in separate passes. */
  batchSize?: number;
  /** Seed of the random label codes and noise (default 0). */
  seed?: number;
  /** Evaluate only the first `limit` samples. */
  limit?: number;
  /** Where the forward passes run; default the device of the model's parameters (the model must be there). */
  device?: Device;
}

/** The device of a model's parameters ('cpu' for a model without any). */
export function modelDevice(model: SegModel): Device {
  return model.parameters()[0]?.device ?? 'cpu';
}

/** Accuracy of `model` on `ds`, accumulated over the whole set. */
export async function evaluate(model: SegModel, ds: SegDataset, opts: EvalOptions): Promise<EvalResult> {
  const { numClasses, labelMode = 'zeros', encoding = DEFAULT_LAD.encodeTeacherEval, seed = 0 } = opts;
  checkModel('evaluate', model, numClasses);
  const device = opts.device ?? modelDevice(model);
  const cm = new ConfusionMatrix(numClasses);
  const gen = new Generator(seed);
  await forEachBatch('evaluate', model, ds, opts, labelMode, async (images, labels, others) => {
    const pred = tidy(() =>
      noGrad(() => {
        const [x0, y] = [images.to(device), labels.to(device)];
        const x = model.inChannels === 4 ? labelInput(x0, labelMode === 'otherImage' ? others.to(device) : y, labelMode, numClasses, encoding, gen) : x0;
        return predict(model, x, labels);
      }),
    ); // the forward's buffers go back to the pool for the next batch
    await cm.updateAsync(pred, labels); // labels stay on the CPU
  });
  const K = numClasses;
  return {
    mIoU: cm.meanIoU('all'),
    mIoUPresent: cm.meanIoU('present'),
    pixAcc: cm.pixelAccuracy(),
    iou: cm.iou(),
    confusion: Array.from({ length: K }, (_, t) => Array.from(cm.matrix.subarray(t * K, (t + 1) * K))),
  };
}

/** Options of the agreement check between two independent label encodings. */
export interface AgreementOptions {
  numClasses: number;
  /** The random encoding whose two independent draws are compared (e.g. DEFAULT_LAD.encodeTrain). */
  encoding: LabelEncoding;
  batchSize?: number;
  seed?: number;
  limit?: number;
  /** Where the forward passes run; default the device of the model's parameters. */
  device?: Device;
}

/**
 * The teacher invariance metric (§7.1 item 8): the share of labelled pixels on which the teacher
 * predicts the same class under two independent random encodings of the same labels. 1 for a model
 * that ignores its label channel (and for any 3-channel model).
 */
export async function encodingAgreement(teacher: SegModel, ds: SegDataset, opts: AgreementOptions): Promise<number> {
  const { numClasses, encoding, seed = 0 } = opts;
  checkModel('encodingAgreement', teacher, numClasses);
  if (teacher.inChannels !== 4) return 1;
  const device = opts.device ?? modelDevice(teacher);
  const gen = new Generator(seed);
  let same = 0,
    total = 0;
  await forEachBatch('encodingAgreement', teacher, ds, opts, 'encoded', async (images, labels) => {
    const [pa, pb] = tidy(() =>
      noGrad(() => {
        const [x, y] = [images.to(device), labels.to(device)];
        const first = predict(teacher, labelInput(x, y, 'encoded', numClasses, encoding, gen), labels);
        return [first, predict(teacher, labelInput(x, y, 'encoded', numClasses, encoding, gen), labels)];
      }),
    );
    const [a, b] = await Promise.all([pa.dataAsync(), pb.dataAsync()]);
    const y = labels.data();
    for (let i = 0; i < y.length; i++) {
      if (y[i] < 0) continue;
      total++;
      if (a[i] === b[i]) same++;
    }
  });
  return total > 0 ? same / total : 1;
}

function checkModel(op: string, model: SegModel, numClasses: number): void {
  if (model.numClasses !== numClasses) throw new ValueError(`${op}: the model predicts ${model.numClasses} classes but numClasses is ${numClasses}.`);
  if (model.inChannels !== 3 && model.inChannels !== 4)
    throw new ValueError(`${op}: the model takes ${model.inChannels} input channels; expected 3 (image) or 4 (image + label channel).`);
}

/** The model's input: images (N, 3, H, W) plus the label channel of `mode` built from `labels` (N, H, W). */
function labelInput(images: Tensor, labels: Tensor, mode: LabelMode, numClasses: number, enc: LabelEncoding, gen: Generator): Tensor {
  return mode === 'zeros' ? zeroChannel(images) : withLabelChannel(images, encodeLabels(labels, numClasses, enc, gen));
}

/** Class ids (N, H, W) int32 on x's device: main logits upsampled to the label size, argmax over K. */
function predict(model: SegModel, x: Tensor, labels: Tensor): Tensor {
  const [, H, W] = labels.shape;
  const logits = model.forward(x).logits; // (N, K, h, w)
  return interpolate(logits, { size: [H, W], mode: 'bilinear', alignCorners: true }).argmax(1);
}

/**
 * Runs `fn` on CPU batches of consecutive samples of one size, in eval mode, restoring the model's
 * mode afterwards (`fn` runs its forward passes under noGrad itself: an await would end a noGrad
 * scope). `others` holds, per sample i, the labels of sample (i+1) mod n cropped or padded (with
 * ignore) to sample i's size.
 */
async function forEachBatch(
  op: string,
  model: SegModel,
  ds: SegDataset,
  opts: { batchSize?: number; limit?: number },
  mode: LabelMode,
  fn: (images: Tensor, labels: Tensor, others: Tensor) => Promise<void>,
): Promise<void> {
  const n = Math.min(ds.length, opts.limit ?? ds.length);
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ValueError(`${op}: batchSize must be a positive integer: got ${batchSize}.`);
  if (n < 1) throw new ValueError(`${op}: nothing to evaluate: dataset '${ds.name}' has ${ds.length} samples, limit ${opts.limit}.`);
  if (mode === 'otherImage' && model.inChannels === 4 && n < 2)
    throw new ValueError(`${op}: labelMode 'otherImage' needs at least 2 samples (each image gets another image's labels): got ${n}.`);
  const wasTraining = model.training;
  model.eval();
  try {
    let i = 0;
    while (i < n) {
      const first = ds.get(i);
      const samples = [first];
      const sameSize = (s: typeof first) => s.label.shape[0] === first.label.shape[0] && s.label.shape[1] === first.label.shape[1];
      while (samples.length < batchSize && i + samples.length < n) {
        const s = ds.get(i + samples.length);
        if (!sameSize(s)) break;
        samples.push(s);
      }
      const others = samples.map((s, j) => (mode === 'otherImage' ? fitLabel(ds.get((i + j + 1) % n).label, s.label.shape[0], s.label.shape[1]) : s.label));
      await fn(stack(samples.map((s) => s.image)), stack(samples.map((s) => s.label)), stack(others));
      i += samples.length;
    }
  } finally {
    model.train(wasTraining);
  }
}

/** A label map (h, w) cropped or padded with -1 (ignore) to (H, W). */
function fitLabel(label: Tensor, H: number, W: number): Tensor {
  const [h, w] = label.shape;
  if (h === H && w === W) return label;
  const src = label.data(),
    out = new Int32Array(H * W).fill(-1);
  for (let y = 0; y < Math.min(h, H); y++) for (let x = 0; x < Math.min(w, W); x++) out[y * W + x] = src[y * w + x];
  return Tensor.fromData(out, [H, W]);
}

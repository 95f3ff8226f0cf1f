// One teacher-training step of LAD (lad-method.md §2.3): two independent label encodings of the
// same batch, two train-mode forward passes, CE + aux CE on both, plus the weighted consistency
// between the two paths' main logits at logit resolution (symmetric stop-grad CWD by default).
// Legend: N batch, K classes, H×W image plane, h×w logit plane.

import { DeviceError, type Generator, ShapeError, Tensor, ValueError, cat, fmtShape, noGrad, stack } from '@lad/tensor';
import type { LabelEncoding, LadConfig } from './config.ts';
import { encodeLabels, withLabelChannel } from './label-encoding.ts';
import { consistencyLoss, segLoss } from './losses.ts';
import { validateLadConfig } from './validate.ts';
import type { SegModel, SegOutputs } from './models/types.ts';

/** One training batch, as the loader hands it over; images and labels on the device the step runs on. */
export interface Batch {
  /** float32 (N, 3, H, W), normalised. */
  images: Tensor;
  /** int32 (N, H, W): class ids in [0, K), −1 = ignore. */
  labels: Tensor;
}

/** `Batch` under the name @lad/lad exports it by (its own `Batch` is the loader's, a superset). */
export type StepBatch = Batch;

/** A loss step's result: the scalar to backpropagate and its named parts for logging. */
export interface StepLoss {
  /** The scalar to backpropagate. */
  loss: Tensor;
  /**
   * Named scalar parts for logging: 0-d tensors on the loss's device (nothing is read back during the
   * step), or plain numbers. Read them with `await readParts(terms)`, which works on every device.
   */
  terms: Record<string, Tensor | number>;
  /** The terms read back synchronously: CPU and the synchronous GPU modes only (webgpu: use readParts). */
  readonly parts: Record<string, number>;
}

/** A StepLoss whose `parts` are read from `terms` when asked for. */
export function stepLoss(loss: Tensor, terms: Record<string, Tensor | number>): StepLoss {
  return {
    loss,
    terms,
    get parts() {
      return Object.fromEntries(Object.entries(terms).map(([k, v]) => [k, typeof v === 'number' ? v : v.item()]));
    },
  };
}

/** Reads scalar terms back with one asynchronous read per device (works in every GPU mode, webgpu too). */
export async function readParts(terms: Record<string, Tensor | number>): Promise<Record<string, number>> {
  return readStacked(stackParts(terms));
}

/** Scalar terms ready to read: the numbers, and the tensor terms stacked into one float32 vector per device. */
export interface StackedParts {
  numbers: Record<string, number>;
  stacks: { keys: string[]; values: Tensor }[];
}

/** The synchronous half of readParts: stacks the tensor terms (inside a step's tidy(), which returns these stacks). */
export function stackParts(terms: Record<string, Tensor | number>): StackedParts {
  const numbers: Record<string, number> = {};
  const byDevice = new Map<string, [string, Tensor][]>();
  for (const [k, v] of Object.entries(terms)) {
    if (typeof v === 'number') numbers[k] = v;
    else {
      numbers[k] = NaN; // keeps the key order
      const list = byDevice.get(v.device) ?? [];
      list.push([k, v]);
      byDevice.set(v.device, list);
    }
  }
  const stacks = [...byDevice.values()].map((list) => ({
    keys: list.map(([k]) => k),
    values: noGrad(() => stack(list.map(([, t]) => t.detach().reshape([]).to('float32')))), // (terms)
  }));
  return { numbers, stacks };
}

/** The asynchronous half of readParts: one read per device. */
export async function readStacked(p: StackedParts): Promise<Record<string, number>> {
  const out = { ...p.numbers };
  for (const { keys, values } of p.stacks) {
    const v = await values.dataAsync();
    keys.forEach((k, i) => (out[k] = v[i]));
  }
  return out;
}

/** Checks that a batch's images (N, 3, H, W) and labels (N, H, W) agree. */
export function checkBatch(op: string, batch: Batch): void {
  const { images, labels } = batch;
  const [N, C, H, W] = images.shape;
  if (images.ndim !== 4 || C !== 3) throw new ShapeError(`${op}: batch.images must be (N, 3, H, W): got shape ${fmtShape(images.shape)}.`);
  if (labels.ndim !== 3 || labels.shape[0] !== N || labels.shape[1] !== H || labels.shape[2] !== W) {
    throw new ShapeError(
      `${op}: batch.labels: got shape ${fmtShape(labels.shape)}, expected ${fmtShape([N, H, W])} to match images ${fmtShape(images.shape)}.`,
    );
  }
  if (labels.device !== images.device)
    throw new DeviceError(
      `${op}: batch.images are on ${images.device} but batch.labels on ${labels.device}; move both to the model's device (.to('${images.device}')).`,
    );
}

/** Checks that the model predicts `numClasses` classes and takes 3 or 4 input channels. */
export function checkModel(op: string, name: string, model: SegModel, numClasses: number): void {
  if (model.numClasses !== numClasses) throw new ValueError(`${op}: ${name}.numClasses: got ${model.numClasses}, expected numClasses = ${numClasses}.`);
  if (model.inChannels !== 3 && model.inChannels !== 4)
    throw new ValueError(`${op}: ${name}.inChannels: got ${model.inChannels}, expected 3 (image) or 4 (image + label channel).`);
}

/** The teacher's input: the image plus the label channel of `enc`, (N, 4, H, W). */
export function labelTeacherInput(batch: Batch, numClasses: number, enc: LabelEncoding, gen: Generator): Tensor {
  checkBatch('labelTeacherInput', batch);
  return withLabelChannel(batch.images, encodeLabels(batch.labels, numClasses, enc, gen)); // (N, 4, H, W)
}

/**
 * The LAD config at 0-based teacher step `step` of a label-scale warm-up: encodeTrain's scale ×
 * (step + 1) / labelScaleWarmup until the warm-up ends; `cfg` itself without one or after it.
 */
export function teacherLadAt(cfg: LadConfig, step: number): LadConfig {
  const w = cfg.labelScaleWarmup ?? 0;
  if (w === 0 || step + 1 >= w) return cfg;
  const s = cfg.encodeTrain.scale;
  if (s === 'auto') throw new ValueError("teacherLadAt: cfg.encodeTrain.scale is 'auto': resolve it first (resolveLabelScale).");
  return { ...cfg, encodeTrain: { ...cfg.encodeTrain, scale: (s * (step + 1)) / w } };
}

/** Each image's labels replaced by the next image's in the batch (the last gets the first's): (N, H, W) → (N, H, W). */
export function otherImageLabels(labels: Tensor): Tensor {
  const n = labels.shape[0];
  if (n < 2)
    throw new ValueError(
      `teacherLoss: cfg.teacherLabels 'otherImage' needs a batch of at least 2 images (each gets another's labels): got labels ${fmtShape(labels.shape)}.`,
    );
  return cat([labels.narrow(0, 1, n - 1), labels.narrow(0, 0, 1)], 0);
}

/** A teacher's input for its channel count: the image alone for a 3-channel ("no labels") model. */
export function teacherInput(model: SegModel, batch: Batch, numClasses: number, enc: LabelEncoding, gen: Generator): Tensor {
  return model.inChannels === 3 ? batch.images : labelTeacherInput(batch, numClasses, enc, gen);
}

/**
 * The teacher's loss on one batch; puts the model in train mode. Dual path (cfg.dualPath):
 * Σ_i [CE(up(zⁱ), y) + auxWeightTeacher·CE(up(aⁱ), y)] + consWeight·cons(z¹, z²), each path with its
 * own encodeTrain draw (codes and pixel noise; path 1 is drawn and run first). Single path: the
 * first bracket only. terms: ce1, aux1, [ce2, aux2, cons,] total (aux only with an aux head).
 * Runs on the batch's device (the model must be there too); reads nothing back.
 */
export function teacherLoss(model: SegModel, batch: Batch, numClasses: number, cfg: LadConfig, gen: Generator): StepLoss {
  validateLadConfig(cfg, 'cfg', 'teacherLoss');
  checkBatch('teacherLoss', batch);
  checkModel('teacherLoss', 'model', model, numClasses);
  model.train();
  const input = cfg.teacherLabels === 'otherImage' ? { ...batch, labels: otherImageLabels(batch.labels) } : batch; // channel only: CE keeps batch.labels
  const run = (): SegOutputs => model.forward(teacherInput(model, input, numClasses, cfg.encodeTrain, gen));
  const out1 = run();
  const seg1 = segLoss(out1, batch.labels, cfg.auxWeightTeacher);
  const terms: Record<string, Tensor | number> = { ce1: seg1.ce };
  if (seg1.aux) terms.aux1 = seg1.aux;
  let loss = seg1.loss;
  if (cfg.dualPath) {
    const out2 = run();
    const seg2 = segLoss(out2, batch.labels, cfg.auxWeightTeacher);
    terms.ce2 = seg2.ce;
    if (seg2.aux) terms.aux2 = seg2.aux;
    loss = loss.add(seg2.loss);
    if (cfg.consLoss !== 'none' && cfg.consWeight !== 0) {
      const cons = consistencyLoss(out1.logits, out2.logits, cfg); // main logits at (h, w)
      terms.cons = cons;
      loss = loss.add(cons.mul(cfg.consWeight));
    } else terms.cons = 0;
  }
  terms.total = loss;
  return stepLoss(loss, terms);
}

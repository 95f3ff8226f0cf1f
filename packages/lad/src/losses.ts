// Distillation and task losses for LAD (arXiv 2407.13254), following CIRKD's implementations:
// CWD (lad-method.md §4), pixel-wise KD (§2.4), the dual-path consistency (§2.3) and the
// segmentation CE with aux head after align_corners upsampling (§2.3 step 3).
// Channel-wise distillation (Shu et al., ICCV 2021): each channel's logits become a distribution
// over the H·W positions (softmax at temperature T); the loss is KL(teacher ‖ student) summed over
// positions, averaged over N·C channels, times T².

import { type Tensor, ShapeError, ValueError, crossEntropy, fmtShape, interpolate, logSoftmax, mseLoss, noGrad, softmax, zeros } from '@lad/tensor';
import { CONS_LOSSES, type LadConfig } from './config.ts';
import type { SegOutputs } from './models/types.ts';

/** Options of channelWiseDistillation. */
export interface CwdOptions {
  /** Softmax temperature T (LAD and CIRKD use 4). */
  temperature?: number;
}

/** CWD loss from teacher logits to student logits, both (N, C, H, W); the teacher is detached. */
export function channelWiseDistillation(student: Tensor, teacher: Tensor, opts: CwdOptions = {}): Tensor {
  const T = temperature('channelWiseDistillation', opts.temperature);
  if (student.ndim !== 4 || student.shape.some((s, i) => s !== teacher.shape[i]) || teacher.ndim !== 4) {
    throw new ShapeError(
      `channelWiseDistillation: student ${fmtShape(student.shape)} and teacher ${fmtShape(teacher.shape)} must both be (N, C, H, W) of one shape.`,
    );
  }
  const [N, C, H, W] = student.shape;
  const s = student.reshape([N * C, H * W]).div(T); // (N·C, H·W)
  const t = noGrad(() => teacher.reshape([N * C, H * W]).div(T));
  const pt = noGrad(() => softmax(t, 1));
  const kl = pt.mul(noGrad(() => logSoftmax(t, 1)).sub(logSoftmax(s, 1))); // (N·C, H·W)
  return kl.sum().mul((T * T) / (N * C));
}

/** Options of pixelKD. */
export interface PixelKdOptions {
  /** Softmax temperature T over classes (CIRKD's pixel-wise KD uses 4). */
  temperature?: number;
}

/**
 * Pixel-wise KD (CIRKD's CriterionKD, lad-method.md §2.4 item 5): softmax over the C classes at
 * temperature T per pixel, KL(teacher ‖ student) summed over classes, averaged over the N·H·W
 * pixels ('batchmean' over pixel rows), times T². Logits (N, C, H, W); the teacher is detached.
 * NOTE: we use log-softmax, not CIRKD's +1e-5 in the ratio, so identical inputs give exactly 0.
 */
export function pixelKD(student: Tensor, teacher: Tensor, opts: PixelKdOptions = {}): Tensor {
  const T = temperature('pixelKD', opts.temperature);
  checkSameLogits('pixelKD', student, teacher);
  const [N, , H, W] = student.shape;
  const logPt = noGrad(() => logSoftmax(teacher.div(T), 1)); // (N, C, H, W)
  const pt = noGrad(() => softmax(teacher.div(T), 1));
  const kl = pt.mul(logPt.sub(logSoftmax(student.div(T), 1))); // (N, C, H, W)
  return kl.sum().mul((T * T) / (N * H * W));
}

/** The softmax temperature (default 4), checked: 0 divides by zero and a negative one inverts the softmax. */
function temperature(op: string, T: number | undefined, arg = 'opts.temperature'): number {
  if (T === undefined) return 4;
  if (typeof T !== 'number' || !Number.isFinite(T) || T <= 0) throw new ValueError(`${op}: ${arg}: got ${String(T)}, expected a finite number > 0.`);
  return T;
}

function checkSameLogits(op: string, a: Tensor, b: Tensor): void {
  if (a.ndim !== 4 || b.ndim !== 4 || a.shape.some((s, i) => s !== b.shape[i])) {
    throw new ShapeError(`${op}: student ${fmtShape(a.shape)} and teacher ${fmtShape(b.shape)} must both be (N, C, H, W) of one shape.`);
  }
}

/** One direction of the consistency distance: `z` pulled towards the detached `target`. */
function pull(z: Tensor, target: Tensor, cfg: LadConfig): Tensor {
  const t = target.detach();
  switch (cfg.consLoss) {
    case 'cwd':
      return channelWiseDistillation(z, t, { temperature: cfg.consT });
    case 'pixelKL':
      return pixelKD(z, t, { temperature: cfg.consT });
    case 'mse':
      return mseLoss(z, t);
    case 'none':
      return zeros([], { device: z.device });
  }
}

/**
 * The dual-path consistency term (§2.3 step 4) between two paths' main logits (N, C, h, w), at
 * logit resolution. consSymmetric: D(z1 ← sg z2) + D(z2 ← sg z1); else one direction, D(z1 ← sg z2).
 * 'none' gives a constant 0 (no graph). The weight consWeight is applied by the caller.
 */
export function consistencyLoss(z1: Tensor, z2: Tensor, cfg: LadConfig): Tensor {
  checkSameLogits('consistencyLoss', z1, z2);
  if (!CONS_LOSSES.includes(cfg.consLoss))
    throw new ValueError(`consistencyLoss: cfg.consLoss: got ${JSON.stringify(cfg.consLoss)}, expected one of ${CONS_LOSSES.join(', ')}.`);
  if (cfg.consLoss === 'cwd' || cfg.consLoss === 'pixelKL') temperature('consistencyLoss', cfg.consT, 'cfg.consT');
  if (cfg.consLoss === 'none') return zeros([], { device: z1.device });
  const forward = pull(z1, z2, cfg);
  return cfg.consSymmetric ? forward.add(pull(z2, z1, cfg)) : forward;
}

/** Logits (N, K, h, w) → (N, K, H, W) of the labels (N, H, W): bilinear, align_corners=True (§2.3). */
export function upsampleTo(logits: Tensor, labels: Tensor): Tensor {
  const [H, W] = labels.shape.slice(1);
  if (logits.shape[2] === H && logits.shape[3] === W) return logits;
  return interpolate(logits, { size: [H, W], mode: 'bilinear', alignCorners: true });
}

/** Mean CE over labelled pixels (−1 ignored) after upsampling the logits to the label size. */
export function upsampledCE(logits: Tensor, labels: Tensor): Tensor {
  if (logits.ndim !== 4 || labels.ndim !== 3 || logits.shape[0] !== labels.shape[0]) {
    throw new ShapeError(`segLoss: logits ${fmtShape(logits.shape)} and labels ${fmtShape(labels.shape)} must be (N, K, h, w) and (N, H, W).`);
  }
  return crossEntropy(upsampleTo(logits, labels), labels, { ignoreIndex: -1 });
}

/** The task loss of §2.3 step 3 for one path: CE(up(z), y) + auxWeight·CE(up(a), y). */
export function segLoss(out: SegOutputs, labels: Tensor, auxWeight: number): { loss: Tensor; ce: Tensor; aux: Tensor | null } {
  const ce = upsampledCE(out.logits, labels);
  const aux = out.auxLogits ? upsampledCE(out.auxLogits, labels) : null;
  return { loss: aux && auxWeight !== 0 ? ce.add(aux.mul(auxWeight)) : ce, ce, aux };
}

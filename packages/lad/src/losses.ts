// Distillation losses for LAD (arXiv 2407.13254), following CIRKD's implementations.
// Channel-wise distillation (Shu et al., ICCV 2021): each channel's logits become a distribution
// over the H·W positions (softmax at temperature T); the loss is KL(teacher ‖ student) summed over
// positions, averaged over N·C channels, times T².

import { type Tensor, ShapeError, fmtShape, logSoftmax, softmax, noGrad } from '@lad/tensor';

export interface CwdOptions {
  /** Softmax temperature T (LAD and CIRKD use 4). */
  temperature?: number;
}

/** CWD loss from teacher logits to student logits, both (N, C, H, W); the teacher is detached. */
export function channelWiseDistillation(student: Tensor, teacher: Tensor, opts: CwdOptions = {}): Tensor {
  const T = opts.temperature ?? 4;
  if (student.ndim !== 4 || student.shape.some((s, i) => s !== teacher.shape[i]) || teacher.ndim !== 4) {
    throw new ShapeError(`channelWiseDistillation: student ${fmtShape(student.shape)} and teacher ${fmtShape(teacher.shape)} must both be (N, C, H, W) of one shape.`);
  }
  const [N, C, H, W] = student.shape;
  const s = student.reshape([N * C, H * W]).div(T); // (N·C, H·W)
  const t = noGrad(() => teacher.reshape([N * C, H * W]).div(T));
  const pt = noGrad(() => softmax(t, 1));
  const kl = pt.mul(noGrad(() => logSoftmax(t, 1)).sub(logSoftmax(s, 1))); // (N·C, H·W)
  return kl.sum().mul((T * T) / (N * C));
}

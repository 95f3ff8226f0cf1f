// The functional forms (PyTorch's torch.nn.functional), exported from the package as `F`:
// the @lad/tensor ops re-exported, plus linear and dropout2d composed here.
// Legend: N batch, C channels, H/W height/width.

import { Tensor, ShapeError, ValueError, defaultGenerator, fmtShape, rand, type Generator } from '@lad/tensor';

export {
  conv2d,
  batchNorm,
  relu,
  sigmoid,
  tanh,
  softmax,
  logSoftmax,
  crossEntropy,
  nllLoss,
  klDiv,
  mseLoss,
  binaryCrossEntropyWithLogits,
  interpolate,
  maxPool2d,
  avgPool2d,
  adaptiveAvgPool2d,
  dropout,
  pad,
} from '@lad/tensor';
export type {
  Conv2dOptions,
  BatchNormOptions,
  InterpolateOptions,
  Pool2dOptions,
  AvgPool2dOptions,
  NllOptions,
  KlDivOptions,
  Reduction,
} from '@lad/tensor';

/** y = x·Wᵀ + b: (..., in) × (out, in) → (..., out). */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (weight.ndim !== 2) throw new ShapeError(`linear: weight must be 2-D (out, in): got shape ${fmtShape(weight.shape)}.`);
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(
      `linear: input ${fmtShape(x.shape)} has ${x.shape[x.ndim - 1] ?? 0} features: expected ${weight.shape[1]} (weight ${fmtShape(weight.shape)}).`,
    );
  }
  const y = x.matmul(weight.T); // (..., out)
  return bias ? y.add(bias) : y;
}

/**
 * Zeroes whole channels of (N, C, H, W) with probability p and scales the rest by 1/(1−p)
 * (training only), as F.dropout2d. One draw per (n, c) from `generator`.
 */
export function dropout2d(x: Tensor, p = 0.5, training = true, generator: Generator = defaultGenerator): Tensor {
  if (!(p >= 0 && p <= 1)) throw new ValueError(`dropout2d: p must be in [0, 1]: got ${p}.`);
  if (x.ndim !== 4) throw new ShapeError(`dropout2d: input must be 4-D (N, C, H, W): got shape ${fmtShape(x.shape)}.`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const [N, C] = x.shape;
  const keep = rand([N, C, 1, 1], { dtype: x.dtype, generator, device: x.device }).ge(p); // (N, C, 1, 1), P(keep) = 1 − p; drawn on the CPU, moved to x's device
  return x.mul(keep.to(x.dtype).mul(1 / (1 - p))); // one pass over x (the bits of x·keep·(1/(1 − p)): keep is 0 or 1)
}

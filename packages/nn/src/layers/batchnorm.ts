// BatchNorm2d (torch.nn.BatchNorm2d) over (N, C, H, W): training normalises with the batch
// statistics and updates the running ones (momentum, or a cumulative average when momentum is
// null); eval uses the running statistics. State keys follow PyTorch (running_mean, running_var,
// num_batches_tracked) so that weights are exchangeable; the fields are camelCase.

import { Tensor, ShapeError, ValueError, fmtShape, noGrad, ones, zeros } from '@lad/tensor';
import { Module, buffer, parameter } from '../module.ts';
import { batchNorm } from '../functional.ts';
import { checkInt, fmtNum } from './util.ts';

/** Options of BatchNorm2d (torch defaults: eps 1e-5, momentum 0.1, affine, tracked running statistics). */
export interface BatchNormLayerOptions {
  eps?: number;
  /** Weight of the batch statistic in the running average; null = cumulative average. */
  momentum?: number | null;
  /** Learnable per-channel weight (ones) and bias (zeros). */
  affine?: boolean;
  trackRunningStats?: boolean;
  dtype?: 'float32' | 'float64';
}

/** Batch normalization over (N, H, W) per channel of an (N, C, H, W) input, with running statistics for eval mode. */
export class BatchNorm2d extends Module {
  static override readonly stateKeys = { runningMean: 'running_mean', runningVar: 'running_var', numBatchesTracked: 'num_batches_tracked' };

  weight: Tensor | null; // (C)
  bias: Tensor | null; // (C)
  runningMean: Tensor | null; // (C)
  runningVar: Tensor | null; // (C)
  numBatchesTracked: Tensor | null; // () int32
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(
    readonly numFeatures: number,
    opts: BatchNormLayerOptions = {},
  ) {
    super();
    checkInt('BatchNorm2d', 'numFeatures', numFeatures, 1);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    if (!(this.eps > 0)) throw new ValueError(`BatchNorm2d: eps must be positive: got ${this.eps}.`);
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1))
      throw new ValueError(`BatchNorm2d: momentum must be in [0, 1] or null: got ${this.momentum}.`);
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    const dtype = opts.dtype ?? 'float32',
      C = numFeatures;
    this.weight = this.affine ? parameter(ones([C], { dtype })) : null;
    this.bias = this.affine ? parameter(zeros([C], { dtype })) : null;
    this.runningMean = this.trackRunningStats ? buffer(zeros([C], { dtype })) : null;
    this.runningVar = this.trackRunningStats ? buffer(ones([C], { dtype })) : null;
    this.numBatchesTracked = this.trackRunningStats ? buffer(zeros([], { dtype: 'int32' })) : null;
  }

  /** (N, C, H, W) → (N, C, H, W). */
  /** `activation: 'relu'` fuses the ReLU that usually follows (the same bits as `.relu()` after it, one pass fewer). */
  forward(x: Tensor, activation: 'relu' | null = null): Tensor {
    if (x.ndim !== 4) throw new ShapeError(`BatchNorm2d: input must be 4-D (N, C, H, W): got shape ${fmtShape(x.shape)}.`);
    let factor = this.momentum ?? 0;
    const nbt = this.numBatchesTracked;
    if (this.training && nbt) {
      noGrad(() => nbt.copy_(nbt.add(1)));
      if (this.momentum === null) factor = 1 / nbt.item(); // cumulative moving average
    }
    // NOTE: without running stats, eval normalises with the batch statistics too (as PyTorch).
    const useBatchStats = this.training || this.runningMean === null;
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, { training: useBatchStats, momentum: factor, eps: this.eps, activation });
  }

  /** Running mean 0, variance 1, no batches seen. */
  resetRunningStats(): void {
    noGrad(() => {
      this.runningMean?.copy_(zeros([]));
      this.runningVar?.copy_(ones([]));
      this.numBatchesTracked?.copy_(zeros([]));
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${fmtNum(this.eps)}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

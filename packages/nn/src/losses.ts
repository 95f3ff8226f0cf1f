// Losses as modules (torch.nn.CrossEntropyLoss, NLLLoss, KLDivLoss, MSELoss, BCEWithLogitsLoss):
// thin wrappers over the functions in F. A class weight is a buffer, as in PyTorch, so it travels
// with stateDict. forward(input, target) → a scalar ('mean', 'sum') or per-element loss ('none').

import { ValueError, type Tensor } from '@lad/tensor';
import { Module, buffer } from './module.ts';
import { binaryCrossEntropyWithLogits, crossEntropy, klDiv, mseLoss, nllLoss, type Reduction } from './functional.ts';

/** Options of CrossEntropyLoss and NLLLoss: class weights, the ignored target index and the reduction. */
export interface ClassLossOptions {
  /** Per-class weight, shape (C). */
  weight?: Tensor | null;
  /** Targets equal to this class index add nothing (and do not count in the mean); default −100. */
  ignoreIndex?: number;
  reduction?: Reduction;
}

abstract class ClassLoss extends Module {
  weight: Tensor | null;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;

  constructor(opts: ClassLossOptions = {}) {
    super();
    this.weight = opts.weight ? buffer(opts.weight) : null;
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.reduction = opts.reduction ?? 'mean';
  }
  protected get options() {
    return { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction };
  }
}

/** logits (N, C, ...), int32 targets (N, ...). */
export class CrossEntropyLoss extends ClassLoss {
  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, this.options);
  }
}

/** log-probabilities (N, C, ...), int32 targets (N, ...). */
export class NLLLoss extends ClassLoss {
  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, this.options);
  }
}

/** KL(target ‖ exp(input)) for log-probabilities `input`; 'batchmean' divides the sum by N. */
export class KLDivLoss extends Module {
  constructor(readonly opts: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return klDiv(input, target, this.opts);
  }
}

/** Mean squared error between input and target (reduction 'mean' by default). */
export class MSELoss extends Module {
  constructor(readonly opts: { reduction?: Reduction } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, this.opts);
  }
}

/** Options of BCEWithLogitsLoss: element weights, per-class positive weights and the reduction. */
export interface BCEWithLogitsOptions {
  /** Rescales each element's loss; broadcast to the input's shape. */
  weight?: Tensor | null;
  /** Weight of the positive term per class (broadcast over the last dim). */
  posWeight?: Tensor | null;
  reduction?: Reduction;
}

/** Binary cross-entropy on logits, with optional element and positive-class weights. */
export class BCEWithLogitsLoss extends Module {
  weight: Tensor | null;
  posWeight: Tensor | null;
  readonly reduction: Reduction;

  static override readonly stateKeys = { posWeight: 'pos_weight' };

  constructor(opts: BCEWithLogitsOptions = {}) {
    super();
    this.weight = opts.weight ? buffer(opts.weight) : null;
    this.posWeight = opts.posWeight ? buffer(opts.posWeight) : null;
    this.reduction = opts.reduction ?? 'mean';
    if (!['mean', 'sum', 'none'].includes(this.reduction))
      throw new ValueError(`BCEWithLogitsLoss: reduction must be 'mean', 'sum' or 'none': got '${String(this.reduction)}'.`);
  }

  forward(input: Tensor, target: Tensor): Tensor {
    if (!this.weight) return binaryCrossEntropyWithLogits(input, target, { reduction: this.reduction, posWeight: this.posWeight });
    const loss = binaryCrossEntropyWithLogits(input, target, { reduction: 'none', posWeight: this.posWeight }).mul(this.weight);
    return this.reduction === 'none' ? loss : this.reduction === 'sum' ? loss.sum() : loss.mean();
  }
}

// Linear (torch.nn.Linear): y = x·Wᵀ + b over the last dim, (..., in) → (..., out).
// Default init as PyTorch: W ~ kaiming_uniform(a=√5) = U(±1/√in), b ~ U(±1/√in).

import { Tensor, zeros } from '@lad/tensor';
import { Module, parameter } from '../module.ts';
import { defaultLayerInit_ } from '../init.ts';
import { linear } from '../functional.ts';
import { checkInt, type FactoryOptions } from './util.ts';

/** Options of the Linear layer: bias (default true) and the init generator. */
export interface LinearOptions extends FactoryOptions {
  bias?: boolean;
}

/** Fully connected layer: (…, in) → (…, out), y = x·Wᵀ + b, weight (out, in) initialized as torch does. */
export class Linear extends Module {
  weight: Tensor; // (out, in)
  bias: Tensor | null; // (out)

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    checkInt('Linear', 'inFeatures', inFeatures, 0);
    checkInt('Linear', 'outFeatures', outFeatures, 0);
    const dtype = opts.dtype ?? 'float32';
    this.weight = parameter(zeros([outFeatures, inFeatures], { dtype }));
    this.bias = (opts.bias ?? true) ? parameter(zeros([outFeatures], { dtype })) : null;
    defaultLayerInit_(this.weight, this.bias, opts);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias); // (..., out)
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

// Dropout and Dropout2d (torch.nn.Dropout, Dropout2d): in training, zero elements (Dropout) or
// whole (n, c) channels (Dropout2d) with probability p and scale the rest by 1/(1−p); identity in
// eval. Masks are drawn from the layer's Generator (default: defaultGenerator), so runs repeat.

import { ValueError, defaultGenerator, type Generator, type Tensor } from '@lad/tensor';
import { Module } from '../module.ts';
import { dropout, dropout2d } from '../functional.ts';

/** Options of the dropout layers: the generator of the masks (default: the default generator). */
export interface DropoutOptions {
  generator?: Generator;
}

abstract class DropoutBase extends Module {
  readonly generator: Generator;

  constructor(
    readonly p = 0.5,
    opts: DropoutOptions = {},
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ValueError(`${new.target.name}: p must be in [0, 1]: got ${p}.`);
    this.generator = opts.generator ?? defaultGenerator;
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Zeroes each element with probability p in train mode and scales the rest by 1/(1−p); identity in eval mode. */
export class Dropout extends DropoutBase {
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.generator);
  }
}

/** Zeroes whole channels of an (N, C, H, W) input with probability p in train mode (scaling the rest by 1/(1−p)); identity in eval mode. */
export class Dropout2d extends DropoutBase {
  /** (N, C, H, W) → (N, C, H, W). */
  forward(x: Tensor): Tensor {
    return dropout2d(x, this.p, this.training, this.generator);
  }
}

// Parameter-free elementwise layers (torch.nn.ReLU, Sigmoid, Identity): shape-preserving.

import type { Tensor } from '@lad/tensor';
import { Module } from '../module.ts';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

/** Returns its input unchanged: a placeholder that keeps a model's structure (and names). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

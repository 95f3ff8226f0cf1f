// Parameter-free elementwise layers (torch.nn.ReLU, Sigmoid, Identity): shape-preserving.

import type { Tensor } from '@lad/tensor';
import { Module } from '../module.ts';

/** Elementwise max(x, 0). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** Elementwise logistic sigmoid, 1 / (1 + e^(−x)). */
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

// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum, L2 weight
// decay and maximize. Follows the algorithm box of torch.optim.SGD (PyTorch 2.x docs) and its
// single-tensor code: momentum_buffer starts as a copy of the first gradient (b_1 = g_1), and
// `maximize` negates the gradient before weight decay, as the code does. On the CPU, from the second step
// on, the update runs as one fused pass (@lad/tensor's sgdUpdate_) with the same bits as the ops below.

import { ValueError, sgdUpdate_, type Tensor } from '@lad/tensor';
import type { OptimizerParamState } from '../types.ts';
import { Optimizer, checkBool, checkNonNegative, stateTensor, withDefaults, type ParamGroup, type ParamsInput } from './optimizer.ts';

/** Hyperparameters of SGD (torch names and defaults). */
export type SGDOptions = {
  /** γ, the learning rate (default 1e-3, as torch 2.x). */
  lr: number;
  /** μ (default 0: plain SGD, no momentum buffer). */
  momentum: number;
  /** τ, damps the gradient's share of the buffer (default 0). */
  dampening: number;
  /** λ, L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** Ascend instead of descend. */
  maximize: boolean;
};

/** SGD's defaults: lr 1e-3, no momentum, dampening or weight decay, not Nesterov. */
export const SGD_DEFAULTS: Readonly<SGDOptions> = Object.freeze({ lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false });

function checkSGD(o: SGDOptions, where: string): void {
  for (const k of ['lr', 'momentum', 'dampening', 'weightDecay'] as const) checkNonNegative('SGD', k, o[k], where);
  checkBool('SGD', 'nesterov', o.nesterov, where);
  checkBool('SGD', 'maximize', o.maximize, where);
  if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
    throw new ValueError(`SGD: nesterov${where}: got momentum ${o.momentum} and dampening ${o.dampening}, expected momentum > 0 and dampening 0.`);
  }
}

/** Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay, as torch.optim.SGD. */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, opts: Partial<SGDOptions> = {}) {
    super('SGD', params, withDefaults(SGD_DEFAULTS, opts), checkSGD, { tensors: ['momentum_buffer'], scalars: [] });
  }

  protected update(p: Tensor, grad: Tensor, o: ParamGroup<SGDOptions>, s: OptimizerParamState): void {
    const buf = o.momentum !== 0 && s.momentum_buffer !== undefined ? stateTensor(s, 'momentum_buffer') : null;
    if ((o.momentum === 0 || buf !== null) && sgdUpdate_(p, grad, buf, o)) return; // one fused pass, same bits as below
    let g = o.maximize ? grad.neg() : grad;
    if (o.weightDecay !== 0) g = g.add(p.mul(o.weightDecay)); // g_t ← g_t + λθ_{t-1}
    if (o.momentum !== 0) {
      const b = momentumBuffer(s, g, o);
      g = o.nesterov ? g.add(b.mul(o.momentum)) : b; // nesterov: g_t ← g_t + μb_t, else g_t ← b_t
    }
    p.copy_(p.sub(g.mul(o.lr))); // θ_t ← θ_{t-1} − γg_t
  }
}

/** b_t ← μb_{t-1} + (1 − τ)g_t, with b_1 ← g_1; stored back into the state. */
function momentumBuffer(s: OptimizerParamState, g: Tensor, o: SGDOptions): Tensor {
  const b =
    s.momentum_buffer === undefined
      ? g.clone()
      : stateTensor(s, 'momentum_buffer')
          .mul(o.momentum)
          .add(o.dampening === 0 ? g : g.mul(1 - o.dampening));
  s.momentum_buffer = b;
  return b;
}

// Adam and AdamW. Follows the algorithm boxes of torch.optim.Adam and torch.optim.AdamW (PyTorch
// 2.x docs, with the AMSGrad correction of pytorch#142351: the running max is taken of v_t and
// then bias-corrected) and the single-tensor code's arithmetic: the denominator is
// √v_t / √(1 − β₂ᵗ) + ε and the step γ/(1 − β₁ᵗ)·m_t/denominator. AdamW decays θ by (1 − γλ).
// NOTE: torch 2.x computes m_t with lerp (m + (1−β₁)(g − m)); we use the box's β₁m + (1−β₁)g,
// equal up to rounding.

import { ValueError, maximum, zerosLike, type Tensor } from '@lad/tensor';
import type { OptimizerParamState } from '../types.ts';
import { Optimizer, checkBool, checkNonNegative, stateTensor, withDefaults, type ParamGroup, type ParamsInput } from './optimizer.ts';

/** Hyperparameters of Adam and AdamW (torch names and defaults). */
export type AdamOptions = {
  /** γ (default 1e-3). */
  lr: number;
  /** (β₁, β₂), decay rates of the first and second moments (default [0.9, 0.999]). */
  betas: readonly [number, number];
  /** ε, added to the denominator (default 1e-8). */
  eps: number;
  /** λ: L2 penalty added to the gradient (Adam, default 0) or decoupled decay (AdamW, default 0.01). */
  weightDecay: number;
  /** Normalise by the running maximum of v_t (AMSGrad). */
  amsgrad: boolean;
  /** Ascend instead of descend. */
  maximize: boolean;
};

/** Adam's defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, no weight decay. */
export const ADAM_DEFAULTS: Readonly<AdamOptions> = Object.freeze({
  lr: 1e-3,
  betas: Object.freeze([0.9, 0.999] as const),
  eps: 1e-8,
  weightDecay: 0,
  amsgrad: false,
  maximize: false,
});
/** AdamW's defaults: Adam's with weightDecay 0.01 (decoupled). */
export const ADAMW_DEFAULTS: Readonly<AdamOptions> = Object.freeze({ ...ADAM_DEFAULTS, weightDecay: 1e-2 });

const STATE_KEYS = { tensors: ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'], scalars: ['step'] };

function checkAdam(name: string): (o: AdamOptions, where: string) => void {
  return (o, where) => {
    for (const k of ['lr', 'eps', 'weightDecay'] as const) checkNonNegative(name, k, o[k], where);
    checkBool(name, 'amsgrad', o.amsgrad, where);
    checkBool(name, 'maximize', o.maximize, where);
    if (!Array.isArray(o.betas) || o.betas.length !== 2) throw new ValueError(`${name}: betas${where}: got ${String(o.betas)}, expected a pair [β1, β2].`);
    o.betas.forEach((b, i) => {
      if (typeof b !== 'number' || !(b >= 0 && b < 1)) throw new ValueError(`${name}: betas[${i}]${where}: got ${String(b)}, expected 0 <= β < 1.`);
    });
  };
}

/** Adam's update; `decoupled` switches the weight decay to AdamW's. */
abstract class AdamBase extends Optimizer<AdamOptions> {
  protected constructor(
    name: string,
    private readonly decoupled: boolean,
    params: ParamsInput<AdamOptions>,
    defaults: AdamOptions,
  ) {
    super(name, params, defaults, checkAdam(name), STATE_KEYS);
  }

  protected update(p: Tensor, grad: Tensor, o: ParamGroup<AdamOptions>, s: OptimizerParamState): void {
    let g = o.maximize ? grad.neg() : grad;
    const t = nextStep(s, p, o.amsgrad);
    if (o.weightDecay !== 0) {
      if (this.decoupled)
        p.copy_(p.mul(1 - o.lr * o.weightDecay)); // θ_t ← θ_{t-1} − γλθ_{t-1}
      else g = g.add(p.mul(o.weightDecay)); // g_t ← g_t + λθ_{t-1}
    }
    const [b1, b2] = o.betas;
    const m = stateTensor(s, 'exp_avg')
      .mul(b1)
      .add(g.mul(1 - b1)); // m_t ← β₁m_{t-1} + (1 − β₁)g_t
    const v = stateTensor(s, 'exp_avg_sq')
      .mul(b2)
      .add(g.mul(1 - b2).mul(g)); // v_t ← β₂v_{t-1} + (1 − β₂)g_t²
    Object.assign(s, { exp_avg: m, exp_avg_sq: v });
    let vmax = v;
    if (o.amsgrad) s.max_exp_avg_sq = vmax = maximum(stateTensor(s, 'max_exp_avg_sq'), v); // v_t^max ← max(v_{t-1}^max, v_t)
    const denom = vmax
      .sqrt()
      .div(Math.sqrt(1 - b2 ** t))
      .add(o.eps); // √v̂_t + ε, v̂_t = v_t/(1 − β₂ᵗ)
    p.copy_(p.sub(m.div(denom).mul(o.lr / (1 - b1 ** t)))); // θ_t ← θ_t − γ m̂_t/(√v̂_t + ε), m̂_t = m_t/(1 − β₁ᵗ)
  }
}

/** Increments the step count, creating zero moments on a parameter's first step; returns t. */
function nextStep(s: OptimizerParamState, p: Tensor, amsgrad: boolean): number {
  if (s.step === undefined) Object.assign(s, { step: 0, exp_avg: zerosLike(p), exp_avg_sq: zerosLike(p) });
  if (amsgrad && s.max_exp_avg_sq === undefined) s.max_exp_avg_sq = zerosLike(p);
  const t = (s.step as number) + 1;
  s.step = t;
  return t;
}

/** Adam (Kingma & Ba) with L2 weight decay added to the gradient, as torch.optim.Adam. */
export class Adam extends AdamBase {
  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super('Adam', false, params, withDefaults(ADAM_DEFAULTS, opts));
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter), default weightDecay 0.01. */
export class AdamW extends AdamBase {
  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super('AdamW', true, params, withDefaults(ADAMW_DEFAULTS, opts));
  }
}

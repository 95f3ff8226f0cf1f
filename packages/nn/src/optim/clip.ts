// Gradient clipping by total norm, as torch.nn.utils.clip_grad_norm_: the p-norm of the per-tensor
// p-norms, and every grad scaled by maxNorm/(total + 1e-6) when that is below 1. Norms are taken
// in float64 whatever the grads' dtype.

import { Tensor, ValueError, noGrad } from '@lad/tensor';

/** Options of clipGradNorm. */
export interface ClipGradNormOptions {
  /** Throw when the total norm is NaN or infinite (default false: clip anyway, as torch). */
  errorIfNonfinite?: boolean;
}

/** ‖g‖_p of one tensor, in float64 (p = Infinity: max |g|). */
function tensorNorm(g: Tensor, p: number): number {
  return noGrad(() => {
    const a = g.to('float64').abs();
    if (p === Infinity) return a.size === 0 ? 0 : a.amax().item();
    if (p === 1) return a.sum().item();
    if (p === 2) return Math.sqrt(a.mul(a).sum().item());
    return a.pow(p).sum().item() ** (1 / p);
  });
}

/** Scales the grads of `params` so their total `normType`-norm is at most maxNorm; returns the total before clipping. */
export function clipGradNorm(params: Tensor | Iterable<Tensor>, maxNorm: number, normType = 2, opts: ClipGradNormOptions = {}): number {
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0)) throw new ValueError(`clipGradNorm: maxNorm: got ${maxNorm}, expected a number >= 0.`);
  if (!(normType > 0)) throw new ValueError(`clipGradNorm: normType: got ${normType}, expected a number > 0 or Infinity.`);
  const ps = (params instanceof Tensor ? [params] : [...params]).filter((p) => p.grad !== null);
  if (ps.length === 0) return 0;
  const norms = ps.map((p) => tensorNorm(p.grad!, normType));
  // ‖(‖g_1‖, …, ‖g_n‖)‖_p
  const total = normType === Infinity ? Math.max(...norms) : norms.reduce((s, n) => s + n ** normType, 0) ** (1 / normType);
  if (opts.errorIfNonfinite && !Number.isFinite(total)) {
    throw new ValueError(
      `clipGradNorm: the total norm of order ${normType} of the gradients: got ${total}, expected a finite number; set errorIfNonfinite: false to clip anyway.`,
    );
  }
  const coef = maxNorm / (total + 1e-6);
  // NOTE: a fresh tensor, not an in-place write: two leaves' grads can share storage (the gradient
  // of a + b is passed through to both), and scaling it in place would scale it twice.
  if (!(coef >= 1)) for (const p of ps) p.grad = noGrad(() => p.grad!.mul(coef)); // NaN total: NaN grads, as torch
  return total;
}

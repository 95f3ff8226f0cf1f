// Fused optimizer kernels for the CPU backend: one pass over parameter, gradient and state instead of
// one op per term. Each kernel reproduces, bit for bit, the sequence of elementwise ops it replaces
// (float32: every intermediate rounded with Math.fround, scalars rounded as 0-d float32 tensors are).

import type { FloatArray } from './alloc.ts';

export interface SgdKernelOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/**
 * torch.optim.SGD's update after the first step (the momentum buffer b exists), in place on p and b:
 * g ← ±grad + λp; b ← μb + (1 − τ)g; g ← nesterov ? g + μb : b; p ← p − γg. Offsets index each array.
 */
export function sgdUpdate(
  p: FloatArray,
  pOff: number,
  grad: FloatArray,
  gOff: number,
  b: FloatArray | null,
  bOff: number,
  n: number,
  o: SgdKernelOptions,
): void {
  const f32 = p instanceof Float32Array;
  const r = f32 ? Math.fround : (x: number) => x;
  const lr = r(o.lr),
    wd = r(o.weightDecay),
    mu = r(o.momentum),
    damp = r(1 - o.dampening);
  const useWd = o.weightDecay !== 0,
    useMom = o.momentum !== 0 && b !== null,
    useDamp = o.dampening !== 0,
    sign = o.maximize ? -1 : 1;
  if (p instanceof Float32Array && grad instanceof Float32Array && b instanceof Float32Array && useWd && useMom && !useDamp && !o.nesterov) {
    // torch's usual recipe (momentum, weight decay) as its own loop: the same operations as the
    // general loop below, twice as fast without the per-element option tests
    const fr = Math.fround;
    for (let i = 0; i < n; i++) {
      const pi = p[pOff + i];
      const g = fr(sign * grad[gOff + i] + fr(pi * wd));
      const bi = fr(fr(b[bOff + i] * mu) + g);
      b[bOff + i] = bi;
      p[pOff + i] = fr(pi - fr(bi * lr));
    }
    return;
  }
  if (f32) {
    const fr = Math.fround;
    for (let i = 0; i < n; i++) {
      const pi = p[pOff + i];
      let g = sign * grad[gOff + i];
      if (useWd) g = fr(g + fr(pi * wd));
      if (useMom) {
        const bi = fr(fr(b![bOff + i] * mu) + (useDamp ? fr(g * damp) : g));
        b![bOff + i] = bi;
        g = o.nesterov ? fr(g + fr(bi * mu)) : bi;
      }
      p[pOff + i] = fr(pi - fr(g * lr));
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const pi = p[pOff + i];
    let g = sign * grad[gOff + i];
    if (useWd) g += pi * wd;
    if (useMom) {
      const bi = b![bOff + i] * mu + (useDamp ? g * damp : g);
      b![bOff + i] = bi;
      g = o.nesterov ? g + bi * mu : bi;
    }
    p[pOff + i] = pi - g * lr;
  }
}

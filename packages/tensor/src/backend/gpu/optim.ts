// Fused SGD on gpu.js: torch.optim.SGD's update after the first step as two kernels (the new
// momentum buffer, the new parameter, both from the old values) and two in-place copies, instead of
// a kernel and a scalar upload per term (about ten launches per parameter). The hyperparameters
// travel as one uploaded 4-element buffer, so a learning rate that changes every step (the poly
// schedule) compiles no new kernel.
//
//   g ← ±grad + λp;   b ← μb + (1 − τ)g;   g ← nesterov ? g + μb : b;   p ← p − γg

import type { SgdKernelOptions } from '../cpu/optim.ts';
import { storageDType, view, type AnyStorage } from '../../storage.ts';
import { asGpu, launch, upload } from './runtime.ts';
import { Src, stridedReads } from './codegen.ts';
import { assign } from './movement.ts';

/** In place on same-shape float views p and b (null without momentum). */
export function sgdUpdate(p: AnyStorage, grad: AnyStorage, b: AnyStorage | null, o: SgdKernelOptions): void {
  const mom = o.momentum !== 0 && b !== null;
  const views = mom ? [p, grad, b] : [p, grad];
  const hyper = view(upload(new Float32Array([o.lr, o.weightDecay, o.momentum, 1 - o.dampening])), [4]); // h = [γ, λ, μ, 1 − τ]
  const kernel = (name: string, ret: (pv: string) => string) => {
    const s = new Src();
    const args = [...views.map((_, k) => `x${k}`), 'h'];
    const [pv, gv, bv] = stridedReads(s, views, args);
    s.line(`let g = ${o.maximize ? '-' : ''}${gv};`);
    if (o.weightDecay !== 0) s.line(`g = g + ${pv} * h[1];`);
    if (mom) s.line(`const nb = ${bv} * h[2] + ${o.dampening !== 0 ? 'g * h[3]' : 'g'};`);
    s.line(`const step = ${!mom ? 'g' : o.nesterov ? 'g + nb * h[2]' : 'nb'};`);
    return launch(s.spec(name, p.size, args, ret(pv)), [...views, hyper].map(asGpu), storageDType(p));
  };
  const newB = mom ? kernel('sgd-momentum', () => 'nb') : null;
  const newP = kernel('sgd-param', (pv) => `${pv} - step * h[0]`);
  assign(p, view(newP, p.shape)); // kernels run in order: both read the old p and b
  if (newB) assign(b as AnyStorage, view(newB, p.shape));
}

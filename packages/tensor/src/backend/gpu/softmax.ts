// Log-softmax on the GPU backend, composed from its reduce and elementwise kernels (five launches
// forward, six with the probabilities; two backward) with the formula of cpu/softmax.ts:
//   y = x − (m + log Σ exp(x − m)),  m = max x (0 where it is not finite),  p = exp(x − m)/Σ,  gx = g − p·Σ g.

import { expand, storageDType, view, type AnyStorage } from '../../storage.ts';
import { reduce } from './reduce.ts';
import { mapKernel } from './elementwise.ts';
import type { GpuBuffer } from './runtime.ts';

/** A per-line buffer (x's shape without `dim`) seen with x's shape: stride 0 along dim. */
function alongDim(b: GpuBuffer, x: AnyStorage, dim: number): AnyStorage {
  return expand(
    view(
      b,
      x.shape.map((s, i) => (i === dim ? 1 : s)),
    ),
    x.shape,
  );
}

export function logSoftmax(x: AnyStorage, dim: number, probs: boolean): { y: GpuBuffer; p: GpuBuffer | null } {
  const dtype = storageDType(x);
  const m = reduce('max', x, [dim], dtype).values;
  const shift = alongDim(mapKernel('lsm-shift', 'a - a === 0.0 ? a : 0.0', [view(m, [m.length])], dtype), x, dim); // ±∞ → 0
  const e = mapKernel('lsm-exp', 'Math.exp(a - b)', [x, shift], dtype);
  const s = alongDim(reduce('sum', view(e, x.shape), [dim], dtype).values, x, dim);
  const y = mapKernel('lsm-out', 'a - b - Math.log(c)', [x, shift, s], dtype);
  return { y, p: probs ? mapKernel('lsm-probs', 'a / b', [view(e, x.shape), s], dtype) : null };
}

export function logSoftmaxBackward(gy: AnyStorage, p: AnyStorage, dim: number): GpuBuffer {
  const dtype = storageDType(gy);
  const s = reduce('sum', gy, [dim], dtype).values;
  return mapKernel('lsm-grad', 'a - b * c', [gy, p, alongDim(s, gy, dim)], dtype);
}

// Log-softmax on the GPU backend, composed from its reduce and elementwise kernels (four launches
// forward, two backward) with the formula of cpu/softmax.ts:
//   y = x − (m + log Σ exp(x − m)),  m = max x (0 where it is not finite),   gx = g − exp(y)·Σ g.

import { expand, storageDType, view, type AnyStorage } from '../../storage.ts';
import { reduce } from './reduce.ts';
import { mapKernel } from './elementwise.ts';
import type { GpuBuffer } from './runtime.ts';

/** A per-line buffer (x's shape without `dim`) seen with x's shape: stride 0 along dim. */
function alongDim(b: GpuBuffer, x: AnyStorage, dim: number): AnyStorage {
  return expand(view(b, x.shape.map((s, i) => (i === dim ? 1 : s))), x.shape);
}

export function logSoftmax(x: AnyStorage, dim: number): GpuBuffer {
  const dtype = storageDType(x);
  const m = reduce('max', x, [dim], dtype).values;
  const shift = alongDim(mapKernel('lsm-shift', 'a - a === 0.0 ? a : 0.0', [view(m, [m.length])], dtype), x, dim); // ±∞ → 0
  const e = mapKernel('lsm-exp', 'Math.exp(a - b)', [x, shift], dtype);
  const s = reduce('sum', view(e, x.shape), [dim], dtype).values;
  return mapKernel('lsm-out', 'a - b - Math.log(c)', [x, shift, alongDim(s, x, dim)], dtype);
}

export function logSoftmaxBackward(gy: AnyStorage, y: AnyStorage, dim: number): GpuBuffer {
  const dtype = storageDType(gy);
  const s = reduce('sum', gy, [dim], dtype).values;
  return mapKernel('lsm-grad', 'a - Math.exp(b) * c', [gy, y, alongDim(s, gy, dim)], dtype);
}

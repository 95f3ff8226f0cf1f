// Batched matrix product on gpu.js: one thread per output element, a loop over K with the operands'
// strides baked in as Integer constants (views, transposes and stride-0 batch dims need no copy).
//   out[b, m, n] = Σ_k a[b, m, k] · b[b, k, n]

import type { DType } from '../cpu/alloc.ts';
import type { AnyStorage } from '../../storage.ts';
import { asGpu, launch, type GpuBuffer } from './runtime.ts';
import { Src, THREAD } from './codegen.ts';

/** [B, M, K] @ [B, K, N] → dense [B, M, N]. */
export function bmm(a: AnyStorage, b: AnyStorage, dtype: DType): GpuBuffer {
  const [B, M, K] = a.shape,
    N = b.shape[2];
  const src = new Src();
  const [bb, m, n] = src.unravel(THREAD, [B, M, N]);
  src.line('let s = 0.0;');
  src.line(`for (let k = 0; k < ${src.bound(K)}; k++) {`);
  src.line(`s += x0[${src.offset(a.offset, [bb, m, '(k | 0)'], a.stride)}] * x1[${src.offset(b.offset, [bb, '(k | 0)', n], b.stride)}];`);
  src.line('}');
  return launch(src.spec('bmm', B * M * N, ['x0', 'x1'], 's'), [asGpu(a), asGpu(b)], dtype);
}

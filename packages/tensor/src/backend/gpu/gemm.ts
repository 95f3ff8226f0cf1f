// Batched matrix product on gpu.js: one thread per output element, a loop over K with the operands'
// strides baked in as Integer constants (views, transposes and stride-0 batch dims need no copy).

import type { DType } from '../cpu/alloc.ts';
import type { AnyStorage } from '../../storage.ts';
import { asGpu, launch, type GpuBuffer } from './runtime.ts';
import { Src } from './codegen.ts';

/** [B, M, K] @ [B, K, N] → dense [B, M, N]. */
export function bmm(a: AnyStorage, b: AnyStorage, dtype: DType): GpuBuffer {
  const [B, M, K] = a.shape, N = b.shape[2];
  const src = new Src();
  src.line('const i = this.thread.x;');
  const [bb, m, n] = src.unravel('i', [B, M, N]);
  src.line(`let pa = ${src.offset(a.offset, [bb, m], [a.stride[0], a.stride[1]])};`);
  src.line(`let pb = ${src.offset(b.offset, [bb, n], [b.stride[0], b.stride[2]])};`);
  src.line('let s = 0.0;');
  src.line(`for (let k = 0; k < ${src.bound(K)}; k++) {`);
  src.line('s += x0[pa] * x1[pb];');
  src.line(`pa += ${src.int(a.stride[2])};`).line(`pb += ${src.int(b.stride[1])};`);
  src.line('}');
  return launch(src.spec('bmm', B * M * N, ['x0', 'x1'], 's'), [asGpu(a), asGpu(b)], dtype);
}

// Fused in-place optimizer updates on tensors: `sgdUpdate_` runs torch.optim.SGD's update as one CPU
// kernel pass (backend/cpu/optim.ts) when parameter, gradient and momentum buffer are CPU row-major
// arrays of one float dtype, with the same bits as the op-by-op update; it returns false (nothing done)
// otherwise, and the caller runs the ops. @lad/nn's SGD uses it from its second step on.

import type { Tensor } from '../tensor.ts';
import { isDeviceData, isRowMajor } from '../storage.ts';
import { sgdUpdate, type SgdKernelOptions } from '../backend/cpu/optim.ts';
import type { FloatArray } from '../backend/cpu/alloc.ts';

const rowMajorFloat = (t: Tensor, dtype: string): boolean => !isDeviceData(t.storage.data) && t.dtype === dtype && isRowMajor(t.storage);

/** p ← SGD(p, grad, buf) in place (buf: the momentum buffer, updated too; null without momentum). */
export function sgdUpdate_(p: Tensor, grad: Tensor, buf: Tensor | null, o: SgdKernelOptions): boolean {
  if (p.dtype === 'int32' || !rowMajorFloat(p, p.dtype) || !rowMajorFloat(grad, p.dtype) || (buf !== null && !rowMajorFloat(buf, p.dtype))) return false;
  if (o.momentum !== 0 && buf === null) return false;
  if (grad.size !== p.size || (buf !== null && buf.size !== p.size)) return false;
  const s = (t: Tensor) => t.storage.data as FloatArray;
  sgdUpdate(s(p), p.storage.offset, s(grad), grad.storage.offset, buf && s(buf), buf ? buf.storage.offset : 0, p.size, o);
  p.version.n++; // an in-place write, as copy_ counts it
  if (buf) buf.version.n++;
  return true;
}

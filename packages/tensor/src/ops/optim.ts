// Fused in-place optimizer updates on tensors: `sgdUpdate_` runs torch.optim.SGD's update as the
// backend's one primitive (CPU: one pass, backend/cpu/optim.ts, with the same bits as the op-by-op
// update; GPU: two kernels, backend/gpu/optim.ts) when parameter, gradient and momentum buffer are
// same-shape float tensors on one device (row-major on the CPU); it returns false (nothing done)
// otherwise, and the caller runs the ops. @lad/nn's SGD uses it from its second step on.

import type { Tensor } from '../tensor.ts';
import { isDeviceData, isRowMajor } from '../storage.ts';
import { sameShape } from '../shape.ts';
import type { SgdKernelOptions } from '../backend/cpu/optim.ts';
import { be } from './util.ts';

/** p ← SGD(p, grad, buf) in place (buf: the momentum buffer, updated too; null without momentum). */
export function sgdUpdate_(p: Tensor, grad: Tensor, buf: Tensor | null, o: SgdKernelOptions): boolean {
  if (o.momentum !== 0 && buf === null) return false;
  const ts = buf ? [p, grad, buf] : [p, grad];
  if (p.dtype === 'int32' || ts.some((t) => t.dtype !== p.dtype || t.device !== p.device || !sameShape(t.shape, p.shape))) return false;
  if (!isDeviceData(p.storage.data) && !ts.every((t) => isRowMajor(t.storage))) return false;
  be(p).sgdUpdate(p.storage, grad.storage, buf && buf.storage, o);
  p.version.n++; // an in-place write, as copy_ counts it
  if (buf) buf.version.n++;
  return true;
}

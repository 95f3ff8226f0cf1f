// matmul with torch.matmul's rules: 1-D operands are promoted and squeezed back, batch dims
// broadcast. Everything reduces to one primitive, bmm on [B, M, K] @ [B, K, N], whose gradient
// is two more bmms on transposed views (no copies: the GEMM reads strides).

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/tape.ts';
import { broadcastShapes, checkNumel, fmtShape, numel } from '../shape.ts';
import { ShapeError } from '../errors.ts';
import { be, checkDevices, checkFloat, checkTensor, promote, wrap } from './util.ts';
import { expand, reshape, squeeze, transpose, unsqueeze } from './movement.ts';

/** [B, M, K] @ [B, K, N] → [B, M, N]. */
function bmm(a: Tensor, b: Tensor): Tensor {
  const [B, M] = a.shape,
    N = b.shape[2];
  const out = wrap(be(a).bmm(a.storage, b.storage, a.dtype), [B, M, N]);
  // dA = G Bᵀ, dB = Aᵀ G
  return record(out, 'bmm', [a, b], (g) => [bmm(g, transpose(b, 1, 2)), bmm(transpose(a, 1, 2), g)]);
}

/** Whether two shapes fail to broadcast (some aligned dims differ and neither is 1). */
const refuses = (a: readonly number[], b: readonly number[]): boolean =>
  a.some((d, i) => {
    const e = b[b.length - a.length + i] ?? 1;
    return d !== e && d !== 1 && e !== 1;
  });

/** Matrix product with torch.matmul's rules: 1-D and 2-D operands, and batched operands whose batch dims broadcast. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', 'input', a);
  checkTensor('matmul', 'other', b);
  checkDevices('matmul', [a, b]);
  checkFloat('matmul', 'input', a);
  checkFloat('matmul', 'other', b);
  if (a.ndim === 0 || b.ndim === 0) throw new ShapeError(`matmul: both arguments need at least 1 dim: got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}.`);
  if (a.dtype !== b.dtype) {
    const t = promote(a.dtype, b.dtype);
    return matmul(a.to(t), b.to(t));
  }
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a; // (1, K)
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b; // (K, 1)
  const [M, K] = a2.shape.slice(-2),
    [K2, N] = b2.shape.slice(-2);
  if (K !== K2) throw new ShapeError(`matmul: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be multiplied: ${K} columns vs ${K2} rows.`);
  const [ba, bb] = [a2.shape.slice(0, -2), b2.shape.slice(0, -2)];
  if (refuses(ba, bb))
    throw new ShapeError(`matmul: the batch dims ${fmtShape(ba)} of ${fmtShape(a.shape)} and ${fmtShape(bb)} of ${fmtShape(b.shape)} cannot be broadcast.`);
  const batch = broadcastShapes('matmul', ba, bb);
  checkNumel('matmul', [...batch, M, N], 'the output shape');
  let out: Tensor;
  if (b2.ndim === 2) {
    // (..., M, K) @ (K, N): one GEMM over all rows
    const rows = reshape(a2, [1, a2.size === 0 ? numel(a2.shape.slice(0, -1)) : -1, K]); // (1, ...·M, K); -1 is ambiguous when K = 0
    out = reshape(bmm(rows, unsqueeze(b2, 0)), [...a2.shape.slice(0, -1), N]); // (..., M, N)
  } else {
    const B = batch.reduce((x, y) => x * y, 1);
    const ae = reshape(expand(a2, [...batch, M, K]), [B, M, K]);
    const bf = reshape(expand(b2, [...batch, K, N]), [B, K, N]);
    out = reshape(bmm(ae, bf), [...batch, M, N]); // (..., M, N)
  }
  if (a.ndim === 1) out = squeeze(out, -2);
  if (b.ndim === 1) out = squeeze(out, -1);
  return out;
}

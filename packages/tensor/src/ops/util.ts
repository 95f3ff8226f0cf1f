// Shared helpers for ops: dispatch to the tensor's backend, wrap kernel output as a Tensor,
// and the argument checks every op uses (float dtype, same device, scalar promotion).

import { Tensor, type TensorLike } from '../tensor.ts';
import { backendFor, type Backend } from '../backend/backend.ts';
import type { DType } from '../backend/cpu/alloc.ts';
import type { Data } from '../storage.ts';
import { DeviceError, DTypeError } from '../errors.ts';
import { alloc } from '../backend/cpu/alloc.ts';

export const be = (t: Tensor): Backend => backendFor(t.device);

/** A new tensor over a dense kernel result. */
export const wrap = (data: Data, shape: readonly number[]): Tensor => Tensor.fromData(data, shape);

export function checkFloat(op: string, arg: string, t: Tensor): void {
  if (t.dtype === 'int32') throw new DTypeError(`${op}: ${arg} must be a float tensor (float32 or float64): got int32.`);
}

export function checkTensor(op: string, arg: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${op}: ${arg} must be a Tensor: got ${t === null ? 'null' : typeof t}.`);
}

export function checkDevices(op: string, ts: readonly Tensor[]): void {
  const d = ts[0].device;
  const other = ts.find((t) => t.device !== d);
  if (other) throw new DeviceError(`${op}: tensors are on different devices (${d} and ${other.device}); move one with .to('${d}').`);
}

/** float64 beats float32 beats int32. */
export function promote(a: DType, b: DType): DType {
  if (a === 'float64' || b === 'float64') return 'float64';
  if (a === 'float32' || b === 'float32') return 'float32';
  return 'int32';
}

/** A number becomes a 0-d tensor of `like`'s dtype and device (float32 if `like` is int32 and x is fractional). */
export function scalarLike(op: string, x: TensorLike, like: Tensor): Tensor {
  if (x instanceof Tensor) return x;
  const dtype = like.dtype === 'int32' && !Number.isInteger(x) ? 'float32' : like.dtype;
  const data = alloc(dtype, 1);
  data[0] = x;
  const t = Tensor.fromData(data, []);
  return like.device === 'cpu' ? t : t.to(like.device);
}

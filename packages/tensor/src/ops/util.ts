// Shared helpers for ops: dispatch to the tensor's backend, wrap kernel output as a Tensor,
// and the argument checks every op uses (float dtype, same device, scalar promotion).

import { Tensor, type TensorLike } from '../tensor.ts';
import { backendFor, type Backend } from '../backend/backend.ts';
import type { DType } from '../backend/cpu/alloc.ts';
import { contiguousData, cpuView, type Data } from '../storage.ts';
import { DeviceError, DTypeError, ValueError } from '../errors.ts';
import { alloc } from '../backend/cpu/alloc.ts';
import { deviceBackend } from '../backend/backend.ts';

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

/** What an int32 tensor holds. Numbers going in are truncated toward zero, as in torch. */
export const INT32_MIN = -(2 ** 31),
  INT32_MAX = 2 ** 31 - 1;
/** Whether v truncates to an int32 (NaN and ±Infinity do not). */
export const fitsInt32 = (v: number): boolean => v > INT32_MIN - 1 && v < INT32_MAX + 1;
const int32Msg = (op: string, what: string) => `${op}: ${what} does not fit in int32 (an integer in [${INT32_MIN}, ${INT32_MAX}]); use a float dtype.`;

/** Throws unless the number v fits int32. */
export function checkInt32(op: string, arg: string, v: number): void {
  if (!fitsInt32(v)) throw new ValueError(int32Msg(op, `${arg} ${v}`));
}

/** Throws unless every value fits int32 (values on their way into an int32 buffer). */
export function checkAllInt32(op: string, arg: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) if (!fitsInt32(values[i])) throw new ValueError(int32Msg(op, `${arg} value ${values[i]} (element ${i})`));
}

/** Throws unless every element of float tensor x fits int32; on a device, at the next flush or read. */
export function checkFitsInt32(op: string, x: Tensor): void {
  if (x.device === 'cpu') {
    checkAllInt32(op, 'input', contiguousData(cpuView(x.storage, op)));
    return;
  }
  if (x.size === 0) return;
  const bad = x
    .ne(x)
    .add(x.le(INT32_MIN - 1))
    .add(x.ge(INT32_MAX + 1))
    .amax(); // any bad value: max of the 0/1 marks, no int32 sum (and its exactness check) per call
  deviceBackend(x.device).deferCheck(bad.storage, () => new ValueError(int32Msg(op, 'an input value (NaN, infinite or too large)')));
}

/** A number becomes a 0-d tensor of `like`'s dtype and device (float32 if `like` is int32 and x is fractional). */
export function scalarLike(op: string, x: TensorLike, like: Tensor): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x !== 'number') {
    const v = x as unknown;
    throw new ValueError(
      `${op}: an operand must be a Tensor or a number: got ${v === null ? 'null' : typeof v === 'string' ? `the string '${v.slice(0, 40)}'` : `a value of type ${typeof v}`}.`,
    );
  }
  if (like.dtype === 'int32' && Number.isInteger(x)) checkInt32(op, 'the scalar operand', x);
  const dtype = like.dtype === 'int32' && !Number.isInteger(x) ? 'float32' : like.dtype;
  const data = alloc(dtype, 1);
  data[0] = x;
  const t = Tensor.fromData(data, []);
  return like.device === 'cpu' ? t : t.to(like.device);
}

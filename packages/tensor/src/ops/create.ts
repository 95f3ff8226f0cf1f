// Tensor creation: from nested arrays or typed arrays, constants, ranges, identity, random draws
// (always through a seeded Generator) and ndarray interop.

import type ndarray from 'ndarray';
import { Tensor, type Device, type NestedArray } from '../tensor.ts';
import { alloc, dtypeOf, type DType, type TypedArray } from '../backend/cpu/alloc.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import { checkNumel, checkShape, fmtShape, numel } from '../shape.ts';
import { DTypeError, ShapeError, ValueError } from '../errors.ts';
import { cpuView, view } from '../storage.ts';
import { checkAllInt32, checkInt32, INT32_MAX, INT32_MIN } from './util.ts';

/** Options of every creation function: dtype, requiresGrad and device. */
export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  /** Where the tensor lives ('cpu' by default); values are made on the CPU and moved. */
  device?: Device;
}
/** Options of tensor(): the creation options and the shape of flat data. */
export interface TensorOptions extends CreateOptions {
  /** Required with a flat typed array or flat list; checked against nested arrays. */
  shape?: readonly number[];
}
/** Options of the random creation functions: the creation options and the generator (default: the default generator). */
export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.device && o.device !== 'cpu') t = t.to(o.device);
  if (o.requiresGrad) t.requiresGrad_(true);
  return t;
}

function checkDType(op: string, dtype: DType): DType {
  if (dtype !== 'float32' && dtype !== 'float64' && dtype !== 'int32')
    throw new DTypeError(`${op}: unknown dtype '${String(dtype)}': expected float32, float64 or int32.`);
  return dtype;
}

/** The shape of a nested array, rejecting ragged nesting. */
function nestedShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  const check = (x: NestedArray, d: number): void => {
    if (d === shape.length) {
      if (typeof x !== 'number')
        throw new ShapeError(`tensor: ragged nested array: expected a number at depth ${d}, got ${Array.isArray(x) ? 'an array' : typeof x}.`);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[d])
      throw new ShapeError(`tensor: ragged nested array: expected length ${shape[d]} at depth ${d} (shape ${fmtShape(shape)}).`);
    for (const y of x) check(y, d + 1);
  };
  check(data, 0);
  return shape;
}

/** `tensor([[1, 2], [3, 4]])`, `tensor(float32Array, { shape: [2, 2] })`. Typed arrays are copied. */
export function tensor(data: NestedArray | TypedArray, opts: TensorOptions = {}): Tensor {
  let flat: ArrayLike<number>, shape: number[];
  if (ArrayBuffer.isView(data)) {
    flat = data;
    shape = opts.shape ? checkShape('tensor', opts.shape) : [data.length];
  } else {
    shape = nestedShape(data);
    flat = Array.isArray(data) ? ((data as unknown[]).flat(Infinity) as number[]) : [data];
    if (opts.shape) {
      const s = checkShape('tensor', opts.shape);
      if (numel(s) !== flat.length) throw new ShapeError(`tensor: ${flat.length} values do not fill shape ${fmtShape(s)}.`);
      shape = s;
    }
  }
  if (numel(shape) !== flat.length) throw new ShapeError(`tensor: ${flat.length} values do not fill shape ${fmtShape(shape)}.`);
  const dtype = checkDType('tensor', opts.dtype ?? (ArrayBuffer.isView(data) ? dtypeOf(data as TypedArray) : 'float32'));
  if (dtype === 'int32' && !(flat instanceof Int32Array)) checkAllInt32('tensor', 'data', flat);
  const buf = alloc(dtype, flat.length);
  buf.set(flat);
  return finish(Tensor.fromData(buf, shape), opts);
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  const s = checkShape('full', shape);
  if (typeof value !== 'number') throw new ValueError(`full: fill value must be a number: got ${typeof value}.`);
  const buf = alloc(checkDType('full', opts.dtype ?? 'float32'), numel(s));
  if (buf instanceof Int32Array) checkInt32('full', 'fill value', value);
  if (!Object.is(value, 0)) buf.fill(value); // -0 too
  return finish(Tensor.fromData(buf, s), opts);
}
/** A tensor of `shape` filled with zeros. */
export const zeros = (shape: readonly number[], opts: CreateOptions = {}) => full(shape, 0, opts);
/** A tensor of `shape` filled with ones. */
export const ones = (shape: readonly number[], opts: CreateOptions = {}) => full(shape, 1, opts);
/** Like x: its shape, dtype and device. */
export const zerosLike = (x: Tensor, opts: CreateOptions = {}) => full(x.shape, 0, { dtype: x.dtype, device: x.device, ...opts });
/** Ones like x: its shape, dtype and device. */
export const onesLike = (x: Tensor, opts: CreateOptions = {}) => full(x.shape, 1, { dtype: x.dtype, device: x.device, ...opts });
/** `v` everywhere, like x: its shape, dtype and device. */
export const fullLike = (x: Tensor, v: number, opts: CreateOptions = {}) => full(x.shape, v, { dtype: x.dtype, device: x.device, ...opts });

/** [start, end) by step; `arange(n)` is 0..n-1. int32 when all arguments are integers. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step) || !Number.isFinite(start) || !Number.isFinite(end))
    throw new ValueError(`arange: start, end and a non-zero step must be finite: got ${start}, ${end}, ${step}.`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  checkNumel('arange', [n], 'the range');
  const dtype = opts.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  const buf = alloc(checkDType('arange', dtype), n);
  if (dtype === 'int32' && n > 0) checkAllInt32('arange', 'the range', [start, start + (n - 1) * step]);
  for (let i = 0; i < n; i++) buf[i] = start + i * step;
  return finish(Tensor.fromData(buf, [n]), opts);
}

/** `steps` evenly spaced values from start to end, both included. */
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new ValueError(`linspace: steps must be a non-negative integer: got ${steps}.`);
  checkNumel('linspace', [steps]);
  const buf = alloc(checkDType('linspace', opts.dtype ?? 'float32'), steps);
  if (buf instanceof Int32Array && steps > 0) checkAllInt32('linspace', 'the range', [start, end]);
  for (let i = 0; i < steps; i++) buf[i] = steps === 1 ? start : start + ((end - start) * i) / (steps - 1);
  return finish(Tensor.fromData(buf, [steps]), opts);
}

/** An n×m matrix with ones on the diagonal. */
export function eye(n: number, m = n, opts: CreateOptions = {}): Tensor {
  const buf = alloc(checkDType('eye', opts.dtype ?? 'float32'), numel(checkShape('eye', [n, m])));
  for (let i = 0; i < Math.min(n, m); i++) buf[i * m + i] = 1;
  return finish(Tensor.fromData(buf, [n, m]), opts);
}

function randomFloat(op: string, shape: readonly number[], opts: RandomOptions, fill: (g: Generator, b: Float32Array | Float64Array) => void): Tensor {
  const dtype = opts.dtype ?? 'float32';
  if (dtype === 'int32') throw new DTypeError(`${op}: dtype must be float32 or float64: got int32 (use randint).`);
  const s = checkShape(op, shape);
  const buf = alloc(checkDType(op, dtype), numel(s)) as Float32Array | Float64Array;
  fill(opts.generator ?? defaultGenerator, buf);
  return finish(Tensor.fromData(buf, s), opts);
}

/** Uniform [0, 1). */
export const rand = (shape: readonly number[], opts: RandomOptions = {}) => randomFloat('rand', shape, opts, (g, b) => g.fillUniform(b));
/** Standard normal. */
export const randn = (shape: readonly number[], opts: RandomOptions = {}) => randomFloat('randn', shape, opts, (g, b) => g.fillNormal(b));

/** Uniform integers in [low, high), int32 by default. */
export function randint(low: number, high: number, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || high <= low || !Number.isSafeInteger(high - low)) {
    throw new ValueError(`randint: expected safe integers low < high (high − low at most 2^53 − 1): got ${low}, ${high}.`);
  }
  const s = checkShape('randint', shape);
  const dtype = checkDType('randint', opts.dtype ?? 'int32');
  if (dtype === 'int32' && (low < INT32_MIN || high - 1 > INT32_MAX)) {
    throw new ValueError(`randint: [${low}, ${high}) does not fit in int32 (integers in [${INT32_MIN}, ${INT32_MAX}]); pass { dtype: 'float64' }.`);
  }
  const buf = alloc(dtype, numel(s));
  const g = opts.generator ?? defaultGenerator;
  for (let i = 0; i < buf.length; i++) buf[i] = g.nextInt(low, high);
  return finish(Tensor.fromData(buf, s), opts);
}

/** Wraps an ndarray view without copying (its data must be a Float32/Float64/Int32Array). */
export function fromNdarray(nd: ndarray.NdArray): Tensor {
  if (!(nd.data instanceof Float32Array || nd.data instanceof Float64Array || nd.data instanceof Int32Array)) {
    throw new DTypeError(`fromNdarray: data must be a Float32Array, Float64Array or Int32Array: got ${nd.dtype}.`);
  }
  return new Tensor(view(nd.data, nd.shape, nd.stride, nd.offset));
}

/**
 * The tensor's ndarray view (shares memory). Writes through it are outside autograd's version
 * counters, as writes through torch's `.numpy()` are: a write into a tensor an op saved for backward
 * gives a wrong gradient unnoticed. Write with `copy_` to have it checked.
 */
export const toNdarray = (x: Tensor): ndarray.NdArray<TypedArray> => cpuView(x.storage, 'toNdarray');

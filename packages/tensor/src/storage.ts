// Storage: a flat buffer seen through an `ndarray` view (shape, stride, offset). The buffer is a
// typed array on the CPU, or a device buffer (`DeviceData`, e.g. the GPU backend's) elsewhere: the
// view arithmetic is the same. The only file that imports ndarray. Views (permute, slice with step,
// expand, flip, reshape of a contiguous view) never copy; `contiguousData` copies a CPU view only
// when it is not already dense, and `assign` writes one CPU view into another (the one strided copy
// loop every CPU copy goes through).

import ndarray from 'ndarray';
import { alloc, dtypeOf, type DType, type TypedArray } from './backend/cpu/alloc.ts';
import { contiguousStrides, fmtShape, type Shape } from './shape.ts';
import { InternalError, TensorError } from './errors.ts';

/** A device-resident buffer: a flat run of `length` elements of `dtype` on `device`. */
export interface DeviceData {
  readonly device: string;
  readonly dtype: DType;
  readonly length: number;
  /** ndarray's element accessors: device data is never read element by element. */
  get(i: number): number;
  set(i: number, v: number): void;
}
export type Data = TypedArray | DeviceData;

/** A view of CPU data (what the CPU backend and kernels take). */
export type Storage = ndarray.NdArray<TypedArray>;
/** A view of data on any device (what a Tensor holds). */
export type AnyStorage = ndarray.NdArray<Data>;

export const isDeviceData = (d: Data): d is DeviceData => !ArrayBuffer.isView(d);

export function view(data: TypedArray, shape: Shape, stride?: readonly number[], offset?: number): Storage;
export function view(data: Data, shape: Shape, stride?: readonly number[], offset?: number): AnyStorage;
export function view(data: Data, shape: Shape, stride?: readonly number[], offset = 0): AnyStorage {
  return ndarray(data, [...shape], stride ? [...stride] : contiguousStrides(shape), offset);
}

export const storageDType = (s: AnyStorage): DType => (isDeviceData(s.data) ? s.data.dtype : dtypeOf(s.data));

/** True for a CPU array that tidy() released (tidy.ts: detached, its length went to 0) while a view of it wants elements. */
export const isReleased = (data: unknown, size: number): boolean => ArrayBuffer.isView(data) && (data as TypedArray).length === 0 && size > 0;

/** `shape`: the stale tensor's; null for a raw array (batch-norm statistics made from a tensor). */
export function releasedError(op: string, shape: readonly number[] | null): TensorError {
  const what = shape ? `a tensor of shape ${fmtShape(shape)}` : 'an input array';
  return new TensorError(
    `${op}: ${what} was released by tidy() when the tidy that made it returned; return it from the tidy function, or keep() it, to use it afterwards.`,
  );
}

/**
 * The same view as a CPU storage, for `op` to read; a device view here is an engine bug (it must be
 * read back first); a view of an array tidy() released throws a TensorError naming `op`.
 */
export function cpuView(s: AnyStorage, op = 'a CPU read'): Storage {
  if (isDeviceData(s.data)) throw new InternalError(`a ${s.data.device} buffer reached CPU code without being read back`);
  if (isReleased(s.data, s.size)) throw releasedError(op, s.shape);
  return s as Storage;
}

/** True when the view's elements are its data array, in row-major order, from offset 0. */
export function isDense(s: AnyStorage): boolean {
  return s.offset === 0 && s.data.length === s.size && isRowMajor(s);
}

/** True when the strides are row-major (a contiguous block at some offset). Size-1 dims are free. */
export function isRowMajor(s: AnyStorage): boolean {
  let acc = 1;
  for (let i = s.shape.length - 1; i >= 0; i--) {
    if (s.shape[i] !== 1 && s.stride[i] !== acc) return false;
    acc *= s.shape[i];
  }
  return true;
}

/**
 * True when two elements of the view share one memory cell (a broadcast dim, or strides that
 * interleave): such a view cannot be written to. Each dim's |stride| must exceed the span of the
 * dims with smaller strides.
 */
export function hasInternalOverlap(s: AnyStorage): boolean {
  const dims = s.shape
    .map((n, d) => [n, Math.abs(s.stride[d])])
    .filter(([n]) => n > 1)
    .sort((a, b) => a[1] - b[1]);
  let span = 0;
  for (const [n, st] of dims) {
    if (st <= span) return true;
    span += st * (n - 1);
  }
  return false;
}

/** The elements in row-major order: the data itself when dense, else a fresh copy. */
export function contiguousData(s: Storage): TypedArray {
  if (isDense(s)) return s.data;
  if (isRowMajor(s)) return s.data.slice(s.offset, s.offset + s.size);
  return copyStrided(s);
}

/** A dense view with the same elements (shares data when already dense). */
export const contiguous = (s: Storage): Storage => (isDense(s) ? s : view(contiguousData(s), s.shape));

/** Copies any strided view into a new dense typed array. */
export function copyStrided(s: Storage): TypedArray {
  const out = alloc(storageDType(s), s.size);
  assign(view(out, s.shape), s);
  return out;
}

/** dst[...] = src[...] for two views of one shape: an odometer over the outer dims, a strided inner loop. */
export function assign(dst: Storage, src: Storage): void {
  const rank = src.shape.length;
  if (src.size === 0) return;
  if (rank === 0) {
    dst.data[dst.offset] = src.data[src.offset];
    return;
  }
  const shape = src.shape,
    n = shape[rank - 1];
  const ds = dst.stride,
    ss = src.stride,
    dI = ds[rank - 1],
    sI = ss[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let dp = dst.offset,
    sp = src.offset;
  for (let r = 0, rows = src.size / n; r < rows; r++) {
    for (let i = 0, a = dp, b = sp; i < n; i++, a += dI, b += sI) dst.data[a] = src.data[b];
    for (let d = rank - 2; d >= 0; d--) {
      dp += ds[d];
      sp += ss[d];
      if (++idx[d] < shape[d]) break;
      dp -= ds[d] * shape[d];
      sp -= ss[d] * shape[d];
      idx[d] = 0;
    }
  }
}

export const permute = <S extends AnyStorage>(s: S, dims: readonly number[]): S => s.transpose(...dims) as S;

/** Elements start, start+step, ... < end (step > 0) along dim. */
export function slice<S extends AnyStorage>(s: S, dim: number, start: number, end: number, step: number): S {
  const shape = [...s.shape],
    stride = [...s.stride];
  shape[dim] = Math.max(0, Math.ceil((end - start) / step));
  const offset = s.offset + start * stride[dim];
  stride[dim] *= step;
  return view(s.data, shape, stride, offset) as S;
}

/** Broadcast view: size-1 dims (and new leading dims) get stride 0. */
export function expand<S extends AnyStorage>(s: S, shape: Shape): S {
  const lead = shape.length - s.shape.length;
  const stride = shape.map((d, i) => (i < lead || s.shape[i - lead] !== d ? 0 : s.stride[i - lead]));
  return view(s.data, shape, stride, s.offset) as S;
}

export function flip<S extends AnyStorage>(s: S, dims: readonly number[]): S {
  const stride = [...s.stride];
  let offset = s.offset;
  for (const d of dims) {
    offset += (s.shape[d] - 1) * stride[d];
    stride[d] = -stride[d];
  }
  return view(s.data, s.shape, stride, offset) as S;
}

/** A reshaped view; the elements must be row-major in memory (`canView`), else reshape copies first (ops/movement.ts). */
export const reshapeView = <S extends AnyStorage>(s: S, shape: Shape): S => view(s.data, shape, undefined, s.offset) as S;

/** Whether `reshape` can be a view (PyTorch's `view` requires it). */
export const canView = (s: AnyStorage): boolean => isRowMajor(s);

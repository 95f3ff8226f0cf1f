// Typed-array allocation for the CPU backend.
// Tensor buffers live on plain ArrayBuffers: a fresh SharedArrayBuffer costs ~10x more to allocate
// (4 MiB: 28 ms vs 2.8 ms here), which dominated a training step. Threaded kernels copy their
// operands into reused shared scratch (`allocShared`, see threads.ts) instead.

import { MAX_NUMEL } from '../../shape.ts';
import { InternalError } from '../../errors.ts';

/** Element types: float32 (the default), float64 and int32 (indices, labels, masks). */
export type DType = 'float32' | 'float64' | 'int32';
export type FloatArray = Float32Array | Float64Array;
export type TypedArray = Float32Array | Float64Array | Int32Array;


const CTOR = { float32: Float32Array, float64: Float64Array, int32: Int32Array } as const;
const BYTES = { float32: 4, float64: 8, int32: 4 } as const;

/** A zero-filled typed array of `n` elements of `dtype`. */
export function alloc(dtype: 'float32', n: number): Float32Array;
export function alloc(dtype: 'float64', n: number): Float64Array;
export function alloc(dtype: 'int32', n: number): Int32Array;
export function alloc(dtype: DType, n: number): TypedArray;
export function alloc(dtype: DType, n: number): TypedArray {
  if (!(n <= MAX_NUMEL)) throw new InternalError(`alloc: ${n} elements of ${dtype}: ops check sizes against MAX_NUMEL first`);
  return new CTOR[dtype](n);
}

/**
 * A zero-filled typed array on a SharedArrayBuffer, visible to worker threads without a copy; on a
 * plain ArrayBuffer where there is no SharedArrayBuffer (a browser page that is not cross-origin
 * isolated, where the kernels run on one thread anyway).
 */
export function allocShared(dtype: DType, n: number): TypedArray {
  const buf = hasShared ? new SharedArrayBuffer(n * BYTES[dtype]) : new ArrayBuffer(n * BYTES[dtype]);
  return new CTOR[dtype](buf as unknown as ArrayBuffer); // lib.es2022 types omit SharedArrayBuffer here
}

export function dtypeOf(a: TypedArray): DType {
  return a instanceof Float32Array ? 'float32' : a instanceof Float64Array ? 'float64' : 'int32';
}

const hasShared = typeof SharedArrayBuffer === 'function';

export function isShared(a: TypedArray): boolean {
  return hasShared && a.buffer instanceof SharedArrayBuffer;
}

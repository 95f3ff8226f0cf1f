// Typed-array allocation for the CPU backend, and the pool of buffers the tape recycles.
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

/** A zero-filled typed array of `n` elements of `dtype` (a recycled one, zeroed, when the pool has one). */
export function alloc(dtype: 'float32', n: number): Float32Array;
export function alloc(dtype: 'float64', n: number): Float64Array;
export function alloc(dtype: 'int32', n: number): Int32Array;
export function alloc(dtype: DType, n: number): TypedArray;
export function alloc(dtype: DType, n: number): TypedArray {
  if (!(n <= MAX_NUMEL)) throw new InternalError(`alloc: ${n} elements of ${dtype}: ops check sizes against MAX_NUMEL first`);
  const a = pool.get(poolKey(dtype, n))?.pop();
  if (a !== undefined) {
    pooled.bytes -= a.byteLength;
    pooled.reused++;
    a.fill(0);
  }
  const out = a ?? new CTOR[dtype](n);
  if (fresh !== null) fresh.add(out);
  return out;
}

// --- the buffer pool ---------------------------------------------------------------------------
// A fresh ArrayBuffer costs far more than its size suggests: V8 counts it as external memory, and a
// training step's worth of them triggers a full GC per step. The tape (autograd/tape.ts) hands back
// the gradient buffers a backward pass made and consumed, and alloc reuses them by (dtype, length):
// in a training loop the shapes repeat, so most outputs come from the pool.

const pool = new Map<number, TypedArray[]>();
const poolKey = (dtype: DType, n: number): number => n * 3 + (dtype === 'float32' ? 0 : dtype === 'float64' ? 1 : 2);
/** Pool state, for tests and the profiler: bytes held, buffers recycled into it and reused from it. */
export const pooled = { bytes: 0, recycled: 0, reused: 0, maxBytes: 256 << 20 };
let fresh: WeakSet<TypedArray> | null = null;

/** While on, remembers the arrays alloc returns (a backward pass: only those may be recycled); returns the previous set. */
export function trackFresh(set: WeakSet<TypedArray> | null): WeakSet<TypedArray> | null {
  const prev = fresh;
  fresh = set;
  return prev;
}

/** Gives `a` to the pool. The caller guarantees nothing reads or writes `a` afterwards. */
export function recycle(a: TypedArray): void {
  if (a.length === 0 || isShared(a) || pooled.bytes + a.byteLength > pooled.maxBytes) return;
  const key = poolKey(dtypeOf(a), a.length);
  let bucket = pool.get(key);
  if (bucket === undefined) pool.set(key, (bucket = []));
  bucket.push(a);
  pooled.bytes += a.byteLength;
  pooled.recycled++;
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

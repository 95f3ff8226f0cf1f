// Typed-array allocation for the CPU backend, and the pool of buffers the tape and tidy() recycle.
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
  return take(dtype, n, true);
}

/**
 * A typed array of `n` elements of `dtype` whose contents are unspecified (a recycled one is not
 * zeroed): for a kernel that writes every element of its output. Under allocTuning.poison (the
 * tests) its elements are NaN (int32: POISON_I32), so a kernel that skips one is caught.
 */
export function allocOut(dtype: 'float32', n: number): Float32Array;
export function allocOut(dtype: 'float64', n: number): Float64Array;
export function allocOut(dtype: 'int32', n: number): Int32Array;
export function allocOut(dtype: DType, n: number): TypedArray;
export function allocOut(dtype: DType, n: number): TypedArray {
  const a = take(dtype, n, false);
  if (allocTuning.poison) a.fill(dtype === 'int32' ? POISON_I32 : Number.NaN);
  return a;
}

/** allocOut's poison switch, on in the tests (test/setup.ts). */
export const allocTuning = { poison: false };
export const POISON_I32 = -0x21524111; // 0xdeadbeef

function take(dtype: DType, n: number, zero: boolean): TypedArray {
  if (!(n <= MAX_NUMEL)) throw new InternalError(`alloc: ${n} elements of ${dtype}: ops check sizes against MAX_NUMEL first`);
  const a = pool.get(poolKey(dtype, n))?.pop();
  if (a !== undefined) {
    pooled.bytes -= a.byteLength;
    pooled.reused++;
    if (zero) a.fill(0);
  }
  const out = a ?? new CTOR[dtype](n);
  if (a === undefined) pooled.made++;
  if (fresh !== null) fresh.add(out);
  if (scope !== null) owners.set(out, scope);
  return out;
}

// --- the buffer pool ---------------------------------------------------------------------------
// A fresh ArrayBuffer costs far more than its size suggests: V8 counts it as external memory, and a
// training step's worth of them triggers a full GC per step. The tape (autograd/tape.ts) hands back
// the gradient buffers a backward pass made and consumed, tidy() (tidy.ts) the tensor buffers a
// step made and dropped, and alloc reuses them by (dtype, length): in a training loop the shapes
// repeat, so most outputs come from the pool.

const pool = new Map<number, TypedArray[]>();
const poolKey = (dtype: DType, n: number): number => n * 3 + (dtype === 'float32' ? 0 : dtype === 'float64' ? 1 : 2);
/** Pool state, for tests and the profiler: bytes held, buffers recycled into it and reused from it, fresh arrays made. */
export const pooled = { bytes: 0, recycled: 0, reused: 0, made: 0, maxBytes: 256 << 20 };
let fresh: WeakSet<TypedArray> | null = null;

/** While on, remembers the arrays alloc returns (a backward pass: only those may be recycled); returns the previous set. */
export function trackFresh(set: WeakSet<TypedArray> | null): WeakSet<TypedArray> | null {
  const prev = fresh;
  fresh = set;
  return prev;
}

/** Gives `a` to the pool. The caller guarantees nothing reads or writes `a` afterwards. */
export function recycle(a: TypedArray): void {
  owners.delete(a); // a pooled array belongs to no scope until alloc hands it out again
  if (a.length === 0 || isShared(a) || pooled.bytes + a.byteLength > pooled.maxBytes) return;
  const key = poolKey(dtypeOf(a), a.length);
  let bucket = pool.get(key);
  if (bucket === undefined) pool.set(key, (bucket = []));
  bucket.push(a);
  pooled.bytes += a.byteLength;
  pooled.recycled++;
}

// --- scopes (tidy.ts) ----------------------------------------------------------------------------
// While a scope is open, alloc records it as the owner of each array it hands out, and a Tensor
// made over such an array (noteTensorData, from the constructor) adds the array to its owner's
// buffers: so kernel scratch (never a tensor's data) is never a scope's to release.

/** The tensor buffers a tidy() scope owns, in the order they became tensor data. */
export interface BufferScope {
  readonly buffers: Set<TypedArray>;
}
let scope: BufferScope | null = null;
const owners = new WeakMap<TypedArray, BufferScope>();

/** Makes `s` the scope alloc records as owner (null: none). */
export const setScope = (s: BufferScope | null): void => void (scope = s);
export const ownerOf = (a: TypedArray): BufferScope | undefined => owners.get(a);
/** Moves `a` to scope `s` (null: to no scope, never to be released). */
export function setOwner(a: TypedArray, s: BufferScope | null): void {
  if (s === null) return void owners.delete(a);
  owners.set(a, s);
  s.buffers.add(a);
}

/** Called for each new Tensor: a CPU array alloc made in an open scope becomes one of its buffers. */
export function noteTensorData(d: TypedArray | object): void {
  if (scope === null || !ArrayBuffer.isView(d)) return;
  owners.get(d as TypedArray)?.buffers.add(d as TypedArray);
}

/**
 * Smaller arrays are left to the garbage collector (and stay readable): V8 keeps typed arrays of up
 * to 64 bytes on its own heap, not in external memory, and detaching one would move it out first.
 */
export const RELEASE_MIN_BYTES = 65;

/**
 * Releases `a`: its memory moves to a new ArrayBuffer (a zero-copy transfer) that goes to the pool,
 * and `a`, with every view of it, is left detached (length 0), so a stale tensor over it reads
 * nothing: the backend and cpuView refuse such a tensor (tidy.ts). Returns false (nothing done)
 * for an array that cannot move: on a SharedArrayBuffer, or a view of part of a larger buffer.
 */
export function release(a: TypedArray): boolean {
  owners.delete(a);
  if (a.byteLength < RELEASE_MIN_BYTES || isShared(a) || a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength) return false;
  const buf = a.buffer as ArrayBuffer & { transfer?: () => ArrayBuffer }; // not shared: checked above
  const moved = buf.transfer ? buf.transfer() : structuredClone(buf, { transfer: [buf] }); // ES2024's transfer where there is one (not Node 20)
  recycle(new CTOR[dtypeOf(a)](moved));
  return true;
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

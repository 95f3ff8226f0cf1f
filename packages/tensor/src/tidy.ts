// tidy(fn) and keep(t), after TF.js: the CPU buffers of the tensors fn makes go back to the buffer
// pool (backend/cpu/alloc.ts) when fn returns, except those still in use: the tensors fn returns
// (found in arrays and plain objects), those passed to keep(), and state that outlives the step (a
// leaf's .grad; @lad/nn keeps parameters, buffers and optimizer state). A released buffer is
// detached (its memory moves to the pool), so a stale tensor over it holds no data: every CPU read
// (the backend's ops, data(), item()) throws a TensorError naming the op, never a wrong answer.
// A training loop that tidies its step reuses the same buffers step after step instead of making
// ~100 MB of fresh ArrayBuffers, whose external-memory pressure set off V8's full GCs.

import { Tensor } from './tensor.ts';
import { TensorError } from './errors.ts';
import { isReleased, releasedError } from './storage.ts';
import { release, setOwner, setScope, ownerOf, type BufferScope, type TypedArray } from './backend/cpu/alloc.ts';
import type { Backend } from './backend/backend.ts';

/** One open tidy(): its buffers, and tensors that reached it carrying an autograd graph. */
class Scope implements BufferScope {
  readonly buffers = new Set<TypedArray>();
  /** Tensors that may still backward (returned by an inner tidy, kept, or a leaf's grad): while one does, nothing is released. */
  readonly graphs: Tensor[] = [];
  /** Leaves whose .grad was set in this scope: their gradients are state, not garbage. */
  readonly gradLeaves = new Set<Tensor>();
  constructor(readonly parent: Scope | null) {}
}

let current: Scope | null = null;

/** Counts of what tidy() did, for tests and benchmarks: scopes closed, buffers released. */
export const tidyStats = { scopes: 0, released: 0 };

/**
 * Runs `fn` and releases the CPU buffers of the tensors it made, except those it returns (a tensor,
 * or tensors in arrays, plain objects and Maps, at any depth), those passed to keep(), and leaves'
 * gradients; a returned tensor that can still backward keeps everything (its graph may read any of
 * it). Using a released tensor throws. Nested tidies hand what they return to the enclosing one.
 * `fn` must be synchronous: a returned Promise throws (nothing is released).
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`tidy: expected a function: got ${describe(fn)}.`);
  const scope = new Scope(current);
  setScope((current = scope));
  let result: T;
  try {
    result = fn();
  } catch (e) {
    leave(scope);
    close(scope, undefined, false); // a throwing fn returns nothing: all it made but kept tensors and grads is released
    throw e;
  }
  leave(scope);
  if (isPromise(result)) {
    close(scope, null, true);
    throw new TensorError(
      'tidy: fn returned a Promise: tidy takes a synchronous function (await outside it, or tidy each synchronous part); nothing was released.',
    );
  }
  close(scope, result, false);
  return result;
}

function leave(scope: Scope): void {
  setScope((current = scope.parent));
}

/** Marks `t`'s buffer as never to be released by tidy (it may live past every enclosing tidy); returns t. */
export function keep<T extends Tensor>(t: T): T {
  if (!(t instanceof Tensor)) throw new TypeError(`keep: expected a Tensor: got ${describe(t)}.`);
  const d = t.storage.data;
  if (ArrayBuffer.isView(d)) setOwner(d, null);
  if (current !== null && live(t)) current.graphs.push(t);
  return t;
}

/** Called when a leaf's .grad is set (tensor.ts): the gradient outlives the scope. */
export function noteGrad(leaf: Tensor): void {
  if (current !== null) current.gradLeaves.add(leaf);
}

function close(scope: Scope, result: unknown, keepAll: boolean): void {
  tidyStats.scopes++;
  const out: Tensor[] = [];
  collect(result, out, new Set());
  for (const leaf of scope.gradLeaves) if (leaf.grad !== null) out.push(leaf.grad);
  const parent = scope.parent;
  const escaping = [...out, ...scope.graphs];
  if (keepAll || escaping.some(live)) {
    for (const d of scope.buffers) if (ownerOf(d) === scope) setOwner(d, parent);
    parent?.graphs.push(...escaping.filter(live));
  } else {
    const kept = new Set<unknown>(out.map((t) => t.storage.data));
    for (const d of scope.buffers) {
      if (ownerOf(d) !== scope) continue; // pooled by a backward pass since, kept, or handed back out
      if (kept.has(d)) setOwner(d, parent);
      else if (release(d)) tidyStats.released++;
    }
  }
  if (parent) for (const leaf of scope.gradLeaves) parent.gradLeaves.add(leaf);
}

/** A tensor whose graph can still backward (a freed node has no rule). */
const live = (t: Tensor): boolean => t.gradFn !== null && t.gradFn.rule !== null;

/** The tensors in a result: itself, or inside arrays and plain objects (own data properties only: no getter runs). */
function collect(v: unknown, out: Tensor[], seen: Set<object>): void {
  if (v instanceof Tensor) return void out.push(v);
  if (typeof v !== 'object' || v === null || seen.has(v)) return;
  seen.add(v);
  if (Array.isArray(v)) for (const x of v) collect(x, out, seen);
  else if (v instanceof Map) for (const x of v.values()) collect(x, out, seen);
  else if (isPlain(v)) for (const d of Object.values(Object.getOwnPropertyDescriptors(v))) if ('value' in d) collect(d.value, out, seen);
}

const isPlain = (v: object): boolean => Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null;
const isPromise = (v: unknown): boolean => typeof (v as { then?: unknown } | null)?.then === 'function';
const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

// --- the guard ----------------------------------------------------------------------------------

/**
 * The CPU backend with every primitive checking its arguments first: a storage over a released
 * array (or a raw released array, as batch-norm statistics) throws, naming the op (the primitive,
 * or the elementwise/reduce op it was given), instead of reading nothing or writing nowhere.
 */
export function guardReleased<S>(b: Backend<S>): Backend<S> {
  const out: Record<string, unknown> = { ...b };
  for (const [name, fn] of Object.entries(b)) {
    if (typeof fn !== 'function') continue;
    const op = OP_NAMES[name] ?? name;
    out[name] = (...args: unknown[]) => {
      for (const a of args) check(typeof args[0] === 'string' ? args[0] : op, a);
      return (fn as (...a: unknown[]) => unknown)(...args);
    };
  }
  return out as unknown as Backend<S>;
}

/** Primitives named after the op users call (the rest share their op's name, or get it as their first argument). */
const OP_NAMES: Record<string, string> = { assign: 'copy_', bmm: 'matmul', cast: 'clone, contiguous, reshape or to' };

function check(op: string, a: unknown): void {
  if (typeof a !== 'object' || a === null) return;
  if (ArrayBuffer.isView(a)) {
    if (isReleased(a, 1)) throw releasedError(op, null);
  } else if (Array.isArray(a)) for (const x of a) check(op, x);
  else if ('stride' in a && 'data' in a) {
    const s = a as unknown as { data: unknown; size: number; shape: number[] };
    if (isReleased(s.data, s.size)) throw releasedError(op, s.shape);
  } else if ('invstd' in a) for (const x of Object.values(a)) check(op, x); // batch-norm statistics
}

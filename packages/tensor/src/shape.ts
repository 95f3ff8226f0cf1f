// Shape helpers: formatting, broadcasting, dim normalisation and size checks.
// Every op validates its arguments through these so that errors read the same everywhere.

import { ShapeError, ValueError } from './errors.ts';

export type Shape = readonly number[];

/** `[2, 3, 64, 64]` */
export const fmtShape = (s: Shape): string => `[${s.join(', ')}]`;

export const numel = (s: Shape): number => s.reduce((a, b) => a * b, 1);

/**
 * The most elements one tensor may have: 2^31 − 1, so that every flat index fits int32 (argmax,
 * gather and pooling indices are int32) and every buffer fits a typed array. Every op checks the
 * shapes it creates here before allocating (creation, broadcasting, expand, pad, cat, matmul,
 * conv/pool/resize outputs, oneHot), so a shape too large is a ShapeError naming the op and the
 * shape, never the engine's `RangeError: Invalid typed array length`.
 */
export const MAX_NUMEL = 2 ** 31 - 1;

/** numel(s), or a ShapeError naming the op and the shape when above MAX_NUMEL. */
export function checkNumel(op: string, s: Shape, what = 'shape'): number {
  const n = numel(s);
  if (!(n <= MAX_NUMEL)) throw new ShapeError(`${op}: ${what} ${fmtShape(s)} has ${n} elements, more than a tensor can hold (${MAX_NUMEL} = 2^31 − 1).`);
  return n;
}

export const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Contiguous (row-major) strides of a shape. */
export function contiguousStrides(s: Shape): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

/** Resolves a possibly negative dim against `rank`, or throws naming the op. */
export function normalizeDim(op: string, dim: number, rank: number, arg = 'dim'): number {
  const lo = rank === 0 ? -1 : -rank;
  const hi = rank === 0 ? 0 : rank - 1;
  if (!Number.isInteger(dim) || dim < lo || dim > hi) {
    throw new ShapeError(`${op}: ${arg} ${dim} is out of range for a tensor of rank ${rank}: expected an integer in [${lo}, ${hi}].`);
  }
  return dim < 0 ? dim + Math.max(rank, 1) : dim;
}

/** Normalises a list of dims (null/undefined = all dims), rejecting repeats. Sorted ascending. */
export function normalizeDims(op: string, dims: number | readonly number[] | null | undefined, rank: number): number[] {
  if (dims === null || dims === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : dims;
  const out = list.map((d) => normalizeDim(op, d, rank));
  if (new Set(out).size !== out.length) {
    throw new ShapeError(`${op}: dim ${fmtShape(list)} repeats a dim (resolved ${fmtShape(out)}).`);
  }
  return out.sort((a, b) => a - b);
}

/** NumPy/PyTorch broadcasting of two shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast: dim ${i - n} is ${da} vs ${db}, expected equal sizes or a 1.`);
    }
    out[i] = da === 1 ? db : da;
  }
  checkNumel(op, out, 'the broadcast shape');
  return out;
}

/** Whether `from` broadcasts to exactly `to` (the rule of expand). */
export const broadcastsTo = (from: Shape, to: Shape): boolean =>
  from.length <= to.length && from.every((d, i) => d === 1 || d === to[to.length - from.length + i]);

/** Checks a user-supplied shape: non-negative integers. */
export function checkShape(op: string, s: Shape, arg = 'shape'): number[] {
  if (!Array.isArray(s) || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ValueError(`${op}: ${arg} must be a list of non-negative integers: got ${Array.isArray(s) ? fmtShape(s) : String(s)}.`);
  }
  checkNumel(op, s, arg);
  return [...s];
}

/** `n` as a positive integer, or throws. */
export function checkPositiveInt(op: string, arg: string, n: number): number {
  if (!Number.isInteger(n) || n <= 0) throw new ValueError(`${op}: ${arg} must be a positive integer: got ${n}.`);
  return n;
}

/** `n` as a non-negative integer, or throws. */
export function checkNonNegInt(op: string, arg: string, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new ValueError(`${op}: ${arg} must be a non-negative integer: got ${n}.`);
  return n;
}

/** An int or [h, w] pair as [h, w]. */
export function pair(op: string, arg: string, v: number | readonly number[]): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (!Array.isArray(v) || v.length !== 2) throw new ValueError(`${op}: ${arg} must be an int or a pair [h, w]: got ${JSON.stringify(v)}.`);
  return [v[0], v[1]];
}

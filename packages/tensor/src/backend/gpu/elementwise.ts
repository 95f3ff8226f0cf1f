// Elementwise gpu.js kernels over strided views: one factory (`mapKernel`) for unary maps, binary
// maps (broadcasting arrives as stride-0 views), where and casts. The expression tables mirror the
// CPU ones (cpu/elementwise.ts) in the subset of JavaScript gpu.js translates; the compiler checks
// that no op is missing.

import type { DType } from '../cpu/alloc.ts';
import type { BinaryOp, UnaryOp } from '../cpu/elementwise.ts';
import type { AnyStorage } from '../../storage.ts';
import { asGpu, launch, type GpuBuffer } from './runtime.ts';
import { Src, stridedReads } from './codegen.ts';

const UNARY: Record<UnaryOp, string> = {
  neg: '-a',
  exp: 'Math.exp(a)',
  log: 'Math.log(a)',
  sqrt: 'Math.sqrt(a)',
  rsqrt: '1.0 / Math.sqrt(a)',
  abs: 'Math.abs(a)',
  sign: 'Math.sign(a)',
  relu: 'a > 0.0 ? a : 0.0',
  sigmoid: '1.0 / (1.0 + Math.exp(-a))',
  tanh: 'Math.tanh(a)',
};

const BINARY: Record<BinaryOp, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  // shader pow is undefined for a < 0: take |a|^b and restore the sign for odd integer b
  pow: '(a < 0.0 && Math.floor(b) === b) ? (Math.floor(b / 2.0) * 2.0 === b ? 1.0 : -1.0) * Math.pow(-a, b) : Math.pow(a, b)',
  maximum: 'a > b ? a : b',
  minimum: 'a < b ? a : b',
  eq: 'a === b ? 1.0 : 0.0',
  ne: 'a !== b ? 1.0 : 0.0',
  lt: 'a < b ? 1.0 : 0.0',
  le: 'a <= b ? 1.0 : 0.0',
  gt: 'a > b ? 1.0 : 0.0',
  ge: 'a >= b ? 1.0 : 0.0',
  reluBackward: 'b > 0.0 ? a : 0.0',
};

/** out[i] = expr(a, b, c) over same-shape views, into a dense buffer of `dtype`. */
export function mapKernel(name: string, expr: string, views: readonly AnyStorage[], dtype: DType): GpuBuffer {
  const src = new Src();
  const args = views.map((_, k) => `x${k}`);
  const vals = stridedReads(src, views, args);
  ['a', 'b', 'c'].slice(0, views.length).forEach((n, k) => src.line(`const ${n} = ${vals[k]};`));
  return launch(src.spec(name, views[0].size, args, expr), views.map(asGpu), dtype);
}

export const unary = (op: UnaryOp, x: AnyStorage, dtype: DType): GpuBuffer => mapKernel(op, UNARY[op], [x], dtype);
export const binary = (op: BinaryOp, a: AnyStorage, b: AnyStorage, dtype: DType): GpuBuffer => mapKernel(op, BINARY[op], [a, b], dtype);
export const where = (c: AnyStorage, a: AnyStorage, b: AnyStorage, dtype: DType): GpuBuffer => mapKernel('where', 'a !== 0.0 ? b : c', [c, a, b], dtype);
/** Dense copy with conversion (truncation toward zero into int32). */
export const cast = (x: AnyStorage, dtype: DType): GpuBuffer =>
  mapKernel('cast', dtype === 'int32' ? '(a < 0.0 ? Math.ceil(a) : Math.floor(a))' : 'a', [x], dtype);

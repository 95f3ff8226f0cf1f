// The Backend interface: the primitives every device implements, and the registry that maps a
// tensor's device to its backend. Ops (ops/*.ts) validate, infer shapes, call one of these, and
// write the gradient rule in Tensor ops, so a gradient is never written per backend.
// Inputs may be strided views; outputs are fresh dense arrays in row-major order.

import type { DType, TypedArray } from './cpu/alloc.ts';
import type { BinaryOp, UnaryOp } from './cpu/elementwise.ts';
import type { ReduceOp } from './cpu/reduce.ts';
import type { Conv2dGeom } from './cpu/conv.ts';
import type { Pool2dGeom } from './cpu/pool.ts';
import type { BnStats } from './cpu/norm.ts';
import type { Storage } from '../storage.ts';
import { DeviceError } from '../errors.ts';

export type { Conv2dGeom, Pool2dGeom, UnaryOp, BinaryOp, ReduceOp, BnStats };

export interface Backend {
  readonly name: string;
  unary(op: UnaryOp, x: Storage, dtype: DType): TypedArray;
  /** a and b have the same shape (broadcasting arrives as stride-0 views). */
  binary(op: BinaryOp, a: Storage, b: Storage, dtype: DType): TypedArray;
  where(cond: Storage, a: Storage, b: Storage, dtype: DType): TypedArray;
  cast(x: Storage, dtype: DType): TypedArray;
  /** In place: dst[...] = src[...] (same shape; src may be a broadcast view). */
  assign(dst: Storage, src: Storage): void;
  reduce(op: ReduceOp, x: Storage, dims: readonly number[], dtype: DType): { values: TypedArray; indices: Int32Array | null };
  /** [B, M, K] @ [B, K, N] → [B, M, N]; batch strides may be 0. */
  bmm(a: Storage, b: Storage, dtype: DType): TypedArray;
  conv2d(x: Storage, w: Storage, bias: Storage | null, g: Conv2dGeom): TypedArray;
  conv2dBackwardInput(gy: Storage, w: Storage, g: Conv2dGeom): TypedArray;
  conv2dBackwardWeight(x: Storage, gy: Storage, g: Conv2dGeom): TypedArray;
  maxPool2d(x: Storage, g: Pool2dGeom): { values: TypedArray; indices: Int32Array };
  maxPool2dBackward(gy: Storage, indices: Storage, g: Pool2dGeom): TypedArray;
  avgPool2d(x: Storage, g: Pool2dGeom, countIncludePad: boolean): TypedArray;
  avgPool2dBackward(gy: Storage, g: Pool2dGeom, countIncludePad: boolean): TypedArray;
  adaptiveAvgPool2d(x: Storage, oh: number, ow: number): TypedArray;
  adaptiveAvgPool2dBackward(gy: Storage, h: number, w: number): TypedArray;
  resize(x: Storage, oh: number, ow: number, mode: 'bilinear' | 'nearest', alignCorners: boolean): TypedArray;
  resizeBackward(gy: Storage, h: number, w: number, mode: 'bilinear' | 'nearest', alignCorners: boolean): TypedArray;
  /** Batch norm over (N, C, ...): batch statistics, the normalised affine output, its gradients. */
  batchNormStats(x: Storage, eps: number): BnStats;
  batchNorm(x: Storage, stats: BnStats, w: Storage | null, b: Storage | null): TypedArray;
  batchNormBackward(gy: Storage, x: Storage, stats: BnStats, w: Storage | null, training: boolean): { gx: TypedArray; gw: Float64Array; gb: Float64Array };
  /** Constant padding: pads[d] = [before, after] for every dim (negative crops). */
  pad(x: Storage, pads: readonly (readonly [number, number])[], value: number): TypedArray;
  cat(xs: readonly Storage[], dim: number, dtype: DType): TypedArray;
  /** out[i][j][k] = x[i][index[i][j][k]][k] along `dim` (index already validated). */
  gather(x: Storage, dim: number, index: Storage): TypedArray;
  /** The adjoint of gather: zeros of `shape`, then out[..index..] += src. */
  scatterAdd(shape: readonly number[], dim: number, index: Storage, src: Storage): TypedArray;
}

const registry = new Map<string, Backend>();

export function registerBackend(device: string, b: Backend): void {
  registry.set(device, b);
}

export function backendFor(device: string): Backend {
  const b = registry.get(device);
  if (!b) throw new DeviceError(`device '${device}' has no backend; call await initBackend('${device}') first.`);
  return b;
}

// The Backend interface: the primitives every device implements, and the registry that maps a
// tensor's device to its backend. Ops (ops/*.ts) validate, infer shapes, call one of these, and
// write the gradient rule in Tensor ops, so a gradient is never written per backend.
// Inputs may be strided views; outputs are fresh dense buffers in row-major order on the inputs'
// device (typed arrays on the CPU). `S` is the storage a backend takes: the CPU backend takes CPU
// views only, which the registry guarantees (dispatch is by the tensor's device).

import type { DType, TypedArray } from './cpu/alloc.ts';
import type { BinaryOp, UnaryOp } from './cpu/elementwise.ts';
import type { ReduceOp } from './cpu/reduce.ts';
import type { Conv2dGeom } from './cpu/conv.ts';
import type { Pool2dGeom } from './cpu/pool.ts';
import type { SgdKernelOptions } from './cpu/optim.ts';
import type { AnyStorage, Data, DeviceData } from '../storage.ts';
import { DeviceError } from '../errors.ts';

export type { Conv2dGeom, Pool2dGeom, UnaryOp, BinaryOp, ReduceOp, Data, DeviceData };

/** Per-channel batch mean and 1/sqrt(var + eps), on the device of the input. */
export interface BnStats {
  mean: Data;
  invstd: Data;
}

/** The primitives a device implements (elementwise, reductions, matmul, convolutions, movement); ops dispatch to them. */
export interface Backend<Storage = AnyStorage> {
  readonly name: string;
  unary(op: UnaryOp, x: Storage, dtype: DType): Data;
  /** a and b have the same shape (broadcasting arrives as stride-0 views). */
  binary(op: BinaryOp, a: Storage, b: Storage, dtype: DType): Data;
  where(cond: Storage, a: Storage, b: Storage, dtype: DType): Data;
  cast(x: Storage, dtype: DType): Data;
  /** In place: dst[...] = src[...] (same shape; src may be a broadcast view). */
  assign(dst: Storage, src: Storage): void;
  reduce(op: ReduceOp, x: Storage, dims: readonly number[], dtype: DType): { values: Data; indices: Data | null };
  /** [B, M, K] @ [B, K, N] → [B, M, N]; batch strides may be 0. */
  bmm(a: Storage, b: Storage, dtype: DType): Data;
  conv2d(x: Storage, w: Storage, bias: Storage | null, g: Conv2dGeom): Data;
  conv2dBackwardInput(gy: Storage, w: Storage, g: Conv2dGeom): Data;
  conv2dBackwardWeight(x: Storage, gy: Storage, g: Conv2dGeom): Data;
  maxPool2d(x: Storage, g: Pool2dGeom): { values: Data; indices: Data };
  maxPool2dBackward(gy: Storage, indices: Storage, g: Pool2dGeom): Data;
  avgPool2d(x: Storage, g: Pool2dGeom, countIncludePad: boolean): Data;
  avgPool2dBackward(gy: Storage, g: Pool2dGeom, countIncludePad: boolean): Data;
  adaptiveAvgPool2d(x: Storage, oh: number, ow: number): Data;
  adaptiveAvgPool2dBackward(gy: Storage, h: number, w: number): Data;
  resize(x: Storage, oh: number, ow: number, mode: 'bilinear' | 'nearest', alignCorners: boolean): Data;
  resizeBackward(gy: Storage, h: number, w: number, mode: 'bilinear' | 'nearest', alignCorners: boolean): Data;
  /** Batch norm over (N, C, ...): batch statistics, the normalised affine output, its gradients. */
  batchNormStats(x: Storage, eps: number): BnStats;
  /** With `relu`, the output is relu(y) (batch norm + ReLU in one pass). */
  batchNorm(x: Storage, stats: BnStats, w: Storage | null, b: Storage | null, relu: boolean): Data;
  /** `reluOut`: the output of a fused batch norm + ReLU; gy is first masked where it is not > 0. */
  batchNormBackward(gy: Storage, x: Storage, stats: BnStats, w: Storage | null, training: boolean, reluOut: Storage | null): { gx: Data; gw: Data; gb: Data };
  /** In place on dense, distinct rm and rv: running = (1 − momentum)·running + momentum·batch, the variance unbiased (× M/(M − 1)) from stats.invstd. */
  batchNormRunningStats(rm: Storage, rv: Storage, stats: BnStats, eps: number, M: number, momentum: number): void;
  /** log_softmax along `dim`: x − max − log Σ exp(x − max) (dense, x's shape); with `probs`, softmax(x) too. */
  logSoftmax(x: Storage, dim: number, probs: boolean): { y: Data; p: Data | null };
  /** The input gradient of logSoftmax from the probabilities p = softmax(x): g − p·Σ_dim g. */
  logSoftmaxBackward(gy: Storage, p: Storage, dim: number): Data;
  /** Constant padding: pads[d] = [before, after] for every dim (negative crops). */
  pad(x: Storage, pads: readonly (readonly [number, number])[], value: number): Data;
  cat(xs: readonly Storage[], dim: number, dtype: DType): Data;
  /** out[i][j][k] = x[i][index[i][j][k]][k] along `dim` (index already validated). */
  gather(x: Storage, dim: number, index: Storage): Data;
  /** The adjoint of gather: zeros of `shape`, then out[..index..] += src. */
  scatterAdd(shape: readonly number[], dim: number, index: Storage, src: Storage): Data;
  /** torch.optim.SGD's update after its first step, in place on p and b (the momentum buffer; null without momentum): same-shape float views, row-major on the CPU. */
  sgdUpdate(p: Storage, grad: Storage, b: Storage | null, o: SgdKernelOptions): void;
}

/** A backend whose data lives off the CPU: transfers, reads, and checks deferred to the next read. */
export interface DeviceBackend extends Backend {
  /** A dense device copy of CPU data (int32 stays int32). */
  upload(data: TypedArray): DeviceData;
  /** The view's elements in row-major order, read back now; throws where reads are asynchronous (webgpu). */
  readSync(x: AnyStorage): TypedArray;
  /** The view's elements in row-major order, after every queued kernel has run. */
  read(x: AnyStorage): Promise<TypedArray>;
  /** Runs every queued kernel, then the deferred checks. */
  flush(): Promise<void>;
  /** A check the op cannot make without reading back: at the next flush or read, a nonzero `count` (a 1-element view) throws `error()`. */
  deferCheck(count: AnyStorage, error: () => Error): void;
}

const registry = new Map<string, Backend>();

/** Makes `b` the backend of `device` (the CPU one is registered on import; initBackend registers the GPU one). */
export function registerBackend(device: string, b: Backend): void {
  registry.set(device, b);
}
export function unregisterBackend(device: string): void {
  registry.delete(device);
}
export const hasBackend = (device: string): boolean => registry.has(device);

export function deviceBackend(device: string, op = 'to'): DeviceBackend {
  const b = backendFor(device, op);
  if (!('upload' in b)) throw new DeviceError(`${op}: device '${device}' is the host; it has no transfers.`);
  return b as DeviceBackend;
}

/** The backend of `device`; throws a DeviceError naming `op` when there is none. */
export function backendFor(device: string, op?: string): Backend {
  const b = registry.get(device);
  if (!b) throw new DeviceError(`${op ? op + ': ' : ''}device '${device}' has no backend; call await initBackend('${device}') first.`);
  return dispatchHook === null ? b : dispatchHook(b);
}

/** While a profiler runs (profile.ts), every dispatch goes through its wrapper of the backend; else null. */
let dispatchHook: ((b: Backend) => Backend) | null = null;
export const setDispatchHook = (h: typeof dispatchHook): void => void (dispatchHook = h);

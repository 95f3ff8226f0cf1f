// class Tensor: a strided view of storage (a typed array on the CPU, a device buffer on the GPU)
// plus autograd state (requiresGrad, grad, gradFn). Every method is sugar over a function in ops/,
// so `x.add(y)` and `add(x, y)` agree. Reads (`data`, `toArray`, `item`) are synchronous; on a
// device whose reads are asynchronous (webgpu) use their `...Async` forms, which work everywhere.

import type { DType, TypedArray } from './backend/cpu/alloc.ts';
import { DeviceError, DTypeError, ShapeError, TensorError } from './errors.ts';
import { broadcastsTo, fmtShape, sameShape } from './shape.ts';
import { contiguousData, cpuView, hasInternalOverlap, isDeviceData, storageDType, view, type AnyStorage, type Data } from './storage.ts';
import { isGradEnabled, noGrad, propagate, type BackwardOptions, type Node } from './autograd/tape.ts';
import { noteTensorData } from './backend/cpu/alloc.ts';
import { noteGrad } from './tidy.ts';
import { backendFor, deviceBackend } from './backend/backend.ts';
import * as E from './ops/elementwise.ts';
import * as R from './ops/reduce.ts';
import * as M from './ops/movement.ts';
import { matmul } from './ops/linalg.ts';
import { softmax, logSoftmax } from './ops/nnfunc.ts';
import { onesLike } from './ops/create.ts';
import { scalarLike } from './ops/util.ts';

export type { DType };
/** Where a tensor lives: 'cpu', or 'gpu' after initBackend('gpu'). */
export type Device = 'cpu' | 'gpu';
/** A tensor, or a number that broadcasts as a scalar. */
export type TensorLike = Tensor | number;
/** Nested JS arrays of numbers (any depth). */
export type NestedArray = number | NestedArray[];

/** Counts in-place writes to a storage; shared by every view of it (PyTorch's version counter). */
export interface Version {
  n: number;
}

/** A strided view of storage on a device, with autograd state (requiresGrad, grad, gradFn); its methods mirror the op functions. */
// biome-ignore format: the class reads as a table: one line per method
export class Tensor {
  /** Tensors created by ops get a grad node; user-created ones are leaves. */
  gradFn: Node | null = null;
  requiresGrad = false;
  #grad: Tensor | null = null;

  /** `version`: pass the base tensor's for a view of its storage (autograd checks it, see record()). */
  constructor(readonly storage: AnyStorage, readonly version: Version = { n: 0 }) {
    noteTensorData(storage.data); // an open tidy() owns the CPU buffers its ops made (tidy.ts)
  }

  /** The accumulated gradient of a leaf (set by backward; null until then and after zeroGrad). */
  get grad(): Tensor | null {
    return this.#grad;
  }
  set grad(g: Tensor | null) {
    this.#grad = g;
    if (g !== null) noteGrad(this); // state that outlives an enclosing tidy()
  }

  /** Wraps a dense buffer (a typed array, or device data) of `shape` (no copy). */
  static fromData(data: Data, shape: readonly number[]): Tensor {
    if (data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new ShapeError(`tensor: ${data.length} values do not fill shape ${fmtShape(shape)}.`);
    }
    return new Tensor(view(data, shape));
  }

  get shape(): readonly number[] {
    return this.storage.shape;
  }
  get device(): Device {
    return isDeviceData(this.storage.data) ? (this.storage.data.device as Device) : 'cpu';
  }
  get dtype(): DType {
    return storageDType(this.storage);
  }
  get ndim(): number {
    return this.storage.shape.length;
  }
  get size(): number {
    return this.storage.size;
  }
  /** PyTorch's numel(). */
  numel(): number {
    return this.storage.size;
  }
  get isLeaf(): boolean {
    return this.gradFn === null;
  }
  get isFloat(): boolean {
    return this.dtype !== 'int32';
  }

  /** The elements in row-major order as a new dense typed array. */
  data(): TypedArray {
    if (isDeviceData(this.storage.data)) return deviceBackend(this.device).readSync(this.storage);
    const d = contiguousData(cpuView(this.storage, 'data'));
    return d === this.storage.data ? d.slice() : d;
  }
  /** `data()` after every queued kernel has run: the read that works on every device. */
  async dataAsync(): Promise<TypedArray> {
    return isDeviceData(this.storage.data) ? deviceBackend(this.device).read(this.storage) : this.data();
  }
  /** Nested JS arrays, like `tensor.tolist()`. */
  toArray(): NestedArray {
    return this.nest(this.data());
  }
  async toArrayAsync(): Promise<NestedArray> {
    return this.nest(await this.dataAsync());
  }
  private nest(flat: TypedArray): NestedArray {
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.ndim) return flat[off];
      const step = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }
  /** The value of a one-element tensor. */
  item(): number {
    this.checkItem();
    return isDeviceData(this.storage.data) ? this.data()[0] : cpuView(this.storage, 'item').data[this.storage.offset];
  }
  async itemAsync(): Promise<number> {
    this.checkItem();
    return (await this.dataAsync())[0];
  }
  private checkItem(): void {
    if (this.size !== 1) throw new ShapeError(`item: only one-element tensors can be converted to a number: got shape ${fmtShape(this.shape)}.`);
  }

  /** Marks a leaf as requiring a gradient (in place), like `requires_grad_()`. */
  requiresGrad_(flag = true): this {
    if (!this.isLeaf && !flag) throw new TensorError('requiresGrad_: cannot unset requiresGrad on a non-leaf tensor; use detach().');
    if (flag && !this.isFloat) throw new DTypeError(`requiresGrad_: only float tensors can require gradients: got ${this.dtype}.`);
    this.requiresGrad = flag;
    return this;
  }
  /** The same storage, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.storage, this.version);
  }
  /** A copy that owns its (dense) data, cut from the graph. */
  clone(): Tensor {
    return M.clone(this);
  }
  to(target: DType | Device): Tensor {
    return M.to(this, target);
  }
  cpu(): Tensor {
    return M.to(this, 'cpu');
  }
  /** `to('cpu')` after every queued kernel has run: the move back that works on every device. */
  async cpuAsync(): Promise<Tensor> {
    if (this.device === 'cpu') return this;
    return M.fromHost(this, await this.dataAsync());
  }

  /** Accumulates d(this)/d(leaf) into every leaf's `.grad` (seeded with ones for a scalar). */
  backward(gradient?: Tensor, opts: BackwardOptions = {}): void {
    if (!this.requiresGrad) throw new TensorError('backward: this tensor does not require grad and has no grad_fn.');
    if (!gradient && this.size !== 1) {
      throw new ShapeError(`backward: a gradient must be given for a non-scalar output of shape ${fmtShape(this.shape)}.`);
    }
    if (gradient !== undefined) {
      if (!(gradient instanceof Tensor)) throw new TypeError(`backward: gradient must be a Tensor: got ${gradient === null ? 'null' : typeof gradient} (options go second: backward(undefined, { retainGraph: true })).`);
      if (!sameShape(gradient.shape, this.shape)) throw new ShapeError(`backward: gradient of shape ${fmtShape(gradient.shape)} does not match the output's shape ${fmtShape(this.shape)}.`);
      if (gradient.device !== this.device) throw new DeviceError(`backward: gradient is on ${gradient.device} but the output is on ${this.device}.`);
    }
    const seed = gradient ?? onesLike(this);
    const grads = propagate([this], [seed], opts);
    for (const [t, g] of grads) {
      if (!t.isLeaf) continue;
      const gg = opts.createGraph ? g : g.detach();
      t.grad = t.grad ? (opts.createGraph ? t.grad.add(gg) : noGrad(() => t.grad!.add(gg))) : gg;
    }
  }
  zeroGrad(): void {
    this.grad = null;
  }

  /**
   * Overwrites this tensor's elements with `src` (a tensor broadcast to this shape, or a number),
   * outside autograd. Bumps the storage's version, so a graph that saved it refuses to backward.
   */
  copy_(src: TensorLike): this {
    if (this.requiresGrad && isGradEnabled()) throw new TensorError('copy_: a tensor that requires grad cannot be modified in place while recording; wrap the update in noGrad().');
    if (hasInternalOverlap(this.storage)) {
      throw new ShapeError(`copy_: more than one element of the destination (shape ${fmtShape(this.shape)}, strides ${fmtShape(this.storage.stride)}) refers to one memory location, as in an expanded view; clone() it first.`);
    }
    let from = scalarLike('copy_', src, this).detach();
    if (!broadcastsTo(from.shape, this.shape)) throw new ShapeError(`copy_: source of shape ${fmtShape(from.shape)} does not broadcast to the destination's shape ${fmtShape(this.shape)}.`);
    if (from.storage.data === this.storage.data) from = M.clone(from).detach(); // overlapping source: read it before writing
    const s = M.expand(from.to(this.dtype).to(this.device), this.shape); // any device, like torch's copy_
    backendFor(this.device).assign(this.storage, s.storage);
    this.version.n++;
    return this;
  }

  toString(): string {
    return `tensor(${JSON.stringify(this.toArray())}, shape=${fmtShape(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- elementwise -------------------------------------------------------------------------
  neg(): Tensor { return E.neg(this); }
  exp(): Tensor { return E.exp(this); }
  log(): Tensor { return E.log(this); }
  sqrt(): Tensor { return E.sqrt(this); }
  rsqrt(): Tensor { return E.rsqrt(this); }
  abs(): Tensor { return E.abs(this); }
  relu(): Tensor { return E.relu(this); }
  sigmoid(): Tensor { return E.sigmoid(this); }
  tanh(): Tensor { return E.tanh(this); }
  square(): Tensor { return E.mul(this, this); }
  pow(e: TensorLike): Tensor { return E.pow(this, e); }
  clamp(min: number | null, max: number | null = null): Tensor { return E.clamp(this, min, max); }
  add(o: TensorLike): Tensor { return E.add(this, o); }
  sub(o: TensorLike): Tensor { return E.sub(this, o); }
  mul(o: TensorLike): Tensor { return E.mul(this, o); }
  div(o: TensorLike): Tensor { return E.div(this, o); }
  maximum(o: TensorLike): Tensor { return E.maximum(this, o); }
  minimum(o: TensorLike): Tensor { return E.minimum(this, o); }
  eq(o: TensorLike): Tensor { return E.eq(this, o); }
  ne(o: TensorLike): Tensor { return E.ne(this, o); }
  lt(o: TensorLike): Tensor { return E.lt(this, o); }
  le(o: TensorLike): Tensor { return E.le(this, o); }
  gt(o: TensorLike): Tensor { return E.gt(this, o); }
  ge(o: TensorLike): Tensor { return E.ge(this, o); }

  // ---- reductions --------------------------------------------------------------------------
  sum(dim?: number | readonly number[] | null, keepdim = false): Tensor { return R.sum(this, dim, keepdim); }
  mean(dim?: number | readonly number[] | null, keepdim = false): Tensor { return R.mean(this, dim, keepdim); }
  var(dim?: number | readonly number[] | null, opts: R.VarOptions = {}): Tensor { return R.variance(this, dim, opts); }
  amax(dim?: number | readonly number[] | null, keepdim = false): Tensor { return R.amax(this, dim, keepdim); }
  amin(dim?: number | readonly number[] | null, keepdim = false): Tensor { return R.amin(this, dim, keepdim); }
  max(dim: number, keepdim = false): R.ValuesIndices { return R.max(this, dim, keepdim); }
  min(dim: number, keepdim = false): R.ValuesIndices { return R.min(this, dim, keepdim); }
  argmax(dim?: number | null, keepdim = false): Tensor { return R.argmax(this, dim, keepdim); }
  argmin(dim?: number | null, keepdim = false): Tensor { return R.argmin(this, dim, keepdim); }
  logsumexp(dim: number | readonly number[], keepdim = false): Tensor { return R.logsumexp(this, dim, keepdim); }
  softmax(dim: number): Tensor { return softmax(this, dim); }
  logSoftmax(dim: number): Tensor { return logSoftmax(this, dim); }

  // ---- movement ----------------------------------------------------------------------------
  reshape(...shape: number[] | [readonly number[]]): Tensor { return M.reshape(this, flatArgs(shape)); }
  view(...shape: number[] | [readonly number[]]): Tensor { return M.view(this, flatArgs(shape)); }
  flatten(startDim = 0, endDim = -1): Tensor { return M.flatten(this, startDim, endDim); }
  permute(...dims: number[] | [readonly number[]]): Tensor { return M.permute(this, flatArgs(dims)); }
  transpose(d0: number, d1: number): Tensor { return M.transpose(this, d0, d1); }
  get T(): Tensor { return M.permute(this, [...Array(this.ndim).keys()].reverse()); }
  expand(...shape: number[] | [readonly number[]]): Tensor { return M.expand(this, flatArgs(shape)); }
  expandAs(o: Tensor): Tensor { return M.expand(this, o.shape, 'expandAs'); }
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor { return M.slice(this, dim, start, end, step); }
  narrow(dim: number, start: number, length: number): Tensor { return M.narrow(this, dim, start, length); }
  select(dim: number, index: number): Tensor { return M.select(this, dim, index); }
  flip(dims: number | readonly number[]): Tensor { return M.flip(this, dims); }
  squeeze(dim?: number | readonly number[]): Tensor { return M.squeeze(this, dim); }
  unsqueeze(dim: number): Tensor { return M.unsqueeze(this, dim); }
  contiguous(): Tensor { return M.contiguous(this); }
  isContiguous(): boolean { return M.isContiguous(this); }
  split(sizeOrSections: number | readonly number[], dim = 0): Tensor[] { return M.split(this, sizeOrSections, dim); }
  chunk(chunks: number, dim = 0): Tensor[] { return M.chunk(this, chunks, dim); }
  gather(dim: number, index: Tensor): Tensor { return M.gather(this, dim, index); }
  indexSelect(dim: number, index: Tensor): Tensor { return M.indexSelect(this, dim, index); }
  matmul(o: Tensor): Tensor { return matmul(this, o); }
}

/** Accepts both `f(2, 3)` and `f([2, 3])`. */
function flatArgs(args: number[] | [readonly number[]]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...(args[0] as readonly number[])] : (args as number[]);
}

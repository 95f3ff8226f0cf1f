// Copying movement kernels on gpu.js: constant pad, cat, gather and its adjoint scatterAdd (each
// one thread per output element, reading strided views directly), and `assign`, which writes a
// view in place: device buffers are kernel outputs, so it computes the whole buffer anew (the
// view's elements from `src`, the rest kept) and swaps it into the same GpuBuffer, which every
// tensor sharing the buffer sees.

import type { DType } from '../cpu/alloc.ts';
import { storageDType, type AnyStorage } from '../../storage.ts';
import { InternalError } from '../../errors.ts';
import { asGpu, enqueue, kernelFor, launch, type GpuBuffer } from './runtime.ts';
import { Src, THREAD } from './codegen.ts';

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** pads[d] = [before, after] (negative crops): out[idx] = x[idx − before] inside x, else value. */
export function pad(x: AnyStorage, pads: readonly (readonly [number, number])[], value: number): GpuBuffer {
  const shape = x.shape.map((n, d) => n + pads[d][0] + pads[d][1]);
  const s = new Src();
  const idx = s.unravel(THREAD, shape);
  s.line('let inside = 1;');
  const srcIdx = idx.map((v, d) => {
    const name = s.local('s', `${v} - ${s.int(pads[d][0])}`);
    s.line(`if (${name} < 0 || ${name} >= ${s.int(x.shape[d])}) { inside = 0; }`);
    return name;
  });
  s.line(`let v = ${s.float(value)};`);
  s.line(`if (inside === 1) { v = x0[${s.offset(x.offset, srcIdx, x.stride)}]; }`);
  return launch(s.spec('pad', numel(shape), ['x0'], 'v'), [asGpu(x)], storageDType(x));
}

/** Concatenation along `dim`: each output element reads the one part whose range holds its index. */
export function cat(xs: readonly AnyStorage[], dim: number, dtype: DType): GpuBuffer {
  const shape = [...xs[0].shape];
  shape[dim] = xs.reduce((a, x) => a + x.shape[dim], 0);
  const s = new Src();
  const idx = s.unravel(THREAD, shape);
  s.line('let v = 0.0;');
  let start = 0;
  xs.forEach((x, k) => {
    const local = idx.map((v, d) => (d === dim ? '(j | 0)' : v));
    s.line(`${k === 0 ? '' : '} else '}if (${idx[dim]} < ${s.int(start + x.shape[dim])}) {`);
    s.line(`const j = ${idx[dim]} - ${s.int(start)};`);
    s.line(`v = x${k}[${s.offset(x.offset, local, x.stride)}];`);
    start += x.shape[dim];
  });
  s.line('}');
  return launch(
    s.spec(
      'cat',
      numel(shape),
      xs.map((_, k) => `x${k}`),
      'v',
    ),
    xs.map(asGpu),
    dtype,
  );
}

/** out[…, j, …] = x[…, index[…, j, …], …] along `dim` (index in range: checked by the op). */
export function gather(x: AnyStorage, dim: number, index: AnyStorage): GpuBuffer {
  const s = new Src();
  const idx = s.unravel(THREAD, index.shape);
  const k = s.local('k', `x1[${s.offset(index.offset, idx, index.stride)}] | 0`);
  const at = idx.map((v, d) => (d === dim ? k : v));
  return launch(s.spec('gather', index.size, ['x0', 'x1'], `x0[${s.offset(x.offset, at, x.stride)}]`), [asGpu(x), asGpu(index)], storageDType(x));
}

/** zeros(shape), then out[…, index[…, j, …], …] += src[…, j, …]: gathered per output element, a loop over j. */
export function scatterAdd(shape: readonly number[], dim: number, index: AnyStorage, src: AnyStorage): GpuBuffer {
  const s = new Src();
  const idx = s.unravel(THREAD, shape);
  s.line('let acc = 0.0;');
  // positions off `dim` beyond the index's extent receive nothing
  const outside = idx.map((v, d) => (d !== dim && index.shape[d] < shape[d] ? `${v} >= ${s.int(index.shape[d])}` : null)).filter((c) => c !== null);
  s.line(`if (${outside.length ? `!(${outside.join(' || ')})` : 'true'}) {`);
  const at = idx.map((v, d) => (d === dim ? '(j | 0)' : v));
  s.line(`for (let j = 0; j < ${s.bound(index.shape[dim])}; j++) {`);
  s.line(`if ((x0[${s.offset(index.offset, at, index.stride)}] | 0) === ${idx[dim]}) { acc += x1[${s.offset(src.offset, at, src.stride)}]; }`);
  s.line('}').line('}');
  return launch(s.spec('scatterAdd', numel(shape), ['x0', 'x1'], 'acc'), [asGpu(index), asGpu(src)], storageDType(src));
}

/** dst[...] = src[...] in place (same shape; src may be a broadcast view). */
export function assign(dst: AnyStorage, src: AnyStorage): void {
  const buf = asGpu(dst);
  if (dst.size === 0) return;
  // the dst view, flips undone and size-1 dims dropped, its dims from the largest stride down
  let off = dst.offset;
  let srcBase = src.offset;
  const dims: { size: number; stride: number; srcStride: number }[] = [];
  dst.shape.forEach((size, d) => {
    if (size === 1) return;
    let stride = dst.stride[d],
      srcStride = src.stride[d];
    if (stride < 0) {
      // walk a flipped dim forwards: dst from its lowest address, src from its last element
      off += (size - 1) * stride;
      srcBase += (size - 1) * srcStride;
      stride = -stride;
      srcStride = -srcStride;
    }
    if (stride === 0) throw new InternalError(`assign: a broadcast (stride-0) destination dim of size ${size} reached the kernel; copy_ refuses it first.`);
    dims.push({ size, stride, srcStride });
  });
  dims.sort((a, b) => b.stride - a.stride);
  // each dim's stride must exceed the span of the dims inside it: then dividing by the strides in
  // turn recovers the multi-index of every element of the view (and rejects every other position)
  for (let k = dims.length - 1, span = 0; k >= 0; k--) {
    if (dims[k].stride <= span)
      throw new InternalError('assign: a self-overlapping destination reached the kernel; copy_ refuses it first, and no view op makes an interleaved one.');
    span += dims[k].stride * (dims[k].size - 1);
  }
  // position p: rel = p − off; j_k = floor(rest_k / stride_k) with rest_k = rel − Σ_{m<k} j_m·stride_m
  const s = new Src();
  let rest = `(${THREAD} - ${s.int(off)})`;
  s.line(`let inside = ${rest} >= 0 ? 1 : 0;`);
  const js = dims.map((d) => {
    const j = s.local('j', s.div(rest, d.stride)); // out-of-range j is only compared, never used to read
    s.line(`if (${j} >= ${s.int(d.size)}) { inside = 0; }`);
    rest = `(${rest} - ${j} * ${s.int(d.stride)})`;
    return j;
  });
  s.line(`if (${rest} !== 0) { inside = 0; }`);
  s.line(`let v = x0[${THREAD}];`);
  s.line(
    `if (inside === 1) { v = x1[${s.offset(
      srcBase,
      js,
      dims.map((d) => d.srcStride),
    )}]; }`,
  );
  const spec = s.spec('assign', buf.length, ['x0', 'x1'], 'v');
  const from = asGpu(src);
  // computed after every kernel queued so far, swapped in before any queued later
  enqueue(() => {
    const old = buf.value;
    const r = kernelFor(spec)(old, from.value);
    const swap = (v: unknown): void => {
      buf.cell.value = v;
      (old as { delete?: () => void }).delete?.();
    };
    if (r && typeof (r as Promise<unknown>).then === 'function') return (r as Promise<unknown>).then(swap);
    swap(r);
  });
}

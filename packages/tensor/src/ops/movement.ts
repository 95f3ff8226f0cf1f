// Movement ops. Views (reshape of a row-major view, permute, expand, slice, flip, squeeze) share
// storage; cat, pad and gather copy. Each gradient rule is the adjoint movement:
// expand ↔ sum, slice ↔ pad, gather ↔ scatterAdd, permute ↔ inverse permute.

import { Tensor, type Device } from '../tensor.ts';
import { record } from '../autograd/tape.ts';
import * as S from '../storage.ts';
import type { DType, TypedArray } from '../backend/cpu/alloc.ts';
import { deviceBackend } from '../backend/backend.ts';
import { checkNonNegInt, checkNumel, checkPositiveInt, fmtShape, normalizeDim, normalizeDims, numel, sameShape } from '../shape.ts';
import { DTypeError, ShapeError, ValueError } from '../errors.ts';
import { be, checkDevices, checkFitsInt32, checkInt32, checkTensor, promote, wrap } from './util.ts';
import { amax, sum } from './reduce.ts';

/** A view of x's storage: it shares x's version counter (in-place writes through either count). */
const viewOf = (s: S.AnyStorage, x: Tensor): Tensor => new Tensor(s, x.version);

/** Resolves one -1 in a target shape and checks the element count. */
function inferShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const free = shape.filter((d) => d === -1).length;
  if (free > 1 || shape.some((d) => !Number.isInteger(d) || d < -1)) {
    throw new ShapeError(`${op}: invalid shape ${fmtShape(shape)}: expected non-negative sizes and at most one -1.`);
  }
  const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
  if (free === 1 && known === 0 && x.size === 0) {
    throw new ShapeError(
      `${op}: cannot infer the -1 in ${fmtShape(shape)} for an input of shape ${fmtShape(x.shape)} (0 elements): with a 0 among the other sizes, any size fits.`,
    );
  }
  const out = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (numel(out) !== x.size || !out.every(Number.isInteger)) {
    throw new ShapeError(`${op}: shape ${fmtShape(shape)} is invalid for an input of shape ${fmtShape(x.shape)} (${x.size} elements).`);
  }
  return out;
}

/** x with a new shape of the same size (one dim may be −1); a view when the strides allow, else a copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', 'input', x);
  const s = inferShape('reshape', x, shape);
  if (sameShape(s, x.shape)) return x;
  // a view when the elements are row-major in memory, else a copy (a dense cast to the same dtype)
  const out = S.canView(x.storage) ? viewOf(S.reshapeView(x.storage, s), x) : wrap(be(x).cast(x.storage, x.dtype), s);
  return record(out, 'reshape', [x], (g) => [reshape(g, x.shape)], []);
}

/** Like reshape but never copies: throws when the input is not row-major in memory. */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  if (!S.canView(x.storage)) {
    throw new ShapeError(`view: the input of shape ${fmtShape(x.shape)} is not contiguous; use reshape() or contiguous().view().`);
  }
  return reshape(x, inferShape('view', x, shape));
}

/** Dims startDim..endDim merged into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const a = normalizeDim('flatten', startDim, x.ndim, 'startDim'),
    b = normalizeDim('flatten', endDim, x.ndim, 'endDim');
  if (a > b) throw new ShapeError(`flatten: startDim ${startDim} (= ${a}) comes after endDim ${endDim} (= ${b}).`);
  return reshape(x, [...x.shape.slice(0, a), numel(x.shape.slice(a, b + 1)), ...x.shape.slice(b + 1)]);
}

/** x with its dims reordered (a view). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkTensor('permute', 'input', x);
  if (dims.length !== x.ndim)
    throw new ShapeError(`permute: dims ${fmtShape(dims)} has ${dims.length} entries but the input has rank ${x.ndim} (shape ${fmtShape(x.shape)}).`);
  const d = dims.map((v) => normalizeDim('permute', v, x.ndim));
  if (new Set(d).size !== d.length) throw new ShapeError(`permute: dims ${fmtShape(dims)} is not a permutation of the input's ${x.ndim} dims.`);
  const inv = d.map((_, i) => d.indexOf(i));
  return record(viewOf(S.permute(x.storage, d), x), 'permute', [x], (g) => [permute(g, inv)], []);
}

/** x with dims d0 and d1 swapped (a view). */
export function transpose(x: Tensor, d0: number, d1: number): Tensor {
  const p = [...Array(x.ndim).keys()];
  const a = normalizeDim('transpose', d0, x.ndim, 'dim0'),
    b = normalizeDim('transpose', d1, x.ndim, 'dim1');
  [p[a], p[b]] = [p[b], p[a]];
  return permute(x, p);
}

/** Broadcast view (stride 0) to `shape`; -1 keeps a size. Gradient: sum over the broadcast dims. */
export function expand(x: Tensor, shape: readonly number[], op = 'expand'): Tensor {
  checkTensor(op, 'input', x);
  const lead = shape.length - x.ndim;
  const s = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  const ok = lead >= 0 && s.every((d, i) => Number.isInteger(d) && d >= 0 && (i < lead || x.shape[i - lead] === d || x.shape[i - lead] === 1));
  if (!ok) throw new ShapeError(`${op}: cannot expand shape ${fmtShape(x.shape)} to ${fmtShape(shape)}: each dim must match or be 1.`);
  checkNumel(op, s);
  if (sameShape(s, x.shape)) return x;
  return record(viewOf(S.expand(x.storage, s), x), 'expand', [x], (g) => [sumTo(g, x.shape)], []);
}

/** Sums a broadcast gradient back to `shape` (the adjoint of expand). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  const lead = g.ndim - shape.length;
  if (lead < 0 || shape.some((s, i) => s !== 1 && s !== g.shape[i + lead])) {
    throw new ShapeError(`sumTo: shape ${fmtShape(shape)} does not broadcast to the input shape ${fmtShape(g.shape)}.`);
  }
  const dims = g.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  return dims.length ? reshape(sum(g, dims, true), shape) : g;
}

/** x[start:end:step] along dim (Python slice semantics; negative start/end count from the end). */
export function slice(x: Tensor, dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
  checkTensor('slice', 'input', x);
  const d = normalizeDim('slice', dim, x.ndim);
  checkPositiveInt('slice', 'step', step);
  const n = x.shape[d];
  const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const lo = clampIdx(start ?? 0),
    hi = Math.max(lo, clampIdx(end ?? n));
  if (lo === 0 && hi === n && step === 1) return x;
  const out = viewOf(S.slice(x.storage, d, lo, hi, step), x);
  return record(out, 'slice', [x], (g) => [unslice(g, d, lo, step, n)], []);
}

/** x[start : start + length] along dim (torch.narrow): start may count from the end; the range must lie inside the dim. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  checkTensor('narrow', 'input', x);
  const d = normalizeDim('narrow', dim, x.ndim),
    n = x.shape[d];
  if (!Number.isInteger(start) || start < -n || start > n)
    throw new ShapeError(`narrow: start ${start} is out of range for dim ${dim} of size ${n}: expected an integer in [${-n}, ${n}].`);
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(length) || length < 0 || s + length > n) {
    throw new ShapeError(
      `narrow: start ${start} and length ${length} run past the end of dim ${dim} of size ${n} (input shape ${fmtShape(x.shape)}): expected 0 <= length <= ${n - s}.`,
    );
  }
  return slice(x, d, s, s + length);
}

/** The adjoint of slice: zeros of size n along dim with g at lo, lo+step, ... (built from pads). */
function unslice(g: Tensor, dim: number, lo: number, step: number, n: number): Tensor {
  let t = g;
  if (step > 1) {
    const spread = pad(unsqueeze(g, dim + 1), padSpec(g.ndim + 1, dim + 1, 0, step - 1)); // (..., k, step, ...)
    t = reshape(
      spread,
      g.shape.map((s, i) => (i === dim ? s * step : s)),
    );
  }
  return pad(t, padSpec(t.ndim, dim, lo, n - lo - t.shape[dim]));
}

/** A PyTorch-style pad list that pads only `dim` by [before, after]. */
function padSpec(rank: number, dim: number, before: number, after: number): number[] {
  const p = new Array<number>(2 * (rank - dim)).fill(0);
  p[p.length - 2] = before;
  p[p.length - 1] = after;
  return p;
}

/** The slice at `index` along `dim`, without that dim (a view). */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normalizeDim('select', dim, x.ndim);
  const n = x.shape[d];
  if (!Number.isInteger(index) || index < -n || index >= n) throw new ShapeError(`select: index ${index} is out of range for dim ${dim} of size ${n}.`);
  const i = index < 0 ? index + n : index;
  return squeeze(slice(x, d, i, i + 1), d);
}

/** x reversed along `dims` (a copy). */
export function flip(x: Tensor, dims: number | readonly number[]): Tensor {
  const d = normalizeDims('flip', dims, x.ndim);
  return record(viewOf(S.flip(x.storage, d), x), 'flip', [x], (g) => [flip(g, d)], []);
}

/** x without its size-1 dims (all, or those in `dim`) (a view). */
export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  const dims = dim === undefined ? x.shape.map((_, i) => i).filter((i) => x.shape[i] === 1) : normalizeDims('squeeze', dim, x.ndim);
  return reshape(
    x,
    x.shape.filter((s, i) => !(dims.includes(i) && s === 1)),
  );
}

/** x with a size-1 dim inserted at `dim` (a view). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normalizeDim('unsqueeze', dim, x.ndim + 1);
  return reshape(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}

export const isContiguous = (x: Tensor): boolean => S.isDense(x.storage);

/** x itself when it is row-major contiguous, else a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  if (isContiguous(x)) return x;
  return record(wrap(be(x).cast(x.storage, x.dtype), x.shape), 'contiguous', [x], (g) => [g], []);
}

/** A dense copy that owns its data. */
export function clone(x: Tensor): Tensor {
  return record(wrap(be(x).cast(x.storage, x.dtype), x.shape), 'clone', [x], (g) => [g], []);
}

/** Converts dtype (differentiable between float dtypes) or moves to a device. */
/** A CPU tensor over `data` (the elements of device tensor x, read back), recorded as x.to('cpu'). */
export function fromHost(x: Tensor, data: TypedArray): Tensor {
  const out = new Tensor(S.view(data, x.shape));
  return x.isFloat ? record(out, 'to', [x], (g) => [to(g, x.device)], []) : out;
}

export function to(x: Tensor, target: DType | Device): Tensor {
  if (target === 'cpu' || target === 'gpu') {
    if (target === x.device) return x;
    if (target === 'cpu') return fromHost(x, deviceBackend(x.device).readSync(x.storage));
    const out = new Tensor(S.view(deviceBackend(target).upload(S.contiguousData(S.cpuView(x.storage, 'to'))), x.shape));
    return x.isFloat ? record(out, 'to', [x], (g) => [to(g, 'cpu')], []) : out;
  }
  if (target === x.dtype) return x;
  if (target !== 'float32' && target !== 'float64' && target !== 'int32') throw new ValueError(`to: unknown dtype or device '${String(target)}'.`);
  if (target === 'int32') checkFitsInt32('to', x);
  const out = wrap(be(x).cast(x.storage, target), x.shape);
  return target === 'int32' ? out : record(out, 'to', [x], (g) => [to(g, x.dtype)], []);
}

/** The tensors joined along an existing dim (the other dims must match). */
export function cat(xs: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(xs as unknown) || xs.length === 0) throw new ValueError('cat: expected a non-empty list of tensors.');
  xs.forEach((x, i) => checkTensor('cat', `tensors[${i}]`, x));
  checkDevices('cat', xs);
  const d = normalizeDim('cat', dim, xs[0].ndim);
  xs.forEach((x, i) => {
    if (x.ndim !== xs[0].ndim || x.shape.some((s, k) => k !== d && s !== xs[0].shape[k])) {
      throw new ShapeError(
        `cat: tensors[${i}] has shape ${fmtShape(x.shape)} but tensors[0] has ${fmtShape(xs[0].shape)}: all dims but dim ${dim} must match.`,
      );
    }
  });
  const dtype = xs.map((x) => x.dtype).reduce(promote);
  const parts = xs.map((x) => (x.dtype === dtype ? x : to(x, dtype)));
  const shape = [...xs[0].shape];
  shape[d] = parts.reduce((a, x) => a + x.shape[d], 0);
  checkNumel('cat', shape, 'the joined shape');
  const out = wrap(
    be(parts[0]).cat(
      parts.map((x) => x.storage),
      d,
      dtype,
    ),
    shape,
  );
  const starts = parts.map((_, i) => parts.slice(0, i).reduce((a, x) => a + x.shape[d], 0));
  return record(out, 'cat', parts, (g) => parts.map((x, i) => slice(g, d, starts[i], starts[i] + x.shape[d])), []);
}

/** The tensors (all the same shape) joined along a new dim. */
export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(xs as unknown) || xs.length === 0) throw new ValueError('stack: expected a non-empty list of tensors.');
  const d = normalizeDim('stack', dim, xs[0].ndim + 1);
  xs.forEach((x, i) => {
    if (!sameShape(x.shape, xs[0].shape))
      throw new ShapeError(`stack: tensors[${i}] has shape ${fmtShape(x.shape)} but tensors[0] has ${fmtShape(xs[0].shape)}: all must be equal.`);
  });
  return cat(
    xs.map((x) => unsqueeze(x, d)),
    d,
  );
}

/** Splits into chunks of `size` (the last may be smaller) or into the given section sizes. */
export function split(x: Tensor, sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const d = normalizeDim('split', dim, x.ndim),
    n = x.shape[d];
  let sizes: number[];
  if (typeof sizeOrSections === 'number') {
    checkPositiveInt('split', 'splitSize', sizeOrSections);
    sizes = Array.from({ length: Math.max(1, Math.ceil(n / sizeOrSections)) }, (_, i) => Math.min(sizeOrSections, n - i * sizeOrSections));
  } else {
    sizes = [...sizeOrSections];
    sizes.forEach((s) => checkNonNegInt('split', 'section size', s));
    if (sizes.reduce((a, b) => a + b, 0) !== n)
      throw new ShapeError(`split: sections ${fmtShape(sizes)} sum to ${sizes.reduce((a, b) => a + b, 0)} but dim ${dim} has size ${n}.`);
  }
  let at = 0;
  return sizes.map((s) => slice(x, d, at, (at += s)));
}

/** x split into `chunks` pieces along `dim` (the last may be smaller), as views. */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  checkPositiveInt('chunk', 'chunks', chunks);
  const n = x.shape[normalizeDim('chunk', dim, x.ndim)];
  return split(x, Math.max(1, Math.ceil(n / chunks)), dim);
}

/**
 * Constant padding with PyTorch's F.pad list: [left, right] for the last dim, then [top, bottom]
 * for the one before, and so on. Negative amounts crop. Gradient: the opposite padding (a crop).
 */
export function pad(x: Tensor, padding: readonly number[], value = 0): Tensor {
  checkTensor('pad', 'input', x);
  if (padding.length % 2 !== 0 || padding.length / 2 > x.ndim || !padding.every(Number.isInteger)) {
    throw new ShapeError(`pad: pad ${fmtShape(padding)} must hold integer pairs for at most ${x.ndim} dims (input shape ${fmtShape(x.shape)}).`);
  }
  const pads = x.shape.map((): [number, number] => [0, 0]);
  for (let k = 0; k < padding.length / 2; k++) pads[x.ndim - 1 - k] = [padding[2 * k], padding[2 * k + 1]];
  const shape = x.shape.map((s, d) => s + pads[d][0] + pads[d][1]);
  if (shape.some((s) => s < 0)) throw new ShapeError(`pad: pad ${fmtShape(padding)} crops more than the input shape ${fmtShape(x.shape)} holds.`);
  checkNumel('pad', shape, 'the padded shape');
  if (typeof value !== 'number') throw new ValueError(`pad: value must be a number: got ${typeof value}.`);
  if (x.dtype === 'int32') checkInt32('pad', 'value', value);
  const out = wrap(be(x).pad(x.storage, pads, value), shape);
  return record(
    out,
    'pad',
    [x],
    (g) => [
      pad(
        g,
        padding.map((p) => -p),
      ),
    ],
    [],
  );
}

/** Checks an index tensor: int32, in range along `dim` of size n. */
function checkIndex(op: string, index: Tensor, n: number): void {
  if (index.dtype !== 'int32') throw new DTypeError(`${op}: index must be an int32 tensor: got ${index.dtype}.`);
  if (index.device !== 'cpu') {
    // a device index is checked on the device; the flag (max of the 0/1 marks) is read at the next flush or read
    if (index.size === 0) return;
    const bad = amax(index.lt(0).add(index.ge(n)));
    deviceBackend(index.device).deferCheck(bad.storage, () => new ShapeError(`${op}: an index is out of range for a dim of size ${n}.`));
    return;
  }
  const data = S.contiguousData(S.cpuView(index.storage, op));
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0 || data[i] >= n) throw new ShapeError(`${op}: index ${data[i]} is out of range for a dim of size ${n}.`);
  }
}

/** out[i][j][k] = x[i][index[i][j][k]][k] (dim = 1); index may be smaller than x off `dim`. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkTensor('gather', 'input', x);
  checkTensor('gather', 'index', index);
  const d = normalizeDim('gather', dim, x.ndim);
  if (index.ndim !== x.ndim || index.shape.some((s, k) => k !== d && s > x.shape[k])) {
    throw new ShapeError(
      `gather: index shape ${fmtShape(index.shape)} does not fit input shape ${fmtShape(x.shape)} (dim ${dim}): same rank, and no larger off dim.`,
    );
  }
  checkIndex('gather', index, x.shape[d]);
  return gatherInRange(x, d, index);
}

/**
 * gather along a normalized dim `d` without the checks: for an index of fitting shape whose values
 * are in range by construction or already checked (an index scan of a 48×48 batch per call otherwise).
 * Its rule, and scatterAddInRange's, skip the scan too: the index is saved, so a write to it after
 * the check makes backward throw (the version check) instead of scattering out of range.
 */
export function gatherInRange(x: Tensor, d: number, index: Tensor): Tensor {
  let src = x;
  index.shape.forEach((s, k) => {
    if (k !== d && s < x.shape[k]) src = slice(src, k, 0, s);
  });
  const out = wrap(be(src).gather(src.storage, d, index.storage), index.shape);
  return record(out, 'gather', [src], (g) => [scatterAddInRange(src.shape, d, index, g)], [index]);
}

/**
 * zeros(shape) with src added at index along dim (torch.scatter_add on zeros): the adjoint of
 * gather. src has the index's shape; the index may be smaller than `shape` off dim.
 */
export function scatterAdd(shape: readonly number[], dim: number, index: Tensor, src: Tensor): Tensor {
  checkTensor('scatterAdd', 'index', index);
  checkTensor('scatterAdd', 'src', src);
  const d = normalizeDim('scatterAdd', dim, shape.length);
  if (index.ndim !== shape.length || !sameShape(index.shape, src.shape) || index.shape.some((s, k) => k !== d && s > shape[k])) {
    throw new ShapeError(
      `scatterAdd: index shape ${fmtShape(index.shape)} and src shape ${fmtShape(src.shape)} do not fit output shape ${fmtShape(shape)} (dim ${dim}): index and src must match, with the output's rank and no larger off dim.`,
    );
  }
  checkNumel('scatterAdd', shape);
  checkIndex('scatterAdd', index, shape[d]);
  return scatterAddInRange(shape, d, index, src);
}

/** scatterAdd along a normalized dim `d` without the checks (see gatherInRange). */
function scatterAddInRange(shape: readonly number[], d: number, index: Tensor, src: Tensor): Tensor {
  const sub = index.shape.map((s, k) => (k === d ? shape[d] : s)); // the kernel needs index = out off dim
  const out = record(wrap(be(src).scatterAdd(sub, d, index.storage, src.storage), sub), 'scatterAdd', [src], (g) => [gatherInRange(g, d, index)], [index]);
  return sameShape(sub, shape)
    ? out
    : pad(
        out,
        [...shape.keys()].reverse().flatMap((k) => [0, shape[k] - sub[k]]),
      );
}

/** x restricted to the given positions along dim (index: 1-D int32). */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkTensor('indexSelect', 'index', index);
  const d = normalizeDim('indexSelect', dim, x.ndim);
  if (index.ndim !== 1) throw new ShapeError(`indexSelect: index must be 1-D: got shape ${fmtShape(index.shape)}.`);
  checkIndex('indexSelect', index, x.shape[d]);
  const shape = x.shape.map((s, k) => (k === d ? index.size : s));
  const idx = expand(
    reshape(
      index,
      x.shape.map((_, k) => (k === d ? index.size : 1)),
    ),
    shape,
  );
  return gatherInRange(x, d, idx); // checked above
}

/** [..., numClasses] int32 one-hot encoding of int32 labels. */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  checkTensor('oneHot', 'labels', labels);
  if (labels.dtype !== 'int32') throw new DTypeError(`oneHot: labels must be int32: got ${labels.dtype}.`);
  checkPositiveInt('oneHot', 'numClasses', numClasses);
  checkNumel('oneHot', [...labels.shape, numClasses], 'the one-hot shape');
  checkIndex('oneHot', labels, numClasses);
  const classes = wrap(
    Int32Array.from({ length: numClasses }, (_, i) => i),
    [numClasses],
  ).to(labels.device); // made here, compared there
  return unsqueeze(labels, -1).eq(classes);
}

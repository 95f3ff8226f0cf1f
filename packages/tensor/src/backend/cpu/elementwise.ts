// Elementwise CPU kernels over strided views: unary maps, binary maps on equal shapes (broadcasting
// arrives here as stride-0 `expand` views), comparisons and `where`. Each op is one JS expression;
// `compileMap` turns it into a specialised strided loop once (the same trick as ndarray's cwise),
// `compileFlat` into a plain indexed loop when every operand is dense or a broadcast scalar; an
// expression may use one scratch variable `t`. Where wasm/elementwise-simd.ts has a kernel with the
// expression's bits for the op and dtypes, and the operands are dense or broadcast, it runs instead
// (trySimd). The GPU backend reuses the same expression table for its gpu.js kernels.

import { allocOut, dtypeOf, type DType, type TypedArray } from './alloc.ts';
import { isRowMajor, type Storage } from '../../storage.ts';
import { SIMD_KERNELS, simdMap, simdOn, type SimdOperand } from './wasm/elementwise-simd.ts';

export const UNARY = {
  neg: '-a',
  exp: 'Math.exp(a)',
  log: 'Math.log(a)',
  sqrt: 'Math.sqrt(a)',
  rsqrt: '1 / Math.sqrt(a)',
  abs: 'Math.abs(a)',
  sign: 'Math.sign(a)',
  // Branch-free (a data-dependent branch mispredicts on half the elements: 5x slower); the second
  // test only fires for a = −∞ or NaN, where a·0 is NaN. NaN stays NaN, like torch.relu; −0 → +0.
  relu: '(t = a * +(a > 0) + 0) === t ? t : (a === a ? 0 : a)',
  sigmoid: 'a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a))',
  tanh: 'Math.tanh(a)',
} as const;

export const BINARY = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  pow: 'Math.pow(a, b)',
  maximum: 'a > b || a !== a ? a : b', // NaN propagates, like torch.maximum
  minimum: 'a < b || a !== a ? a : b',
  eq: '+(a === b)',
  ne: '+(a !== b)',
  lt: '+(a < b)',
  le: '+(a <= b)',
  gt: '+(a > b)',
  ge: '+(a >= b)',
  reluBackward: '(t = a * +(b > 0) + 0) === t ? t : (b > 0 ? a : 0)', // relu's gradient in one pass: g where x > 0 (branch-free as relu)
} as const;

export type UnaryOp = keyof typeof UNARY;
export type BinaryOp = keyof typeof BINARY;
export const COMPARE_OPS: ReadonlySet<BinaryOp> = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

type MapKernel = (out: TypedArray, shape: number[], ins: TypedArray[], offs: number[], strides: number[][]) => void;

/**
 * Builds a loop writing `out[i] = expr(a, b, c)` for i over the row-major order of `shape`,
 * reading operand k at offs[k] + sum(idx[d] * strides[k][d]). `out` is dense.
 */
function compileMap(arity: number, expr: string): MapKernel {
  const names = ['a', 'b', 'c'].slice(0, arity);
  const ks = names.map((_, k) => k);
  const body = `
    const rank = shape.length, inner = shape[rank - 1], rows = out.length / inner;
    ${ks.map((k) => `const d${k} = ins[${k}], s${k} = strides[${k}], is${k} = s${k}[rank - 1]; let p${k} = offs[${k}];`).join('\n')}
    const idx = new Int32Array(rank);
    let o = 0, t = 0;
    for (let r = 0; r < rows; r++) {
      ${ks.map((k) => `let q${k} = p${k};`).join(' ')}
      for (let i = 0; i < inner; i++) {
        ${names.map((n, k) => `const ${n} = d${k}[q${k}]; q${k} += is${k};`).join(' ')}
        out[o++] = ${expr};
      }
      for (let d = rank - 2; d >= 0; d--) {
        ${ks.map((k) => `p${k} += s${k}[d];`).join(' ')}
        if (++idx[d] < shape[d]) break;
        ${ks.map((k) => `p${k} -= s${k}[d] * shape[d];`).join(' ')}
        idx[d] = 0;
      }
    }`;
  return new Function('out', 'shape', 'ins', 'offs', 'strides', body) as MapKernel;
}

type FlatKernel = (out: TypedArray, ins: TypedArray[], offs: number[]) => void;

/**
 * The loop for operands that are each either row-major from its offset (a vector) or one value
 * broadcast everywhere (bit k of `consts`: read once): a plain indexed loop, about twice as fast as
 * compileMap's strided walk, which the compiler cannot assume has unit strides.
 */
function compileFlat(arity: number, expr: string, consts: number): FlatKernel {
  const names = ['a', 'b', 'c'].slice(0, arity);
  const isConst = (k: number) => (consts >> k) & 1;
  const body = `
    const n = out.length;
    let t = 0;
    ${names.map((v, k) => (isConst(k) ? `const ${v} = ins[${k}][offs[${k}]];` : `const d${k} = ins[${k}], p${k} = offs[${k}];`)).join('\n')}
    for (let i = 0; i < n; i++) {
      ${names.map((v, k) => (isConst(k) ? '' : `const ${v} = d${k}[p${k} + i];`)).join(' ')}
      out[i] = ${expr};
    }`;
  return new Function('out', 'ins', 'offs', body) as FlatKernel;
}

/** A view whose every element is the one at its offset (stride 0 wherever the size is not 1). */
const isConstant = (s: Storage): boolean => s.shape.every((n, d) => n === 1 || s.stride[d] === 0);

/**
 * Merges adjacent dims that every operand walks contiguously, so dense tensors become one flat
 * loop and only genuinely strided dims pay for the odometer. Rank 0 becomes [1].
 */
function coalesce(shape: readonly number[], strides: number[][]): { shape: number[]; strides: number[][] } {
  if (shape.length === 0) return { shape: [1], strides: strides.map(() => [1]) };
  const outShape = [shape[0]];
  const outStrides = strides.map((s) => [s[0]]);
  for (let d = 1; d < shape.length; d++) {
    const last = outShape.length - 1;
    const merge = strides.every((s, k) => outStrides[k][last] === s[d] * shape[d]);
    if (merge) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Compiled loops per expression, indexed by the dtype signature (see sig); flat ones by signature·8 + constant-operand mask. */
const cache = new Map<string, MapKernel[]>();
const flatCache = new Map<string, FlatKernel[]>();
/** The output dtype and the operands' array types as one small integer (base 3). */
const CODE = { float32: 0, float64: 1, int32: 2 } as const;
const ctorCode = (d: TypedArray): number => (d instanceof Float32Array ? 0 : d instanceof Float64Array ? 1 : 2);

/** Below this many elements the JS loop beats the SIMD kernel's set-up and copies (bench/elementwise.ts). */
export const SIMD_MIN = 64;
/** Runs (the last dim after coalescing) shorter than this leave a broadcast operand to the JS loops. */
const SIMD_MIN_RUN = 8;
/** The SIMD kernels' indices per op, by dtype signature (see sig; 0: all float32). */
const simdKernels = new Map<string, number[]>();
SIMD_KERNELS.forEach(({ op, dtypes }, k) => {
  if (!simdKernels.has(op)) simdKernels.set(op, []);
  simdKernels.get(op)![dtypes.reduce((sig, d) => sig * 3 + CODE[d], 0)] = k;
});

/**
 * The values of `s` (coalesced `shape`, `stride`, constant along the last dim), one per run of the
 * last dim, in row-major order; as float32 when `toFloat` (null unless every value converts exactly).
 */
function runValues(s: Storage, shape: number[], stride: number[], toFloat: boolean): TypedArray | null {
  const outer = shape.length - 1,
    count = s.size / shape[outer];
  const out = toFloat || s.data instanceof Float32Array ? new Float32Array(count) : new Int32Array(count);
  const idx = new Int32Array(outer);
  for (let r = 0, p = s.offset; r < count; r++) {
    out[r] = s.data[p];
    if (toFloat && out[r] !== s.data[p]) return null;
    for (let d = outer - 1; d >= 0; d--) {
      p += stride[d];
      if (++idx[d] < shape[d]) break;
      p -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Runs op by its SIMD kernel (wasm/elementwise-simd.ts, the JS expressions' bits) into `out` when
 * there is one for these dtypes and every operand is dense, one value broadcast (bit k of consts)
 * or one value per run of the last dim (a broadcast [N, C, 1, 1]); int32 operands of a float32 op
 * only as such values, each exactly a float32 (the float32 op then rounds as the JS). False if not.
 */
function trySimd(op: string, sig: number, operands: Storage[], consts: number, flat: boolean, out: TypedArray): boolean {
  const kernels = simdKernels.get(op);
  if (kernels === undefined || !simdOn()) return false;
  const toFloat = kernels[sig] === undefined && out instanceof Float32Array,
    k = toFloat ? kernels[0] : kernels[sig];
  if (k === undefined) return false;
  const c = flat
    ? null
    : coalesce(
        operands[0].shape,
        operands.map((s) => s.stride),
      );
  const L = c === null ? 0 : c.shape[c.shape.length - 1];
  if (c !== null && (c.shape.length < 2 || L < SIMD_MIN_RUN)) return false;
  const ins: SimdOperand[] = [];
  for (let j = 0; j < operands.length; j++) {
    const s = operands[j],
      conv = toFloat && s.data instanceof Int32Array;
    if (s.data instanceof Float64Array) return false;
    if ((consts >> j) & 1) {
      const value = s.data[s.offset];
      if (conv && Math.fround(value) !== value) return false;
      ins.push({ value });
    } else if (!conv && isRowMajor(s)) ins.push({ data: s.data, offset: s.offset });
    else if (c !== null && c.strides[j][c.shape.length - 1] === 0) {
      const rows = runValues(s, c.shape, c.strides[j], conv);
      if (rows === null) return false;
      ins.push({ rows });
    } else return false;
  }
  simdMap(k, ins, L, out);
  return true;
}

/**
 * Runs `expr` over operands of identical shape (any strides) into a new dense array of `dtype`;
 * by the SIMD kernel of `op` where trySimd can.
 */
function mapExpr(op: string, expr: string, operands: Storage[], dtype: DType): TypedArray {
  const n = operands[0].size;
  const out = allocOut(dtype, n); // every path below writes all n
  if (out.length === 0) return out;
  // One compiled loop per dtype signature keeps every typed-array access monomorphic (a shared
  // loop seeing Float32Array, Float64Array and Int32Array runs several times slower).
  let sig = CODE[dtype];
  for (const s of operands) sig = sig * 3 + ctorCode(s.data);
  let consts = 0,
    flat = true;
  for (let k = 0; k < operands.length; k++) {
    if (isConstant(operands[k]) && n > 1) consts |= 1 << k;
    else if (!isRowMajor(operands[k])) flat = false;
  }
  const allConst = consts === (1 << operands.length) - 1; // one value everywhere (an expanded scalar gradient): computed once below
  if (n >= SIMD_MIN && !allConst && trySimd(op, sig, operands, consts, flat, out)) return out;
  const data = operands.map((s) => s.data),
    offs = operands.map((s) => s.offset);
  if (flat) {
    let kernels = flatCache.get(expr);
    if (!kernels) flatCache.set(expr, (kernels = []));
    const key = sig * 8 + consts;
    const kernel = kernels[key] ?? (kernels[key] = compileFlat(operands.length, expr, consts));
    if (!allConst) kernel(out, data, offs);
    else kernel(out.subarray(0, 1), data, offs), out.fill(out[0]);
    return out;
  }
  let kernels = cache.get(expr);
  if (!kernels) cache.set(expr, (kernels = []));
  const kernel = kernels[sig] ?? (kernels[sig] = compileMap(operands.length, expr));
  const c = coalesce(
    operands[0].shape,
    operands.map((s) => s.stride),
  );
  kernel(out, c.shape, data, offs, c.strides);
  return out;
}

export const unary = (op: UnaryOp, x: Storage, dtype: DType): TypedArray => mapExpr(op, UNARY[op], [x], dtype);
export const binary = (op: BinaryOp, a: Storage, b: Storage, dtype: DType): TypedArray => mapExpr(op, BINARY[op], [a, b], dtype);
export const where = (c: Storage, a: Storage, b: Storage, dtype: DType): TypedArray => mapExpr('where', 'a !== 0 ? b : c', [c, a, b], dtype);
/** Elementwise copy with conversion (also the strided → dense copy for any dtype; a dense one is a block copy). */
export function cast(x: Storage, dtype: DType): TypedArray {
  if (dtypeOf(x.data) !== dtype || !isRowMajor(x)) return mapExpr('cast', dtype === 'int32' ? 'Math.trunc(a)' : 'a', [x], dtype);
  const out = allocOut(dtype, x.size);
  out.set(x.data.subarray(x.offset, x.offset + x.size));
  return out;
}

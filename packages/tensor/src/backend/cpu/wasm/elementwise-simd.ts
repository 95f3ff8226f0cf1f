// The float32 elementwise maps of elementwise.ts as WebAssembly SIMD, emitted at load time with emit.ts:
// add, sub, mul, div, maximum, minimum, reluBackward, the comparisons (int32 0/1 out), neg, abs, sqrt
// and relu, four floats at a time. The bits are the JS expressions': a float32 +, −, ·, ÷ or √ of
// float32 values rounded once equals the float64 result rounded to float32 (53 ≥ 2·24 + 2 bits), and
// the rest are selections (v128.and / bitselect on comparison masks) that keep NaN and ±0 as the JS
// does. Operands (dense, or one value broadcast) are copied into module memory by chunks of CHUNK
// floats, computed in place over the first operand's slot and copied out: 3-5× faster than the JS
// loops copies included (bench/elementwise.ts). null without WebAssembly SIMD (the JS loops run then).

import { Code, I32, Op, Simd, V128, instantiate, wasmModule, whileNot, type FuncDef } from './emit.ts';
import type { TypedArray } from '../alloc.ts';

/*
 *   (func $<op> (param $a $b $o $n i32))   ;; bytes o[0 .. n) = op(a, b) over f32x4 lanes; n a multiple of 16
 *     for (i = 0; i < n; i += 16) (v128.store o+i (op (v128.load a+i) (v128.load b+i)))
 * Unary ops ignore b.
 */

/** The f32x4 opcodes emit.ts's table lacks (fixed-width SIMD proposal, opcode list). */
const F32X4 = { lt: 0x43, le: 0x45, abs: 0xe0, neg: 0xe1, sqrt: 0xe3 } as const;

/** Emits the lanes of op(a, b) from the vectors on locals a, b (v128 locals va, vb), leaving one v128. */
type Body = (c: Code, va: number, vb: number) => void;
const arith =
  (op: number): Body =>
  (c, a, b) =>
    c.get(a).get(b).simd(op);
/** The i32 lanes 1 where the comparison's mask is set, else 0 (JS: +(a op b)). */
const compare =
  (op: number): Body =>
  (c, a, b) =>
    c.get(a).get(b).simd(op).i32(1).simd(Simd.i32x4_splat).simd(Simd.v128_and);
/** a where the mask m(a, b) is set, else b: maximum / minimum's `a > b || a !== a ? a : b`. */
const pick =
  (op: number): Body =>
  (c, a, b) =>
    c.get(a).get(b).get(a).get(b).simd(op).get(a).get(a).simd(Simd.f32x4_ne).simd(Simd.v128_or).simd(Simd.v128_bitselect);
const zero = (c: Code) => c.f32(0).simd(Simd.f32x4_splat);

export const SIMD_BINARY = {
  add: arith(Simd.f32x4_add),
  sub: arith(Simd.f32x4_sub),
  mul: arith(Simd.f32x4_mul),
  div: arith(Simd.f32x4_div),
  maximum: pick(Simd.f32x4_gt),
  minimum: pick(F32X4.lt),
  // g·[x > 0] + 0: (g + 0) where x > 0 (−0 → +0, NaN stays), +0 elsewhere (the JS gives 0 for g = ±∞, NaN there too).
  reluBackward: (c, a, b) => {
    c.get(a);
    zero(c).simd(Simd.f32x4_add).get(b);
    zero(c).simd(Simd.f32x4_gt).simd(Simd.v128_and);
  },
  eq: compare(Simd.f32x4_eq),
  ne: compare(Simd.f32x4_ne),
  lt: compare(F32X4.lt),
  le: compare(F32X4.le),
  gt: compare(Simd.f32x4_gt),
  ge: compare(Simd.f32x4_ge),
} satisfies Record<string, Body>;

export const SIMD_UNARY = {
  neg: (c, a) => c.get(a).simd(F32X4.neg),
  abs: (c, a) => c.get(a).simd(F32X4.abs),
  sqrt: (c, a) => c.get(a).simd(F32X4.sqrt),
  // a where a > 0 or a is NaN, else +0 (−0, −∞ included).
  relu: (c, a) => {
    c.get(a).get(a);
    zero(c).simd(Simd.f32x4_gt).get(a).get(a).simd(Simd.f32x4_ne).simd(Simd.v128_or).simd(Simd.v128_and);
  },
} satisfies Record<string, Body>;

export type SimdBinaryOp = keyof typeof SIMD_BINARY;
export type SimdUnaryOp = keyof typeof SIMD_UNARY;

const V = { align: 4, offset: 0 };

function kernel(name: string, body: Body, unary: boolean): FuncDef {
  const [a, b, o, n, i, va, vb] = [0, 1, 2, 3, 4, 5, 6];
  const c = new Code();
  c.i32(0).set(i);
  whileNot(
    c,
    () => c.get(i).get(n).op(Op.i32_ge_u),
    () => {
      c.get(a).get(i).op(Op.i32_add).simd(Simd.v128_load, V).set(va);
      if (!unary) c.get(b).get(i).op(Op.i32_add).simd(Simd.v128_load, V).set(vb);
      c.get(o).get(i).op(Op.i32_add);
      body(c, va, vb);
      c.simd(Simd.v128_store, V);
      c.get(i).i32(16).op(Op.i32_add).set(i);
    },
  );
  return { params: [I32, I32, I32, I32], results: [], locals: [I32, V128, V128], body: c, export: name };
}

/** Floats per operand and chunk (16 KiB: the operands and the result stay in L1/L2). */
const CHUNK = 4096;
/** Operand k's slot (the result's: k = 2) starts at k·SLOT floats: 48 floats (3 cache lines) past CHUNK, so the slots are not 4 KiB apart (aliasing). */
const SLOT = CHUNK + 48;

type Instance = { mem: { buffer: ArrayBuffer } } & Record<string, (a: number, b: number, o: number, n: number) => void>;

export function buildElementwiseSimdModule(): Uint8Array {
  const funcs = [
    ...Object.entries(SIMD_BINARY).map(([op, body]) => kernel(op, body, false)),
    ...Object.entries(SIMD_UNARY).map(([op, body]) => kernel(op, body as Body, true)),
  ];
  return wasmModule({ funcs, memory: { minPages: Math.ceil((3 * 4 * SLOT) / 65536), export: 'mem' } });
}

const instance = instantiate<Instance>(buildElementwiseSimdModule);
const f32 = instance && new Float32Array(instance.mem.buffer),
  i32 = instance && new Int32Array(instance.mem.buffer);

/** Switch for benchmarks and tests (the JS loops when false). */
export const elementwiseSimdOptions = { simd: true };

const OPS: ReadonlySet<string> = new Set([...Object.keys(SIMD_BINARY), ...Object.keys(SIMD_UNARY)]);

/** Whether this op runs here (float32 operands and result; the caller checks the dtypes). */
export const simdMapOn = (op: string): op is SimdBinaryOp | SimdUnaryOp => instance !== null && elementwiseSimdOptions.simd && OPS.has(op);

/**
 * out = op(operands) elementwise. Operand k is ins[k] from offs[k] on, row-major, or (bit k of
 * `consts`) the one value ins[k][offs[k]] everywhere. out: float32, or int32 for a comparison.
 */
export function simdMap(op: SimdBinaryOp | SimdUnaryOp, ins: Float32Array[], offs: number[], consts: number, out: TypedArray): void {
  const run = instance![op]!,
    mem = out instanceof Int32Array ? i32! : f32!,
    n = out.length,
    fill = (Math.min(n, CHUNK) + 3) & ~3;
  for (let k = 0; k < ins.length; k++) if ((consts >> k) & 1) f32!.fill(ins[k]![offs[k]!]!, k * SLOT, k * SLOT + fill);
  for (let s = 0; s < n; s += CHUNK) {
    const e = Math.min(n, s + CHUNK);
    for (let k = 0; k < ins.length; k++) if (((consts >> k) & 1) === 0) f32!.set(ins[k]!.subarray(offs[k]! + s, offs[k]! + e), k * SLOT);
    run(0, 4 * SLOT, 8 * SLOT, 4 * ((e - s + 3) & ~3));
    out.set(mem.subarray(2 * SLOT, 2 * SLOT + e - s), s);
  }
}

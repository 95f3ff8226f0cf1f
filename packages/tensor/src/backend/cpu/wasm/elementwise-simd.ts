// The elementwise maps of elementwise.ts on 4-byte data as WebAssembly SIMD, emitted at load time with
// emit.ts, four lanes at a time: on float32 add, sub, mul, div, maximum, minimum, reluBackward, neg, abs,
// sqrt and relu; the comparisons on float32 or int32 (int32 0/1 out); where; the int32 → float32 cast.
// The bits are the JS expressions': a float32 +, −, ·, ÷ or √ of float32 values rounded once equals
// the float64 result rounded to float32 (53 ≥ 2·24 + 2 bits), and the rest are selections (v128.and,
// bitselect on comparison masks) that keep NaN and ±0 as the JS does. Operands (dense, one value
// broadcast, or one value per run of L elements, expanded here) are copied into module memory by
// chunks of CHUNK elements, computed, and the result copied out: 4-8× faster than the JS loops,
// copies included (bench/elementwise.ts). Not there without WebAssembly SIMD (the JS loops run).

import { Code, I32, Op, Simd, V128, instantiate, wasmModule, whileNot, type FuncDef } from './emit.ts';
import type { DType, TypedArray } from '../alloc.ts';

/*
 *   (func $<name> (param $a $b $c $o $n i32))   ;; bytes o[0 .. n) = op(a, b, c) over 4 lanes; n a multiple of 16
 *     for (i = 0; i < n; i += 16) (v128.store o+i (op (v128.load a+i) (v128.load b+i) (v128.load c+i)))
 * Unary ops read only a, binary ones a and b.
 */

/** The opcodes emit.ts's table lacks (fixed-width SIMD proposal, opcode list). */
// biome-ignore format: opcodes on one line
const X = { i32x4_ne: 0x38, i32x4_lt_s: 0x39, i32x4_gt_s: 0x3b, i32x4_le_s: 0x3d, i32x4_ge_s: 0x3f, f32x4_lt: 0x43, f32x4_le: 0x45, f32x4_abs: 0xe0, f32x4_neg: 0xe1, f32x4_sqrt: 0xe3 } as const;

/** Emits the lanes of op(a, b, c) from the vectors on locals a, b, c, leaving one v128. */
type Body = (c: Code, a: number, b: number, cc: number) => void;
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
/** where's `a !== 0 ? b : c`: the bits of b or c, by a lane mask of a ≠ 0 (an f32 or i32 comparison). */
const select =
  (ne: number): Body =>
  (c, a, b, cc) => {
    c.get(b).get(cc).get(a);
    zero(c).simd(ne).simd(Simd.v128_bitselect);
  };

const FLOAT = {
  add: arith(Simd.f32x4_add),
  sub: arith(Simd.f32x4_sub),
  mul: arith(Simd.f32x4_mul),
  div: arith(Simd.f32x4_div),
  maximum: pick(Simd.f32x4_gt),
  minimum: pick(X.f32x4_lt),
  // g·[x > 0] + 0: (g + 0) where x > 0 (−0 → +0, NaN stays), +0 elsewhere (the JS gives 0 for g = ±∞, NaN there too).
  reluBackward: (c, a, b) => {
    c.get(a);
    zero(c).simd(Simd.f32x4_add).get(b);
    zero(c).simd(Simd.f32x4_gt).simd(Simd.v128_and);
  },
  neg: (c, a) => c.get(a).simd(X.f32x4_neg),
  abs: (c, a) => c.get(a).simd(X.f32x4_abs),
  sqrt: (c, a) => c.get(a).simd(X.f32x4_sqrt),
  // a where a > 0 or a is NaN, else +0 (−0, −∞ included).
  relu: (c, a) => {
    c.get(a).get(a);
    zero(c).simd(Simd.f32x4_gt).get(a).get(a).simd(Simd.f32x4_ne).simd(Simd.v128_or).simd(Simd.v128_and);
  },
} satisfies Record<string, Body>;
const UNARY: ReadonlySet<string> = new Set(['neg', 'abs', 'sqrt', 'relu']);
const COMPARE_F32 = { eq: Simd.f32x4_eq, ne: Simd.f32x4_ne, lt: X.f32x4_lt, le: X.f32x4_le, gt: Simd.f32x4_gt, ge: Simd.f32x4_ge };
const COMPARE_I32 = { eq: Simd.i32x4_eq, ne: X.i32x4_ne, lt: X.i32x4_lt_s, le: X.i32x4_le_s, gt: X.i32x4_gt_s, ge: X.i32x4_ge_s };

/** A kernel: the op it computes (elementwise.ts's name), its result's and operands' dtypes, its body. */
export interface SimdKernel {
  op: string;
  dtypes: DType[];
  body: Body;
}
const f: DType = 'float32',
  i: DType = 'int32';
/**
 * Every kernel: the float ops on float32, the comparisons on float32 or int32 (int32 0/1 out),
 * where on 4-byte values (a float32 or int32 condition) and the int32 → float32 cast (rounding to
 * nearest like the JS conversion; float32 → int32 is not here: the JS wraps out-of-range values).
 */
export const SIMD_KERNELS: readonly SimdKernel[] = [
  ...Object.entries(FLOAT).map(([op, body]): SimdKernel => ({ op, dtypes: UNARY.has(op) ? [f, f] : [f, f, f], body })),
  ...Object.entries(COMPARE_F32).map(([op, code]): SimdKernel => ({ op, dtypes: [i, f, f], body: compare(code) })),
  ...Object.entries(COMPARE_I32).map(([op, code]): SimdKernel => ({ op, dtypes: [i, i, i], body: compare(code) })),
  ...[f, i].flatMap((cond) => [f, i].map((t): SimdKernel => ({ op: 'where', dtypes: [t, cond, t, t], body: select(cond === f ? Simd.f32x4_ne : X.i32x4_ne) }))),
  { op: 'cast', dtypes: [f, i], body: (c, a) => c.get(a).simd(Simd.f32x4_convert_i32x4_s) },
];

const V = { align: 4, offset: 0 };

function kernel(k: SimdKernel, index: number): FuncDef {
  const [a, b, cc, o, n, at, va, vb, vc] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const arity = k.dtypes.length - 1;
  const c = new Code();
  c.i32(0).set(at);
  whileNot(
    c,
    () => c.get(at).get(n).op(Op.i32_ge_u),
    () => {
      [a, b, cc].slice(0, arity).forEach((p, j) => c.get(p).get(at).op(Op.i32_add).simd(Simd.v128_load, V).set([va, vb, vc][j]!));
      c.get(o).get(at).op(Op.i32_add);
      k.body(c, va, vb, vc);
      c.simd(Simd.v128_store, V);
      c.get(at).i32(16).op(Op.i32_add).set(at);
    },
  );
  return { params: [I32, I32, I32, I32, I32], results: [], locals: [I32, V128, V128, V128], body: c, export: `k${index}` };
}

/**
 * expand(src, dst, phase, n, L): dst[0 .. n) = the 4-byte values at src, each repeated over a run of
 * L elements, the first run L − phase long (byte addresses; counts in elements). A run's last vector
 * may write up to 3 lanes past it: the next run, stored after it, writes them again (the last run's
 * land in the slot's padding).
 */
function expandKernel(): FuncDef {
  const [src, dst, phase, n, L, pos, end, at, v] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const c = new Code();
  c.i32(0).set(pos).get(L).get(phase).op(Op.i32_sub).set(end); // end: the first run's length, then its end
  whileNot(
    c,
    () => c.get(pos).get(n).op(Op.i32_ge_u),
    () => {
      c.get(src).simd(Simd.v128_load32_splat, { align: 2, offset: 0 }).set(v);
      c.get(pos).get(end).op(Op.i32_add).tee(end).get(n).get(end).get(n).op(Op.i32_lt_u).op(Op.select).set(end); // min(pos + run, n)
      c.get(dst).get(pos).i32(2).op(Op.i32_shl).op(Op.i32_add).set(at);
      c.get(dst).get(end).i32(2).op(Op.i32_shl).op(Op.i32_add).set(pos); // pos: the run's end address, for now
      whileNot(
        c,
        () => c.get(at).get(pos).op(Op.i32_ge_u),
        () => {
          c.get(at).get(v).simd(Simd.v128_store, V);
          c.get(at).i32(16).op(Op.i32_add).set(at);
        },
      );
      c.get(end).set(pos).get(L).set(end); // the next run: from end, L long
      c.get(src).i32(4).op(Op.i32_add).set(src);
    },
  );
  return { params: [I32, I32, I32, I32, I32], results: [], locals: [I32, I32, I32, V128], body: c, export: 'expand' };
}

/** Floats per operand and chunk (16 KiB: the operands and the result stay in L1/L2). */
const CHUNK = 4096;
/**
 * Operand k's slot (the result's: k = 3; slot 4: one value per run, for expand) starts at k·SLOT
 * elements: 48 (3 cache lines) past CHUNK, so the slots are not 4 KiB apart (aliasing).
 */
const SLOT = CHUNK + 48;

type Run = (a: number, b: number, c: number, o: number, n: number) => void;
type Instance = { mem: { buffer: ArrayBuffer } } & Record<string, Run>;

export function buildElementwiseSimdModule(): Uint8Array {
  return wasmModule({ funcs: [...SIMD_KERNELS.map(kernel), expandKernel()], memory: { minPages: Math.ceil((5 * 4 * SLOT) / 65536), export: 'mem' } });
}

const instance = instantiate<Instance>(buildElementwiseSimdModule);
const runs = instance ? SIMD_KERNELS.map((_, k) => instance[`k${k}`]!) : [],
  expand = instance ? instance.expand! : () => {},
  f32 = instance ? new Float32Array(instance.mem.buffer) : new Float32Array(0),
  i32 = new Int32Array(f32.buffer);
/** Module memory as the array type of `a` (a value copy, not a conversion). */
const memOf = (a: TypedArray): Float32Array | Int32Array => (a instanceof Int32Array ? i32 : f32);

/** Switch for benchmarks and tests (the JS loops when false); `calls` counts the calls that ran here. */
export const elementwiseSimdOptions = { simd: true, calls: 0 };

/** Whether the kernels run (WebAssembly SIMD is there and the switch is on). */
export const simdOn = (): boolean => instance !== null && elementwiseSimdOptions.simd;

/**
 * An operand as the kernels read it, of the kernel's dtype: `data` row-major from `offset` on; one
 * `value` everywhere; or `rows`, one value per run of L consecutive elements.
 */
export type SimdOperand = { data: TypedArray; offset: number } | { value: number } | { rows: TypedArray };

/** out = SIMD_KERNELS[kernel](operands) elementwise (L: the run length of `rows` operands). */
export function simdMap(kernel: number, ins: SimdOperand[], L: number, out: TypedArray): void {
  const run = runs[kernel]!,
    types = SIMD_KERNELS[kernel]!.dtypes,
    n = out.length;
  elementwiseSimdOptions.calls++;
  ins.forEach((a, j) => 'value' in a && (types[j + 1] === 'int32' ? i32 : f32).fill(a.value, j * SLOT, j * SLOT + Math.min(n + 3, CHUNK)));
  for (let s = 0; s < n; s += CHUNK) {
    const e = Math.min(n, s + CHUNK);
    for (let j = 0; j < ins.length; j++) {
      const a = ins[j]!;
      if ('data' in a) {
        const d = a.data;
        memOf(d).set(a.offset === 0 && d.length === e - s ? d : d.subarray(a.offset + s, a.offset + e), j * SLOT); // the whole array: no view to make
      } else if ('rows' in a) {
        const r0 = Math.floor(s / L);
        memOf(a.rows).set(a.rows.subarray(r0, Math.floor((e - 1) / L) + 1), 4 * SLOT);
        expand(16 * SLOT, 4 * j * SLOT, s - r0 * L, e - s, L);
      }
    }
    run(0, 4 * SLOT, 8 * SLOT, 12 * SLOT, 4 * ((e - s + 3) & ~3));
    out.set(memOf(out).subarray(3 * SLOT, 3 * SLOT + e - s), s);
  }
}

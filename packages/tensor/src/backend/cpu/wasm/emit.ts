// A tiny WebAssembly binary writer: just enough of the format (MVP sections, LEB128, the integer, float,
// control and fixed-width SIMD opcodes our kernels use) to build a module from TypeScript at load
// time, with no .wasm file, no wat2wasm and no dependencies. Reference: the WebAssembly core spec,
// "Binary Format" (sections 5.1-5.5) and the fixed-width SIMD proposal (merged in 2.0).
// Usage: build function bodies with `Code`, then `wasmModule({ funcs, memory })` returns the bytes,
// `instantiate(build)` an instance's exports (null without WebAssembly SIMD).

/** Value types (spec 5.3.1). */
// biome-ignore format: value types on one line
export const I32 = 0x7f, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;
/** The empty block type (a block, loop or if that takes and leaves nothing on the stack). */
export const VOID = 0x40;

/** Single-byte opcodes (spec 5.4). */
// biome-ignore format: opcodes grouped by kind, one group per line
export const Op = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, br_if: 0x0d, return: 0x0f, call: 0x10,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22,
  select: 0x1b,
  i32_load: 0x28, f32_load: 0x2a, f64_load: 0x2b, i32_store: 0x36, f32_store: 0x38,
  i32_const: 0x41, f32_const: 0x43, f64_const: 0x44,
  i32_eqz: 0x45, i32_eq: 0x46, i32_ne: 0x47, i32_lt_s: 0x48, i32_lt_u: 0x49, i32_gt_s: 0x4a, i32_gt_u: 0x4b,
  i32_le_s: 0x4c, i32_le_u: 0x4d, i32_ge_s: 0x4e, i32_ge_u: 0x4f,
  f32_gt: 0x5e,
  i32_add: 0x6a, i32_sub: 0x6b, i32_mul: 0x6c, i32_and: 0x71, i32_or: 0x72, i32_shl: 0x74, i32_shr_u: 0x76,
  f32_add: 0x92, f64_add: 0xa0, f64_sub: 0xa1, f64_mul: 0xa2, f64_max: 0xa5,
  f32_demote_f64: 0xb6, f64_promote_f32: 0xbb,
} as const;

/** The prefix byte of the SIMD opcodes, each followed by its number as a LEB128 u32. */
export const SIMD_PREFIX = 0xfd;
/** Fixed-width SIMD opcodes (after SIMD_PREFIX). */
// biome-ignore format: opcodes grouped by kind, one group per line
export const Simd = {
  v128_load: 0x00, v128_load32_splat: 0x09, v128_store: 0x0b,
  /** i8x16.shuffle: 16 immediate bytes follow, each a byte lane of the two operands (0-15 first, 16-31 second). */
  i8x16_shuffle: 0x0d,
  i32x4_splat: 0x11, f32x4_splat: 0x13, f64x2_splat: 0x14,
  i32x4_eq: 0x37, f32x4_eq: 0x41, f32x4_ne: 0x42, f32x4_gt: 0x44, f32x4_ge: 0x46,
  v128_and: 0x4e, v128_andnot: 0x4f, v128_or: 0x50, v128_bitselect: 0x52,
  /** v128.load64_lane: a memarg, then the lane index byte; operands (address, vector). load64_zero: the low 8 bytes, the rest 0. */
  v128_load64_lane: 0x57, v128_load64_zero: 0x5d,
  f32x4_demote_f64x2_zero: 0x5e, f64x2_promote_low_f32x4: 0x5f, f32x4_nearest: 0x6a,
  i32x4_bitmask: 0xa4, i32x4_shl: 0xab, i32x4_shr_u: 0xad, i32x4_add: 0xae, i32x4_sub: 0xb1,
  f32x4_add: 0xe4, f32x4_sub: 0xe5, f32x4_mul: 0xe6, f32x4_div: 0xe7, f32x4_max: 0xe9, f32x4_pmax: 0xeb,
  f64x2_add: 0xf0, f64x2_sub: 0xf1, f64x2_mul: 0xf2, f64x2_max: 0xf5,
  i32x4_trunc_sat_f32x4_s: 0xf8, f32x4_convert_i32x4_s: 0xfa,
  /** Relaxed SIMD (Wasm 3.0): a * b + c, fused or not as the engine chooses (operands a, b, c in stack order). */
  f32x4_relaxed_madd: 0x105,
} as const;

/** Section ids (spec 5.5.2). */
// biome-ignore format: section ids on one line
const SEC_TYPE = 1, SEC_FUNCTION = 3, SEC_MEMORY = 5, SEC_EXPORT = 7, SEC_CODE = 10;
// biome-ignore format: encoding constants on one line
const FUNC_TYPE = 0x60, EXPORT_FUNC = 0x00, EXPORT_MEMORY = 0x02, LIMITS_MIN = 0x00;

/** Unsigned LEB128 of a non-negative integer below 2^32. */
export function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`uleb: not a u32: ${n}`);
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of an integer in the int32 range. */
export function sleb(n: number): number[] {
  if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw new RangeError(`sleb: not an i32: ${n}`);
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7; // arithmetic shift keeps the sign
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** A UTF-8 name as the format stores it: its length, then its bytes. */
function name(s: string): number[] {
  const b = Array.from(new TextEncoder().encode(s));
  return [...uleb(b.length), ...b];
}

/** A vector: element count, then the elements. */
function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/**
 * An instruction sequence under construction (one function body). Methods append and return
 * `this`, so code reads like WAT: `c.get(a).get(b).op(Op.i32_add).set(a)`.
 */
export class Code {
  readonly bytes: number[] = [];
  op(...ops: number[]): this {
    this.bytes.push(...ops);
    return this;
  }
  get(local: number): this {
    return this.op(Op.local_get, ...uleb(local));
  }
  set(local: number): this {
    return this.op(Op.local_set, ...uleb(local));
  }
  tee(local: number): this {
    return this.op(Op.local_tee, ...uleb(local));
  }
  i32(n: number): this {
    return this.op(Op.i32_const, ...sleb(n));
  }
  /** f32.const / f64.const: the value's IEEE bytes, little-endian. */
  f32(x: number): this {
    return this.op(Op.f32_const, ...new Uint8Array(new Float32Array([x]).buffer));
  }
  f64(x: number): this {
    return this.op(Op.f64_const, ...new Uint8Array(new Float64Array([x]).buffer));
  }
  /** block / loop / if with no parameters or results; close with end(). */
  block(): this {
    return this.op(Op.block, VOID);
  }
  loop(): this {
    return this.op(Op.loop, VOID);
  }
  if(): this {
    return this.op(Op.if, VOID);
  }
  end(): this {
    return this.op(Op.end);
  }
  br(depth: number): this {
    return this.op(Op.br, ...uleb(depth));
  }
  brIf(depth: number): this {
    return this.op(Op.br_if, ...uleb(depth));
  }
  call(func: number): this {
    return this.op(Op.call, ...uleb(func));
  }
  /** A SIMD instruction; memory ones take a memarg (alignment as log2 bytes, constant byte offset). */
  simd(op: number, mem?: { align: number; offset: number }): this {
    this.op(SIMD_PREFIX, ...uleb(op));
    if (mem !== undefined) this.op(...uleb(mem.align), ...uleb(mem.offset));
    return this;
  }
  /** A load or store of the MVP (i32.load, f32.store, ...) with its memarg. */
  mem(op: number, align: number, offset = 0): this {
    return this.op(op, ...uleb(align), ...uleb(offset));
  }
  /** i8x16.shuffle of the two v128 operands on the stack, given as four f32 lanes (0-3 first operand, 4-7 second). */
  shuffle32(lanes: [number, number, number, number]): this {
    this.op(SIMD_PREFIX, ...uleb(Simd.i8x16_shuffle));
    for (const l of lanes) this.op(4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3);
    return this;
  }
}

/** A function: its signature, extra locals (indices follow the params) and body (without the final `end`). */
/** `while (!stop) body`, where `stop` leaves an i32 on the stack. */
export function whileNot(c: Code, stop: () => void, body: () => void): void {
  c.block().loop();
  stop();
  c.brIf(1);
  body();
  c.br(0).end().end();
}

export interface FuncDef {
  params: ValType[];
  results: ValType[];
  locals: ValType[];
  body: Code;
  /** Exported under this name, if given. */
  export?: string;
}

/**
 * The bytes of a module with one linear memory (exported as memory.export, `memory.minPages` pages
 * of 64 KiB at first, growable) and the given functions (function i is index i, for `call`).
 */
export function wasmModule(m: { funcs: FuncDef[]; memory: { minPages: number; export: string } }): Uint8Array {
  // One type per function (duplicates are allowed; the module is tiny).
  const types = m.funcs.map((f) => [FUNC_TYPE, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  const funcs = m.funcs.map((_, i) => uleb(i));
  const memory = [[LIMITS_MIN, ...uleb(m.memory.minPages)]];
  const exports = [[...name(m.memory.export), EXPORT_MEMORY, 0]];
  m.funcs.forEach((f, i) => {
    if (f.export !== undefined) exports.push([...name(f.export), EXPORT_FUNC, ...uleb(i)]);
  });
  const bodies = m.funcs.map((f) => {
    // Locals are declared as runs of (count, type).
    const runs: number[][] = [];
    for (let i = 0; i < f.locals.length; ) {
      let j = i;
      while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
      runs.push([...uleb(j - i), f.locals[i]!]);
      i = j;
    }
    const body = [...vec(runs), ...f.body.bytes, Op.end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00, // "\0asm", version 1
    ...section(SEC_TYPE, vec(types)),
    ...section(SEC_FUNCTION, vec(funcs)),
    ...section(SEC_MEMORY, vec(memory)),
    ...section(SEC_EXPORT, vec(exports)),
    ...section(SEC_CODE, vec(bodies)),
  ]);
}

/** The parts of the WebAssembly JS API used here (tsconfig's lib has no WebAssembly types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object) => { exports: unknown };
}

/** The exports of an instance of the module `build()` makes, or null where it does not validate (no SIMD) or there is no WebAssembly. */
export function instantiate<T>(build: () => Uint8Array): T | null {
  const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (WA === undefined) return null;
  try {
    const bytes = build();
    return WA.validate(bytes) ? (new WA.Instance(new WA.Module(bytes)).exports as T) : null;
  } catch {
    return null;
  }
}

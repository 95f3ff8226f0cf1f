// The float32 log-softmax kernels (softmax.ts) as WebAssembly SIMD, emitted at load time with emit.ts:
// data (outer, n, inner), softmax over n, four consecutive pixels i at a time (one f32x4 per class,
// stride inner). The forward in three passes over the column: m = max x; e = exp(x − m), Σe (float64);
// L = log Σe, y = (x − m) − L and, when asked, p = e / Σe. exp and log are float32 polynomials
// (Cephes expf, logf), so the bits differ from the JS loops (float64 Math.exp / Math.log):
// max error against a float64 reference 2.5 ulps in y and in p (measured; test/cpu-softmax-simd.test.ts asserts 3).
// Two details keep that bound for any |x − m|: exp gets the rounding error of x − m (TwoSum), and Σe is
// kept as (count of e = 1) + Σ(e < 1), so log Σe near 1 is log1p of the small sum, not of a rounded 1 + ε.
// Exactness kept from the JS: an x of −∞ with a finite max gives p = 0 and y = −∞; exp underflows to
// subnormals then 0 as it should. A column whose max is not finite (NaN, +∞, all −∞) makes the kernel
// return 1, and the caller runs the JS loops for the whole call (rare inputs, their semantics).
// Pixels past the last multiple of 4 are done by a last vector at inner − 4, overlapping the one
// before: every lane computes its own pixel with the same operations, so a pixel's bits do not
// depend on where it lands. Hence inner ≥ 4. Runs on the calling thread, in one module instance:
// x copied in (by chunks of whole planes, rows padded off 4 KiB strides), computed, y and p copied
// out. null without SIMD. The backward gx = g − p·Σg widens to float64 in the JS loops' order: their
// bits. Both 5-15× faster than the JS loops (bench/softmax.ts).

import { Code, I32, Op, Simd, V128, instantiate, wasmModule, whileNot, type FuncDef, type ValType } from './emit.ts';

/*
 *   (func $lsm / $lsmP (param $x $y $p $outer $n $inner $rs i32) (result i32)   ;; $lsmP also writes p; rows every rs floats
 *     for o, for each 4 pixels i (the last group at inner − 4):
 *       m = max_k x[o, k, i..i+4]; if m is not finite: return 1
 *       e = expf(x − m + its rounding error); (p = e)
 *       s = cnt + t: cnt = #(e = 1) ≥ 1 (the max's e is exactly 1), t = Σ f64(e < 1)
 *       L = logf(s), its mantissa's f = s − 1 = f32(t) when s < √2
 *       y = (x − m) − L; (p = p / f32(s))
 *     return 0
 */

const V = { align: 2, offset: 0 }; // 4-byte aligned: groups start at any pixel
/** Two demoted f64x2 (lanes 0, 1 each) joined: a0 a1 b0 b1; lanes 2, 3 moved to 0, 1. */
const JOIN: [number, number, number, number] = [0, 1, 4, 5],
  HIGH: [number, number, number, number] = [2, 3, 0, 1];

// Cephes single precision (expf.c, logf.c): ln 2 = C1 − C2 with C1 of 9 bits (k·C1 exact), the polynomials.
const LOG2E = Math.LOG2E,
  C1 = 0.693359375,
  C2 = -2.1219444e-4;
const EXP_P = [1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
];
/** exp(x) rounds to 0 in float32 below this (2^-150 = exp(−103.97)); the clamp also maps −∞ here. */
const EXP_LO = -104;
/** 2^(k+64) is built from exponent bits (k ≥ −150 stays normal), then scaled by 2^−64: one rounding into the subnormals. */
const SCALE_BIAS = 127 + 64;
/** 1.5·2^23: x + MAGIC rounds x (|x| < 2^22) to an integer k, to nearest even, with bits 0x4b400000 + k. */
const MAGIC = 12582912;

/**
 * A function (a, b, c, outer, n, inner, rs: i32) → i32 (0, or what `group` returns) over (outer, n, inner)
 * float32 data at byte addresses a, b, c, rows of inner floats every rs floats: `group` emits the code of one column group (4 pixels from
 * byte offset `col`, the last group at inner − 4), `column(body)` a loop over its n classes (byte offset q).
 */
class Columns {
  readonly c = new Code();
  readonly locals: ValType[] = [];
  private readonly init = new Code();
  private readonly consts = new Map<string, number>();
  readonly outer = 3;
  readonly n = 4;
  readonly inner = 5;
  readonly rs = 6;
  readonly o = this.local(I32);
  readonly i = this.local(I32);
  readonly stride = this.local(I32);
  readonly plane = this.local(I32);
  readonly off = this.local(I32);
  readonly col = this.local(I32);
  readonly q = this.local(I32);
  readonly end = this.local(I32);
  local(t: ValType): number {
    return 7 + this.locals.push(t) - 1;
  }
  /** A local holding a splatted f32 (or, with int, i32) constant, set once before the loops. */
  k(x: number, int = false): number {
    const key = `${int ? 'i' : 'f'}${x}`;
    if (!this.consts.has(key)) {
      const l = this.local(V128);
      this.consts.set(key, l);
      (int ? this.init.i32(x).simd(Simd.i32x4_splat) : this.init.f32(x).simd(Simd.f32x4_splat)).set(l);
    }
    return this.consts.get(key)!;
  }
  /** Pushes the byte address of element q of the array at param `base`. */
  at(base: number): Code {
    return this.c.get(base).get(this.q).op(Op.i32_add);
  }
  /** do { body; q += stride } while (q < end), q from the column's start. */
  column(body: () => void): void {
    const { c, q } = this;
    c.get(this.col).set(q).loop();
    body();
    c.get(q).get(this.stride).op(Op.i32_add).tee(q).get(this.end).op(Op.i32_lt_u).brIf(0).end();
  }
  build(name: string, group: () => void): FuncDef {
    const { c, o, i, inner, off, plane } = this;
    c.get(this.rs).i32(2).op(Op.i32_shl).set(this.stride);
    c.get(this.n).get(this.stride).op(Op.i32_mul).set(plane);
    c.i32(0).set(o).i32(0).set(off);
    whileNot(
      c,
      () => c.get(o).get(this.outer).op(Op.i32_eq),
      () => {
        c.i32(0).set(i).loop();
        c.get(i).i32(4).op(Op.i32_add).get(inner).op(Op.i32_gt_s).if().get(inner).i32(4).op(Op.i32_sub).set(i).end(); // the last group overlaps
        c.get(off).get(i).i32(2).op(Op.i32_shl).op(Op.i32_add).tee(this.col).get(plane).op(Op.i32_add).set(this.end);
        group();
        c.get(i).i32(4).op(Op.i32_add).tee(i).get(inner).op(Op.i32_lt_s).brIf(0).end();
        c.get(off).get(plane).op(Op.i32_add).set(off);
        c.get(o).i32(1).op(Op.i32_add).set(o);
      },
    );
    c.i32(0);
    const body = new Code().op(...this.init.bytes, ...c.bytes);
    return { params: Array<ValType>(7).fill(I32), results: [I32], locals: this.locals, body, export: name };
  }
}

/** y = log_softmax(x) (and p = softmax(x) with withP); params x, y, p; returns 1 at a non-finite max. */
function forward(withP: boolean): FuncDef {
  const K = new Columns(),
    { c } = K;
  const [x, y, p] = [0, 1, 2];
  const adr = K.local(I32);
  const [m, sa, sb, v, e, r, z, k, f, L, s32, t, xv, er, cnt] = Array.from({ length: 15 }, () => K.local(V128));
  const kf = (a: number) => K.k(a),
    ki = (a: number) => K.k(a, true),
    at = (base: number) => K.at(base),
    column = (body: () => void) => K.column(body);
  const unscale = kf(2 ** -64);
  /** Horner: Σ coefs[j]·u^(len−1−j), left on the stack. */
  const horner = (coefs: number[], u: number) => {
    c.get(kf(coefs[0]!));
    for (const a of coefs.slice(1)) c.get(u).simd(Simd.f32x4_mul).get(kf(a)).simd(Simd.f32x4_add);
  };
  return K.build(withP ? 'lsmP' : 'lsm', () => {
    // m = max over the column (pmax: one instruction, NaN noted apart in z); a NaN, +∞ or all −∞ column ends the call.
    c.f32(-Infinity).simd(Simd.f32x4_splat).set(m).get(ki(0)).set(z);
    column(() => {
      at(x).simd(Simd.v128_load, V).tee(v).get(m).simd(Simd.f32x4_pmax).set(m); // m < x ? x : m
      c.get(z).get(v).get(v).simd(Simd.f32x4_ne).simd(Simd.v128_or).set(z);
    });
    c.get(m).get(m).simd(Simd.f32x4_sub).tee(v).get(v).simd(Simd.f32x4_ne).get(z).simd(Simd.v128_or);
    c.simd(Simd.i32x4_bitmask).if().i32(1).op(Op.return).end();
    // e = expf(x − m), clamped below; s = cnt + Σ e (the e < 1, in float64: lanes 0, 1 in sa, 2, 3 in sb), cnt counting the e = 1.
    c.f64(0).simd(Simd.f64x2_splat).tee(sa).set(sb).get(ki(0)).set(cnt);
    column(() => {
      // v = x − m rounded, er its rounding error (TwoSum, exact; 0 where v is clamped, −∞ included)
      at(x).simd(Simd.v128_load, V).tee(xv).get(m).simd(Simd.f32x4_sub).tee(v).get(xv).simd(Simd.f32x4_sub).set(er); // er = v − x
      c.get(xv).get(v).get(er).simd(Simd.f32x4_sub).simd(Simd.f32x4_sub).get(m).get(er).simd(Simd.f32x4_add).simd(Simd.f32x4_sub);
      c.get(v).get(kf(EXP_LO)).simd(Simd.f32x4_ge).simd(Simd.v128_and).set(er);
      c.get(kf(EXP_LO)).get(v).simd(Simd.f32x4_pmax).set(v); // v = EXP_LO < v ? v : EXP_LO (no NaN here)
      // k = nearest(v·log2e) by adding 1.5·2^23: z = k as float, k + 0x4b400000 the sum's bits
      c.get(v).get(kf(LOG2E)).simd(Simd.f32x4_mul).get(kf(MAGIC)).simd(Simd.f32x4_add).tee(k).get(kf(MAGIC)).simd(Simd.f32x4_sub).set(z);
      c.get(v).get(z).get(kf(C1)).simd(Simd.f32x4_mul).simd(Simd.f32x4_sub).get(z).get(kf(C2)).simd(Simd.f32x4_mul).simd(Simd.f32x4_sub);
      c.get(er).simd(Simd.f32x4_add).tee(r);
      c.get(r).simd(Simd.f32x4_mul).set(z); // z = r²
      horner(EXP_P, r);
      c.get(z).simd(Simd.f32x4_mul).get(r).simd(Simd.f32x4_add).get(kf(1)).simd(Simd.f32x4_add); // P(r)·r² + r + 1
      c.get(k)
        .get(ki(SCALE_BIAS - 0x4b400000))
        .simd(Simd.i32x4_add)
        .i32(23)
        .simd(Simd.i32x4_shl)
        .simd(Simd.f32x4_mul); // · 2^(k+64)
      c.get(unscale).simd(Simd.f32x4_mul).set(e); // · 2^−64
      if (withP) at(p).get(e).simd(Simd.v128_store, V);
      c.get(e).get(kf(1)).simd(Simd.f32x4_eq).set(z);
      c.get(cnt).get(z).simd(Simd.i32x4_sub).set(cnt); // cnt − (−1) where e = 1
      c.get(e).get(z).simd(Simd.v128_andnot).set(xv);
      c.get(sa).get(xv).simd(Simd.f64x2_promote_low_f32x4).simd(Simd.f64x2_add).set(sa);
      c.get(sb).get(xv).get(xv).shuffle32(HIGH).simd(Simd.f64x2_promote_low_f32x4).simd(Simd.f64x2_add).set(sb);
    });
    // L = logf(s): s = 2^k·mm, mm in [√½, √2), f = mm − 1, or when k = 0 (s < √2, so cnt = 1) f = Σ e<1 rounded once.
    c.get(sa).simd(Simd.f32x4_demote_f64x2_zero).get(sb).simd(Simd.f32x4_demote_f64x2_zero).shuffle32(JOIN).set(t);
    c.get(cnt).simd(Simd.f32x4_convert_i32x4_s).tee(z).simd(Simd.f64x2_promote_low_f32x4).get(sa).simd(Simd.f64x2_add).set(sa);
    c.get(z).get(z).shuffle32(HIGH).simd(Simd.f64x2_promote_low_f32x4).get(sb).simd(Simd.f64x2_add).set(sb);
    c.get(sa).simd(Simd.f32x4_demote_f64x2_zero).get(sb).simd(Simd.f32x4_demote_f64x2_zero).shuffle32(JOIN).set(s32);
    c.get(s32).get(ki(0x7fffff)).simd(Simd.v128_and).get(ki(0x3f800000)).simd(Simd.v128_or).set(f); // mm in [1, 2)
    c.get(s32).i32(23).simd(Simd.i32x4_shr_u).get(ki(127)).simd(Simd.i32x4_sub).set(k);
    c.get(f).get(kf(Math.SQRT2)).simd(Simd.f32x4_ge).set(z);
    c.get(k).get(z).simd(Simd.i32x4_sub).set(k); // mm ≥ √2: k + 1 (z: the mask)
    c.get(f).get(kf(0.5)).simd(Simd.f32x4_mul).get(f).get(z).simd(Simd.v128_bitselect).get(kf(1)).simd(Simd.f32x4_sub).set(f);
    c.get(t).get(f).get(k).get(ki(0)).simd(Simd.i32x4_eq).simd(Simd.v128_bitselect).set(f);
    c.get(k).simd(Simd.f32x4_convert_i32x4_s).set(r); // r = k as float
    c.get(f).get(f).simd(Simd.f32x4_mul).set(z);
    horner(LOG_P, f);
    c.get(f).simd(Simd.f32x4_mul).get(z).simd(Simd.f32x4_mul); // P(f)·f·z
    c.get(r).get(kf(C2)).simd(Simd.f32x4_mul).simd(Simd.f32x4_add);
    c.get(z).get(kf(-0.5)).simd(Simd.f32x4_mul).simd(Simd.f32x4_add);
    c.get(f).simd(Simd.f32x4_add).get(r).get(kf(C1)).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(L);
    // y = (x − m) − L; p = e / s.
    column(() => {
      at(y);
      at(x).simd(Simd.v128_load, V).get(m).simd(Simd.f32x4_sub).get(L).simd(Simd.f32x4_sub).simd(Simd.v128_store, V);
      if (withP) at(p).tee(adr).get(adr).simd(Simd.v128_load, V).get(s32).simd(Simd.f32x4_div).simd(Simd.v128_store, V);
    });
  });
}

/** gx = g − p·Σ_n g (params g, p, gx) in float64, the sum in class order, rounded once: the JS loops' bits. */
function backward(): FuncDef {
  const K = new Columns(),
    { c } = K;
  const [g, p, gx] = [0, 1, 2];
  const [sa, sb, a, b] = Array.from({ length: 4 }, () => K.local(V128));
  const promote = () => c.simd(Simd.f64x2_promote_low_f32x4),
    high = (v: number) => c.get(v).get(v).shuffle32(HIGH);
  return K.build('lsmBack', () => {
    c.f64(0).simd(Simd.f64x2_splat).tee(sa).set(sb);
    K.column(() => {
      K.at(g).simd(Simd.v128_load, V).tee(a);
      promote().get(sa).simd(Simd.f64x2_add).set(sa);
      high(a);
      promote().get(sb).simd(Simd.f64x2_add).set(sb);
    });
    K.column(() => {
      K.at(gx);
      K.at(g).simd(Simd.v128_load, V).set(a);
      K.at(p).simd(Simd.v128_load, V).set(b);
      c.get(a);
      promote().get(b);
      promote().get(sa).simd(Simd.f64x2_mul).simd(Simd.f64x2_sub).simd(Simd.f32x4_demote_f64x2_zero); // lanes 0, 1
      high(a);
      promote();
      high(b);
      promote().get(sb).simd(Simd.f64x2_mul).simd(Simd.f64x2_sub).simd(Simd.f32x4_demote_f64x2_zero); // lanes 2, 3
      c.shuffle32(JOIN).simd(Simd.v128_store, V);
    });
  });
}

/** The module's bytes: lsm (y only), lsmP (y and p), lsmBack; memory exported as "mem". */
export function buildSoftmaxSimdModule(): Uint8Array {
  return wasmModule({ funcs: [forward(false), forward(true), backward()], memory: { minPages: 1, export: 'mem' } });
}

// ============ running (calling thread) ============

type Kernel = (x: number, y: number, p: number, outer: number, n: number, inner: number, rs: number) => number;
interface SoftmaxInstance {
  lsm: Kernel;
  lsmP: Kernel;
  lsmBack: Kernel;
  mem: { buffer: ArrayBuffer; grow(pages: number): number };
}

const instance = instantiate<SoftmaxInstance>(buildSoftmaxSimdModule);

/** Switch, for tests: simd = false runs the JS loops of softmax.ts. */
export const softmaxOptions = { simd: true };

/** Elements per chunk copied in (whole (n, inner) planes; one plane at least). */
const CHUNK = 1 << 16;
/** Planes above this many elements stay in JS: module memory never shrinks (about 3·4·MAX_PLANE bytes at most are kept). */
const MAX_PLANE = 1 << 22;
/** Dim sizes up to this run here (measured to 256: bench/softmax.ts, forward and backward at least 2.5× faster than the plane loops). */
const MAX_N = 256;

/** Whether the float32 log-softmax (and its backward) over (·, n, inner) runs here (the forward may still hand a non-finite call back). */
export function softmaxSimdOn(n: number, inner: number): boolean {
  return instance !== null && softmaxOptions.simd && inner >= 4 && n >= 1 && n <= MAX_N && n * inner <= MAX_PLANE;
}

/** Module memory of at least `bytes`, as float32 (made again after growing). */
function memory(bytes: number): Float32Array {
  const m = instance!.mem;
  if (m.buffer.byteLength < bytes) m.grow(Math.ceil((bytes - m.buffer.byteLength) / 65536));
  return new Float32Array(m.buffer);
}

/**
 * Runs `run(addresses, rows, rs)` on (outer, n, inner) data by chunks of whole planes, the arrays in
 * module memory one after the other, their rows every rs floats: those not `out` copied in first, the
 * `out` ones copied out after. rs and the arrays' starts are padded off multiples of 4 KiB (rows 4 KiB
 * apart share the L1 sets and alias loads with stores: [8, 11, 64, 64] ran 1.9× slower). false as soon
 * as a chunk's run returns non-zero (outputs then partly written).
 */
function chunked(
  outer: number,
  n: number,
  inner: number,
  arrays: { a: Float32Array; out: boolean }[],
  run: (at: number[], rows: number, rs: number) => number,
): boolean {
  const plane = n * inner,
    rows = Math.min(outer, Math.max(1, Math.floor(CHUNK / plane))),
    rs = inner + ((inner + 64) % 1024 < 128 ? 16 : 0), // floats; 1024 floats = 4 KiB
    len = ((rows * n * rs + 3) & ~3) + 48, // floats per array: 48 more to shift the next one by 3 cache lines
    f = memory(4 * len * arrays.length),
    at = arrays.map((_, j) => 4 * j * len);
  for (let o = 0; o < outer; o += rows) {
    const r = Math.min(rows, outer - o),
      a = o * plane;
    const rowsDo = (j: number, out: boolean, arr: Float32Array) => {
      for (let k = 0; k < r * n; k++) {
        const src = a + k * inner,
          dst = j * len + k * rs;
        if (out) arr.set(f.subarray(dst, dst + inner), src);
        else f.set(arr.subarray(src, src + inner), dst);
      }
    };
    arrays.forEach(({ a: arr, out }, j) => !out && rowsDo(j, false, arr));
    if (run(at, r, rs) !== 0) return false;
    arrays.forEach(({ a: arr, out }, j) => out && rowsDo(j, true, arr));
  }
  return true;
}

/** y = log_softmax(x) along n of (outer, n, inner) float32 data (p = softmax(x) when given; y, p not x); false at a non-finite max: run the JS loops then. */
export function logSoftmaxF32(x: Float32Array, outer: number, n: number, inner: number, y: Float32Array, p: Float32Array | null): boolean {
  const run = p ? instance!.lsmP : instance!.lsm,
    arrays = [{ a: x, out: false }, { a: y, out: true }, ...(p ? [{ a: p, out: true }] : [])];
  return chunked(outer, n, inner, arrays, (at, rows, rs) => run(at[0]!, at[1]!, at[2] ?? 0, rows, n, inner, rs));
}

/** gx = g − p·Σ_n g of (outer, n, inner) float32 data, with the bits of softmax.ts's loops. */
export function logSoftmaxBackwardF32(g: Float32Array, p: Float32Array, outer: number, n: number, inner: number, gx: Float32Array): void {
  const arrays = [
    { a: g, out: false },
    { a: p, out: false },
    { a: gx, out: true },
  ];
  chunked(outer, n, inner, arrays, (at, rows, rs) => instance!.lsmBack(at[0]!, at[1]!, at[2]!, rows, n, inner, rs));
}

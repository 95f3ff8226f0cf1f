// The elementwise passes of the float32 batch-norm kernels (norm.ts) as WebAssembly SIMD, emitted at
// load time with emit.ts: the forward's y = x·scale + shift (then ReLU), the fused ReLU's gradient
// mask, and the backward's gx = k·(g − a − (x − m)·is·bq). Each float32 is widened to float64 and
// the float64 operations run in norm.ts's JS order (f64x2 lanes, no fused multiply-add), then rounded
// once to float32: the bits of the JS loops, about four times faster. The per-channel sums (the
// statistics, Σg, Σg·x̂) run in the same module (norm-sums-simd.ts), 8 or 4 channels at a time.
// Runs on the calling thread, in one module instance whose memory holds the operands: copied in
// (one memcpy each), computed, copied out. null where WebAssembly SIMD is unavailable.

import { Code, whileNot, F64, I32, Op, Simd, V128, wasmModule, type FuncDef, instantiate } from './emit.ts';
import { GROUP, sumsKernel } from './norm-sums-simd.ts';

/*
 * Data (N, C, L) of float32 at byte addresses; tab: float64 per-channel constants.
 *   (func $affine (export "affine") (param $x $y $N $C $L $tab $relu i32)
 *     for each block (n, c) (L contiguous floats): sc, sh = tab[2c], tab[2c+1]
 *       y = f32(f64(x)·sc + sh), then (if relu) max(·, 0)          ;; 4 floats as two f64x2, then the rest
 *   (func $reluMask (export "reluMask") (param $g $y $out $n i32)
 *     out = y > 0 ? g + 0 : +0                                        ;; f32x4: (g + 0) & (y > 0)
 *   (func $bnGrad (export "bnGrad") (param $g $x $gx $N $C $L $tab i32)
 *     for each block (n, c): k, a, m, is, bq = tab[5c .. 5c+5)
 *       gx = f32(k·((f64(g) − a) − ((f64(x) − m)·is)·bq))
 */

const V = { align: 4, offset: 0 };
/** Lanes 2, 3 of a v128 moved to 0, 1 (for promote_low). */
const HIGH: [number, number, number, number] = [2, 3, 0, 1];
/** Two demoted f32x4 (lanes 0, 1 each) joined: a0 a1 b0 b1. */
const JOIN: [number, number, number, number] = [0, 1, 4, 5];

/**
 * A loop over the blocks (n, c) of (N, C, L) data: per block, `perChannel` (c in local `ch`) then,
 * with local `p` the block's first element index, `body4` while 4 elements remain and `body1` for the rest
 * (local `i` counts elements). Locals used: blk, nb, ch, p, i (given).
 */
function blocks(
  c: Code,
  l: { N: number; C: number; L: number; blk: number; nb: number; ch: number; p: number; i: number },
  perChannel: () => void,
  body4: () => void,
  body1: () => void,
): void {
  c.get(l.N).get(l.C).op(Op.i32_mul).set(l.nb).i32(0).set(l.blk).i32(0).set(l.ch).i32(0).set(l.p);
  whileNot(
    c,
    () => c.get(l.blk).get(l.nb).op(Op.i32_eq),
    () => {
      perChannel();
      c.i32(0).set(l.i);
      whileNot(
        c,
        () => c.get(l.L).get(l.i).op(Op.i32_sub).i32(4).op(Op.i32_lt_s),
        () => {
          body4();
          c.get(l.i).i32(4).op(Op.i32_add).set(l.i);
        },
      );
      whileNot(
        c,
        () => c.get(l.i).get(l.L).op(Op.i32_ge_s),
        () => {
          body1();
          c.get(l.i).i32(1).op(Op.i32_add).set(l.i);
        },
      );
      c.get(l.p).get(l.L).op(Op.i32_add).set(l.p);
      c.get(l.blk).i32(1).op(Op.i32_add).set(l.blk);
      c.get(l.ch).i32(1).op(Op.i32_add).tee(l.ch).get(l.C).op(Op.i32_eq).if().i32(0).set(l.ch).end(); // next channel
    },
  );
}

/** Byte address of element p + i of the array at `base` (pushed on the stack). */
function addr(c: Code, base: number, p: number, i: number): Code {
  return c.get(base).get(p).get(i).op(Op.i32_add).i32(2).op(Op.i32_shl).op(Op.i32_add);
}

function affineKernel(): FuncDef {
  const [x, y, N, C, L, tab, relu] = [0, 1, 2, 3, 4, 5, 6];
  const [blk, nb, ch, p, i] = [7, 8, 9, 10, 11]; // i32
  const [sc, sh, v1] = [12, 13, 19]; // f64 (v1 after the v128 locals)
  const [vsc, vsh, zero, a, b] = [14, 15, 16, 17, 18]; // v128
  const c = new Code();
  c.f64(0).simd(Simd.f64x2_splat).set(zero);
  const l = { N, C, L, blk, nb, ch, p, i };
  const lanes = (v: number) => {
    c.get(v).get(vsc).simd(Simd.f64x2_mul).get(vsh).simd(Simd.f64x2_add).set(v);
  };
  blocks(
    c,
    l,
    () => {
      c.get(tab).get(ch).i32(4).op(Op.i32_shl).op(Op.i32_add).mem(Op.f64_load, 3, 0).tee(sc).simd(Simd.f64x2_splat).set(vsc);
      c.get(tab).get(ch).i32(4).op(Op.i32_shl).op(Op.i32_add).mem(Op.f64_load, 3, 8).tee(sh).simd(Simd.f64x2_splat).set(vsh);
    },
    () => {
      addr(c, x, p, i).simd(Simd.v128_load, V).tee(a).simd(Simd.f64x2_promote_low_f32x4).set(b); // b: lanes 0, 1 for now
      c.get(a).get(a).shuffle32(HIGH).simd(Simd.f64x2_promote_low_f32x4).set(a); // a: lanes 2, 3
      lanes(b);
      lanes(a);
      c.get(b).simd(Simd.f32x4_demote_f64x2_zero).get(a).simd(Simd.f32x4_demote_f64x2_zero).shuffle32(JOIN).set(a);
      // ReLU after the rounding, on 4 floats: f32(max(v, 0)) = pmax(f32(v), 0) + 0 (rounding keeps signs
      // and order; pmax, one maxps, keeps NaN and −0, which + 0 turns into +0)
      c.get(relu).if().get(a).get(zero).simd(Simd.f32x4_pmax).get(zero).simd(Simd.f32x4_add).set(a).end();
      addr(c, y, p, i).get(a).simd(Simd.v128_store, V);
    },
    () => {
      addr(c, y, p, i);
      addr(c, x, p, i).mem(Op.f32_load, 2).op(Op.f64_promote_f32).get(sc).op(Op.f64_mul).get(sh).op(Op.f64_add).set(v1);
      c.get(v1).f64(0).op(Op.f64_max).get(v1).get(relu).op(Op.select); // relu ? max(v, 0) : v
      c.op(Op.f32_demote_f64).mem(Op.f32_store, 2);
    },
  );
  return {
    params: Array<typeof I32>(7).fill(I32),
    results: [],
    locals: [I32, I32, I32, I32, I32, F64, F64, V128, V128, V128, V128, V128, F64],
    body: c,
    export: 'affine',
  };
}

function reluMaskKernel(): FuncDef {
  const [g, y, out, n, i] = [0, 1, 2, 3, 4];
  const zero = 5; // v128
  const c = new Code();
  c.f64(0).simd(Simd.f64x2_splat).set(zero); // all bits 0: +0 as f32x4 too
  c.i32(0).set(i);
  const at = (base: number) => c.get(base).get(i).i32(2).op(Op.i32_shl).op(Op.i32_add);
  whileNot(
    c,
    () => c.get(n).get(i).op(Op.i32_sub).i32(4).op(Op.i32_lt_s),
    () => {
      at(out);
      at(g).simd(Simd.v128_load, V).get(zero).simd(Simd.f32x4_add);
      at(y).simd(Simd.v128_load, V).get(zero).simd(Simd.f32x4_gt).simd(Simd.v128_and);
      c.simd(Simd.v128_store, V);
      c.get(i).i32(4).op(Op.i32_add).set(i);
    },
  );
  whileNot(
    c,
    () => c.get(i).get(n).op(Op.i32_ge_s),
    () => {
      at(out);
      at(g).mem(Op.f32_load, 2).f32(0).op(Op.f32_add).f32(0);
      at(y).mem(Op.f32_load, 2).f32(0).op(Op.f32_gt).op(Op.select);
      c.mem(Op.f32_store, 2);
      c.get(i).i32(1).op(Op.i32_add).set(i);
    },
  );
  return { params: [I32, I32, I32, I32], results: [], locals: [I32, V128], body: c, export: 'reluMask' };
}

function bnGradKernel(): FuncDef {
  const [g, x, gx, N, C, L, tab] = [0, 1, 2, 3, 4, 5, 6];
  const [blk, nb, ch, p, i, t] = [7, 8, 9, 10, 11, 12]; // i32
  const K = [13, 14, 15, 16, 17]; // f64: k, a, m, is, bq
  const [sg, sx] = [18, 19]; // f64: the tail's g and x
  const VK = [20, 21, 22, 23, 24]; // v128: splats of k, a, m, is, bq
  const [ga, gb, xa, xb] = [25, 26, 27, 28]; // v128
  const c = new Code();
  const l = { N, C, L, blk, nb, ch, p, i };
  const vec = { sub: () => c.simd(Simd.f64x2_sub), mul: () => c.simd(Simd.f64x2_mul) },
    one = { sub: () => c.op(Op.f64_sub), mul: () => c.op(Op.f64_mul) };
  /** Pushes k·((g − a) − ((x − m)·is)·bq) for the g and x in locals gv, xv; k holds the constants' locals. */
  const formula = (gv: number, xv: number, k: number[], o: typeof vec) => {
    c.get(k[0]!).get(gv).get(k[1]!);
    o.sub();
    c.get(xv).get(k[2]!);
    o.sub();
    c.get(k[3]!);
    o.mul();
    c.get(k[4]!);
    o.mul();
    o.sub();
    o.mul();
  };
  blocks(
    c,
    l,
    () => {
      c.get(tab).get(ch).i32(40).op(Op.i32_mul).op(Op.i32_add).set(t);
      K.forEach((k, q) =>
        c
          .get(t)
          .mem(Op.f64_load, 3, 8 * q)
          .tee(k)
          .simd(Simd.f64x2_splat)
          .set(VK[q]!),
      );
    },
    () => {
      addr(c, g, p, i).simd(Simd.v128_load, V).tee(ga).get(ga).shuffle32(HIGH).simd(Simd.f64x2_promote_low_f32x4).set(gb);
      c.get(ga).simd(Simd.f64x2_promote_low_f32x4).set(ga);
      addr(c, x, p, i).simd(Simd.v128_load, V).tee(xa).get(xa).shuffle32(HIGH).simd(Simd.f64x2_promote_low_f32x4).set(xb);
      c.get(xa).simd(Simd.f64x2_promote_low_f32x4).set(xa);
      addr(c, gx, p, i);
      formula(ga, xa, VK, vec);
      c.simd(Simd.f32x4_demote_f64x2_zero);
      formula(gb, xb, VK, vec);
      c.simd(Simd.f32x4_demote_f64x2_zero).shuffle32(JOIN).simd(Simd.v128_store, V);
    },
    () => {
      addr(c, gx, p, i);
      addr(c, g, p, i).mem(Op.f32_load, 2).op(Op.f64_promote_f32).set(sg);
      addr(c, x, p, i).mem(Op.f32_load, 2).op(Op.f64_promote_f32).set(sx);
      formula(sg, sx, K, one);
      c.op(Op.f32_demote_f64).mem(Op.f32_store, 2);
    },
  );
  return {
    params: Array<typeof I32>(7).fill(I32),
    results: [],
    locals: [...Array<typeof I32>(6).fill(I32), ...Array<typeof F64>(7).fill(F64), ...Array<typeof V128>(9).fill(V128)],
    body: c,
    export: 'bnGrad',
  };
}

/** The module's bytes: affine, reluMask, bnGrad and the sums sumX, sumSq, sumG; memory exported as "mem". */
export function buildNormSimdModule(): Uint8Array {
  const funcs = [affineKernel(), reluMaskKernel(), bnGradKernel(), sumsKernel('sumX'), sumsKernel('sumSq'), sumsKernel('sumG')];
  return wasmModule({ funcs, memory: { minPages: 1, export: 'mem' } });
}

// ============ running (calling thread) ============

interface NormInstance {
  affine(x: number, y: number, N: number, C: number, L: number, tab: number, relu: number): void;
  reluMask(g: number, y: number, out: number, n: number): void;
  bnGrad(g: number, x: number, gx: number, N: number, C: number, L: number, tab: number): void;
  sumX(x: number, g: number, N: number, C: number, L: number, tab: number, out: number): void;
  sumSq(x: number, g: number, N: number, C: number, L: number, tab: number, out: number): void;
  sumG(x: number, g: number, N: number, C: number, L: number, tab: number, out: number): void;
  mem: { buffer: ArrayBuffer; grow(pages: number): number };
}

const instance = instantiate<NormInstance>(buildNormSimdModule); // null without WebAssembly SIMD

/** Switch, for tests: simd = false runs the JS loops of norm.ts. */
export const normOptions = { simd: true };

/** Elements above which the passes stay in JS: module memory never shrinks (at most ~3·4·MAX_N bytes are kept). */
const MAX_N = 1 << 22;

/** Whether the float32 batch-norm passes over n elements run here. */
export function normSimdOn(n: number): boolean {
  return instance !== null && normOptions.simd && n <= MAX_N;
}

/** Module memory of at least `bytes`, as float32 and float64 views (made again after growing). */
function memory(bytes: number): { f: Float32Array; d: Float64Array } {
  const m = instance!.mem;
  if (m.buffer.byteLength < bytes) m.grow(Math.ceil((bytes - m.buffer.byteLength) / 65536));
  return { f: new Float32Array(m.buffer), d: new Float64Array(m.buffer) };
}

const up4 = (n: number) => (n + 3) & ~3;

/** y = x·scale[c] + shift[c] per channel of (N, C, L) float32 data (then ReLU with relu), as norm.ts's loop. */
export function affineF32(x: Float32Array, y: Float32Array, N: number, C: number, L: number, scale: Float64Array, shift: Float64Array, relu: boolean): void {
  const n = N * C * L,
    yAt = up4(n),
    tAt = 2 * up4(n); // floats; the table (2C float64) at byte 4*tAt
  const { f, d } = memory(4 * tAt + 16 * C);
  f.set(x);
  for (let c = 0; c < C; c++) {
    d[tAt / 2 + 2 * c] = scale[c]!;
    d[tAt / 2 + 2 * c + 1] = shift[c]!;
  }
  instance!.affine(0, 4 * yAt, N, C, L, 4 * tAt, relu ? 1 : 0);
  y.set(f.subarray(yAt, yAt + n));
}

/** Bytes of the sums' tables (tab, then out) for C channels: 16·G bytes per group of G channels, each (G at most 8). */
const sumsBytes = (C: number) => 32 * 8 * Math.ceil(C / 8);
/** The float64 index of channel c's first value (m, or s) in a sums table: each group holds G values, then G more (is, or t). */
const sumsAt = (c: number, G: number) => 2 * G * Math.floor(c / G) + (c % G);

/**
 * Writes (m, is) per channel into the sums' tab at float64 index `at` (groups of G channels, the
 * last channel repeated past C).
 */
function sumsTab(d: Float64Array, at: number, C: number, G: number, m: ArrayLike<number> | null, is: ArrayLike<number> | null): void {
  for (let c = 0; c < G * Math.ceil(C / G); c++) {
    const src = Math.min(c, C - 1),
      k = at + sumsAt(c, G);
    d[k] = m ? m[src]! : 0;
    d[k + G] = is ? is[src]! : 0;
  }
}

/** Reads the sums' out (s, t per channel) at float64 index `at` into s and t. */
function sumsOut(d: Float64Array, at: number, C: number, G: number, s: Float64Array, t: Float64Array | null): void {
  for (let c = 0; c < C; c++) {
    const k = at + sumsAt(c, G);
    s[c] = d[k]!;
    if (t) t[c] = d[k + G]!;
  }
}

/**
 * Per-channel mean = Σx/M and Σ(x − mean)² of (N, C, L) float32 x (M = N·L), each sum sequential in
 * (n, i) order per channel as norm.ts's bnStats: x is staged once for both passes.
 */
export function statsSumsF32(x: Float32Array, N: number, C: number, L: number): { mean: Float64Array; sq: Float64Array } {
  const n = x.length,
    M = N * L,
    tAt = 4 * up4(n), // bytes: the sums' tab, then out
    oAt = tAt + sumsBytes(C) / 2;
  const { f, d } = memory(oAt + sumsBytes(C) / 2);
  f.set(x);
  const mean = new Float64Array(C),
    sq = new Float64Array(C);
  instance!.sumX(0, 0, N, C, L, tAt, oAt);
  sumsOut(d, oAt / 8, C, GROUP.sumX, mean, null);
  for (let c = 0; c < C; c++) mean[c] = mean[c]! / M;
  sumsTab(d, tAt / 8, C, GROUP.sumSq, mean, null);
  instance!.sumSq(0, 0, N, C, L, tAt, oAt);
  sumsOut(d, oAt / 8, C, GROUP.sumSq, sq, null);
  return { mean, sq };
}

/**
 * Stages the backward's operands: g (masked by reluOut > 0 when given) and x; sums(mean, invstd)
 * then gives Σg and Σg·(x − mean)·invstd per channel, and grad(gx) writes gx = k·(g − a − (x − m)·is·bq)
 * per channel, tab holding (k, a, m, is, bq) per channel.
 */
export function stageBackwardF32(
  g: Float32Array,
  x: Float32Array,
  reluOut: Float32Array | null,
  N: number,
  C: number,
): { sums(mean: ArrayLike<number>, invstd: ArrayLike<number>): { gb: Float64Array; gw: Float64Array }; tab: Float64Array; grad(gx: Float32Array): void } {
  const n = g.length,
    xAt = up4(n),
    yAt = 2 * up4(n),
    tAt = 3 * up4(n) + 4, // floats; gx goes to yAt, the table (5C float64) at byte 4*tAt
    sAt = 4 * tAt + 16 * Math.ceil((40 * C) / 16), // bytes: the sums' tab, then out
    oAt = sAt + sumsBytes(C) / 2;
  const { f, d } = memory(oAt + sumsBytes(C) / 2);
  f.set(g);
  f.set(x, xAt);
  if (reluOut) {
    f.set(reluOut, yAt);
    instance!.reluMask(0, 4 * yAt, 0, n);
  }
  const L = n / (N * C);
  return {
    sums(mean: ArrayLike<number>, invstd: ArrayLike<number>) {
      const gb = new Float64Array(C),
        gw = new Float64Array(C);
      sumsTab(d, sAt / 8, C, GROUP.sumG, mean, invstd);
      instance!.sumG(4 * xAt, 0, N, C, L, sAt, oAt);
      sumsOut(d, oAt / 8, C, GROUP.sumG, gb, gw);
      return { gb, gw };
    },
    tab: d.subarray(tAt / 2, tAt / 2 + 5 * C),
    grad(gx: Float32Array) {
      instance!.bnGrad(0, 4 * xAt, 4 * yAt, N, C, L, 4 * tAt);
      gx.set(f.subarray(yAt, yAt + n));
    },
  };
}

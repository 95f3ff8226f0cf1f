// The per-channel sums of the float32 batch-norm kernels (norm.ts) as WebAssembly SIMD, emitted with
// emit.ts into norm-simd.ts's module: Σx (the mean), Σ(x − m)² (the variance) and the backward's Σg,
// Σg·(x − m)·is. G channels at a time (GROUP: 8 or 4), as f64x2 vectors whose lanes hold two
// channels: each lane is its channel's own sequential float64 sum in (n, i) order, the bits of one
// channel at a time in JS, at 2-2.5 times the speed of norm.ts's JS loops.

import { Code, whileNot, I32, Op, Simd, V128, type FuncDef } from './emit.ts';

/*
 * Data (N, C, L) of float32 at byte addresses x (and g); per group of G channels (c .. c + G − 1,
 * the last channel repeated past C) 16·G bytes of float64 in tab (m ×G, is ×G) and out (s ×G, t ×G):
 *   (func $sumX  (param $x $g $N $C $L $tab $out i32))   s += x
 *   (func $sumSq (param ...))                              s += (x − m)·(x − m)
 *   (func $sumG  (param ...))                              s += g;  t += (g·(x − m))·is
 * Per block (n, c): 4 floats of each of the G channels a step (lanes unpacked into channel pairs,
 * added in element order), then the rest one at a time (each float splatted, lane 0 used).
 */
export type SumKind = 'sumX' | 'sumSq' | 'sumG';

const V = { align: 4, offset: 0 };

/**
 * Channels per group: 8 (four f64x2 pairs, four independent add chains) for the statistics, 4 for
 * the backward's two sums (its 8 chains and their constants fill the 16 x64 vector registers);
 * measured best at [8, 32, 64, 64].
 */
export const GROUP: Record<SumKind, number> = { sumX: 8, sumSq: 8, sumG: 4 };

export function sumsKernel(kind: SumKind): FuncDef {
  const G = GROUP[kind],
    PAIRS = G / 2;
  const [x, g, N, C, L, tab, out] = [0, 1, 2, 3, 4, 5, 6];
  const [c0, n, q, e4, e, t] = [7, 8, 9, 10, 11, 12]; // i32
  const O = Array.from({ length: G }, (_, k) => (k === 0 ? -1 : 12 + k)); // i32: channel k's byte offset (none for k = 0)
  let next = 13 + G - 1;
  const take = (count: number) => Array.from({ length: count }, () => next++);
  const [S, T, Mv, Iv] = [take(PAIRS), take(PAIRS), take(PAIRS), take(PAIRS)]; // v128: sums, then m and is splats per pair
  const [XA, XB, GA, GB, XV, GV] = take(6); // v128
  const c = new Code();
  /** Loads channel pair p's data at q (+ its offsets) into locals a, b: 4 floats each, or one splatted. */
  const load = (base: number, p: number, a: number, b: number, one: boolean) => {
    for (const [o, to] of [
      [O[2 * p]!, a],
      [O[2 * p + 1]!, b],
    ] as const) {
      c.get(base).get(q).op(Op.i32_add);
      if (o >= 0) c.get(o).op(Op.i32_add);
      if (one) c.mem(Op.f32_load, 2).simd(Simd.f32x4_splat);
      else c.simd(Simd.v128_load, V);
      c.set(to);
    }
  };
  /** The loaded vectors a, b as their unpacked halves: a0 b0 a1 b1 into a, a2 b2 a3 b3 into b (the x64 unpcklps, unpckhps). */
  const unpack = (a: number, b: number) => {
    c.get(a).get(b).shuffle32([2, 6, 3, 7]);
    c.get(a).get(b).shuffle32([0, 4, 1, 5]).set(a).set(b);
  };
  /** The pair's element j (channel lanes j of the loaded vectors, unpacked in a, b) as f64x2 into local `to`. */
  const pair = (a: number, b: number, j: number, to: number) => {
    const v = j < 2 ? a : b;
    c.get(v);
    if (j % 2 === 1) c.get(v).shuffle32([2, 3, 0, 1]); // the high half down (pshufd)
    c.simd(Simd.f64x2_promote_low_f32x4).set(to);
  };
  /** The sums' step for pair p over elements 0 .. count − 1 of the loaded vectors. */
  const step = (p: number, count: number) => {
    for (let j = 0; j < count; j++) {
      pair(XA, XB, j, XV);
      if (kind === 'sumX') c.get(S[p]!).get(XV).simd(Simd.f64x2_add).set(S[p]!);
      else if (kind === 'sumSq') {
        c.get(XV).get(Mv[p]!).simd(Simd.f64x2_sub).tee(XV).get(XV).simd(Simd.f64x2_mul);
        c.get(S[p]!).simd(Simd.f64x2_add).set(S[p]!);
      } else {
        pair(GA, GB, j, GV);
        c.get(S[p]!).get(GV).simd(Simd.f64x2_add).set(S[p]!);
        c.get(GV).get(XV).get(Mv[p]!).simd(Simd.f64x2_sub).simd(Simd.f64x2_mul).get(Iv[p]!).simd(Simd.f64x2_mul);
        c.get(T[p]!).simd(Simd.f64x2_add).set(T[p]!);
      }
    }
  };
  const body = (one: boolean) => {
    for (let p = 0; p < PAIRS; p++) {
      load(x, p, XA, XB, one);
      unpack(XA, XB);
      if (kind === 'sumG') load(g, p, GA, GB, one);
      if (kind === 'sumG') unpack(GA, GB);
      step(p, one ? 1 : 4);
    }
  };
  /** (min(c0 + k, C − 1) − c0)·L·4: the byte offset of the group's channel k. */
  const offset = (k: number, to: number) => {
    c.i32(k).get(C).i32(1).op(Op.i32_sub).get(c0).op(Op.i32_sub).get(c0).i32(k).op(Op.i32_add).get(C).op(Op.i32_lt_s).op(Op.select);
    c.get(L).op(Op.i32_mul).i32(2).op(Op.i32_shl).set(to);
  };
  c.i32(0).set(c0);
  whileNot(
    c,
    () => c.get(c0).get(C).op(Op.i32_ge_s),
    () => {
      for (let k = 1; k < G; k++) offset(k, O[k]!);
      c.get(c0).i32(4).op(Op.i32_shl).set(t); // the group's 16·G bytes in tab and out: c0·16
      for (let p = 0; p < PAIRS; p++) {
        c.f64(0).simd(Simd.f64x2_splat).set(S[p]!);
        c.f64(0).simd(Simd.f64x2_splat).set(T[p]!);
        if (kind !== 'sumX') {
          c.get(tab)
            .get(t)
            .op(Op.i32_add)
            .simd(Simd.v128_load, { align: 3, offset: 16 * p })
            .set(Mv[p]!);
          c.get(tab)
            .get(t)
            .op(Op.i32_add)
            .simd(Simd.v128_load, { align: 3, offset: 8 * G + 16 * p })
            .set(Iv[p]!);
        }
      }
      c.i32(0).set(n);
      whileNot(
        c,
        () => c.get(n).get(N).op(Op.i32_ge_s),
        () => {
          // q: the byte offset of block (n, c0); e4, e: where its 4-float steps and the block end
          c.get(n).get(C).op(Op.i32_mul).get(c0).op(Op.i32_add).get(L).op(Op.i32_mul).i32(2).op(Op.i32_shl).set(q);
          c.get(q).get(L).i32(-4).op(Op.i32_and).i32(2).op(Op.i32_shl).op(Op.i32_add).set(e4);
          c.get(q).get(L).i32(2).op(Op.i32_shl).op(Op.i32_add).set(e);
          whileNot(
            c,
            () => c.get(q).get(e4).op(Op.i32_ge_u),
            () => {
              body(false);
              c.get(q).i32(16).op(Op.i32_add).set(q);
            },
          );
          whileNot(
            c,
            () => c.get(q).get(e).op(Op.i32_ge_u),
            () => {
              body(true);
              c.get(q).i32(4).op(Op.i32_add).set(q);
            },
          );
          c.get(n).i32(1).op(Op.i32_add).set(n);
        },
      );
      for (let p = 0; p < PAIRS; p++) {
        c.get(out)
          .get(t)
          .op(Op.i32_add)
          .get(S[p]!)
          .simd(Simd.v128_store, { align: 3, offset: 16 * p });
        c.get(out)
          .get(t)
          .op(Op.i32_add)
          .get(T[p]!)
          .simd(Simd.v128_store, { align: 3, offset: 8 * G + 16 * p });
      }
      c.get(c0).i32(G).op(Op.i32_add).set(c0);
    },
  );
  return {
    params: Array<typeof I32>(7).fill(I32),
    results: [],
    locals: [...Array<typeof I32>(6 + G - 1).fill(I32), ...Array<typeof V128>(4 * PAIRS + 6).fill(V128)],
    body: c,
    export: kind,
  };
}

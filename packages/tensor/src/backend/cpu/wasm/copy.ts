// The data-movement functions of the SIMD GEMM module (wasm/gemm-simd.ts builds them into it):
// `copyRuns` (a list of run descriptors, written by the JS packers), and
// `im2col`, which packs a block of a convolution's im2col matrix from one descriptor per kernel tap
// (conv.ts's packBIm2colF32 / packBIm2colTF32), so that the per-output-row runs of small feature
// maps (6 to 24 pixels) are found by the module and not described one by one in JS.
// Addresses and strides are in bytes; descriptor values are i32.

import { Code, whileNot, I32, Op, Simd, type FuncDef } from './emit.ts';

/*
 *   ;; copyRun(d, s, len, st), inlined where used: dst[0 .. len) = src[0, st, 2 st, ..] (4-byte elements, their bits)
 *     (if (st == 4) for (; len >= 4; len -= 4, d += 16, s += 16) (v128.store d (v128.load s)))
 *     for (; len > 0; len--, d += 4, s += st) (i32.store d (i32.load s))
 *
 *   ;; n run descriptors (dst, src, len, stride: in floats) at p
 *   (func $copyRuns (export "copyRuns") (param $p $n i32)
 *     for (; n != 0; n--, p += 16) copyRun(4*p[0], 4*p[1], p[2], 4*p[3]))
 *
 *   ;; header at p: nB oh0 ow0 OH OW rowStep colStep imgStep; then n taps of 8 i32 each:
 *   ;; dst src ohLo ohHi owLo owHi _ _. Tap t's pixels j < nB (j = 0 is output pixel (oh0, ow0) of
 *   ;; its image; rows wrap to the next image at OH) go to dst + 4j; pixel (oh, ow) of image +i reads
 *   ;; src + i*imgStep + oh*rowStep + ow*colStep when ohLo <= oh < ohHi and owLo <= ow < owHi, else
 *   ;; it is padding (dst is zeroed beforehand and left alone).
 *   (func $im2col (export "im2col") (param $p $n i32)
 *     for each tap: for (j = 0, oh = oh0, ow = ow0; j < nB; j = e, ow = 0, oh++)
 *       if (oh == OH) { oh = 0; src += imgStep }
 *       e = min(nB, j + OW - ow)                          ;; this output row's pixels in the block: [j, e)
 *       if (ohLo <= oh < ohHi) a = max(ow, owLo), b = min(ow + e - j, owHi)
 *         if (a < b) copyRun(dst + 4*(j + a - ow), src + oh*rowStep + a*colStep, b - a, colStep)
 */

/** Appends copyRun's body (see the sketch above) on locals d, s, len, st (all four are changed). */
export function emitCopy(c: Code, d: number, s: number, len: number, st: number): void {
  c.get(st).i32(4).op(Op.i32_eq).if(); // unit stride: 4 floats at a time
  whileNot(
    c,
    () => c.get(len).i32(4).op(Op.i32_lt_s),
    () => {
      c.get(d).get(s).simd(Simd.v128_load, { align: 2, offset: 0 }).simd(Simd.v128_store, { align: 2, offset: 0 });
      c.get(d).i32(16).op(Op.i32_add).set(d);
      c.get(s).i32(16).op(Op.i32_add).set(s);
      c.get(len).i32(4).op(Op.i32_sub).set(len);
    },
  );
  c.end();
  whileNot(
    c,
    () => c.get(len).i32(0).op(Op.i32_le_s),
    () => {
      // the rest, any stride (the bits, as i32)
      c.get(d).get(s).mem(Op.i32_load, 2).mem(Op.i32_store, 2);
      c.get(d).i32(4).op(Op.i32_add).set(d);
      c.get(s).get(st).op(Op.i32_add).set(s);
      c.get(len).i32(1).op(Op.i32_sub).set(len);
    },
  );
}

/** copyRuns(p, n) (see the sketch above). */
export function copyRunsKernel(): FuncDef {
  const [p, n, d, s, len, st] = [0, 1, 2, 3, 4, 5];
  const c = new Code();
  whileNot(
    c,
    () => c.get(n).op(Op.i32_eqz),
    () => {
      c.get(p).mem(Op.i32_load, 2, 0).i32(2).op(Op.i32_shl).set(d); // floats to bytes
      c.get(p).mem(Op.i32_load, 2, 4).i32(2).op(Op.i32_shl).set(s);
      c.get(p).mem(Op.i32_load, 2, 8).set(len);
      c.get(p).mem(Op.i32_load, 2, 12).i32(2).op(Op.i32_shl).set(st);
      emitCopy(c, d, s, len, st);
      c.get(p).i32(16).op(Op.i32_add).set(p);
      c.get(n).i32(1).op(Op.i32_sub).set(n);
    },
  );
  return { params: [I32, I32], results: [], locals: [I32, I32, I32, I32], body: c, export: 'copyRuns' };
}

/** im2col(p, n) (see the sketch above). */
export function im2colKernel(): FuncDef {
  const [p, n] = [0, 1];
  const [nB, oh0, ow0, OH, OW, rowStep, colStep, imgStep] = [2, 3, 4, 5, 6, 7, 8, 9]; // the header
  const [dst, src, ohLo, ohHi, owLo, owHi] = [10, 11, 12, 13, 14, 15]; // the tap
  const [j, oh, ow, e, a, b, d, s, len] = [16, 17, 18, 19, 20, 21, 22, 23, 24];
  const c = new Code();
  const minTo = (x: number, bound: number) => c.get(x).get(bound).op(Op.i32_gt_s).if().get(bound).set(x).end(); // x = min(x, bound)
  [nB, oh0, ow0, OH, OW, rowStep, colStep, imgStep].forEach((l, i) =>
    c
      .get(p)
      .mem(Op.i32_load, 2, 4 * i)
      .set(l),
  );
  c.get(p).i32(32).op(Op.i32_add).set(p);
  whileNot(
    c,
    () => c.get(n).op(Op.i32_eqz),
    () => {
      [dst, src, ohLo, ohHi, owLo, owHi].forEach((l, i) =>
        c
          .get(p)
          .mem(Op.i32_load, 2, 4 * i)
          .set(l),
      );
      c.i32(0).set(j).get(oh0).set(oh).get(ow0).set(ow);
      whileNot(
        c,
        () => c.get(j).get(nB).op(Op.i32_ge_s),
        () => {
          c.get(oh).get(OH).op(Op.i32_eq).if(); // next image
          c.i32(0).set(oh).get(src).get(imgStep).op(Op.i32_add).set(src);
          c.end();
          c.get(j).get(OW).op(Op.i32_add).get(ow).op(Op.i32_sub).set(e);
          minTo(e, nB);
          c.get(oh).get(ohLo).op(Op.i32_ge_s).get(oh).get(ohHi).op(Op.i32_lt_s).op(Op.i32_and).if();
          c.get(ow).set(a).get(owLo).get(a).op(Op.i32_gt_s).if().get(owLo).set(a).end(); // a = max(ow, owLo)
          c.get(ow).get(e).op(Op.i32_add).get(j).op(Op.i32_sub).set(b);
          minTo(b, owHi);
          c.get(a).get(b).op(Op.i32_lt_s).if();
          c.get(dst).get(j).get(a).op(Op.i32_add).get(ow).op(Op.i32_sub).i32(2).op(Op.i32_shl).op(Op.i32_add).set(d);
          c.get(src).get(oh).get(rowStep).op(Op.i32_mul).op(Op.i32_add).get(a).get(colStep).op(Op.i32_mul).op(Op.i32_add).set(s);
          c.get(b).get(a).op(Op.i32_sub).set(len);
          emitCopy(c, d, s, len, colStep);
          c.end().end();
          c.get(e).set(j).i32(0).set(ow).get(oh).i32(1).op(Op.i32_add).set(oh);
        },
      );
      c.get(p).i32(32).op(Op.i32_add).set(p);
      c.get(n).i32(1).op(Op.i32_sub).set(n);
    },
  );
  return { params: [I32, I32], results: [], locals: Array<typeof I32>(23).fill(I32), body: c, export: 'im2col' };
}

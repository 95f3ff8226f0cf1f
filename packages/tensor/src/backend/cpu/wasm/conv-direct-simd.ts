// The WebAssembly SIMD module of the direct stride-1 convolution (../conv-direct.ts drives it),
// emitted at load time with emit.ts. The image is first copied into module memory with zero padding
// around each plane (`pad`), so the kernel has no bounds checks; `direct` then computes 4 output
// channels of one image over a band of rows. The rows are cut in vectors of 4 pixels (a row's last
// vector shifted left to end at the row's end when the width is not a multiple of 4: it recomputes
// a few pixels, the same bits, and nothing is written past a row), taken two at a time, also across
// rows, so a 12-pixel row wastes nothing. Per reduction step k = (c, kh, kw): one unaligned v128 load
// of the padded input per vector at the tap's offset, 4 weight splats, 8 multiply-adds into 8 f32x4
// accumulators. Each output is the sequential float32 sum over k of splat(w) * x, with f32x4.mul
// then f32x4.add, or one f32x4.relaxed_madd in the FMA module, then + bias: the operations, in the
// order, of the SIMD GEMM (gemm-simd.ts) on the same conv, so the two paths give the same bits.

import { Code, whileNot, I32, Op, Simd, V128, wasmModule, type FuncDef } from './emit.ts';
import { emitCopy } from './copy.ts';

/*
 * Addresses and strides in bytes.
 *   ;; C planes of rows x cols floats (rows of srcRow, planes of srcPlane bytes) -> dst (dstRow, dstPlane)
 *   (func $pad (export "pad") (param $src $dst $C $rows $cols $srcRow $srcPlane $dstRow $dstPlane i32)
 *     for c < C: for r < rows: copyRun(dst + c*dstPlane + r*dstRow, src + c*srcPlane + r*srcRow, cols, 4)
 *
 *   ;; out[i][oh][ow] (i < 4, planes `plane` bytes apart) = sum over k < nk of w[k][i] * x[tab[k] + oh*rowB + 4*ow]
 *   ;; (+ bias[i] when bias >= 0), for oh < OH, ow < OW (OW >= 4); x: the padded image, tab[k]: byte offset of step k
 *   (func $direct (export "direct") (param $x $w $tab $nk $out $OH $OW $rowB $bias $plane i32)
 *     (oh, ow) = (0, 0)
 *     while oh < OH:
 *       take A: x + oh*rowB + 4*ow, out + 4*(oh*OW + ow); then ow += 4, or ow = OW - 4 past it, or (oh + 1, 0) at OW
 *       if oh < OH: take B likewise; call $chunk2 (A, B)  else call $chunk1 (A)
 *
 *   (func $chunk<V> (param $xa_0 .. $xa_V-1 $w $tab $nk $out_0 .. $out_V-1 $plane $bias i32)   ;; V = 1 or 2 vectors
 *     (local.set $acc_i_v (f32x4.splat (f32.const 0)))                  ;; i < 4, v < V
 *     (loop $k
 *       (local.set $off (i32.load (local.get $tab)))
 *       (local.set $x_v (v128.load (i32.add (local.get $xa_v) (local.get $off))))   ;; v < V
 *       ;; for i < 4:
 *       (local.set $s (v128.load32_splat offset=4*i (local.get $w)))
 *       (local.set $acc_i_v (f32x4.add (local.get $acc_i_v) (f32x4.mul (local.get $s) (local.get $x_v))))   ;; v < V
 *       ;; FMA module instead: (f32x4.relaxed_madd (local.get $s) (local.get $x_v) (local.get $acc_i_v))
 *       (local.set $w (i32.add (local.get $w) (i32.const 16)))
 *       (local.set $tab (i32.add (local.get $tab) (i32.const 4)))
 *       (br_if $k (local.tee $nk (i32.sub (local.get $nk) (i32.const 1)))))
 *     (if (i32.ge_s (local.get $bias) (i32.const 0))
 *       (local.set $acc_i_v (f32x4.add (local.get $acc_i_v) (v128.load32_splat offset=4*i (local.get $bias)))))
 *     (v128.store (i32.add (local.get $out_v) (i * plane)) (local.get $acc_i_v)))
 */

const at16 = (offset: number) => ({ align: 4, offset });

/** chunk<V>: the micro-kernel of 4 channels x V vectors of 4 pixels (see above). Function index V - 1. */
function chunkKernel(V: number, fma: boolean): FuncDef {
  const xa = (v: number) => v,
    [w, tab, nk] = [V, V + 1, V + 2],
    oa = (v: number) => V + 3 + v,
    [plane, bias] = [2 * V + 3, 2 * V + 4],
    L = 2 * V + 5; // first local
  const acc = (i: number, v: number) => L + i * V + v,
    xv = (v: number) => L + 4 * V + v,
    s = L + 5 * V,
    off = s + 1,
    o = s + 2; // v128: acc, xv, s; then i32: off, o
  const c = new Code();
  for (let i = 0; i < 4; i++) for (let v = 0; v < V; v++) c.f32(0).simd(Simd.f32x4_splat).set(acc(i, v));
  c.loop();
  c.get(tab).mem(Op.i32_load, 2).set(off);
  for (let v = 0; v < V; v++) c.get(xa(v)).get(off).op(Op.i32_add).simd(Simd.v128_load, { align: 0, offset: 0 }).set(xv(v));
  for (let i = 0; i < 4; i++) {
    c.get(w)
      .simd(Simd.v128_load32_splat, { align: 2, offset: 4 * i })
      .set(s);
    for (let v = 0; v < V; v++) {
      if (fma) c.get(s).get(xv(v)).get(acc(i, v)).simd(Simd.f32x4_relaxed_madd).set(acc(i, v));
      else c.get(acc(i, v)).get(s).get(xv(v)).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc(i, v));
    }
  }
  c.get(w).i32(16).op(Op.i32_add).set(w);
  c.get(tab).i32(4).op(Op.i32_add).set(tab);
  c.get(nk).i32(1).op(Op.i32_sub).tee(nk).brIf(0);
  c.end();
  c.get(bias).i32(0).op(Op.i32_ge_s).if();
  for (let i = 0; i < 4; i++) {
    c.get(bias)
      .simd(Simd.v128_load32_splat, { align: 2, offset: 4 * i })
      .set(s);
    for (let v = 0; v < V; v++) c.get(acc(i, v)).get(s).simd(Simd.f32x4_add).set(acc(i, v));
  }
  c.end();
  for (let v = 0; v < V; v++) {
    c.get(oa(v)).set(o);
    for (let i = 0; i < 4; i++) {
      if (i > 0) c.get(o).get(plane).op(Op.i32_add).set(o);
      c.get(o).get(acc(i, v)).simd(Simd.v128_store, at16(0));
    }
  }
  return { params: Array<typeof I32>(2 * V + 5).fill(I32), results: [], locals: [...Array<typeof V128>(5 * V + 1).fill(V128), I32, I32], body: c };
}

/** direct(x, w, tab, nk, out, OH, OW, rowB, bias, plane): the rows' 4-pixel vectors in pairs (see above); calls chunk2 (index 1), chunk1 (index 0). */
function directKernel(): FuncDef {
  const [x, w, tab, nk, out, OH, OW, rowB, bias, plane] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [oh, ow, x0, o0, x1, o1] = [10, 11, 12, 13, 14, 15];
  const c = new Code();
  c.i32(0).set(oh).i32(0).set(ow);
  /** The vector at (oh, ow) into (xl, ol), then (oh, ow) moves to the next: ow + 4, or OW - 4 (the row's last, shifted), or the next row. */
  const take = (xl: number, ol: number) => {
    c.get(x).get(oh).get(rowB).op(Op.i32_mul).op(Op.i32_add).get(ow).i32(2).op(Op.i32_shl).op(Op.i32_add).set(xl);
    c.get(out).get(oh).get(OW).op(Op.i32_mul).get(ow).op(Op.i32_add).i32(2).op(Op.i32_shl).op(Op.i32_add).set(ol);
    c.get(ow).i32(4).op(Op.i32_add).set(ow);
    c.get(ow).get(OW).op(Op.i32_ge_s).if();
    c.i32(0).set(ow).get(oh).i32(1).op(Op.i32_add).set(oh);
    c.op(Op.else);
    c.get(ow).get(OW).i32(4).op(Op.i32_sub).op(Op.i32_gt_s).if().get(OW).i32(4).op(Op.i32_sub).set(ow).end();
    c.end();
  };
  whileNot(
    c,
    () => c.get(oh).get(OH).op(Op.i32_ge_s),
    () => {
      take(x0, o0);
      c.get(oh).get(OH).op(Op.i32_lt_s).if();
      take(x1, o1);
      c.get(x0).get(x1).get(w).get(tab).get(nk).get(o0).get(o1).get(plane).get(bias).call(1);
      c.op(Op.else);
      c.get(x0).get(w).get(tab).get(nk).get(o0).get(plane).get(bias).call(0);
      c.end();
    },
  );
  return { params: Array<typeof I32>(10).fill(I32), results: [], locals: Array<typeof I32>(6).fill(I32), body: c, export: 'direct' };
}

/** pad(src, dst, C, rows, cols, srcRow, srcPlane, dstRow, dstPlane) (see above). */
function padKernel(): FuncDef {
  const [src, dst, C, rows, cols, srcRow, srcPlane, dstRow, dstPlane] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [ch, r, d, s, len, st] = [9, 10, 11, 12, 13, 14];
  const c = new Code();
  c.i32(0).set(ch);
  whileNot(
    c,
    () => c.get(ch).get(C).op(Op.i32_ge_s),
    () => {
      c.i32(0).set(r);
      whileNot(
        c,
        () => c.get(r).get(rows).op(Op.i32_ge_s),
        () => {
          c.get(dst).get(ch).get(dstPlane).op(Op.i32_mul).op(Op.i32_add).get(r).get(dstRow).op(Op.i32_mul).op(Op.i32_add).set(d);
          c.get(src).get(ch).get(srcPlane).op(Op.i32_mul).op(Op.i32_add).get(r).get(srcRow).op(Op.i32_mul).op(Op.i32_add).set(s);
          c.get(cols).set(len).i32(4).set(st);
          emitCopy(c, d, s, len, st);
          c.get(r).i32(1).op(Op.i32_add).set(r);
        },
      );
      c.get(ch).i32(1).op(Op.i32_add).set(ch);
    },
  );
  return { params: Array<typeof I32>(9).fill(I32), results: [], locals: Array<typeof I32>(6).fill(I32), body: c, export: 'pad' };
}

/** The module's bytes: chunk1, chunk2, direct, pad; memory exported as "mem". */
export function buildConvDirectModule(fma: boolean): Uint8Array {
  return wasmModule({ funcs: [chunkKernel(1, fma), chunkKernel(2, fma), directKernel(), padKernel()], memory: { minPages: 1, export: 'mem' } });
}

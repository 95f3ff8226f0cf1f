// The WebAssembly SIMD module of the direct conv weight gradient (../conv-wgrad.ts drives
// it), emitted at load time with emit.ts. `quads` interleaves 4 planes into quads (a 4 x n -> n x 4
// transpose per row): the padded image goes to channel quads (pixel (h, w) of channels 4q..4q+3 as 4
// adjacent floats) and gy to 8-channel blocks (pixel p of output channels 8b..8b+7 as 8 adjacent
// floats). `wgrad` then accumulates one 4 (input channels) x 8 (output channels) tile of the weight
// gradient at one tap (kh, kw) over a run of pixels: per pixel, 2 v128 loads of gy, 4 splats of x
// (immediate offsets 0, 4, 8, 12 of one pointer), 8 multiply-adds into 8 f32x4 accumulators, loaded
// from and stored back to memory around the run so that runs continue the same sums. Each element is
// the sequential float32 sum over the pixels (n, oh, ow), in that order, of x * gy: f32x4.mul then
// f32x4.add, or one f32x4.relaxed_madd in the FMA module: the operations, in the order, of the SIMD
// GEMM (gemm-simd.ts) on conv.ts's weight-gradient GEMM, so the two paths give the same bits.

import { Code, whileNot, I32, Op, Simd, V128, wasmModule, type FuncDef } from './emit.ts';

/*
 * Addresses and strides in bytes.
 *   ;; rows x (4 lines of n floats; line t at src + t*line) -> dst: float t of pixel i at dst + i*pix + 4t
 *   (func $quads (export "quads") (param $src $line $dst $pix $n $rows $srcRow $dstRow i32)
 *     for r < rows: s = src + r*srcRow, d = dst + r*dstRow
 *       for 4 pixels at a time: 4 v128 loads (one per line), a 4x4 transpose (i8x16.shuffle), 4 v128 stores
 *       then one pixel at a time: 4 f32 loads and stores
 *
 *   ;; for each of `blocks` output blocks b (gy at g0 + b*gBlock, tile at acc0 + 128b):
 *   ;; acc[i][o] (4 x 8 floats at acc) += sum over pixels of x[i] * g[o], pixels: imgs x rows x cols;
 *   ;; x: quads (xPix bytes a pixel: 16 times the stride, + rowSkip after a row, + imgSkip after an image),
 *   ;; g: 32 bytes a pixel
 *   (func $wgrad (export "wgrad") (param $x0 $g0 $acc0 $imgs $rows $cols $rowSkip $imgSkip $blocks $gBlock $xPix i32)
 *    (loop $block  x = x0, g = g0 + b*gBlock, acc = acc0 + 128b
 *     (local.set $acc_i_v (v128.load offset=16*(2i+v) (local.get $acc)))            ;; i < 4, v < 2
 *     (loop $img (local.set $r (local.get $rows))
 *       (loop $row (local.set $c (local.get $cols))
 *         (loop $col
 *           (local.set $g_v (v128.load offset=16*v (local.get $g)))                  ;; v < 2
 *           ;; for i < 4:
 *           (local.set $s (v128.load32_splat offset=4*i (local.get $x)))
 *           (local.set $acc_i_v (f32x4.add (local.get $acc_i_v) (f32x4.mul (local.get $s) (local.get $g_v))))  ;; v < 2
 *           ;; FMA module instead: (f32x4.relaxed_madd (local.get $s) (local.get $g_v) (local.get $acc_i_v))
 *           x += xPix, g += 32, (br_if $col (c -= 1)))
 *         x += rowSkip, (br_if $row (r -= 1)))
 *       x += imgSkip, (br_if $img (imgs -= 1)))
 *     (v128.store offset=16*(2i+v) (local.get $acc) (local.get $acc_i_v))
 *     (br_if $block (blocks -= 1))))
 */

const at = (offset: number) => ({ align: 2, offset });

/** wgrad (see above); blocks, imgs, rows and cols are at least 1. */
function wgradKernel(fma: boolean): FuncDef {
  const [x0, g0, accAt, imgs0, rows, cols, rowSkip, imgSkip, blocks, gBlock, xPix, x, g, imgs, r, col] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const acc = (i: number, v: number) => 16 + 2 * i + v,
    gv = (v: number) => 24 + v,
    s = 26; // v128 locals
  const c = new Code();
  c.loop(); // output blocks
  c.get(x0).set(x).get(g0).set(g).get(imgs0).set(imgs);
  for (let i = 0; i < 4; i++)
    for (let v = 0; v < 2; v++)
      c.get(accAt)
        .simd(Simd.v128_load, at(16 * (2 * i + v)))
        .set(acc(i, v));
  c.loop(); // images
  c.get(rows).set(r);
  c.loop(); // rows
  c.get(cols).set(col);
  c.loop(); // pixels of a row
  for (let v = 0; v < 2; v++)
    c.get(g)
      .simd(Simd.v128_load, at(16 * v))
      .set(gv(v));
  for (let i = 0; i < 4; i++) {
    c.get(x)
      .simd(Simd.v128_load32_splat, at(4 * i))
      .set(s);
    for (let v = 0; v < 2; v++) {
      if (fma) c.get(s).get(gv(v)).get(acc(i, v)).simd(Simd.f32x4_relaxed_madd).set(acc(i, v));
      else c.get(acc(i, v)).get(s).get(gv(v)).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc(i, v));
    }
  }
  c.get(x).get(xPix).op(Op.i32_add).set(x);
  c.get(g).i32(32).op(Op.i32_add).set(g);
  c.get(col).i32(1).op(Op.i32_sub).tee(col).brIf(0);
  c.end();
  c.get(x).get(rowSkip).op(Op.i32_add).set(x);
  c.get(r).i32(1).op(Op.i32_sub).tee(r).brIf(0);
  c.end();
  c.get(x).get(imgSkip).op(Op.i32_add).set(x);
  c.get(imgs).i32(1).op(Op.i32_sub).tee(imgs).brIf(0);
  c.end();
  for (let i = 0; i < 4; i++)
    for (let v = 0; v < 2; v++)
      c.get(accAt)
        .get(acc(i, v))
        .simd(Simd.v128_store, at(16 * (2 * i + v)));
  c.get(g0).get(gBlock).op(Op.i32_add).set(g0);
  c.get(accAt).i32(128).op(Op.i32_add).set(accAt);
  c.get(blocks).i32(1).op(Op.i32_sub).tee(blocks).brIf(0);
  c.end();
  return {
    params: Array<typeof I32>(11).fill(I32),
    results: [],
    locals: [...Array<typeof I32>(5).fill(I32), ...Array<typeof V128>(11).fill(V128)],
    body: c,
    export: 'wgrad',
  };
}

/** quads (see above). */
function quadsKernel(): FuncDef {
  const [src, line, dst, pix, n, rows, srcRow, dstRow] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [s, d, i, line2, line3, pix2, pix3] = [8, 9, 10, 11, 12, 13, 14];
  const v = (q: number) => 15 + q,
    t = (q: number) => 19 + q; // v128 locals
  const c = new Code();
  c.get(line).i32(1).op(Op.i32_shl).set(line2);
  c.get(line2).get(line).op(Op.i32_add).set(line3);
  c.get(pix).i32(1).op(Op.i32_shl).set(pix2);
  c.get(pix2).get(pix).op(Op.i32_add).set(pix3);
  whileNot(
    c,
    () => c.get(rows).op(Op.i32_eqz),
    () => {
      c.get(src).set(s).get(dst).set(d).get(n).set(i);
      whileNot(
        c,
        () => c.get(i).i32(4).op(Op.i32_lt_s),
        () => {
          c.get(s).simd(Simd.v128_load, at(0)).set(v(0));
          c.get(s).get(line).op(Op.i32_add).simd(Simd.v128_load, at(0)).set(v(1));
          c.get(s).get(line2).op(Op.i32_add).simd(Simd.v128_load, at(0)).set(v(2));
          c.get(s).get(line3).op(Op.i32_add).simd(Simd.v128_load, at(0)).set(v(3));
          c.get(v(0)).get(v(1)).shuffle32([0, 4, 1, 5]).set(t(0));
          c.get(v(0)).get(v(1)).shuffle32([2, 6, 3, 7]).set(t(1));
          c.get(v(2)).get(v(3)).shuffle32([0, 4, 1, 5]).set(t(2));
          c.get(v(2)).get(v(3)).shuffle32([2, 6, 3, 7]).set(t(3));
          c.get(d).get(t(0)).get(t(2)).shuffle32([0, 1, 4, 5]).simd(Simd.v128_store, at(0)); // pixel i: lines 0..3
          c.get(d).get(pix).op(Op.i32_add).get(t(0)).get(t(2)).shuffle32([2, 3, 6, 7]).simd(Simd.v128_store, at(0));
          c.get(d).get(pix2).op(Op.i32_add).get(t(1)).get(t(3)).shuffle32([0, 1, 4, 5]).simd(Simd.v128_store, at(0));
          c.get(d).get(pix3).op(Op.i32_add).get(t(1)).get(t(3)).shuffle32([2, 3, 6, 7]).simd(Simd.v128_store, at(0));
          c.get(s).i32(16).op(Op.i32_add).set(s);
          c.get(d).get(pix).i32(2).op(Op.i32_shl).op(Op.i32_add).set(d);
          c.get(i).i32(4).op(Op.i32_sub).set(i);
        },
      );
      whileNot(
        c,
        () => c.get(i).op(Op.i32_eqz),
        () => {
          c.get(d).get(s).mem(Op.f32_load, 2).mem(Op.f32_store, 2, 0);
          c.get(d).get(s).get(line).op(Op.i32_add).mem(Op.f32_load, 2).mem(Op.f32_store, 2, 4);
          c.get(d).get(s).get(line2).op(Op.i32_add).mem(Op.f32_load, 2).mem(Op.f32_store, 2, 8);
          c.get(d).get(s).get(line3).op(Op.i32_add).mem(Op.f32_load, 2).mem(Op.f32_store, 2, 12);
          c.get(s).i32(4).op(Op.i32_add).set(s);
          c.get(d).get(pix).op(Op.i32_add).set(d);
          c.get(i).i32(1).op(Op.i32_sub).set(i);
        },
      );
      c.get(src).get(srcRow).op(Op.i32_add).set(src);
      c.get(dst).get(dstRow).op(Op.i32_add).set(dst);
      c.get(rows).i32(1).op(Op.i32_sub).set(rows);
    },
  );
  return {
    params: Array<typeof I32>(8).fill(I32),
    results: [],
    locals: [...Array<typeof I32>(7).fill(I32), ...Array<typeof V128>(8).fill(V128)],
    body: c,
    export: 'quads',
  };
}

/** The module's bytes: wgrad (mul+add, or FMA) and quads; memory exported as "mem". */
export function buildConvWgradModule(fma: boolean): Uint8Array {
  return wasmModule({ funcs: [wgradKernel(fma), quadsKernel()], memory: { minPages: 1, export: 'mem' } });
}

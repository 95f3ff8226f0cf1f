// The WebAssembly SIMD module of the direct convolution (../conv-direct.ts drives it), emitted at
// load time with emit.ts. The image is first copied into module memory with zero padding around each
// plane, its columns split in stride phases (`pad`), so the kernel has no bounds checks and 4
// consecutive output pixels read 4 consecutive floats at any stride; `direct` then computes 4 output
// channels of one image over a list of 4-pixel vectors (the driver cuts the output rows in vectors
// and describes each), two at a time. Per reduction step k = (c, kh, kw): one unaligned v128 load of
// the padded input per vector at the tap's offset (or two 64-bit loads for a vector whose lanes
// straddle two rows), 4 weight splats, 8 multiply-adds into 8 f32x4 accumulators. Each output is the
// sequential float32 sum over k of splat(w) * x, with f32x4.mul then f32x4.add, or one
// f32x4.relaxed_madd in the FMA module, then + bias: the operations, in the order, of the SIMD GEMM
// (gemm-simd.ts) on the same conv, so the two paths give the same bits.

import { Code, whileNot, I32, Op, Simd, V128, wasmModule, type FuncDef } from './emit.ts';
import { emitCopy } from './copy.ts';

/*
 * Addresses and strides in bytes.
 *   ;; C planes of rows x cols floats (rows of srcRow, planes of srcPlane bytes, columns step bytes apart)
 *   ;; -> dst (dstRow, dstPlane, columns contiguous)
 *   (func $pad (export "pad") (param $src $dst $C $rows $cols $srcRow $srcPlane $dstRow $dstPlane $step i32)
 *     for c < C: for r < rows: copyRun(dst + c*dstPlane + r*dstRow, src + c*srcPlane + r*srcRow, cols, step)
 *   ;; (step 8, a stride-2 phase: 4 floats at a time first, from two v128 loads and an i8x16.shuffle of
 *   ;; their lanes 0, 2, 4, 6; the second load may read one float past the run, inside the memory)
 *
 *   ;; n vector descriptors at vecs, 4 i32 each: xa, xb (input of lanes 0-3, or of lanes 0-1 and 2-3 when
 *   ;; split, byte offsets from x), o (byte offset of the 4 outputs from out), split (0 or 1)
 *   (func $direct (export "direct") (param $x $w $tab $nk $out $vecs $n $bias $plane i32)
 *     while n > 0:
 *       take A (the next descriptor); if n > 0: take B; call $chunk_{split A}{split B} (A, B)  else call $chunk_{split A} (A)
 *
 *   ;; out_v[i*plane/4 + lane] (i < 4 channels, lane < 4) = sum over k < nk of w[k][i] * x_v[k][lane] (+ bias[i] when bias >= 0)
 *   (func $chunk<splits> (param ($xa_v $xb_v) for v < V, $w $tab $nk, $out_v for v < V, $plane $bias i32)   ;; V = 1 or 2
 *     (local.set $acc_i_v (f32x4.splat (f32.const 0)))                  ;; i < 4, v < V
 *     (loop $k
 *       (local.set $off (i32.load (local.get $tab)))
 *       (local.set $x_v (v128.load (i32.add (local.get $xa_v) (local.get $off))))   ;; v < V; a split vector instead:
 *       ;; (v128.load64_lane 1 (i32.add (local.get $xb_v) (local.get $off)) (v128.load64_zero (i32.add (local.get $xa_v) (local.get $off))))
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

/** The chunk kernels: 1 or 2 vectors, each plain (one v128 load) or split over two rows (two 64-bit loads). */
const CHUNKS: boolean[][] = [[false], [true], [false, false], [false, true], [true, false], [true, true]];
/** Function index of the chunk kernel for these splits. */
const chunkIndex = (splits: boolean[]) => CHUNKS.findIndex((c) => c.length === splits.length && c.every((b, i) => b === splits[i]));

/** chunk: the micro-kernel of 4 channels x V = splits.length vectors of 4 pixels (see above). */
function chunkKernel(splits: boolean[], fma: boolean): FuncDef {
  const V = splits.length;
  const xa = (v: number) => 2 * v,
    xb = (v: number) => 2 * v + 1,
    [w, tab, nk] = [2 * V, 2 * V + 1, 2 * V + 2],
    oa = (v: number) => 2 * V + 3 + v,
    [plane, bias] = [3 * V + 3, 3 * V + 4],
    L = 3 * V + 5; // first local
  const acc = (i: number, v: number) => L + i * V + v,
    xv = (v: number) => L + 4 * V + v,
    s = L + 5 * V,
    off = s + 1,
    o = s + 2; // v128: acc, xv, s; then i32: off, o
  const c = new Code();
  for (let i = 0; i < 4; i++) for (let v = 0; v < V; v++) c.f32(0).simd(Simd.f32x4_splat).set(acc(i, v));
  c.loop();
  c.get(tab).mem(Op.i32_load, 2).set(off);
  for (let v = 0; v < V; v++) {
    if (splits[v]) {
      c.get(xb(v)).get(off).op(Op.i32_add); // lanes 2, 3 (for load64_lane), then lanes 0, 1:
      c.get(xa(v)).get(off).op(Op.i32_add).simd(Simd.v128_load64_zero, { align: 0, offset: 0 });
      c.simd(Simd.v128_load64_lane, { align: 0, offset: 0 }).op(1);
    } else c.get(xa(v)).get(off).op(Op.i32_add).simd(Simd.v128_load, { align: 0, offset: 0 });
    c.set(xv(v));
  }
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
  return { params: Array<typeof I32>(3 * V + 5).fill(I32), results: [], locals: [...Array<typeof V128>(5 * V + 1).fill(V128), I32, I32], body: c };
}

/** direct(x, w, tab, nk, out, vecs, n, bias, plane): the n vectors described at vecs, in pairs (see above). */
function directKernel(): FuncDef {
  const [x, w, tab, nk, out, vecs, n, bias, plane] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const xa = (v: number) => 9 + 4 * v,
    xb = (v: number) => 10 + 4 * v,
    oa = (v: number) => 11 + 4 * v,
    sp = (v: number) => 12 + 4 * v; // i32 locals
  const c = new Code();
  /** Vector v from the next descriptor (xa, xb, oa, split), made absolute. */
  const take = (v: number) => {
    c.get(x).get(vecs).mem(Op.i32_load, 2, 0).op(Op.i32_add).set(xa(v));
    c.get(x).get(vecs).mem(Op.i32_load, 2, 4).op(Op.i32_add).set(xb(v));
    c.get(out).get(vecs).mem(Op.i32_load, 2, 8).op(Op.i32_add).set(oa(v));
    c.get(vecs).mem(Op.i32_load, 2, 12).set(sp(v));
    c.get(vecs).i32(16).op(Op.i32_add).set(vecs);
    c.get(n).i32(1).op(Op.i32_sub).set(n);
  };
  /** call the chunk kernel for these splits, with the vectors' arguments. */
  const call = (splits: boolean[]) => {
    splits.forEach((_, v) => c.get(xa(v)).get(xb(v)));
    c.get(w).get(tab).get(nk);
    splits.forEach((_, v) => c.get(oa(v)));
    c.get(plane).get(bias).call(chunkIndex(splits));
  };
  /** Calls the chunk kernel whose splits are those of the vectors (sp), the first `fixed` of them already chosen. */
  const dispatch = (V: number, fixed: boolean[]) => {
    if (fixed.length === V) return call(fixed);
    c.get(sp(fixed.length)).if();
    dispatch(V, [...fixed, true]);
    c.op(Op.else);
    dispatch(V, [...fixed, false]);
    c.end();
  };
  whileNot(
    c,
    () => c.get(n).op(Op.i32_eqz),
    () => {
      take(0);
      c.get(n).if();
      take(1);
      dispatch(2, []);
      c.op(Op.else);
      dispatch(1, []);
      c.end();
    },
  );
  return { params: Array<typeof I32>(9).fill(I32), results: [], locals: Array<typeof I32>(8).fill(I32), body: c, export: 'direct' };
}

/** pad(src, dst, C, rows, cols, srcRow, srcPlane, dstRow, dstPlane, step) (see above). */
function padKernel(): FuncDef {
  const [src, dst, C, rows, cols, srcRow, srcPlane, dstRow, dstPlane, step] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [ch, r, d, s, len, st] = [10, 11, 12, 13, 14, 15];
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
          c.get(cols).set(len).get(step).set(st);
          c.get(st).i32(8).op(Op.i32_eq).if(); // stride 2: every other float, 4 at a time
          whileNot(
            c,
            () => c.get(len).i32(4).op(Op.i32_lt_s),
            () => {
              c.get(d).get(s).simd(Simd.v128_load, { align: 2, offset: 0 }).get(s).simd(Simd.v128_load, { align: 2, offset: 16 });
              c.shuffle32([0, 2, 4, 6]).simd(Simd.v128_store, { align: 2, offset: 0 });
              c.get(d).i32(16).op(Op.i32_add).set(d);
              c.get(s).i32(32).op(Op.i32_add).set(s);
              c.get(len).i32(4).op(Op.i32_sub).set(len);
            },
          );
          c.end();
          emitCopy(c, d, s, len, st); // the rest
          c.get(r).i32(1).op(Op.i32_add).set(r);
        },
      );
      c.get(ch).i32(1).op(Op.i32_add).set(ch);
    },
  );
  return { params: Array<typeof I32>(10).fill(I32), results: [], locals: Array<typeof I32>(6).fill(I32), body: c, export: 'pad' };
}

/** The module's bytes: the chunk kernels (CHUNKS), direct, pad; memory exported as "mem". */
export function buildConvDirectModule(fma: boolean): Uint8Array {
  const funcs = [...CHUNKS.map((splits) => chunkKernel(splits, fma)), directKernel(), padKernel()];
  return wasmModule({ funcs, memory: { minPages: 1, export: 'mem' } });
}

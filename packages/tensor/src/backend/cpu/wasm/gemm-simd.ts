// The float32 WebAssembly SIMD path of the CPU GEMM (gemm.ts routes float32 jobs here): a module
// emitted at load time with emit.ts (no .wasm file), and the driver that feeds it from the pool.
// Per job, each thread copies the arrays of A and B into its module's linear memory (one memcpy
// each: element-wise float32 copies in JS cost ~1 ns, too much next to the kernel). Per block, a JS
// packer then only describes the block as runs (dst, src, len, stride) that the module's `copyRuns`
// executes, in whichever layout reads the source in long runs: "lines" (one run per row of A /
// column of B, along k) or, for B, "rows" (one run per k). `panelize` turns lines into 4-wide
// panels (4x4 transposes), and `gebp` multiplies, keeping an MR x NR register tile of C in v128
// accumulators (f32x4 lanes = 4 adjacent columns). Each k step adds the rank-1 update
// splat(A[r][k]) * B[k][j..j+3] with f32x4.mul then f32x4.add, so every C element is the sequential
// float32 sum over k of float32-rounded products, in the same order whatever the blocking, tiling
// or thread count: deterministic, and independent of the partition. C accumulates in memory across
// K blocks (loaded before and stored after each micro-kernel call), which continues the same sum.
// The FMA kernel (gemmSimdFmaModule: the same module with f32x4.relaxed_madd for mul+add, built only
// where fma.ts finds that it fuses) makes each step one fused multiply-add: a sequential float32 FMA
// chain over k, as deterministic and partition-independent, with one rounding per step instead of
// two. Which one a job runs is GemmJob.fma (gemm.ts: setFma, env LAD_FMA). The tile stays 4 x 8 for
// both: with relaxed_madd 4 x 8 runs ~53 GFLOP/s in cache and 4 x 12 ~28 (it spills; bench numbers
// in docs/ARCHITECTURE.md).

import { registerKernels, registerModule, type KernelTable, type ModuleExports } from '../threads.ts';
import { Code, whileNot, I32, Op, Simd, V128, wasmModule, type FuncDef } from './emit.ts';
import { copyRunsKernel, im2colKernel } from './copy.ts';
import { relaxedMaddFuses } from './fma.ts';

/** Shape of the register tile: MR = 4*mPanels rows (4-row A panels), NR = 4*nVecs columns. */
export interface SimdTile {
  mPanels: number;
  nVecs: number;
  /** Each k step as one f32x4.relaxed_madd instead of f32x4.mul then f32x4.add. */
  fma?: boolean;
}
/**
 * The tile we ship: 4 x 8, 8 accumulators + 2 B vectors + 1 A splat = 11 v128 registers. Measured
 * in cache on this project's x64 machine (V8 keeps one of the 16 xmm registers as scratch): 4x8
 * ~44 GFLOP/s; 4x12 and 4x16 spill (~15-30); 8x4 is bound by its 8 splat loads per step (~15);
 * 4x8 with the k loop unrolled twice ~30. With relaxed_madd (fma): 4x8 ~53, 4x12 ~28, 4x16 ~34, 8x8 ~28.
 */
export const SIMD_TILE: SimdTile = { mPanels: 1, nVecs: 2 };

/*
 * The module in WAT-like form (MR = 4, NR = 8 shown). Addresses and strides are in bytes.
 * A is 4-row panels: panel i/4 at a + (i/4)*pa, step k at +16k: A[i..i+3][k]. B vector v (columns
 * 4v..4v+3 of the tile) at step k is at b + v*bv + k*bk: panels (bk = 16, bv = panel stride) or
 * row-major rows (bk = row stride, bv = 16) read alike.
 *
 *   (func $micro_1x2 (param $k $a $b $c $ldc $pa $bk $bv i32)
 *     (local.set $acc_r_v (v128.load offset=16*v (i32.add (local.get $c) (r * ldc))))    ;; r < 4, v < 2
 *     (loop $k_loop
 *       (local.set $b_v (v128.load (i32.add (local.get $b) (v * bv))))                  ;; v < 2
 *       ;; for r < 4 (rows 4..7, if MR = 8, read the next panel: $a + $pa):
 *       (local.set $a_s (v128.load32_splat offset=4*r (local.get $a)))
 *       (local.set $acc_r_v (f32x4.add (local.get $acc_r_v) (f32x4.mul (local.get $a_s) (local.get $b_v))))  ;; v < 2
 *       ;; FMA kernel instead: (local.set $acc_r_v (f32x4.relaxed_madd (local.get $a_s) (local.get $b_v) (local.get $acc_r_v)))
 *       (local.set $a (i32.add (local.get $a) (i32.const 16)))
 *       (local.set $b (i32.add (local.get $b) (local.get $bk)))
 *       (br_if $k_loop (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
 *     (v128.store offset=16*v (i32.add (local.get $c) (r * ldc)) (local.get $acc_r_v)))  ;; r < 4, v < 2
 *
 *   ;; C[mP x nP] += A[mP x kB] @ B[kB x nP]; mP, nP multiples of 4, kB >= 1; B column j at b + j*bj
 *   (func $gebp (export "gebp") (param $mP $nP $kB $a $pa $b $bk $bv $bj $c $ldc i32)
 *     for w = nVecs .. 1:                              ;; widest column tiles first, then the edge
 *       for (j; nP - j >= 4w; j += 4w)
 *         for m = mPanels .. 1: for (i; mP - i >= 4m; i += 4m)     ;; i from 0 for each column tile
 *           call $micro_{m}x{w} (kB, a + (i/4)*pa, b + j*bj, c + i*ldc + 4j, ldc, pa, bk, bv)
 *
 *   ;; lines (line l, step k at src + 4*(l*ld + k)) -> 4-line panels (panel p at dst + 16*p*ld)
 *   (func $panelize (export "panelize") (param $src $ld $lines $dst i32)
 *     for (p = 0; p < lines/4; p++, src += 16*ld)
 *       for (k = 0; k < ld; k += 4, dst += 64)
 *         r_q = (v128.load (src + 4*(q*ld + k)))                         ;; q < 4: lines 4p+q, steps k..k+3
 *         t0 = (i8x16.shuffle lanes 0 4 1 5 (r0 r1))   t1 = (... 2 6 3 7 (r0 r1))   ;; interleave
 *         t2 = (i8x16.shuffle lanes 0 4 1 5 (r2 r3))   t3 = (... 2 6 3 7 (r2 r3))
 *         (v128.store offset=0  dst (i8x16.shuffle lanes 0 1 4 5 (t0 t2)))  ;; step k: lines 4p..4p+3
 *         (v128.store offset=16 dst (i8x16.shuffle lanes 2 3 6 7 (t0 t2)))  ;; step k+1
 *         (v128.store offset=32 dst (i8x16.shuffle lanes 0 1 4 5 (t1 t3)))  ;; step k+2
 *         (v128.store offset=48 dst (i8x16.shuffle lanes 2 3 6 7 (t1 t3)))  ;; step k+3
 *
 *   ;; copyRun, copyRuns (run descriptors) and im2col (conv taps): see copy.ts
 */

const V16 = { align: 4, offset: 0 };
const at16 = (offset: number) => ({ align: 4, offset });

function microIndex(t: SimdTile, m: number, w: number): number {
  return (m - 1) * t.nVecs + (w - 1); // micro-kernels first (function indices), then gebp, panelize
}

/** The micro-kernel of an (4m) x (4w) tile. Params: k, a, b, c, ldc, pa, bk, bv (see above). */
function microKernel(m: number, w: number, fma: boolean): FuncDef {
  const [k, a, b, c, ldc, pa, bk, bv] = [0, 1, 2, 3, 4, 5, 6, 7];
  const rows = 4 * m,
    acc = (r: number, v: number) => 8 + r * w + v; // v128 locals
  const bvec = (v: number) => 8 + rows * w + v,
    as = 8 + rows * w + w,
    crow = as + 1; // crow: i32
  const body = new Code();
  const rowAddr = (r: number) => {
    // c + r*ldc into crow (r = 0, 1, ...: one add per row)
    if (r === 0) body.get(c).set(crow);
    else body.get(crow).get(ldc).op(Op.i32_add).set(crow);
  };
  for (let r = 0; r < rows; r++) {
    rowAddr(r);
    for (let v = 0; v < w; v++)
      body
        .get(crow)
        .simd(Simd.v128_load, at16(16 * v))
        .set(acc(r, v));
  }
  body.loop();
  for (let v = 0; v < w; v++) {
    // B[k][4v .. 4v+3] at b + v*bv
    body.get(b);
    for (let p = 0; p < v; p++) body.get(bv).op(Op.i32_add);
    body.simd(Simd.v128_load, V16).set(bvec(v));
  }
  for (let r = 0; r < rows; r++) {
    body.get(a);
    if (r >= 4) body.get(pa).op(Op.i32_add); // rows 4..7 are the next A panel
    body.simd(Simd.v128_load32_splat, { align: 2, offset: 4 * (r & 3) }).set(as);
    for (let v = 0; v < w; v++) {
      if (fma) body.get(as).get(bvec(v)).get(acc(r, v)).simd(Simd.f32x4_relaxed_madd).set(acc(r, v));
      else body.get(acc(r, v)).get(as).get(bvec(v)).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc(r, v));
    }
  }
  body.get(a).i32(16).op(Op.i32_add).set(a);
  body.get(b).get(bk).op(Op.i32_add).set(b);
  body.get(k).i32(1).op(Op.i32_sub).tee(k).brIf(0);
  body.end();
  for (let r = 0; r < rows; r++) {
    rowAddr(r);
    for (let v = 0; v < w; v++)
      body
        .get(crow)
        .get(acc(r, v))
        .simd(Simd.v128_store, at16(16 * v));
  }
  return { params: Array<typeof I32>(8).fill(I32), results: [], locals: [...Array<typeof V128>(rows * w + w + 1).fill(V128), I32], body };
}

/** The macro-kernel gebp (see the WAT sketch above). */
function gebpKernel(t: SimdTile): FuncDef {
  const [mP, nP, kB, a, pa, b, bk, bv, bj, c, ldc, i, j] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const body = new Code();
  body.i32(0).set(j);
  for (let w = t.nVecs; w >= 1; w--) {
    whileNot(
      body,
      () =>
        body
          .get(nP)
          .get(j)
          .op(Op.i32_sub)
          .i32(4 * w)
          .op(Op.i32_lt_s),
      () => {
        body.i32(0).set(i);
        for (let m = t.mPanels; m >= 1; m--) {
          whileNot(
            body,
            () =>
              body
                .get(mP)
                .get(i)
                .op(Op.i32_sub)
                .i32(4 * m)
                .op(Op.i32_lt_s),
            () => {
              body.get(kB);
              body.get(a).get(i).i32(2).op(Op.i32_shr_u).get(pa).op(Op.i32_mul).op(Op.i32_add); // a + (i/4)*pa
              body.get(b).get(j).get(bj).op(Op.i32_mul).op(Op.i32_add); // b + j*bj
              body.get(c).get(i).get(ldc).op(Op.i32_mul).op(Op.i32_add).get(j).i32(2).op(Op.i32_shl).op(Op.i32_add);
              body
                .get(ldc)
                .get(pa)
                .get(bk)
                .get(bv)
                .call(microIndex(t, m, w));
              body
                .get(i)
                .i32(4 * m)
                .op(Op.i32_add)
                .set(i);
            },
          );
        }
        body
          .get(j)
          .i32(4 * w)
          .op(Op.i32_add)
          .set(j);
      },
    );
  }
  return { params: Array<typeof I32>(11).fill(I32), results: [], locals: [I32, I32], body, export: 'gebp' };
}

/** panelize(src, ld, lines, dst): 4x4 transposes of lines into 4-line panels (see the WAT sketch above). */
function panelizeKernel(): FuncDef {
  const [src, ld, lines, dst, ldb, ldb2, ldb3, s, end] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = (q: number) => 9 + q,
    tt = (q: number) => 13 + q; // v128 locals
  const c = new Code();
  c.get(ld).i32(2).op(Op.i32_shl).tee(ldb).i32(1).op(Op.i32_shl).set(ldb2);
  c.get(ldb2).get(ldb).op(Op.i32_add).set(ldb3);
  whileNot(
    c,
    () => c.get(lines).i32(4).op(Op.i32_lt_s),
    () => {
      c.get(src).tee(s).get(ldb).op(Op.i32_add).set(end);
      whileNot(
        c,
        () => c.get(s).get(end).op(Op.i32_ge_u),
        () => {
          c.get(s).simd(Simd.v128_load, V16).set(r(0));
          c.get(s).get(ldb).op(Op.i32_add).simd(Simd.v128_load, V16).set(r(1));
          c.get(s).get(ldb2).op(Op.i32_add).simd(Simd.v128_load, V16).set(r(2));
          c.get(s).get(ldb3).op(Op.i32_add).simd(Simd.v128_load, V16).set(r(3));
          c.get(r(0)).get(r(1)).shuffle32([0, 4, 1, 5]).set(tt(0));
          c.get(r(0)).get(r(1)).shuffle32([2, 6, 3, 7]).set(tt(1));
          c.get(r(2)).get(r(3)).shuffle32([0, 4, 1, 5]).set(tt(2));
          c.get(r(2)).get(r(3)).shuffle32([2, 6, 3, 7]).set(tt(3));
          c.get(dst).get(tt(0)).get(tt(2)).shuffle32([0, 1, 4, 5]).simd(Simd.v128_store, at16(0));
          c.get(dst).get(tt(0)).get(tt(2)).shuffle32([2, 3, 6, 7]).simd(Simd.v128_store, at16(16));
          c.get(dst).get(tt(1)).get(tt(3)).shuffle32([0, 1, 4, 5]).simd(Simd.v128_store, at16(32));
          c.get(dst).get(tt(1)).get(tt(3)).shuffle32([2, 3, 6, 7]).simd(Simd.v128_store, at16(48));
          c.get(s).i32(16).op(Op.i32_add).set(s);
          c.get(dst).i32(64).op(Op.i32_add).set(dst);
        },
      );
      c.get(src).get(ldb).i32(2).op(Op.i32_shl).op(Op.i32_add).set(src);
      c.get(lines).i32(4).op(Op.i32_sub).set(lines);
    },
  );
  return {
    params: [I32, I32, I32, I32],
    results: [],
    locals: [...Array<typeof I32>(5).fill(I32), ...Array<typeof V128>(8).fill(V128)],
    body: c,
    export: 'panelize',
  };
}

/** The module's bytes: micro-kernels for every (m <= mPanels, w <= nVecs), gebp, panelize, then copy.ts's copyRuns and im2col; memory exported as "mem". */
export function buildGemmSimdModule(t: SimdTile = SIMD_TILE): Uint8Array {
  const funcs: FuncDef[] = [];
  for (let m = 1; m <= t.mPanels; m++) for (let w = 1; w <= t.nVecs; w++) funcs[microIndex(t, m, w)] = microKernel(m, w, t.fma === true);
  funcs.push(gebpKernel(t), panelizeKernel(), copyRunsKernel(), im2colKernel());
  return wasmModule({ funcs, memory: { minPages: 1, export: 'mem' } });
}

// ============ compiling (main thread) ============

/** The compiled module (posted to the workers as is), or null where WebAssembly SIMD is unavailable (validate fails). */
export const gemmSimdModule: object | null = registerModule('gemmSimd.module', () => buildGemmSimdModule(SIMD_TILE));

let fmaModule: object | null | undefined; // undefined: not tried yet

/**
 * The FMA kernel's module (SIMD_TILE with relaxed_madd), compiled on the first call; null where the
 * engine has no relaxed SIMD or its relaxed_madd does not fuse (fma.ts). In Node, that first call
 * switches relaxed SIMD on for the process: it is made only when the FMA kernel is wanted (gemm.ts).
 */
export function gemmSimdFmaModule(): object | null {
  if (fmaModule === undefined) {
    fmaModule =
      gemmSimdModule !== null && relaxedMaddFuses() ? registerModule('gemmSimdFma.module', () => buildGemmSimdModule({ ...SIMD_TILE, fma: true })) : null;
  }
  return fmaModule;
}

// ============ self-contained kernels (also run in the workers) ============

/*
 * Packers of the SIMD path, registered as <name>F32 next to the JS path's <name> (gemm.ts, conv.ts).
 * The driver copies the operands' arrays into module memory first (sa: where the source's array
 * starts there), so a packer only describes the copy: it writes runs (dst, src, len, stride), in
 * floats of module memory, as R[rAt + 4q ..], and copyRuns executes them. The destination block is
 * zeroed beforehand, so padding needs no run. Called as pack(src, b, s, k0, kB, x0, n, R, rAt, at, ld, sa)
 * with ld = kB rounded up to 4:
 * - A packers put rows [x0, x0+n) x k in [k0, k0+kB) as lines: row r at at + r*ld.
 * - B packers put k in [k0, k0+kB) x columns [x0, x0+n) as lines (column c at at + c*ld) or as
 *   rows (step k at at + k*nP, nP = n rounded up to 4), whichever reads the source in longer runs.
 * They return 4*(runs written) + 1 for lines, + 0 for rows. Conv's im2col packers (conv.ts) write
 * im2col descriptors instead (copy.ts: a header, then one per tap) and return 4*(taps) + 2 (+ 1 for lines).
 */

/** A or B source of a view job: gemm.ts's ViewSrc over a Float32Array. */
interface ViewSrcF32 {
  data: Float32Array;
  off: number;
  G: number;
  bs1: number;
  bs2: number;
  ss: number;
  rs: number;
  cs: number;
}

function packAViewF32(
  v: ViewSrcF32,
  b: number,
  s: number,
  i0: number,
  mB: number,
  k0: number,
  kB: number,
  R: Int32Array,
  rAt: number,
  at: number,
  ld: number,
  sa: number,
): number {
  const base = sa + v.off + Math.floor(b / v.G) * v.bs1 + (b % v.G) * v.bs2 + s * v.ss + k0 * v.cs + i0 * v.rs;
  for (let r = 0, q = rAt; r < mB; r++, q += 4) {
    R[q] = at + r * ld;
    R[q + 1] = base + r * v.rs;
    R[q + 2] = kB;
    R[q + 3] = v.cs;
  }
  return 4 * mB + 1;
}

function packBViewF32(
  v: ViewSrcF32,
  b: number,
  s: number,
  k0: number,
  kB: number,
  j0: number,
  nB: number,
  R: Int32Array,
  rAt: number,
  at: number,
  ld: number,
  sa: number,
): number {
  const { rs, cs } = v,
    nP = (nB + 3) & ~3;
  const base = sa + v.off + Math.floor(b / v.G) * v.bs1 + (b % v.G) * v.bs2 + s * v.ss + k0 * rs + j0 * cs;
  if (Math.abs(cs) <= Math.abs(rs)) {
    // rows: runs along the columns
    for (let k = 0, q = rAt; k < kB; k++, q += 4) {
      R[q] = at + k * nP;
      R[q + 1] = base + k * rs;
      R[q + 2] = nB;
      R[q + 3] = cs;
    }
    return 4 * kB;
  }
  for (let c = 0, q = rAt; c < nB; c++, q += 4) {
    // lines: runs along k
    R[q] = at + c * ld;
    R[q + 1] = base + c * cs;
    R[q + 2] = kB;
    R[q + 3] = rs;
  }
  return 4 * nB + 1;
}

/** What gemmTilesSimd reads of a GemmJob (gemm.ts; out and the operands are float32), and the SIMD fields. */
interface SimdJob {
  M: number;
  N: number;
  Kd: number;
  nSeg: number;
  mc: number;
  nc: number;
  kc: number;
  tilesI: number;
  tilesJ: number;
  packA: string;
  A: object;
  packB: string;
  B: object;
  out: Float32Array;
  oOff: number;
  oG: number;
  oB1: number;
  oB2: number;
  oRs: number;
  oP: number;
  oN: number;
  bias: Float32Array | null;
  /** At most this many row tiles share one C strip (bounds the module's memory). */
  maxStrip: number;
  /** A thread keeps its instance (and memory) for later jobs only if the job needed at most this many bytes. */
  keepBytes: number;
  /** Run the FMA kernel (gemmSimdFmaModule, compiled before the job is posted) instead of mul+add. */
  fma: boolean;
}

interface SimdInstance extends ModuleExports {
  gebp(mP: number, nP: number, kB: number, a: number, pa: number, b: number, bk: number, bv: number, bj: number, c: number, ldc: number): void;
  panelize(src: number, ld: number, lines: number, dst: number): void;
  copyRuns(p: number, n: number): void;
  im2col(p: number, n: number): void;
}

/**
 * Computes tiles [u0, u1) of a float32 GemmJob (tile u = (b, jb, ib), ib fastest) with the SIMD
 * module, one instance and memory per thread. The arrays of A and B are copied into module memory
 * (one memcpy each); then consecutive tiles of one column block (b, jb) form a strip: per K block,
 * B is packed (and panelized) once, and each row tile's A is packed, panelized and multiplied into
 * the strip's C (float32, in module memory), copied out at the end. Memory (floats): [A's array]
 * [B's array][A lines mcP*kcP][A panels mcP*kcP][B lines or rows ncP*kcP][B panels ncP*kcP]
 * [C strip maxStrip*mcP*ncP][runs 4*(ncP*kcP + mcP) ints].
 */
function gemmTilesSimd(K: KernelTable, j: SimdJob, u0: number, u1: number): void {
  const { M, N, Kd, nSeg, mc, nc, kc, tilesI, tilesJ, out, oRs, bias } = j;
  const packA = K[j.packA + 'F32']!,
    packB = K[j.packB + 'F32']!;
  const arrayOf = (src: object) => {
    const o = src as { data?: Float32Array; x?: Float32Array };
    return (o.data ?? o.x)!;
  };
  const aArr = arrayOf(j.A),
    bArr = arrayOf(j.B),
    up4 = (n: number) => (n + 3) & ~3;
  const mcP = up4(mc),
    ncP = up4(nc),
    kcP = up4(kc),
    strip = Math.min(j.maxStrip, tilesI);
  const sa = 0,
    sb = bArr === aArr ? sa : up4(aArr.length),
    aL = sb + (bArr === aArr ? up4(aArr.length) : up4(bArr.length));
  const aP = aL + mcP * kcP,
    bS = aP + mcP * kcP,
    bP = bS + ncP * kcP,
    cAt = bP + ncP * kcP,
    rAt = cAt + strip * mcP * ncP;
  const bytes = (rAt + 4 * (ncP * kcP + mcP)) * 4;
  const w = K.moduleInstance(K, j.fma ? 'gemmSimdFma.module' : 'gemmSimd.module', bytes, j.keepBytes) as SimdInstance;
  const f = new Float32Array(w.mem.buffer),
    R = new Int32Array(w.mem.buffer); // after growing (it detaches the old buffer)
  f.set(aArr, sa);
  if (bArr !== aArr) f.set(bArr, sb);
  const unpack = (res: number) => ((res & 2) === 0 ? w.copyRuns : w.im2col)(rAt * 4, res >> 2); // what a packer described
  const per = tilesI * tilesJ;
  for (let u = u0; u < u1; ) {
    const b = Math.floor(u / per),
      r = u - b * per,
      jb = Math.floor(r / tilesI),
      ib0 = r - jb * tilesI;
    const ib1 = Math.min(tilesI, ib0 + (u1 - u), ib0 + strip);
    const j0 = jb * nc,
      nB = Math.min(nc, N - j0),
      nP = up4(nB),
      tileC = mcP * nP;
    f.fill(0, cAt, cAt + (ib1 - ib0) * tileC); // row tile ib: at cAt + (ib - ib0)*tileC, row stride nP
    for (let s = 0; s < nSeg; s++) {
      for (let k0 = 0; k0 < Kd; k0 += kc) {
        const kB = Math.min(kc, Kd - k0),
          ld = up4(kB);
        f.fill(0, bS, bS + nP * ld);
        const res = packB(j.B, b, s, k0, kB, j0, nB, R, rAt, bS, ld, sb);
        unpack(res);
        let bAt = bS,
          bk = 4 * nP,
          bv = 16,
          bj = 4; // B as rows
        if ((res & 1) === 1) {
          // B as lines: to panels
          w.panelize(bS * 4, ld, nP, bP * 4);
          bAt = bP;
          bk = 16;
          bv = 16 * ld;
          bj = 4 * ld;
        }
        for (let ib = ib0; ib < ib1; ib++) {
          const i0 = ib * mc,
            mB = Math.min(mc, M - i0),
            mP = up4(mB);
          f.fill(0, aL, aL + mP * ld);
          unpack(packA(j.A, b, s, i0, mB, k0, kB, R, rAt, aL, ld, sa));
          w.panelize(aL * 4, ld, mP, aP * 4);
          w.gebp(mP, nP, kB, aP * 4, 16 * ld, bAt * 4, bk, bv, bj, (cAt + (ib - ib0) * tileC) * 4, nP * 4);
        }
      }
    }
    const b2 = b % j.oG,
      { oP, oN } = j;
    for (let jj = 0; jj < nB; ) {
      // columns [jj, jj + len) of the strip are contiguous in out (see GemmJob's oP)
      const q = Math.floor((j0 + jj) / oP),
        p = j0 + jj - q * oP,
        len = Math.min(nB - jj, oP - p);
      const base = j.oOff + Math.floor(b / j.oG) * j.oB1 + b2 * j.oB2 + q * oN + p;
      for (let ib = ib0; ib < ib1; ib++) {
        const i0 = ib * mc,
          mB = Math.min(mc, M - i0),
          c0 = cAt + (ib - ib0) * tileC + jj;
        for (let i = 0; i < mB; i++) {
          const o = base + (i0 + i) * oRs,
            c = c0 + i * nP;
          if (bias === null) {
            if (len >= 64) out.set(f.subarray(c, c + len), o);
            else for (let t = 0; t < len; t++) out[o + t] = f[c + t]!;
          } else {
            const bi = bias[b2 * M + i0 + i]!;
            for (let t = 0; t < len; t++) out[o + t] = f[c + t]! + bi;
          }
        }
      }
      jj += len;
    }
    u += ib1 - ib0;
  }
}

registerKernels({ packAViewF32, packBViewF32, gemmTilesSimd });

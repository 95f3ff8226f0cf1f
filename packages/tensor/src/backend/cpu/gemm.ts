// Batched matrix multiply for the CPU backend: out[b] = a[b] @ b[b] over strided views.
// Packed and register-blocked after GotoBLAS/BLIS (Goto & van de Geijn 2008): panels of A (MR
// rows) and B (NR columns) are packed into scratch, and a micro-kernel keeps a block of C in
// registers. Two paths:
// - float32 (operands and output): the WebAssembly SIMD kernel of wasm/gemm-simd.ts, f32x4 lanes,
//   float32 accumulation. Each C element is the sequential float32 sum over k of float32 products,
//   the same whatever the blocking or threads (deterministic), within float32 rounding of bmmNaive.
//   Where the engine has a fused f32x4.relaxed_madd (wasm/fma.ts) and FMA is on (setFma, env
//   LAD_FMA), each k step is one fused multiply-add instead: a sequential float32 FMA chain over k,
//   as deterministic and partition-independent, with different bits (one rounding per step, not two).
// - otherwise (float64, mixed dtypes, or gemmOptions.simd = false): the plain-JS 4x4 kernel below on
//   float64 panels. Each C element is a sequential float64 sum over k, rounded once on store, so the
//   result does not depend on blocking or threads, and matches bmmNaive bit for bit.
// Dims: b batch, M rows of A and C, N columns of B and C, K the reduction (Kd per segment x nSeg).

import { ValueError } from '../../errors.ts';
import type { FloatArray } from './alloc.ts';
import { registerKernels, runKernel, threadsFor, type KernelTable } from './threads.ts';
import { gemmSimdFmaModule, gemmSimdModule } from './wasm/gemm-simd.ts';

/** A strided batch of matrices inside a typed array: element (b, i, j) is at offset + b*batchStride + i*rowStride + j*colStride. Strides may be 0 (broadcast) and need not be contiguous (a transposed view is rowStride=1, colStride=M). */
export interface MatView {
  data: FloatArray;
  offset: number;
  batchStride: number;
  rowStride: number;
  colStride: number;
}

/**
 * Where a packer reads operand element (b, s, r, c) — batch b, reduction segment s, row r, column c:
 * data[off + floor(b/G)*bs1 + (b%G)*bs2 + s*ss + r*rs + c*cs]. G splits the batch in two (conv: n, group).
 */
export interface ViewSrc {
  data: FloatArray;
  off: number;
  G: number;
  bs1: number;
  bs2: number;
  ss: number;
  rs: number;
  cs: number;
}

/** What a caller of runGemm gives: the product, the packers (kernel names) and their sources, where C goes. */
export interface GemmSpec {
  M: number;
  N: number;
  Kd: number;
  nSeg: number;
  packA: string;
  A: object;
  packB: string;
  B: object;
  out: FloatArray;
  oOff: number;
  oG: number;
  oB1: number;
  oB2: number;
  oRs: number;
  /** Columns of C per output block (conv over a batch of images), N if absent; see GemmJob. */
  oP?: number;
  oN?: number;
  bias: FloatArray | null;
}

/**
 * One GEMM job, split in tiles (b, jb, ib) of mc x nc elements of C. The packers are kernel names.
 * Made as one object literal (runGemm): spreading objects of this many fields costs V8 microseconds.
 */
export interface GemmJob extends Omit<GemmSpec, 'oP' | 'oN'> {
  mc: number;
  nc: number;
  kc: number;
  tilesI: number;
  tilesJ: number;
  /**
   * C element (b, i, j) goes to out[oOff + floor(b/oG)*oB1 + (b%oG)*oB2 + i*oRs + floor(j/oP)*oN + j%oP]
   * (+ bias[(b%oG)*M + i]): oP = N unless C's columns are (image, pixel) of a conv over a batch of images.
   */
  oP: number;
  oN: number;
  /** SIMD path: at most this many row tiles share one C strip (bounds the module's memory). */
  maxStrip: number;
  /** SIMD path: a thread keeps its instance (and memory) for later jobs only if the job needed at most this many bytes. */
  keepBytes: number;
  /** SIMD path: the FMA kernel (fused multiply-add per k step) instead of mul+add. */
  fma: boolean;
}

/** Register block of the micro-kernel (packed panels are padded with zeros to these). */
export const MR = 4,
  NR = 4;
const MC = 64,
  NC = 256,
  KC = 320;
/** Blocking of the SIMD path (float32 panels: A block MC_S x KC_S, B block KC_S x NC_S; B tiles are 8 wide). */
const MC_S = 64,
  NC_S = 256,
  KC_S = 320,
  NR_S = 8,
  STRIP_ROWS = 1024;
/**
 * The SIMD path copies its operands' arrays into module memory: at most STAGE_MAX floats each, and
 * not much more than the job reads (a small view of a big array goes the JS way). A thread keeps
 * its module memory between jobs up to KEEP_BYTES; a bigger job gets a fresh instance, dropped after.
 */
const STAGE_MAX = 1 << 25,
  KEEP_BYTES = 64 << 20;

/** Whether the FMA kernel is on unless LAD_FMA says otherwise. */
const FMA_DEFAULT = true;
/** FMA_DEFAULT, or the environment's LAD_FMA (read once, at load: 0 off, anything else on). */
function fmaFromEnv(): boolean {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.LAD_FMA;
  return v === undefined || v === '' ? FMA_DEFAULT : v !== '0';
}

/** Switches, for tests and benchmarks: simd = false sends float32 through the JS kernel too; fma: see setFma. */
export const gemmOptions = { simd: true, fma: fmaFromEnv() };

/**
 * Whether float32 GEMMs (matmul, conv) may use the FMA kernel: one fused multiply-add per k step where
 * the engine has a fused f32x4.relaxed_madd, mul then add otherwise. Changes the bits of results (within
 * float32 rounding), not their determinism. Default on; LAD_FMA=0 in the environment starts it off.
 */
export function setFma(enabled: boolean): void {
  if (typeof enabled !== 'boolean')
    throw new ValueError(`setFma: enabled is not a boolean: got ${JSON.stringify(enabled) ?? String(enabled)}, expected true or false.`);
  gemmOptions.fma = enabled;
}

/** The kernel float32 GEMMs run now: 'fma' (fused relaxed_madd), 'mul+add' (f32x4.mul then add) or 'js' (no WebAssembly SIMD). */
export function gemmKernel(): 'fma' | 'mul+add' | 'js' {
  if (!gemmOptions.simd || !simdAvailable) return 'js';
  return gemmOptions.fma && gemmSimdFmaModule() !== null ? 'fma' : 'mul+add';
}
/** GEMM jobs run so far on each path (for tests). */
export const gemmStats = { simdJobs: 0, jsJobs: 0 };
/** Whether this runtime has the WebAssembly SIMD kernel (Node 20's V8 does). */
export const simdAvailable = gemmSimdModule !== null;
/** Below this many multiply-adds the naive loop wins (no packing). */
const SMALL_MACS = 1 << 13;

// ============ self-contained kernels (also run in the workers; call each other through K) ============

/**
 * C[4x4 at ci, row stride ldc] += (4-row panel of A at P[ai..]) @ (4-column panel of B at P[bi..]),
 * both packed in one buffer P (kc steps of 4 values each). The hot loop of the JS path (float32
 * jobs run wasm/gemm-simd.ts's f32x4 kernel instead).
 */
function micro4x4(kc: number, P: Float64Array, ai: number, bi: number, C: Float64Array, ci: number, ldc: number): void {
  const c1 = ci + ldc,
    c2 = c1 + ldc,
    c3 = c2 + ldc;
  let c00 = C[ci]!,
    c01 = C[ci + 1]!,
    c02 = C[ci + 2]!,
    c03 = C[ci + 3]!;
  let c10 = C[c1]!,
    c11 = C[c1 + 1]!,
    c12 = C[c1 + 2]!,
    c13 = C[c1 + 3]!;
  let c20 = C[c2]!,
    c21 = C[c2 + 1]!,
    c22 = C[c2 + 2]!,
    c23 = C[c2 + 3]!;
  let c30 = C[c3]!,
    c31 = C[c3 + 1]!,
    c32 = C[c3 + 2]!,
    c33 = C[c3 + 3]!;
  for (let k = 0; k < kc; k++, ai = (ai + 4) | 0, bi = (bi + 4) | 0) {
    // `| 0`: int32 index math, no overflow checks
    const a0 = P[ai]!,
      a1 = P[(ai + 1) | 0]!,
      a2 = P[(ai + 2) | 0]!,
      a3 = P[(ai + 3) | 0]!;
    const b0 = P[bi]!,
      b1 = P[(bi + 1) | 0]!,
      b2 = P[(bi + 2) | 0]!,
      b3 = P[(bi + 3) | 0]!;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
  }
  C[ci] = c00;
  C[ci + 1] = c01;
  C[ci + 2] = c02;
  C[ci + 3] = c03;
  C[c1] = c10;
  C[c1 + 1] = c11;
  C[c1 + 2] = c12;
  C[c1 + 3] = c13;
  C[c2] = c20;
  C[c2 + 1] = c21;
  C[c2 + 2] = c22;
  C[c2 + 3] = c23;
  C[c3] = c30;
  C[c3 + 1] = c31;
  C[c3 + 2] = c32;
  C[c3 + 3] = c33;
}

/** Packs A rows [i0, i0+mB) x cols [k0, k0+kB) as 4-row panels: (r, k) -> dst[(r>>2)*4*kB + k*4 + (r&3)]. */
function packAView(v: ViewSrc, b: number, s: number, i0: number, mB: number, k0: number, kB: number, dst: Float64Array, at: number): void {
  const { data, rs, cs } = v;
  const base = v.off + Math.floor(b / v.G) * v.bs1 + (b % v.G) * v.bs2 + s * v.ss + k0 * cs;
  const mP = (mB + 3) & ~3;
  for (let r = 0; r < mP; r++) {
    let d = at + (r >> 2) * 4 * kB + (r & 3);
    if (r >= mB) {
      for (let k = 0; k < kB; k++, d += 4) dst[d] = 0;
      continue;
    }
    let src = base + (i0 + r) * rs;
    for (let k = 0; k < kB; k++, d += 4, src += cs) dst[d] = data[src]!;
  }
}

/** Packs B rows [k0, k0+kB) x cols [j0, j0+nB) as 4-column panels: (k, c) -> dst[(c>>2)*4*kB + k*4 + (c&3)]. */
function packBView(v: ViewSrc, b: number, s: number, k0: number, kB: number, j0: number, nB: number, dst: Float64Array, at: number): void {
  const { data, rs, cs } = v;
  const base = v.off + Math.floor(b / v.G) * v.bs1 + (b % v.G) * v.bs2 + s * v.ss + j0 * cs;
  const nP = (nB + 3) & ~3;
  for (let k = 0; k < kB; k++) {
    const src = base + (k0 + k) * rs,
      dk = at + k * 4;
    for (let c = 0; c < nP; c++) dst[(c >> 2) * 4 * kB + dk + (c & 3)] = c < nB ? data[src + c * cs]! : 0;
  }
}

/** Computes tiles [u0, u1) of a GemmJob; tile u = (b, jb, ib) with ib fastest. */
function gemmTiles(K: KernelTable, j: GemmJob, u0: number, u1: number): void {
  const { M, N, Kd, nSeg, mc, nc, kc, tilesI, tilesJ, out, oRs, bias } = j;
  const packA = K[j.packA]!,
    packB = K[j.packB]!,
    micro = K.micro4x4!;
  const mcP = (mc + 3) & ~3,
    ncP = (nc + 3) & ~3;
  const Pk = K.buf('gemm.P', (mcP + ncP) * kc),
    Cc = K.buf('gemm.C', mcP * ncP),
    bAt = mcP * kc; // packed A, then B
  const per = tilesI * tilesJ,
    oneBlock = nSeg === 1 && Kd <= kc;
  let packedB = -1; // tile key (b, jb) whose B block is in Pk, when K fits one block
  for (let u = u0; u < u1; u++) {
    const b = Math.floor(u / per),
      r = u - b * per,
      jb = Math.floor(r / tilesI),
      ib = r - jb * tilesI;
    const i0 = ib * mc,
      j0 = jb * nc,
      mB = Math.min(mc, M - i0),
      nB = Math.min(nc, N - j0);
    const mP = (mB + 3) & ~3,
      nP = (nB + 3) & ~3;
    Cc.fill(0, 0, mP * nP);
    for (let s = 0; s < nSeg; s++) {
      for (let k0 = 0; k0 < Kd; k0 += kc) {
        const kB = Math.min(kc, Kd - k0);
        packA(j.A, b, s, i0, mB, k0, kB, Pk, 0);
        if (!oneBlock || packedB !== b * tilesJ + jb) packB(j.B, b, s, k0, kB, j0, nB, Pk, bAt);
        packedB = b * tilesJ + jb;
        for (let jr = 0; jr < nP; jr += 4) {
          for (let ir = 0; ir < mP; ir += 4) micro(kB, Pk, ir * kB, bAt + jr * kB, Cc, ir * nP + jr, nP);
        }
      }
    }
    const b2 = b % j.oG,
      { oP, oN } = j;
    for (let jj = 0; jj < nB; ) {
      // columns [jj, jj + len) of the tile are contiguous in out
      const q = Math.floor((j0 + jj) / oP),
        p = j0 + jj - q * oP,
        len = Math.min(nB - jj, oP - p);
      const base = j.oOff + Math.floor(b / j.oG) * j.oB1 + b2 * j.oB2 + q * oN + p - jj;
      for (let i = 0; i < mB; i++) {
        const o = base + (i0 + i) * oRs,
          c = i * nP,
          bi = bias === null ? 0 : bias[b2 * M + i0 + i]!;
        if (bias === null) for (let t = jj; t < jj + len; t++) out[o + t] = Cc[c + t]!;
        else for (let t = jj; t < jj + len; t++) out[o + t] = Cc[c + t]! + bi;
      }
      jj += len;
    }
  }
}

registerKernels({ micro4x4, packAView, packBView, gemmTiles });

// ============ main-thread drivers ============

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** The array a packer source reads: `data` of a ViewSrc, `x` (the image) of conv's im2col sources. */
function arrayOf(src: object): unknown {
  const s = src as { data?: unknown; x?: unknown };
  return s.data ?? s.x;
}

/** Whether the SIMD path can stage a source's array (float32, and not too big for what the job reads of it). */
function stageable(src: object, reads: number): boolean {
  const a = arrayOf(src);
  return a instanceof Float32Array && a.length <= STAGE_MAX && a.length <= 16 * reads + 65536;
}

/**
 * Fills in the tiling of a job (given M, N, Kd, nSeg) and runs it on the pool: on the SIMD path when
 * the operands and the output are float32, else on the JS path. Results do not depend on the tiling.
 */
export function runGemm(job: GemmSpec, batch: number): void {
  const { M, N, Kd, nSeg } = job;
  if (batch === 0 || M === 0 || N === 0) return;
  const simd =
    gemmOptions.simd &&
    simdAvailable &&
    job.out instanceof Float32Array &&
    (job.bias === null || job.bias instanceof Float32Array) &&
    stageable(job.A, batch * M * Kd * nSeg) &&
    stageable(job.B, batch * N * Kd * nSeg);
  const [MCx, NCx, KCx, NRx] = simd ? [MC_S, NC_S, KC_S, NR_S] : [MC, NC, KC, NR];
  const macs = batch * M * N * Kd * nSeg,
    T = threadsFor(Number.MAX_SAFE_INTEGER, macs);
  const mc = Math.min(MCx, roundUp(M, MR)),
    tilesI = Math.ceil(M / mc);
  const nc = balancedWidth(batch * tilesI, N, T, NCx, NRx),
    tilesJ = Math.ceil(N / nc);
  const kc = Math.max(1, Math.ceil(Kd / Math.max(1, Math.ceil(Kd / KCx)))); // equal K blocks (1 if Kd = 0)
  const { packA, A, packB, B, out, oOff, oG, oB1, oB2, oRs, bias } = job;
  // biome-ignore format: one literal (see GemmJob), its fields in a few lines
  const tiled: GemmJob = {
    M, N, Kd, nSeg, mc, nc, kc, tilesI, tilesJ, packA, A, packB, B, out, oOff, oG, oB1, oB2, oRs,
    oP: job.oP ?? N,
    oN: job.oN ?? 0,
    bias,
    maxStrip: Math.max(1, Math.floor(STRIP_ROWS / mc)),
    keepBytes: KEEP_BYTES,
    fma: simd && gemmKernel() === 'fma',
  };
  const units = batch * tilesI * tilesJ;
  if (simd) {
    gemmStats.simdJobs++;
    runKernel('gemmTilesSimd', tiled, units, macs, ['out']);
  } else {
    gemmStats.jsJobs++;
    runKernel('gemmTiles', tiled, units, macs, ['out']);
  }
}

/** Tile width (a multiple of nr, at most nc) that splits `rows` x N tiles evenly enough over T threads. */
function balancedWidth(rows: number, N: number, T: number, nc: number, nr: number): number {
  let q = Math.ceil(N / nc); // tiles per row of tiles
  const imbalance = (units: number) => Math.ceil(units / T) / (units / T);
  if (T > 1) {
    while (q * nr < N && rows * q < 16 * T && imbalance(rows * Math.ceil(N / roundUp(Math.ceil(N / q), nr))) > 1.1) q++;
  }
  return Math.min(roundUp(nc, nr), roundUp(Math.ceil(N / q), nr));
}

/** A ViewSrc over a MatView (no batch split, no segments). */
export function viewOf(v: MatView): ViewSrc {
  return { data: v.data, off: v.offset, G: 1, bs1: v.batchStride, bs2: 0, ss: 0, rs: v.rowStride, cs: v.colStride };
}

/**
 * out[b, M, N] = a[b, M, K] @ b[b, K, N] for b < batch; out is contiguous [batch, M, N] and is
 * overwritten. out has the dtype the caller wants (float32 or float64). All-float32 products of at
 * least SMALL_MACS multiply-adds accumulate in float32 (SIMD path); anything else in double.
 */
export function bmm(batch: number, M: number, N: number, K: number, a: MatView, b: MatView, out: FloatArray): void {
  if (batch * M * N * K < SMALL_MACS)
    bmmNaive(batch, M, N, K, a, b, out); // no packing (float64 sums, like the JS path)
  else bmmPacked(batch, M, N, K, a, b, out);
}

/** bmm through the packed kernel at every size (bmm loops naively below SMALL_MACS). */
export function bmmPacked(batch: number, M: number, N: number, K: number, a: MatView, b: MatView, out: FloatArray): void {
  runGemm(
    {
      M,
      N,
      Kd: K,
      nSeg: 1,
      packA: 'packAView',
      A: viewOf(a),
      packB: 'packBView',
      B: viewOf(b),
      out,
      oOff: 0,
      oG: 1,
      oB1: M * N,
      oB2: 0,
      oRs: N,
      bias: null,
    },
    batch,
  );
}

/** Reference: the same contract as bmm, as a plain triple loop with a float64 accumulator. */
export function bmmNaive(batch: number, M: number, N: number, K: number, a: MatView, b: MatView, out: FloatArray): void {
  for (let bt = 0; bt < batch; bt++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          acc +=
            a.data[a.offset + bt * a.batchStride + i * a.rowStride + k * a.colStride]! *
            b.data[b.offset + bt * b.batchStride + k * b.rowStride + j * b.colStride]!;
        }
        out[(bt * M + i) * N + j] = acc; // (batch, M, N)
      }
    }
  }
}

// Direct weight gradient of a convolution for the CPU backend: float32, groups 1, any kernel size,
// stride, dilation and padding, on the WebAssembly SIMD module of wasm/conv-wgrad-simd.ts (no im2col
// packing: the padded image is interleaved once into channel quads and gy into 8-channel blocks,
// then each 4 x 8 tile of gw at one tap runs over the pixels). conv.ts routes conv2dBackwardWeight
// here when `useDirectWeight` says so. Each gw element is the sequential float32 sum over (n, oh, ow)
// of x * gy, mul+add or FMA as gemmKernel() says: the operations, in the order, of the SIMD GEMM
// that conv.ts runs otherwise (batch-wide or per image, both sum in that order), so the routing
// changes speed, not bits.
// Threads split the work in units (tap (input channel quad, kh, kw), block of 8 output channels),
// each unit's gw tile computed entirely in one thread: the bits do not depend on the threads. Each
// thread interleaves the images (its quads only) and gy into its module memory, one image at a time
// or several small ones, and runs its units over them a band of pixels at a time (rows of the image,
// or the small images), a few output blocks per pass over its taps (their gy stays in cache).

import type { Conv2dGeom } from './conv.ts';
import { directTuning } from './conv-direct.ts';
import { gemmKernel } from './gemm.ts';
import { registerKernels, registerModule, runKernel, type KernelTable, type ModuleExports } from './threads.ts';
import { buildConvWgradModule } from './wasm/conv-wgrad-simd.ts';

/**
 * Knobs for tests and benchmarks. mode: as directTuning.mode (conv-direct.ts), for the weight gradient
 * only; 'auto' follows directTuning.mode. bandPixels: a band (rows of one image, or whole small
 * images) holds about this many output pixels (bands of ~256 KiB of gy and quads, fewer pixels on
 * many channels, measured slower: C256 O256 14x14 43 GFLOP/s against 47 at 1024 pixels). group:
 * output blocks per pass over the taps (4 and all of them measured alike; 4 keeps 128 KiB of gy).
 */
export const wgradTuning = { bandPixels: 1024, group: 4, mode: 'auto' as 'auto' | 'direct' | 'gemm' };

/** A thread keeps its instance (and memory) between jobs only up to this many bytes; the kernel runs only up to MAX_BYTES. */
const KEEP_BYTES = 64 << 20,
  MAX_BYTES = 1 << 30;
/** The SIMD GEMM stages arrays of at most this many floats (gemm.ts STAGE_MAX); bigger ones go its JS way, other bits. */
const STAGE_MAX = 1 << 25;

/** The compiled module (mul+add, or FMA), registered for the workers; null where it does not validate. */
const wgradModule = (fma: boolean): object | null => registerModule(fma ? 'convWgradFma.module' : 'convWgrad.module', () => buildConvWgradModule(fma));

// ============ self-contained kernel (also runs in the workers) ============

/** The geometry (groups 1) and the arrays, as one literal (see conv.ts's im2colSrc). */
interface WgradJob extends Omit<Conv2dGeom, 'groups'> {
  x: Float32Array;
  gy: Float32Array;
  /** Images per band (1: bands of `rows` rows of one image). */
  imgs: number;
  rows: number;
  /** Output blocks whose gy a band keeps in cache while the taps pass. */
  group: number;
  fma: boolean;
  keepBytes: number;
  gw: Float32Array;
}

interface WgradInstance extends ModuleExports {
  wgrad(
    x: number,
    g: number,
    acc: number,
    imgs: number,
    rows: number,
    cols: number,
    rowSkip: number,
    imgSkip: number,
    blocks: number,
    gBlock: number,
    xPix: number,
  ): void;
  quads(src: number, line: number, dst: number, pix: number, n: number, rows: number, srcRow: number, dstRow: number): void;
}

/**
 * Units [u0, u1), unit u = (tap kb = (channel quad q, kh, kw), output block ob), ob fastest. Module
 * memory (floats), for `imgs` images: [images Cp*H*W each, channels past C zero][quads: image, quad,
 * padded plane Hp x Wp (input pixel (ih, iw) at (ih + pH, iw + pW)), 4 channels][gy O8*P each,
 * channels past O zero][gy blocks: ob, image, pixel, 8 channels][gw tiles: 4 channels x 8 per unit].
 */
function convWgradUnits(K: KernelTable, j: WgradJob, u0: number, u1: number): void {
  const { x, gy, N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, imgs, rows, group, gw } = j;
  const up4 = (n: number) => (n + 3) & ~3;
  const Cq = (C + 3) >> 2,
    Cp = 4 * Cq,
    OB = (O + 7) >> 3,
    Op = 8 * OB,
    kk = kH * kW,
    HW = H * W,
    P = OH * OW,
    Hp = (OH - 1) * sH + (kH - 1) * dH + 1,
    Wp = (OW - 1) * sW + (kW - 1) * dW + 1;
  const rawAt = 0,
    qAt = rawAt + up4(imgs * Cp * HW),
    gAt = qAt + imgs * Cq * Hp * Wp * 4,
    tAt = gAt + imgs * Op * P,
    accAt = tAt + OB * imgs * P * 8;
  const bytes = 4 * (accAt + 32 * (u1 - u0));
  const m = K.moduleInstance(K, j.fma ? 'convWgradFma.module' : 'convWgrad.module', bytes, j.keepBytes) as WgradInstance;
  const f = new Float32Array(m.mem.buffer);
  for (let i = 0; i < imgs; i++) {
    f.fill(0, rawAt + (i * Cp + C) * HW, rawAt + (i + 1) * Cp * HW); // channels past C
    f.fill(0, gAt + (i * Op + O) * P, gAt + (i + 1) * Op * P); // past O
  }
  const q0 = Math.floor(Math.floor(u0 / OB) / kk),
    q1 = Math.floor(Math.floor((u1 - 1) / OB) / kk) + 1; // the quads this thread reads
  const c0 = 4 * q0,
    c1 = Math.min(C, 4 * q1);
  const ih0 = Math.max(0, -pH),
    ih1 = Math.min(H, Hp - pH),
    iw0 = Math.max(0, -pW),
    iw1 = Math.min(W, Wp - pW); // input rows and columns that land in the padded plane
  if (ih0 + pH > 0 || ih1 + pH < Hp || iw0 + pW > 0 || iw1 + pW < Wp) f.fill(0, qAt, gAt); // the padding (the images' pixels are written over it)
  f.fill(0, accAt, accAt + 32 * (u1 - u0)); // the tiles
  for (let n0 = 0; n0 < N; n0 += imgs) {
    const nb = Math.min(imgs, N - n0);
    for (let i = 0; i < nb; i++) {
      const n = n0 + i;
      f.set(x.subarray((n * C + c0) * HW, (n * C + c1) * HW), rawAt + (i * Cp + c0) * HW);
      if (ih1 > ih0 && iw1 > iw0)
        for (let q = q0; q < q1; q++)
          m.quads(
            4 * (rawAt + (i * Cp + 4 * q) * HW + ih0 * W + iw0),
            4 * HW,
            4 * (qAt + ((i * Cq + q) * Hp * Wp + (ih0 + pH) * Wp + iw0 + pW) * 4),
            16,
            iw1 - iw0,
            ih1 - ih0,
            4 * W,
            16 * Wp,
          );
      f.set(gy.subarray(n * O * P, (n + 1) * O * P), gAt + i * Op * P);
      for (let ob = 0; ob < OB; ob++)
        for (let h = 0; h < 2; h++) m.quads(4 * (gAt + (i * Op + 8 * ob + 4 * h) * P), 4 * P, 4 * (tAt + (ob * imgs + i) * P * 8 + 4 * h), 32, P, 1, 0, 0);
    }
    for (let r0 = 0; r0 < OH; r0 += rows) {
      const nr = Math.min(rows, OH - r0);
      // the units in groups of `group` output blocks, taps within: the group's gy stays in cache while the taps pass
      for (let g0 = 0; g0 < OB; g0 += group)
        for (let kb = Math.floor(u0 / OB), kbEnd = Math.floor((u1 - 1) / OB); kb <= kbEnd; kb++) {
          const q = Math.floor(kb / kk),
            t = kb - q * kk,
            kh = Math.floor(t / kW),
            kw = t - kh * kW,
            xa = qAt + (q * Hp * Wp + (r0 * sH + kh * dH) * Wp + kw * dW) * 4;
          const ob0 = Math.max(g0, u0 - kb * OB),
            ob1 = Math.min(OB, g0 + group, u1 - kb * OB); // this thread's blocks of the group at tap kb
          if (ob1 <= ob0) continue;
          const ga = tAt + (ob0 * imgs * P + r0 * OW) * 8;
          m.wgrad(
            4 * xa,
            4 * ga,
            4 * (accAt + 32 * (kb * OB + ob0 - u0)),
            nb,
            nr,
            OW,
            16 * (sH * Wp - sW * OW),
            16 * (Cq * Hp - sH * nr) * Wp,
            ob1 - ob0,
            32 * imgs * P,
            16 * sW,
          );
        }
    }
  }
  for (let u = u0; u < u1; u++) {
    const kb = Math.floor(u / OB),
      ob = u - kb * OB,
      q = Math.floor(kb / kk),
      t = kb - q * kk,
      a = accAt + 32 * (u - u0); // tile: (4 channels, 8 output channels)
    for (let i = 0; i < 4 && 4 * q + i < C; i++)
      for (let o = 8 * ob, e = Math.min(O, o + 8); o < e; o++) gw[(o * C + 4 * q + i) * kk + t] = f[a + 8 * i + o - 8 * ob]!; // gw (O, C, kH, kW)
  }
}

registerKernels({ convWgradUnits });

// ============ main-thread driver and routing ============

/** Images and rows per band for geometry g (see wgradTuning), at least one row. */
function bands(g: Conv2dGeom): { imgs: number; rows: number } {
  const P = g.OH * g.OW,
    B = wgradTuning.bandPixels;
  if (P >= B) return { imgs: 1, rows: Math.max(1, Math.floor(B / g.OW)) };
  return { imgs: Math.max(1, Math.min(g.N, Math.floor(B / P))), rows: g.OH };
}

/** Bytes of module memory a thread needs for geometry g with all units (see convWgradUnits). */
function memoryBytes(g: Conv2dGeom): number {
  const { imgs } = bands(g),
    Cq = Math.ceil(g.C / 4),
    OB = Math.ceil(g.O / 8),
    P = g.OH * g.OW;
  const Hp = (g.OH - 1) * g.sH + (g.kH - 1) * g.dH + 1,
    Wp = (g.OW - 1) * g.sW + (g.kW - 1) * g.dW + 1;
  return 4 * (imgs * (4 * Cq * g.H * g.W + 4 * Cq * Hp * Wp + 16 * OB * P) + 32 * Cq * g.kH * g.kW * OB + 4);
}

/**
 * Whether conv2dBackwardWeight runs g on the direct kernel: float32 operands with the SIMD GEMM on
 * (the direct kernel gives its bits; arrays the GEMM would not stage go its JS way), groups 1; then,
 * in mode 'auto', at most 8192 channel pairs C*O. Measured with `bench/conv-direct.ts weight` (2-core
 * EPYC, 1 thread, medians of 11-15, GFLOP/s GEMM -> direct; the f32x4 peak is ~56 a core): the LAD
 * model's stride-1 convs x1.1-2.1 (C64 O64 12x12 dilation 4 46 -> 50, C32 O32 12x12 38 -> 51, C8 O8
 * 48x48 29 -> 50, 1x1s x1.1-1.6), its stride-2 ones x1.1-2.0 (C4 O8 96x96 16 -> 32), the tiny-CNN
 * 64x64 C32 O32 44 -> 54, 6x6 and 4x4 maps with C*O <= 4096 x1.0-1.7, C64 O128 and C128 O64 12x12
 * x1.04-1.12, C32 O64 64x64 stride 2 41 -> 53. With more channel pairs the GEMM's packing is amortized
 * over many output channels and it runs at the peak while the direct kernel
 * misses cache more: C128 O128 28x28 54 -> 55 (x1.01), 6x6 50 -> 47, C256 O256 14x14 55 -> 49.
 */
export function useDirectWeight(g: Conv2dGeom, x: object, gy: object, gw: object): boolean {
  const mode = wgradTuning.mode === 'auto' ? directTuning.mode : wgradTuning.mode;
  if (mode === 'gemm') return false;
  const f32 = x instanceof Float32Array && gy instanceof Float32Array && gw instanceof Float32Array;
  if (!f32 || g.groups !== 1 || g.N * g.C * g.O * g.OH * g.OW === 0 || memoryBytes(g) > MAX_BYTES) return false;
  if ((x as Float32Array).length > STAGE_MAX || (gy as Float32Array).length > STAGE_MAX) return false;
  const kernel = gemmKernel();
  if (kernel === 'js' || wgradModule(kernel === 'fma') === null) return false;
  if (mode === 'direct') return true;
  return g.C * g.O <= 8192;
}

/** gw [O, C, kH, kW] = the weight gradient of x [N,C,H,W] and gy [N,O,OH,OW], for a geometry useDirectWeight accepted. */
export function conv2dWeightDirect(x: Float32Array, gy: Float32Array, g: Conv2dGeom, gw: Float32Array): void {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW } = g;
  const { imgs, rows } = bands(g),
    units = Math.ceil(C / 4) * kH * kW * Math.ceil(O / 8);
  // biome-ignore format: one literal
  const job: WgradJob = { x, gy, N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, imgs, rows, group: wgradTuning.group, fma: gemmKernel() === 'fma', keepBytes: KEEP_BYTES, gw };
  // the workers get the channels of x their quads read (all of gy); gw's tiles of a thread are scattered
  const OB = Math.ceil(O / 8),
    kk = kH * kW,
    HW = H * W;
  const spans = (key: string, u0: number, u1: number): [number, number][] | null => {
    if (key !== 'x') return null;
    const c0 = 4 * Math.floor(u0 / OB / kk),
      c1 = Math.min(C, 4 * Math.floor((u1 - 1) / OB / kk) + 4);
    return Array.from({ length: N }, (_, n) => [(n * C + c0) * HW, (n * C + c1) * HW] as [number, number]);
  };
  runKernel('convWgradUnits', job, units, N * O * C * kH * kW * OH * OW, ['gw'], spans);
}

// Direct convolution for the CPU backend: float32, groups 1, any kernel size, stride, dilation and
// padding, output rows of at least 4 pixels, on the WebAssembly SIMD module of wasm/conv-direct-simd.ts
// (no im2col packing: each input element is read once per tap and 4 output channels). conv.ts routes
// the forward, the stride-1 input gradient (a forward conv with the flipped kernel) and a strided
// 1x1's (a 1x1 forward, scattered) here when `useDirect` says so. At stride sW the padded plane's
// columns are split in sW phases (column j*sW + r of a row at r*Wq + j), so that 4 consecutive output
// pixels read 4 consecutive floats at every tap. Each output is the same sequence of float32
// operations as on the SIMD GEMM path (mul+add or FMA, as gemmKernel() says), so the routing changes
// speed, not bits.
// Threads split the work in units (image n, block of 4 output channels, band of rows where images x
// blocks are few); each thread copies the rearranged weight into its module memory once per job, and
// each image it meets once, padded.

import type { Conv2dGeom } from './conv.ts';
import { gemmKernel } from './gemm.ts';
import { registerKernels, registerModule, runKernel, sharedFloat, type KernelTable, type ModuleExports } from './threads.ts';
import { buildConvDirectModule } from './wasm/conv-direct-simd.ts';

/** Switch for tests and benchmarks: 'auto' routes by the measured rule (useDirect), 'direct' wherever the kernel applies, 'gemm' never. */
export const directTuning = { mode: 'auto' as 'auto' | 'direct' | 'gemm' };

/** A thread keeps its instance (and memory) between jobs only up to this many bytes; the kernel runs only up to MAX_BYTES. */
const KEEP_BYTES = 64 << 20,
  MAX_BYTES = 1 << 30;
/** Fewer (image, channel block) units than this: each is cut in row bands, so that the threads share the work evenly. */
const MIN_UNITS = 8;

// ============ the modules (compiled on first use) ============

/** The compiled module (mul+add, or FMA), registered for the workers; null where it does not validate. */
const directModule = (fma: boolean): object | null => registerModule(fma ? 'convDirectFma.module' : 'convDirect.module', () => buildConvDirectModule(fma));

// ============ self-contained kernel (also runs in the workers) ============

/** The geometry (groups 1; units run over the images) and the arrays, as one literal. */
interface DirectJob extends Omit<Conv2dGeom, 'N' | 'groups'> {
  x: Float32Array;
  /** The weight as (O/4 blocks, C*kH*kW steps, 4 channels), zeros past O. */
  wr: Float32Array;
  /** The bias padded to 4*ceil(O/4), or null. */
  bias: Float32Array | null;
  /** Row bands per (image, channel block): more units for the threads when images x blocks are few. */
  bands: number;
  fma: boolean;
  keepBytes: number;
  out: Float32Array;
}

interface DirectInstance extends ModuleExports {
  direct(x: number, w: number, tab: number, nk: number, out: number, vecs: number, n: number, bias: number, plane: number): void;
  pad(src: number, dst: number, C: number, rows: number, cols: number, srcRow: number, srcPlane: number, dstRow: number, dstPlane: number, step: number): void;
}

/**
 * Units [u0, u1), unit u = (image n, channel block ob, row band), band fastest. Module memory (floats): [weight
 * OB*4*nk][tap offsets nk (i32)][bias 4*OB][image C*H*W][padded image C*Hp*Wp][output block 4*OH*OW]
 * [vector descriptors]. Padded plane: Hp = (OH-1)*sH + (kH-1)*dH + 1 rows of sW phases of Wq = OW +
 * floor((kW-1)*dW / sW) floats (Wp = sW*Wq a row); input pixel (ih, iw) at row ih + pH, column
 * (iw + pW) mod sW * Wq + floor((iw + pW) / sW); only the rows and phases some tap reads are filled (the
 * others stay zero). Tap (kh, kw) of output pixel (oh, ow) reads row oh*sH + kh*dH, phase kw*dW mod sW,
 * column ow + floor(kw*dW / sW). A band's output pixels go in vectors of 4 (descriptors: byte offsets
 * of the input of lanes 0-1 and 2-3, of the output, and whether the lanes straddle two rows): even
 * widths are cut in the row-major order of the pixels, so a 6-pixel row takes 1.5 vectors (the lanes
 * of a straddling vector come from two rows: 2 + 2, as the width is even); odd widths row by row, the
 * last vector of a row shifted left to end at the row's end (a few pixels computed twice, the same bits).
 */
function convDirectUnits(K: KernelTable, j: DirectJob, u0: number, u1: number): void {
  const { x, wr, bias, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, bands, out } = j;
  const up4 = (n: number) => (n + 3) & ~3;
  const OB = (O + 3) >> 2,
    kk = kH * kW,
    nk = C * kk,
    HW = H * W,
    P = OH * OW,
    Hp = (OH - 1) * sH + (kH - 1) * dH + 1,
    Wq = OW + Math.floor(((kW - 1) * dW) / sW),
    Wp = sW * Wq;
  const wAt = 0,
    tAt = 4 * OB * nk,
    bAt = tAt + up4(nk),
    rawAt = bAt + 4 * OB,
    padAt = rawAt + up4(C * HW),
    outAt = padAt + up4(C * Hp * Wp),
    dAt = outAt + 4 * P;
  const bytes = 4 * (dAt + 4 * (OH * Math.ceil(OW / 4) + bands));
  const m = K.moduleInstance(K, j.fma ? 'convDirectFma.module' : 'convDirect.module', bytes, j.keepBytes) as DirectInstance;
  const f = new Float32Array(m.mem.buffer),
    R = new Int32Array(m.mem.buffer); // after growing (it detaches the old buffer)
  f.set(wr, wAt);
  const rowPhases = new Set<number>(),
    colPhases = new Set<number>(); // the padded rows mod sH and columns mod sW that some tap reads
  for (let c = 0, k = tAt; c < C; c++)
    for (let kh = 0; kh < kH; kh++)
      for (let kw = 0; kw < kW; kw++, k++) {
        const cw = kw * dW;
        R[k] = 4 * (c * Hp * Wp + kh * dH * Wp + (cw % sW) * Wq + Math.floor(cw / sW)); // step (c, kh, kw): byte offset
        rowPhases.add((kh * dH) % sH);
        colPhases.add(cw % sW);
      }
  if (bias !== null) f.set(bias, bAt);
  f.fill(0, padAt, padAt + C * Hp * Wp); // the padding; the image's pixels are written over it per image
  // pad calls (src, dst, rows, cols in floats): per read (row phase, column phase), the input pixels that land there
  const pads: [number, number, number, number][] = [];
  const ih0 = Math.max(0, -pH),
    ih1 = Math.min(H, Hp - pH),
    iw0 = Math.max(0, -pW),
    iw1 = Math.min(W, Wp - pW); // input rows and columns that land in the padded plane
  for (const rp of rowPhases)
    for (const cp of colPhases) {
      const ihS = ih0 + ((((rp - ih0 - pH) % sH) + sH) % sH),
        iwS = iw0 + ((((cp - iw0 - pW) % sW) + sW) % sW); // the first input row and column of the phase
      if (ihS >= ih1 || iwS >= iw1) continue;
      const dst = padAt + (ihS + pH) * Wp + cp * Wq + (iwS + pW - cp) / sW;
      pads.push([rawAt + ihS * W + iwS, dst, Math.ceil((ih1 - ihS) / sH), Math.ceil((iw1 - iwS) / sW)]);
    }
  const even = OW % 2 === 0,
    first: number[] = []; // band b's vectors: descriptors first[b] .. first[b + 1]
  let nv = 0;
  const vector = (xa: number, xb: number, q: number, split: boolean) => {
    const d = dAt + 4 * nv++;
    R[d] = 4 * xa;
    R[d + 1] = 4 * xb;
    R[d + 2] = 4 * q;
    R[d + 3] = split ? 1 : 0;
  };
  for (let b = 0; b < bands; b++) {
    const r0 = Math.floor((b * OH) / bands),
      r1 = Math.floor(((b + 1) * OH) / bands);
    first.push(nv);
    if (even)
      for (let p = r0 * OW, end = r1 * OW; p < end; p += 4) {
        const q = Math.min(p, end - 4),
          oh = Math.floor(q / OW),
          ow = q - oh * OW; // pixel q = (oh, ow); OW - ow is 2 or >= 4
        vector(oh * sH * Wp + ow, (oh + 1) * sH * Wp, q, OW - ow < 4);
      }
    else
      for (let oh = r0; oh < r1; oh++)
        for (let ow = 0; ow < OW; ow += 4) {
          const o = Math.min(ow, OW - 4);
          vector(oh * sH * Wp + o, 0, oh * OW + o, false);
        }
  }
  first.push(nv);
  const copyOut = (src: number, dst: number, len: number) => {
    if (len >= 64)
      out.set(f.subarray(src, src + len), dst); // one memcpy, or a loop where the subarray costs more
    else for (let i = 0; i < len; i++) out[dst + i] = f[src + i]!;
  };
  let img = -1;
  for (let u = u0; u < u1; u++) {
    const nb = Math.floor(u / bands),
      band = u - nb * bands,
      n = Math.floor(nb / OB),
      ob = nb - n * OB;
    if (n !== img) {
      f.set(x.subarray(n * C * HW, (n + 1) * C * HW), rawAt);
      for (const [src, dst, rows, cols] of pads) m.pad(4 * src, 4 * dst, C, rows, cols, 4 * sH * W, 4 * HW, 4 * sH * Wp, 4 * Hp * Wp, 4 * sW);
      img = n;
    }
    const r0 = Math.floor((band * OH) / bands),
      r1 = Math.floor(((band + 1) * OH) / bands),
      oAt = outAt + r0 * OW; // rows [r0, r1) of the block's 4 planes
    const bias4 = bias === null ? -1 : 4 * (bAt + 4 * ob);
    m.direct(4 * padAt, 4 * (wAt + 4 * ob * nk), 4 * tAt, nk, 4 * outAt, 4 * (dAt + 4 * first[band]!), first[band + 1]! - first[band]!, bias4, 4 * P);
    const chans = Math.min(4, O - 4 * ob),
      dst = (n * O + 4 * ob) * P + r0 * OW;
    if (bands === 1)
      copyOut(outAt, dst, chans * P); // out[n, 4ob .. 4ob+4) is contiguous
    else for (let i = 0; i < chans; i++) copyOut(oAt + i * P, dst + i * P, (r1 - r0) * OW);
  }
}

registerKernels({ convDirectUnits });

// ============ main-thread driver and routing ============

/** Bytes of module memory a thread needs for geometry g (see convDirectUnits). */
function memoryBytes(g: Conv2dGeom): number {
  const OB = Math.ceil(g.O / 4),
    nk = g.C * g.kH * g.kW,
    Hp = (g.OH - 1) * g.sH + (g.kH - 1) * g.dH + 1,
    Wp = g.sW * (g.OW + Math.floor(((g.kW - 1) * g.dW) / g.sW));
  return 4 * (4 * OB * nk + nk + 4 * OB + g.C * g.H * g.W + g.C * Hp * Wp + 4 * g.OH * g.OW + 4 * (g.OH * Math.ceil(g.OW / 4) + g.OH) + 16);
}

/**
 * Whether conv2dForward runs g on the direct kernel: float32 operands with the SIMD GEMM on (the
 * direct kernel gives its bits), groups 1, output rows of 4 pixels or more; then, in mode
 * 'auto', at most 1152 reduction steps C*kH*kW, and either at most 32 output channels or a width
 * that is a multiple of 4. Measured with bench/conv-direct.ts (2-core EPYC, 1 thread, medians of 9,
 * GFLOP/s GEMM -> direct; the f32x4 peak is ~56 a core): the LAD model's stride-1 convs at 12x12 and
 * up 19-48 -> 41-58 (x1.2-2.2, the most on few channels: C8 O8 12x12 19 -> 43), the tiny-CNN 64x64
 * C32 O32 45 -> 56, its 1x1s x1.1-1.5, 6x6 maps with O <= 32 x1.2-1.6. The GEMM's packing is spread
 * over the output channels, so with many of them it ties or wins where the direct kernel loads more
 * per step or wastes lanes (rows not a multiple of 4: 6x6 C64 O64 44 -> 39, C128 O128 48 -> 42, 7x7
 * C64 O64 x1.0-1.06; with O = 32 only 5-pixel rows lose: 5x5 C32 x0.86-0.98) or where its 4-channel
 * weight block outgrows the L1 cache (C256 14x14 O256, 2304 steps: x0.88-0.95; 1152 steps: x1.06).
 * The same rule at stride 2 (the input plane split in column phases, see convDirectUnits), 1 thread,
 * medians of 15: the LAD model's stem C4 96x96 O8 17 -> 32 (48x48: 17 -> 31), its 24x24 C8 O16 3x3
 * 20 -> 29 and 1x1 5 -> 11, at 12x12 x1.0-1.3 and x0.9-2 (a few µs, noisy); C3 64x64 O32 x1.4, C32 64x64
 * O64 x1.1, C64 56x56 O128 x1.07, C64 12x12 O64 and C64 14x14 O128 x0.97-1.0; the rule leaves C128 28x28
 * O256 (14-pixel rows) to the GEMM (x1.0); 5-pixel rows with 32 channels out lose as at stride 1 (x0.75-1.3, noisy).
 */
export function useDirect(g: Conv2dGeom, x: object, w: object, bias: object | null, out: object): boolean {
  const mode = directTuning.mode;
  if (mode === 'gemm') return false;
  const f32 = x instanceof Float32Array && w instanceof Float32Array && out instanceof Float32Array && (bias === null || bias instanceof Float32Array);
  if (!f32 || g.groups !== 1 || g.OW < 4 || memoryBytes(g) > MAX_BYTES) return false;
  const kernel = gemmKernel();
  if (kernel === 'js' || directModule(kernel === 'fma') === null) return false;
  if (mode === 'direct') return true;
  return g.C * g.kH * g.kW <= 1152 && (g.O <= 32 || g.OW % 4 === 0);
}

/** out [N,O,OH,OW] = conv(x [N,C,H,W], w [O,C,kH,kW]) + bias, for a geometry useDirect accepted. */
export function conv2dDirect(x: Float32Array, w: Float32Array, bias: Float32Array | null, g: Conv2dGeom, out: Float32Array): void {
  const { N, C, O, kH, kW, OH, OW } = g;
  const nk = C * kH * kW,
    OB = Math.ceil(O / 4);
  const wr = sharedFloat('convDirect.w', 'float32', 4 * OB * nk) as Float32Array; // (OB, nk, 4)
  for (let o = 0; o < 4 * OB; o++) {
    const d = (o >> 2) * 4 * nk + (o & 3);
    if (o >= O) for (let k = 0; k < nk; k++) wr[d + 4 * k] = 0;
    else for (let k = 0, s = o * nk; k < nk; k++) wr[d + 4 * k] = w[s + k]!;
  }
  let bp: Float32Array | null = null;
  if (bias !== null) {
    bp = sharedFloat('convDirect.bias', 'float32', 4 * OB) as Float32Array;
    bp.fill(0);
    bp.set(bias);
  }
  const { H, W, sH, sW, pH, pW, dH, dW } = g,
    fma = gemmKernel() === 'fma',
    bands = N * OB >= MIN_UNITS ? 1 : Math.min(OH, Math.ceil(MIN_UNITS / (N * OB)));
  // biome-ignore format: one literal
  const job: DirectJob = { x, wr, bias: bp, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, bands, fma, keepBytes: KEEP_BYTES, out };
  // the workers get the images of their units and write their blocks; the output is theirs alone where blocks are not cut in bands
  const P = OH * OW,
    unit = (u: number) => [Math.floor(u / bands / OB), Math.floor(u / bands) % OB] as const; // (n, ob)
  const spans = (key: string, u0: number, u1: number): [number, number][] | null => {
    const [n0, ob0] = unit(u0),
      [n1, ob1] = unit(u1 - 1);
    if (key === 'x') return [[n0 * C * H * W, (n1 + 1) * C * H * W]];
    if (key === 'out' && bands === 1) return [[(n0 * O + 4 * ob0) * P, (n1 * O + Math.min(O, 4 * ob1 + 4)) * P]];
    return null;
  };
  runKernel('convDirectUnits', job, N * OB * bands, N * O * nk * OH * OW, ['out'], spans);
}

/** The stride-1 1x1 forward behind a strided 1x1's input gradient (gy [N, O, OH, OW] -> [N, C, OH, OW]), or null for other convs. */
export function strided1x1Geom(g: Conv2dGeom): Conv2dGeom | null {
  if (g.kH !== 1 || g.kW !== 1 || (g.sH === 1 && g.sW === 1)) return null;
  const { N, OH, OW, groups } = g;
  return { N, C: g.O, H: OH, W: OW, O: g.C, kH: 1, kW: 1, sH: 1, sW: 1, pH: 0, pW: 0, dH: 1, dW: 1, groups, OH, OW };
}

/**
 * gy [N,O,OH,OW] -> gx [N,C,H,W] of a strided 1x1 conv that useDirect takes as strided1x1Geom(g): each
 * input pixel gets at most one tap, so gx is the 1x1 forward t = wᵀ gy (the GEMM path's column buffer:
 * the same float32 sums over o) scattered to pixels (oh*sH - pH, ow*sW - pW), zeros elsewhere. The GEMM
 * path's col2im adds each such value once to a float64 zero and rounds back: the same bits.
 */
export function conv2dBackwardInput1x1Strided(gy: Float32Array, w: Float32Array, g: Conv2dGeom, gx: Float32Array): void {
  const { N, C, H, W, O, sH, sW, pH, pW, OH, OW } = g,
    P = OH * OW;
  const wt = sharedFloat('convDirect.wt', 'float32', C * O) as Float32Array; // (C, O)
  for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) wt[c * O + o] = w[o * C + c]!;
  const t = sharedFloat('convDirect.t', 'float32', N * C * P) as Float32Array; // (N, C, OH, OW)
  conv2dDirect(gy, wt, null, strided1x1Geom(g)!, t);
  gx.fill(0);
  const oh0 = Math.max(0, Math.ceil(pH / sH)),
    oh1 = Math.min(OH, Math.floor((H - 1 + pH) / sH) + 1),
    ow0 = Math.max(0, Math.ceil(pW / sW)),
    ow1 = Math.min(OW, Math.floor((W - 1 + pW) / sW) + 1); // outputs whose pixel is inside the image
  for (let nc = 0; nc < N * C; nc++)
    for (let oh = oh0; oh < oh1; oh++)
      for (let ow = ow0, i = nc * P + oh * OW + ow0, j = (nc * H + oh * sH - pH) * W + ow0 * sW - pW; ow < ow1; ow++, i++, j += sW) gx[j] = t[i]!;
}

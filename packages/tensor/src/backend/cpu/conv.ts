// 2-D convolution kernels for the CPU backend: forward and both backward passes, NCHW, with
// PyTorch F.conv2d semantics (weight [O, C/groups, kH, kW]; stride, padding, dilation, groups).
// All three are GEMMs (gemm.ts) whose B operand is packed straight from the image ("implicit
// im2col", no column buffer); the input gradient is a GEMM into a float64 column buffer then col2im.
// 1x1 stride-1 unpadded convolutions read plain strided views. Naive references: conv-naive.ts.
// Dims: n image, c input channel, o output channel, g group, (h, w) input pixel, (oh, ow) output
// pixel, P = OH*OW, Cg = C/groups, Og = O/groups, Ck = Cg*kH*kW (one column of im2col).

import type { FloatArray } from './alloc.ts';
import { runGemm, type ViewSrc } from './gemm.ts';
import { registerKernels, runKernel, sharedFloat, type KernelTable } from './threads.ts';

export { conv2dForwardNaive, conv2dBackwardInputNaive, conv2dBackwardWeightNaive } from './conv-naive.ts';

export interface Conv2dGeom { N: number; C: number; H: number; W: number; O: number; kH: number; kW: number;
  sH: number; sW: number; pH: number; pW: number; dH: number; dW: number; groups: number; OH: number; OW: number }

/** Where an im2col packer reads: the image x and the geometry. */
interface Im2colSrc extends Conv2dGeom { x: FloatArray }

/** Elements of the float64 column buffer of the input gradient, per chunk of images. */
const COL_CHUNK = 1 << 22;

// ============ self-contained kernels (also run in the workers) ============

/**
 * Forward B operand, im2col of image n = b / groups, group g = b % groups: rows k = (c, kh, kw) in
 * [k0, k0+kB), columns p = (oh, ow) in [j0, j0+nB), packed as 4-column panels (see packBView).
 */
function packBIm2col(v: Im2colSrc, b: number, _s: number, k0: number, kB: number, j0: number, nB: number, dst: Float64Array): void {
  const { x, C, H, W, kH, kW, sH, sW, pH, pW, dH, dW, OW, groups } = v;
  const Cg = C / groups, n = Math.floor(b / groups), g = b - n * groups, kk = kH * kW;
  const nP = (nB + 3) & ~3, oh0 = Math.floor(j0 / OW), ow0 = j0 - oh0 * OW;
  for (let k = 0; k < kB; k++) {
    const ck = k0 + k, c = Math.floor(ck / kk), t = ck - c * kk, kh = Math.floor(t / kW), kw = t - kh * kW;
    const plane = ((n * C + g * Cg + c) * H) * W, ihOff = kh * dH - pH, iwOff = kw * dW - pW;
    let oh = oh0, ow = ow0;
    for (let jj = 0; jj < nB; jj++) {
      const ih = oh * sH + ihOff, iw = ow * sW + iwOff;
      dst[(jj >> 2) * 4 * kB + k * 4 + (jj & 3)] = ih >= 0 && ih < H && iw >= 0 && iw < W ? x[plane + ih * W + iw]! : 0;
      if (++ow === OW) { ow = 0; oh++; }
    }
    for (let jj = nB; jj < nP; jj++) dst[(jj >> 2) * 4 * kB + k * 4 + (jj & 3)] = 0;
  }
}

/**
 * Weight-gradient B operand, im2col transposed for group g = b and image n = s: rows p = (oh, ow)
 * in [k0, k0+kB), columns (c, kh, kw) in [j0, j0+nB).
 */
function packBIm2colT(v: Im2colSrc, b: number, s: number, k0: number, kB: number, j0: number, nB: number, dst: Float64Array): void {
  const { x, C, H, W, kH, kW, sH, sW, pH, pW, dH, dW, OW, groups } = v;
  const Cg = C / groups, kk = kH * kW, base = (s * C + b * Cg) * H * W, nP = (nB + 3) & ~3;
  const c0 = Math.floor(j0 / kk), t0 = j0 - c0 * kk, kh0 = Math.floor(t0 / kW), kw0 = t0 - kh0 * kW;
  for (let k = 0; k < kB; k++) {
    const p = k0 + k, oh = Math.floor(p / OW), ow = p - oh * OW, ihB = oh * sH - pH, iwB = ow * sW - pW;
    let c = c0, kh = kh0, kw = kw0;
    for (let jj = 0; jj < nB; jj++) {
      const ih = ihB + kh * dH, iw = iwB + kw * dW;
      dst[(jj >> 2) * 4 * kB + k * 4 + (jj & 3)] = ih >= 0 && ih < H && iw >= 0 && iw < W ? x[base + (c * H + ih) * W + iw]! : 0;
      if (++kw === kW) { kw = 0; if (++kh === kH) { kh = 0; c++; } }
    }
    for (let jj = nB; jj < nP; jj++) dst[(jj >> 2) * 4 * kB + k * 4 + (jj & 3)] = 0;
  }
}

/** col2im for units u = (image nl of the chunk, channel c): gx[n0+nl, c] = sum of its column rows, in float64. */
function col2im(K: KernelTable, j: Conv2dGeom & { gcol: Float64Array; gx: FloatArray; n0: number }, u0: number, u1: number): void {
  const { gcol, gx, n0, C, H, W, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, groups } = j;
  const HW = H * W, P = OH * OW, Cg = C / groups, Ck = Cg * kH * kW, acc = K.buf('col2im', HW);
  for (let u = u0; u < u1; u++) {
    const nl = Math.floor(u / C), c = u - nl * C, g = Math.floor(c / Cg), cg = c - g * Cg;
    acc.fill(0, 0, HW);
    let row = ((nl * groups + g) * Ck + cg * kH * kW) * P; // (kh, kw) row of the column buffer
    for (let kh = 0; kh < kH; kh++) {
      for (let kw = 0; kw < kW; kw++, row += P) {
        const iwOff = kw * dW - pW; // iw = ow*sW + iwOff, kept in [0, W)
        const owLo = Math.max(0, Math.ceil(-iwOff / sW)), owHi = Math.min(OW, Math.floor((W - 1 - iwOff) / sW) + 1);
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * sH - pH + kh * dH;
          if (ih < 0 || ih >= H) continue;
          const r = row + oh * OW, a = ih * W + iwOff;
          for (let ow = owLo; ow < owHi; ow++) acc[a + ow * sW] += gcol[r + ow]!;
        }
      }
    }
    const o = ((n0 + nl) * C + c) * HW;
    for (let i = 0; i < HW; i++) gx[o + i] = acc[i]!;
  }
}

registerKernels({ packBIm2col, packBIm2colT, col2im });

// ============ main-thread drivers ============

function dims(g: Conv2dGeom) {
  const Cg = g.C / g.groups, Og = g.O / g.groups;
  const is1x1 = g.kH === 1 && g.kW === 1 && g.sH === 1 && g.sW === 1 && g.pH === 0 && g.pW === 0;
  return { Cg, Og, Ck: Cg * g.kH * g.kW, P: g.OH * g.OW, HW: g.H * g.W, is1x1 };
}

/** x [N,C,H,W] contiguous, out [N,O,OH,OW] overwritten. */
export function conv2dForward(x: FloatArray, w: FloatArray, bias: FloatArray | null, g: Conv2dGeom, out: FloatArray): void {
  const { Cg, Og, Ck, P, HW, is1x1 } = dims(g);
  // out[n, g] (Og, P) = w[g] (Og, Ck) @ im2col(x[n, g]) (Ck, P)
  const A: ViewSrc = { data: w, off: 0, G: g.groups, bs1: 0, bs2: Og * Ck, ss: 0, rs: Ck, cs: 1 };
  const B = is1x1 ? { data: x, off: 0, G: g.groups, bs1: g.C * HW, bs2: Cg * HW, ss: 0, rs: HW, cs: 1 } : { ...g, x };
  runGemm({
    M: Og, N: P, Kd: Ck, nSeg: 1, packA: 'packAView', A, packB: is1x1 ? 'packBView' : 'packBIm2col', B,
    out, oOff: 0, oG: g.groups, oB1: g.O * P, oB2: Og * P, oRs: P, bias,
  }, g.N * g.groups);
}

/** gy [N,O,OH,OW] -> gx [N,C,H,W] overwritten. */
export function conv2dBackwardInput(gy: FloatArray, w: FloatArray, g: Conv2dGeom, gx: FloatArray): void {
  const { Cg, Og, Ck, P, HW, is1x1 } = dims(g);
  // w[g]ᵀ (Ck, Og) viewed through w[g] (Og, Ck); gy[n, g] (Og, P)
  const A: ViewSrc = { data: w, off: 0, G: g.groups, bs1: 0, bs2: Og * Ck, ss: 0, rs: 1, cs: Ck };
  const B: ViewSrc = { data: gy, off: 0, G: g.groups, bs1: g.O * P, bs2: Og * P, ss: 0, rs: P, cs: 1 };
  const job = { M: Ck, N: P, Kd: Og, nSeg: 1, packA: 'packAView', A, packB: 'packBView', B, bias: null };
  if (is1x1) { // gx[n, g] (Cg, HW) = w[g]ᵀ @ gy[n, g]
    runGemm({ ...job, out: gx, oOff: 0, oG: g.groups, oB1: g.C * HW, oB2: Cg * HW, oRs: HW }, g.N * g.groups);
    return;
  }
  const per = g.groups * Ck * P, chunk = Math.max(1, Math.min(g.N, Math.floor(COL_CHUNK / per)));
  const gcol = sharedFloat('conv.gcol', 'float64', chunk * per);
  for (let n0 = 0; n0 < g.N; n0 += chunk) {
    const nb = Math.min(chunk, g.N - n0);
    // gcol[n, g] (Ck, P) = w[g]ᵀ @ gy[n0+n, g], then scattered back to pixels
    runGemm({ ...job, B: { ...B, off: n0 * g.O * P }, out: gcol, oOff: 0, oG: 1, oB1: Ck * P, oB2: 0, oRs: P }, nb * g.groups);
    runKernel('col2im', { ...g, gcol, gx, n0 }, nb * g.C, nb * per, ['gx']);
  }
}

/** -> gw [O,C/groups,kH,kW] overwritten. */
export function conv2dBackwardWeight(x: FloatArray, gy: FloatArray, g: Conv2dGeom, gw: FloatArray): void {
  const { Cg, Og, Ck, P, HW, is1x1 } = dims(g);
  // gw[g] (Og, Ck) = sum over n of gy[n, g] (Og, P) @ im2col(x[n, g])ᵀ (P, Ck); segment s = n
  const A: ViewSrc = { data: gy, off: 0, G: 1, bs1: Og * P, bs2: 0, ss: g.O * P, rs: P, cs: 1 };
  const B = is1x1 ? { data: x, off: 0, G: 1, bs1: Cg * HW, bs2: 0, ss: g.C * HW, rs: 1, cs: HW } : { ...g, x };
  runGemm({
    M: Og, N: Ck, Kd: P, nSeg: g.N, packA: 'packAView', A, packB: is1x1 ? 'packBView' : 'packBIm2colT', B,
    out: gw, oOff: 0, oG: 1, oB1: Og * Ck, oB2: 0, oRs: Ck, bias: null,
  }, g.groups);
}

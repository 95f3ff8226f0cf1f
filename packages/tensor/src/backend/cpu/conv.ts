// 2-D convolution kernels for the CPU backend: forward and both backward passes, NCHW, with
// PyTorch F.conv2d semantics (weight [O, C/groups, kH, kW]; stride, padding, dilation, groups).
// All three are GEMMs (gemm.ts) whose B operand is packed straight from the image ("implicit
// im2col", no column buffer). The input gradient is, at stride 1, a forward conv with the flipped
// kernel; at other strides a GEMM into a column buffer (float32 for float32 tensors: the SIMD path
// of gemm.ts; else float64), then col2im. On small maps (convTuning.wideMaxP) the forward and
// weight-gradient GEMMs span the whole batch: im2col columns (rows) run over (n, oh, ow).
// On the SIMD path the im2col packers describe a block by one descriptor per tap, which the
// module's im2col expands (wasm/copy.ts). 1x1 stride-1 unpadded convolutions read plain strided
// views; taps that only read padding are dropped first (conv-taps.ts). A float32 forward (any stride;
// so also a stride-1 input gradient) runs conv-direct.ts's direct kernel instead where useDirect measured
// it faster: no packing, the same bits (so does a strided 1x1's input gradient: the 1x1 forward of gy
// with wᵀ, scattered); a float32 weight gradient runs conv-wgrad.ts's
// where useDirectWeight measured it faster (the same bits too). Naive references (7-deep
// loops, float64 accumulators) close the file; the property tests compare against them.
// Dims: n image, c input channel, o output channel, g group, (h, w) input pixel, (oh, ow) output
// pixel, P = OH*OW, Cg = C/groups, Og = O/groups, Ck = Cg*kH*kW (one column of im2col).

import { alloc, dtypeOf, isShared, type FloatArray } from './alloc.ts';
import { runGemm, type ViewSrc } from './gemm.ts';
import { registerKernels, runKernel, sharedFloat, type KernelTable } from './threads.ts';
import { liveTaps, scatterWindow, windowWeight } from './conv-taps.ts';
import { conv2dBackwardInput1x1Strided, conv2dDirect, strided1x1Geom, useDirect } from './conv-direct.ts';
import { conv2dWeightDirect, useDirectWeight } from './conv-wgrad.ts';

export interface Conv2dGeom {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
  dH: number;
  dW: number;
  groups: number;
  OH: number;
  OW: number;
}

/** Where an im2col packer reads: the image x and the geometry. */
interface Im2colSrc extends Conv2dGeom {
  x: FloatArray;
}

/** An Im2colSrc as one literal (spreading the geometry's fields costs V8 microseconds per pass). */
function im2colSrc(g: Conv2dGeom, x: FloatArray): Im2colSrc {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  return { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW, x };
}

/**
 * Knobs, exposed for tests: colChunk = elements of the column buffer of the input gradient (and at
 * most of the weight gradient's transposed gy); below wideMaxP output pixels per image, the forward
 * and weight-gradient GEMMs run over the whole batch at once (one GEMM whose N, resp. K, is N*OH*OW)
 * instead of one GEMM per image: the same sums in the same order (same bits), with panels wide
 * enough for the SIMD tile on small maps.
 */
export const convTuning = { colChunk: 1 << 22, wideMaxP: 256 };

// ============ self-contained kernels (also run in the workers) ============

/**
 * Forward B operand, im2col of image n = b / groups, group g = b % groups: rows k = (c, kh, kw) in
 * [k0, k0+kB), columns p = (oh, ow) in [j0, j0+nB), packed as 4-column panels (see packBView).
 */
function packBIm2col(v: Im2colSrc, b: number, _s: number, k0: number, kB: number, j0: number, nB: number, dst: Float64Array, at: number): void {
  const { x, C, H, W, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, groups } = v;
  const Cg = C / groups,
    nb = Math.floor(b / groups),
    g = b - nb * groups,
    kk = kH * kW,
    kB4 = 4 * kB,
    P = OH * OW;
  const nP = (nB + 3) & ~3,
    n0 = Math.floor(j0 / P), // batch-wide GEMM: columns run over images (n0 = 0 when one image per b)
    oh0 = Math.floor((j0 - n0 * P) / OW),
    ow0 = j0 - n0 * P - oh0 * OW;
  for (let k = 0; k < kB; k++) {
    const ck = k0 + k,
      c = Math.floor(ck / kk),
      t = ck - c * kk,
      kh = Math.floor(t / kW),
      kw = t - kh * kW;
    const ihOff = kh * dH - pH,
      iwOff = kw * dW - pW,
      dk = at + k * 4;
    for (let jj = 0, oh = oh0, ow = ow0, plane = ((nb + n0) * C + g * Cg + c) * H * W; jj < nB; oh++, ow = 0) {
      // one output row (oh) at a time
      if (oh === OH) {
        oh = 0;
        plane += C * H * W; // next image
      }
      const end = Math.min(nB, jj + OW - ow),
        ih = oh * sH + ihOff;
      if (ih < 0 || ih >= H) {
        for (; jj < end; jj++) dst[(jj >> 2) * kB4 + dk + (jj & 3)] = 0;
        continue;
      }
      const row = plane + ih * W,
        iw0 = ow * sW + iwOff; // column jj + t reads iw0 + t*sW
      const lo = Math.min(end, jj + (iw0 >= 0 ? 0 : Math.ceil(-iw0 / sW)));
      const hi = Math.max(lo, Math.min(end, jj + Math.floor((W - 1 - iw0) / sW) + 1));
      let i = row + iw0 + (lo - jj) * sW;
      for (; jj < lo; jj++) dst[(jj >> 2) * kB4 + dk + (jj & 3)] = 0; // left padding
      for (; jj < hi && (jj & 3) !== 0; jj++, i += sW) dst[(jj >> 2) * kB4 + dk + (jj & 3)] = x[i]!;
      for (let d = (jj >> 2) * kB4 + dk; jj + 4 <= hi; jj += 4, i += 4 * sW, d += kB4) {
        // whole panel rows
        dst[d] = x[i]!;
        dst[d + 1] = x[i + sW]!;
        dst[d + 2] = x[i + 2 * sW]!;
        dst[d + 3] = x[i + 3 * sW]!;
      }
      for (; jj < hi; jj++, i += sW) dst[(jj >> 2) * kB4 + dk + (jj & 3)] = x[i]!;
      for (; jj < end; jj++) dst[(jj >> 2) * kB4 + dk + (jj & 3)] = 0; // right padding
    }
    for (let jj = nB; jj < nP; jj++) dst[(jj >> 2) * kB4 + dk + (jj & 3)] = 0;
  }
}

/**
 * packBIm2col for the float32 SIMD path (see wasm/gemm-simd.ts): the same block as rows (tap k at
 * at + k*nP), described for the module's im2col (wasm/copy.ts) by a header and one descriptor per tap.
 */
function packBIm2colF32(
  v: Im2colSrc,
  b: number,
  _s: number,
  k0: number,
  kB: number,
  j0: number,
  nB: number,
  R: Int32Array,
  rAt: number,
  at: number,
  _ld: number,
  sa: number,
): number {
  const { C, H, W, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, groups } = v;
  const Cg = C / groups,
    nb = Math.floor(b / groups),
    g = b - nb * groups,
    kk = kH * kW,
    P = OH * OW;
  const nP = (nB + 3) & ~3,
    n0 = Math.floor(j0 / P), // batch-wide GEMM: columns run over images
    oh0 = Math.floor((j0 - n0 * P) / OW),
    ow0 = j0 - n0 * P - oh0 * OW;
  R.set([nB, oh0, ow0, OH, OW, 4 * sH * W, 4 * sW, 4 * C * H * W], rAt); // header: pixels, start, steps in bytes
  for (let k = 0, q = rAt + 8; k < kB; k++, q += 8) {
    const ck = k0 + k,
      c = Math.floor(ck / kk),
      t = ck - c * kk,
      kh = Math.floor(t / kW),
      kw = t - kh * kW;
    const ihOff = kh * dH - pH, // ih = oh*sH + ihOff, in [0, H) for oh in [ohLo, ohHi)
      iwOff = kw * dW - pW;
    R[q] = 4 * (at + k * nP);
    R[q + 1] = 4 * (sa + ((nb + n0) * C + g * Cg + c) * H * W + ihOff * W + iwOff);
    R[q + 2] = Math.max(0, Math.ceil(-ihOff / sH));
    R[q + 3] = Math.min(OH, Math.floor((H - 1 - ihOff) / sH) + 1);
    R[q + 4] = Math.max(0, Math.ceil(-iwOff / sW));
    R[q + 5] = Math.min(OW, Math.floor((W - 1 - iwOff) / sW) + 1);
  }
  return 4 * kB + 2;
}

/**
 * Weight-gradient B operand, im2col transposed for group g = b and image n = s: rows p = (oh, ow)
 * in [k0, k0+kB), columns (c, kh, kw) in [j0, j0+nB). Packed one column (tap) at a time, so reads
 * run along an input row.
 */
function packBIm2colT(v: Im2colSrc, b: number, s: number, k0: number, kB: number, j0: number, nB: number, dst: Float64Array, at: number): void {
  const { x, C, H, W, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, groups } = v;
  const P = OH * OW,
    n0 = Math.floor(k0 / P); // batch-wide GEMM: rows run over images (n0 = 0 when one image per segment)
  const Cg = C / groups,
    kk = kH * kW,
    base = ((s + n0) * C + b * Cg) * H * W,
    nP = (nB + 3) & ~3,
    kB4 = 4 * kB;
  const oh0 = Math.floor((k0 - n0 * P) / OW),
    ow0 = k0 - n0 * P - oh0 * OW;
  for (let jj = 0; jj < nP; jj++) {
    const dj = at + (jj >> 2) * kB4 + (jj & 3); // (k, jj) -> dj + 4k
    if (jj >= nB) {
      for (let k = 0; k < kB; k++) dst[dj + 4 * k] = 0;
      continue;
    }
    const ck = j0 + jj,
      c = Math.floor(ck / kk),
      t = ck - c * kk,
      kh = Math.floor(t / kW),
      kw = t - kh * kW;
    const ihOff = kh * dH - pH,
      iwOff = kw * dW - pW;
    for (let k = 0, oh = oh0, ow = ow0, plane = base + c * H * W; k < kB; oh++, ow = 0) {
      // one output row (oh) at a time
      if (oh === OH) {
        oh = 0;
        plane += C * H * W; // next image
      }
      const end = Math.min(kB, k + OW - ow),
        ih = oh * sH + ihOff;
      if (ih < 0 || ih >= H) {
        for (; k < end; k++) dst[dj + 4 * k] = 0;
        continue;
      }
      const iw0 = ow * sW + iwOff; // row k + t reads iw0 + t*sW
      const lo = Math.min(end, k + (iw0 >= 0 ? 0 : Math.ceil(-iw0 / sW)));
      const hi = Math.max(lo, Math.min(end, k + Math.floor((W - 1 - iw0) / sW) + 1));
      let i = plane + ih * W + iw0 + (lo - k) * sW;
      for (; k < lo; k++) dst[dj + 4 * k] = 0;
      for (; k < hi; k++, i += sW) dst[dj + 4 * k] = x[i]!;
      for (; k < end; k++) dst[dj + 4 * k] = 0;
    }
  }
}

/**
 * packBIm2colT for the float32 SIMD path (see wasm/gemm-simd.ts): the same block as lines, one per
 * column (tap) at at + jj*ld, described for the module's im2col (wasm/copy.ts) by a header and one
 * descriptor per tap.
 */
function packBIm2colTF32(
  v: Im2colSrc,
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
  const { C, H, W, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, groups } = v;
  const P = OH * OW,
    n0 = Math.floor(k0 / P); // batch-wide GEMM: rows run over images
  const Cg = C / groups,
    kk = kH * kW,
    base = sa + ((s + n0) * C + b * Cg) * H * W;
  const oh0 = Math.floor((k0 - n0 * P) / OW),
    ow0 = k0 - n0 * P - oh0 * OW;
  R.set([kB, oh0, ow0, OH, OW, 4 * sH * W, 4 * sW, 4 * C * H * W], rAt); // header: pixels, start, steps in bytes
  for (let jj = 0, q = rAt + 8; jj < nB; jj++, q += 8) {
    const ck = j0 + jj,
      c = Math.floor(ck / kk),
      t = ck - c * kk,
      kh = Math.floor(t / kW),
      kw = t - kh * kW;
    const ihOff = kh * dH - pH, // ih = oh*sH + ihOff, in [0, H) for oh in [ohLo, ohHi)
      iwOff = kw * dW - pW;
    R[q] = 4 * (at + jj * ld);
    R[q + 1] = 4 * (base + c * H * W + ihOff * W + iwOff);
    R[q + 2] = Math.max(0, Math.ceil(-ihOff / sH));
    R[q + 3] = Math.min(OH, Math.floor((H - 1 - ihOff) / sH) + 1);
    R[q + 4] = Math.max(0, Math.ceil(-iwOff / sW));
    R[q + 5] = Math.min(OW, Math.floor((W - 1 - iwOff) / sW) + 1);
  }
  return 4 * nB + 3;
}

/** col2im for units u = (image nl of the chunk, channel c): gx[n0+nl, c] = sum of its column rows, in float64. */
function col2im(K: KernelTable, j: Conv2dGeom & { gcol: FloatArray; gx: FloatArray; n0: number }, u0: number, u1: number): void {
  const { gcol, gx, n0, C, H, W, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, groups } = j;
  const HW = H * W,
    P = OH * OW,
    Cg = C / groups,
    Ck = Cg * kH * kW,
    acc = K.buf('col2im', HW);
  for (let u = u0; u < u1; u++) {
    const nl = Math.floor(u / C),
      c = u - nl * C,
      g = Math.floor(c / Cg),
      cg = c - g * Cg;
    acc.fill(0, 0, HW);
    let row = ((nl * groups + g) * Ck + cg * kH * kW) * P; // (kh, kw) row of the column buffer
    for (let kh = 0; kh < kH; kh++) {
      for (let kw = 0; kw < kW; kw++, row += P) {
        const iwOff = kw * dW - pW; // iw = ow*sW + iwOff, kept in [0, W)
        const owLo = Math.max(0, Math.ceil(-iwOff / sW)),
          owHi = Math.min(OW, Math.floor((W - 1 - iwOff) / sW) + 1);
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * sH - pH + kh * dH;
          if (ih < 0 || ih >= H) continue;
          const r = row + oh * OW,
            a = ih * W + iwOff;
          for (let ow = owLo; ow < owHi; ow++) acc[a + ow * sW] += gcol[r + ow]!;
        }
      }
    }
    const o = ((n0 + nl) * C + c) * HW;
    for (let i = 0; i < HW; i++) gx[o + i] = acc[i]!;
  }
}

registerKernels({ packBIm2col, packBIm2colF32, packBIm2colT, packBIm2colTF32, col2im });

// ============ main-thread drivers ============

/** Whether the forward and weight-gradient GEMMs run over the whole batch at once (see convTuning.wideMaxP). */
export function batchWide(g: Conv2dGeom): boolean {
  return g.N > 1 && g.OH * g.OW < convTuning.wideMaxP;
}

function dims(g: Conv2dGeom) {
  const Cg = g.C / g.groups,
    Og = g.O / g.groups;
  const is1x1 = g.kH === 1 && g.kW === 1 && g.sH === 1 && g.sW === 1 && g.pH === 0 && g.pW === 0;
  return { Cg, Og, Ck: Cg * g.kH * g.kW, P: g.OH * g.OW, HW: g.H * g.W, is1x1 };
}

/** x [N,C,H,W] contiguous, out [N,O,OH,OW] overwritten. */
export function conv2dForward(x: FloatArray, w: FloatArray, bias: FloatArray | null, g: Conv2dGeom, out: FloatArray): void {
  const live = liveTaps(g); // dead taps (all padding) dropped, see conv-taps.ts
  if (live) {
    conv2dForward(x, windowWeight(w, g, live), bias, live.g, out);
    return;
  }
  if (useDirect(g, x, w, bias, out)) {
    conv2dDirect(x as Float32Array, w as Float32Array, bias as Float32Array | null, g, out as Float32Array); // no im2col (conv-direct.ts)
    return;
  }
  const { Cg, Og, Ck, P, HW, is1x1 } = dims(g);
  const A: ViewSrc = { data: w, off: 0, G: g.groups, bs1: 0, bs2: Og * Ck, ss: 0, rs: Ck, cs: 1 };
  if (batchWide(g)) {
    // out[:, g] (Og, N*P) = w[g] (Og, Ck) @ im2col(x[:, g]) (Ck, N*P): column (n, p) goes to out[n, g, :, p]
    const B = im2colSrc(g, x);
    runGemm(
      {
        M: Og,
        N: g.N * P,
        Kd: Ck,
        nSeg: 1,
        packA: 'packAView',
        A,
        packB: 'packBIm2col',
        B,
        out,
        oOff: 0,
        oG: g.groups,
        oB1: 0,
        oB2: Og * P,
        oRs: P,
        oP: P,
        oN: g.O * P,
        bias,
      },
      g.groups,
    );
    return;
  }
  // out[n, g] (Og, P) = w[g] (Og, Ck) @ im2col(x[n, g]) (Ck, P)
  const B = is1x1 ? { data: x, off: 0, G: g.groups, bs1: g.C * HW, bs2: Cg * HW, ss: 0, rs: HW, cs: 1 } : im2colSrc(g, x);
  runGemm(
    {
      M: Og,
      N: P,
      Kd: Ck,
      nSeg: 1,
      packA: 'packAView',
      A,
      packB: is1x1 ? 'packBView' : 'packBIm2col',
      B,
      out,
      oOff: 0,
      oG: g.groups,
      oB1: g.O * P,
      oB2: Og * P,
      oRs: P,
      bias,
    },
    g.N * g.groups,
  );
}

/** gy [N,O,OH,OW] -> gx [N,C,H,W] overwritten. */
export function conv2dBackwardInput(gy: FloatArray, w: FloatArray, g: Conv2dGeom, gx: FloatArray): void {
  const live = liveTaps(g);
  if (live) {
    conv2dBackwardInput(gy, windowWeight(w, g, live), live.g, gx);
    return;
  }
  const { Cg, Og, Ck, P, HW, is1x1 } = dims(g);
  // (a 1x1's input gradient is a plain GEMM below, unless the direct kernel takes its forward: the same sums)
  if (g.sH === 1 && g.sW === 1 && (!is1x1 || useDirect(flippedGeom(g), gy, w, null, gx))) {
    backwardInputFlipped(gy, w, g, gx);
    return;
  }
  const s1x1 = strided1x1Geom(g); // a strided 1x1: a 1x1 forward on the direct kernel, scattered (conv-direct.ts)
  if (s1x1 !== null && useDirect(s1x1, gy, w, null, gx)) {
    conv2dBackwardInput1x1Strided(gy as Float32Array, w as Float32Array, g, gx as Float32Array);
    return;
  }
  // w[g]ᵀ (Ck, Og) viewed through w[g] (Og, Ck); gy[n, g] (Og, P)
  const A: ViewSrc = { data: w, off: 0, G: g.groups, bs1: 0, bs2: Og * Ck, ss: 0, rs: 1, cs: Ck };
  if (is1x1) {
    const B: ViewSrc = { data: gy, off: 0, G: g.groups, bs1: g.O * P, bs2: Og * P, ss: 0, rs: P, cs: 1 };
    // gx[n, g] (Cg, HW) = w[g]ᵀ @ gy[n, g]
    const job = { M: Ck, N: P, Kd: Og, nSeg: 1, packA: 'packAView', A, packB: 'packBView', B };
    runGemm(Object.assign(job, { out: gx, oOff: 0, oG: g.groups, oB1: g.C * HW, oB2: Cg * HW, oRs: HW, bias: null }), g.N * g.groups);
    return;
  }
  const per = g.groups * Ck * P,
    chunk = Math.max(1, Math.min(g.N, Math.floor(convTuning.colChunk / per)));
  const f32 = gy instanceof Float32Array && w instanceof Float32Array && gx instanceof Float32Array;
  const gcol = sharedFloat('conv.gcol', f32 ? 'float32' : 'float64', chunk * per);
  // Each col2im job writes one chunk of gx: run them on shared memory, copy back once.
  const gxs = chunk < g.N && !isShared(gx) ? sharedFloat('conv.gx', dtypeOf(gx) as 'float32' | 'float64', gx.length) : gx;
  for (let n0 = 0; n0 < g.N; n0 += chunk) {
    const nb = Math.min(chunk, g.N - n0);
    // gcol[n, g] (Ck, P) = w[g]ᵀ @ gy[n0+n, g], then scattered back to pixels
    const gyChunk = gy.subarray(n0 * g.O * P, (n0 + nb) * g.O * P);
    const Bc: ViewSrc = { data: gyChunk, off: 0, G: g.groups, bs1: g.O * P, bs2: Og * P, ss: 0, rs: P, cs: 1 };
    const job = { M: Ck, N: P, Kd: Og, nSeg: 1, packA: 'packAView', A, packB: 'packBView', B: Bc };
    runGemm(Object.assign(job, { out: gcol, oOff: 0, oG: 1, oB1: Ck * P, oB2: 0, oRs: P, bias: null }), nb * g.groups);
    runKernel('col2im', Object.assign(im2colSrc(g, gcol), { gcol, gx: gxs, n0 }), nb * g.C, nb * per, chunk < g.N ? [] : ['gx']);
  }
  if (gxs !== gx) gx.set(gxs);
}

/**
 * Stride 1: the input gradient is the forward convolution of gy with the flipped, transposed
 * kernel and padding (k-1)*d - p per axis: gx[c, ih] = sum over (o, kh) of w[o, c, kh] gy[o, ih + p - kh*d].
 */
function backwardInputFlipped(gy: FloatArray, w: FloatArray, g: Conv2dGeom, gx: FloatArray): void {
  const { Cg, Og } = dims(g),
    { kH, kW, groups } = g,
    kk = kH * kW;
  const wf = sharedFloat('conv.wflip', w instanceof Float32Array ? 'float32' : 'float64', w.length);
  for (let gi = 0; gi < groups; gi++)
    for (let c = 0; c < Cg; c++)
      for (let o = 0; o < Og; o++) {
        const src = ((gi * Og + o) * Cg + c) * kk,
          dst = ((gi * Cg + c) * Og + o) * kk; // wf (C, Og, kH, kW)
        for (let t = 0; t < kk; t++) wf[dst + t] = w[src + kk - 1 - t]!;
      }
  conv2dForward(gy, wf, null, flippedGeom(g), gx);
}

/** The geometry of backwardInputFlipped's forward conv: gy [N, O, OH, OW] -> gx [N, C, H, W]. */
function flippedGeom(g: Conv2dGeom): Conv2dGeom {
  const { N, kH, kW, dH, dW, groups } = g,
    [pH, pW] = [(kH - 1) * dH - g.pH, (kW - 1) * dW - g.pW];
  return { N, C: g.O, H: g.OH, W: g.OW, O: g.C, kH, kW, sH: 1, sW: 1, pH, pW, dH, dW, groups, OH: g.H, OW: g.W };
}

/** -> gw [O,C/groups,kH,kW] overwritten. */
export function conv2dBackwardWeight(x: FloatArray, gy: FloatArray, g: Conv2dGeom, gw: FloatArray): void {
  const live = liveTaps(g);
  if (live) {
    const win = alloc(dtypeOf(gw) as 'float32' | 'float64', (gw.length / (g.kH * g.kW)) * live.g.kH * live.g.kW) as FloatArray;
    conv2dBackwardWeight(x, gy, live.g, win);
    scatterWindow(win, g, live, gw);
    return;
  }
  if (useDirectWeight(g, x, gy, gw)) {
    conv2dWeightDirect(x as Float32Array, gy as Float32Array, g, gw as Float32Array); // no im2col (conv-wgrad.ts)
    return;
  }
  const { Cg, Og, Ck, P, HW, is1x1 } = dims(g);
  if (batchWide(g) && g.N * g.O * P <= convTuning.colChunk) {
    // gw[g] (Og, Ck) = gyT[g] (Og, N*P) @ im2col(x[:, g])ᵀ (N*P, Ck), gyT (O, N*P) = gy with images along rows
    // (a shared scratch, kept: at most colChunk elements)
    const NP = g.N * P,
      gyT = sharedFloat('conv.gyT', dtypeOf(gy) as 'float32' | 'float64', g.O * NP);
    for (let n = 0; n < g.N; n++) for (let o = 0; o < g.O; o++) gyT.set(gy.subarray((n * g.O + o) * P, (n * g.O + o + 1) * P), o * NP + n * P);
    const A: ViewSrc = { data: gyT, off: 0, G: 1, bs1: Og * NP, bs2: 0, ss: 0, rs: NP, cs: 1 };
    const B = im2colSrc(g, x);
    runGemm(
      { M: Og, N: Ck, Kd: NP, nSeg: 1, packA: 'packAView', A, packB: 'packBIm2colT', B, out: gw, oOff: 0, oG: 1, oB1: Og * Ck, oB2: 0, oRs: Ck, bias: null },
      g.groups,
    );
    return;
  }
  // gw[g] (Og, Ck) = sum over n of gy[n, g] (Og, P) @ im2col(x[n, g])ᵀ (P, Ck); segment s = n
  const A: ViewSrc = { data: gy, off: 0, G: 1, bs1: Og * P, bs2: 0, ss: g.O * P, rs: P, cs: 1 };
  const B = is1x1 ? { data: x, off: 0, G: 1, bs1: Cg * HW, bs2: 0, ss: g.C * HW, rs: 1, cs: HW } : im2colSrc(g, x);
  runGemm(
    {
      M: Og,
      N: Ck,
      Kd: P,
      nSeg: g.N,
      packA: 'packAView',
      A,
      packB: is1x1 ? 'packBView' : 'packBIm2colT',
      B,
      out: gw,
      oOff: 0,
      oG: 1,
      oB1: Og * Ck,
      oB2: 0,
      oRs: Ck,
      bias: null,
    },
    g.groups,
  );
}

// ============ naive references ============

/** x [N,C,H,W] contiguous, out [N,O,OH,OW] overwritten: out = bias + sum over (c, kh, kw) of x * w. */
export function conv2dForwardNaive(x: FloatArray, w: FloatArray, bias: FloatArray | null, g: Conv2dGeom, out: FloatArray): void {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups,
    Og = O / groups;
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const gi = Math.floor(o / Og);
          let acc = 0;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < kH; kh++)
              for (let kw = 0; kw < kW; kw++) {
                const ih = oh * sH - pH + kh * dH,
                  iw = ow * sW - pW + kw * dW;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += x[((n * C + gi * Cg + c) * H + ih) * W + iw]! * w[((o * Cg + c) * kH + kh) * kW + kw]!;
              }
          out[((n * O + o) * OH + oh) * OW + ow] = acc + (bias === null ? 0 : bias[o]!); // (N, O, OH, OW)
        }
}

/** gy [N,O,OH,OW] -> gx [N,C,H,W] overwritten: every tap scatters gy * w back to its input pixel. */
export function conv2dBackwardInputNaive(gy: FloatArray, w: FloatArray, g: Conv2dGeom, gx: FloatArray): void {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups,
    Og = O / groups,
    acc = alloc('float64', N * C * H * W); // (N, C, H, W)
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const gi = Math.floor(o / Og),
            dy = gy[((n * O + o) * OH + oh) * OW + ow]!;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < kH; kh++)
              for (let kw = 0; kw < kW; kw++) {
                const ih = oh * sH - pH + kh * dH,
                  iw = ow * sW - pW + kw * dW;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc[((n * C + gi * Cg + c) * H + ih) * W + iw] += dy * w[((o * Cg + c) * kH + kh) * kW + kw]!;
              }
        }
  gx.set(acc);
}

/** x [N,C,H,W], gy [N,O,OH,OW] -> gw [O,C/groups,kH,kW] overwritten: sum over (n, oh, ow) of gy * x. */
export function conv2dBackwardWeightNaive(x: FloatArray, gy: FloatArray, g: Conv2dGeom, gw: FloatArray): void {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups,
    Og = O / groups;
  for (let o = 0; o < O; o++)
    for (let c = 0; c < Cg; c++)
      for (let kh = 0; kh < kH; kh++)
        for (let kw = 0; kw < kW; kw++) {
          const gi = Math.floor(o / Og);
          let acc = 0;
          for (let n = 0; n < N; n++)
            for (let oh = 0; oh < OH; oh++)
              for (let ow = 0; ow < OW; ow++) {
                const ih = oh * sH - pH + kh * dH,
                  iw = ow * sW - pW + kw * dW;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += gy[((n * O + o) * OH + oh) * OW + ow]! * x[((n * C + gi * Cg + c) * H + ih) * W + iw]!;
              }
          gw[((o * Cg + c) * kH + kh) * kW + kw] = acc; // (O, Cg, kH, kW)
        }
}

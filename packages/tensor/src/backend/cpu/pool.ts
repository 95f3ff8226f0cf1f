// CPU kernels for 2-D pooling on contiguous NCHW typed arrays, forward and backward.
// Follows PyTorch F.max_pool2d (return_indices), F.avg_pool2d and F.adaptive_avg_pool2d
// (https://pytorch.org/docs/stable/nn.functional.html#pooling-functions), with ceil_mode false,
// dilation 1 and no divisor_override. Outputs are written in full; backward outputs are zeroed
// first, then accumulated. These loops are the direct definition (a window per output, clipped
// to the input); for float32, maxPool2d runs each row's interior columns (full windows, no clipping)
// in WebAssembly SIMD (wasm/pool-simd.ts), visiting the same cells in the same order. The property tests check them
// against an independent reference, and test/cpu-pool-resize-bits.test.ts pins maxPool2d's bits to
// the plain loop.
//
// Legend: N batch, C channels, H×W input plane, OH×OW output plane, kH×kW window, sH/sW stride,
// pH/pW padding (implicit: -inf for max, 0 for avg).

import { alloc, type FloatArray } from './alloc.ts';
import { maxPoolInteriorF32, poolSimdOn } from './wasm/pool-simd.ts';

export interface Pool2dGeom {
  N: number;
  C: number;
  H: number;
  W: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
  OH: number;
  OW: number;
}

/** Clipped window bounds per output index along one axis: [start, end) in input coordinates. */
function windows(O: number, k: number, s: number, p: number, size: number): { lo: Int32Array; hi: Int32Array } {
  const lo = alloc('int32', O),
    hi = alloc('int32', O);
  for (let o = 0; o < O; o++) {
    const start = o * s - p;
    lo[o] = Math.max(start, 0);
    hi[o] = Math.min(start + k, size);
  }
  return { lo, hi };
}

/**
 * Output indices [a, b) along one axis whose window lies wholly inside the input
 * (o·s − p ≥ 0 and o·s − p + k ≤ size); the others are clipped by `windows`.
 */
function interior(O: number, k: number, s: number, p: number, size: number): [number, number] {
  const a = Math.min(O, Math.ceil(p / s));
  return [a, Math.max(a, Math.min(O, Math.floor((size + p - k) / s) + 1))];
}

/**
 * The max of one clipped window [h0, h1) × [w0, w1) of the plane at `base`, in row-major order,
 * into out[o] and its flat h*W+w into indices[o] (the definition).
 */
function maxWindow(
  x: FloatArray,
  base: number,
  W: number,
  h0: number,
  h1: number,
  w0: number,
  w1: number,
  out: FloatArray,
  indices: Int32Array,
  o: number,
): void {
  let best = -Infinity,
    arg = h0 * W + w0;
  for (let h = h0; h < h1; h++) {
    const row = h * W;
    for (let w = w0; w < w1; w++) {
      const v = x[base + row + w];
      if (v > best || v !== v) {
        best = v;
        arg = row + w;
      }
    }
  }
  out[o] = best;
  indices[o] = arg;
}

/**
 * out, indices: (N, C, OH, OW) ← x: (N, C, H, W). indices holds the flat h*W+w of each max within
 * its (n, c) plane. NOTE: as PyTorch's CPU kernel, a NaN is taken as the max (the last NaN in
 * row-major window order wins), and a window of all -inf reports its first in-bounds position.
 */
export function maxPool2d(x: FloatArray, g: Pool2dGeom, out: FloatArray, indices: Int32Array): void {
  const { N, C, H, W, kW, sW, pW, OH, OW } = g;
  const rows = windows(OH, g.kH, g.sH, g.pH, H),
    cols = windows(OW, kW, sW, pW, W);
  const [a, b] = interior(OW, kW, sW, pW, W);
  // float32 with 4 interior columns or more: those in WebAssembly SIMD (wasm/pool-simd.ts, the same
  // bits), written first; the JS loop below then fills the other columns.
  const simd = x instanceof Float32Array && b - a >= 4 && poolSimdOn(x.length);
  if (simd) maxPoolInteriorF32(x, g, rows.lo, rows.hi, a, b, out as Float32Array, indices);
  const HW = H * W;
  for (let plane = 0, o = 0; plane < N * C; plane++) {
    const base = plane * HW;
    for (let oh = 0; oh < OH; oh++, o += OW) {
      const h0 = rows.lo[oh],
        h1 = rows.hi[oh];
      for (let ow = 0; ow < OW; ow++) if (!simd || ow < a || ow >= b) maxWindow(x, base, W, h0, h1, cols.lo[ow], cols.hi[ow], out, indices, o + ow);
    }
  }
}

/** gx: (N, C, H, W) ← gy, indices: (N, C, OH, OW). Scatter-adds each gy to its argmax. */
export function maxPool2dBackward(gy: FloatArray, indices: Int32Array, g: Pool2dGeom, gx: FloatArray): void {
  const { N, C, H, W, OH, OW } = g;
  const HW = H * W,
    OHW = OH * OW;
  gx.fill(0);
  for (let plane = 0; plane < N * C; plane++) {
    const base = plane * HW,
      obase = plane * OHW;
    for (let i = 0; i < OHW; i++) gx[base + indices[obase + i]] += gy[obase + i];
  }
}

/**
 * Divisor per output position: the full window kH*kW (padding included, as ceil_mode is false)
 * or only the in-bounds cells. Shape (OH, OW), shared by every plane.
 */
function avgDivisors(g: Pool2dGeom, countIncludePad: boolean, rows: ReturnType<typeof windows>, cols: ReturnType<typeof windows>): Float64Array {
  const inv = alloc('float64', g.OH * g.OW);
  for (let oh = 0; oh < g.OH; oh++) {
    for (let ow = 0; ow < g.OW; ow++) {
      const n = countIncludePad ? g.kH * g.kW : (rows.hi[oh] - rows.lo[oh]) * (cols.hi[ow] - cols.lo[ow]);
      inv[oh * g.OW + ow] = 1 / n;
    }
  }
  return inv;
}

/** out: (N, C, OH, OW) ← x: (N, C, H, W). Mean over each window (zero padding). */
export function avgPool2d(x: FloatArray, g: Pool2dGeom, countIncludePad: boolean, out: FloatArray): void {
  const { N, C, H, W, OH, OW } = g;
  const rows = windows(OH, g.kH, g.sH, g.pH, H),
    cols = windows(OW, g.kW, g.sW, g.pW, W);
  const inv = avgDivisors(g, countIncludePad, rows, cols);
  const HW = H * W;
  let o = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const base = plane * HW;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = rows.lo[oh],
        h1 = rows.hi[oh];
      for (let ow = 0; ow < OW; ow++, o++) {
        const w0 = cols.lo[ow],
          w1 = cols.hi[ow];
        let s = 0;
        for (let h = h0; h < h1; h++) {
          const row = base + h * W;
          for (let w = w0; w < w1; w++) s += x[row + w];
        }
        out[o] = s * inv[oh * OW + ow];
      }
    }
  }
}

/** gx: (N, C, H, W) ← gy: (N, C, OH, OW). Each gy spreads gy/divisor over its window. */
export function avgPool2dBackward(gy: FloatArray, g: Pool2dGeom, countIncludePad: boolean, gx: FloatArray): void {
  const { N, C, H, W, OH, OW } = g;
  const rows = windows(OH, g.kH, g.sH, g.pH, H),
    cols = windows(OW, g.kW, g.sW, g.pW, W);
  const inv = avgDivisors(g, countIncludePad, rows, cols);
  const HW = H * W;
  gx.fill(0);
  let o = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const base = plane * HW;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = rows.lo[oh],
        h1 = rows.hi[oh];
      for (let ow = 0; ow < OW; ow++, o++) {
        const w0 = cols.lo[ow],
          w1 = cols.hi[ow];
        const v = gy[o] * inv[oh * OW + ow];
        for (let h = h0; h < h1; h++) {
          const row = base + h * W;
          for (let w = w0; w < w1; w++) gx[row + w] += v;
        }
      }
    }
  }
}

/** Adaptive bins along one axis: start = floor(i*size/O), end = ceil((i+1)*size/O). */
function adaptiveBins(O: number, size: number): { lo: Int32Array; hi: Int32Array } {
  const lo = alloc('int32', O),
    hi = alloc('int32', O);
  for (let i = 0; i < O; i++) {
    lo[i] = Math.floor((i * size) / O);
    hi[i] = Math.floor(((i + 1) * size + O - 1) / O);
  }
  return { lo, hi };
}

/** out: (N, C, OH, OW) ← x: (N, C, H, W). Mean over each adaptive bin (bins may overlap). */
export function adaptiveAvgPool2d(x: FloatArray, N: number, C: number, H: number, W: number, OH: number, OW: number, out: FloatArray): void {
  const rows = adaptiveBins(OH, H),
    cols = adaptiveBins(OW, W);
  const HW = H * W;
  let o = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const base = plane * HW;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = rows.lo[oh],
        h1 = rows.hi[oh];
      for (let ow = 0; ow < OW; ow++, o++) {
        const w0 = cols.lo[ow],
          w1 = cols.hi[ow];
        let s = 0;
        for (let h = h0; h < h1; h++) {
          const row = base + h * W;
          for (let w = w0; w < w1; w++) s += x[row + w];
        }
        out[o] = s / ((h1 - h0) * (w1 - w0));
      }
    }
  }
}

/** gx: (N, C, H, W) ← gy: (N, C, OH, OW). Each gy spreads gy/binSize over its bin. */
export function adaptiveAvgPool2dBackward(gy: FloatArray, N: number, C: number, H: number, W: number, OH: number, OW: number, gx: FloatArray): void {
  const rows = adaptiveBins(OH, H),
    cols = adaptiveBins(OW, W);
  const HW = H * W;
  gx.fill(0);
  let o = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const base = plane * HW;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = rows.lo[oh],
        h1 = rows.hi[oh];
      for (let ow = 0; ow < OW; ow++, o++) {
        const w0 = cols.lo[ow],
          w1 = cols.hi[ow];
        const v = gy[o] / ((h1 - h0) * (w1 - w0));
        for (let h = h0; h < h1; h++) {
          const row = base + h * W;
          for (let w = w0; w < w1; w++) gx[row + w] += v;
        }
      }
    }
  }
}

// Fused log-softmax kernels over dense (outer, n, inner) data, the softmax dim being n: the forward
// in three streaming passes (max, Σ exp, output), per-line sums in float64, plain line loops when the
// dim is the last (inner = 1), and for a short dim (n ≤ COLUMN_MAX_N: a segmentation net's classes
// over H·W pixels) one column of n at a time, in the same order of operations (the same bits; tested).
// The forward can also write the probabilities p = exp(x − m)/Σ, from the exponentials it computes
// anyway, so that the backward (one sum, one pass) needs no exp:
//   y = x − (m + log Σ exp(x − m)),  m = max x (0 where it is ±∞),   gx = g − p·Σ g.
// On float32 data with inner ≥ 4 both run in WebAssembly SIMD instead (wasm/softmax-simd.ts): the
// forward with float32 exp and log (other bits, within 3 ulps), the backward with these loops' bits.

import type { FloatArray } from './alloc.ts';
import { logSoftmaxBackwardF32, logSoftmaxF32, softmaxSimdOn } from './wasm/softmax-simd.ts';

/** y (dense, overwritten) = log_softmax(x) along n; p, when given, = softmax(x). */
export function logSoftmax(x: FloatArray, outer: number, n: number, inner: number, y: FloatArray, p: FloatArray | null): void {
  if (x instanceof Float32Array && y instanceof Float32Array && (p === null || p instanceof Float32Array) && softmaxSimdOn(n, inner)) {
    if (logSoftmaxF32(x, outer, n, inner, y, p)) return; // else a non-finite max: the JS loops below
  }
  if (inner === 1) logSoftmaxLines(x, outer, n, y, p);
  else if (n <= COLUMN_MAX_N) logSoftmaxColumns(x, outer, n, inner, y, p);
  else logSoftmaxPlanes(x, outer, n, inner, y, p);
}

/** Up to this dim size the column loops win (4 classes at 48×48: forward 20%, backward 33% faster; 64 at 96×96: 2× slower, strided). */
export const COLUMN_MAX_N = 16;

/** logSoftmax one column (o, ·, i) at a time: its n values stay in cache, no per-column sums in memory. */
export function logSoftmaxColumns(x: FloatArray, outer: number, n: number, inner: number, y: FloatArray, p: FloatArray | null): void {
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner,
      end = base + n * inner;
    for (let i = base; i < base + inner; i++) {
      let m = -Infinity,
        s = 0;
      for (let q = i; q < end; q += inner) m = Math.max(m, x[q]); // NaN propagates
      if (m === Infinity || m === -Infinity) m = 0;
      if (p) {
        for (let q = i; q < end; q += inner) s += p[q] = Math.exp(x[q] - m);
        for (let q = i; q < end; q += inner) p[q] /= s;
      } else for (let q = i; q < end; q += inner) s += Math.exp(x[q] - m);
      const lse = Math.log(s) + m;
      for (let q = i; q < end; q += inner) y[q] = x[q] - lse;
    }
  }
}

/** logSoftmax in streaming passes over each (n, inner) plane, per-column max and sum in float64 arrays. */
export function logSoftmaxPlanes(x: FloatArray, outer: number, n: number, inner: number, y: FloatArray, p: FloatArray | null): void {
  const m = new Float64Array(inner),
    s = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    m.fill(-Infinity);
    s.fill(0);
    for (let k = 0, q = base; k < n; k++) for (let i = 0; i < inner; i++, q++) m[i] = Math.max(m[i], x[q]); // NaN propagates
    for (let i = 0; i < inner; i++) if (m[i] === Infinity || m[i] === -Infinity) m[i] = 0;
    if (p) for (let k = 0, q = base; k < n; k++) for (let i = 0; i < inner; i++, q++) s[i] += p[q] = Math.exp(x[q] - m[i]);
    else for (let k = 0, q = base; k < n; k++) for (let i = 0; i < inner; i++, q++) s[i] += Math.exp(x[q] - m[i]);
    if (p) for (let k = 0, q = base; k < n; k++) for (let i = 0; i < inner; i++, q++) p[q] /= s[i];
    for (let i = 0; i < inner; i++) s[i] = Math.log(s[i]) + m[i]; // log Σ exp
    for (let k = 0, q = base; k < n; k++) for (let i = 0; i < inner; i++, q++) y[q] = x[q] - s[i];
  }
}

/** logSoftmax when the softmax dim is the last (inner = 1): one contiguous line of n per outer index. */
function logSoftmaxLines(x: FloatArray, outer: number, n: number, y: FloatArray, p: FloatArray | null): void {
  for (let o = 0, base = 0; o < outer; o++, base += n) {
    let m = -Infinity,
      s = 0;
    for (let q = base; q < base + n; q++) m = Math.max(m, x[q]);
    if (m === Infinity || m === -Infinity) m = 0;
    if (p) for (let q = base; q < base + n; q++) s += p[q] = Math.exp(x[q] - m);
    else for (let q = base; q < base + n; q++) s += Math.exp(x[q] - m);
    if (p) for (let q = base; q < base + n; q++) p[q] /= s;
    const lse = Math.log(s) + m;
    for (let q = base; q < base + n; q++) y[q] = x[q] - lse;
  }
}

/** gx (dense, overwritten) = g − p·Σ_n g, the gradient of log_softmax from the probabilities p. */
export function logSoftmaxBackward(g: FloatArray, p: FloatArray, outer: number, n: number, inner: number, gx: FloatArray): void {
  if (g instanceof Float32Array && p instanceof Float32Array && gx instanceof Float32Array && softmaxSimdOn(n, inner)) {
    logSoftmaxBackwardF32(g, p, outer, n, inner, gx); // the bits of the loops below
    return;
  }
  if (inner === 1) {
    for (let o = 0, base = 0; o < outer; o++, base += n) {
      let s = 0;
      for (let q = base; q < base + n; q++) s += g[q];
      for (let q = base; q < base + n; q++) gx[q] = g[q] - p[q] * s;
    }
    return;
  }
  (n <= COLUMN_MAX_N ? logSoftmaxBackwardColumns : logSoftmaxBackwardPlanes)(g, p, outer, n, inner, gx);
}

/** logSoftmaxBackward one column at a time (a short dim: see logSoftmaxColumns). */
export function logSoftmaxBackwardColumns(g: FloatArray, p: FloatArray, outer: number, n: number, inner: number, gx: FloatArray): void {
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner,
      end = base + n * inner;
    for (let i = base; i < base + inner; i++) {
      let s = 0;
      for (let q = i; q < end; q += inner) s += g[q];
      for (let q = i; q < end; q += inner) gx[q] = g[q] - p[q] * s;
    }
  }
}

/** logSoftmaxBackward in two passes over each (n, inner) plane, the per-column sums in float64. */
export function logSoftmaxBackwardPlanes(g: FloatArray, p: FloatArray, outer: number, n: number, inner: number, gx: FloatArray): void {
  const s = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    s.fill(0);
    for (let k = 0, q = base; k < n; k++) for (let i = 0; i < inner; i++, q++) s[i] += g[q];
    for (let k = 0, q = base; k < n; k++) for (let i = 0; i < inner; i++, q++) gx[q] = g[q] - p[q] * s[i];
  }
}

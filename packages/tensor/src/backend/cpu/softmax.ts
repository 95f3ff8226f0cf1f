// Fused log-softmax kernels over dense (outer, n, inner) data, the softmax dim being n: the forward
// in three streaming passes (max, Σ exp, output) and the input gradient in two, per-line sums in
// float64. Same formula as the composed ops they replace (ops/nnfunc.ts logSoftmax's rule, logsumexp):
//   y = x − (m + log Σ exp(x − m)),  m = max x (0 where it is ±∞),   gx = g − exp(y)·Σ g.

import type { FloatArray } from './alloc.ts';

/** y (dense, overwritten) = log_softmax(x) along n. */
export function logSoftmax(x: FloatArray, outer: number, n: number, inner: number, y: FloatArray): void {
  const m = new Float64Array(inner), s = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    m.fill(-Infinity);
    s.fill(0);
    for (let k = 0, p = base; k < n; k++) for (let i = 0; i < inner; i++, p++) m[i] = Math.max(m[i], x[p]); // NaN propagates
    for (let i = 0; i < inner; i++) if (m[i] === Infinity || m[i] === -Infinity) m[i] = 0;
    for (let k = 0, p = base; k < n; k++) for (let i = 0; i < inner; i++, p++) s[i] += Math.exp(x[p] - m[i]);
    for (let i = 0; i < inner; i++) s[i] = Math.log(s[i]) + m[i]; // log Σ exp
    for (let k = 0, p = base; k < n; k++) for (let i = 0; i < inner; i++, p++) y[p] = x[p] - s[i];
  }
}

/** gx (dense, overwritten) = g − exp(y)·Σ_n g, the gradient of log_softmax from its output y. */
export function logSoftmaxBackward(g: FloatArray, y: FloatArray, outer: number, n: number, inner: number, gx: FloatArray): void {
  const s = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    s.fill(0);
    for (let k = 0, p = base; k < n; k++) for (let i = 0; i < inner; i++, p++) s[i] += g[p];
    for (let k = 0, p = base; k < n; k++) for (let i = 0; i < inner; i++, p++) gx[p] = g[p] - Math.exp(y[p]) * s[i];
  }
}

// Fused log-softmax kernels over dense (outer, n, inner) data, the softmax dim being n: the forward
// in three streaming passes (max, Σ exp, output) and the input gradient in two, per-line sums in
// float64; plain line loops when the dim is the last (inner = 1). Same formula as the composed ops they replace (ops/nnfunc.ts logSoftmax's rule, logsumexp):
//   y = x − (m + log Σ exp(x − m)),  m = max x (0 where it is ±∞),   gx = g − exp(y)·Σ g.

import type { FloatArray } from './alloc.ts';

/** y (dense, overwritten) = log_softmax(x) along n. */
export function logSoftmax(x: FloatArray, outer: number, n: number, inner: number, y: FloatArray): void {
  if (inner === 1) {
    logSoftmaxLines(x, outer, n, y);
    return;
  }
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

/** logSoftmax when the softmax dim is the last (inner = 1): one contiguous line of n per outer index. */
function logSoftmaxLines(x: FloatArray, outer: number, n: number, y: FloatArray): void {
  for (let o = 0, base = 0; o < outer; o++, base += n) {
    let m = -Infinity, s = 0;
    for (let p = base; p < base + n; p++) m = Math.max(m, x[p]);
    if (m === Infinity || m === -Infinity) m = 0;
    for (let p = base; p < base + n; p++) s += Math.exp(x[p] - m);
    const lse = Math.log(s) + m;
    for (let p = base; p < base + n; p++) y[p] = x[p] - lse;
  }
}

/** gx (dense, overwritten) = g − exp(y)·Σ_n g, the gradient of log_softmax from its output y. */
export function logSoftmaxBackward(g: FloatArray, y: FloatArray, outer: number, n: number, inner: number, gx: FloatArray): void {
  if (inner === 1) {
    for (let o = 0, base = 0; o < outer; o++, base += n) {
      let s = 0;
      for (let p = base; p < base + n; p++) s += g[p];
      for (let p = base; p < base + n; p++) gx[p] = g[p] - Math.exp(y[p]) * s;
    }
    return;
  }
  const s = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    s.fill(0);
    for (let k = 0, p = base; k < n; k++) for (let i = 0; i < inner; i++, p++) s[i] += g[p];
    for (let k = 0, p = base; k < n; k++) for (let i = 0; i < inner; i++, p++) gx[p] = g[p] - Math.exp(y[p]) * s[i];
  }
}

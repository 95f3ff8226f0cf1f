// Fused batch-norm kernels over (N, C, L) data (L = H·W): one pass for the statistics, one for the
// output; the backward pass needs two sums per channel and one more pass. The composed reference
// (ops/nnfunc.ts, batchNormComposed) is what these are tested against and what double backward uses.
// On float32 data the elementwise passes run in WebAssembly SIMD with the same bits (wasm/norm-simd.ts).

import { alloc, type FloatArray } from './alloc.ts';
import { affineF32, normSimdOn, stageBackwardF32 } from './wasm/norm-simd.ts';

/** Per-channel statistics: float64 when computed here, the running stats' dtype in eval mode. */
export interface BnStats {
  mean: FloatArray;
  invstd: FloatArray;
}

/** Per-channel batch mean and 1/sqrt(biased var + eps) of x (N, C, L); two-pass for accuracy. */
export function bnStats(x: FloatArray, N: number, C: number, L: number, eps: number): BnStats {
  const mean = new Float64Array(C),
    invstd = new Float64Array(C),
    M = N * L;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = (n * C + c) * L, e = i + L; i < e; i++) s += x[i];
    const m = s / M;
    let v = 0;
    for (let n = 0; n < N; n++)
      for (let i = (n * C + c) * L, e = i + L; i < e; i++) {
        const d = x[i] - m;
        v += d * d;
      }
    mean[c] = m;
    invstd[c] = 1 / Math.sqrt(v / M + eps);
  }
  return { mean, invstd };
}

/** y = (x − mean)·invstd·w + b per channel; w and b may be null (1 and 0); with `relu`, relu(y). */
export function bnForward(x: FloatArray, N: number, C: number, L: number, s: BnStats, w: FloatArray | null, b: FloatArray | null, relu = false): FloatArray {
  const y: FloatArray = x instanceof Float64Array ? alloc('float64', x.length) : alloc('float32', x.length);
  if (x instanceof Float32Array && y instanceof Float32Array && normSimdOn(x.length)) {
    const scale = new Float64Array(C),
      shift = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      scale[c] = s.invstd[c] * (w ? w[c] : 1);
      shift[c] = (b ? b[c] : 0) - s.mean[c] * scale[c];
    }
    affineF32(x, y, N, C, L, scale, shift, relu);
    return y;
  }
  for (let c = 0; c < C; c++) {
    const scale = s.invstd[c] * (w ? w[c] : 1),
      shift = (b ? b[c] : 0) - s.mean[c] * scale;
    if (!relu) for (let n = 0; n < N; n++) for (let i = (n * C + c) * L, e = i + L; i < e; i++) y[i] = x[i] * scale + shift;
    else {
      for (let n = 0; n < N; n++)
        for (let i = (n * C + c) * L, e = i + L; i < e; i++) {
          const v = x[i] * scale + shift; // then relu branch-free, as cpu/elementwise.ts's (the test only fires for −∞ and NaN)
          const t = v * +(v > 0) + 0;
          y[i] = t === t ? t : v === v ? 0 : v;
        }
    }
  }
  return y;
}

/** out = g where y > 0, else 0 (relu's backward, branch-free as cpu/elementwise.ts's reluBackward); returns out. */
function reluMask(g: FloatArray, y: FloatArray, out: FloatArray): FloatArray {
  for (let i = 0; i < g.length; i++) {
    const a = g[i],
      t = a * +(y[i] > 0) + 0;
    out[i] = t === t ? t : y[i] > 0 ? a : 0;
  }
  return out;
}

/**
 * Gradients of bnForward (of relu ∘ bnForward with `reluOut`, the forward's output). With batch statistics (training):
 *   gx = w·invstd/M · (M·g − Σg − x̂·Σ(g·x̂)),  x̂ = (x − mean)·invstd;
 * with fixed statistics (eval): gx = g·w·invstd. Always gw = Σ(g·x̂), gb = Σg.
 */
export function bnBackward(
  g: FloatArray,
  x: FloatArray,
  N: number,
  C: number,
  L: number,
  s: BnStats,
  w: FloatArray | null,
  training: boolean,
  reluOut: FloatArray | null = null,
) {
  const gx: FloatArray = x instanceof Float64Array ? alloc('float64', x.length) : alloc('float32', x.length);
  const f32 = g instanceof Float32Array && x instanceof Float32Array && (reluOut === null || reluOut instanceof Float32Array);
  const simd = training && f32 && normSimdOn(x.length) ? stageBackwardF32(g as Float32Array, x as Float32Array, reluOut as Float32Array | null, N, C) : null;
  if (simd) {
    g = simd.g; // masked there when reluOut is given
    x = simd.x;
  } else if (reluOut) g = reluMask(g, reluOut, gx); // the fused ReLU's gradient first, into gx (overwritten below)
  const gw = new Float64Array(C),
    gb = new Float64Array(C),
    M = N * L;
  for (let c = 0; c < C; c++) {
    const m = s.mean[c],
      is = s.invstd[c];
    let sg = 0,
      sgx = 0;
    for (let n = 0; n < N; n++)
      for (let i = (n * C + c) * L, e = i + L; i < e; i++) {
        sg += g[i];
        sgx += g[i] * (x[i] - m) * is;
      }
    gb[c] = sg;
    gw[c] = sgx;
    const k = (w ? w[c] : 1) * is;
    if (training) {
      const a = sg / M,
        bq = sgx / M;
      if (simd) simd.tab.set([k, a, m, is, bq], 5 * c);
      else for (let n = 0; n < N; n++) for (let i = (n * C + c) * L, e = i + L; i < e; i++) gx[i] = k * (g[i] - a - (x[i] - m) * is * bq);
    } else for (let n = 0; n < N; n++) for (let i = (n * C + c) * L, e = i + L; i < e; i++) gx[i] = k * g[i];
  }
  simd?.grad(gx as Float32Array);
  return { gx, gw, gb };
}

// Fused batch-norm kernels over (N, C, L) data (L = H·W): one pass for the statistics, one for the
// output; the backward pass needs two sums per channel and one more pass. The composed reference
// (ops/nnfunc.ts, batchNormComposed) is what these are tested against and what double backward uses.
// On float32 data the elementwise passes and the per-channel sums run in WebAssembly SIMD with the
// same bits (wasm/norm-simd.ts, wasm/norm-sums-simd.ts).

import { allocOut, type FloatArray } from './alloc.ts';
import { affineF32, normSimdOn, stageBackwardF32, statsSumsF32 } from './wasm/norm-simd.ts';

/** Per-channel statistics: float64 when computed here, the running stats' dtype in eval mode. */
export interface BnStats {
  mean: FloatArray;
  invstd: FloatArray;
}

/**
 * Per-channel batch mean and 1/sqrt(biased var + eps) of x (N, C, L); two-pass for accuracy. Channels
 * go in pairs (c, c1 = c + 1, or c again for an odd last one): two independent sequential sums, the
 * same bits as one channel at a time, at nearly twice the speed (a float64 add chain is latency-bound).
 * Float32 data takes the same sums in WebAssembly SIMD, eight channels at a time (wasm/norm-sums-simd.ts).
 */
export function bnStats(x: FloatArray, N: number, C: number, L: number, eps: number): BnStats {
  const M = N * L;
  if (x instanceof Float32Array && normSimdOn(x.length)) {
    const { mean, sq } = statsSumsF32(x, N, C, L),
      invstd = new Float64Array(C);
    for (let c = 0; c < C; c++) invstd[c] = 1 / Math.sqrt(sq[c]! / M + eps);
    return { mean, invstd };
  }
  const mean = new Float64Array(C),
    invstd = new Float64Array(C);
  for (let c = 0; c < C; c += 2) {
    const d1 = (Math.min(c + 1, C - 1) - c) * L; // channel c1's element i is at i + d1
    let s0 = 0,
      s1 = 0;
    for (let n = 0; n < N; n++)
      for (let i = (n * C + c) * L, e = i + L; i < e; i++) {
        s0 += x[i];
        s1 += x[i + d1];
      }
    const m0 = s0 / M,
      m1 = s1 / M;
    let v0 = 0,
      v1 = 0;
    for (let n = 0; n < N; n++)
      for (let i = (n * C + c) * L, e = i + L; i < e; i++) {
        const a = x[i] - m0,
          b = x[i + d1] - m1;
        v0 += a * a;
        v1 += b * b;
      }
    mean[c] = m0;
    invstd[c] = 1 / Math.sqrt(v0 / M + eps);
    if (c + 1 < C) {
      mean[c + 1] = m1;
      invstd[c + 1] = 1 / Math.sqrt(v1 / M + eps);
    }
  }
  return { mean, invstd };
}

/** y = (x − mean)·invstd·w + b per channel; w and b may be null (1 and 0); with `relu`, relu(y). */
export function bnForward(x: FloatArray, N: number, C: number, L: number, s: BnStats, w: FloatArray | null, b: FloatArray | null, relu = false): FloatArray {
  const y: FloatArray = x instanceof Float64Array ? allocOut('float64', x.length) : allocOut('float32', x.length); // written whole below
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
  const gx: FloatArray = x instanceof Float64Array ? allocOut('float64', x.length) : allocOut('float32', x.length); // written whole below
  const f32 = g instanceof Float32Array && x instanceof Float32Array && (reluOut === null || reluOut instanceof Float32Array);
  const simd = training && f32 && normSimdOn(x.length) ? stageBackwardF32(g as Float32Array, x as Float32Array, reluOut as Float32Array | null, N, C) : null;
  if (!simd && reluOut) g = reluMask(g, reluOut, gx); // the fused ReLU's gradient first, into gx (overwritten below)
  const { gw, gb } = simd ? simd.sums(s.mean, s.invstd) : { gw: new Float64Array(C), gb: new Float64Array(C) },
    M = N * L;
  // gb = Σg, gw = Σg·x̂, channels in pairs as in bnStats (simd.sums took them above)
  if (!simd)
    for (let c = 0; c < C; c += 2) {
      const c1 = Math.min(c + 1, C - 1),
        d1 = (c1 - c) * L;
      const m0 = s.mean[c],
        is0 = s.invstd[c],
        m1 = s.mean[c1],
        is1 = s.invstd[c1];
      let sg0 = 0,
        sgx0 = 0,
        sg1 = 0,
        sgx1 = 0;
      for (let n = 0; n < N; n++)
        for (let i = (n * C + c) * L, e = i + L; i < e; i++) {
          sg0 += g[i];
          sgx0 += g[i] * (x[i] - m0) * is0;
          sg1 += g[i + d1];
          sgx1 += g[i + d1] * (x[i + d1] - m1) * is1;
        }
      gb[c] = sg0;
      gw[c] = sgx0;
      gb[c1] = sg1;
      gw[c1] = sgx1;
    }
  for (let c = 0; c < C; c++) {
    const m = s.mean[c],
      is = s.invstd[c],
      sg = gb[c],
      sgx = gw[c];
    const k = (w ? w[c] : 1) * is;
    if (training) {
      const a = sg / M,
        bq = sgx / M;
      if (simd) {
        const t = simd.tab; // (C, 5): k, a, m, is, bq per channel (element stores: no array per channel)
        (t[5 * c] = k), (t[5 * c + 1] = a), (t[5 * c + 2] = m), (t[5 * c + 3] = is), (t[5 * c + 4] = bq);
      } else for (let n = 0; n < N; n++) for (let i = (n * C + c) * L, e = i + L; i < e; i++) gx[i] = k * (g[i] - a - (x[i] - m) * is * bq);
    } else for (let n = 0; n < N; n++) for (let i = (n * C + c) * L, e = i + L; i < e; i++) gx[i] = k * g[i];
  }
  simd?.grad(gx as Float32Array);
  return { gx, gw, gb };
}

/**
 * Running stats in place: running = (1 − momentum)·running + momentum·batch, the unbiased variance
 * recovered from invstd = 1/sqrt(var + eps) as (invstd⁻² − eps)·M/(M − 1). The rounding of the
 * composed ops (ops/nnfunc.ts) in one loop: the same bits.
 */
export function bnRunningStats(rm: FloatArray, rv: FloatArray, s: BnStats, eps: number, M: number, momentum: number): void {
  const round = rm instanceof Float32Array ? Math.fround : (v: number) => v;
  const keep = round(1 - momentum);
  for (let c = 0; c < rm.length; c++) {
    const unbiased = ((s.invstd[c] * s.invstd[c]) ** -1 - eps) * (M / (M - 1)); // ** is Math.pow, as binary pow
    rm[c] = round(rm[c] * keep) + s.mean[c] * momentum;
    rv[c] = round(rv[c] * keep) + unbiased * momentum;
  }
}

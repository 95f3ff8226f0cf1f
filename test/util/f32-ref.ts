// Float32 references for the contract of the WebAssembly SIMD GEMM kernels (backend/cpu/wasm/gemm-simd.ts):
// each C element is a sequential float32 chain over k, either of float32-rounded products then sums
// (mul+add) or of fused multiply-adds (fma: one rounding per step). fmaF32 is the correctly rounded
// float32 a * b + c, computed in float64 with the rounding error of the sum kept (TwoSum), since
// Math.fround(a * b + c) can round twice to a different result.

import type { MatView } from '../../packages/tensor/src/backend/cpu/gemm.ts';

const f32 = new Float32Array(1),
  u32 = new Uint32Array(f32.buffer);

/** The float32 next to the nonzero float32 r, upwards (towards +inf) or downwards. */
function nextF32(r: number, up: boolean): number {
  f32[0] = r;
  u32[0] += r > 0 === up ? 1 : -1;
  return f32[0];
}

/** Correctly rounded float32 a * b + c for float32 a, b, c (finite, no overflow or subnormal results). */
export function fmaF32(a: number, b: number, c: number): number {
  const p = a * b; // exact: 24 + 24 bits fit in float64's 53
  const s = p + c;
  const z = s - p,
    e = p - (s - z) + (c - z); // TwoSum: s + e = p + c exactly
  const r = Math.fround(s);
  if (e === 0 || r === s || r === 0) return r; // s is exact, or a float32 that s + e rounds to as well
  // s is strictly between two float32s; only at their midpoint does the dropped e decide.
  const r2 = nextF32(r, s > r);
  if ((r + r2) / 2 !== s) return r;
  return e > 0 ? Math.max(r, r2) : Math.min(r, r2);
}

/** Each element the sequential float32 chain over k: acc = fl(acc + fl(a b)) (mul+add) or acc = fma(a, b, acc) (fma). */
export function bmmF32Sequential(batch: number, M: number, N: number, K: number, a: MatView, b: MatView, out: Float32Array, fma: boolean): void {
  for (let bt = 0; bt < batch; bt++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const x = a.data[a.offset + bt * a.batchStride + i * a.rowStride + k * a.colStride]!;
          const y = b.data[b.offset + bt * b.batchStride + k * b.rowStride + j * b.colStride]!;
          acc = fma ? fmaF32(x, y, acc) : Math.fround(acc + Math.fround(x * y));
        }
        out[(bt * M + i) * N + j] = acc;
      }
}

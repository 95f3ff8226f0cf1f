// A tiny seeded generator for kernel tests that need many reproducible floats fast (a 32-bit LCG,
// Numerical Recipes' constants): n values in [-1, 1), the same for a seed on every run and engine.

/** n float32 values in [-1, 1) from the LCG seeded with `seed`. */
export function lcgFloats(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

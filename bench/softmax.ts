// Micro benchmark of the float32 log-softmax over (N, C, H, W), softmax over C: the WebAssembly SIMD
// kernels (backend/cpu/wasm/softmax-simd.ts, copies in and out included) against the JS column and
// plane loops of backend/cpu/softmax.ts: the forward with the probabilities p (training) and without,
// and the backward gx = g − p·Σg. Prints the
// median of 15 timed runs after 3 warm-ups per row, in ms and ns per element. A benchmark, not a test:
//   npx tsx bench/softmax.ts [N,C,H,W ...]    (default 8,11,64,64 8,4,96,96 8,64,96,96)

import {
  logSoftmax,
  logSoftmaxBackward,
  logSoftmaxBackwardColumns,
  logSoftmaxBackwardPlanes,
  logSoftmaxColumns,
  logSoftmaxPlanes,
} from '../packages/tensor/src/backend/cpu/softmax.ts';
import { softmaxOptions } from '../packages/tensor/src/backend/cpu/wasm/softmax-simd.ts';

type Kernel = (x: Float32Array, outer: number, n: number, inner: number, y: Float32Array, p: Float32Array | null) => void;
const kernels: [string, Kernel][] = [
  ['simd', (...a) => logSoftmax(...a)],
  ['js columns', (...a) => logSoftmaxColumns(...a)],
  ['js planes', (...a) => logSoftmaxPlanes(...a)],
];

type Backward = (g: Float32Array, p: Float32Array, outer: number, n: number, inner: number, gx: Float32Array) => void;
const backwards: [string, Backward][] = [
  ['simd', (...a) => logSoftmaxBackward(...a)],
  ['js columns', (...a) => logSoftmaxBackwardColumns(...a)],
  ['js planes', (...a) => logSoftmaxBackwardPlanes(...a)],
];

/** Median ms of 15 runs of f after 3 warm-ups. */
function time(f: () => void): number {
  const t: number[] = [];
  for (let r = 0; r < 18; r++) {
    const t0 = performance.now();
    f();
    if (r >= 3) t.push(performance.now() - t0);
  }
  return median(t);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const shapes = (process.argv.length > 2 ? process.argv.slice(2) : ['8,11,64,64', '8,4,96,96', '8,64,96,96']).map((s) => s.split(',').map(Number));
softmaxOptions.simd = true;
for (const [N, C, H, W] of shapes as [number, number, number, number][]) {
  const size = N * C * H * W,
    x = new Float32Array(size),
    y = new Float32Array(size),
    p = new Float32Array(size);
  let s = 12345;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32 - 0.5) * 8;
  }
  const row = (what: string, name: string, ms: number) =>
    console.log(`[${N}, ${C}, ${H}, ${W}] ${what} ${name.padEnd(10)} ${ms.toFixed(2).padStart(7)} ms ${((ms * 1e6) / size).toFixed(2).padStart(6)} ns/elem`);
  for (const withP of [true, false])
    for (const [name, k] of kernels)
      row(
        withP ? 'y+p' : 'y  ',
        name,
        time(() => k(x, N, C, H * W, y, withP ? p : null)),
      );
  logSoftmax(x, N, C, H * W, y, p);
  for (const [name, k] of backwards)
    row(
      'gx ',
      name,
      time(() => k(x, p, N, C, H * W, y)),
    );
}

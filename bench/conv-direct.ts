// The direct stride-1 conv kernel (backend/cpu/conv-direct.ts) against the implicit-im2col GEMM path,
// per shape: the forward and the input gradient of the stride-1 3x3 (and 1x1) convs of the LAD teacher
// at 48x48 and 96x96 (bench/_convshapes.ts lists them) and of the tiny-CNN bench row. The two paths run
// interleaved, REPS times each; medians in ms and GFLOP/s. The numbers behind conv-direct.ts's routing rule.
// Usage: `THREADS=2 REPS=15 npx tsx bench/conv-direct.ts [filter]` (filter: a substring of the shape label).

import { setNumThreads } from '@lad/tensor';
import * as cv from '../packages/tensor/src/backend/cpu/conv.ts';
import { directTuning } from '../packages/tensor/src/backend/cpu/conv-direct.ts';

setNumThreads(Number(process.env.THREADS ?? 2));
const REPS = Number(process.env.REPS ?? 15),
  filter = process.argv[2] ?? '';

type G = cv.Conv2dGeom;
function geom(N: number, C: number, H: number, O: number, k: number, d: number, p: number): G {
  const OH = H + 2 * p - d * (k - 1);
  return { N, C, H, W: H, O, kH: k, kW: k, sH: 1, sW: 1, pH: p, pW: p, dH: d, dW: d, groups: 1, OH, OW: OH };
}
function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

// [N, C, H, O, k, dilation, padding]: forward shapes; the input gradient of each runs as a forward with C and O swapped.
const shapes: [number, number, number, number, number, number, number][] = [
  [8, 64, 12, 64, 3, 4, 4],
  [8, 32, 12, 32, 3, 2, 2],
  [8, 32, 12, 64, 3, 2, 2],
  [8, 32, 12, 32, 3, 1, 1],
  [8, 16, 12, 16, 3, 1, 1],
  [8, 16, 12, 32, 3, 1, 1],
  [8, 32, 12, 8, 3, 1, 1],
  [8, 8, 48, 8, 3, 1, 1],
  [8, 8, 48, 16, 3, 1, 1],
  [8, 16, 24, 8, 3, 1, 1],
  [8, 8, 24, 8, 3, 1, 1],
  [8, 8, 24, 16, 3, 1, 1],
  [8, 8, 12, 8, 3, 1, 1],
  [8, 16, 12, 8, 3, 1, 1],
  [8, 64, 6, 64, 3, 4, 4],
  [8, 32, 6, 32, 3, 2, 2],
  [8, 32, 6, 64, 3, 2, 2],
  [8, 32, 6, 32, 3, 1, 1],
  [8, 16, 6, 16, 3, 1, 1],
  [8, 16, 6, 32, 3, 1, 1],
  [8, 32, 64, 32, 3, 1, 1], // the tiny-CNN bench row
  [8, 160, 12, 32, 1, 1, 0],
  [8, 32, 12, 64, 1, 1, 0],
  [8, 64, 12, 32, 1, 1, 0],
  [8, 16, 12, 32, 1, 1, 0],
  // beyond the LAD model: wide layers, odd and small widths, a 3-channel input
  [2, 256, 14, 256, 3, 1, 1],
  [2, 128, 28, 128, 3, 1, 1],
  [2, 64, 56, 64, 3, 1, 1],
  [2, 3, 64, 16, 3, 1, 1],
  [8, 64, 7, 64, 3, 1, 1],
  [8, 32, 5, 32, 3, 1, 1],
  [8, 64, 4, 64, 3, 1, 1],
  [8, 128, 6, 128, 3, 1, 1],
  [8, 16, 9, 16, 3, 1, 1],
  [2, 16, 33, 16, 5, 1, 2],
];

console.log(`threads ${process.env.THREADS ?? 2}, ${REPS} reps, medians: ms gemm, ms direct, GFLOP/s gemm -> direct, speed-up`);
for (const [N, C, H, O, k, d, p] of shapes) {
  for (const [label, g] of [
    [`fwd  N${N} C${C} ${H}x${H} O${O} k${k} d${d} p${p}`, geom(N, C, H, O, k, d, p)],
    [`bwdI N${N} C${C} ${H}x${H} O${O} k${k} d${d} p${p}`, geom(N, O, H, C, k, d, (k - 1) * d - p)],
  ] as [string, G][]) {
    if (!label.includes(filter)) continue;
    const x = rand(g.N * g.C * g.H * g.W, 1),
      w = rand(g.O * g.C * g.kH * g.kW, 2),
      out = new Float32Array(g.N * g.O * g.OH * g.OW);
    const flop = 2 * g.N * g.O * g.C * g.kH * g.kW * g.OH * g.OW;
    const t: Record<'gemm' | 'direct', number[]> = { gemm: [], direct: [] };
    for (let r = -4; r < REPS; r++) {
      for (const mode of ['gemm', 'direct'] as const) {
        directTuning.mode = mode;
        const t0 = performance.now();
        cv.conv2dForward(x, w, null, g, out);
        if (r >= 0) t[mode].push(performance.now() - t0);
      }
    }
    const a = median(t.gemm),
      b = median(t.direct);
    console.log(
      `${label.padEnd(36)} ${a.toFixed(3).padStart(7)} ${b.toFixed(3).padStart(7)}  ${(flop / a / 1e6).toFixed(1).padStart(5)} -> ${(flop / b / 1e6).toFixed(1).padStart(5)}  x${(a / b).toFixed(2)}`,
    );
  }
}

// Micro benchmark of the float32 batch-norm kernels (backend/cpu/norm.ts) on the tiny CNN's shape
// [8, 32, 64, 64] and the LAD teacher's [8, 64, 48, 48]: median ms per call of bnStats, bnForward
// (with the fused ReLU) and bnBackward (training, ReLU mask). Run: nice -n -10 npx tsx bench/norm-kernels.ts
import { bnBackward, bnForward, bnStats } from '../packages/tensor/src/backend/cpu/norm.ts';

function data(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 31 - 1) * 3;
  }
  return a;
}

function median(f: () => void, reps: number): number {
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[reps >> 1]!;
}

const reps = Number(process.env.REPS ?? 31);
for (const [N, C, H, W] of [
  [8, 32, 64, 64],
  [8, 64, 48, 48],
]) {
  const L = H! * W!,
    n = N! * C! * L;
  const x = data(n, 1),
    g = data(n, 2),
    w = data(C!, 3),
    b = data(C!, 4);
  const s = bnStats(x, N!, C!, L, 1e-5);
  const y = bnForward(x, N!, C!, L, s, w, b, true);
  const ms = {
    stats: median(() => bnStats(x, N!, C!, L, 1e-5), reps),
    forward: median(() => bnForward(x, N!, C!, L, s, w, b, true), reps),
    backward: median(() => bnBackward(g, x, N!, C!, L, s, w, true, y), reps),
  };
  console.log(
    `[${N}, ${C}, ${H}, ${W}] median ms: stats ${ms.stats.toFixed(3)}  forward+relu ${ms.forward.toFixed(3)}  backward+relu ${ms.backward.toFixed(3)}`,
  );
}

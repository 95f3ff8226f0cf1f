// The direct conv kernel (backend/cpu/conv-direct.ts) against the implicit-im2col GEMM path.
// `shapes` (the default): per shape, the forward and the input gradient of the stride-1 3x3 (and 1x1)
// convs of the LAD teacher at 48x48 and 96x96 (bench/_convshapes.ts lists them), of the tiny-CNN bench
// row and a few others, then the forward and input gradient of the strided ones (`strided`: the LAD
// model's stride-2 convs at 96 and 48, a few others; only a 1x1's input gradient has a direct path); the two paths interleaved, REPS times each; medians in ms and GFLOP/s: the
// numbers behind conv-direct.ts's routing rule. `steps`: whole training steps (the LAD teacher at 48
// and 96, the tiny CNN of bench/cpu.ts), GEMM-only and routed steps interleaved, medians of wall time,
// CPU time (the robust one on a shared machine, with THREADS=1) and time inside the conv kernels.
// `weight`: the weight gradient (conv-wgrad.ts) of each shape, the same way; `wsteps`: the steps with only
// the weight gradient switched (GEMM -> routed), the other passes routed as usual.
// Usage: `THREADS=1 REPS=9 npx tsx bench/conv-direct.ts [shapes [filter] | weight [filter] | steps | wsteps]` (filter: a substring of the shape label).

import { Generator, type Tensor, batchNorm, conv2d, crossEntropy, manualSeed, noGrad, randint, randn, setNumThreads } from '@lad/tensor';
import { SGD } from '@lad/nn';
import { buildModel, resolveLabelScale, teacherLoss } from '@lad/lad';
import { QUICK } from '../packages/lad/src/presets.ts';
import { cpuBackend } from '../packages/tensor/src/backend/cpu/index.ts';
import * as cv from '../packages/tensor/src/backend/cpu/conv.ts';
import { lcgFloats } from '../test/util/lcg.ts';
import { directTuning } from '../packages/tensor/src/backend/cpu/conv-direct.ts';
import { wgradTuning } from '../packages/tensor/src/backend/cpu/conv-wgrad.ts';

setNumThreads(Number(process.env.THREADS ?? 2));
const REPS = Number(process.env.REPS ?? 9),
  weightOnly = process.argv[2] === 'wsteps',
  what = process.argv[2] ?? 'shapes',
  filter = process.argv[3] ?? '';

type G = cv.Conv2dGeom;
function geom(N: number, C: number, H: number, O: number, k: number, d: number, p: number, s = 1): G {
  const OH = Math.floor((H + 2 * p - d * (k - 1) - 1) / s) + 1;
  return { N, C, H, W: H, O, kH: k, kW: k, sH: s, sW: s, pH: p, pW: p, dH: d, dW: d, groups: 1, OH, OW: OH };
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
  [8, 64, 12, 128, 3, 1, 1],
  [8, 128, 12, 64, 3, 1, 1],
  [2, 16, 33, 16, 5, 1, 2],
];

// [..., stride]: strided forwards and weight gradients (the LAD model's stride-2 convs at 96 and 48, a few others)
const strided: [number, number, number, number, number, number, number, number][] = [
  [8, 4, 96, 8, 3, 1, 1, 2],
  [8, 8, 24, 16, 3, 1, 1, 2],
  [8, 8, 24, 16, 1, 1, 0, 2],
  [8, 4, 48, 8, 3, 1, 1, 2],
  [8, 8, 12, 16, 3, 1, 1, 2],
  [8, 8, 12, 16, 1, 1, 0, 2],
  [8, 3, 64, 32, 3, 1, 1, 2],
  [8, 32, 64, 64, 3, 1, 1, 2],
  [2, 64, 56, 128, 3, 1, 1, 2],
  [2, 128, 28, 256, 3, 1, 1, 2],
];

function shapeRows(): void {
  console.log(`threads ${process.env.THREADS ?? 2}, ${REPS} reps, medians: ms gemm, ms direct, GFLOP/s gemm -> direct, speed-up`);
  // [label, geometry, run as an input gradient (a strided one: conv2dBackwardInput; at stride 1 the forward it runs)]
  const rows: [string, G, boolean][] = [
    ...shapes.flatMap(([N, C, H, O, k, d, p]): [string, G, boolean][] => [
      [`fwd  N${N} C${C} ${H}x${H} O${O} k${k} d${d} p${p}`, geom(N, C, H, O, k, d, p), false],
      [`bwdI N${N} C${C} ${H}x${H} O${O} k${k} d${d} p${p}`, geom(N, O, H, C, k, d, (k - 1) * d - p), false],
    ]),
    ...strided.flatMap(([N, C, H, O, k, d, p, s]): [string, G, boolean][] => [
      [`fwd  N${N} C${C} ${H}x${H} O${O} k${k} d${d} p${p} s${s}`, geom(N, C, H, O, k, d, p, s), false],
      [`bwdI N${N} C${C} ${H}x${H} O${O} k${k} d${d} p${p} s${s}`, geom(N, C, H, O, k, d, p, s), true],
    ]),
  ];
  for (const [label, g, bwd] of rows) {
    if (!label.includes(filter)) continue;
    const nx = g.N * g.C * g.H * g.W,
      ny = g.N * g.O * g.OH * g.OW;
    const x = lcgFloats(bwd ? ny : nx, 1),
      w = lcgFloats(g.O * g.C * g.kH * g.kW, 2),
      out = new Float32Array(bwd ? nx : ny);
    const flop = 2 * g.N * g.O * g.C * g.kH * g.kW * g.OH * g.OW;
    const t: Record<'gemm' | 'direct', number[]> = { gemm: [], direct: [] };
    for (let r = -4; r < REPS; r++) {
      for (const mode of ['gemm', 'direct'] as const) {
        directTuning.mode = mode;
        const t0 = performance.now();
        if (bwd) cv.conv2dBackwardInput(x, w, g, out);
        else cv.conv2dForward(x, w, null, g, out);
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

/** `weight`: the weight gradient of each forward shape, GEMM and direct (conv-wgrad.ts) interleaved. */
function weightRows(): void {
  console.log(
    `threads ${process.env.THREADS ?? 2}, ${REPS} reps, weight gradient, medians: ms gemm, ms direct, GFLOP/s gemm -> direct, speed-up (wall, CPU time)`,
  );
  for (const [N, C, H, O, k, d, p, s] of [...shapes, ...strided]) {
    const label = `bwdW N${N} C${C} ${H}x${H} O${O} k${k} d${d} p${p}${s === undefined ? '' : ` s${s}`}`,
      g = geom(N, C, H, O, k, d, p, s);
    if (!label.includes(filter)) continue;
    const x = lcgFloats(g.N * g.C * g.H * g.W, 1),
      gy = lcgFloats(g.N * g.O * g.OH * g.OW, 2),
      gw = new Float32Array(g.O * g.C * g.kH * g.kW);
    const flop = 2 * g.N * g.O * g.C * g.kH * g.kW * g.OH * g.OW;
    const t = { gemm: [] as number[], direct: [] as number[] },
      cpu = { gemm: [] as number[], direct: [] as number[] };
    for (let r = -4; r < REPS; r++) {
      for (const mode of ['gemm', 'direct'] as const) {
        directTuning.mode = mode;
        const c0 = process.cpuUsage(),
          t0 = performance.now();
        cv.conv2dBackwardWeight(x, gy, g, gw);
        const c = process.cpuUsage(c0);
        if (r >= 0) t[mode].push(performance.now() - t0), cpu[mode].push((c.user + c.system) / 1000);
      }
    }
    const a = median(t.gemm),
      b = median(t.direct),
      ca = median(cpu.gemm),
      cb = median(cpu.direct);
    console.log(
      `${label.padEnd(36)} ${a.toFixed(3).padStart(7)} ${b.toFixed(3).padStart(7)}  ${(flop / a / 1e6).toFixed(1).padStart(5)} -> ${(flop / b / 1e6).toFixed(1).padStart(5)}  x${(a / b).toFixed(2)}  cpu x${(ca / cb).toFixed(2)}`,
    );
  }
}

/** Medians of `step` over REPS interleaved runs per path: wall, CPU (user + system, all threads) and conv kernel time, in ms. */
function abSteps(label: string, step: () => void): void {
  const be = cpuBackend as unknown as Record<string, (...a: unknown[]) => unknown>;
  let convMs = 0;
  for (const name of ['conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight']) {
    const orig = be[name]!.bind(be);
    be[name] = (...args: unknown[]) => {
      const t0 = performance.now(),
        r = orig(...args);
      convMs += performance.now() - t0;
      return r;
    };
  }
  const t = {
    gemm: { wall: [] as number[], cpu: [] as number[], conv: [] as number[] },
    auto: { wall: [] as number[], cpu: [] as number[], conv: [] as number[] },
  };
  for (let r = -2; r < REPS; r++)
    for (const mode of ['gemm', 'auto'] as const) {
      if (weightOnly)
        wgradTuning.mode = mode; // forwards and input gradients routed as usual
      else directTuning.mode = mode;
      convMs = 0;
      const c0 = process.cpuUsage(),
        t0 = performance.now();
      step();
      const wall = performance.now() - t0,
        c = process.cpuUsage(c0);
      if (r < 0) continue;
      t[mode].wall.push(wall);
      t[mode].cpu.push((c.user + c.system) / 1000);
      t[mode].conv.push(convMs);
    }
  const f = (k: 'wall' | 'cpu' | 'conv') => `${median(t.gemm[k]).toFixed(1)} -> ${median(t.auto[k]).toFixed(1)}`;
  console.log(`${label.padEnd(12)} wall ${f('wall')} ms, cpu ${f('cpu')} ms, conv kernels ${f('conv')} ms`);
}

function stepRows(): void {
  manualSeed(0);
  console.log(`threads ${process.env.THREADS ?? 2}, ${REPS} steps per path, interleaved, medians: GEMM only -> routed`);
  const K = 4;
  for (const size of [48, 96]) {
    const model = buildModel({ ...QUICK.model, numClasses: K }, { generator: new Generator(1) });
    const b = { images: randn([8, 3, size, size]), labels: randint(0, K, [8, size, size]) };
    const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const gen = new Generator(7),
      lad = resolveLabelScale(QUICK.lad, 1);
    abSteps(`teacher ${size}`, () => {
      teacherLoss(model, b, K, lad, gen).loss.backward();
      opt.step();
      opt.zeroGrad();
    });
  }
  // the tiny CNN of bench/cpu.ts: 4 x (3x3 conv 32, batch norm + ReLU) at 64x64, a 1x1 head of 11 classes
  const C = 32,
    classes = 11;
  const leaf = (t: Tensor) => t.requiresGrad_();
  const blocks = Array.from({ length: 4 }, (_, i) => {
    const cin = i === 0 ? 3 : C;
    return { w: leaf(randn([C, cin, 3, 3]).mul(Math.sqrt(2 / (cin * 9)))), gamma: leaf(randn([C]).mul(0.1).add(1)), beta: leaf(randn([C]).mul(0.1)) };
  });
  const headW = leaf(randn([classes, C, 1, 1]).mul(Math.sqrt(1 / C))),
    headB = leaf(randn([classes]).mul(0.1));
  const x = randn([8, 3, 64, 64]),
    target = randint(0, classes, [8, 64, 64]);
  const params = [...blocks.flatMap((b) => [b.w, b.gamma, b.beta]), headW, headB];
  abSteps('tiny CNN', () => {
    let h = x;
    for (const b of blocks) h = batchNorm(conv2d(h, b.w, null, { padding: 1 }), null, null, b.gamma, b.beta, { training: true, eps: 1e-5, activation: 'relu' });
    crossEntropy(conv2d(h, headW, headB), target).backward();
    noGrad(() => {
      for (const q of params) q.copy_(q.sub(q.grad!.mul(0.1))), q.zeroGrad();
    });
  });
}

if (what === 'steps' || what === 'wsteps') stepRows();
else if (what === 'weight') weightRows();
else shapeRows();

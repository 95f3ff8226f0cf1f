// CPU benchmark: @lad/tensor against TensorFlow.js 4.22 (tfjs-backend-wasm and tfjs-backend-cpu), in one run.
// Rows: float32 matmul N = 256, 512, 1024 (GFLOP/s = 2N³ / time); conv2d 3x3 pad 1, x [8, 32, 64, 64],
// w [32, 32, 3, 3], forward and forward + both gradients (ms); one SGD training step of a tiny segmentation CNN
// (4 x [conv3x3, batch norm on batch statistics, relu] at 32 channels (ours: batchNorm's fused activation 'relu'),
// 1x1 conv to 11 classes, pixel cross-entropy, input [8, 3, 64, 64], ≈5.6 GFLOP) (ms); the LAD teacher and student steps (bench/lad.ts, ours and
// PyTorch only). Each number is a median after a warmup run. Every library gets the same numbers in its native
// layout (ours NCHW, tfjs NHWC); a sanity check compares the training losses. PyTorch (2 and 1 threads) runs in
// the same window when python3 with torch is present (bench/torch.ts, bench/torch_bench.py). The header says
// which float32 GEMM kernel ran (fma or mul+add: LAD_FMA=0 runs the latter).
// Prints a table and writes bench/out/cpu.json. A benchmark, not a test: run `pnpm bench` at the repo root.

import os from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { Tensor, batchNorm, conv2d, crossEntropy, gemmKernel, getNumThreads, grad, manualSeed, matmul, noGrad, randint, randn, tidy } from '@lad/tensor';
import { LAD_ROWS, runLad, type LadResult, type LadRow } from './lad.ts';
import { TORCH_THREADS, exportTensors, findTorchPython, runTorch, writeManifest, type TorchResult } from './torch.ts';

type Lib = 'ours' | 'tfjs-wasm' | 'tfjs-cpu';
type Row = 'matmul256' | 'matmul512' | 'matmul1024' | 'conv2dForward' | 'conv2dForwardBackward' | 'trainStep';
interface Result {
  ms: number | null;
  minMs?: number;
  gflops?: number;
  runs?: number;
  cold?: boolean;
  skipped?: string;
  estimatedMs?: number;
  loss0?: number;
  loss1?: number;
  forwardMs?: number;
  backwardMs?: number;
  updateMs?: number;
}

const MATMUL_SIZES = [256, 512, 1024] as const;
const CONV_X = [8, 32, 64, 64],
  CONV_W = [32, 32, 3, 3]; // NCHW, OIHW
const NET = { N: 8, H: 64, W: 64, inC: 3, width: 32, depth: 4, classes: 11, lr: 0.1, eps: 1e-5 };
const TFJS_CPU_STEP_LIMIT_MS = 60_000;
const notes: string[] = [];
/** The float32 GEMM kernel ours runs: fma (f32x4.relaxed_madd, fused) or mul+add (LAD_FMA=0, or an engine without a fused relaxed_madd). */
const KERNEL = gemmKernel() === 'fma' ? 'fma (f32x4.relaxed_madd)' : gemmKernel();

// ---- timing -------------------------------------------------------------------------------------

/** Untimed runs before the timed ones: the first compiles and grows buffers, the second still runs partly unoptimised. */
const WARMUP = 2;

/**
 * Median wall time (ms) of `fn` over up to `reps` runs after WARMUP untimed runs. Runs stop once they have
 * taken `budgetMs` in all; a first run that alone exceeds the budget is returned as the only (cold) sample.
 * The minimum is kept too (in the JSON): on a shared machine it is the steadier figure.
 */
function time(fn: () => void, reps: number, budgetMs = 20_000): { ms: number; minMs: number; runs: number; cold: boolean } {
  let t0 = performance.now();
  fn();
  const warm = performance.now() - t0;
  if (warm > budgetMs) return { ms: warm, minMs: warm, runs: 1, cold: true };
  for (let i = 1; i < WARMUP; i++) fn();
  const samples: number[] = [];
  for (let spent = 0; samples.length < reps && (samples.length === 0 || spent < budgetMs); spent += samples[samples.length - 1]) {
    t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return { ms: median(samples), minMs: Math.min(...samples), runs: samples.length, cold: false };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// ---- shared inputs (drawn once with our seeded generator, handed to every library) -----------------

manualSeed(0);
const nchwToNhwc = (t: Tensor) => t.permute([0, 2, 3, 1]).data() as Float32Array; // (N, C, H, W) → (N, H, W, C)
const oihwToHwio = (t: Tensor) => t.permute([2, 3, 1, 0]).data() as Float32Array; // (O, I, kH, kW) → (kH, kW, I, O)

const mats = new Map(MATMUL_SIZES.map((n) => [n, [randn([n, n]), randn([n, n])] as const]));
const convIn = { x: randn(CONV_X), w: randn(CONV_W).mul(Math.sqrt(2 / (32 * 9))), gy: randn(CONV_X) };

/** The CNN's initial parameters in our layout; tfjs gets permuted copies of the same numbers. */
interface BlockInit {
  w: Tensor;
  gamma: Tensor;
  beta: Tensor;
}
interface NetInit {
  blocks: BlockInit[];
  headW: Tensor;
  headB: Tensor;
  x: Tensor;
  target: Tensor;
}
function makeNet(): NetInit {
  const { width: C, classes: K } = NET;
  const blocks = Array.from({ length: NET.depth }, (_, i) => {
    const cin = i === 0 ? NET.inC : C;
    return { w: randn([C, cin, 3, 3]).mul(Math.sqrt(2 / (cin * 9))), gamma: randn([C]).mul(0.1).add(1), beta: randn([C]).mul(0.1) };
  });
  return {
    blocks,
    headW: randn([K, C, 1, 1]).mul(Math.sqrt(1 / C)),
    headB: randn([K]).mul(0.1),
    x: randn([NET.N, NET.inC, NET.H, NET.W]),
    target: randint(0, K, [NET.N, NET.H, NET.W]),
  };
}
const net = makeNet();

/** The matmul, conv and CNN inputs for the PyTorch side (the LAD rows export their own). */
function exportForTorch(): Record<string, unknown> {
  const ops: Record<string, Tensor> = { 'conv.x': convIn.x, 'conv.w': convIn.w, 'conv.gy': convIn.gy };
  for (const [n, [a, b]] of mats) Object.assign(ops, { [`mm${n}.a`]: a, [`mm${n}.b`]: b });
  exportTensors('ops.safetensors', ops);
  const ps = [...net.blocks.flatMap((b) => [b.w, b.gamma, b.beta]), net.headW, net.headB];
  exportTensors('cnn.safetensors', { ...Object.fromEntries(ps.map((p, i) => [`p.${String(i).padStart(2, '0')}`, p])), x: net.x, target: net.target });
  return { matmul: MATMUL_SIZES, cnn: { depth: NET.depth, eps: NET.eps, lr: NET.lr } };
}

/** FLOPs of one training step: every conv forward, its weight gradient, and its input gradient except the first's. */
function stepFlops(): number {
  const px = NET.N * NET.H * NET.W;
  const convs = [...Array.from({ length: NET.depth }, (_, i) => (i === 0 ? NET.inC : NET.width) * NET.width * 9), NET.width * NET.classes];
  const fwd = convs.reduce((s, macs) => s + 2 * px * macs, 0);
  return 3 * fwd - 2 * px * convs[0];
}
const STEP_FLOPS = stepFlops();
const CONV_FLOPS = 2 * CONV_X[0] * CONV_X[2] * CONV_X[3] * CONV_W[0] * CONV_W[1] * 9; // forward; + both grads = 3x

// ---- @lad/tensor rows ---------------------------------------------------------------------------

function oursMatmul(n: number): Result {
  const [a, b] = mats.get(n as (typeof MATMUL_SIZES)[number])!;
  const t = time(() => void matmul(a, b), n >= 1024 ? 5 : 10);
  return { ...t, gflops: (2 * n ** 3) / (t.ms * 1e6) };
}

function oursConvForward(): Result {
  return time(() => void conv2d(convIn.x, convIn.w, null, { padding: 1 }), 5);
}

function oursConvForwardBackward(): Result {
  const x = convIn.x.detach().requiresGrad_(),
    w = convIn.w.detach().requiresGrad_();
  return time(() => void grad([conv2d(x, w, null, { padding: 1 })], [x, w], { gradOutputs: [convIn.gy] }), 5);
}

/** Leaf parameters with requiresGrad, cloned so that training leaves `net` untouched for tfjs. */
function oursParams() {
  const leaf = (t: Tensor) => t.clone().requiresGrad_();
  return { blocks: net.blocks.map((b) => ({ w: leaf(b.w), gamma: leaf(b.gamma), beta: leaf(b.beta) })), headW: leaf(net.headW), headB: leaf(net.headB) };
}
type OursParams = ReturnType<typeof oursParams>;

function oursForward(p: OursParams): Tensor {
  let h = net.x;
  for (const b of p.blocks)
    h = batchNorm(conv2d(h, b.w, null, { padding: 1 }), null, null, b.gamma, b.beta, { training: true, eps: NET.eps, activation: 'relu' });
  return crossEntropy(conv2d(h, p.headW, p.headB), net.target);
}

function oursTrainStep(): Result {
  const p = oursParams();
  const params = [...p.blocks.flatMap((b) => [b.w, b.gamma, b.beta]), p.headW, p.headB];
  const losses: number[] = [],
    split = { forward: [] as number[], backward: [] as number[], update: [] as number[] };
  const t = time(
    () =>
      tidy(() => {
        const t0 = performance.now();
        const loss = oursForward(p);
        const t1 = performance.now();
        loss.backward();
        const t2 = performance.now();
        noGrad(() => {
          for (const q of params) {
            q.copy_(q.sub(q.grad!.mul(NET.lr))); // p ← p − lr·grad
            q.zeroGrad();
          }
        });
        losses.push(loss.item());
        split.forward.push(t1 - t0), split.backward.push(t2 - t1), split.update.push(performance.now() - t2);
      }), // a step in tidy(), as trainModel runs one: its buffers back to the pool
    10,
    30_000,
  );
  const ms = (xs: number[]) => median(xs.length > WARMUP ? xs.slice(WARMUP) : xs); // timed steps only
  return {
    ...t,
    gflops: STEP_FLOPS / (t.ms * 1e6),
    loss0: losses[0],
    loss1: losses[1],
    forwardMs: ms(split.forward),
    backwardMs: ms(split.backward),
    updateMs: ms(split.update),
  };
}

// ---- TensorFlow.js rows (NHWC; functional API only: the Node bundle of tfjs-core has no chained ops) ----

/**
 * tfjs-core's Node entry (a CommonJS bundle) ships without gradient definitions; they exist only in its ES-module
 * tree, whose relative imports omit the ".js" extension that Node's ESM loader needs. A tiny resolve hook adds
 * it for files inside tfjs-core/dist; the kernel and gradient registries are global, so the CJS engine sees them.
 */
async function loadTfjsGradients(): Promise<void> {
  const hook = `export async function resolve(spec, ctx, next) {
    if (spec.startsWith('.') && !spec.endsWith('.js') && ctx.parentURL && ctx.parentURL.includes('/@tensorflow/tfjs-core/dist/')) {
      try { return await next(spec + '.js', ctx); } catch {}
    }
    return next(spec, ctx);
  }`;
  register('data:text/javascript,' + encodeURIComponent(hook));
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
}

/**
 * tfjs-backend-wasm has no Conv2DBackpropFilter kernel, so it cannot train a conv net as shipped. This stand-in
 * (benchmark only) computes it as one more convolution with the batch and channel axes swapped:
 * dW[i, j, c, o] = Σ_{n,h,w} x[n, s·h + i − p, s·w + j − p, c] · dy[n, h, w, o] = conv(xᵀ (C, H, W, N), dyᵀ (OH, OW, N, O))
 * with dilation = stride, then transposed back to (kH, kW, C, O).
 */
function registerWasmFilterGrad(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return void notes.push('tfjs-wasm: has a native Conv2DBackpropFilter kernel.');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) =>
      tf.tidy(() => {
        const x = inputs.x as tf.Tensor4D,
          dy = inputs.dy as tf.Tensor4D; // the engine passes its Tensors
        const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
        if (a.dataFormat !== 'NHWC') throw new Error('Conv2DBackpropFilter stand-in: NHWC only');
        const [kH, kW, C, O] = a.filterShape;
        const info = tf.backend_util.computeConv2DInfo(x.shape, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
        const { top, bottom, left, right } = info.padInfo;
        const r = tf.conv2d(
          tf.transpose(x, [3, 1, 2, 0]),
          tf.transpose(dy, [1, 2, 0, 3]),
          1,
          [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
          'NHWC',
          [info.strideHeight, info.strideWidth],
        ); // (C, ≥kH, ≥kW, O)
        return tf.transpose(tf.slice(r, [0, 0, 0, 0], [C, kH, kW, O]), [1, 2, 0, 3]); // (kH, kW, C, O)
      }),
  });
  notes.push(
    'tfjs-wasm: Conv2DBackpropFilter is missing in tfjs-backend-wasm 4.22; a stand-in kernel registered by this benchmark computes it as tf.conv2d on transposed inputs (XNNPACK).',
  );
}

function tfMatmul(n: number): Result {
  const [a0, b0] = mats.get(n as (typeof MATMUL_SIZES)[number])!;
  const a = tf.tensor2d(a0.data() as Float32Array, [n, n]),
    b = tf.tensor2d(b0.data() as Float32Array, [n, n]);
  const t = time(() => tf.tidy(() => void tf.matMul(a, b).dataSync()), n >= 1024 ? 5 : 10);
  tf.dispose([a, b]);
  return { ...t, gflops: (2 * n ** 3) / (t.ms * 1e6) };
}

function tfConvInputs() {
  const [N, C, H, W] = CONV_X,
    [O, I, kH, kW] = CONV_W;
  return {
    x: tf.tensor4d(nchwToNhwc(convIn.x), [N, H, W, C]),
    w: tf.tensor4d(oihwToHwio(convIn.w), [kH, kW, I, O]),
    gy: tf.tensor4d(nchwToNhwc(convIn.gy), [N, H, W, O]),
  };
}

function tfConvForward(): Result {
  const { x, w, gy } = tfConvInputs();
  const t = time(() => tf.tidy(() => void tf.conv2d(x, w, 1, 'same').dataSync()), 5);
  tf.dispose([x, w, gy]);
  return t;
}

function tfConvForwardBackward(): Result {
  const { x, w, gy } = tfConvInputs();
  const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'));
  const t = time(
    () =>
      tf.tidy(() => {
        const [gx, gw] = g([x, w], gy);
        gx.dataSync(), gw.dataSync();
      }),
    5,
  );
  tf.dispose([x, w, gy]);
  return t;
}

function tfParams() {
  const v = (t: Tensor, shape: number[], data = t.data() as Float32Array) => tf.variable(tf.tensor(data, shape));
  const { width: C, classes: K } = NET;
  return {
    blocks: net.blocks.map((b) => ({ w: v(b.w, [3, 3, b.w.shape[1], C], oihwToHwio(b.w)), gamma: v(b.gamma, [C]), beta: v(b.beta, [C]) })),
    headW: v(net.headW, [1, 1, C, K], oihwToHwio(net.headW)),
    headB: v(net.headB, [K]),
  };
}
type TfParams = ReturnType<typeof tfParams>;

function tfData() {
  return { x: tf.tensor4d(nchwToNhwc(net.x), [NET.N, NET.H, NET.W, NET.inC]), target: tf.tensor1d(net.target.data() as Int32Array, 'int32') };
}

function tfForward(p: TfParams, x: tf.Tensor4D, target: tf.Tensor1D): tf.Scalar {
  let h = x;
  for (const b of p.blocks) {
    const c = tf.conv2d(h, b.w as tf.Tensor4D, 1, 'same');
    const { mean, variance } = tf.moments(c, [0, 1, 2]); // batch statistics (biased variance)
    h = tf.relu(tf.batchNorm(c, mean, variance, b.beta, b.gamma, NET.eps)) as tf.Tensor4D;
  }
  const logits = tf.add(tf.conv2d(h, p.headW as tf.Tensor4D, 1, 'valid'), p.headB); // (N, H, W, K)
  return tf.losses.softmaxCrossEntropy(tf.oneHot(target, NET.classes), tf.reshape(logits, [-1, NET.classes])) as tf.Scalar; // mean over pixels
}

function tfTrainStep(): Result {
  const p = tfParams(),
    { x, target } = tfData(),
    opt = tf.train.sgd(NET.lr);
  const losses: number[] = [];
  const t = time(
    () => {
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tfForward(p, x, target));
        opt.applyGradients(grads); // p ← p − lr·grad
        return value;
      });
      losses.push(loss.dataSync()[0]);
      loss.dispose();
    },
    10,
    60_000,
  );
  opt.dispose();
  tf.dispose([x, target, ...p.blocks.flatMap((b) => [b.w, b.gamma, b.beta]), p.headW, p.headB]);
  return { ...t, gflops: STEP_FLOPS / (t.ms * 1e6), loss0: losses[0], loss1: losses[1] };
}

/** The step-0 loss alone (forward pass), for the sanity check where the step itself is too slow to time. */
function tfLoss0(): number {
  const p = tfParams(),
    { x, target } = tfData();
  const loss = tf.tidy(() => tfForward(p, x, target).dataSync()[0]);
  tf.dispose([x, target, ...p.blocks.flatMap((b) => [b.w, b.gamma, b.beta]), p.headW, p.headB]);
  return loss;
}

// ---- runs ---------------------------------------------------------------------------------------

type Results = Record<Row, Result>;

function runOurs(): Results {
  return {
    matmul256: oursMatmul(256),
    matmul512: oursMatmul(512),
    matmul1024: oursMatmul(1024),
    conv2dForward: oursConvForward(),
    conv2dForwardBackward: oursConvForwardBackward(),
    trainStep: oursTrainStep(),
  };
}

/** PyTorch's rows at `threads`, as Results (an absent row reads as skipped). */
function torchResults(torch: TorchResult | null, threads: number): Record<string, Result> {
  const r = torch?.threads[String(threads)] ?? {};
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v as Result]));
}

async function runTfjs(backend: 'wasm' | 'cpu'): Promise<Results> {
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' failed to initialise`);
  const r = {
    matmul256: tfMatmul(256),
    matmul512: tfMatmul(512),
    matmul1024: tfMatmul(1024),
    conv2dForward: tfConvForward(),
    conv2dForwardBackward: tfConvForwardBackward(),
  } as Results;
  // A step runs the 32→32 conv's forward + both gradients about STEP_FLOPS / (3·CONV_FLOPS) times over.
  const estimatedMs = r.conv2dForwardBackward.ms! * (STEP_FLOPS / (3 * CONV_FLOPS));
  if (backend === 'cpu' && estimatedMs > TFJS_CPU_STEP_LIMIT_MS) {
    const skipped = `estimated ${(estimatedMs / 1000).toFixed(0)} s per step (conv2d fwd+grads row scaled by FLOPs) > ${TFJS_CPU_STEP_LIMIT_MS / 1000} s limit`;
    r.trainStep = { ms: null, skipped, estimatedMs, loss0: tfLoss0() };
  } else r.trainStep = tfTrainStep();
  return r;
}

// ---- report -------------------------------------------------------------------------------------

const ROWS: [Row, string, 'gflops' | 'ms'][] = [
  ['matmul256', 'matmul 256 (GFLOP/s)', 'gflops'],
  ['matmul512', 'matmul 512 (GFLOP/s)', 'gflops'],
  ['matmul1024', 'matmul 1024 (GFLOP/s)', 'gflops'],
  ['conv2dForward', 'conv2d 3x3 fwd (ms)', 'ms'],
  ['conv2dForwardBackward', 'conv2d 3x3 fwd + grads (ms)', 'ms'],
  ['trainStep', 'CNN train step (ms)', 'ms'],
];

function cell(r: Result, unit: 'gflops' | 'ms'): string {
  if (r.ms === null) return 'skipped';
  const v = unit === 'gflops' ? r.gflops!.toFixed(1) : r.ms.toFixed(0);
  return r.cold ? `${v} (1 cold run)` : v;
}

/** Our time over PyTorch's (> 1: ours slower), the form of the targets. */
function slowdown(ours: Result, other: Result): string {
  return ours.ms === null || other.ms === null ? '-' : `${(ours.ms / other.ms).toFixed(2)}x`;
}

/** How many times faster ours is (> 1: ours faster). */
function speedup(ours: Result, other: Result, unit: 'gflops' | 'ms'): string {
  if (ours.ms === null || other.ms === null) return '-';
  return `${(unit === 'gflops' ? ours.gflops! / other.gflops! : other.ms / ours.ms).toFixed(2)}x`;
}

const SKIP: Result = { ms: null };

function table(res: Record<Lib, Results>, lad: Record<LadRow, LadResult>, torch2: Record<string, Result>, torch1: Record<string, Result>): string {
  const head = ['', 'ours', 'tfjs-wasm', 'tfjs-cpu', 'torch 2T', 'torch 1T', 'ours vs wasm', 'ours vs cpu', 'time ours/torch 2T'];
  const rows = ROWS.map(([k, label, unit]) => [
    label,
    cell(res.ours[k], unit),
    cell(res['tfjs-wasm'][k], unit),
    cell(res['tfjs-cpu'][k], unit),
    cell(torch2[k] ?? SKIP, unit),
    cell(torch1[k] ?? SKIP, unit),
    speedup(res.ours[k], res['tfjs-wasm'][k], unit),
    speedup(res.ours[k], res['tfjs-cpu'][k], unit),
    slowdown(res.ours[k], torch2[k] ?? SKIP),
  ]);
  for (const [k, label] of LAD_ROWS) {
    rows.push([
      label,
      cell(lad[k], 'ms'),
      '-',
      '-',
      cell(torch2[k] ?? SKIP, 'ms'),
      cell(torch1[k] ?? SKIP, 'ms'),
      '-',
      '-',
      slowdown(lad[k], torch2[k] ?? SKIP),
    ]);
  }
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

/** Our step-0 (and step-1, after one SGD update) losses against each competitor's, within 1e-3 relative. */
function checkLosses(res: Record<Lib, Results>, lad: Record<LadRow, LadResult>, torch2: Record<string, Result>): Record<string, unknown> {
  const ours = res.ours.trainStep,
    out: Record<string, unknown> = {};
  const others: Record<string, Record<string, Result>> = { 'tfjs-wasm': res['tfjs-wasm'], 'tfjs-cpu': res['tfjs-cpu'], torch: torch2 };
  const pairs: [string, string, Result, 'loss0' | 'loss1'][] = [];
  for (const lib of Object.keys(others)) for (const key of ['loss0', 'loss1'] as const) pairs.push([lib, 'trainStep', ours, key]);
  for (const [k] of LAD_ROWS) pairs.push(['torch', k, lad[k] as Result, 'loss0']);
  for (const [lib, row, mine, key] of pairs) {
    const a = mine[key],
      b = others[lib][row]?.[key];
    if (a === undefined || b === undefined) continue;
    const rel = Math.abs(a - b) / Math.abs(b),
      ok = rel <= 1e-3;
    out[`${lib}.${row}.${key}`] = { ours: a, [lib]: b, rel, ok };
    const line = `check ${row} ${key} (${key === 'loss0' ? 'initial weights' : 'after one SGD step'}) ours ${a.toFixed(6)} vs ${lib} ${b.toFixed(6)}: rel ${rel.toExponential(1)}`;
    console.log(ok ? `${line} ok` : `WARNING: ${line} > 1e-3: a bug in one of the libraries`);
  }
  return out;
}

/** Per row: how many times slower ours is than PyTorch (2 threads) and than tfjs-wasm (> 1: ours slower; GFLOP/s rows by time too). */
function ratios(
  res: Record<Lib, Results>,
  lad: Record<LadRow, LadResult>,
  torch2: Record<string, Result>,
): Record<string, { vsTorch2: number | null; vsTfjsWasm: number | null }> {
  const r = (a: Result | undefined, b: Result | undefined) => (a?.ms && b?.ms ? a.ms / b.ms : null);
  const out: Record<string, { vsTorch2: number | null; vsTfjsWasm: number | null }> = {};
  for (const [k] of ROWS) out[k] = { vsTorch2: r(res.ours[k], torch2[k]), vsTfjsWasm: r(res.ours[k], res['tfjs-wasm'][k]) };
  for (const [k] of LAD_ROWS) out[k] = { vsTorch2: r(lad[k] as Result, torch2[k]), vsTfjsWasm: null };
  return out;
}

async function main(): Promise<void> {
  const start = performance.now();
  await loadTfjsGradients();
  registerWasmFilterGrad();
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const loadStart = os.loadavg()[0];
  console.log(
    `node ${process.version}, ${cpu}, ${os.availableParallelism()} cores; ours uses ${getNumThreads()} threads, float32 GEMM kernel ${KERNEL}; load average ${loadStart.toFixed(2)}`,
  );
  if (loadStart > 0.5) console.log('WARNING: the machine is busy (1-min load average > 0.5): timings will be noisy, threaded ones most.');

  const res = {} as Record<Lib, Results>;
  res.ours = runOurs();
  const lad = runLad(time);
  console.log(`ours done (${((performance.now() - start) / 1000).toFixed(0)} s)`);
  writeManifest({ ...exportForTorch(), lad: lad.manifest });
  const py = findTorchPython();
  let torch: TorchResult | null = null;
  if (py.python === null) notes.push(`PyTorch column skipped: ${py.why}.`);
  else {
    torch = runTorch(py.python);
    if (torch)
      notes.push(
        `PyTorch ${torch.version} (${py.python}), torch.set_num_threads(${TORCH_THREADS.join(') and (')}); LAD rows: the same model from our weights (safetensors), inputs encoded by us.`,
      );
    console.log(`torch done (${((performance.now() - start) / 1000).toFixed(0)} s)`);
  }
  const torch2 = torchResults(torch, 2),
    torch1 = torchResults(torch, 1);
  res['tfjs-wasm'] = await runTfjs('wasm');
  const wasm = {
    simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    multithread: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
    threads: tfwasm.getThreadsCount(),
  };
  notes.push(
    `tfjs-wasm: SIMD ${wasm.simd ? 'on' : 'off'}, ${wasm.threads} thread(s) (tfjs 4.22 disables wasm threads in Node: tfjs#3830); wasm binaries found by the package's Node build, no setWasmPaths needed.`,
  );
  console.log(`tfjs-wasm done (${((performance.now() - start) / 1000).toFixed(0)} s)`);
  res['tfjs-cpu'] = await runTfjs('cpu');
  notes.push('tfjs-cpu: plain JavaScript, 1 thread.');
  if (res['tfjs-cpu'].trainStep.skipped)
    notes.push(`tfjs-cpu train step skipped: ${res['tfjs-cpu'].trainStep.skipped}; only its step-0 loss (forward) was computed, for the check.`);
  notes.push(
    `ours train step split (median): forward ${res.ours.trainStep.forwardMs!.toFixed(0)} ms, backward ${res.ours.trainStep.backwardMs!.toFixed(0)} ms, SGD update ${res.ours.trainStep.updateMs!.toFixed(0)} ms; ${res.ours.trainStep.gflops!.toFixed(1)} GFLOP/s effective (${(STEP_FLOPS / 1e9).toFixed(2)} GFLOP per step).`,
  );
  notes.push(
    'Layouts: ours NCHW, tfjs NHWC (its native layout), same numbers. "ours vs X" = how many times faster ours is (> 1: ours faster); "time ours/torch 2T" = our time over PyTorch\'s at 2 threads (> 1: ours slower).',
  );

  console.log('\n' + table(res, lad.results, torch2, torch1) + '\n');
  for (const n of notes) console.log(`- ${n}`);
  const check = checkLosses(res, lad.results, torch2);
  const totalSeconds = (performance.now() - start) / 1000,
    loadEnd = os.loadavg()[0];
  console.log(
    `total ${totalSeconds.toFixed(0)} s; load average at start ${loadStart.toFixed(2)}, at end ${loadEnd.toFixed(2)} (this run itself adds up to ~1-2)`,
  );

  const json = {
    ...res.ours,
    ...lad.results,
    'tfjs-wasm': res['tfjs-wasm'],
    'tfjs-cpu': res['tfjs-cpu'],
    torch: torch2,
    'torch-1thread': torch1,
    ratios: ratios(res, lad.results, torch2),
    meta: {
      node: process.version,
      cpu,
      cores: os.availableParallelism(),
      threads: { ours: getNumThreads(), 'tfjs-wasm': wasm.threads, 'tfjs-cpu': 1 },
      gemmKernel: gemmKernel(),
      wasm,
      tfjs: tf.version_core,
      loadAverage: { start: loadStart, end: loadEnd },
      date: new Date().toISOString(),
      totalSeconds,
    },
    check,
    notes,
  };
  const dir = new URL('./out/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('cpu.json', dir), JSON.stringify(json, null, 2) + '\n');
  console.log('wrote bench/out/cpu.json');
  process.exit(0); // our worker threads are unref'd, but the wasm runtime may keep handles open
}

await main();

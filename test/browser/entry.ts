// Browser entry of the GPU-backend browser test (bundled by test/browser/run.ts, run in headless
// Chromium): for each gpu.js mode a real browser has (webgl2, webgpu), a few ops and one backward
// pass run on the GPU backend and on the CPU backend in the same page, and every result is compared
// within 1e-4 (absolute + relative). Each result is POSTed to the test server as one JSON event.
// Written against the ES2022 lib (the repo's tsconfig has no DOM types): browser globals are typed here.

import {
  Tensor,
  avgPool2d,
  conv2d,
  crossEntropy,
  disposeBackend,
  exp,
  initBackend,
  interpolate,
  manualSeed,
  matmul,
  maxPool2d,
  pad,
  randint,
  randn,
  relu,
  sgdUpdate_,
  softmax,
  type GpuInfo,
  type GpuMode,
} from '@lad/tensor';

interface GpuAdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
}
interface Browser {
  fetch(url: string, init: { method: string; body: string; keepalive?: boolean }): Promise<unknown>;
  navigator: { userAgent: string; gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } };
  addEventListener(type: string, fn: (e: { message?: string; error?: unknown; reason?: unknown }) => void): void;
}
const win = globalThis as unknown as Browser;

export type Event =
  | { type: 'info'; msg: string }
  | { type: 'mode'; mode: string; ok: boolean; msg: string }
  | { type: 'check'; mode: string; name: string; ok: boolean; msg: string; ms: number }
  | { type: 'error'; msg: string }
  | { type: 'done' };

/** Events go out one at a time, in order. */
let sending: Promise<unknown> = Promise.resolve();
function send(e: Event): Promise<unknown> {
  sending = sending.then(() => win.fetch('/event', { method: 'POST', body: JSON.stringify(e), keepalive: true }).catch(() => undefined));
  return sending;
}
const errText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
win.addEventListener('error', (e) => void send({ type: 'error', msg: `uncaught: ${e.message ?? errText(e.error)}` }));
win.addEventListener('unhandledrejection', (e) => void send({ type: 'error', msg: `unhandled rejection: ${errText(e.reason)}` }));

const RTOL = 1e-4,
  ATOL = 1e-4;

/** null when `got` (a GPU tensor) matches `want` (a CPU tensor) in shape, dtype and values, else why not. */
async function compare(label: string, got: Tensor, want: Tensor): Promise<string | null> {
  if (got.device !== 'gpu') return `${label}: result is on ${got.device}, not gpu`;
  if (got.dtype !== want.dtype) return `${label}: dtype ${got.dtype} vs cpu ${want.dtype}`;
  if (got.shape.join(',') !== want.shape.join(',')) return `${label}: shape [${got.shape.join(', ')}] vs cpu [${want.shape.join(', ')}]`;
  const g = await got.dataAsync(),
    w = want.data();
  let worst = -1,
    worstErr = 0,
    bad = 0;
  for (let i = 0; i < w.length; i++) {
    const err = Math.abs(g[i] - w[i]);
    if (!(err <= ATOL + RTOL * Math.abs(w[i]))) {
      bad++;
      if (worst < 0 || !(err <= worstErr)) [worst, worstErr] = [i, err];
    }
  }
  if (bad === 0) return null;
  return `${label}: ${bad}/${w.length} elements off, worst [${worst}] gpu ${g[worst]} vs cpu ${w[worst]} (|diff| ${worstErr.toExponential(2)})`;
}

/** Tensors (CPU) that each check's function takes; seeded, so every mode sees the same inputs. */
function inputs(): Record<string, Tensor> {
  manualSeed(1234);
  return {
    a: randn([2, 3, 4]),
    b: randn([3, 1]),
    c: randn([4, 1, 5]),
    m1: randn([5, 7]),
    m2: randn([7, 3]),
    mb: randn([2, 5, 7]),
    g1: randn([33, 65]),
    g2: randn([65, 17]),
    x: randn([2, 3, 8, 8]),
    w: randn([4, 3, 3, 3]),
    bias: randn([4]),
    img: randn([2, 3, 6, 5]),
    logits: randn([4, 6]),
    target: randint(0, 6, [4]),
  };
}

type Fn = (t: Record<string, Tensor>) => Tensor;
const FORWARD: [string, Fn][] = [
  ['add broadcast [2,3,4]+[3,1]', (t) => t.a.add(t.b)],
  ['mul broadcast [4,1,5]*[3,1]', (t) => t.c.mul(t.b)],
  ['exp(a)*b+c broadcast', (t) => exp(t.a).mul(t.b).add(t.a.mul(0.5))],
  ['matmul [5,7]x[7,3]', (t) => matmul(t.m1, t.m2)],
  ['matmul batched [2,5,7]x[7,3]', (t) => matmul(t.mb, t.m2)],
  ['matmul [33,65]x[65,17]', (t) => matmul(t.g1, t.g2)],
  ['conv2d 3x3 padding 1 + bias', (t) => conv2d(t.x, t.w, t.bias, { padding: 1 })],
  ['conv2d 3x3 stride 2 padding 2', (t) => conv2d(t.x, t.w, null, { stride: 2, padding: 2 })],
  ['maxPool2d 2x2 stride 2', (t) => maxPool2d(t.x, 2)],
  ['maxPool2d 3x3 stride 2 padding 1', (t) => maxPool2d(t.x, 3, { stride: 2, padding: 1 })],
  ['avgPool2d 3x3 stride 2 padding 1', (t) => avgPool2d(t.x, 3, { stride: 2, padding: 1 })],
  ['pad [1,2,2,1] value 0.5', (t) => pad(t.img, [1, 2, 2, 1], 0.5)],
  ['interpolate bilinear size [13,11]', (t) => interpolate(t.img, { size: [13, 11], mode: 'bilinear' })],
  ['interpolate bilinear x2 alignCorners', (t) => interpolate(t.img, { scaleFactor: 2, mode: 'bilinear', alignCorners: true })],
  ['softmax dim 1', (t) => softmax(t.logits, 1)],
  ['crossEntropy', (t) => crossEntropy(t.logits, t.target)],
  ['int32 to float32, int32 sum', (t) => t.target.to('float32').add(t.target.sum())],
  ['sum and amax of a 0-d value (no dims to reduce)', (t) => t.logits.sum().sum().add(t.logits.sum().amax())],
  [
    'fused SGD update (momentum, nesterov, weight decay)',
    (t) => {
      const p = t.m1.clone(),
        b = t.m1.mul(0.5);
      if (!sgdUpdate_(p, t.m1.tanh(), b, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-2, nesterov: true, maximize: false }))
        throw new Error('declined');
      return p.add(b);
    },
  ],
];

/** Scalar losses whose gradients (with respect to the named inputs) are compared. */
const BACKWARD: [string, string[], Fn][] = [
  ['backward mean(relu(conv2d pad 1)) -> x, w, b', ['x', 'w', 'bias'], (t) => relu(conv2d(t.x, t.w, t.bias, { padding: 1 })).mean()],
  ['backward conv2d stride 2 pad 2 -> x, w', ['x', 'w'], (t) => conv2d(t.x, t.w, null, { stride: 2, padding: 2 }).square().mean()],
  [
    'backward maxPool2d 3x3 s2 pad 1 -> x',
    ['x'],
    (t) =>
      maxPool2d(t.x, 3, { stride: 2, padding: 1 })
        .mul(t.b.reshape([1, 3, 1, 1]))
        .sum(),
  ],
  [
    'backward bilinear [13,11] -> img',
    ['img'],
    (t) =>
      interpolate(t.img, { size: [13, 11], mode: 'bilinear' })
        .square()
        .mean(),
  ],
];

/** The loss and the gradients of `fn` at copies of the named inputs (leaves on `to`'s device). */
function lossAndGrads(fn: Fn, wrt: string[], from: Record<string, Tensor>, device: 'cpu' | 'gpu'): Tensor[] {
  const t: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(from)) t[k] = device === 'cpu' ? v.detach() : v.to('gpu');
  for (const k of wrt) t[k].requiresGrad_();
  const loss = fn(t);
  loss.backward();
  return [loss, ...wrt.map((k) => t[k].grad!)];
}

async function runMode(mode: GpuMode): Promise<void> {
  if (mode === 'webgpu') {
    const gpu = win.navigator.gpu;
    if (!gpu) return void (await send({ type: 'mode', mode, ok: false, msg: 'skipped: navigator.gpu is undefined in this browser' }));
    const adapter = await gpu.requestAdapter().catch((e: unknown) => errText(e));
    if (!adapter || typeof adapter === 'string') {
      return void (await send({
        type: 'mode',
        mode,
        ok: false,
        msg: `skipped: navigator.gpu.requestAdapter() answered ${adapter === null ? 'null' : adapter}`,
      }));
    }
    const info = adapter.info ?? {};
    await send({
      type: 'info',
      msg: `webgpu adapter: ${['vendor', 'architecture', 'device', 'description'].map((k) => `${k}=${String(info[k] ?? '')}`).join(' ')} fallback=${String(adapter.isFallbackAdapter ?? '?')}`,
    });
  }
  let gpuInfo: GpuInfo;
  try {
    gpuInfo = await initBackend('gpu', { mode });
  } catch (e) {
    return void (await send({ type: 'mode', mode, ok: false, msg: `initBackend failed: ${errText(e)}` }));
  }
  await send({ type: 'mode', mode, ok: true, msg: `initBackend -> ${gpuInfo.mode} (${gpuInfo.tried.map((t) => `${t.mode}: ${t.why}`).join('; ')})` });

  const cpu = inputs();
  const dev: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(cpu)) dev[k] = v.to('gpu');

  for (const [name, fn] of FORWARD) {
    const t0 = performance.now();
    let msg: string | null;
    try {
      msg = await compare('out', fn(dev), fn(cpu));
    } catch (e) {
      msg = `threw ${errText(e)}`;
    }
    await send({ type: 'check', mode, name, ok: msg === null, msg: msg ?? '', ms: performance.now() - t0 });
  }

  for (const [name, wrt, fn] of BACKWARD) {
    const t0 = performance.now();
    let msg: string | null;
    try {
      const want = lossAndGrads(fn, wrt, cpu, 'cpu');
      const got = lossAndGrads(fn, wrt, cpu, 'gpu');
      const labels = ['loss', ...wrt.map((k) => `${k}.grad`)];
      const why: (string | null)[] = [];
      for (let i = 0; i < labels.length; i++) why.push(await compare(labels[i], got[i], want[i]));
      msg = why.filter((w) => w !== null).join('; ') || null;
    } catch (e) {
      msg = `threw ${errText(e)}`;
    }
    await send({ type: 'check', mode, name, ok: msg === null, msg: msg ?? '', ms: performance.now() - t0 });
  }
  await disposeBackend('gpu');
}

async function main(): Promise<void> {
  await send({ type: 'info', msg: `userAgent: ${win.navigator.userAgent}` });
  for (const mode of ['webgl2', 'webgpu'] as const) {
    try {
      await runMode(mode);
    } catch (e) {
      await send({ type: 'error', msg: `${mode}: ${errText(e)}` });
    }
  }
  await send({ type: 'done' });
}

void main();

// GPU check: the PyTorch conformance cases on the GPU backend, then matmul and conv2d (GFLOP/s)
// and one SGD step of a small segmentation CNN, GPU against our CPU backend in the same run.
// Prints one summary and writes bench/out/gpu.json. Run by bench/gpu-check.sh on a machine with a
// GPU, or here: `npx tsx bench/gpu.ts [--mode auto|webgpu|webasm|cpu] [--dawn <linux-x64.dawn.node>]
// [--cases <dir>] [--quick]`. A benchmark, not a test.

import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Tensor,
  batchNorm,
  conv2d,
  crossEntropy,
  disposeBackend,
  flush,
  gpuStats,
  initBackend,
  manualSeed,
  matmul,
  noGrad,
  randint,
  randn,
  type Device,
  type GpuMode,
  type InitOptions,
} from '@lad/tensor';
import { DEFAULT_DIR, runFolder } from '../test/conformance.ts';

const { values } = parseArgs({
  options: { mode: { type: 'string', default: 'auto' }, dawn: { type: 'string' }, cases: { type: 'string' }, quick: { type: 'boolean', default: false } },
});
// Dawn's Node bindings (the npm package webgpu@0.4.0 ships dist/linux-x64.dawn.node): { create, globals }
const webgpu = values.dawn ? (createRequire(import.meta.url)(resolve(values.dawn)) as InitOptions['webgpu']) : undefined;
const started = performance.now();
const info = await initBackend('gpu', { mode: values.mode as GpuMode | 'auto', webgpu });
console.log(`gpu mode: ${info.mode} (${info.tried.map((t) => `${t.mode}: ${t.why}`).join('; ')})`);

// ---- conformance -------------------------------------------------------------------------------
const conf = await runFolder(resolve(values.cases ?? DEFAULT_DIR), 'gpu');
for (const line of conf.failed) console.log(line);
console.log(`conformance on gpu (${info.mode}): ${conf.passed} passed, ${conf.failed.length} failed`);

// ---- timing ------------------------------------------------------------------------------------
/** Waits for every queued kernel: reads one element of `t` (kernels complete in order). */
const sync = async (t: Tensor): Promise<void> => {
  await t.reshape([-1]).slice(0, 0, 1).contiguous().dataAsync();
};
/** Median ms of `step` (which returns a tensor to wait on) over `reps` runs after one warmup. */
async function time(step: () => Tensor | Promise<Tensor>, reps: number): Promise<number> {
  await sync(await step());
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await sync(await step());
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)];
}

interface Row {
  name: string;
  unit: 'GFLOP/s' | 'ms';
  gpu: number;
  cpu: number | null;
}
const rows: Row[] = [];
// gpu.js's CPU modes (webasm, cpu) run the kernels one thread at a time: there the small sizes
const quick = values.quick || !['webgpu', 'webgl2'].includes(info.mode);
const reps = quick ? 2 : 5;

for (const n of quick ? [256] : [1024, 2048]) {
  const a = randn([n, n]),
    b = randn([n, n]);
  const run = async (dev: Device) => {
    const [x, y] = [a.to(dev), b.to(dev)];
    return (2 * n ** 3) / (await time(() => matmul(x, y), dev === 'cpu' && n > 1024 ? 1 : reps)) / 1e6;
  };
  rows.push({ name: `matmul ${n}`, unit: 'GFLOP/s', gpu: await run('gpu'), cpu: await run('cpu') });
}

{
  const [N, C, H, O] = quick ? [2, 8, 16, 8] : [8, 32, 64, 32];
  const x = randn([N, C, H, H]),
    w = randn([O, C, 3, 3]);
  const flops = 2 * N * O * H * H * C * 9;
  const run = async (dev: Device) => {
    const [xx, ww] = [x.to(dev), w.to(dev)];
    return flops / (await time(() => conv2d(xx, ww, null, { padding: 1 }), reps)) / 1e6;
  };
  rows.push({ name: `conv2d 3x3 [${N}, ${C}, ${H}, ${H}]`, unit: 'GFLOP/s', gpu: await run('gpu'), cpu: await run('cpu') });
}

{
  // 4 × [conv3x3, batch norm (batch statistics), relu] at 32 channels, 1x1 conv to 11 classes, pixel cross-entropy
  const [N, S, width, depth, classes] = quick ? [2, 16, 8, 2, 11] : [8, 64, 32, 4, 11];
  const run = async (dev: Device) => {
    manualSeed(0);
    const ws = Array.from({ length: depth }, (_, i) =>
      randn([width, i === 0 ? 3 : width, 3, 3])
        .mul(0.2)
        .to(dev)
        .requiresGrad_(),
    );
    const head = randn([classes, width, 1, 1]).mul(0.2).to(dev).requiresGrad_();
    const x = randn([N, 3, S, S]).to(dev),
      y = randint(0, classes, [N, S, S]).to(dev);
    const step = (): Tensor => {
      let h = x;
      for (const w of ws) h = batchNorm(conv2d(h, w, null, { padding: 1 }), null, null, null, null, { training: true }).relu();
      const loss = crossEntropy(conv2d(h, head, null), y);
      loss.backward();
      noGrad(() => {
        for (const p of [...ws, head]) {
          p.copy_(p.sub(p.grad!.mul(0.1)));
          p.grad = null;
        }
      });
      return loss;
    };
    return time(step, reps);
  };
  rows.push({ name: `train step [${N}, 3, ${S}, ${S}]`, unit: 'ms', gpu: await run('gpu'), cpu: await run('cpu') });
}

// ---- summary -----------------------------------------------------------------------------------
const stats = await gpuStats();
await flush();
await disposeBackend('gpu');
const fmt = (v: number | null) => (v === null ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
console.log(`\n${'row'.padEnd(36)}${'gpu'.padStart(10)}${'cpu (ours)'.padStart(12)}${'gpu/cpu'.padStart(10)}`);
for (const r of rows) {
  const speedup = r.cpu === null ? null : r.unit === 'ms' ? r.cpu / r.gpu : r.gpu / r.cpu;
  console.log(
    `${`${r.name} (${r.unit})`.padEnd(36)}${fmt(r.gpu).padStart(10)}${fmt(r.cpu).padStart(12)}${(speedup === null ? '-' : `${speedup.toFixed(2)}x`).padStart(10)}`,
  );
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `\ngpu-check: mode ${info.mode}, conformance ${conf.passed}/${conf.passed + conf.failed.length}, ${stats.compiled} kernels compiled, ${seconds.toFixed(0)} s`,
);
mkdirSync(new URL('./out/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./out/gpu.json', import.meta.url),
  JSON.stringify({ mode: info.mode, tried: info.tried, conformance: { passed: conf.passed, failed: conf.failed }, rows, stats, seconds }, null, 2),
);
process.exitCode = conf.failed.length ? 1 : 0;

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
  Generator,
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
import { SGD } from '@lad/nn';
import { buildModel, resolveLabelScale, teacherLoss } from '@lad/lad';
import { QUICK } from '../packages/lad/src/presets.ts';
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

// ---- the LAD teacher step, GPU against CPU ------------------------------------------------------
// The quick preset's teacher (tiny DeepLabV3, 4 channels, dual path) from the same weights and batch
// on both devices: the loss, each parameter's gradient after one step (worst relative difference,
// and where), then the losses of 5 SGD steps. On an H200 the quick experiment trained worse on the
// GPU than on the CPU (docs/results/gpu-h200.md) while the conformance cases all passed: this says
// whether the forward/backward or the update drifts.
const agreement: string[] = [];
{
  const K = 4,
    lad = resolveLabelScale(QUICK.lad, 1),
    mcfg = { ...QUICK.model, numClasses: K };
  manualSeed(3);
  const batch = { images: randn([8, 3, 48, 48]), labels: randint(0, K, [8, 48, 48]) };
  const runOn = async (dev: Device) => {
    const model = buildModel(mcfg, { generator: new Generator(1) }).to(dev);
    const b = { images: batch.images.to(dev), labels: batch.labels.to(dev) };
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }),
      gen = new Generator(7);
    const losses: number[] = [];
    let grads: [string, Float32Array][] = [];
    for (let step = 0; step < 5; step++) {
      const loss = teacherLoss(model, b, K, lad, gen).loss;
      opt.zeroGrad();
      loss.backward();
      if (step === 0)
        grads = await Promise.all(model.namedParameters().map(async ([n, p]) => [n, (await p.grad!.dataAsync()) as Float32Array] as [string, Float32Array]));
      opt.step();
      losses.push(await loss.itemAsync());
    }
    return { losses, grads };
  };
  const [g, c] = [await runOn('gpu'), await runOn('cpu')];
  const rel = g.grads.map(([n, gg], k) => {
    const cc = c.grads[k][1];
    let diff = 0,
      scale = 1e-12;
    cc.forEach((v, i) => ((diff = Math.max(diff, Math.abs(gg[i] - v))), (scale = Math.max(scale, Math.abs(v)))));
    return [n, diff / scale] as const;
  });
  rel.sort((a, b) => b[1] - a[1]);
  agreement.push(`LAD teacher step, gpu vs cpu: losses ${g.losses.map((l, i) => `${l.toFixed(5)}/${c.losses[i].toFixed(5)}`).join(' ')}`);
  agreement.push(
    `  worst gradient differences after step 1 (max |Δ| / max |cpu|): ${rel
      .slice(0, 4)
      .map(([n, r]) => `${n} ${r.toExponential(1)}`)
      .join(', ')}`,
  );
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
for (const line of agreement) console.log(line);
const seconds = (performance.now() - started) / 1000;
console.log(
  `\ngpu-check: mode ${info.mode}, conformance ${conf.passed}/${conf.passed + conf.failed.length}, ${stats.compiled} kernels compiled, ${seconds.toFixed(0)} s`,
);
mkdirSync(new URL('./out/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./out/gpu.json', import.meta.url),
  JSON.stringify({ mode: info.mode, tried: info.tried, conformance: { passed: conf.passed, failed: conf.failed }, rows, agreement, stats, seconds }, null, 2),
);
process.exitCode = conf.failed.length ? 1 : 0;

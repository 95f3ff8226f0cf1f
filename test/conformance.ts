// Conformance runner: replays PyTorch reference cases (test/conformance/torch by default, or
// the folder given) in float32 on the CPU backend, or with `--device gpu [--mode auto|webgpu|
// webgl2|webasm|cpu]` on the GPU backend, checking outputs and input gradients within each case's
// tolerance. Prints one line per failing case and closes with `N passed, N failed`; exits non-zero
// on any failure or unknown op (schema: test/conformance/README.md).

import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as T from '@lad/tensor';
import { channelWiseDistillation } from '../packages/lad/src/losses.ts'; // the file, not the package: bench/gpu-check bundles this runner

interface TJson {
  shape: number[];
  dtype: 'float32' | 'int32';
  data: number[];
}
/** A case's keyword parameters, PyTorch's names and JSON values (each op reads its own). */
// biome-ignore lint/suspicious/noExplicitAny: JSON parameters whose types depend on the op
type Params = Record<string, any>;
interface Case {
  name: string;
  op: string;
  params: Params;
  inputs: Record<string, TJson>;
  output: TJson;
  upstream?: TJson;
  grads?: Record<string, TJson>;
  tolerance: { rtol: number; atol: number };
  running_after?: { running_mean: number[]; running_var: number[] };
}

/** The device the cases run on (set by runFolder). */
let device: T.Device = 'cpu';
const toTensor = (j: TJson, requiresGrad: boolean): T.Tensor =>
  T.tensor(j.data, { shape: j.shape, dtype: j.dtype, requiresGrad: requiresGrad && j.dtype !== 'int32', device });
const dims = (d: number | number[] | null) => (d === null ? null : d);

type OpFn = (x: T.Tensor[], p: Params, c: Case) => T.Tensor;
const OPS: Record<string, OpFn> = {
  add: ([a, b]) => a.add(b),
  sub: ([a, b]) => a.sub(b),
  mul: ([a, b]) => a.mul(b),
  div: ([a, b]) => a.div(b),
  maximum: ([a, b]) => a.maximum(b),
  exp: ([x]) => x.exp(),
  log: ([x]) => x.log(),
  sqrt: ([x]) => x.sqrt(),
  tanh: ([x]) => x.tanh(),
  sigmoid: ([x]) => x.sigmoid(),
  relu: ([x]) => x.relu(),
  abs: ([x]) => x.abs(),
  neg: ([x]) => x.neg(),
  pow: ([x], p) => x.pow(p.exponent),
  sum: ([x], p) => x.sum(dims(p.dim), p.keepdim),
  mean: ([x], p) => x.mean(dims(p.dim), p.keepdim),
  amax: ([x], p) => x.amax(dims(p.dim), p.keepdim),
  logsumexp: ([x], p) => x.logsumexp(p.dim, p.keepdim),
  matmul: ([a, b]) => a.matmul(b),
  conv2d: ([x, w, b], p) => T.conv2d(x, w, b ?? null, { stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups }),
  max_pool2d: ([x], p) => T.maxPool2d(x, p.kernel_size, { stride: p.stride, padding: p.padding }),
  avg_pool2d: ([x], p) => T.avgPool2d(x, p.kernel_size, { stride: p.stride, padding: p.padding, countIncludePad: p.count_include_pad }),
  adaptive_avg_pool2d: ([x], p) => T.adaptiveAvgPool2d(x, p.output_size),
  interpolate: ([x], p) => T.interpolate(x, { size: p.size, mode: p.mode, alignCorners: p.align_corners ?? undefined }),
  softmax: ([x], p) => x.softmax(p.dim),
  log_softmax: ([x], p) => x.logSoftmax(p.dim),
  cross_entropy: ([x, t], p) =>
    T.crossEntropy(x, t, { ignoreIndex: p.ignore_index, reduction: p.reduction, weight: p.weight ? T.tensor(p.weight, { device }) : null }),
  kl_div: ([x, t], p) => T.klDiv(x, t, { reduction: p.reduction, logTarget: p.log_target }),
  channel_wise_distillation: ([s, t], p) => channelWiseDistillation(s, t, { temperature: p.temperature }),
  batch_norm: ([x, w, b], p, c) => {
    const rm = T.tensor(p.running_mean, { device }),
      rv = T.tensor(p.running_var, { device });
    const y = T.batchNorm(x, rm, rv, w, b, { training: p.training, momentum: p.momentum, eps: p.eps });
    if (c.running_after)
      checksAfter.push(
        async () =>
          mismatch(await rm.dataAsync(), c.running_after!.running_mean, c.tolerance) ??
          mismatch(await rv.dataAsync(), c.running_after!.running_var, c.tolerance),
      );
    return y;
  },
  cat: ([a, b], p) => T.cat([a, b], p.dim),
  permute: ([x], p) => x.permute(p.dims),
  pad: ([x], p) => T.pad(x, p.pad, p.value),
  slice: ([x], p) => x.slice(p.dim, p.start, p.end, p.step),
};

/** The first element outside |got − want| <= atol + rtol·|want|, described, or null. */
function mismatch(got: ArrayLike<number>, want: readonly number[], tol: { rtol: number; atol: number }): string | null {
  if (got.length !== want.length) return `${got.length} values, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol.atol + tol.rtol * Math.abs(want[i]))) return `element ${i}: got ${got[i]}, expected ${want[i]}`;
  }
  return null;
}

/** Checks an op queued for after its output is read (the running stats of batch_norm). */
const checksAfter: (() => Promise<string | null>)[] = [];

/** Runs one case; resolves to null when it passes, else the reason. */
export async function runCase(c: Case): Promise<string | null> {
  const fn = OPS[c.op];
  if (!fn) return `unknown op '${c.op}'`;
  const names = Object.keys(c.inputs);
  const xs = names.map((n) => toTensor(c.inputs[n], !!c.grads?.[n]));
  checksAfter.length = 0;
  const y = fn(xs, c.params, c);
  if (y.shape.join() !== c.output.shape.join()) return `output shape [${y.shape}] vs expected [${c.output.shape}]`;
  if (y.device !== device) return `output on ${y.device}, expected ${device}`;
  const bad = mismatch(await y.dataAsync(), c.output.data, c.tolerance);
  for (const check of checksAfter.splice(0)) {
    const why = await check();
    if (why) return `running stats: ${why}`;
  }
  if (bad) return `output ${bad}`;
  if (c.upstream && c.grads) {
    const wanted = names.filter((n, i) => c.grads![n] && xs[i].requiresGrad && !(c.op === 'channel_wise_distillation' && n === 'teacher'));
    const gs = T.grad(
      [y],
      wanted.map((n) => xs[names.indexOf(n)]),
      { gradOutputs: [toTensor(c.upstream, false)], allowUnused: true },
    );
    for (const [k, n] of wanted.entries()) {
      const g = gs[k];
      if (!g) return `grad ${n}: no gradient reached it`;
      const gb = mismatch(await g.dataAsync(), c.grads[n].data, c.tolerance);
      if (gb) return `grad ${n} ${gb}`;
    }
  }
  return null;
}

export async function runFolder(dir: string, on: T.Device = 'cpu'): Promise<{ passed: number; failed: string[] }> {
  device = on;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const failed: string[] = [];
  for (const f of files) {
    const c = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Case;
    let why: string | null;
    try {
      why = await runCase(c);
    } catch (e) {
      why = `threw ${(e as Error).name}: ${(e as Error).message}`;
    }
    if (why) failed.push(`FAIL ${c.name ?? f} (${c.op}): ${why}`);
  }
  return { passed: files.length - failed.length, failed };
}

export const DEFAULT_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), 'conformance/torch');

if (process.argv[1]?.endsWith('conformance.ts')) {
  // run as a script (not when imported or bundled)
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { device: { type: 'string', default: 'cpu' }, mode: { type: 'string', default: 'auto' } },
  });
  const on = values.device as T.Device;
  let label = 'cpu';
  if (on === 'gpu') {
    const info = await T.initBackend('gpu', { mode: values.mode as T.GpuMode | 'auto', webgpu: await loadDawn(values.mode!) });
    label = `gpu (${info.mode}; ${info.tried.map((t) => `${t.mode}: ${t.why}`).join('; ')})`;
  } else if (on !== 'cpu') throw new Error(`conformance: --device must be cpu or gpu: got ${on}`);
  const { passed, failed } = await runFolder(resolve(positionals[0] ?? DEFAULT_DIR), on);
  for (const line of failed) console.log(line);
  if (on === 'gpu') {
    const stats = await T.gpuStats();
    label += `, ${stats.compiled} kernels compiled, ${stats.launched} launched`;
    await T.disposeBackend('gpu');
  }
  console.log(`conformance on ${label}: ${passed} passed, ${failed.length} failed`);
  process.exitCode = failed.length || passed === 0 ? 1 : 0;
}

/** Dawn's bindings (npm `webgpu`) where a webgpu mode may be chosen and the package is installed; else undefined. */
async function loadDawn(mode: string): Promise<T.InitOptions['webgpu']> {
  if (mode !== 'auto' && mode !== 'webgpu') return undefined;
  try {
    return (await import(process.env.LAD_WEBGPU_MODULE ?? 'webgpu')) as T.InitOptions['webgpu'];
  } catch {
    return undefined;
  }
}

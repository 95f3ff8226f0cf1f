// Batch-norm pieces on gpu.js over (N, C, L) data (L = H·W): per-channel sums (one thread per
// channel, loops over N and L), and elementwise passes for the output and the input gradient.
// Same formulas as cpu/norm.ts:
//   stats     mean = Σx / M,  invstd = 1 / sqrt(Σ(x − mean)² / M + eps),  M = N·L
//   forward   y = (x − mean)·invstd·w + b, then relu(y) when fused with the ReLU
//             (its backward masks g by the output first: one reluBackward launch, then the same kernels)
//   backward  gb = Σg,  gw = Σ g·x̂,  x̂ = (x − mean)·invstd
//             gx = w·invstd·(g − gb/M − x̂·gw/M) with batch statistics, w·invstd·g with fixed ones

import type { BnStats } from '../backend.ts';
import { storageDType, view, type AnyStorage } from '../../storage.ts';
import { asGpu, launch, upload, type GpuBuffer } from './runtime.ts';
import { assign } from './movement.ts';
import { Src, THREAD } from './codegen.ts';

const ncl = (x: AnyStorage): [number, number, number] => [x.shape[0], x.shape[1], x.size / (x.shape[0] * x.shape[1] || 1)];

/** `term(p, c)` builds an expression from the element index p and the channel index c (Integer expressions). */
type Term = (p: string, c: string) => string;

/** Per channel c: Σ_{n, l} term, then `post` of the sum `acc` (M = N·L and eps in scope). */
function channelSum(name: string, x: AnyStorage, args: GpuBuffer[], term: Term, post = 'acc', eps = 0): GpuBuffer {
  const [N, C, L] = ncl(x);
  const s = new Src();
  s.line(`const c = ${THREAD};`); // a channel: small
  s.line('let acc = 0.0;');
  s.line(`for (let n = 0; n < ${s.bound(N)}; n++) {`);
  s.line(`for (let l = 0; l < ${s.bound(L)}; l++) {`);
  s.line(`acc += ${term(`((n | 0) * ${s.int(C)} + (c | 0)) * ${s.int(L)} + (l | 0)`, '(c | 0)')};`);
  s.line('}').line('}');
  if (post.includes('M')) s.line(`const M = ${s.float(N * L)};`);
  if (post.includes('eps')) s.line(`const eps = ${s.float(eps)};`);
  return launch(
    s.spec(
      name,
      C,
      args.map((_, k) => `x${k}`),
      post,
    ),
    args,
    'float32',
  );
}

export function batchNormStats(x: AnyStorage, eps: number): BnStats {
  const xb = asGpu(x);
  const mean = channelSum('bn-mean', x, [xb], (p) => `x0[${p}]`, 'acc / M');
  const invstd = channelSum('bn-invstd', x, [xb, mean], (p, c) => `(x0[${p}] - x1[${c}]) * (x0[${p}] - x1[${c}])`, '1.0 / Math.sqrt(acc / M + eps)', eps);
  return { mean, invstd };
}

/** An elementwise pass over (N, C, L): `body(s, p, c)` declares `out` from element index p and channel index c. */
function perElement(name: string, x: AnyStorage, args: GpuBuffer[], body: (s: Src, p: string, c: string) => void): GpuBuffer {
  const [N, C, L] = ncl(x);
  const s = new Src();
  const [, c] = s.unravel(THREAD, [N, C, L]);
  body(s, THREAD, c);
  return launch(
    s.spec(
      name,
      x.size,
      args.map((_, k) => `x${k}`),
      'out',
    ),
    args,
    storageDType(x),
  );
}

export function batchNorm(x: AnyStorage, stats: BnStats, w: AnyStorage | null, b: AnyStorage | null, relu = false): GpuBuffer {
  const args = [asGpu(x), stats.mean as GpuBuffer, stats.invstd as GpuBuffer, ...(w ? [asGpu(w)] : []), ...(b ? [asGpu(b)] : [])];
  const wi = 3,
    bi = w ? 4 : 3;
  return perElement('bn-forward', x, args, (s, p, c) => {
    s.line(`let out = (x0[${p}] - x1[${c}]) * x2[${c}];`);
    if (w) s.line(`out = out * x${wi}[${c}];`);
    if (b) s.line(`out = out + x${bi}[${c}];`);
    if (relu) s.line('out = out > 0.0 ? out : 0.0;');
  });
}

export function batchNormBackward(
  gy: AnyStorage,
  x: AnyStorage,
  stats: BnStats,
  w: AnyStorage | null,
  training: boolean,
): { gx: GpuBuffer; gw: GpuBuffer; gb: GpuBuffer } {
  const [N, , L] = ncl(x);
  const g = asGpu(gy),
    xb = asGpu(x),
    mean = stats.mean as GpuBuffer,
    invstd = stats.invstd as GpuBuffer;
  const gb = channelSum('bn-sum-g', x, [g], (p) => `x0[${p}]`);
  const gw = channelSum('bn-sum-gxhat', x, [g, xb, mean, invstd], (p, c) => `x0[${p}] * (x1[${p}] - x2[${c}]) * x3[${c}]`);
  const args = [g, xb, mean, invstd, gb, gw, ...(w ? [asGpu(w)] : [])];
  const gx = perElement(training ? 'bn-grad-train' : 'bn-grad-eval', x, args, (s, p, c) => {
    s.line(`const k = x3[${c}]${w ? ` * x6[${c}]` : ''};`);
    if (training) {
      s.line(`const M = ${s.float(N * L)};`);
      s.line(`const out = k * (x0[${p}] - x4[${c}] / M - (x1[${p}] - x2[${c}]) * x3[${c}] * (x5[${c}] / M));`);
    } else s.line(`const out = k * x0[${p}];`);
  });
  return { gx, gw, gb };
}

/**
 * Running stats in place (dense rm, rv of C elements): running = (1 − momentum)·running +
 * momentum·batch, the variance unbiased from invstd. Two kernels and two copies; momentum, eps and
 * M/(M − 1) travel as one uploaded buffer, so no kernel is compiled per layer.
 */
export function batchNormRunningStats(rm: AnyStorage, rv: AnyStorage, stats: BnStats, eps: number, M: number, momentum: number): void {
  const h = upload(new Float32Array([1 - momentum, momentum, eps, M / (M - 1)]));
  const c = THREAD; // rm and rv are dense: the thread is the channel
  const update = (name: string, run: AnyStorage, batch: string) =>
    launch(
      new Src().spec(name, run.size, ['x0', 'x1', 'x2', 'h'], `x0[${c}] * h[0] + ${batch} * h[1]`),
      [asGpu(run), stats.mean as GpuBuffer, stats.invstd as GpuBuffer, h],
      storageDType(run),
    );
  const newMean = update('bn-running-mean', rm, `x1[${c}]`);
  const newVar = update('bn-running-var', rv, `(1.0 / (x2[${c}] * x2[${c}]) - h[2]) * h[3]`);
  assign(rm, view(newMean, rm.shape));
  assign(rv, view(newVar, rv.shape));
}

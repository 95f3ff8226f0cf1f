// Pack test, consumer 1: plain `node` (no tsx, no TypeScript) imports the installed @lad/tensor and
// @lad/nn, trains a small MLP on a 2-class toy task (points inside/outside a circle) with Adam, saves
// a checkpoint and restores it into a fresh model, and runs a matmul big enough for the CPU backend's
// worker threads (same bits as on one thread, no warning). Exits non-zero on any failure.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, Tensor, crossEntropy, manualSeed, matmul, noGrad, randn, setNumThreads } from '@lad/tensor';
import { Adam, Linear, ReLU, Sequential, restoreCheckpoint, saveCheckpoint } from '@lad/nn';

manualSeed(0);
const gen = new Generator(1);
const N = 64;
/** A batch: x (N, 2) uniform-ish normal points, y (N) = 1 inside the circle of radius 1. */
function batch() {
  const x = randn([N, 2], { generator: gen });
  const xs = x.toArray().flat();
  const y = new Int32Array(N);
  for (let i = 0; i < N; i++) y[i] = xs[2 * i] ** 2 + xs[2 * i + 1] ** 2 < 1 ? 1 : 0;
  return { x, y: Tensor.fromData(y, [N]) };
}

const model = new Sequential(new Linear(2, 32), new ReLU(), new Linear(32, 2));
const opt = new Adam(model.parameters(), { lr: 0.02 });
const losses = [];
for (let step = 0; step < 150; step++) {
  const { x, y } = batch();
  const loss = crossEntropy(model.forward(x), y);
  opt.zeroGrad();
  loss.backward();
  opt.step();
  losses.push(loss.item());
}
const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const first = mean(losses.slice(0, 10)),
  last = mean(losses.slice(-10));
console.log(`loss: first 10 steps ${first.toFixed(4)}, last 10 steps ${last.toFixed(4)}`);
assert.ok(Number.isFinite(last), 'the loss is finite');
assert.ok(last < 0.6 * first, `the loss goes down: ${first} -> ${last}`);

// checkpoint round trip: a fresh model restored from the file computes the same outputs
const dir = mkdtempSync(join(tmpdir(), 'lad-pack-ckpt-'));
try {
  const file = join(dir, 'model.safetensors');
  saveCheckpoint(file, { model, optimizer: opt, step: 150 });
  const copy = new Sequential(new Linear(2, 32), new ReLU(), new Linear(32, 2));
  const ck = restoreCheckpoint(file, { model: copy });
  assert.equal(ck.step, 150);
  const probe = randn([5, 2], { generator: gen });
  const [a, b] = noGrad(() => [model.forward(probe).toArray(), copy.forward(probe).toArray()]);
  assert.deepEqual(b, a, 'the restored model computes the same outputs');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
// the CPU thread pool from dist/: a matmul past the parallel threshold, on 2 threads and on 1
const warnings = [];
console.warn = (...args) => warnings.push(args.join(' '));
const a = randn([256, 256], { generator: gen }),
  b = randn([256, 256], { generator: gen });
setNumThreads(2);
const par = matmul(a, b).toArray();
setNumThreads(1);
assert.deepEqual(matmul(a, b).toArray(), par, 'matmul on 2 threads gives the 1-thread bits');
assert.deepEqual(warnings, [], 'no warning (a worker thread that does not start warns)');

console.log('ok: plain node trained @lad/nn on @lad/tensor and restored its checkpoint');

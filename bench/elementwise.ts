// Micro benchmark of the CPU elementwise kernels (backend/cpu/elementwise.ts) on the float32 shapes
// of the LAD teacher step at 96×96: the WebAssembly SIMD kernels (wasm/elementwise-simd.ts, copies
// in and out included) against the compiled JS loops, in the same run, checking their bits agree.
// Each call's output goes back to the buffer pool (as the tape does), so no row pays for fresh
// pages. Prints the median of 25 timed calls after 5 warm-ups, in ms and ns per element:
//   npx tsx bench/elementwise.ts

import { binary, cast, unary, where, type BinaryOp, type UnaryOp } from '../packages/tensor/src/backend/cpu/elementwise.ts';
import { elementwiseSimdOptions } from '../packages/tensor/src/backend/cpu/wasm/elementwise-simd.ts';
import { recycle, type TypedArray } from '../packages/tensor/src/backend/cpu/alloc.ts';
import { view, type Storage } from '../packages/tensor/src/storage.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Median ms of 25 calls of f after 5 warm-ups, each output recycled. */
function time(f: () => TypedArray): number {
  const t: number[] = [];
  for (let r = 0; r < 30; r++) {
    const t0 = performance.now();
    const out = f();
    if (r >= 5) t.push(performance.now() - t0);
    recycle(out);
  }
  return median(t);
}

let seed = 12345;
function data(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    x[i] = (seed / 2 ** 32 - 0.5) * 8;
  }
  return x;
}
const dense = (shape: number[]): Storage => view(data(shape.reduce((a, b) => a * b, 1)), shape);
/** One value broadcast over `shape` (a scalar operand, as `x.mul(2)` makes it). */
const scalar = (shape: number[]): Storage =>
  view(
    data(1),
    shape,
    shape.map(() => 0),
  );

type Row = [label: string, run: () => TypedArray];
const rows: Row[] = [];
const un = (op: UnaryOp, shape: number[]) => {
  const x = dense(shape);
  rows.push([`${op} [${shape}]`, () => unary(op, x, 'float32')]);
};
const bin = (op: BinaryOp, shape: number[], b: 'dense' | 'scalar' = 'dense') => {
  const x = dense(shape),
    y = b === 'dense' ? dense(shape) : scalar(shape);
  rows.push([`${op} [${shape}]${b === 'scalar' ? ' by a scalar' : ''}`, () => binary(op, x, y, op === 'ne' ? 'int32' : 'float32')]);
};
for (const s of [
  [8, 8, 48, 48],
  [8, 64, 12, 12],
  [8, 16, 12, 12],
])
  un('relu', s);
un('neg', [8, 96, 96]);
for (const s of [
  [8, 64, 12, 12],
  [8, 16, 12, 12],
  [64, 64, 3, 3],
  [32, 144],
  [8, 32],
])
  bin('add', s);
bin('mul', [8, 96, 96]);
bin('mul', [8, 32, 12, 12], 'scalar');
for (const s of [
  [8, 8, 48, 48],
  [8, 64, 12, 12],
  [8, 16, 12, 12],
])
  bin('reluBackward', s);
bin('ne', [8, 32, 12, 12]);
// dropout2d's int32 (N, C, 1, 1) mask times activations; a per-channel [C] added over (N, C, H, W)
const act = dense([8, 32, 12, 12]),
  keep = view(
    Int32Array.from({ length: 256 }, (_, i) => (i * 7) % 3 && 1),
    [8, 32, 12, 12],
    [32, 1, 0, 0],
  );
rows.push(['mul [8,32,12,12] by int32 [8,32,1,1]', () => binary('mul', act, keep, 'float32')]);
const act64 = dense([8, 64, 12, 12]),
  perC = view(data(64), [8, 64, 12, 12], [0, 1, 0, 0]);
rows.push(['add [8,64,12,12] + [64,1,1]', () => binary('add', act64, perC, 'float32')]);
// crossEntropy's int32 label work at [8, 96, 96]: valid = target ≠ ignore, where(valid, target, 0), valid as float32
const labels = view(
    Int32Array.from(data(8 * 96 * 96), (v) => Math.floor(v)),
    [8, 96, 96],
  ),
  ignore = view(new Int32Array([-1]), [8, 96, 96], [0, 0, 0]),
  zero = view(new Int32Array([0]), [8, 96, 96], [0, 0, 0]);
rows.push(['ne int32 [8,96,96] by a scalar', () => binary('ne', labels, ignore, 'int32')]);
rows.push(['where int32 [8,96,96]', () => where(labels, labels, zero, 'int32')]);
rows.push(['cast int32 → float32 [8,96,96]', () => cast(labels, 'float32')]);

console.log('op [shape]                       js ms  ns/el   simd ms  ns/el   speed-up');
for (const [label, run] of rows) {
  elementwiseSimdOptions.simd = false;
  const js = run(),
    tj = time(run);
  elementwiseSimdOptions.simd = true;
  const simd = run(),
    ts = time(run);
  for (let i = 0; i < js.length; i++)
    if (!Object.is(js[i], simd[i]) && !(js[i] !== js[i] && simd[i] !== simd[i])) throw new Error(`${label}: element ${i} differs: ${js[i]} vs ${simd[i]}`);
  const ns = (ms: number) => ((ms * 1e6) / js.length).toFixed(2).padStart(6);
  console.log(`${label.padEnd(30)} ${tj.toFixed(3).padStart(7)} ${ns(tj)}   ${ts.toFixed(3).padStart(7)} ${ns(ts)}   ${(tj / ts).toFixed(1).padStart(5)}×`);
}

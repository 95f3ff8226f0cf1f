// The profiler (packages/tensor/src/profile.ts): its totals against the wall time of the profiled call,
// the ops it names, forward/backward separation, bytes, GPU queued/flushed rows, nesting and profileSteps.
// Margins: the profile's total is the wall time of fn itself, so the call measured around profile() may
// exceed it only by the profiler's own start/stop (< 5 ms + 5%); the rows' self times never exceed the total.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Generator,
  Tensor,
  TensorError,
  batchNorm,
  conv2d,
  crossEntropy,
  disposeBackend,
  initBackend,
  matmul,
  profile,
  profileSteps,
  randint,
  randn,
} from '@lad/tensor';

const gen = () => new Generator(3);

/** A small conv net step: conv → batch norm → relu → 1x1 conv → cross-entropy, then backward. */
function step(device: 'cpu' | 'gpu' = 'cpu') {
  const g = gen();
  const x = randn([2, 3, 8, 8], { generator: g }).to(device);
  const w1 = randn([4, 3, 3, 3], { generator: g }).to(device).requiresGrad_();
  const w2 = randn([5, 4, 1, 1], { generator: g }).to(device).requiresGrad_();
  const y = randint(0, 5, [2, 8, 8], { generator: g }).to(device);
  return () => {
    const h = batchNorm(conv2d(x, w1, null, { padding: 1 }), null, null, null, null, { training: true }).relu();
    const loss = crossEntropy(conv2d(h, w2), y);
    loss.backward();
    return loss;
  };
}

const sumSelf = (rows: { selfMs: number }[]) => rows.reduce((s, r) => s + r.selfMs, 0);

describe('profile on the CPU', () => {
  it('totals agree with the wall time of the profiled call (within 5 ms + 5%) and the shares sum to 1', () => {
    const run = step();
    run(); // warm
    const t0 = performance.now();
    const p = profile(
      () => {
        for (let i = 0; i < 5; i++) run();
      },
      { print: false },
    );
    const wall = performance.now() - t0;
    expect(p.totalMs).toBeLessThanOrEqual(wall);
    expect(wall - p.totalMs).toBeLessThanOrEqual(5 + 0.05 * wall);
    expect(p.phases.forward.wallMs + p.phases.backward.wallMs).toBeCloseTo(p.totalMs, 6);
    expect(sumSelf(p.rows)).toBeCloseTo(p.totalMs, 6); // the outside-kernels rows close the gap
    expect(p.rows.reduce((s, r) => s + r.share, 0)).toBeCloseTo(1, 6);
    for (const ph of ['forward', 'backward'] as const) expect(p.phases[ph].dispatchMs).toBeLessThanOrEqual(p.phases[ph].wallMs + 1e-9);
  });

  it('names the ops that ran, forward and backward apart, with their call counts', () => {
    const run = step();
    const p = profile(() => run(), { print: false });
    const ops = (phase: string) => new Set(p.rows.filter((r) => r.phase === phase).map((r) => r.op));
    const fwd = ops('forward'),
      bwd = ops('backward');
    for (const op of ['conv2d', 'batchNormStats', 'batchNorm', 'unary.relu']) expect(fwd).toContain(op);
    for (const op of ['conv2dBackwardWeight', 'batchNormBackward', 'binary.reluBackward']) expect(bwd).toContain(op);
    expect(fwd).not.toContain('conv2dBackwardWeight');
    expect(bwd).not.toContain('batchNormStats');
    expect(p.rows.find((r) => r.phase === 'forward' && r.op === 'conv2d')!.calls).toBe(2);
    expect(p.phases.backward.wallMs).toBeGreaterThan(0);
    const table = p.table();
    expect(table).toMatch(/conv2dBackwardWeight/);
    expect(table).toMatch(/\(outside kernels\)/);
  });

  it('attributes a large matmul to bmm and counts its output bytes', () => {
    const g = gen(),
      a = randn([256, 256], { generator: g }),
      b = randn([256, 256], { generator: g });
    matmul(a, b);
    const p = profile(() => matmul(a, b), { print: false });
    const row = p.rows.find((r) => r.op === 'bmm')!;
    expect(row.calls).toBe(1);
    expect(row.bytes).toBe(256 * 256 * 4);
    expect(row.selfMs / p.totalMs).toBeGreaterThan(0.5);
    expect(p.value).toBeInstanceOf(Tensor);
  });

  it('prints its table unless told not to', () => {
    const lines: string[] = [];
    profile(() => randn([4]).add(1), { print: (s) => lines.push(s), label: 'tiny' });
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/^profile tiny: /);
    expect(lines[0]).toMatch(/binary\.add/);
  });

  it('refuses to nest, and stops on a throw', () => {
    expect(() => profile(() => profile(() => 1, { print: false }), { print: false })).toThrow(TensorError);
    expect(() =>
      profile(
        () => {
          throw new RangeError('boom');
        },
        { print: false },
      ),
    ).toThrow(RangeError);
    expect(profile(() => 2, { print: false }).value).toBe(2); // no profile left running
  });

  it('profileSteps profiles the intervals between calls after the skipped ones', () => {
    const got: number[] = [];
    const f = profileSteps((x: Tensor) => x.mul(2), {
      skip: 1,
      steps: 2,
      print: false,
      onProfile: (p, k) => got.push(k, p.rows.filter((r) => r.op === 'binary.mul').length),
    });
    const x = randn([8]);
    for (let i = 0; i < 5; i++) f(x);
    expect(got).toEqual([2, 1, 3, 1]); // printed when calls 2 and 3 start: each interval saw one mul
  });
});

describe('profile on the GPU backend (cpu mode)', () => {
  beforeAll(async () => void (await initBackend('gpu', { mode: 'cpu' })));
  afterAll(() => disposeBackend('gpu'));

  it('reports queued kernel time and flushed time (read-back) separately', () => {
    const run = step('gpu');
    run();
    const p = profile(() => run().item(), { print: false });
    const kinds = new Set(p.rows.map((r) => r.kind));
    expect(kinds).toContain('queued');
    expect(kinds).toContain('flush');
    expect(p.rows.find((r) => r.op === 'readSync')!.calls).toBe(1);
    expect(p.gpu.queuedMs).toBeGreaterThan(0);
    expect(p.gpu.flushedMs).toBeGreaterThan(0);
    expect(p.table()).toMatch(/gpu: queued .* flushed/);
  });
});

// tidy() and keep() (packages/tensor/src/tidy.ts): what survives a tidy (its result, kept tensors,
// leaves' gradients, module and optimizer state, a graph that can still backward), what is released
// (and then refuses every read and write with an error naming the op), nesting, the buffer pool's
// accounting, kernel scratch and user arrays left alone, and training inside tidy with the bits of
// training without it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, Tensor, TensorError, conv2d, crossEntropy, keep, matmul, randint, randn, tidy, tidyStats } from '@lad/tensor';
import { Adam, BatchNorm2d, Conv2d, Module, SGD } from '@lad/nn';
import { alloc, allocShared, pooled, release } from '../packages/tensor/src/backend/cpu/alloc.ts';
import { expectError } from './util/expect-error.ts';

const g = new Generator(3);
/** A float32 tensor big enough to be released (arrays of up to 64 bytes are left to the GC). */
const big = (shape = [4, 8]) => randn(shape, { generator: g });
const same = (a: Tensor, b: Tensor) => expect([...a.data()]).toEqual([...b.data()]);

describe('tidy: what survives', () => {
  it('returns its result, tensors in arrays, plain objects and maps, with their values', () => {
    const x = big();
    const ref = { a: x.mul(2), b: x.add(1), c: x.exp(), d: x.sum() };
    const r = tidy(() => ({ a: x.mul(2), list: [x.add(1), { deep: new Map([['c', x.exp()]]) }], d: x.sum(), n: 7 }));
    for (let i = 0; i < 3; i++) tidy(() => x.mul(5).add(x).exp()); // churn the pool with the same shapes
    same(r.a, ref.a);
    same(r.list[0] as Tensor, ref.b);
    same((r.list[1] as { deep: Map<string, Tensor> }).deep.get('c')!, ref.c);
    same(r.d, ref.d);
    expect(r.n).toBe(7);
  });

  it('keeps a view of a buffer when the view is returned, and whatever keep() marks', () => {
    const x = big();
    let kept!: Tensor;
    const v = tidy(() => {
      kept = keep(x.mul(3));
      return x.add(1).reshape([32]).slice(0, 2, 10); // a view of an op's output
    });
    tidy(() => x.add(1).mul(3).sub(2));
    expect([...v.data()]).toEqual([...x.add(1).reshape([32]).slice(0, 2, 10).data()]);
    same(kept, x.mul(3));
  });

  it('runs no getter of a returned object', () => {
    let reads = 0;
    const r = tidy(() => ({
      get value() {
        return reads++;
      },
    }));
    expect(reads).toBe(0);
    expect(r.value).toBe(0);
  });

  it("keeps a leaf's gradient made inside, equal to the one made outside", () => {
    const w = big().requiresGrad_(),
      x = big();
    w.mul(x).exp().sum().backward();
    const ref = w.grad!;
    w.grad = null;
    tidy(() => w.mul(x).exp().sum().backward());
    tidy(() => x.exp().mul(x).add(1)); // reuse the pool
    same(w.grad!, ref);
  });

  it('keeps everything while a returned tensor can still backward, and releases nothing it needs', () => {
    const w = big().requiresGrad_(),
      x = big();
    const loss = tidy(() => w.mul(x).exp().mul(x.relu()).sum());
    tidy(() => x.mul(7).exp().relu()); // pool churn between the tidy and the backward
    loss.backward();
    const ref = w.mul(x).exp().mul(x).mul(x.relu());
    expect([...w.grad!.data()].map((v, i) => Math.abs(v - ref.data()[i]) <= 1e-6 * Math.abs(ref.data()[i]))).not.toContain(false);
  });
});

describe('tidy: a graph that can still backward', () => {
  it('keeps a createGraph gradient and its graph, so it can be differentiated after the tidy', () => {
    const w = big().requiresGrad_();
    tidy(() => w.pow(3).sum().backward(undefined, { createGraph: true })); // grad = 3w², with a graph
    tidy(() => w.mul(9).exp().add(1)); // pool churn
    const g1 = [...w.grad!.data()];
    const gg = w.grad!;
    w.grad = null;
    gg.sum().backward(); // d/dw Σ 3w² = 6w
    expect(g1).toEqual([...w.detach().pow(2).mul(3).data()]);
    expect([...w.grad!.data()]).toEqual([...w.detach().mul(6).data()]);
  });
});

describe('tidy: released tensors refuse every use', () => {
  it('throws a TensorError naming the op for elementwise, matmul, conv2d, copy_, data and item', () => {
    const x = big();
    let stale!: Tensor, stale1!: Tensor;
    tidy(() => {
      stale = x.mul(2);
      stale1 = x.sum().expand([20]).contiguous().slice(0, 0, 1).reshape([]); // one element over a 20-element buffer
    });
    expectError(() => stale.add(1), TensorError, 'add', 'released by tidy()', '[4, 8]');
    expectError(() => matmul(stale, big([8, 3])), TensorError, 'matmul', 'released by tidy()');
    expectError(() => conv2d(stale.reshape([1, 1, 4, 8]), big([2, 1, 3, 3])), TensorError, 'conv2d', 'released by tidy()');
    expectError(() => stale.copy_(1), TensorError, 'copy_', 'released by tidy()');
    expectError(() => stale.data(), TensorError, 'data', 'released by tidy()');
    expectError(() => stale1.item(), TensorError, 'item', 'released by tidy()');
    expect(stale.shape).toEqual([4, 8]); // metadata stays readable
  });

  it('releases what a throwing fn made, and rethrows its error', () => {
    const x = big();
    let stale!: Tensor;
    const before = tidyStats.released;
    expect(() =>
      tidy(() => {
        stale = x.mul(2);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(tidyStats.released).toBeGreaterThan(before);
    expectError(() => stale.neg(), TensorError, 'neg', 'released');
  });

  it('leaves arrays of up to 64 bytes to the GC, readable as before', () => {
    const x = big([4]);
    let small!: Tensor;
    tidy(() => void (small = x.mul(2)));
    same(small, x.mul(2));
  });
});

describe('tidy: nesting', () => {
  it('hands an inner result to the outer tidy, which releases it unless it returns it too', () => {
    const x = big();
    let innerStale!: Tensor, innerResult!: Tensor;
    const out = tidy(() => {
      innerResult = tidy(() => {
        innerStale = x.mul(2);
        return x.mul(3);
      });
      expectError(() => innerStale.data(), TensorError, 'data', 'released');
      same(innerResult, x.mul(3)); // alive until the outer tidy ends
      return innerResult.add(1);
    });
    same(out, x.mul(3).add(1));
    expectError(() => innerResult.data(), TensorError, 'data', 'released');
  });

  it('keep() inside an inner tidy outlives the outer one', () => {
    const x = big();
    let k!: Tensor;
    tidy(() => tidy(() => void (k = keep(x.mul(4)))));
    same(k, x.mul(4));
  });
});

describe('tidy: the buffer pool', () => {
  it('gives a released buffer to the pool, and the next alloc of its size reuses it (no fresh array)', () => {
    const n = 1237; // a size nothing else allocates
    const bytes0 = pooled.bytes,
      recycled0 = pooled.recycled;
    tidy(() => void big([n]));
    expect(pooled.bytes - bytes0).toBe(n * 4);
    expect(pooled.recycled - recycled0).toBe(1);
    const made0 = pooled.made,
      reused0 = pooled.reused;
    const kept = tidy(() => big([n]));
    expect(pooled.made - made0).toBe(0);
    expect(pooled.reused - reused0).toBe(1);
    expect(pooled.bytes).toBe(bytes0);
    expect(kept.size).toBe(n);
  });

  it('never releases kernel scratch (alloc made it, no tensor holds it) or an array the user wrapped', () => {
    let scratch!: Float32Array;
    const user = new Float32Array(100).fill(1.5);
    tidy(() => {
      scratch = alloc('float32', 100);
      Tensor.fromData(user, [100]).mul(2);
    });
    expect(scratch.length).toBe(100);
    expect(user.length).toBe(100);
    expect(user[99]).toBe(1.5);
  });

  it('never detaches an array on a SharedArrayBuffer, nor part of a larger buffer', () => {
    const shared = allocShared('float32', 100);
    expect(release(shared)).toBe(false);
    expect(shared.length).toBe(100);
    const part = new Float32Array(new ArrayBuffer(800), 400, 100);
    expect(release(part)).toBe(false);
    expect(part.length).toBe(100);
  });
});

describe('tidy: bad input', () => {
  it('throws a TypeError for a non-function, and for keep() of a non-tensor', () => {
    expect(() => tidy(42 as unknown as () => void)).toThrow(/^tidy: expected a function: got number\.$/);
    expect(() => tidy(null as unknown as () => void)).toThrow(TypeError);
    expect(() => keep([1, 2] as unknown as Tensor)).toThrow(/^keep: expected a Tensor: got an array\.$/);
  });

  it('refuses a Promise and releases nothing', () => {
    const x = big();
    let made!: Tensor;
    expectError(
      () =>
        tidy(() => {
          made = x.mul(2);
          return Promise.resolve(1);
        }),
      TensorError,
      'tidy',
      'Promise',
    );
    same(made, x.mul(2));
  });

  it('fuzz: chains of ops give the same bits inside and outside tidy, with the pool churning in between', () => {
    const ops: ((t: Tensor) => Tensor)[] = [
      (t) => t.mul(1.5),
      (t) => t.exp(),
      (t) => t.add(t),
      (t) => t.relu(),
      (t) => t.permute([1, 0]).contiguous(),
      (t) => t.sum(0, true).expand(t.shape).add(t),
    ];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: ops.length - 1 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 17, max: 40 }), (chain, n) => {
        const x = randn([n, n], { generator: new Generator(n) }).mul(0.1);
        const run = () => chain.reduce((t, k) => ops[k](t), x);
        const ref = [...run().data()];
        for (let i = 0; i < 2; i++) expect([...tidy(run).data()]).toEqual(ref);
      }),
      { numRuns: 25 },
    );
  });
});

/** conv → batch norm + ReLU → 1×1 conv, from the nn layers. */
class Net extends Module {
  c1: Conv2d;
  bn = new BatchNorm2d(6);
  c2: Conv2d;
  constructor(gen: Generator) {
    super();
    this.c1 = new Conv2d(3, 6, 3, { padding: 1, generator: gen });
    this.c2 = new Conv2d(6, 4, 1, { generator: gen });
  }
  forward(x: Tensor): Tensor {
    return this.c2.forward(this.bn.forward(this.c1.forward(x), 'relu')); // (N, 3, H, W) → (N, 4, H, W)
  }
}

/** A net and a batch. */
function net(seed: number): { model: Net; x: Tensor; y: Tensor } {
  const gen = new Generator(seed);
  return { model: new Net(gen), x: randn([2, 3, 9, 9], { generator: gen }), y: randint(0, 4, [2, 9, 9], { generator: gen }) };
}

describe('tidy: training', () => {
  /** Steps of SGD (momentum, weight decay) or Adam: losses, then parameters, BN running stats and optimizer state, as numbers. */
  function train(opt: 'sgd' | 'adam', tidied: boolean, buildInside: boolean): number[][] {
    const build = () => {
      const n = net(9);
      const o = opt === 'sgd' ? new SGD(n.model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }) : new Adam(n.model.parameters(), { lr: 0.01 });
      return { ...n, o };
    };
    const { model, x, y, o } = buildInside ? tidy(() => ({ box: build() })).box : build(); // a tidy around construction too
    const losses: number[] = [];
    const step = () => {
      const loss = crossEntropy(model.forward(x), y);
      loss.backward();
      o.step();
      o.zeroGrad();
      return loss.item();
    };
    for (let i = 0; i < 4; i++) losses.push(tidied ? tidy(step) : step());
    const state = Object.values(o.stateDict().state).flatMap((s) => Object.values(s).flatMap((v) => (v instanceof Tensor ? [...v.data()] : [Number(v)])));
    return [losses, ...model.parameters().map((p) => [...p.data()]), ...model.buffers().map((b) => [...b.data()]), state];
  }

  for (const opt of ['sgd', 'adam'] as const) {
    it(`${opt}: the same bits inside tidy as outside, with the model built inside a tidy or not`, () => {
      const plain = train(opt, false, false);
      const released0 = tidyStats.released;
      expect(train(opt, true, false)).toEqual(plain);
      expect(tidyStats.released).toBeGreaterThan(released0);
      expect(train(opt, true, true)).toEqual(plain);
    });
  }

  it('a steady step reuses every buffer the previous step released', () => {
    const { model, x, y } = net(4);
    const o = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const step = () => {
      crossEntropy(model.forward(x), y).backward();
      o.step();
      o.zeroGrad();
    };
    tidy(step);
    for (let i = 0; i < 2; i++) {
      const released0 = tidyStats.released;
      tidy(step);
      const released = tidyStats.released - released0,
        reused0 = pooled.reused;
      tidy(step);
      expect(released).toBeGreaterThan(10);
      expect(pooled.reused - reused0).toBeGreaterThanOrEqual(released);
    }
  });
});

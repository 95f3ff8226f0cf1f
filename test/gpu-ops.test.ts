// The GPU backend's gpu.js kernels, in the modes CI can run (cpu and webasm), against the CPU
// backend: elementwise (broadcasting, non-contiguous views, a flat size above 2^24), reductions,
// matmul, conv2d and its gradients, batch norm, movement ops, in-place copies, the queue in its
// asynchronous form, deferred device checks, the kernel cache, and the device errors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  arange,
  batchNorm,
  cat,
  conv2d,
  crossEntropy,
  disposeBackend,
  flush,
  gather,
  gpuStats,
  initBackend,
  matmul,
  pad,
  oneHot,
  randn,
  scatterAdd,
  tensor,
  where,
  zeros,
  DeviceError,
  ShapeError,
  DTypeError,
  ValueError,
} from '@lad/tensor';

const MODES = ['cpu', 'webasm'] as const;
const RUNS = 12;

/** |got − want| <= atol + rtol·|want| everywhere (float32 kernels against CPU float32 or float64). */
function close(got: ArrayLike<number>, want: ArrayLike<number>, rtol = 1e-5, atol = 1e-5): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]) && Number.isNaN(got[i])) continue;
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) {
      throw new Error(`element ${i}: gpu ${got[i]} vs cpu ${want[i]}`);
    }
  }
}

/** fn on CPU tensors and on their GPU copies: same shape, dtype and values (within tolerance). */
function agree(fn: (...xs: Tensor[]) => Tensor, xs: Tensor[], rtol = 1e-5, atol = 1e-5): void {
  const want = fn(...xs);
  const got = fn(...xs.map((x) => x.to('gpu')));
  expect(got.device).toBe('gpu');
  expect([...got.shape]).toEqual([...want.shape]);
  expect(got.dtype).toBe(want.dtype);
  close(got.data(), want.data(), rtol, atol);
}

/** A random non-contiguous view of x of the same logical content kind: a permutation, a flip and a step slice. */
const viewArb = fc.record({ perm: fc.boolean(), flip: fc.boolean(), step: fc.boolean() });
function strided(x: Tensor, v: { perm: boolean; flip: boolean; step: boolean }): Tensor {
  let t = x;
  if (v.perm && t.ndim >= 2) t = t.transpose(0, t.ndim - 1);
  if (v.flip && t.ndim >= 1) t = t.flip(0);
  if (v.step && t.ndim >= 1 && t.shape[t.ndim - 1] > 1) t = t.slice(t.ndim - 1, 0, null, 2);
  return t;
}

const shapeArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 });
const rnd = (shape: readonly number[]): Tensor => randn(shape);

describe.each(MODES)('gpu backend in gpu.js %s mode', (mode) => {
  beforeAll(async () => {
    const info = await initBackend('gpu', { mode });
    expect(info.mode).toBe(mode);
  });
  afterAll(async () => {
    await disposeBackend('gpu');
  });

  it('unary and binary ops, broadcasting and non-contiguous views agree with the CPU', () => {
    fc.assert(
      fc.property(shapeArb, viewArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (shape, v, seed) => {
        const x = rnd(shape).mul(2),
          y = rnd(shape.slice(1)).mul(2); // y broadcasts over dim 0
        void seed;
        for (const f of [
          (a: Tensor) => a.neg(),
          (a: Tensor) => a.exp(),
          (a: Tensor) => a.abs().add(0.1).log(),
          (a: Tensor) => a.abs().sqrt(),
          (a: Tensor) => a.abs().add(0.5).rsqrt(),
          (a: Tensor) => a.relu(),
          (a: Tensor) => a.sigmoid(),
          (a: Tensor) => a.tanh(),
        ])
          agree((a) => f(strided(a, v)), [x], 1e-5, 1e-6);
        for (const f of [
          (a: Tensor, b: Tensor) => a.add(b),
          (a: Tensor, b: Tensor) => a.sub(b),
          (a: Tensor, b: Tensor) => a.mul(b),
          (a: Tensor, b: Tensor) => a.div(b.abs().add(0.5)),
          (a: Tensor, b: Tensor) => a.maximum(b),
          (a: Tensor, b: Tensor) => a.minimum(b),
          (a: Tensor, b: Tensor) => a.gt(b),
          (a: Tensor, b: Tensor) => a.le(b),
          (a: Tensor, _b: Tensor) => a.eq(a),
          (a: Tensor, b: Tensor) => where(a.gt(0), a, b),
        ])
          agree(f, [x, y]);
        agree((a) => strided(a, v).add(1).mul(3), [x]);
      }),
      { numRuns: RUNS },
    );
  });

  it('pow of negative bases by integer exponents keeps the sign, like the CPU', () => {
    agree((a) => a.pow(3), [tensor([-2, -0.5, 0, 1.5])]);
    agree((a) => a.pow(2), [tensor([-2, -0.5, 0, 1.5])]);
    agree((a) => a.abs().pow(0.5), [tensor([-2, -0.5, 0, 1.5])]);
  });

  it('casts truncate toward zero, int32 arithmetic stays exact', () => {
    agree((a) => a.to('int32'), [tensor([-2.7, -0.5, 0.5, 3.9])]);
    agree((a) => a.add(a).mul(3), [tensor([1, -2, 300000], { dtype: 'int32' })]);
  });

  it('an elementwise op over a transposed view of more than 2^24 elements reads the right elements', () => {
    const n = 4097; // 4097² = 2^24 + 8193
    const x = arange(n * n, undefined, 1, { dtype: 'int32' }).reshape([n, n]);
    const y = x.to('gpu').T.add(1).data(); // y[i, j] = x[j, i] + 1
    for (const [i, j] of [
      [0, 0],
      [4096, 4096],
      [4096, 4095],
      [4095, 4096],
      [1234, 4096],
      [4096, 3],
      [2048, 2048],
    ]) {
      const want = (j * n + i) % 2 ** 24 === j * n + i ? j * n + i + 1 : null; // float32 holds integers exactly up to 2^24
      if (want !== null) expect(y[i * n + j]).toBe(want);
      else expect(Math.abs(y[i * n + j] - (j * n + i + 1))).toBeLessThanOrEqual(2); // one float32 ulp at 2^24
    }
    // and a float pass that checks the index, not the value: x − x[ij] through two views of the same data
    const d = x.to('gpu').T.sub(x.T.to('gpu')).abs().amax().item();
    expect(d).toBe(0);
  });

  it('reductions over any dims, with keepdim and argmax/argmin, agree with the CPU', () => {
    fc.assert(
      fc.property(shapeArb, viewArb, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.boolean(), (shape, v, pick, keep) => {
        const x = rnd(shape);
        const dims = shape.map((_, d) => d).filter((d) => pick[d]);
        agree((a) => strided(a, v).sum(dims.length ? dims : null, keep), [x]);
        agree((a) => strided(a, v).mean(dims.length ? dims : null, keep), [x]);
        agree((a) => strided(a, v).amax(dims.length ? dims : null, keep), [x]);
        agree((a) => strided(a, v).amin(dims.length ? dims : null, keep), [x]);
        agree((a) => strided(a, v).argmax(shape.length - 1, keep), [x]);
        agree((a) => strided(a, v).var(dims.length ? dims : null), [x], 1e-4, 1e-5);
        agree((a) => strided(a, v).softmax(0), [x]);
        agree((a) => strided(a, v).logSoftmax(shape.length - 1), [x], 1e-5, 1e-5);
      }),
      { numRuns: RUNS },
    );
  });

  it('batched matmul with broadcasting and transposed operands agrees with the CPU', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        (B, M, N, K, tr) => {
          const a = rnd([B, M, K]),
            b = rnd(tr ? [N, K] : [K, N]);
          agree((x, y) => matmul(x, tr ? y.T : y), [a, b], 1e-4, 1e-5);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('conv2d forward and both gradients agree with the CPU over random geometry', () => {
    fc.assert(
      fc.property(
        fc.record({
          N: fc.integer({ min: 1, max: 2 }),
          g: fc.integer({ min: 1, max: 2 }),
          cg: fc.integer({ min: 1, max: 3 }),
          og: fc.integer({ min: 1, max: 3 }),
          H: fc.integer({ min: 3, max: 9 }),
          W: fc.integer({ min: 3, max: 9 }),
          k: fc.integer({ min: 1, max: 3 }),
          s: fc.integer({ min: 1, max: 2 }),
          p: fc.integer({ min: 0, max: 2 }),
          d: fc.integer({ min: 1, max: 2 }),
          bias: fc.boolean(),
        }),
        ({ N, g, cg, og, H, W, k, s, p, d, bias }) => {
          fc.pre(H + 2 * p - d * (k - 1) - 1 >= 0 && W + 2 * p - d * (k - 1) - 1 >= 0);
          const x = rnd([N, g * cg, H, W]),
            w = rnd([g * og, cg, k, k]),
            b = rnd([g * og]);
          const opts = { stride: s, padding: p, dilation: d, groups: g };
          const run = (dev: 'cpu' | 'gpu') => {
            const [xx, ww, bb] = [x, w, b].map((t) => t.to(dev).detach().requiresGrad_());
            const y = conv2d(xx, ww, bias ? bb : null, opts);
            const v = randn(y.shape, { generator: undefined }).mul(0).add(1).to(dev); // a fixed weighting
            y.mul(v).square().sum().backward();
            return [y, xx.grad!, ww.grad!, ...(bias ? [bb.grad!] : [])].map((t) => t.data());
          };
          const [c, gg] = [run('cpu'), run('gpu')];
          c.forEach((want, i) => close(gg[i], want, 1e-4, 1e-4));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('batch norm (training and eval, alone and fused with a ReLU) with running stats and gradients agrees with the CPU', () => {
    for (const [training, activation] of [
      [true, null],
      [false, null],
      [true, 'relu'],
      [false, 'relu'],
    ] as const) {
      const x = rnd([3, 4, 5, 2]),
        w = rnd([4]),
        b = rnd([4]),
        m0 = rnd([4]),
        v0 = rnd([4]).abs().add(0.5);
      const run = (dev: 'cpu' | 'gpu') => {
        const rm = m0.clone().to(dev),
          rv = v0.clone().to(dev);
        const [xx, ww, bb] = [x, w, b].map((t) => t.to(dev).detach().requiresGrad_());
        const y = batchNorm(xx, rm, rv, ww, bb, { training, momentum: 0.1, eps: 1e-5, activation });
        y.mul(y).sum().backward();
        return [y, rm, rv, xx.grad!, ww.grad!, bb.grad!].map((t) => t.data());
      };
      const [c, g] = [run('cpu'), run('gpu')];
      c.forEach((want, i) => close(g[i], want, 1e-4, 1e-4));
    }
  });

  it('pad, cat, gather, scatterAdd and cross-entropy with ignored targets agree with the CPU', () => {
    fc.assert(
      fc.property(shapeArb, viewArb, (shape, v) => {
        const x = rnd(shape);
        agree((a) => pad(strided(a, v), [1, -0, 2, 1].slice(0, 2 * Math.min(2, shape.length)), 0.5), [x]);
        agree((a, b) => cat([strided(a, v), strided(b, v)], 0), [x, rnd(shape)]);
      }),
      { numRuns: RUNS },
    );
    const x = rnd([3, 5, 4]);
    const idx = tensor(
      [
        [[0], [4], [2]],
        [[1], [1], [3]],
        [[4], [0], [0]],
      ],
      { dtype: 'int32' },
    ); // (3, 3, 1)
    agree((a, i) => gather(a, 1, i), [x, idx]);
    agree((s, i) => scatterAdd([3, 5, 2], 1, i, s), [rnd([3, 3, 1]), idx]);
    const logits = rnd([2, 4, 3, 3]),
      target = tensor(
        [...Array(18)].map((_, i) => (i % 7 === 0 ? -100 : i % 4)),
        { shape: [2, 3, 3], dtype: 'int32' },
      );
    agree((l, t) => crossEntropy(l, t, { ignoreIndex: -100 }), [logits, target]);
    const lg = logits.to('gpu').requiresGrad_(),
      lc = logits.clone().requiresGrad_();
    crossEntropy(lg, target.to('gpu')).backward();
    crossEntropy(lc, target).backward();
    close(lg.grad!.data(), lc.grad!.data(), 1e-5, 1e-6);
  });

  it('copy_ writes in place through step slices and flips; other views of the buffer see it', () => {
    const base = arange(24, undefined, 1, { dtype: 'float32' }).reshape([4, 6]);
    const g = base.to('gpu');
    const c = base.clone();
    for (const [f, src] of [
      [(t: Tensor) => t.slice(1, 1, null, 2), tensor([[-1], [-2], [-3], [-4]])],
      [(t: Tensor) => t.flip(0).slice(0, 0, 2), tensor([9, 8, 7, 6, 5, 4]).mul(10)],
      [(t: Tensor) => t.T.slice(0, 2, 4), zeros([2, 4])],
    ] as const) {
      f(g).copy_(src);
      f(c).copy_(src);
      expect(g.toArray()).toEqual(c.toArray());
      expect(g.reshape([24]).slice(0, 3, 9).toArray()).toEqual(c.reshape([24]).slice(0, 3, 9).toArray());
    }
    expect(() =>
      g
        .slice(0, 0, 1)
        .expand([3, 6])
        .copy_(zeros([3, 6])),
    ).toThrow(ShapeError); // checked before dispatch, on every device
  });

  it('an out-of-range index on the device is reported at the next read, naming the op', async () => {
    const x = rnd([2, 3]).to('gpu');
    const y = gather(x, 1, tensor([[0], [3]], { dtype: 'int32' }).to('gpu'));
    expect(() => y.data()).toThrow(ShapeError);
    expect(() => y.data()).not.toThrow(); // reported once
    const bad = tensor([0, 5], { dtype: 'int32' }).to('gpu');
    crossEntropy(rnd([2, 3]).to('gpu'), bad);
    await expect(flush()).rejects.toThrow(/crossEntropy|nllLoss/);
  });

  it('oneHot of labels on the GPU: the class table is made there, the result stays there and matches the CPU', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 5, max: 7 }), (ls, C) => {
        const labels = tensor(ls, { dtype: 'int32', shape: [ls.length] });
        const got = oneHot(labels.to('gpu'), C);
        expect(got.device).toBe('gpu');
        expect(got.dtype).toBe('int32');
        expect(got.toArray()).toEqual(oneHot(labels, C).toArray());
      }),
      { numRuns: RUNS },
    );
    const bad = oneHot(tensor([0, 9], { dtype: 'int32' }).to('gpu'), 3); // checked on the device, reported at the read
    expect(() => bad.data()).toThrow(/^oneHot: /);
  });

  it('an int32 sum is exact on the device, or reported at the next read when float32 cannot hold it', () => {
    const small = tensor(
      [
        [4_000_000, 4_000_001, -3],
        [7, 8, 9],
      ],
      { dtype: 'int32' },
    );
    expect(Array.from(small.to('gpu').sum(1).data())).toEqual([8_000_001 - 3, 24]);
    const big = tensor([8_000_000, 400_001, 1], { dtype: 'int32' }).to('gpu').sum(); // Σ|x| ≥ 2^23
    expect(() => big.data()).toThrow(ValueError);
    const again = tensor([8_000_000, 400_001, 1], { dtype: 'int32' }).to('gpu').sum();
    expect(() => again.data()).toThrow(/^sum: an int32 sum over input \[3\] on the gpu reaches 2\^23/);
    expect(tensor([8_000_000, 400_001, 1], { dtype: 'int32' }).sum().item()).toBe(8_400_002); // the CPU is exact
  });

  it('a float → int32 cast of a value int32 cannot hold is reported at the next read, naming to', () => {
    const y = tensor([1, 3e9, -2]).to('gpu').to('int32');
    expect(() => y.data()).toThrow(ValueError);
    expect(Array.from(tensor([1.5, -2.5]).to('gpu').to('int32').data())).toEqual([1, -2]);
    const z = tensor([NaN]).to('gpu').to('int32');
    expect(() => z.data()).toThrow(/^to: /);
  });

  it('mixing devices, float64 on the GPU, and an unknown mode are clear errors', async () => {
    const a = rnd([2]).to('gpu'),
      b = rnd([2]);
    expect(() => a.add(b)).toThrow(DeviceError);
    expect(() => a.add(b)).toThrow(/to\('gpu'\)|to\('cpu'\)/);
    expect(() => tensor([1, 2], { dtype: 'float64' }).to('gpu')).toThrow(DeviceError);
    await expect(initBackend('gpu', { mode: 'quantum' as 'cpu' })).rejects.toThrow(DeviceError);
    await initBackend('gpu', { mode });
  });

  it('the kernel cache evicts least recently used kernels and results stay right', async () => {
    await initBackend('gpu', { mode, cacheSize: 4 });
    const before = (await gpuStats()).evicted;
    for (let k = 1; k <= 6; k++) agree((a) => a.exp().sum(0), [rnd([k, 3])]); // a new shape: new kernels each time
    const stats = await gpuStats();
    expect(stats.cachedKernels).toBeLessThanOrEqual(4);
    expect(stats.evicted).toBeGreaterThan(before);
    await initBackend('gpu', { mode });
  });

  it('asynchronous kernels: the queue runs at await, and synchronous reads say how to read', async () => {
    await initBackend('gpu', { mode, asyncKernels: true });
    const x = rnd([2, 3, 4, 4]),
      w = rnd([5, 3, 3, 3]);
    const xg = x.to('gpu').requiresGrad_();
    const y = conv2d(xg, w.to('gpu'), null, { padding: 1 }).relu().sum();
    expect(() => y.item()).toThrow(DeviceError);
    expect(() => y.item()).toThrow(/itemAsync|dataAsync/);
    y.backward();
    const xc = x.clone().requiresGrad_();
    const yc = conv2d(xc, w, null, { padding: 1 }).relu().sum();
    yc.backward();
    close([await y.itemAsync()], [yc.item()], 1e-5, 1e-4);
    close(await xg.grad!.dataAsync(), xc.grad!.data(), 1e-4, 1e-4);
    expect((await xg.grad!.cpuAsync()).device).toBe('cpu');
    await initBackend('gpu', { mode });
  });
});

describe('gpu backend without initBackend', () => {
  it('moving to the GPU says how to initialise it', () => {
    expect(() => tensor([1]).to('gpu')).toThrow(/initBackend\('gpu'\)/);
    expect(() => tensor([1]).to('gpu')).toThrow(DeviceError);
    void DTypeError;
  });
});

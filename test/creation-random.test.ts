// Tests for tensor creation (ops/create.ts), the seeded Generator (random.ts), ndarray interop,
// read-back (toArray, item) and dtype promotion. PyTorch's creation functions are the reference.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  tensor,
  zeros,
  ones,
  full,
  arange,
  linspace,
  eye,
  rand,
  randn,
  randint,
  fromNdarray,
  toNdarray,
  zerosLike,
  onesLike,
  fullLike,
  Generator,
  defaultGenerator,
  manualSeed,
  add,
  div,
  ShapeError,
  DTypeError,
  ValueError,
} from '@lad/tensor';
import { expectClose, expectThrows, seedArb } from './util/nn-arb.ts';

const bits = (t: Tensor): number[] => Array.from(t.data());

describe('tensor()', () => {
  it('from nested arrays infers the shape, float32 by default', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(tensor(7).shape).toEqual([]);
    expect(tensor(7).item()).toBe(7);
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([[[1], [2]]], { dtype: 'int32' }).shape).toEqual([1, 2, 1]);
    expect(tensor([1.5, 2.5], { dtype: 'int32' }).toArray()).toEqual([1, 2]);
  });

  it('from typed arrays keeps their dtype, copies, and takes a shape', () => {
    const src = new Float64Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(src, { shape: [3, 2] });
    expect(t.dtype).toBe('float64');
    expect(t.shape).toEqual([3, 2]);
    src[0] = 99;
    expect(t.toArray()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(tensor(new Int32Array([1, 2])).dtype).toBe('int32');
    expect(tensor(new Float32Array([1, 2]), { dtype: 'float64' }).dtype).toBe('float64');
    expect(tensor([1, 2, 3, 4], { shape: [2, 2] }).toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('round-trips random nested arrays through toArray', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }), seedArb, (shape, seed) => {
        const g = new Generator(seed);
        const build = (d: number): unknown => (d === shape.length ? g.nextInt(-50, 50) : Array.from({ length: shape[d] }, () => build(d + 1)));
        const nested = build(0) as number[];
        for (const dtype of ['float32', 'float64', 'int32'] as const) {
          const t = tensor(nested, { dtype });
          expect(t.shape).toEqual(shape);
          expect(t.toArray()).toEqual(nested);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('ragged arrays and wrong sizes are ShapeErrors', () => {
    expectThrows(() => tensor([[1, 2], [3]]), ShapeError, ['ragged']);
    expectThrows(() => tensor([[1, 2], 3] as never), ShapeError, ['ragged']);
    expectThrows(() => tensor([1, [2, 3]] as never), ShapeError, ['ragged']);
    expectThrows(() => tensor(new Float32Array(5), { shape: [2, 3] }), ShapeError, ['5 values', '[2, 3]']);
    expectThrows(() => tensor([1, 2, 3], { shape: [2, 2] }), ShapeError, ['[2, 2]']);
    expectThrows(() => tensor([1], { dtype: 'float16' as 'float32' }), DTypeError, ['float16']);
  });
});

describe('constants and ranges', () => {
  it('zeros, ones, full and the *Like variants', () => {
    expect(zeros([2, 2]).toArray()).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(ones([3], { dtype: 'int32' }).dtype).toBe('int32');
    expect(full([2], 2.5, { dtype: 'float64' }).toArray()).toEqual([2.5, 2.5]);
    expect(zeros([0, 3]).size).toBe(0);
    expect(zeros([]).shape).toEqual([]);
    const x = full([2, 3], 4, { dtype: 'float64' });
    expect(zerosLike(x).dtype).toBe('float64');
    expect(onesLike(x).toArray()).toEqual([
      [1, 1, 1],
      [1, 1, 1],
    ]);
    expect(fullLike(x, 7, { dtype: 'int32' }).dtype).toBe('int32');
    expect(ones([2], { requiresGrad: true }).requiresGrad).toBe(true);
    expectThrows(() => zeros([-1]), ValueError, ['shape']);
    expectThrows(() => zeros([1.5]), ValueError);
  });

  it('arange: int32 for integer arguments, float otherwise, like torch.arange', () => {
    expect(arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(5).dtype).toBe('int32');
    expect(arange(2, 8, 3).toArray()).toEqual([2, 5]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(arange(3, 3).size).toBe(0);
    const f = arange(0, 1, 0.25);
    expect(f.dtype).toBe('float32');
    expect(f.toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(0, 3, 1, { dtype: 'float64' }).dtype).toBe('float64');
    expectThrows(() => arange(0, 3, 0), ValueError, ['step']);
  });

  it('linspace includes both ends; eye is the identity', () => {
    expectClose(linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1], 0, 0);
    expectClose(linspace(-1, 1, 1), [-1], 0, 0);
    expect(linspace(0, 1, 0).size).toBe(0);
    expect(eye(3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(eye(2, 3, { dtype: 'int32' }).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expectThrows(() => linspace(0, 1, -1), ValueError, ['steps']);
  });
});

describe('random', () => {
  it('manualSeed twice gives identical bits; different seeds differ', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        manualSeed(seed);
        const a = [rand([17]), randn([17]), randint(-5, 5, [17]), rand([3], { dtype: 'float64' })].map(bits);
        manualSeed(seed);
        const b = [rand([17]), randn([17]), randint(-5, 5, [17]), rand([3], { dtype: 'float64' })].map(bits);
        expect(b).toEqual(a);
        manualSeed(seed + 1);
        expect(bits(rand([17]))).not.toEqual(a[0]);
        // an explicit generator leaves the default one alone
        manualSeed(seed);
        rand([5], { generator: new Generator(1) });
        expect(bits(rand([17]))).toEqual(a[0]);
      }),
      { numRuns: 20 },
    );
  });

  it('rough distributions over 1e4 draws', () => {
    const g = new Generator(123);
    const u = Array.from(rand([10000], { generator: g, dtype: 'float64' }).data());
    const n = Array.from(randn([10001], { generator: g, dtype: 'float64' }).data());
    const stats = (xs: number[]) => {
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      return [m, Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length)];
    };
    const [mu, su] = stats(u),
      [mn, sn] = stats(n);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(mu - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(su - Math.sqrt(1 / 12))).toBeLessThan(0.02);
    expect(Math.abs(mn)).toBeLessThan(0.05);
    expect(Math.abs(sn - 1)).toBeLessThan(0.05);
    expect(n.every(Number.isFinite)).toBe(true);
    expect(n.filter((v) => Math.abs(v) < 1).length / n.length).toBeCloseTo(0.6827, 1);
    // float32 draws stay in [0, 1) too
    expect(Math.max(...rand([10000], { generator: g }).data())).toBeLessThan(1);
  });

  it('float32 rand stays below 1 even for the largest 53-bit draw', () => {
    // Build a xoshiro128** state whose next two outputs are 0xffffffff, so that nextFloat() is
    // (2^53 − 1)/2^53, which rounds to exactly 1 in float32. Output r = rotl(s1·5, 7)·9 is inverted
    // for s1; s0 = s2 keeps s1 unchanged by the state update, so the second output is the same.
    const inv = (a: number) => {
      let x = a;
      for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
      return x >>> 0;
    };
    const rotr = (x: number, k: number) => ((x >>> k) | (x << (32 - k))) >>> 0;
    const s1 = Math.imul(rotr(Math.imul(0xffffffff, inv(9)) >>> 0, 7), inv(5)) >>> 0;
    const state = [12345, s1, 12345, 1];
    const g = new Generator().setState(state);
    expect([g.nextU32(), g.nextU32()]).toEqual([0xffffffff, 0xffffffff]);
    expect(rand([1], { generator: new Generator().setState(state), dtype: 'float64' }).item()).toBeLessThan(1);
    const u = rand([4], { generator: new Generator().setState(state) });
    for (const v of u.data()) expect(v).toBeLessThan(1);
  });

  it('randint covers [low, high) and nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10, max: 10 }), fc.integer({ min: 1, max: 6 }), seedArb, (low, span, seed) => {
        const t = randint(low, low + span, [400], { generator: new Generator(seed) });
        expect(t.dtype).toBe('int32');
        const seen = new Set(t.data());
        for (const v of seen) expect(v >= low && v < low + span).toBe(true);
        expect(seen.size).toBe(span);
      }),
      { numRuns: 20 },
    );
    expectThrows(() => randint(3, 3, [2]), ValueError, ['low < high']);
    expectThrows(() => randint(0, 2.5, [2]), ValueError);
    expectThrows(() => rand([2], { dtype: 'int32' }), DTypeError, ['randint']);
  });

  it('getState / setState round-trip continues the same sequence', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 0, max: 20 }), (seed, skip) => {
        const g = new Generator(seed);
        for (let i = 0; i < skip; i++) g.nextU32();
        const state = g.getState();
        const a = bits(randn([9], { generator: g }));
        const h = new Generator(999).setState(state);
        expect(bits(randn([9], { generator: h }))).toEqual(a);
        g.setState(state);
        expect(bits(randn([9], { generator: g }))).toEqual(a);
        expect(JSON.parse(JSON.stringify(state))).toEqual(state); // serialisable in a checkpoint
      }),
      { numRuns: 20 },
    );
    expectThrows(() => new Generator().setState([0, 0, 0, 0]), ValueError);
    expectThrows(() => new Generator().setState([1, 2, 3]), ValueError);
    expectThrows(() => manualSeed(Number.NaN), ValueError);
  });

  it('fillNormal draws nextNormalPair’s numbers bit for bit (pairs in order, an odd tail dropping its second)', () => {
    fc.assert(
      fc.property(
        seedArb,
        fc.integer({ min: 0, max: 41 }),
        fc.double({ min: -3, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 4, noNaN: true }),
        fc.boolean(),
        (seed, n, mean, std, f64) => {
          const out = f64 ? new Float64Array(n) : new Float32Array(n);
          const g = new Generator(seed);
          g.fillNormal(out, mean, std);
          const ref = f64 ? new Float64Array(n) : new Float32Array(n),
            h = new Generator(seed);
          for (let i = 0; i < n; i += 2) {
            const [a, b] = h.nextNormalPair();
            ref[i] = mean + std * a;
            if (i + 1 < n) ref[i + 1] = mean + std * b;
          }
          expect(Array.from(out, (v) => (Object.is(v, -0) ? '-0' : v))).toEqual(Array.from(ref, (v) => (Object.is(v, -0) ? '-0' : v)));
          expect(g.getState()).toEqual(h.getState()); // the same number of draws
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the default generator is what manualSeed seeds', () => {
    manualSeed(5);
    const s = defaultGenerator.getState();
    expect(new Generator(5).getState()).toEqual(s);
  });

  it('shuffle and randperm are permutations', () => {
    const g = new Generator(7);
    const p = g.randperm(20);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(new Generator(7).randperm(20)).toEqual(p);
  });
});

describe('ndarray interop and read-back', () => {
  it('toNdarray / fromNdarray share memory, including strided views', () => {
    const t = tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { dtype: 'float64' },
    );
    const nd = toNdarray(t);
    expect(nd.data).toBe(t.storage.data);
    nd.set(0, 1, 20);
    expect(t.toArray()).toEqual([
      [1, 20, 3],
      [4, 5, 6],
    ]);
    const tt = fromNdarray(nd.transpose(1, 0)); // (3, 2) view
    expect(tt.shape).toEqual([3, 2]);
    expect(tt.toArray()).toEqual([
      [1, 4],
      [20, 5],
      [3, 6],
    ]);
    tt.storage.set(2, 1, 60);
    expect(t.toArray()).toEqual([
      [1, 20, 3],
      [4, 5, 60],
    ]);
    const sliced = fromNdarray(nd.lo(0, 1)); // columns 1..2
    expect(sliced.toArray()).toEqual([
      [20, 3],
      [5, 60],
    ]);
    expect(sliced.storage.data).toBe(t.storage.data);
  });

  it('fromNdarray rejects untyped data', () => {
    const nd = toNdarray(tensor([1, 2]));
    expectThrows(() => fromNdarray({ ...nd, data: [1, 2] as never, dtype: 'array' } as never), DTypeError);
  });

  it('toArray on views and item', () => {
    const t = arange(6).reshape(2, 3);
    expect(t.T.toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    expect(t.slice(1, 0, null, 2).toArray()).toEqual([
      [0, 2],
      [3, 5],
    ]);
    expect(t.select(0, 1).select(0, 2).item()).toBe(5);
    expect(tensor([[3.5]]).item()).toBe(3.5);
    expectThrows(() => t.item(), ShapeError, ['[2, 3]']);
    expect(Array.from(t.T.data())).toEqual([0, 3, 1, 4, 2, 5]);
  });
});

describe('dtype handling', () => {
  it('int32 + float32 → float32; int32 / int32 → float32 true division; float64 wins', () => {
    const i = tensor([7, -7, 1], { dtype: 'int32' });
    const f = tensor([0.5, 0.5, 0.5]);
    const s = add(i, f);
    expect(s.dtype).toBe('float32');
    expect(s.toArray()).toEqual([7.5, -6.5, 1.5]);
    const q = div(i, tensor([2, 2, 4], { dtype: 'int32' }));
    expect(q.dtype).toBe('float32');
    expect(q.toArray()).toEqual([3.5, -3.5, 0.25]);
    expect(i.add(i).dtype).toBe('int32');
    expect(i.mul(2).dtype).toBe('int32');
    expect(i.mul(0.5).dtype).toBe('float32');
    expect(f.add(tensor([1], { dtype: 'float64' })).dtype).toBe('float64');
    expect(i.div(2).toArray()).toEqual([3.5, -3.5, 0.5]);
    expect(i.to('float64').dtype).toBe('float64');
    expect(tensor([2.7, -2.7]).to('int32').toArray()).toEqual([2, -2]); // truncation, like torch
  });
});

describe('int32 range on the way in', () => {
  const LIM = 2 ** 31;
  /** doubles around the int32 limits, with NaN and ±Infinity. */
  const near = fc.oneof(
    fc.integer({ min: -LIM - 3, max: -LIM + 3 }),
    fc.integer({ min: LIM - 3, max: LIM + 3 }),
    fc.double({ min: -LIM - 2, max: LIM + 2 }),
    fc.constantFrom(NaN, Infinity, -Infinity, 3e9, -3e9, 2 ** 40),
    fc.integer({ min: -9, max: 9 }),
  );
  const fits = (v: number) => Number.isFinite(v) && Math.trunc(v) >= -LIM && Math.trunc(v) <= LIM - 1;

  it('tensor(…, int32) keeps values that truncate into int32 and throws a ValueError naming the value otherwise', () => {
    fc.assert(
      fc.property(fc.array(near, { minLength: 1, maxLength: 6 }), fc.boolean(), (vs, typed) => {
        const make = () => tensor(typed ? Float64Array.from(vs) : vs, { dtype: 'int32' });
        const bad = vs.findIndex((v) => !fits(v));
        if (bad < 0) expect(bits(make())).toEqual(vs.map((v) => Math.trunc(v) + 0));
        else expectThrows(make, ValueError, ['tensor: ', `value ${vs[bad]}`, 'int32']);
      }),
      { numRuns: 100 },
    );
  });

  it('full, arange, linspace, randint and .to("int32") check the same range', () => {
    fc.assert(
      fc.property(near, (v) => {
        const ok = fits(v);
        const expectFit = (f: () => Tensor, op: string, want: number) => {
          if (ok)
            expect(bits(f())[0]).toBe(want + 0); // int32 has no -0
          else expectThrows(f, ValueError, [`${op}: `, 'int32']);
        };
        expectFit(() => full([2], v, { dtype: 'int32' }), 'full', Math.trunc(v));
        expectFit(() => tensor([v], { dtype: 'float64' }).to('int32'), 'to', Math.trunc(v));
        expectFit(() => tensor([v], { dtype: 'float64' }).reshape([1, 1]).T.to('int32'), 'to', Math.trunc(v)); // a view
        if (Number.isInteger(v) && v > 0) {
          expectFit(() => arange(v - 1, v + 1, 1, { dtype: 'int32' }), 'arange', v - 1);
          expectFit(() => linspace(0, v, 2, { dtype: 'int32' }), 'linspace', 0);
          // randint's largest draw is high − 1
          if (Number.isSafeInteger(v + 1)) expectFit(() => randint(v, v + 1, [3]), 'randint', v);
          else expectThrows(() => randint(v, v + 1, [3]), ValueError, ['randint']);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('the examples: 3e9, NaN, randint(0, 2**40)', () => {
    expectThrows(() => tensor([3e9], { dtype: 'int32' }), ValueError, ['tensor', '3000000000']);
    expectThrows(() => tensor([1, NaN], { dtype: 'int32' }), ValueError, ['tensor', 'NaN', 'element 1']);
    expectThrows(() => randint(0, 2 ** 40, [2]), ValueError, ['randint', String(2 ** 40)]);
    expect(randint(0, 2 ** 40, [2], { dtype: 'float64' }).dtype).toBe('float64'); // a float dtype holds it
    expectThrows(() => randint(0, 2 ** 60, [2], { dtype: 'float64' }), ValueError, ['randint', 'safe integers']);
    expectThrows(() => full([1], '1' as unknown as number), ValueError, ['full', 'string']);
  });
});

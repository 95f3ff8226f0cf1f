// The elementwise kernels in WebAssembly SIMD (backend/cpu/wasm/elementwise-simd.ts) give the bits of
// the JS loops (elementwise.ts's expressions, the switch off), each kernel checked to have run: every
// pair of special values (±0, ±∞, NaN, subnormals, the extremes; the int32 extremes) through every
// kernel; random values (fast-check's fc.float: specials included) at lengths around the vector
// width, the SIMD threshold and the chunk size, operands at offsets, broadcast scalars in any place
// and operands broadcast along the last dim (int32 masks of float32 ops too); ops on broadcast
// scalars only; relu's documented semantics; the public ops with their gradients; and three LAD
// teacher training steps end to end. NaN payloads are not compared (not specified), the sign of
// every zero is.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Generator, grad, manualSeed, randint, randn, relu, tensor, type Tensor } from '@lad/tensor';
import { SGD } from '@lad/nn';
import { buildModel, resolveLabelScale, teacherLoss } from '@lad/lad';
import { QUICK } from '../packages/lad/src/presets.ts';
import { SIMD_MIN, binary, cast, unary, where, type BinaryOp, type UnaryOp } from '../packages/tensor/src/backend/cpu/elementwise.ts';
import { SIMD_KERNELS, elementwiseSimdOptions, simdOn, type SimdKernel } from '../packages/tensor/src/backend/cpu/wasm/elementwise-simd.ts';
import type { DType, TypedArray } from '../packages/tensor/src/backend/cpu/alloc.ts';
import { view, type Storage } from '../packages/tensor/src/storage.ts';

const F_SPECIALS = [0, -0, 1, -1, 0.5, -2.5, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38, 16777217, 7];
const I_SPECIALS = [0, 1, -1, 2, 7, -7, 2 ** 31 - 1, -(2 ** 31), 16777217, -16777219, 2 ** 30 + 65, 100, 0, 1, 5, 5];

/** The bits of each element, every NaN as one value; int32 results as they are. */
const bits = (a: TypedArray): number[] =>
  a instanceof Int32Array ? Array.from(a) : Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (b, j) => (Number.isNaN(a[j]) ? -1 : b));

/** The kernel's op through the backend's entry point, on operands of its dtypes. */
function runner(k: SimdKernel, ops: Storage[]): () => TypedArray {
  const dtype = k.dtypes[0]!;
  if (k.op === 'cast') return () => cast(ops[0]!, dtype);
  if (k.op === 'where') return () => where(ops[0]!, ops[1]!, ops[2]!, dtype);
  return ops.length === 1 ? () => unary(k.op as UnaryOp, ops[0]!, dtype) : () => binary(k.op as BinaryOp, ops[0]!, ops[1]!, dtype);
}

/** The result with the SIMD kernels on (checked to have run) and off. */
function both(run: () => TypedArray): { simd: number[]; js: number[] } {
  elementwiseSimdOptions.simd = true;
  const calls = elementwiseSimdOptions.calls,
    simd = bits(run());
  expect(elementwiseSimdOptions.calls, 'the SIMD kernel ran').toBe(calls + 1);
  elementwiseSimdOptions.simd = false;
  const js = bits(run());
  elementwiseSimdOptions.simd = true;
  return { simd, js };
}

const ARRAY = { float32: Float32Array, int32: Int32Array, float64: Float64Array };
/** The values as `dtype` from `offset` on in a longer array (junk before and after). */
function at(dtype: DType, values: number[], offset: number): Storage {
  const d = new ARRAY[dtype](offset + values.length + 3).fill(12345);
  d.set(values, offset);
  return view(d, [values.length], [1], offset);
}
/** The value v broadcast over n elements (stride 0), as a scalar operand reaches the kernel. */
const broadcast = (dtype: DType, v: number, n: number): Storage => view(new ARRAY[dtype]([v]), [n], [0], 0);
const name = (k: SimdKernel) => `${k.op} (${k.dtypes.join(', ')})`;

describe('elementwise WebAssembly SIMD', () => {
  afterAll(() => {
    elementwiseSimdOptions.simd = true;
  });

  it('is available where WebAssembly SIMD is (Node 20); its switch turns it off', () => {
    expect(simdOn()).toBe(true);
    elementwiseSimdOptions.simd = false;
    expect(simdOn()).toBe(false);
    elementwiseSimdOptions.simd = true;
  });

  it('gives the JS bits on every pair (triple for where) of special values', () => {
    const F = F_SPECIALS.length;
    for (const k of SIMD_KERNELS) {
      const types = k.dtypes.slice(1),
        n = F ** Math.max(types.length, 2);
      expect(n).toBeGreaterThanOrEqual(SIMD_MIN);
      // element e: operand j's special number ⌊e / F^j⌋ mod F (every combination once, twice for unary)
      const ops = types.map((d, j) => {
        const s = d === 'int32' ? I_SPECIALS : F_SPECIALS;
        return at(
          d,
          Array.from({ length: n }, (_, e) => s[Math.floor(e / F ** j) % F]!),
          0,
        );
      });
      const { simd, js } = both(runner(k, ops));
      expect(simd, name(k)).toEqual(js);
    }
  });

  it('keeps the documented semantics of relu and its gradient (NaN stays, −0 and −∞ give +0)', () => {
    const x = [NaN, -0, 0, -Infinity, Infinity, -3, 2, 1e-45];
    const xs = Array.from({ length: 8 * SIMD_MIN }, (_, i) => x[i % x.length]!);
    const y = unary('relu', at('float32', xs, 0), 'float32');
    expect(Array.from(y.subarray(0, 8))).toEqual([NaN, 0, 0, 0, Infinity, 0, 2, Math.fround(1e-45)]);
    const g = binary('reluBackward', at('float32', xs, 0), at('float32', xs, 0), 'float32'); // g = x: g where x > 0, +0 elsewhere
    expect(Array.from(g.subarray(0, 8))).toEqual([0, 0, 0, 0, Infinity, 0, 2, Math.fround(1e-45)]);
    expect([1, 2, 3].map((j) => Object.is(y[j], 0) && Object.is(g[j], 0))).toEqual([true, true, true]);
  });

  const lengthArb = fc.oneof(fc.integer({ min: SIMD_MIN, max: 3 * SIMD_MIN }), fc.integer({ min: 4090, max: 4100 }), fc.integer({ min: 8190, max: 8200 }));
  const value = (d: DType) => (d === 'int32' ? fc.oneof(fc.integer(), fc.integer({ min: -3, max: 3 })) : fc.float());
  const caseArb = fc.record({ kernel: fc.nat(SIMD_KERNELS.length - 1), n: lengthArb, seed: fc.nat() }).chain(({ kernel, n }) => {
    const types = SIMD_KERNELS[kernel]!.dtypes.slice(1);
    return fc.record({
      kernel: fc.constant(kernel),
      values: fc.tuple(...types.map((d) => fc.array(value(d), { minLength: n, maxLength: n }))),
      offsets: fc.tuple(...types.map(() => fc.nat(5))),
      // bit j: operand j is one value broadcast (not all of them: n > 1 copies of one result is a dull case)
      scalars: fc.nat((1 << types.length) - 2),
    });
  });

  it('gives the JS bits on random values, lengths, offsets and broadcast scalars', () => {
    fc.assert(
      fc.property(caseArb, ({ kernel, values, offsets, scalars }) => {
        const k = SIMD_KERNELS[kernel]!,
          n = values[0]!.length;
        const ops = k.dtypes.slice(1).map((d, j) => ((scalars >> j) & 1 ? broadcast(d, values[j]![0]!, n) : at(d, values[j]!, offsets[j]!)));
        const { simd, js } = both(runner(k, ops));
        expect(simd, name(k)).toEqual(js);
      }),
      { numRuns: 300 },
    );
  });

  // A broadcast operand constant along the last dim (a [N, C, 1, 1] expanded over H·W, or a [C]
  // over (N, C, L)): one value per run of L elements, runs across chunk boundaries included.
  const runArb = fc.record({
    kernel: fc.constantFrom(...SIMD_KERNELS.flatMap((k, j) => (k.dtypes.length === 3 ? [j] : []))),
    N: fc.integer({ min: 1, max: 5 }),
    C: fc.integer({ min: 1, max: 40 }),
    L: fc.oneof(fc.integer({ min: 8, max: 20 }), fc.constantFrom(144, 2304, 4099)),
    perChannel: fc.boolean(), // [C] broadcast over N (strides [0, 1, 0]), else [N, C] (strides [C, 1, 0])
    second: fc.boolean(), // which operand is the broadcast one
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
  });
  const fill = (d: DType, n: number, seed: number): number[] =>
    Array.from({ length: n }, (_, i) => {
      const h = Math.imul(seed ^ (i * 0x9e3779b1), 0x85ebca6b) >>> 0;
      return d === 'int32' ? (h % 7) - 3 : h % 13 === 0 ? F_SPECIALS[h % F_SPECIALS.length]! : (h / 2 ** 32 - 0.5) * 10;
    });

  it('gives the JS bits with an operand broadcast along the last dim', () => {
    fc.assert(
      fc.property(runArb, ({ kernel, N, C, L, perChannel, second, seed }) => {
        const k = SIMD_KERNELS[kernel]!,
          shape = [N, C, L],
          n = N * C * L;
        fc.pre(n >= SIMD_MIN);
        const [da, db] = k.dtypes.slice(1) as [DType, DType];
        const dense = view(new ARRAY[second ? da : db](fill(second ? da : db, n + 2, seed)), shape, [C * L, L, 1], 2);
        const rows = perChannel ? C : N * C,
          bd = second ? db : da;
        const bcast = view(new ARRAY[bd](fill(bd, rows + 1, seed + 1)), shape, perChannel ? [0, 1, 0] : [C, 1, 0], 1);
        const { simd, js } = both(runner(k, second ? [dense, bcast] : [bcast, dense]));
        expect(simd, name(k)).toEqual(js);
      }),
      { numRuns: 200 },
    );
  });

  it('reads an int32 broadcast operand of a float32 op as float32 where every value is exactly one (a dropout mask)', () => {
    const shape = [4, 8, 144],
      x = view(new Float32Array(fill('float32', 4 * 8 * 144, 5)), shape);
    const mask = (values: number[]) => view(Int32Array.from(values), shape, [8, 1, 0], 0);
    for (const op of ['mul', 'add', 'maximum', 'reluBackward'] as const) {
      const m = mask(fill('int32', 32, 9)),
        calls = elementwiseSimdOptions.calls;
      const { simd, js } = both(() => binary(op, x, m, 'float32'));
      expect(simd, op).toEqual(js);
      // 2^24 + 1 is not a float32: the JS loop runs (float64 arithmetic, then rounded)
      const far = mask([...fill('int32', 31, 9), 16777217]);
      elementwiseSimdOptions.simd = true;
      const before = elementwiseSimdOptions.calls;
      binary(op, x, far, 'float32');
      expect(elementwiseSimdOptions.calls, op).toBe(before);
      expect(before).toBeGreaterThan(calls);
    }
  });

  it('computes an op whose operands are all one broadcast value once, with the bits of the dense op', () => {
    const n = 3 * SIMD_MIN + 1;
    for (const k of SIMD_KERNELS) {
      const types = k.dtypes.slice(1);
      for (const [j, v] of (types[0] === 'int32' ? I_SPECIALS : F_SPECIALS).entries()) {
        const values = types.map((d, m) => (d === 'int32' ? I_SPECIALS : F_SPECIALS)[(j + 5 * m) % F_SPECIALS.length]!);
        values[0] = v;
        const got = runner(
          k,
          types.map((d, m) => broadcast(d, values[m]!, n)),
        )();
        const want = runner(
          k,
          types.map((d, m) => at(d, Array<number>(n).fill(values[m]!), 0)),
        )();
        expect(bits(got), `${name(k)} of ${values.join(', ')}`).toEqual(bits(want));
      }
    }
    const x = broadcast('float32', 0.75, n),
      y = broadcast('float32', -1.5, n);
    expect(Array.from(binary('pow', x, y, 'float32'))).toEqual(Array<number>(n).fill(Math.fround(0.75 ** -1.5)));
    expect(Array.from(unary('exp', y, 'float32'))).toEqual(Array<number>(n).fill(Math.fround(Math.exp(-1.5))));
  });

  it('gives the JS bits through the public ops and their gradients', () => {
    const x = tensor(
      Array.from({ length: 300 }, (_, i) => ((i * 37) % 101) / 10 - 5),
      { requiresGrad: true },
    );
    const run = (): number[] => {
      const [gx] = grad(
        [
          relu(x.mul(x.sub(0.5)))
            .mul(3)
            .add(x)
            .sum(),
        ],
        [x],
      ) as Tensor[];
      const y = relu(x.neg()).maximum(x.div(2));
      return [...bits(y.data()), ...bits(gx!.data())];
    };
    elementwiseSimdOptions.simd = false;
    const js = run();
    elementwiseSimdOptions.simd = true;
    const calls = elementwiseSimdOptions.calls;
    expect(run()).toEqual(js);
    expect(elementwiseSimdOptions.calls - calls).toBeGreaterThanOrEqual(8);
  });

  it('gives three LAD teacher training steps the same losses and parameter bits', () => {
    const train = (): number[] => {
      manualSeed(0);
      const K = 4,
        model = buildModel({ ...QUICK.model, numClasses: K }, { generator: new Generator(1) });
      const batch = { images: randn([2, 3, 16, 16]), labels: randint(0, K, [2, 16, 16]) };
      const opt = new SGD(model.parameters(), { lr: QUICK.teacher.lr, momentum: QUICK.teacher.momentum, weightDecay: QUICK.teacher.weightDecay });
      const gen = new Generator(7),
        lad = resolveLabelScale(QUICK.lad, 1),
        out: number[] = [];
      for (let step = 0; step < 3; step++) {
        const loss = teacherLoss(model, batch, K, lad, gen).loss;
        out.push(loss.item());
        loss.backward();
        opt.step();
        opt.zeroGrad();
      }
      for (const p of model.parameters()) out.push(...bits(p.data()));
      return out;
    };
    elementwiseSimdOptions.simd = false;
    const js = train();
    elementwiseSimdOptions.simd = true;
    const calls = elementwiseSimdOptions.calls;
    expect(train()).toEqual(js);
    expect(elementwiseSimdOptions.calls - calls).toBeGreaterThan(100);
  });
});

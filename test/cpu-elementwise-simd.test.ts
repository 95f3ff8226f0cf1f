// The float32 elementwise kernels in WebAssembly SIMD (backend/cpu/wasm/elementwise-simd.ts) give the
// bits of the JS loops (elementwise.ts's expressions, the switch off): every pair of special values
// (±0, ±∞, NaN, subnormals, the extremes) through every op; random float32 values (fast-check's
// fc.float: specials included) at lengths around the vector width, the SIMD threshold and the chunk
// size, operands at offsets and broadcast scalars in either place; and through the public ops with
// their gradients. NaN payloads are not compared (not specified), the sign of every zero is.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { grad, relu, tensor, type Tensor } from '@lad/tensor';
import { SIMD_MIN, binary, unary, type BinaryOp, type UnaryOp } from '../packages/tensor/src/backend/cpu/elementwise.ts';
import { SIMD_BINARY, SIMD_UNARY, elementwiseSimdOptions, simdMapOn } from '../packages/tensor/src/backend/cpu/wasm/elementwise-simd.ts';
import type { TypedArray } from '../packages/tensor/src/backend/cpu/alloc.ts';
import { view, type Storage } from '../packages/tensor/src/storage.ts';

const BINARY_OPS = Object.keys(SIMD_BINARY) as (keyof typeof SIMD_BINARY)[];
const UNARY_OPS = Object.keys(SIMD_UNARY) as (keyof typeof SIMD_UNARY)[];
const COMPARE = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
const SPECIALS = [0, -0, 1, -1, 0.5, -2.5, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38, 7, 7];

/** The bits of each element, every NaN as one value; int32 results as they are. */
const bits = (a: TypedArray): number[] =>
  a instanceof Int32Array ? Array.from(a) : Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (b, j) => (Number.isNaN(a[j]) ? -1 : b));

/** The op's result with the SIMD kernels on and off. */
function both(run: () => TypedArray): { simd: number[]; js: number[] } {
  elementwiseSimdOptions.simd = true;
  const simd = bits(run());
  elementwiseSimdOptions.simd = false;
  const js = bits(run());
  elementwiseSimdOptions.simd = true;
  return { simd, js };
}

const dtypeOf = (op: string) => (COMPARE.has(op) ? 'int32' : 'float32');
const runBinary = (op: BinaryOp, a: Storage, b: Storage) => () => binary(op, a, b, dtypeOf(op));
const runUnary = (op: UnaryOp, a: Storage) => () => unary(op, a, 'float32');

/** n floats of `values` from `offset` on, in a longer array (junk before and after). */
function at(values: number[], offset: number): Storage {
  const d = new Float32Array(offset + values.length + 3).fill(12345);
  d.set(values, offset);
  return view(d, [values.length], [1], offset);
}
/** The value v broadcast over n elements (stride 0), as a scalar operand reaches the kernel. */
const broadcast = (v: number, n: number): Storage => view(new Float32Array([v]), [n], [0], 0);

describe('elementwise float32 WebAssembly SIMD', () => {
  afterAll(() => {
    elementwiseSimdOptions.simd = true;
  });

  it('is available where WebAssembly SIMD is (Node 20), for its ops only', () => {
    for (const op of [...BINARY_OPS, ...UNARY_OPS]) expect(simdMapOn(op)).toBe(true);
    for (const op of ['pow', 'exp', 'where', 'cast', 'toString']) expect(simdMapOn(op)).toBe(false);
  });

  it('gives the JS bits on every pair of special values', () => {
    const a: number[] = [],
      b: number[] = [];
    for (const x of SPECIALS) for (const y of SPECIALS) a.push(x), b.push(y);
    expect(a.length).toBeGreaterThanOrEqual(SIMD_MIN);
    for (const op of BINARY_OPS) {
      const { simd, js } = both(runBinary(op, at(a, 0), at(b, 0)));
      expect(simd, op).toEqual(js);
    }
    for (const op of UNARY_OPS) {
      const { simd, js } = both(runUnary(op, at(a, 0)));
      expect(simd, op).toEqual(js);
    }
  });

  it('keeps the documented semantics of relu and its gradient (NaN stays, −0 and −∞ give +0)', () => {
    const x = [NaN, -0, 0, -Infinity, Infinity, -3, 2, 1e-45],
      n = Math.max(SIMD_MIN, 64);
    const xs = Array.from({ length: n }, (_, i) => x[i % x.length]!);
    const y = unary('relu', at(xs, 0), 'float32');
    expect(Array.from(y.subarray(0, 8)).map((v) => (Object.is(v, -0) ? '-0' : v))).toEqual([NaN, 0, 0, 0, Infinity, 0, 2, 1e-45].map((v) => Math.fround(v)));
    const g = binary('reluBackward', at(xs, 0), at(xs, 0), 'float32'); // g = x: g where x > 0, +0 elsewhere
    expect(Array.from(g.subarray(0, 8))).toEqual([0, 0, 0, 0, Infinity, 0, 2, Math.fround(1e-45)]);
    expect(Object.is(g[1], 0)).toBe(true);
  });

  const lengthArb = fc.oneof(fc.integer({ min: 1, max: 3 * SIMD_MIN }), fc.integer({ min: 4090, max: 4100 }), fc.integer({ min: 8190, max: 8200 }));
  const floats = (n: number) => fc.array(fc.float(), { minLength: n, maxLength: n });
  const caseArb = lengthArb.chain((n) =>
    fc.record({
      a: floats(n),
      b: floats(n),
      offA: fc.nat(5),
      offB: fc.nat(5),
      // which operand is one broadcast value: none, a, b or both
      scalars: fc.constantFrom(0, 0, 1, 2, 3),
      op: fc.constantFrom(...BINARY_OPS, ...UNARY_OPS),
    }),
  );

  it('gives the JS bits on random values, lengths, offsets and broadcast scalars', () => {
    fc.assert(
      fc.property(caseArb, ({ a, b, offA, offB, scalars, op }) => {
        const n = a.length;
        const A = scalars & 1 ? broadcast(a[0]!, n) : at(a, offA),
          B = scalars & 2 ? broadcast(b[0]!, n) : at(b, offB);
        const run = op in SIMD_BINARY ? runBinary(op as BinaryOp, A, B) : runUnary(op as UnaryOp, A);
        const { simd, js } = both(run);
        expect(simd).toEqual(js);
      }),
      { numRuns: 200 },
    );
  });

  it('gives the JS bits through the public ops and their gradients', () => {
    const x = tensor(
      Array.from({ length: 300 }, (_, i) => ((i * 37) % 101) / 10 - 5 + (i % 7 === 0 ? -0 : 0)),
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
    expect(run()).toEqual(js);
  });
});

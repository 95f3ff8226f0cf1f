// Error inputs at the library's limits: shapes with more elements than a tensor can hold
// (MAX_NUMEL), for every op that creates a shape; each is a ShapeError naming the op and the
// shape, never the engine's untyped RangeError, and nothing is allocated.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  adaptiveAvgPool2d,
  arange,
  conv2d,
  eye,
  full,
  interpolate,
  linspace,
  matmul,
  maxPool2d,
  oneHot,
  ones,
  pad,
  rand,
  randint,
  randn,
  tensor,
  where,
  zeros,
  ShapeError,
  fmtShape,
} from '@lad/tensor';
import { expectError } from './util/expect-error.ts';

const LIMIT = 2 ** 31 - 1;

/** Shapes (rank 1 to 4) with more than LIMIT elements and no zero dim. */
const hugeShapeArb = fc
  .array(fc.oneof(fc.integer({ min: 1, max: 2 ** 16 }), fc.constantFrom(2 ** 31, 2 ** 40, 2 ** 53, 1e300)), { minLength: 1, maxLength: 4 })
  .filter((s) => s.reduce((a, b) => a * b, 1) > LIMIT);

describe('shapes above MAX_NUMEL (2^31 − 1 elements)', () => {
  it('creation ops: ShapeError naming the op and the shape', () => {
    const CREATE: [string, (s: number[]) => Tensor][] = [
      ['full', (s) => full(s, 1)],
      ['full', (s) => zeros(s)],
      ['full', (s) => ones(s, { dtype: 'int32' })],
      ['rand', (s) => rand(s)],
      ['randn', (s) => randn(s)],
      ['randint', (s) => randint(0, 3, s)],
      ['tensor', (s) => tensor([1], { shape: s })],
    ];
    fc.assert(
      fc.property(hugeShapeArb, fc.constantFrom(...CREATE), (s, [op, f]) => {
        expectError(() => f(s), ShapeError, op, fmtShape(s), String(LIMIT));
      }),
      { numRuns: 60 },
    );
  });

  it('ops whose output is larger than their inputs: broadcasting, expand, pad, matmul, oneHot', () => {
    const big = fc.integer({ min: 46341, max: 2 ** 20 }); // two of these make more than 2^31 − 1
    fc.assert(
      fc.property(big, big, (m, n) => {
        const col = zeros([m, 1]),
          row = zeros([1, n]);
        const out = fmtShape([m, n]);
        expectError(() => col.add(row), ShapeError, 'add', out);
        expectError(() => col.mul(row), ShapeError, 'mul', out);
        expectError(() => where(col.gt(0), col, row), ShapeError, 'where', out);
        expectError(() => col.expand([m, n]), ShapeError, 'expand', out);
        expectError(() => pad(zeros([1, 1]), [0, n - 1, 0, m - 1]), ShapeError, 'pad', out);
        expectError(() => matmul(col, row), ShapeError, 'matmul', out);
        expectError(() => oneHot(zeros([m], { dtype: 'int32' }), n), ShapeError, 'oneHot', out);
        expectError(() => eye(m, n), ShapeError, 'eye', out);
      }),
      { numRuns: 20 },
    );
  });

  it('ranges, images and kernels: arange, linspace, interpolate, adaptiveAvgPool2d, conv2d, maxPool2d', () => {
    expectError(() => arange(0, 2 ** 32), ShapeError, 'arange', `[${2 ** 32}]`);
    expectError(() => linspace(0, 1, 2 ** 31), ShapeError, 'linspace', `[${2 ** 31}]`);
    const img = zeros([1, 1, 2, 2]);
    expectError(() => interpolate(img, { size: [65536, 65536] }), ShapeError, 'interpolate', '[1, 1, 65536, 65536]');
    expectError(() => interpolate(img, { scaleFactor: 1e6 }), ShapeError, 'interpolate', '[1, 1, 2000000, 2000000]');
    expectError(() => adaptiveAvgPool2d(img, [65536, 65536]), ShapeError, 'adaptiveAvgPool2d', '[1, 1, 65536, 65536]');
    expectError(() => conv2d(img, zeros([1, 1, 1, 1]), null, { padding: 40000 }), ShapeError, 'conv2d', '[1, 1, 80002, 80002]');
    expect(() => maxPool2d(img, 2)).not.toThrow(); // pooling shrinks; its check is the same one
  });

  it('a zero dim makes any shape empty (allowed, like torch)', () => {
    expect(zeros([0, 2 ** 40]).size).toBe(0);
    expect(zeros([1, 2 ** 20]).add(zeros([0, 1])).shape).toEqual([0, 2 ** 20]);
  });
});

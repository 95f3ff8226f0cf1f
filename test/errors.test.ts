// Bad inputs throw the right typed error (ShapeError, DTypeError, ValueError, DeviceError) with a
// message that follows ARCHITECTURE.md's "Errors": `<op>: <what is wrong>...`, naming the op and
// the key numbers, with shapes printed as `[2, 3]`. Properties over random bad inputs, plus a
// table of hand-written cases for every elementwise, reduction and movement op.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  add,
  amax,
  amin,
  argmax,
  argmin,
  cat,
  chunk,
  clamp,
  div,
  eq,
  exp,
  expand,
  flatten,
  flip,
  gather,
  ge,
  gt,
  indexSelect,
  le,
  log,
  logsumexp,
  lt,
  max,
  maximum,
  mean,
  min,
  minimum,
  mul,
  ne,
  oneHot,
  pad,
  permute,
  pow,
  reshape,
  rsqrt,
  scatterAdd,
  select,
  sigmoid,
  slice,
  split,
  sqrt,
  squeeze,
  stack,
  sub,
  sum,
  tanh,
  tensor,
  transpose,
  unsqueeze,
  variance,
  view,
  where,
  zeros,
  sumTo,
  grad,
  matmul,
  mseLoss,
  klDiv,
  binaryCrossEntropyWithLogits,
  nllLoss,
  DTypeError,
  DeviceError,
  ShapeError,
  ValueError,
  fmtShape,
  type TensorLike,
} from '@lad/tensor';
import { nonBroadcastablePairArb, numel, shapeArb, type Shape } from './util/arb.ts';
import { expectError, type ErrClass } from './util/expect-error.ts';

const RUNS = 30;

const t = (shape: readonly number[], dtype: 'float32' | 'float64' | 'int32' = 'float32'): Tensor => zeros(shape, { dtype });
const it32 = (v: number[], shape?: Shape): Tensor => tensor(v, { dtype: 'int32', shape: shape ?? [v.length] });

// ---- properties ---------------------------------------------------------------------------

const BINARY: [string, (a: TensorLike, b: TensorLike) => Tensor][] = [
  ['add', add],
  ['sub', sub],
  ['mul', mul],
  ['div', div],
  ['pow', pow],
  ['maximum', maximum],
  ['minimum', minimum],
  ['eq', eq],
  ['ne', ne],
  ['lt', lt],
  ['le', le],
  ['gt', gt],
  ['ge', ge],
  ['where', (a, b) => where(t((a instanceof Tensor ? a : (b as Tensor)).shape, 'int32'), a, b)],
];

describe('error properties', () => {
  it('binary ops on shapes that do not broadcast: ShapeError naming the op and both shapes', () => {
    fc.assert(
      fc.property(nonBroadcastablePairArb(), fc.constantFrom(...BINARY), ([a, b], [op, f]) => {
        expectError(() => f(t(a), t(b)), ShapeError, op, fmtShape(a), fmtShape(b));
      }),
      { numRuns: RUNS },
    );
  });

  const FLOAT_ONLY: [string, (x: Tensor) => unknown][] = [
    ['exp', exp],
    ['log', log],
    ['sqrt', sqrt],
    ['rsqrt', rsqrt],
    ['sigmoid', sigmoid],
    ['tanh', tanh],
    ['mean', (x) => mean(x)],
    ['var', (x) => variance(x)],
    ['logsumexp', (x) => logsumexp(x, 0)],
    ['softmax', (x) => x.softmax(0)],
    ['logSoftmax', (x) => x.logSoftmax(0)],
  ];
  it('float-only ops on int32 inputs: DTypeError naming the op and int32', () => {
    fc.assert(
      fc.property(shapeArb({ minRank: 1 }), fc.constantFrom(...FLOAT_ONLY), (s, [op, f]) => {
        expectError(() => f(t(s, 'int32')), DTypeError, op, 'int32');
      }),
      { numRuns: RUNS },
    );
  });

  /** Ops taking one dim of a rank-r input (valid range [-r, r-1] unless noted). */
  const DIM_OPS: [string, (x: Tensor, d: number) => unknown, number][] = [
    ['sum', (x, d) => sum(x, d), 0],
    ['mean', (x, d) => mean(x, d), 0],
    ['var', (x, d) => variance(x, d), 0],
    ['amax', (x, d) => amax(x, d), 0],
    ['amin', (x, d) => amin(x, d), 0],
    ['max', (x, d) => max(x, d), 0],
    ['min', (x, d) => min(x, d), 0],
    ['argmax', (x, d) => argmax(x, d), 0],
    ['argmin', (x, d) => argmin(x, d), 0],
    ['logsumexp', (x, d) => logsumexp(x, d), 0],
    ['softmax', (x, d) => x.softmax(d), 0],
    ['flatten', (x, d) => flatten(x, d), 0],
    ['transpose', (x, d) => transpose(x, 0, d), 0],
    ['slice', (x, d) => slice(x, d, 0, 1), 0],
    ['select', (x, d) => select(x, d, 0), 0],
    ['flip', (x, d) => flip(x, d), 0],
    ['squeeze', (x, d) => squeeze(x, d), 0],
    ['unsqueeze', (x, d) => unsqueeze(x, d), 1],
    ['cat', (x, d) => cat([x, x], d), 0],
    ['stack', (x, d) => stack([x, x], d), 1],
    ['split', (x, d) => split(x, 1, d), 0],
    ['chunk', (x, d) => chunk(x, 1, d), 0],
    ['gather', (x, d) => gather(x, d, t(x.shape, 'int32')), 0],
    ['indexSelect', (x, d) => indexSelect(x, d, it32([0])), 0],
    ['scatterAdd', (x, d) => scatterAdd(x.shape, d, t(x.shape, 'int32'), x), 0],
  ];
  it('a dim out of range: ShapeError naming the op, the dim and the rank', () => {
    const arb = fc.tuple(shapeArb({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 2 }), fc.constantFrom(...DIM_OPS), fc.boolean(), fc.nat(3));
    fc.assert(
      fc.property(arb, ([s, [op, f, extra], negative, k]) => {
        const r = s.length + extra;
        const dim = negative ? -r - 1 - k : r + k;
        expectError(() => f(t(s), dim), ShapeError, op, String(dim), `rank ${r}`);
      }),
      { numRuns: 60 },
    );
  });

  it('reshape / view to a shape with the wrong number of elements: ShapeError with both shapes and the count', () => {
    const arb = fc.tuple(shapeArb({ maxRank: 3 }), shapeArb({ maxRank: 3 })).filter(([a, b]) => numel(a) !== numel(b));
    fc.assert(
      fc.property(arb, fc.constantFrom(['reshape', reshape] as const, ['view', view] as const), ([a, b], [op, f]) => {
        expectError(() => f(t(a), b), ShapeError, op, fmtShape(b), fmtShape(a), `${numel(a)} elements`);
      }),
      { numRuns: RUNS },
    );
  });

  it('permute with a repeated dim: ShapeError naming the dims', () => {
    const arb = shapeArb({ minRank: 2, maxRank: 4 }).chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.array(fc.integer({ min: 0, max: s.length - 1 }), { minLength: s.length, maxLength: s.length }).filter((p) => new Set(p).size < p.length),
      ),
    );
    fc.assert(
      fc.property(arb, ([s, p]) => {
        expectError(() => permute(t(s), p), ShapeError, 'permute', fmtShape(p));
      }),
      { numRuns: RUNS },
    );
  });

  it('cat of shapes that differ off dim: ShapeError with both shapes', () => {
    const arb = fc.tuple(shapeArb({ minRank: 1, maxRank: 3 }), shapeArb({ minRank: 1, maxRank: 3 }), fc.nat(2)).filter(([a, b, d]) => {
      const dd = d % a.length;
      return a.length !== b.length || a.some((n, k) => k !== dd && n !== b[k]);
    });
    fc.assert(
      fc.property(arb, ([a, b, d]) => {
        expectError(() => cat([t(a), t(b)], d % a.length), ShapeError, 'cat', fmtShape(a), fmtShape(b));
      }),
      { numRuns: RUNS },
    );
  });

  it('gather / scatterAdd / indexSelect / oneHot with an index out of range: ShapeError naming the index and the size', () => {
    const arb = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.oneof(fc.integer({ min: -5, max: -1 }), fc.integer({ min: 0, max: 3 })), fc.nat(2));
    fc.assert(
      fc.property(arb, ([n, off, pos]) => {
        const bad = off < 0 ? off : n + off;
        const vals = [0, 0, 0];
        vals[pos] = bad;
        const idx = it32(vals);
        expectError(() => gather(t([3, n]), 1, idx.reshape(3, 1)), ShapeError, 'gather', `index ${bad}`, `size ${n}`);
        expectError(() => scatterAdd([3, n], 1, idx.reshape(3, 1), t([3, 1])), ShapeError, 'scatterAdd', `index ${bad}`, `size ${n}`);
        expectError(() => indexSelect(t([2, n]), 1, idx), ShapeError, 'indexSelect', `index ${bad}`, `size ${n}`);
        expectError(() => oneHot(idx, n), ShapeError, 'oneHot', `index ${bad}`, `size ${n}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('pad that crops more than a dim holds: ShapeError with the pad and the shape', () => {
    const arb = fc.tuple(shapeArb({ minRank: 1, maxRank: 3 }), fc.nat(3), fc.integer({ min: -3, max: 2 }));
    fc.assert(
      fc.property(arb, ([s, extra, other]) => {
        const n = s[s.length - 1];
        const p = [-(n + 1 + extra) - Math.max(other, 0), other]; // n + p[0] + p[1] < 0
        expectError(() => pad(t(s), p), ShapeError, 'pad', fmtShape(p), fmtShape(s));
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- hand-written cases -------------------------------------------------------------------

interface Case {
  name: string;
  f: () => unknown;
  cls: ErrClass;
  op: string;
  has: string[];
}
const x23 = () => t([2, 3]);
const CASES: Case[] = [
  // elementwise
  { name: 'broadcast [2, 3] with [4]', f: () => add(x23(), t([4])), cls: ShapeError, op: 'add', has: ['[2, 3]', '[4]', 'broadcast'] },
  { name: 'exp of int32', f: () => exp(t([2], 'int32')), cls: DTypeError, op: 'exp', has: ['int32'] },
  { name: 'clamp with neither bound', f: () => clamp(x23(), null, null), cls: ValueError, op: 'clamp', has: ['min', 'max'] },
  { name: 'clamp with min > max', f: () => clamp(x23(), 2, 1), cls: ValueError, op: 'clamp', has: ['2', '1'] },
  {
    name: 'where with a condition that does not broadcast',
    f: () => where(t([4], 'int32'), x23(), x23()),
    cls: ShapeError,
    op: 'where',
    has: ['[4]', '[2, 3]'],
  },
  // reductions
  { name: 'sum over dim 2 of a rank-2 tensor', f: () => sum(x23(), 2), cls: ShapeError, op: 'sum', has: ['dim 2', 'rank 2', '[-2, 1]'] },
  { name: 'sum over a repeated dim', f: () => sum(x23(), [1, -1]), cls: ShapeError, op: 'sum', has: ['[1, -1]', 'repeats'] },
  { name: 'mean of int32', f: () => mean(t([2], 'int32')), cls: DTypeError, op: 'mean', has: ['int32'] },
  { name: 'amax over an empty dim', f: () => amax(t([2, 0]), 1), cls: ShapeError, op: 'amax', has: ['[2, 0]'] },
  { name: 'max over an empty dim', f: () => max(t([2, 0]), 1), cls: ShapeError, op: 'max', has: ['[2, 0]', 'size 0'] },
  { name: 'argmax over dim -3 of a rank-2 tensor', f: () => argmax(x23(), -3), cls: ShapeError, op: 'argmax', has: ['-3', 'rank 2'] },
  { name: 'logsumexp over no dims', f: () => logsumexp(x23(), []), cls: ValueError, op: 'logsumexp', has: ['dim'] },
  // movement
  { name: 'reshape [2, 3] to [4, 2]', f: () => reshape(x23(), [4, 2]), cls: ShapeError, op: 'reshape', has: ['[4, 2]', '[2, 3]', '6 elements'] },
  { name: 'reshape with two -1', f: () => reshape(x23(), [-1, -1]), cls: ShapeError, op: 'reshape', has: ['[-1, -1]', '-1'] },
  { name: 'view of a transposed tensor', f: () => view(x23().transpose(0, 1), [6]), cls: ShapeError, op: 'view', has: ['[3, 2]', 'contiguous'] },
  { name: 'permute with a repeated dim', f: () => permute(x23(), [0, 0]), cls: ShapeError, op: 'permute', has: ['[0, 0]'] },
  { name: 'permute with too few dims', f: () => permute(x23(), [0]), cls: ShapeError, op: 'permute', has: ['[0]', 'rank 2'] },
  { name: 'flatten with startDim after endDim', f: () => flatten(t([2, 3, 4]), 2, 1), cls: ShapeError, op: 'flatten', has: ['2', '1'] },
  { name: 'expand [2, 3] to [4, 3]', f: () => expand(x23(), [4, 3]), cls: ShapeError, op: 'expand', has: ['[2, 3]', '[4, 3]'] },
  { name: 'expand to fewer dims', f: () => expand(x23(), [3]), cls: ShapeError, op: 'expand', has: ['[2, 3]', '[3]'] },
  { name: 'expandAs names itself', f: () => x23().expandAs(zeros([4, 3])), cls: ShapeError, op: 'expandAs', has: ['[2, 3]', '[4, 3]'] },
  { name: 'slice with step 0', f: () => slice(x23(), 1, 0, 3, 0), cls: ValueError, op: 'slice', has: ['step', '0'] },
  { name: 'slice with a negative step', f: () => slice(x23(), 1, 0, 3, -1), cls: ValueError, op: 'slice', has: ['step', '-1'] },
  { name: 'select index 3 of size 3', f: () => select(x23(), 1, 3), cls: ShapeError, op: 'select', has: ['index 3', 'size 3'] },
  { name: 'select index -4 of size 3', f: () => select(x23(), -1, -4), cls: ShapeError, op: 'select', has: ['index -4', 'size 3'] },
  { name: 'flip with a repeated dim', f: () => flip(x23(), [0, -2]), cls: ShapeError, op: 'flip', has: ['[0, -2]'] },
  { name: 'unsqueeze at dim 3 of a rank-2 tensor', f: () => unsqueeze(x23(), 4), cls: ShapeError, op: 'unsqueeze', has: ['4', 'rank 3'] },
  { name: 'cat of [2, 3] and [2, 4] along 0', f: () => cat([x23(), t([2, 4])], 0), cls: ShapeError, op: 'cat', has: ['[2, 4]', '[2, 3]', 'dim 0'] },
  { name: 'cat of different ranks', f: () => cat([x23(), t([2])], 0), cls: ShapeError, op: 'cat', has: ['[2]', '[2, 3]'] },
  { name: 'cat of nothing', f: () => cat([]), cls: ValueError, op: 'cat', has: ['non-empty'] },
  { name: 'stack of [2, 3] and [3, 2]', f: () => stack([x23(), t([3, 2])]), cls: ShapeError, op: 'stack', has: ['[3, 2]', '[2, 3]'] },
  { name: 'split sections that do not sum to the dim', f: () => split(x23(), [1, 1], 1), cls: ShapeError, op: 'split', has: ['[1, 1]', '2', 'size 3'] },
  { name: 'split size 0', f: () => split(x23(), 0, 1), cls: ValueError, op: 'split', has: ['0'] },
  { name: 'chunk into 0 chunks', f: () => chunk(x23(), 0), cls: ValueError, op: 'chunk', has: ['chunks', '0'] },
  { name: 'pad with an odd-length list', f: () => pad(x23(), [1, 1, 1]), cls: ShapeError, op: 'pad', has: ['[1, 1, 1]', '[2, 3]'] },
  { name: 'pad of more dims than the input has', f: () => pad(t([3]), [1, 1, 1, 1]), cls: ShapeError, op: 'pad', has: ['[1, 1, 1, 1]', '[3]'] },
  { name: 'pad cropping too much', f: () => pad(t([3]), [-2, -2]), cls: ShapeError, op: 'pad', has: ['[-2, -2]', '[3]'] },
  { name: 'gather index 5 of size 3', f: () => gather(x23(), 1, it32([5, 0], [2, 1])), cls: ShapeError, op: 'gather', has: ['index 5', 'size 3'] },
  { name: 'gather with a float index', f: () => gather(x23(), 1, t([2, 1])), cls: DTypeError, op: 'gather', has: ['int32', 'float32'] },
  { name: 'gather with an index of another rank', f: () => gather(x23(), 1, it32([0, 1])), cls: ShapeError, op: 'gather', has: ['[2]', '[2, 3]'] },
  { name: 'gather with an index larger off dim', f: () => gather(x23(), 1, it32([0, 0, 0], [3, 1])), cls: ShapeError, op: 'gather', has: ['[3, 1]', '[2, 3]'] },
  {
    name: 'scatterAdd with src unlike the index',
    f: () => scatterAdd([2, 3], 1, it32([0, 1], [2, 1]), t([2, 2])),
    cls: ShapeError,
    op: 'scatterAdd',
    has: ['[2, 1]', '[2, 2]', '[2, 3]'],
  },
  { name: 'scatterAdd with a float index', f: () => scatterAdd([2, 3], 1, t([2, 1]), t([2, 1])), cls: DTypeError, op: 'scatterAdd', has: ['int32'] },
  { name: 'indexSelect with a 2-D index', f: () => indexSelect(x23(), 1, it32([0, 1], [1, 2])), cls: ShapeError, op: 'indexSelect', has: ['[1, 2]'] },
  { name: 'indexSelect with a float index', f: () => indexSelect(x23(), 1, t([2])), cls: DTypeError, op: 'indexSelect', has: ['int32', 'float32'] },
  { name: 'oneHot of float labels', f: () => oneHot(t([2]), 3), cls: DTypeError, op: 'oneHot', has: ['int32', 'float32'] },
  { name: 'oneHot with 0 classes', f: () => oneHot(it32([0]), 0), cls: ValueError, op: 'oneHot', has: ['numClasses', '0'] },
  { name: 'narrow past the end', f: () => x23().narrow(1, 2, 2), cls: ShapeError, op: 'narrow', has: ['start 2', 'length 2', 'size 3'] },
  { name: 'narrow with a start past the end', f: () => x23().narrow(1, 4, 0), cls: ShapeError, op: 'narrow', has: ['start 4', 'size 3'] },
  { name: 'narrow with a negative length', f: () => x23().narrow(1, 0, -1), cls: ShapeError, op: 'narrow', has: ['length -1'] },
  { name: 'reshape of 0 elements with an ambiguous -1', f: () => reshape(t([0]), [-1, 0]), cls: ShapeError, op: 'reshape', has: ['[-1, 0]', '[0]'] },
  { name: 'view of 0 elements with an ambiguous -1', f: () => view(t([2, 0]), [0, -1]), cls: ShapeError, op: 'view', has: ['[0, -1]', '[2, 0]'] },
  { name: 'sumTo a shape that does not broadcast', f: () => sumTo(x23(), [4]), cls: ShapeError, op: 'sumTo', has: ['[4]', '[2, 3]'] },
  { name: 'copy_ from a shape that does not broadcast', f: () => x23().copy_(t([4])), cls: ShapeError, op: 'copy_', has: ['[4]', '[2, 3]'] },
  {
    name: 'backward with a gradient of the wrong shape',
    f: () =>
      x23()
        .requiresGrad_()
        .mul(2)
        .backward(t([3, 2])),
    cls: ShapeError,
    op: 'backward',
    has: ['[3, 2]', '[2, 3]'],
  },
  {
    name: 'grad with a gradOutput of the wrong shape',
    f: () => {
      const x = x23().requiresGrad_();
      return grad([x.mul(2)], [x], { gradOutputs: [t([6])] });
    },
    cls: ShapeError,
    op: 'grad',
    has: ['[6]', '[2, 3]'],
  },
  { name: 'mseLoss of shapes that do not broadcast', f: () => mseLoss(x23(), t([4])), cls: ShapeError, op: 'mseLoss', has: ['[2, 3]', '[4]'] },
  { name: 'klDiv of shapes that do not broadcast', f: () => klDiv(x23(), t([4])), cls: ShapeError, op: 'klDiv', has: ['[2, 3]', '[4]'] },
  {
    name: 'BCE of shapes that do not broadcast',
    f: () => binaryCrossEntropyWithLogits(x23(), t([3, 2])),
    cls: ShapeError,
    op: 'binaryCrossEntropyWithLogits',
    has: ['[2, 3]', '[3, 2]'],
  },
  {
    name: 'matmul with batch dims that do not broadcast',
    f: () => matmul(t([2, 2, 3]), t([3, 3, 4])),
    cls: ShapeError,
    op: 'matmul',
    has: ['[2, 2, 3]', '[3, 3, 4]'],
  },
  { name: 'an int32 tensor plus a scalar outside int32', f: () => it32([1]).add(3e9), cls: ValueError, op: 'add', has: ['3000000000', 'int32'] },
  { name: 'clamp of an int32 tensor at a bound outside int32', f: () => clamp(it32([1]), -3e9), cls: ValueError, op: 'clamp', has: ['min', '-3000000000'] },
  { name: 'clamp with a string bound', f: () => clamp(x23(), '1' as unknown as number), cls: ValueError, op: 'clamp', has: ['min', 'string'] },
  {
    name: 'nllLoss with an ignoreIndex outside int32',
    f: () => nllLoss(x23(), it32([0, 1]), { ignoreIndex: 2 ** 40 }),
    cls: ValueError,
    op: 'nllLoss',
    has: ['ignoreIndex'],
  },
  { name: 'pad with a string value', f: () => pad(x23(), [1, 1], '0' as unknown as number), cls: ValueError, op: 'pad', has: ['value', 'string'] },
  { name: 'to an unknown dtype', f: () => x23().to('float16' as 'float32'), cls: ValueError, op: 'to', has: ['float16'] },
  { name: 'to a device without a backend', f: () => x23().to('gpu'), cls: DeviceError, op: 'to', has: ['gpu'] },
];

describe('error cases', () => {
  it.each(CASES)('$name → $cls.name from $op', ({ f, cls, op, has }) => {
    expectError(f, cls, op, ...has);
  });

  it('scalar operands must be numbers: ValueError naming the op and the type', () => {
    const BAD: [unknown, string][] = [
      ['1', 'string'],
      [{}, 'object'],
      [null, 'null'],
      [undefined, 'undefined'],
      [true, 'boolean'],
      [[1], 'object'],
      [1n, 'bigint'],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...BINARY), fc.constantFrom(...BAD), fc.boolean(), ([op, f], [v, kind], first) => {
        const bad = v as TensorLike;
        expectError(() => (first ? f(bad, x23()) : f(x23(), bad)), ValueError, op, kind);
      }),
      { numRuns: 200 },
    );
    expectError(() => x23().copy_('1' as unknown as number), ValueError, 'copy_', 'string');
  });

  it('binary ops need at least one tensor operand (a TypeError)', () => {
    expect(() => add(1 as unknown as Tensor, 2)).toThrow(TypeError);
  });
});

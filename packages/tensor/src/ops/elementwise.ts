// Elementwise ops with their gradient rules side by side: unary maps, broadcasting binary ops,
// comparisons (no gradient), where and clamp. Broadcasting goes through `expand`, whose gradient
// is a sum, so no rule here needs "unbroadcast" code.

import { Tensor, type TensorLike } from '../tensor.ts';
import { record } from '../autograd/tape.ts';
import { noGrad } from '../autograd/tape.ts';
import { broadcastShapes, sameShape } from '../shape.ts';
import { COMPARE_OPS, type BinaryOp, type UnaryOp } from '../backend/cpu/elementwise.ts';
import type { DType } from '../backend/cpu/alloc.ts';
import { ValueError } from '../errors.ts';
import { be, checkDevices, checkFloat, checkInt32, checkTensor, promote, scalarLike, wrap } from './util.ts';
import { expand } from './movement.ts';

const FLOAT_ONLY: ReadonlySet<UnaryOp> = new Set(['exp', 'log', 'sqrt', 'rsqrt', 'sigmoid', 'tanh']);

/** `saves`: what the rule reads (x, its output y, or nothing), version-checked at backward. */
function unaryOp(op: UnaryOp, x: Tensor, rule?: (gy: Tensor, y: Tensor) => Tensor, saves: 'x' | 'y' | 'none' = 'x'): Tensor {
  checkTensor(op, 'input', x);
  if (FLOAT_ONLY.has(op)) checkFloat(op, 'input', x);
  const y = wrap(be(x).unary(op, x.storage, x.dtype), x.shape);
  return rule ? record(y, op, [x], (gy) => [rule(gy, y)], saves === 'x' ? [x] : saves === 'y' ? [y] : []) : y;
}

/** −x, elementwise. */
export const neg = (x: Tensor) => unaryOp('neg', x, (g) => g.neg(), 'none');
/** e^x, elementwise. */
export const exp = (x: Tensor) => unaryOp('exp', x, (g, y) => g.mul(y), 'y'); // d e^x = e^x
/** Natural logarithm, elementwise. */
export const log = (x: Tensor) => unaryOp('log', x, (g) => g.div(x)); // d ln x = 1/x
/** Square root, elementwise. */
export const sqrt = (x: Tensor) => unaryOp('sqrt', x, (g, y) => g.div(y.mul(2)), 'y'); // d √x = 1/(2√x)
/** 1/√x, elementwise. */
export const rsqrt = (x: Tensor) => unaryOp('rsqrt', x, (g, y) => g.mul(y.pow(3)).mul(-0.5), 'y'); // d x^-½ = -½ x^-3/2
/** |x|, elementwise. */
export const abs = (x: Tensor) => unaryOp('abs', x, (g) => g.mul(sign(x)));
/** The sign of x (−1, 0 or 1), elementwise. */
export const sign = (x: Tensor) => unaryOp('sign', x); // gradient 0 almost everywhere
/** max(x, 0), elementwise. */
export const relu = (x: Tensor) => unaryOp('relu', x, (g) => reluBackward(g, x));
/** g where x > 0, else 0: relu's gradient, linear in g (its own gradient masks the same way). */
const reluBackward = (g: Tensor, x: Tensor): Tensor =>
  binaryOp(
    'reluBackward',
    g,
    x,
    (gg) => [reluBackward(gg, x), null],
    (_, m) => [m],
  );
/** Logistic sigmoid 1 / (1 + e^(−x)), elementwise. */
export const sigmoid = (x: Tensor) => unaryOp('sigmoid', x, (g, y) => g.mul(y.mul(y.neg().add(1))), 'y'); // σ' = σ(1-σ)
/** Hyperbolic tangent, elementwise. */
export const tanh = (x: Tensor) => unaryOp('tanh', x, (g, y) => g.mul(y.mul(y).neg().add(1)), 'y'); // tanh' = 1 - tanh²

/** Broadcasts both operands to a common shape (expand views) after checking them. */
function broadcastPair(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) throw new TypeError(`${op}: at least one operand must be a Tensor.`);
  const ta = a instanceof Tensor ? a : scalarLike(op, a, b as Tensor);
  const tb = b instanceof Tensor ? b : scalarLike(op, b, ta);
  checkTensor(op, 'input', ta);
  checkTensor(op, 'other', tb);
  checkDevices(op, [ta, tb]);
  const shape = broadcastShapes(op, ta.shape, tb.shape);
  return [sameShape(ta.shape, shape) ? ta : expand(ta, shape), sameShape(tb.shape, shape) ? tb : expand(tb, shape)];
}

type Saves = (x: Tensor, y: Tensor, out: Tensor) => Tensor[];
/** `saves`: the tensors the rule reads (both operands unless given), version-checked at backward. */
function binaryOp(
  op: BinaryOp,
  a: TensorLike,
  b: TensorLike,
  rule?: (gy: Tensor, x: Tensor, y: Tensor, out: Tensor) => [Tensor | null, Tensor | null],
  saves: Saves = (x, y) => [x, y],
): Tensor {
  const [x, y] = broadcastPair(op, a, b);
  let dtype: DType = promote(x.dtype, y.dtype);
  if (COMPARE_OPS.has(op)) dtype = 'int32';
  else if ((op === 'div' || op === 'pow') && dtype === 'int32') dtype = 'float32'; // true division, like torch
  const out = wrap(be(x).binary(op, x.storage, y.storage, dtype), x.shape);
  return rule ? record(out, op, [x, y], (gy) => rule(gy, x, y, out), saves(x, y, out)) : out;
}

const none: Saves = () => [];
/** The gradient `f()` for input t, or null (not computed) when t needs none: the tape drops it then anyway. */
const ifGrad = (t: Tensor, f: () => Tensor): Tensor | null => (t.requiresGrad ? f() : null);
/** a + b, broadcast. */
export const add = (a: TensorLike, b: TensorLike) => binaryOp('add', a, b, (g) => [g, g], none);
/** a − b, broadcast. */
export const sub = (a: TensorLike, b: TensorLike) => binaryOp('sub', a, b, (g, _x, y) => [g, ifGrad(y, () => g.neg())], none);
/** a · b, elementwise and broadcast. */
export const mul = (a: TensorLike, b: TensorLike) => binaryOp('mul', a, b, (g, x, y) => [ifGrad(x, () => g.mul(y)), ifGrad(y, () => g.mul(x))]);
// d(a/b)/da = 1/b, d(a/b)/db = -a/b²
/** a / b, broadcast. */
export const div = (a: TensorLike, b: TensorLike) =>
  binaryOp(
    'div',
    a,
    b,
    (g, x, y, out) => [ifGrad(x, () => g.div(y)), ifGrad(y, () => g.mul(out).div(y).neg())],
    (_x, y, out) => [y, out],
  );
// d(a^b)/da = b·a^(b-1), d(a^b)/db = a^b·ln a. NOTE: as in torch, the first is 0 where b = 0 and
// the second is 0 where a = 0 and b >= 0 (not 0·∞ = NaN).
/** a to the power b, broadcast. */
export const pow = (a: TensorLike, b: TensorLike) =>
  binaryOp(
    'pow',
    a,
    b,
    (g, x, y, out) => [
      ifGrad(x, () => where(y.eq(0), 0, g.mul(y).mul(x.pow(y.sub(1))))),
      ifGrad(y, () => where(x.eq(0).mul(y.ge(0)), 0, g.mul(out).mul(log(x)))),
    ],
    (x, y, out) => [x, y, out],
  );
// Ties split the gradient evenly, as in torch.maximum.
const tieSplit = (g: Tensor, win: Tensor, tie: Tensor): Tensor => g.mul(win.add(tie.mul(0.5)));
/** The larger of a and b, broadcast (a tie splits the gradient equally). */
export const maximum = (a: TensorLike, b: TensorLike) =>
  binaryOp('maximum', a, b, (g, x, y) => [ifGrad(x, () => tieSplit(g, x.gt(y), x.eq(y))), ifGrad(y, () => tieSplit(g, y.gt(x), x.eq(y)))]);
/** The smaller of a and b, broadcast (a tie splits the gradient equally). */
export const minimum = (a: TensorLike, b: TensorLike) =>
  binaryOp('minimum', a, b, (g, x, y) => [ifGrad(x, () => tieSplit(g, x.lt(y), x.eq(y))), ifGrad(y, () => tieSplit(g, y.lt(x), x.eq(y)))]);

/** Comparisons return int32 0/1 masks and carry no gradient. */
export const eq = (a: TensorLike, b: TensorLike) => binaryOp('eq', a, b);
/** a ≠ b as an int32 0/1 mask, broadcast. */
export const ne = (a: TensorLike, b: TensorLike) => binaryOp('ne', a, b);
/** a < b as an int32 0/1 mask, broadcast. */
export const lt = (a: TensorLike, b: TensorLike) => binaryOp('lt', a, b);
/** a ≤ b as an int32 0/1 mask, broadcast. */
export const le = (a: TensorLike, b: TensorLike) => binaryOp('le', a, b);
/** a > b as an int32 0/1 mask, broadcast. */
export const gt = (a: TensorLike, b: TensorLike) => binaryOp('gt', a, b);
/** a ≥ b as an int32 0/1 mask, broadcast. */
export const ge = (a: TensorLike, b: TensorLike) => binaryOp('ge', a, b);

/** cond ? a : b, broadcasting all three; cond is any tensor, nonzero = true. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor('where', 'condition', cond);
  const [x, y] = broadcastPair('where', a, b);
  const shape = broadcastShapes('where', cond.shape, x.shape);
  const [c, xe, ye] = [cond, x, y].map((t) => (sameShape(t.shape, shape) ? t : expand(t, shape)));
  const dtype = promote(x.dtype, y.dtype);
  const out = wrap(be(xe).where(c.storage, xe.storage, ye.storage, dtype), shape);
  return record(out, 'where', [xe, ye], (g) => [ifGrad(xe, () => where(c, g, 0)), ifGrad(ye, () => where(c, 0, g))], [c]);
}

/** Limits values to [min, max]; the gradient passes where min <= x <= max (as torch.clamp). */
export function clamp(x: Tensor, min: number | null, max: number | null = null): Tensor {
  checkTensor('clamp', 'input', x);
  if (min === null && max === null) throw new ValueError('clamp: at least one of min and max must be given.');
  for (const [arg, v] of [
    ['min', min],
    ['max', max],
  ] as const) {
    if (v !== null && typeof v !== 'number') throw new ValueError(`clamp: ${arg} must be a number or null: got ${typeof v}.`);
    if (v !== null && x.dtype === 'int32' && Number.isInteger(v)) checkInt32('clamp', arg, v);
  }
  if (min !== null && max !== null && min > max) throw new ValueError(`clamp: min ${min} is greater than max ${max}.`);
  const y = noGrad(() => {
    let t = x;
    if (min !== null) t = t.maximum(min);
    if (max !== null) t = t.minimum(max);
    return t;
  });
  const inside = (): Tensor => {
    let m: Tensor | null = null;
    if (min !== null) m = x.ge(min);
    if (max !== null) m = m ? m.mul(x.le(max)) : x.le(max);
    return m!;
  };
  return record(y, 'clamp', [x], (g) => [g.mul(inside())]);
}

// Neural-network functions composed from primitives: softmax, log-softmax, the losses
// (cross-entropy, NLL, KL divergence, MSE), batch norm and dropout. Compositions differentiate
// (and double-differentiate) through the primitives' rules; PyTorch's F.* are the reference.

import { Tensor } from '../tensor.ts';
import { isGradEnabled, noGrad, record } from '../autograd/tape.ts';
import { grad } from '../autograd/grad.ts';
import type { BnStats } from '../backend/backend.ts';
import { broadcastShapes, fmtShape, normalizeDim } from '../shape.ts';
import { DTypeError, ShapeError, ValueError } from '../errors.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import { be, checkDevices, checkFloat, checkTensor, fitsInt32, wrap } from './util.ts';
import { amax, logsumexp, mean, sum } from './reduce.ts';
import { where } from './elementwise.ts';
import { gather, gatherInRange, reshape, squeeze, unsqueeze } from './movement.ts';
import { rand } from './create.ts';
import { contiguousData, cpuView, isDense, isDeviceData } from '../storage.ts';
import { deviceBackend } from '../backend/backend.ts';

/** How a loss reduces over elements: their mean, their sum, or none (the per-element losses). */
export type Reduction = 'mean' | 'sum' | 'none';

/** Softmax along `dim`: the exp of the fused log-softmax (computed stably, max subtracted). */
export function softmax(x: Tensor, dim: number): Tensor {
  checkFloat('softmax', 'input', x);
  const d = normalizeDim('softmax', dim, x.ndim);
  if (x.ndim > 0 && x.size > 0) return logSoftmax(x, d).exp(); // two passes on the fused kernel
  const e = x.sub(x.size === 0 ? 0 : noGrad(() => amax(x, d, true))).exp(); // an empty input gives an empty output, as in torch
  return e.div(sum(e, d, true));
}

/** log(softmax(x)) along `dim`, computed stably: one fused primitive each way (the backend's logSoftmax / logSoftmaxBackward); double backward differentiates the rule's ops. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  checkFloat('logSoftmax', 'input', x);
  const d = normalizeDim('logSoftmax', dim, x.ndim);
  if (x.ndim === 0 || x.size === 0) return x.sub(logsumexp(x, d, true)); // scalars and empty inputs: the composed ops
  const r = be(x).logSoftmax(x.storage, d, x.requiresGrad && isGradEnabled()); // the probabilities only for a backward
  const y = wrap(r.y, x.shape),
    p = r.p && wrap(r.p, x.shape);
  return record(
    y,
    'logSoftmax',
    [x],
    (gy) => {
      if (isGradEnabled() || !p) return [gy.sub(y.exp().mul(sum(gy, d, true)))]; // createGraph: in ops, differentiable again
      return [wrap(be(y).logSoftmaxBackward(gy.storage, p.storage, d), x.shape)];
    },
    [y],
  );
}

function reduce(op: string, loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return sum(loss);
  if (reduction === 'mean') return mean(loss);
  throw new ValueError(`${op}: reduction must be 'mean', 'sum' or 'none': got '${String(reduction)}'.`);
}

/** Options of nllLoss and crossEntropy: class weights, the ignored target index (default −100) and the reduction. */
export interface NllOptions {
  weight?: Tensor | null;
  ignoreIndex?: number;
  reduction?: Reduction;
}

/**
 * Negative log-likelihood of int32 targets under log-probabilities over dim 1:
 * input (N, C, ...), target (N, ...). 'mean' divides by the summed weights of non-ignored targets.
 */
export function nllLoss(input: Tensor, target: Tensor, opts: NllOptions = {}): Tensor {
  const op = 'nllLoss';
  checkTensor(op, 'input', input);
  checkTensor(op, 'target', target);
  checkFloat(op, 'input', input);
  if (target.dtype !== 'int32') throw new DTypeError(`${op}: target must be an int32 tensor of class indices: got ${target.dtype}.`);
  const { weight = null, ignoreIndex = -100, reduction = 'mean' } = opts;
  if (!Number.isInteger(ignoreIndex) || !fitsInt32(ignoreIndex)) throw new ValueError(`${op}: ignoreIndex must be an int32 integer: got ${ignoreIndex}.`);
  if (input.ndim < 2) throw new ShapeError(`${op}: input must be (N, C, ...): got shape ${fmtShape(input.shape)}.`);
  const C = input.shape[1];
  const want = [input.shape[0], ...input.shape.slice(2)];
  if (target.ndim !== want.length || target.shape.some((s, i) => s !== want[i])) {
    throw new ShapeError(`${op}: target shape ${fmtShape(target.shape)} does not match input ${fmtShape(input.shape)}: expected ${fmtShape(want)}.`);
  }
  if (weight && (weight.ndim !== 1 || weight.shape[0] !== C)) throw new ShapeError(`${op}: weight must have shape [${C}]: got ${fmtShape(weight.shape)}.`);
  const valid = target.ne(ignoreIndex); // (N, ...) int32
  checkTargets(op, target, valid, C, ignoreIndex);
  const safe = where(valid, target, 0); // ignored targets point at class 0, then get weight 0
  const pick = C > 0 ? gatherInRange : gather; // safe is in [0, C) by checkTargets (C = 0: gather reports the 0s)
  const picked = squeeze(pick(input, 1, unsqueeze(safe, 1)), 1); // (N, ...)
  const w = weight ? reshape(pick(weight, 0, reshape(safe, [-1])), safe.shape).mul(valid) : valid.to(input.dtype);
  const loss = picked.mul(w).neg();
  if (reduction === 'mean') return sum(loss).div(sum(w));
  return reduce(op, loss, reduction);
}

/** Every target is a class in [0, C) or ignoreIndex; on a device the check runs there and reports at the next read. */
function checkTargets(op: string, target: Tensor, valid: Tensor, C: number, ignoreIndex: number): void {
  const msg = (v: string) => `${op}: target value ${v} is out of range for ${C} classes (ignoreIndex = ${ignoreIndex}).`;
  if (target.device !== 'cpu') {
    if (target.size === 0) return;
    const bad = amax(valid.mul(target.lt(0).add(target.ge(C)))); // any bad target: max of the 0/1 marks, no int32 sum
    deviceBackend(target.device).deferCheck(bad.storage, () => new ShapeError(msg('(one of them)')));
    return;
  }
  const t = contiguousData(cpuView(target.storage, op));
  for (let i = 0; i < t.length; i++) if (t[i] !== ignoreIndex && (t[i] < 0 || t[i] >= C)) throw new ShapeError(msg(String(t[i])));
}

/** log_softmax over dim 1 followed by nll_loss (F.cross_entropy over (N, C, ...) logits). */
export function crossEntropy(input: Tensor, target: Tensor, opts: NllOptions = {}): Tensor {
  checkTensor('crossEntropy', 'input', input);
  if (input.ndim < 2) throw new ShapeError(`crossEntropy: input must be (N, C, ...): got shape ${fmtShape(input.shape)}.`);
  return nllLoss(logSoftmax(input, 1), target, opts);
}

/** Options of klDiv: the reduction ('batchmean' divides the sum by the batch size) and whether the target is given as log-probabilities. */
export interface KlDivOptions {
  reduction?: Reduction | 'batchmean';
  logTarget?: boolean;
}

/** KL(target ‖ exp(input)) pointwise: target·(log target − input), with 0·log 0 = 0. */
export function klDiv(input: Tensor, target: Tensor, opts: KlDivOptions = {}): Tensor {
  checkPair('klDiv', input, target);
  checkFloat('klDiv', 'input', input);
  checkFloat('klDiv', 'target', target);
  const { reduction = 'mean', logTarget = false } = opts;
  let loss: Tensor;
  if (logTarget) loss = target.exp().mul(target.sub(input));
  else {
    const pos = target.gt(0);
    const logT = where(pos, target, 1).log(); // log 1 = 0 where target = 0
    loss = target.mul(logT.sub(input));
  }
  if (reduction === 'batchmean') return sum(loss).div(input.ndim > 0 ? input.shape[0] : 1);
  return reduce('klDiv', loss, reduction);
}

/** A loss's input and target (and optional weight) must broadcast: checked here so that the error names the loss. */
function checkPair(op: string, input: Tensor, target: Tensor, weight?: Tensor | null): void {
  checkTensor(op, 'input', input);
  checkTensor(op, 'target', target);
  checkDevices(op, weight ? [input, target, weight] : [input, target]);
  const s = broadcastShapes(op, input.shape, target.shape);
  if (weight) broadcastShapes(op, s, weight.shape);
}

/** Mean squared error between input and target (same shape). */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  checkPair('mseLoss', input, target);
  checkFloat('mseLoss', 'input', input);
  const d = input.sub(target);
  return reduce('mseLoss', d.mul(d), opts.reduction ?? 'mean');
}

/** Binary cross-entropy on logits, computed stably: max(x,0) − x·t + log(1 + e^−|x|). */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, opts: { reduction?: Reduction; posWeight?: Tensor | null } = {}): Tensor {
  checkPair('binaryCrossEntropyWithLogits', input, target, opts.posWeight);
  checkFloat('binaryCrossEntropyWithLogits', 'input', input);
  const softplusNeg = input.abs().neg().exp().add(1).log(); // log(1 + e^−|x|)
  let loss: Tensor;
  if (opts.posWeight) {
    const lw = opts.posWeight.sub(1).mul(target).add(1);
    // (1 − t)·x + lw·softplus(−x), softplus(−x) = log(1 + e^−|x|) + max(−x, 0)
    loss = input.mul(target.neg().add(1)).add(lw.mul(softplusNeg.add(input.neg().relu())));
  } else loss = input.relu().sub(input.mul(target)).add(softplusNeg);
  return reduce('binaryCrossEntropyWithLogits', loss, opts.reduction ?? 'mean');
}

/** Options of batchNorm: train mode (batch statistics, running ones updated) or eval, momentum and eps. */
export interface BatchNormOptions {
  training?: boolean;
  momentum?: number;
  eps?: number;
  /** 'relu': relu(batchNorm(x)) in one fused pass each way (the same values as `.relu()` after it). */
  activation?: 'relu' | null;
}

function checkBatchNorm(x: Tensor, stats: readonly (readonly [string, Tensor | null])[], eps: number): void {
  const op = 'batchNorm';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.ndim < 2) throw new ShapeError(`${op}: input must be (N, C, ...): got shape ${fmtShape(x.shape)}.`);
  for (const [name, t] of stats) {
    if (t && (t.ndim !== 1 || t.shape[0] !== x.shape[1]))
      throw new ShapeError(`${op}: ${name} must have shape [${x.shape[1]}] for input ${fmtShape(x.shape)}: got ${fmtShape(t.shape)}.`);
  }
  if (!(eps > 0)) throw new ValueError(`${op}: eps must be positive: got ${eps}.`);
}

/**
 * Batch norm over dim 1 of (N, C, ...). Training normalises with the batch statistics (biased
 * variance) and updates the running stats in place with the unbiased variance:
 * running = (1 − momentum)·running + momentum·batch. Eval uses the running stats.
 * Runs fused kernels (with activation 'relu', the ReLU too); double backward differentiates
 * `batchNormComposed` instead.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  opts: BatchNormOptions = {},
): Tensor {
  const { training = false, momentum = 0.1, eps = 1e-5, activation = null } = opts;
  if (activation !== null && activation !== 'relu') throw new ValueError(`batchNorm: activation must be 'relu' or null: got '${String(activation)}'.`);
  checkBatchNorm(
    x,
    [
      ['runningMean', runningMean],
      ['runningVar', runningVar],
      ['weight', weight],
      ['bias', bias],
    ],
    eps,
  );
  const C = x.shape[1],
    M = x.size / C;
  let stats: BnStats;
  if (training) {
    if (M <= 1) throw new ValueError(`batchNorm: expected more than 1 value per channel when training: got input ${fmtShape(x.shape)}.`);
    stats = be(x).batchNormStats(x.storage, eps);
    if (runningMean && runningVar) updateRunningStats(runningMean, runningVar, stats, eps, M, momentum);
  } else {
    if (!runningMean || !runningVar) throw new ValueError('batchNorm: runningMean and runningVar are required in eval mode.');
    const invstd = noGrad(() => runningVar.add(eps).rsqrt().contiguous());
    stats = { mean: runningMean.contiguous().storage.data, invstd: invstd.storage.data };
  }
  const relu = activation === 'relu';
  const y = wrap(be(x).batchNorm(x.storage, stats, weight?.storage ?? null, bias?.storage ?? null, relu), x.shape);
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  return record(
    y,
    relu ? 'batchNormRelu' : 'batchNorm',
    inputs,
    (gy) => {
      if (isGradEnabled()) {
        // createGraph: differentiate the composed reference so the gradient is differentiable too
        const fixed: [Tensor, Tensor] | null = training ? null : [runningMean!, runningVar!];
        const ref = batchNormComposed(x, fixed, weight, bias, eps);
        const wanted = inputs.filter((t) => t.requiresGrad); // a weight may be frozen: grad() takes only what requires grad
        const gs = grad([relu ? ref.relu() : ref], wanted, { gradOutputs: [gy], createGraph: true, allowUnused: true });
        return inputs.map((t) => (t.requiresGrad ? gs[wanted.indexOf(t)] : null));
      }
      const r = be(x).batchNormBackward(gy.storage, x.storage, stats, weight?.storage ?? null, training, relu ? y.storage : null);
      const gx = wrap(r.gx, x.shape);
      const gw = Tensor.fromData(r.gw, [C]).to(x.dtype),
        gb = Tensor.fromData(r.gb, [C]).to(x.dtype);
      return [gx, weight ? gw : null, bias ? gb : null].filter((_, i) => [x, weight, bias][i] !== null);
    },
    [x, weight, ...(training ? [] : [runningMean, runningVar]), ...(relu ? [y] : [])].filter((t): t is Tensor => t !== null),
  );
}

/**
 * running = (1 − momentum)·running + momentum·batch, with the unbiased batch variance recovered from
 * invstd = 1/sqrt(var + eps): the backend's one primitive for dense running stats of one dtype whose
 * statistics it computed (CPU: one loop with the bits of the ops below; GPU: two kernels); anything
 * else runs the ops.
 */
function updateRunningStats(runningMean: Tensor, runningVar: Tensor, stats: BnStats, eps: number, M: number, momentum: number): void {
  const C = runningMean.size,
    rm = runningMean.storage,
    rv = runningVar.storage,
    { mean, invstd } = stats;
  const onDevice = isDeviceData(rm.data);
  const statsHere = onDevice ? isDeviceData(mean) && isDeviceData(invstd) : mean instanceof Float64Array && invstd instanceof Float64Array;
  if (runningMean.dtype === runningVar.dtype && statsHere && isDeviceData(rv.data) === onDevice && isDense(rm) && isDense(rv) && rm.data !== rv.data) {
    be(runningMean).batchNormRunningStats(rm, rv, stats, eps, M, momentum);
    runningMean.version.n++;
    runningVar.version.n++;
    return;
  }
  noGrad(() => {
    const m = Tensor.fromData(mean, [C]),
      is = Tensor.fromData(invstd, [C]);
    const unbiased = is
      .square()
      .pow(-1)
      .sub(eps)
      .mul(M / (M - 1)); // back from 1/sqrt(var + eps)
    runningMean.copy_(runningMean.mul(1 - momentum).add(m.mul(momentum)));
    runningVar.copy_(runningVar.mul(1 - momentum).add(unbiased.mul(momentum)));
  });
}

/** Batch norm composed from primitives: the reference for the fused kernels (no running update). */
export function batchNormComposed(x: Tensor, fixedStats: readonly [Tensor, Tensor] | null, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const dims = [0, ...Array.from({ length: x.ndim - 2 }, (_, i) => i + 2)];
  const bshape = x.shape.map((s, i) => (i === 1 ? s : 1)); // (1, C, 1, 1)
  let mu: Tensor, v: Tensor;
  if (fixedStats) [mu, v] = [reshape(fixedStats[0], bshape), reshape(fixedStats[1], bshape)];
  else {
    mu = mean(x, dims, true);
    const d = x.sub(mu);
    v = mean(d.mul(d), dims, true);
  }
  let y = x.sub(mu).mul(v.add(eps).rsqrt());
  if (weight) y = y.mul(reshape(weight, bshape));
  if (bias) y = y.add(reshape(bias, bshape));
  return y;
}

/** Zeroes each element with probability p and scales the rest by 1/(1−p) (training only). */
export function dropout(x: Tensor, p = 0.5, training = true, generator: Generator = defaultGenerator): Tensor {
  checkFloat('dropout', 'input', x);
  if (!(p >= 0 && p <= 1)) throw new ValueError(`dropout: p must be in [0, 1]: got ${p}.`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const keep = rand(x.shape, { dtype: x.dtype, generator, device: x.device }).ge(p); // P(keep) = 1 − p; drawn on the CPU, then moved
  return x.mul(keep).mul(1 / (1 - p));
}

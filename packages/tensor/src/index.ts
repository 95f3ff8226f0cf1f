/**
 * The public API of `@lad/tensor`: the Tensor class, creation, ops, autograd, random and errors.
 * Importing it registers the CPU backend; `await initBackend('gpu')` adds the GPU one.
 *
 * @packageDocumentation
 * @module @lad/tensor
 */

import { registerBackend } from './backend/backend.ts';
import { cpuBackend } from './backend/cpu/index.ts';
import { guardReleased } from './tidy.ts';

registerBackend('cpu', guardReleased(cpuBackend)); // every primitive refuses a tensor tidy() released

export { Tensor, type Device, type DType, type NestedArray, type TensorLike } from './tensor.ts';
export * from './ops/create.ts';
export {
  neg,
  exp,
  log,
  sqrt,
  rsqrt,
  abs,
  sign,
  relu,
  sigmoid,
  tanh,
  pow,
  clamp,
  add,
  sub,
  mul,
  div,
  maximum,
  minimum,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  where,
} from './ops/elementwise.ts';
export { sum, mean, variance, amax, amin, max, min, argmax, argmin, logsumexp, type ValuesIndices, type VarOptions } from './ops/reduce.ts';
export {
  reshape,
  view,
  flatten,
  permute,
  transpose,
  expand,
  sumTo,
  slice,
  narrow,
  select,
  flip,
  squeeze,
  unsqueeze,
  contiguous,
  clone,
  cat,
  stack,
  split,
  chunk,
  pad,
  gather,
  scatterAdd,
  indexSelect,
  oneHot,
} from './ops/movement.ts';
export { matmul } from './ops/linalg.ts';
export { conv2d, conv2dBackwardInput, conv2dBackwardWeight, type Conv2dOptions } from './ops/conv.ts';
export { maxPool2d, maxPool2dWithIndices, avgPool2d, adaptiveAvgPool2d, type Pool2dOptions, type AvgPool2dOptions } from './ops/pool.ts';
export { interpolate, type InterpolateOptions } from './ops/resize.ts';
export * from './ops/nnfunc.ts';
export { noGrad, isGradEnabled, withGradMode, type BackwardOptions } from './autograd/tape.ts';
export { grad, type GradOptions } from './autograd/grad.ts';
export { tidy, keep, tidyStats } from './tidy.ts';
export { gradcheck, type GradcheckOptions } from './autograd/gradcheck.ts';
export { Generator, defaultGenerator, manualSeed } from './random.ts';
export { TensorError, ShapeError, DTypeError, DeviceError, InternalError, ValueError } from './errors.ts';
export { fmtShape, broadcastShapes } from './shape.ts';
export { backendFor, registerBackend, type Backend } from './backend/backend.ts';
export { initBackend, flush, disposeBackend, gpuStats, type GpuInfo, type GpuMode, type InitOptions } from './backend/init.ts';
export { setNumThreads, getNumThreads, threadStats, setSplitMacs } from './backend/cpu/threads.ts';
export { initThreads, singleThreadReason } from './backend/cpu/threads-web.ts';
export { setFma, gemmKernel } from './backend/cpu/gemm.ts';
export { profile, profileSteps, type Profile, type ProfileRow, type ProfileOptions, type ProfileStepsOptions, type Phase, type RowKind } from './profile.ts';
export { sgdUpdate_ } from './ops/optim.ts';

/**
 * `@lad/nn`: Module and its layers, the functional forms (as `F`), init and loss modules on
 * `@lad/tensor`, with the optimizers and schedules (./optim) and safetensors/checkpoint I/O (./io).
 *
 * @packageDocumentation
 * @module @lad/nn
 */

export { Module, parameter, buffer, isParameter, isBuffer, StateDictError, type IncompatibleKeys, type Layer } from './module.ts';
export type { StateDict, LoadStateDictOptions, OptimizerParamState, ParamGroupState, OptimizerStateDict } from './types.ts';
export * as F from './functional.ts';
export * as init from './init.ts';
export * from './init.ts';
export { Linear, type LinearOptions } from './layers/linear.ts';
export { Conv2d, type Conv2dLayerOptions } from './layers/conv.ts';
export { BatchNorm2d, type BatchNormLayerOptions } from './layers/batchnorm.ts';
export { ReLU, Sigmoid, Identity } from './layers/activation.ts';
export { Dropout, Dropout2d, type DropoutOptions } from './layers/dropout.ts';
export { Upsample } from './layers/upsample.ts';
export { Sequential, ModuleList, ModuleDict } from './layers/container.ts';
export type { FactoryOptions } from './layers/util.ts';
export * from './losses.ts';

// ---- other parts of @lad/nn, owned by their own folders ---------------------------------------
export * from './optim/index.ts';
export * from './io/index.ts';

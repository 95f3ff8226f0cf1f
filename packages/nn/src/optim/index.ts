// @lad/nn optimizers: SGD, Adam, AdamW (torch.optim's update rules), LR schedules and
// gradient-norm clipping.

export { Optimizer, type OptimizerOptions, type OptimizerOptionValue, type ParamGroup, type ParamGroupInput, type ParamsInput } from './optimizer.ts';
export { SGD, SGD_DEFAULTS, type SGDOptions } from './sgd.ts';
export { Adam, AdamW, ADAM_DEFAULTS, ADAMW_DEFAULTS, type AdamOptions } from './adam.ts';
export { LRScheduler, poly, stepDecay, cosine, linearWarmup, sequential, chain, type Schedule, type SchedulerStateDict, type LrGroup } from './schedule.ts';
export { clipGradNorm, type ClipGradNormOptions } from './clip.ts';

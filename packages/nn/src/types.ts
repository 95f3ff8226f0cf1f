// Shared shapes of state that modules, optimizers and checkpoints exchange.
// Keeping them here lets each part be written and tested on its own.

import type { Tensor } from '@lad/tensor';

/** Flat map of dotted names (`backbone.layer1.0.conv1.weight`) to tensors, as in PyTorch. */
export type StateDict = Record<string, Tensor>;

/** Options of Module.loadStateDict. */
export interface LoadStateDictOptions {
  /** Require exactly the module's keys (default true). */
  strict?: boolean;
}

/** Per-parameter optimizer state (e.g. momentum_buffer, exp_avg, step), keyed by parameter index. */
export type OptimizerParamState = Record<string, Tensor | number>;

/** Serializable hyper-parameters of one parameter group; `params` are indices into the flat list. */
export interface ParamGroupState {
  params: number[];
  [option: string]: number | boolean | number[] | null;
}

/** What Optimizer.stateDict() returns, mirroring torch.optim.Optimizer.state_dict(). */
export interface OptimizerStateDict {
  state: Record<number, OptimizerParamState>;
  paramGroups: ParamGroupState[];
}

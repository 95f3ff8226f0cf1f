// The Optimizer base class: parameter groups whose options override the defaults, lazily created
// per-parameter state, zeroGrad/step, and stateDict/loadStateDict in the OptimizerStateDict shape.
// Follows torch.optim.Optimizer (param_groups, state keyed by the parameter's flat index,
// load_state_dict's group checks). Subclasses supply one update rule per parameter.

import { DTypeError, ShapeError, Tensor, ValueError, fmtShape, keep, noGrad, withGradMode } from '@lad/tensor';
import type { OptimizerParamState, OptimizerStateDict, ParamGroupState } from '../types.ts';

/** An option value that a state dict can hold (betas is a number pair). */
export type OptimizerOptionValue = number | boolean | readonly number[];
/** Hyper-parameters of one optimizer, all present in a group. */
export type OptimizerOptions = { lr: number } & Record<string, OptimizerOptionValue>;
/** One parameter group: its tensors and its options (lr is mutable, for LR schedules). */
export type ParamGroup<O extends OptimizerOptions> = O & { params: Tensor[]; initialLr?: number };
/** What a constructor accepts for a group: its tensors and the options it overrides. */
export type ParamGroupInput<O extends OptimizerOptions> = Partial<O> & { params: Iterable<Tensor> };
/** What an optimizer takes: parameters, or parameter groups with their own options. */
export type ParamsInput<O extends OptimizerOptions> = Iterable<Tensor> | Iterable<ParamGroupInput<O>>;

/** Checks one group's options, throwing a ValueError that names the optimizer and the option. */
export type OptionCheck<O> = (opts: O, where: string) => void;

/** Keys of a parameter's state: tensors shaped like the parameter, and scalars (the step count). */
export interface StateKeys {
  tensors: readonly string[];
  scalars: readonly string[];
}

/** Base class of the optimizers: parameter groups with options, per-parameter state, zeroGrad/step and state dicts in torch's layout. */
export abstract class Optimizer<O extends OptimizerOptions> {
  readonly paramGroups: ParamGroup<O>[];
  /** Per-parameter state, created on the parameter's first step. */
  protected state = new Map<Tensor, OptimizerParamState>();

  protected constructor(
    readonly name: string,
    params: ParamsInput<O>,
    readonly defaults: O,
    private readonly check: OptionCheck<O>,
    private readonly stateKeys: StateKeys,
  ) {
    check(defaults, '');
    this.paramGroups = toGroups(name, params, defaults);
    this.paramGroups.forEach((g, i) => check(g, this.paramGroups.length > 1 ? ` (param group ${i})` : ''));
    checkParams(name, this.paramGroups);
  }

  /** Updates one parameter in place (called under noGrad, only when its grad is set). */
  protected abstract update(p: Tensor, grad: Tensor, group: ParamGroup<O>, state: OptimizerParamState): void;

  /** Sets every parameter's grad to null (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.params()) p.zeroGrad();
  }

  /** One update of every parameter that has a grad; `closure` re-evaluates the loss first. */
  step<L>(closure?: () => L): L | undefined {
    const loss = closure ? withGradMode(true, closure) : undefined;
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) if (p.grad !== null) this.update(p, this.checkGrad(p, p.grad), group, this.stateOf(p));
      }
    });
    this.keepState();
    return loss;
  }

  /** Marks the state tensors (made lazily, or anew by each step) as state that a tidy() around the step must not release. */
  private keepState(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) keep(v);
  }

  /** All parameters, in group order (the indices stateDict uses). */
  params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  private checkGrad(p: Tensor, g: Tensor): Tensor {
    if (!sameShape(g.shape, p.shape)) {
      const i = this.params().indexOf(p);
      throw new ShapeError(
        `${this.name}.step: the grad of parameter ${i}: got shape ${fmtShape(g.shape)}, expected ${fmtShape(p.shape)} (the parameter's shape).`,
      );
    }
    return g;
  }

  private stateOf(p: Tensor): OptimizerParamState {
    let s = this.state.get(p);
    if (!s) this.state.set(p, (s = {}));
    return s;
  }

  /** A copy of the state: tensors are cloned, so later steps do not change a saved dict. */
  stateDict(): OptimizerStateDict {
    const index = new Map(this.params().map((p, i) => [p, i]));
    const state: Record<number, OptimizerParamState> = {};
    for (const [p, s] of this.state) state[index.get(p)!] = copyState(s, null);
    const paramGroups = this.paramGroups.map((g): ParamGroupState => {
      const { params, ...opts } = g;
      return { ...copyOptions(opts), params: params.map((p) => index.get(p)!) };
    });
    return { state, paramGroups };
  }

  /** Throws what loadStateDict would throw for `sd` (a ValueError, ShapeError or DTypeError naming the entry), changing nothing. */
  checkStateDict(sd: OptimizerStateDict): void {
    this.prepareLoad(sd);
  }

  /** Restores options and state saved by stateDict(); checks everything before changing anything. */
  loadStateDict(sd: OptimizerStateDict): void {
    const { groups, byId } = this.prepareLoad(sd);
    const state = new Map<Tensor, OptimizerParamState>();
    for (const [key, s] of Object.entries(sd.state)) state.set(byId.get(Number(key))!, copyState(s, byId.get(Number(key))!, this.stateKeys.scalars));
    groups.forEach((g, i) => Object.assign(this.paramGroups[i], g));
    this.state = state;
    this.keepState();
  }

  /** Checks a saved state against this optimizer: its groups (with their options) and each parameter's state. */
  private prepareLoad(sd: OptimizerStateDict): { groups: ParamGroup<O>[]; byId: Map<number, Tensor> } {
    const op = `${this.name}.loadStateDict`;
    if (typeof sd !== 'object' || sd === null || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object' || sd.state === null) {
      throw new ValueError(`${op}: got ${sd === null ? 'null' : typeof sd}, expected a state dict { state, paramGroups } from stateDict().`);
    }
    const byId = this.matchGroups(op, sd.paramGroups);
    const groups = sd.paramGroups.map((saved, i) => {
      const { params: _ids, ...opts } = saved;
      const g = { ...this.paramGroups[i], ...copyOptions(opts) } as ParamGroup<O>;
      this.check(g, ` (paramGroups[${i}] of the loaded state)`);
      return g;
    });
    for (const [key, s] of Object.entries(sd.state)) {
      const p = byId.get(Number(key));
      if (!p) throw new ValueError(`${op}: state[${key}]: got a state for parameter ${key}, expected one of the indices listed in paramGroups.`);
      this.checkState(op, key, s, p);
    }
    return { groups, byId };
  }

  /** Pairs saved parameter indices with this optimizer's parameters, group by group. */
  private matchGroups(op: string, saved: readonly ParamGroupState[]): Map<number, Tensor> {
    if (saved.length !== this.paramGroups.length) {
      throw new ValueError(`${op}: paramGroups: got ${saved.length} groups, expected ${this.paramGroups.length} (the optimizer's groups).`);
    }
    const byId = new Map<number, Tensor>();
    saved.forEach((g, i) => {
      const mine = this.paramGroups[i].params;
      if (g.params.length !== mine.length) {
        throw new ValueError(
          `${op}: paramGroups[${i}].params: got ${g.params.length} parameters, expected ${mine.length} (the size of this optimizer's group ${i}).`,
        );
      }
      g.params.forEach((id, k) => byId.set(id, mine[k]));
    });
    return byId;
  }

  private checkState(op: string, key: string, s: OptimizerParamState, p: Tensor): void {
    const { tensors, scalars } = this.stateKeys;
    for (const [name, v] of Object.entries(s)) {
      const where = `${op}: state[${key}].${name}`;
      if (scalars.includes(name)) {
        const n = v instanceof Tensor && v.size === 1 ? v.item() : v;
        if (typeof n !== 'number' || !(n >= 0)) throw new ValueError(`${where}: got ${String(v)}, expected a non-negative number.`);
      } else if (tensors.includes(name)) {
        if (!(v instanceof Tensor)) throw new ValueError(`${where}: got ${typeof v}, expected a Tensor.`);
        if (!sameShape(v.shape, p.shape))
          throw new ShapeError(`${where}: got shape ${fmtShape(v.shape)}, expected ${fmtShape(p.shape)} (the shape of parameter ${key}).`);
        if (!v.isFloat) throw new DTypeError(`${where}: got dtype ${v.dtype}, expected a float tensor.`);
      } else {
        throw new ValueError(`${where}: got an unknown state entry, expected one of ${[...tensors, ...scalars].join(', ')}.`);
      }
    }
  }
}

// ---- helpers -------------------------------------------------------------------------------

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Normalises the constructor's argument to groups with every option filled in. */
function toGroups<O extends OptimizerOptions>(name: string, params: ParamsInput<O>, defaults: O): ParamGroup<O>[] {
  const items = Array.from(params as Iterable<unknown>);
  if (items.length === 0) throw new ValueError(`${name}: params: got an empty parameter list, expected at least one parameter.`);
  if (items.every((x) => x instanceof Tensor)) return [{ ...copyArrays(defaults), params: items as Tensor[] }];
  return items.map((x, i) => {
    if (x instanceof Tensor || typeof x !== 'object' || x === null || !('params' in x)) {
      throw new TypeError(
        `${name}: params[${i}]: got ${x instanceof Tensor ? 'a Tensor' : typeof x}, expected either all Tensors or all groups { params, ...options }.`,
      );
    }
    const { params: ps, ...opts } = x as ParamGroupInput<O>;
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    return { ...copyArrays({ ...defaults, ...given }), params: ps instanceof Tensor ? [ps] : Array.from(ps) } as ParamGroup<O>;
  });
}

/** Own copies of array options (betas), so no two groups share one. */
const copyArrays = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v])) as T;

/** Every parameter a float leaf that requires grad, and in one group only. */
function checkParams<O extends OptimizerOptions>(name: string, groups: readonly ParamGroup<O>[]): void {
  const seen = new Map<Tensor, string>();
  let i = 0;
  groups.forEach((g, gi) => {
    for (const p of g.params) {
      const what = `${name}: parameter ${i}${groups.length > 1 ? ` (param group ${gi})` : ''}`;
      if (!(p instanceof Tensor)) throw new TypeError(`${what}: got ${typeof p}, expected a Tensor.`);
      if (!p.isFloat) throw new DTypeError(`${what}: got dtype ${p.dtype}, expected a float tensor (float32 or float64).`);
      if (!p.isLeaf) throw new ValueError(`${what}: got a non-leaf tensor (the result of an op), expected a leaf; optimize the tensor it was computed from.`);
      if (!p.requiresGrad) throw new ValueError(`${what}: got requiresGrad false, expected a tensor that requires grad.`);
      const prev = seen.get(p);
      if (prev !== undefined) throw new ValueError(`${what}: got the same tensor as ${prev}, expected each parameter in one group only.`);
      seen.set(p, `parameter ${i}${groups.length > 1 ? ` (param group ${gi})` : ''}`);
      i++;
    }
  });
}

/** OptimizerOptions as plain data (arrays copied), for a state dict or from one. */
function copyOptions(opts: Record<string, unknown>): Record<string, number | boolean | number[] | null> {
  const out: Record<string, number | boolean | number[] | null> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? [...(v as number[])] : (v as number | boolean | null);
  }
  return out;
}

/** Clones a parameter's state; loading (with `p`), tensors take p's dtype and scalars become numbers. */
function copyState(s: OptimizerParamState, p: Tensor | null, scalars: readonly string[] = []): OptimizerParamState {
  const out: OptimizerParamState = {};
  for (const [k, v] of Object.entries(s)) {
    if (!(v instanceof Tensor)) out[k] = v;
    else if (scalars.includes(k)) out[k] = v.item();
    // a loaded state follows its parameter's dtype and device (a CPU checkpoint into a GPU model)
    else out[k] = noGrad(() => (p && (v.dtype !== p.dtype || v.device !== p.device) ? v.to(p.dtype).to(p.device) : v.clone()));
  }
  return out;
}

/** A state entry known to be a tensor. */
export function stateTensor(s: OptimizerParamState, key: string): Tensor {
  const v = s[key];
  if (!(v instanceof Tensor)) throw new ValueError(`optimizer state: ${key}: got ${typeof v}, expected a Tensor.`);
  return v;
}

/** `{ ...defaults, ...opts }` where an option given as undefined keeps its default. */
export function withDefaults<O extends OptimizerOptions>(defaults: O, opts: Partial<O>): O {
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
  return { ...defaults, ...given };
}

/** Throws `<optimizer>: <option><where>: got X, expected a number >= 0.` unless v >= 0. */
export function checkNonNegative(name: string, option: string, v: unknown, where: string): void {
  if (typeof v !== 'number' || !(v >= 0)) throw new ValueError(`${name}: ${option}${where}: got ${String(v)}, expected a number >= 0.`);
}

export function checkBool(name: string, option: string, v: unknown, where: string): void {
  if (typeof v !== 'boolean') throw new ValueError(`${name}: ${option}${where}: got ${String(v)}, expected true or false.`);
}

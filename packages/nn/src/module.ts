// class Module: the base of every layer, after torch.nn.Module. Children and tensors are plain
// fields, found by walking the instance's own fields in definition order: a Module field is a
// child, a tensor marked with `parameter(t)` is a parameter, one marked with `buffer(t)` a buffer
// (in stateDict, not in parameters), null is an absent optional one (a bias=false bias); other
// fields are ignored. Names are dotted field names (a class's static stateKeys may rename a field,
// e.g. BatchNorm2d's running_mean); containers override namedChildren() to name children by index.
// Forward is a typed `forward(...)` method on each subclass; there is no separate call().

import { Tensor, ShapeError, ValueError, fmtShape, keep, noGrad, type Device } from '@lad/tensor';
import type { LoadStateDictOptions, StateDict } from './types.ts';

const parameterSet = new WeakSet<Tensor>();
const bufferSet = new WeakSet<Tensor>();

/** Marks `t` as a parameter (a leaf that requires grad) and returns it; a non-leaf is detached first. Never released by tidy(). */
export function parameter(t: Tensor): Tensor {
  const p = t.isLeaf ? t : t.detach();
  if (bufferSet.has(p)) throw new ValueError('parameter: this tensor is already a buffer: expected a plain tensor.');
  parameterSet.add(keep(p).requiresGrad_(true));
  return p;
}

/** Marks `t` as a buffer: module state saved in stateDict but not trained (running statistics). Never released by tidy(). */
export function buffer(t: Tensor): Tensor {
  if (parameterSet.has(t)) throw new ValueError('buffer: this tensor is already a parameter: expected a plain tensor.');
  bufferSet.add(keep(t));
  return t;
}

/** Whether `t` was registered as a parameter (by `parameter()`). */
export const isParameter = (t: unknown): t is Tensor => t instanceof Tensor && parameterSet.has(t);
/** Whether `t` was registered as a buffer (by `buffer()`): state that is saved but not trained, such as running statistics. */
export const isBuffer = (t: unknown): t is Tensor => t instanceof Tensor && bufferSet.has(t);

/** The keys a state dict lacks or has extra, as PyTorch's `_IncompatibleKeys`. */
export interface IncompatibleKeys {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** A state dict that does not fit the module; lists every offending key. Nothing was loaded. */
export class StateDictError extends ShapeError {
  constructor(
    message: string,
    readonly missingKeys: readonly string[],
    readonly unexpectedKeys: readonly string[],
    readonly mismatchedKeys: readonly string[],
  ) {
    super(message);
  }
}

/** Base class of layers and models: parameters, buffers and submodules by dotted names, train/eval mode, `to(device)` and state dicts. */
export class Module {
  /** Set by train()/eval() on the whole tree; layers such as Dropout and BatchNorm read it. */
  training = true;

  /** Field → state-dict key where they differ (BatchNorm2d maps runningMean to running_mean). */
  static readonly stateKeys: Readonly<Record<string, string>> = {};

  // ---- structure ---------------------------------------------------------------------------

  /** [name, child] for each direct child module. */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v) && v.some((x) => x instanceof Module)) {
        throw new ShapeError(
          `${this.constructor.name}: field '${k}' is an array of modules: got Module[], expected a ModuleList (or Sequential) so that its parameters are found.`,
        );
      }
    }
    return out;
  }
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** [dotted name, module] for this module ('' ) and all descendants, each module once. */
  namedModules(prefix = '', memo = new Set<Module>()): [string, Module][] {
    if (memo.has(this)) return [];
    memo.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [k, m] of this.namedChildren()) out.push(...m.namedModules(join(prefix, k), memo));
    return out;
  }
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** This module's own tensors of one kind (not its children's), keyed by state name. */
  private ownTensors(kind: 'parameter' | 'buffer'): [string, Tensor][] {
    const keys = (this.constructor as typeof Module).stateKeys;
    const test = kind === 'parameter' ? isParameter : isBuffer;
    const out: [string, Tensor][] = [];
    for (const [k, v] of Object.entries(this)) if (test(v)) out.push([keys[k] ?? k, v]);
    return out;
  }

  /** Dotted names like PyTorch's (`layer1.0.conv1.weight`); a shared tensor is listed once. */
  namedParameters(): [string, Tensor][] {
    return this.namedTensors('parameter');
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  namedBuffers(): [string, Tensor][] {
    return this.namedTensors('buffer');
  }
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }

  private namedTensors(kind: 'parameter' | 'buffer'): [string, Tensor][] {
    const seen = new Set<Tensor>(),
      out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [k, t] of m.ownTensors(kind)) {
        if (!seen.has(t)) out.push([join(prefix, k), t]);
        seen.add(t);
      }
    }
    return out;
  }

  // ---- modes and traversal -----------------------------------------------------------------

  /** Sets `training` on this module and every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Calls fn on every child (recursively) and then on this module, as PyTorch does. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /** Sets requiresGrad on every parameter (freezing a teacher: `requiresGrad_(false)`). */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  /**
   * Moves every parameter and buffer to `device`: each field gets the moved tensor (a shared tensor
   * stays shared). Make the optimizer after moving, as in PyTorch.
   */
  to(device: Device): this {
    const moved = new Map<Tensor, Tensor>();
    for (const m of this.modules()) {
      for (const [k, v] of Object.entries(m)) {
        if (!(v instanceof Tensor) || !(isParameter(v) || isBuffer(v)) || v.device === device) continue;
        let t = moved.get(v);
        if (!t) moved.set(v, (t = parameterSet.has(v) ? parameter(v.detach().to(device)) : buffer(v.to(device))));
        (m as unknown as Record<string, Tensor>)[k] = t;
      }
    }
    return this;
  }

  /** Drops every parameter's gradient (PyTorch's set_to_none=True). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  // ---- state -------------------------------------------------------------------------------

  /** Parameters then buffers of each module, depth first; values are detached views (shared data). */
  stateDict(prefix = ''): StateDict {
    const sd: StateDict = {};
    for (const [k, t] of [...this.ownTensors('parameter'), ...this.ownTensors('buffer')]) sd[join(prefix, k)] = t.detach();
    for (const [k, m] of this.namedChildren()) Object.assign(sd, m.stateDict(join(prefix, k)));
    return sd;
  }

  /**
   * Throws what loadStateDict would throw for `sd` (a StateDictError: wrong shapes always; missing and
   * unexpected keys when strict, the default), changing nothing; returns the keys that would not load.
   */
  checkStateDict(sd: StateDict, opts: LoadStateDictOptions = {}): IncompatibleKeys {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    // own-property checks: `toString`, `constructor` or `__proto__` are keys like any other
    const missingKeys = Object.keys(own).filter((k) => !Object.hasOwn(sd, k));
    const unexpectedKeys = Object.keys(sd).filter((k) => !Object.hasOwn(own, k));
    const mismatched = Object.keys(own).filter((k) => Object.hasOwn(sd, k) && !sameShape(sd[k], own[k]));
    if (mismatched.length > 0 || (strict && missingKeys.length + unexpectedKeys.length > 0)) {
      const problems = [
        strict && missingKeys.length > 0 ? `missing keys ${missingKeys.join(', ')}` : '',
        strict && unexpectedKeys.length > 0 ? `unexpected keys ${unexpectedKeys.join(', ')}` : '',
        mismatched.length > 0 ? `wrong shapes ${mismatched.map((k) => `${k}: got ${describe(sd[k])}, expected ${fmtShape(own[k].shape)}`).join('; ')}` : '',
      ].filter((s) => s);
      throw new StateDictError(
        `loadStateDict: state dict does not fit ${this.constructor.name}: ${problems.join('; ')}. Nothing was loaded.`,
        strict ? missingKeys : [],
        strict ? unexpectedKeys : [],
        mismatched,
      );
    }
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Copies `sd` into this module's tensors. Everything is validated first (checkStateDict): wrong
   * shapes always throw, missing and unexpected keys throw when strict (the default); on error nothing is copied.
   */
  loadStateDict(sd: StateDict, opts: LoadStateDictOptions = {}): IncompatibleKeys {
    const keys = this.checkStateDict(sd, opts);
    const own = this.stateDict();
    noGrad(() => {
      for (const [k, t] of Object.entries(own)) if (Object.hasOwn(sd, k)) t.copy_(sd[k]);
    });
    return keys;
  }

  // ---- printing ----------------------------------------------------------------------------

  /** The constructor arguments shown in the repr, like PyTorch's extra_repr(). */
  extraRepr(): string {
    return '';
  }

  /** A tree like PyTorch's repr: `Name(extra)` or `Name(\n  (child): ...\n)`. */
  toString(): string {
    const extra = this.extraRepr() ? this.extraRepr().split('\n') : [];
    const kids = this.namedChildren().map(([k, m]) => `(${k}): ${m.toString().split('\n').join('\n  ')}`);
    const lines = [...extra, ...kids];
    let body = '';
    if (extra.length === 1 && kids.length === 0) body = extra[0];
    else if (lines.length > 0) body = `\n  ${lines.join('\n  ')}\n`;
    return `${this.constructor.name}(${body})`;
  }
}

/** A module mapping one tensor to one tensor: what Sequential chains. */
export type Layer = Module & { forward(x: Tensor): Tensor };

const join = (prefix: string, name: string): string => (prefix ? `${prefix}.${name}` : name);

const sameShape = (a: unknown, b: Tensor): boolean => a instanceof Tensor && a.ndim === b.ndim && a.shape.every((s, i) => s === b.shape[i]);

const describe = (v: unknown): string => (v instanceof Tensor ? fmtShape(v.shape) : `a ${typeof v}, not a Tensor`);

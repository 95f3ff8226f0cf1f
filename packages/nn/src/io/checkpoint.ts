// Training checkpoints as one safetensors file, written atomically: the model state under
// `model.<name>`, optimizer tensors under `optim.state.<paramIndex>.<key>`, and the rest as JSON
// strings in `__metadata__` (step, optimizer numbers and paramGroups, generator states, user
// extras under `extra.<key>`), so PyTorch's safetensors can read it too. Holds what PyTorch's
// recipe "Saving and loading a general checkpoint" puts in one torch.save dict, plus RNG states.

import type { Tensor } from '@lad/tensor';
import type { LoadStateDictOptions, OptimizerParamState, OptimizerStateDict, ParamGroupState, StateDict } from '../types.ts';
import { CheckpointError } from './errors.ts';
import { setOwn } from './header.ts';
import { nodeModule } from './node.ts';
import { loadSafetensors, parseSafetensors, saveSafetensors } from './safetensors.ts';

/** Anything with a state dict: a Module, or a hand-written model. */
export interface StateDictSource {
  stateDict(): StateDict;
}
/** `checkStateDict`, when present (Module has it), throws what loadStateDict would, changing nothing. */
export interface StateDictTarget {
  loadStateDict(sd: StateDict, opts?: LoadStateDictOptions): unknown;
  checkStateDict?(sd: StateDict, opts?: LoadStateDictOptions): unknown;
}
/** Anything with an optimizer's `stateDict()` (an Optimizer, or a snapshot of its state). */
export interface OptimizerSource {
  stateDict(): OptimizerStateDict;
}
/** `checkStateDict`, when present (Optimizer has it), throws what loadStateDict would, changing nothing. */
export interface OptimizerTarget {
  loadStateDict(sd: OptimizerStateDict): unknown;
  checkStateDict?(sd: OptimizerStateDict): unknown;
}
/** A Generator from @lad/tensor, or anything with the same state methods. */
export interface GeneratorSource {
  getState(): number[];
}
/** With `getState` (a Generator has it), a state is tried and undone before anything is restored. */
export interface GeneratorTarget {
  setState(state: readonly number[]): unknown;
  getState?(): number[];
}

/** What saveCheckpoint writes: the model's (and optionally the optimizer's) state, the step, generator states and free-form strings. */
export interface CheckpointInput {
  model: StateDictSource;
  optimizer?: OptimizerSource | null;
  /** The number of optimizer steps taken so far. */
  step: number;
  generators?: Record<string, GeneratorSource>;
  /** Free-form strings, e.g. `{ config: JSON.stringify(config) }`. */
  extra?: Record<string, string>;
}

/** A checkpoint as read back by loadCheckpoint: plain state dicts, the step, generator states and the extra strings. */
export interface Checkpoint {
  model: StateDict;
  optimizer: OptimizerStateDict | null;
  step: number;
  generatorStates: Record<string, number[]>;
  extra: Record<string, string>;
}

/** The live objects restoreCheckpoint loads a checkpoint into (each part optional). */
export interface RestoreTargets {
  model?: StateDictTarget;
  optimizer?: OptimizerTarget;
  generators?: Record<string, GeneratorTarget>;
  /** Passed to the model's loadStateDict (default true). */
  strict?: boolean;
}

/** Format version written to every checkpoint's metadata (`lad.checkpoint`). */
export const CHECKPOINT_VERSION = '1';
const KEY = { version: 'lad.checkpoint', step: 'lad.step', optim: 'lad.optimizer', gens: 'lad.generators' } as const;
const MODEL = 'model.',
  OPTIM = 'optim.state.',
  EXTRA = 'extra.';

/** How one parameter's optimizer state is recorded in the metadata: its numbers, and the names of its tensors. */
interface ParamStateJson {
  numbers: Record<string, number>;
  tensors: string[];
}
interface OptimizerJson {
  paramGroups: ParamGroupState[];
  state: Record<string, ParamStateJson>;
}

/** Writes a checkpoint atomically (temp file, fsync, rename, fsync of the directory). */
export function saveCheckpoint(path: string, input: CheckpointInput): void {
  const { tensors, metadata } = encodeCheckpoint(input, path);
  saveSafetensors(path, tensors, metadata);
}

/** Reads a checkpoint; a truncated, corrupt or foreign file throws an error naming `path`. */
export function loadCheckpoint(path: string): Checkpoint {
  const { tensors, metadata } = loadSafetensors(path);
  return decodeCheckpoint(tensors, metadata, path);
}

/** A checkpoint from its file's bytes (a browser's File, a fetch): loadCheckpoint without the file system. */
export function parseCheckpoint(bytes: Uint8Array | ArrayBuffer, sourceName = '<in memory>'): Checkpoint {
  const { tensors, metadata } = parseSafetensors(bytes, sourceName);
  return decodeCheckpoint(tensors, metadata, sourceName);
}

/**
 * Loads a checkpoint into live objects: loadStateDict on the model and optimizer, setState on each
 * generator. Everything is validated before anything is changed: that the checkpoint holds what the
 * targets need, the model and optimizer parts by their checkStateDict (Module and Optimizer have it),
 * and each generator state by setting it and setting the old one back (targets with getState). So a
 * bad part (an optimizer state from another model, say) throws and leaves every target as it was.
 */
export function restoreCheckpoint(path: string, targets: RestoreTargets): Checkpoint {
  const ck = loadCheckpoint(path);
  const strict = targets.strict ?? true;
  const { model, optimizer } = targets;
  if (optimizer && !ck.optimizer) throw new CheckpointError(path, 'an optimizer was given, but the checkpoint holds no optimizer state');
  const gens = Object.entries(targets.generators ?? {});
  for (const [name] of gens) {
    if (!Object.hasOwn(ck.generatorStates, name))
      throw new CheckpointError(path, `no state for generator ${JSON.stringify(name)}: got ${JSON.stringify(Object.keys(ck.generatorStates))}`);
  }
  const part = (what: string, f: () => unknown) => {
    try {
      f();
    } catch (e) {
      throw new CheckpointError(path, `its ${what} does not fit (nothing was restored): ${(e as Error).message}`);
    }
  };
  if (model?.checkStateDict) part('model state', () => model.checkStateDict!(ck.model, { strict }));
  if (optimizer?.checkStateDict) part('optimizer state', () => optimizer.checkStateDict!(ck.optimizer!));
  for (const [name, g] of gens) {
    if (!g.getState) continue;
    const before = g.getState();
    part(`state of generator ${JSON.stringify(name)}`, () => g.setState(ck.generatorStates[name]));
    g.setState(before);
  }
  model?.loadStateDict(ck.model, { strict });
  if (optimizer) optimizer.loadStateDict(ck.optimizer!);
  for (const [name, g] of gens) g.setState(ck.generatorStates[name]);
  return ck;
}

/** The conventional file name for the checkpoint at `step`: `<dir>/<prefix>-00000100.safetensors`. */
export function checkpointPath(dir: string, step: number, prefix = 'ckpt'): string {
  return nodeModule('checkpointPath', 'node:path').join(dir, `${prefix}-${String(step).padStart(8, '0')}.safetensors`);
}

/** The checkpoint in `dir` named by checkpointPath with the highest step, or null if there is none. */
export function latestCheckpoint(dir: string, prefix = 'ckpt'): string | null {
  const { readdirSync } = nodeModule('latestCheckpoint', 'node:fs'),
    { join } = nodeModule('latestCheckpoint', 'node:path');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)\\.safetensors$`);
  let best: { name: string; step: number } | null = null;
  for (const name of names) {
    const m = re.exec(name);
    if (m && (!best || Number(m[1]) > best.step)) best = { name, step: Number(m[1]) };
  }
  return best ? join(dir, best.name) : null;
}

/** The tensors and metadata strings that represent a checkpoint. */
export function encodeCheckpoint(input: CheckpointInput, file = '<in memory>'): { tensors: StateDict; metadata: Record<string, string> } {
  if (!Number.isSafeInteger(input.step) || input.step < 0) throw new CheckpointError(file, `step must be a non-negative integer: got ${input.step}`);
  const tensors: StateDict = {};
  for (const [k, t] of Object.entries(input.model.stateDict())) setOwn(tensors, MODEL + k, t);
  const metadata: Record<string, string> = {};
  setOwn(metadata, KEY.version, CHECKPOINT_VERSION);
  setOwn(metadata, KEY.step, String(input.step));
  const gens = Object.entries(input.generators ?? {}).map(([k, g]) => [k, g.getState()] as const);
  setOwn(metadata, KEY.gens, JSON.stringify(Object.fromEntries(gens)));
  if (input.optimizer) setOwn(metadata, KEY.optim, encodeOptimizer(input.optimizer.stateDict(), tensors, file));
  for (const [k, v] of Object.entries(input.extra ?? {})) setOwn(metadata, EXTRA + k, v);
  return { tensors, metadata };
}

function encodeOptimizer(sd: OptimizerStateDict, tensors: StateDict, file: string): string {
  const state: Record<string, ParamStateJson> = {};
  for (const [idx, ps] of Object.entries(sd.state)) {
    if (!/^\d+$/.test(idx)) throw new CheckpointError(file, `optimizer state key must be a parameter index: got ${JSON.stringify(idx)}`);
    const entry: ParamStateJson = { numbers: {}, tensors: [] };
    for (const [key, v] of Object.entries(ps)) {
      if (typeof v === 'number') setOwn(entry.numbers, key, v);
      else {
        entry.tensors.push(key);
        setOwn(tensors, `${OPTIM}${idx}.${key}`, v);
      }
    }
    setOwn(state, idx, entry);
  }
  return JSON.stringify({ paramGroups: sd.paramGroups, state } satisfies OptimizerJson, (key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v))
      throw new CheckpointError(file, `optimizer state ${JSON.stringify(key)} is ${v}: only finite numbers can be stored`);
    return v;
  });
}

/** Rebuilds a checkpoint from a parsed file, checking every part; errors name `file`. */
export function decodeCheckpoint(tensors: StateDict, metadata: Record<string, string>, file: string): Checkpoint {
  const fail = (why: string): never => {
    throw new CheckpointError(file, why);
  };
  const version = metadata[KEY.version];
  if (!Object.hasOwn(metadata, KEY.version)) fail(`not a checkpoint: no "${KEY.version}" metadata (was it written by saveCheckpoint?)`);
  if (version !== CHECKPOINT_VERSION) fail(`unsupported checkpoint version: got ${JSON.stringify(version)}, expected "${CHECKPOINT_VERSION}"`);
  const step = Number(metadata[KEY.step]);
  if (!/^\d+$/.test(metadata[KEY.step] ?? '') || !Number.isSafeInteger(step))
    fail(`"${KEY.step}" must be a non-negative integer: got ${JSON.stringify(metadata[KEY.step])}`);
  const used = new Set<string>();
  const model: StateDict = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (k.startsWith(MODEL)) {
      setOwn(model, k.slice(MODEL.length), t);
      used.add(k);
    }
  }
  const optimizer = Object.hasOwn(metadata, KEY.optim) ? decodeOptimizer(metadata[KEY.optim], tensors, used, fail) : null;
  const stray = Object.keys(tensors).filter((k) => !used.has(k));
  if (stray.length > 0) fail(`unexpected tensors ${JSON.stringify(stray)}: expected only "${MODEL}*" and the optimizer's "${OPTIM}*"`);
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) if (k.startsWith(EXTRA)) setOwn(extra, k.slice(EXTRA.length), v);
  return { model, optimizer, step, generatorStates: decodeGenerators(metadata[KEY.gens], fail), extra };
}

function parseJson(key: string, text: string, fail: (why: string) => never): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    return fail(`metadata "${key}" is not valid JSON: ${(e as Error).message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndexArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((i) => Number.isSafeInteger(i) && i >= 0);

function decodeGenerators(text: string | undefined, fail: (why: string) => never): Record<string, number[]> {
  const json = text === undefined ? {} : parseJson(KEY.gens, text, fail);
  if (!isObject(json)) return fail(`metadata "${KEY.gens}" must be an object of generator states: got ${text}`);
  const out: Record<string, number[]> = {};
  for (const [name, s] of Object.entries(json)) {
    if (!Array.isArray(s) || !s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff))
      fail(`generator ${JSON.stringify(name)} state must be an array of uint32 words: got ${JSON.stringify(s)}`);
    setOwn(out, name, s as number[]);
  }
  return out;
}

function decodeOptimizer(text: string, tensors: StateDict, used: Set<string>, fail: (why: string) => never): OptimizerStateDict {
  const json = parseJson(KEY.optim, text, fail);
  if (!isObject(json) || !Array.isArray(json.paramGroups) || !isObject(json.state))
    return fail(`metadata "${KEY.optim}" must be { paramGroups: [...], state: {...} }: got ${text.slice(0, 200)}`);
  for (const g of json.paramGroups)
    if (!isObject(g) || !isIndexArray(g.params)) fail(`optimizer param group has no valid "params" index list: got ${JSON.stringify(g)}`);
  const state: Record<number, OptimizerParamState> = {};
  for (const [idx, entry] of Object.entries(json.state)) {
    if (!/^\d+$/.test(idx)) fail(`optimizer state key must be a parameter index: got ${JSON.stringify(idx)}`);
    state[Number(idx)] = decodeParamState(idx, entry, tensors, used, fail);
  }
  return { state, paramGroups: json.paramGroups as ParamGroupState[] };
}

function decodeParamState(idx: string, entry: unknown, tensors: StateDict, used: Set<string>, fail: (why: string) => never): OptimizerParamState {
  if (!isObject(entry) || !isObject(entry.numbers) || !Array.isArray(entry.tensors))
    return fail(`optimizer state for parameter ${idx} must be { numbers, tensors }: got ${JSON.stringify(entry)}`);
  const out: OptimizerParamState = {};
  for (const [key, v] of Object.entries(entry.numbers)) {
    if (typeof v !== 'number') fail(`optimizer state ${idx}.${key} must be a number: got ${JSON.stringify(v)}`);
    setOwn<Tensor | number>(out, key, v);
  }
  for (const key of entry.tensors) {
    const name = `${OPTIM}${idx}.${String(key)}`;
    if (!Object.hasOwn(tensors, name)) fail(`missing tensor ${JSON.stringify(name)} listed in the optimizer state`);
    setOwn<Tensor | number>(out, String(key), tensors[name]);
    used.add(name);
  }
  return out;
}

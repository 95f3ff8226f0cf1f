// Containers (torch.nn.Sequential, ModuleList, ModuleDict): hold child modules named by index
// ('0', '1', ...) or by key, so parameter names come out as `blocks.0.conv.weight`.

import { ValueError, type Tensor } from '@lad/tensor';
import { Module, type Layer } from '../module.ts';

/** Normalises a possibly negative index into [0, n), or throws naming the container. */
function index(op: string, i: number, n: number): number {
  if (!Number.isInteger(i) || i < -n || i >= n) throw new ValueError(`${op}: index ${i} is out of range: expected an integer in [${-n}, ${n - 1}].`);
  return i < 0 ? i + n : i;
}

/** Applies its layers in order: `forward(x) = layers[n-1](...layers[0](x))`. */
export class Sequential extends Module implements Iterable<Layer> {
  private readonly layers: Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
  }

  override namedChildren(): [string, Module][] {
    return this.layers.map((m, i) => [String(i), m]);
  }

  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, m) => m.forward(h), x);
  }

  get length(): number {
    return this.layers.length;
  }
  at(i: number): Layer {
    return this.layers[index('Sequential.at', i, this.layers.length)];
  }
  append(m: Layer): this {
    this.layers.push(m);
    return this;
  }
  [Symbol.iterator](): Iterator<Layer> {
    return this.layers[Symbol.iterator]();
  }
}

/** A list of modules (no forward): the way to hold a variable number of children. */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  private readonly items: M[];

  constructor(modules: Iterable<M> = []) {
    super();
    this.items = [...modules];
  }

  override namedChildren(): [string, Module][] {
    return this.items.map((m, i) => [String(i), m]);
  }

  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    return this.items[index('ModuleList.at', i, this.items.length)];
  }
  push(...ms: M[]): this {
    this.items.push(...ms);
    return this;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/** Modules by name, in insertion order (no forward). Keys must be non-empty and dot-free. */
export class ModuleDict<M extends Module = Module> extends Module implements Iterable<[string, M]> {
  private readonly items = new Map<string, M>();

  constructor(modules: Record<string, M> | Iterable<[string, M]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? (modules as Iterable<[string, M]>) : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
  }

  override namedChildren(): [string, Module][] {
    return [...this.items];
  }

  get size(): number {
    return this.items.size;
  }
  get(key: string): M | undefined {
    return this.items.get(key);
  }
  has(key: string): boolean {
    return this.items.has(key);
  }
  set(key: string, m: M): this {
    if (key === '' || key.includes('.')) throw new ValueError(`ModuleDict: key must be non-empty and contain no '.': got '${key}'.`);
    this.items.set(key, m);
    return this;
  }
  delete(key: string): boolean {
    return this.items.delete(key);
  }
  keys(): string[] {
    return [...this.items.keys()];
  }
  values(): M[] {
    return [...this.items.values()];
  }
  entries(): [string, M][] {
    return [...this.items];
  }
  [Symbol.iterator](): Iterator<[string, M]> {
    return this.items[Symbol.iterator]();
  }
}

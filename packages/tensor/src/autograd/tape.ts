// Reverse-mode autodiff. Each op output that needs a gradient carries a Node: its inputs and a
// rule mapping the output gradient to input gradients, written in Tensor ops (so with
// `createGraph` the backward pass is itself recorded and can be differentiated again). Gradients a
// pass consumed go back to the CPU buffer pool (backend/cpu/alloc.ts).

import { InternalError, TensorError } from '../errors.ts';
import { fmtShape, sameShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import type { Data } from '../storage.ts';
import { recycle, trackFresh, type TypedArray } from '../backend/cpu/alloc.ts';

export type GradRule = (gy: Tensor) => readonly (Tensor | null)[];

export interface Node {
  readonly op: string;
  inputs: readonly Tensor[];
  rule: GradRule | null; // null once freed by a backward pass without retainGraph
  /** The tensors the rule reads, and their storages' versions when the op ran (checked at backward). */
  saved: readonly Tensor[];
  versions: readonly number[];
}

let gradEnabled = true;

/** Whether ops record the autograd graph now (false inside noGrad). */
export const isGradEnabled = (): boolean => gradEnabled;

/** Runs `fn` with gradient recording off (like `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` with gradient recording forced on or off. */
export function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Attaches a grad rule to `out` when recording is on and some input requires a gradient.
 * `saved` lists the tensors the rule reads (inputs or `out`; by default every input): their
 * version counters are captured now and compared at backward, so an in-place write in between
 * (`copy_`) throws instead of giving a wrong gradient. Rules that read no tensor pass [].
 */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], rule: GradRule, saved: readonly Tensor[] = inputs): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradFn = { op, inputs, rule, saved, versions: saved.map((t) => t.version.n) };
  }
  return out;
}

/** Throws when a tensor `node` saved was written in place after the op ran (PyTorch's version check). */
function checkSaved(node: Node): void {
  for (let k = 0; k < node.saved.length; k++) {
    const now = node.saved[k].version.n;
    if (now !== node.versions[k]) {
      throw new TensorError(
        `${node.op} backward: ${node.inputs.includes(node.saved[k]) ? 'an input' : 'its output'} saved for backward was modified in place (version ${node.versions[k]} → ${now}); clone() it before the in-place write, or call backward before it.`,
      );
    }
  }
}

/**
 * Tensors reachable from `roots` through grad nodes, in reverse topological order (outputs first).
 * With `targets`, only tensors from which some target is reachable are kept.
 */
function reverseTopo(roots: readonly Tensor[], targets?: ReadonlySet<Tensor>): Tensor[] {
  const reaches = new Map<Tensor, boolean>();
  const leadsToTarget = (t: Tensor): boolean => {
    let r = reaches.get(t);
    if (r === undefined) {
      reaches.set(t, false); // graphs are acyclic; this only guards re-entry
      r = targets!.has(t) || (t.gradFn?.inputs ?? []).some((i) => i.requiresGrad && leadsToTarget(i));
      reaches.set(t, r);
    }
    return r;
  };
  const keep = (t: Tensor) => !targets || leadsToTarget(t);
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = roots.filter(keep).map((r) => [r, false]);
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    for (const i of t.gradFn?.inputs ?? []) if (i.requiresGrad && !seen.has(i) && keep(i)) stack.push([i, false]);
  }
  return order.reverse();
}

/** Options of backward(): keep the graph for another backward, or record the backward itself (double backward). */
export interface BackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
}

interface PropagateOptions extends BackwardOptions {
  /** Only propagate along paths that reach one of these (torch.autograd.grad's inputs). */
  targets?: ReadonlySet<Tensor>;
}

/**
 * Propagates `grads` from `roots` back through the graph. Returns the gradient reaching each
 * tensor (leaves included); `backward()` adds the leaves' into `.grad`, `grad()` returns them.
 */
export function propagate(roots: readonly Tensor[], grads: readonly Tensor[], opts: PropagateOptions = {}): Map<Tensor, Tensor> {
  if (backwardHook === null) return propagateGraph(roots, grads, opts);
  backwardHook(true);
  try {
    return propagateGraph(roots, grads, opts);
  } finally {
    backwardHook(false);
  }
}

/** Told when a backward pass starts (true) and ends (false); the profiler (profile.ts) sets it. */
let backwardHook: ((entering: boolean) => void) | null = null;
export const setBackwardHook = (h: typeof backwardHook): void => void (backwardHook = h);

/**
 * Gradient buffers a pass may recycle (CPU, no createGraph): those alloc made during the pass,
 * once no entry of `acc` holds them (counted per buffer: rules return views of their gradient,
 * `add`'s rule returns it twice). Leaves' and targets' gradients stay in `acc`, so are never given back.
 */
class Recycler {
  private readonly refs = new Map<Data, number>();
  readonly fresh = new WeakSet<TypedArray>();
  hold(g: Tensor): void {
    this.refs.set(g.storage.data, (this.refs.get(g.storage.data) ?? 0) + 1);
  }
  drop(g: Tensor): void {
    const d = g.storage.data,
      n = (this.refs.get(d) ?? 0) - 1;
    if (n > 0) return void this.refs.set(d, n);
    this.refs.delete(d);
    if (ArrayBuffer.isView(d) && this.fresh.has(d)) recycle(d);
  }
}

function propagateGraph(roots: readonly Tensor[], grads: readonly Tensor[], opts: PropagateOptions): Map<Tensor, Tensor> {
  const createGraph = opts.createGraph ?? false;
  const retain = opts.retainGraph ?? createGraph;
  const acc = new Map<Tensor, Tensor>();
  const rc = createGraph || !poolEnabled ? null : new Recycler(); // with createGraph, graph nodes may hold gradients
  const add = (t: Tensor, g: Tensor) => {
    if (!sameShape(g.shape, t.shape)) {
      throw new InternalError(`backward: gradient of shape ${fmtShape(g.shape)} for a tensor of shape ${fmtShape(t.shape)} (from ${t.gradFn?.op ?? 'a leaf'})`);
    }
    const prev = acc.get(t),
      sum = prev ? prev.add(g) : g;
    acc.set(t, sum);
    rc?.hold(sum);
    if (prev) rc?.drop(prev);
  };
  const outer = rc ? trackFresh(rc.fresh) : null;
  try {
    withGradMode(createGraph, () => {
      roots.forEach((r, i) => add(r, grads[i]));
      for (const t of reverseTopo(roots, opts.targets)) {
        const node = t.gradFn,
          gy = acc.get(t);
        if (!node || !gy) continue;
        if (!node.rule) {
          throw new TensorError(
            `backward: trying to backward through the graph a second time (through ${node.op}); pass { retainGraph: true } to the first backward call.`,
          );
        }
        checkSaved(node);
        const gin = node.rule(gy);
        node.inputs.forEach((inp, k) => {
          const g = gin[k];
          if (g && inp.requiresGrad) add(inp, g.dtype === inp.dtype ? g : g.to(inp.dtype));
        });
        if (rc && !opts.targets?.has(t)) {
          // consumed: the caller reads only leaves' and targets' gradients
          acc.delete(t);
          rc.drop(gy);
        }
        if (!retain) {
          node.rule = null;
          node.inputs = node.saved = node.versions = [];
        }
      }
    });
  } finally {
    if (rc) trackFresh(outer);
  }
  return acc;
}

let poolEnabled = true;
/** Whether backward passes give their consumed gradient buffers to the CPU buffer pool (default on; off for tests that compare). */
export function setGradientRecycling(on: boolean): void {
  poolEnabled = on;
}

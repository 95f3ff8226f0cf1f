// torch.autograd.grad: gradients of outputs with respect to chosen inputs, returned rather than
// accumulated into `.grad`. With createGraph the result is itself differentiable.

import type { Tensor } from '../tensor.ts';
import { TensorError, ShapeError, ValueError } from '../errors.ts';
import { fmtShape, sameShape } from '../shape.ts';
import { propagate } from './tape.ts';
import { onesLike } from '../ops/create.ts';

/** Options of grad(): upstream gradients, keeping the graph, recording the backward for higher derivatives, unused inputs. */
export interface GradOptions {
  /** Upstream gradients, one per output (default: ones for one-element outputs). */
  gradOutputs?: readonly Tensor[];
  retainGraph?: boolean;
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

/** The gradients of `outputs` with respect to `inputs`, without touching any `.grad` (torch.autograd.grad). */
export function grad(outputs: readonly Tensor[], inputs: readonly Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  outputs.forEach((o, i) => {
    if (!o.requiresGrad) throw new TensorError(`grad: outputs[${i}] does not require grad.`);
    if (!opts.gradOutputs && o.size !== 1) throw new ShapeError(`grad: outputs[${i}] has shape ${fmtShape(o.shape)}; pass gradOutputs for non-scalar outputs.`);
  });
  inputs.forEach((x, i) => {
    if (!x.requiresGrad) throw new TensorError(`grad: inputs[${i}] does not require grad.`);
  });
  if (opts.gradOutputs && opts.gradOutputs.length !== outputs.length)
    throw new ValueError(`grad: ${opts.gradOutputs.length} gradOutputs for ${outputs.length} outputs.`);
  opts.gradOutputs?.forEach((g, i) => {
    if (!sameShape(g.shape, outputs[i].shape))
      throw new ShapeError(`grad: gradOutputs[${i}] has shape ${fmtShape(g.shape)} but outputs[${i}] has shape ${fmtShape(outputs[i].shape)}.`);
  });
  const seeds = opts.gradOutputs ?? outputs.map((o) => onesLike(o));
  const acc = propagate(outputs, seeds, { retainGraph: opts.retainGraph, createGraph: opts.createGraph, targets: new Set(inputs) });
  return inputs.map((x, i) => {
    const g = acc.get(x) ?? null;
    if (!g && !opts.allowUnused) throw new TensorError(`grad: inputs[${i}] was not used to compute the outputs; pass { allowUnused: true } to get null.`);
    return g && !opts.createGraph ? g.detach() : g;
  });
}

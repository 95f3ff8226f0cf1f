// Gradient checking by central differences in float64, exported for users (like
// torch.autograd.gradcheck): compares the tape's gradient of sum(fn(inputs) · v), for a fixed
// random v, with (L(x + eps) − L(x − eps)) / 2eps for every input element.

import { Tensor } from '../tensor.ts';
import { DTypeError, TensorError } from '../errors.ts';
import { Generator } from '../random.ts';
import { grad } from './grad.ts';

/** Options of gradcheck: the finite-difference step and the tolerances. */
export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the random projection v of the output. */
  seed?: number;
}

/** Returns true, or throws a TensorError naming the input, the element and both values. */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], opts: GradcheckOptions = {}): true {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, seed = 0 } = opts;
  inputs.forEach((x, i) => {
    if (x.dtype !== 'float64') throw new DTypeError(`gradcheck: inputs[${i}] must be float64 for finite differences: got ${x.dtype}.`);
  });
  const xs = inputs.map((x) => x.detach().clone().requiresGrad_(true));
  const out = fn(...xs);
  const gen = new Generator(seed);
  const v = new Float64Array(out.size);
  gen.fillNormal(v);
  const vt = Tensor.fromData(v, out.shape);
  const loss = (ys: Tensor) => ys.to('float64').mul(vt).sum();
  const analytic = grad([loss(out)], xs, { allowUnused: true });
  xs.forEach((x, i) => {
    const data = x.storage.data as Float64Array; // a dense clone
    const a = analytic[i]?.data() ?? new Float64Array(x.size);
    for (let k = 0; k < data.length; k++) {
      const orig = data[k];
      // NOTE: fn runs with recording on (as in PyTorch), so it may call grad() itself: checking
      // the gradient function of another fn is how second derivatives are checked.
      data[k] = orig + eps;
      const hi = loss(fn(...xs)).item();
      data[k] = orig - eps;
      const lo = loss(fn(...xs)).item();
      data[k] = orig;
      const numeric = (hi - lo) / (2 * eps);
      if (!(Math.abs(a[k] - numeric) <= atol + rtol * Math.abs(numeric))) {
        throw new TensorError(`gradcheck: inputs[${i}] element ${k}: analytic gradient ${a[k]} vs numeric ${numeric} (atol ${atol}, rtol ${rtol}).`);
      }
    }
  });
  return true;
}

// F.interpolate for NCHW images: 'bilinear' (alignCorners true or false) and 'nearest', to a size
// or by a scale factor (the output size is floor(in · scale), and the source scale is recomputed
// from the sizes, as PyTorch does with recompute_scale_factor). Resizing is linear: forward and
// backward are each other's gradient.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/tape.ts';
import { checkNumel, fmtShape, pair } from '../shape.ts';
import { ShapeError, ValueError } from '../errors.ts';
import { be, checkFloat, checkTensor, wrap } from './util.ts';

/** Options of interpolate: an output size or a scale factor, the mode (nearest by default) and alignCorners (bilinear). */
export interface InterpolateOptions {
  size?: number | readonly number[];
  scaleFactor?: number | readonly number[];
  mode?: 'bilinear' | 'nearest';
  alignCorners?: boolean;
}

/** Resizes the spatial dims of an (N, C, H, W) input, as torch.nn.functional.interpolate. */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  const op = 'interpolate';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.ndim !== 4) throw new ShapeError(`${op}: input must be 4-D (N, C, H, W): got shape ${fmtShape(x.shape)}.`);
  const mode = opts.mode ?? 'nearest';
  if (mode !== 'bilinear' && mode !== 'nearest') throw new ValueError(`${op}: mode must be 'bilinear' or 'nearest': got '${String(mode)}'.`);
  if (mode === 'nearest' && opts.alignCorners !== undefined) throw new ValueError(`${op}: alignCorners only applies to mode 'bilinear'.`);
  if ((opts.size === undefined) === (opts.scaleFactor === undefined)) throw new ValueError(`${op}: give exactly one of size and scaleFactor.`);
  const [H, W] = x.shape.slice(2);
  let oh: number, ow: number;
  if (opts.size !== undefined) [oh, ow] = pair(op, 'size', opts.size);
  else {
    const [fh, fw] = pair(op, 'scaleFactor', opts.scaleFactor!);
    if (!(fh > 0 && fw > 0)) throw new ValueError(`${op}: scaleFactor must be positive: got [${fh}, ${fw}].`);
    [oh, ow] = [Math.floor(H * fh), Math.floor(W * fw)];
  }
  if (![oh, ow].every((v) => Number.isInteger(v) && v > 0))
    throw new ValueError(`${op}: output size must be positive integers: got [${oh}, ${ow}] for input ${fmtShape(x.shape)}.`);
  if (H === 0 || W === 0) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has an empty spatial dim.`);
  checkNumel(op, [x.shape[0], x.shape[1], oh, ow], 'the output shape');
  return resizePair(x, H, W, oh, ow, mode, opts.alignCorners ?? false, true);
}

function resizePair(t: Tensor, h: number, w: number, oh: number, ow: number, mode: 'bilinear' | 'nearest', ac: boolean, forward: boolean): Tensor {
  const [N, C] = t.shape;
  const out = forward ? wrap(be(t).resize(t.storage, oh, ow, mode, ac), [N, C, oh, ow]) : wrap(be(t).resizeBackward(t.storage, h, w, mode, ac), [N, C, h, w]);
  return record(out, forward ? 'interpolate' : 'interpolateBackward', [t], (gy) => [resizePair(gy, h, w, oh, ow, mode, ac, !forward)], []);
}

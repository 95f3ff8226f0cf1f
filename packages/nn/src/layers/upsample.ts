// Upsample (torch.nn.Upsample): F.interpolate as a layer, to a size or by a scale factor,
// mode 'nearest' (default) or 'bilinear' with alignCorners. (N, C, H, W) → (N, C, OH, OW).

import { ValueError, type Tensor } from '@lad/tensor';
import { Module } from '../module.ts';
import { interpolate, type InterpolateOptions } from '../functional.ts';

/** Resizes (N, C, H, W) inputs to a size or by a scale factor (nearest by default, or bilinear): F.interpolate as a layer. */
export class Upsample extends Module {
  readonly options: InterpolateOptions;

  constructor(opts: InterpolateOptions) {
    super();
    if ((opts.size === undefined) === (opts.scaleFactor === undefined)) throw new ValueError('Upsample: give exactly one of size and scaleFactor.');
    this.options = { mode: 'nearest', ...opts };
  }

  forward(x: Tensor): Tensor {
    return interpolate(x, this.options);
  }

  override extraRepr(): string {
    const { size, scaleFactor, mode, alignCorners } = this.options;
    const fmt = (v: number | readonly number[]) => (typeof v === 'number' ? String(v) : `[${v.join(', ')}]`);
    const first = scaleFactor !== undefined ? `scaleFactor=${fmt(scaleFactor)}` : `size=${fmt(size!)}`;
    return `${first}, mode='${mode}'${alignCorners !== undefined ? `, alignCorners=${alignCorners}` : ''}`;
  }
}

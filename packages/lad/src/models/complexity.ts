// Model complexity: parameter counts and multiply-accumulates (MACs) of one forward pass, counted
// over Conv2d and Linear layers as fvcore/mmcv do (conv: N·O·OH·OW·(C/groups)·kH·kW; linear:
// numel(out)·in; biases, BN, pooling, resizing and attention matmuls are not counted).
// NOTE: by default the pass is shape-only: each Conv2d/Linear returns zeros of its output shape
// instead of computing, so a 512x512 paper model is measured in a second (shapes never depend on values).

import { ShapeError, fmtShape, noGrad, zeros, type Tensor } from '@lad/tensor';
import { Conv2d, Linear, type Module } from '@lad/nn';

/** The number of parameter elements of `model`. */
export const countParameters = (model: Module): number => model.parameters().reduce((n, p) => n + p.size, 0);

/** Output (OH, OW) of a Conv2d on an (H, W) input: floor((H + 2p − d(k−1) − 1)/s) + 1, 'same' keeps H. */
function convOutSize(c: Conv2d, H: number, W: number): [number, number] {
  if (c.padding === 'same') return [H, W];
  const out = (n: number, i: 0 | 1) => Math.floor((n + 2 * (c.padding as [number, number])[i] - c.dilation[i] * (c.kernelSize[i] - 1) - 1) / c.stride[i]) + 1;
  return [out(H, 0), out(W, 1)];
}

type Counted = Conv2d | Linear;

/** MACs of one call of a Conv2d or Linear on x, and (shape-only) a zero tensor of its output shape. */
function measure(m: Counted, x: Tensor): { macs: number; out: Tensor } {
  if (m instanceof Conv2d) {
    if (x.ndim !== 4) throw new ShapeError(`countMacs: Conv2d input must be 4-D: got ${fmtShape(x.shape)}.`);
    const [N, , H, W] = x.shape,
      [OH, OW] = convOutSize(m, H, W);
    const macs = N * m.outChannels * OH * OW * (m.inChannels / m.groups) * m.kernelSize[0] * m.kernelSize[1];
    return { macs, out: zeros([N, m.outChannels, OH, OW], { dtype: x.dtype }) };
  }
  const [out, inF] = m.weight.shape;
  const shape = [...x.shape.slice(0, -1), out];
  return { macs: shape.reduce((a, b) => a * b, 1) * inF, out: zeros(shape, { dtype: x.dtype }) };
}

/** Options of countMacs. */
export interface MacsOptions {
  /** Replace each conv/linear by zeros of its output shape (fast, default true); false runs the real layers. */
  shapeOnly?: boolean;
}

/** [dotted module name, MACs] for every Conv2d/Linear, from one eval-mode forward on zeros(inputShape). */
export function macsByModule(model: Module & { forward(x: Tensor): unknown }, inputShape: readonly number[], opts: MacsOptions = {}): [string, number][] {
  const shapeOnly = opts.shapeOnly ?? true;
  const modes = model.modules().map((m) => [m, m.training] as const);
  const counted = model.namedModules().filter((e): e is [string, Counted] => e[1] instanceof Conv2d || e[1] instanceof Linear);
  const macs = new Map<string, number>(counted.map(([n]) => [n, 0]));
  for (const [name, m] of counted) {
    const real = m.forward.bind(m);
    m.forward = (x: Tensor): Tensor => {
      const r = measure(m, x);
      macs.set(name, macs.get(name)! + r.macs);
      return shapeOnly ? r.out : real(x);
    };
  }
  try {
    model.eval();
    noGrad(() => model.forward(zeros([...inputShape])));
  } finally {
    for (const [, m] of counted) delete (m as { forward?: unknown }).forward; // back to the prototype's
    for (const [m, t] of modes) m.training = t;
  }
  return [...macs];
}

/** Total MACs of Conv2d and Linear layers for one forward pass on an input of `inputShape` (N, C, H, W). */
export const countMacs = (model: Module & { forward(x: Tensor): unknown }, inputShape: readonly number[], opts: MacsOptions = {}): number =>
  macsByModule(model, inputShape, opts).reduce((n, [, v]) => n + v, 0);

/** A model's parameters and multiply-accumulates, in total and per top-level child. */
export interface ModelSummary {
  params: number;
  macs: number;
  /** Per top-level child: [name, params, MACs]. */
  rows: [string, number, number][];
  text: string;
}

/** Params and GMACs per top-level child and in total; printed unless `print: false`. */
export function summary(
  model: Module & { forward(x: Tensor): unknown },
  inputShape: readonly number[],
  opts: MacsOptions & { print?: boolean } = {},
): ModelSummary {
  const top = (name: string) => name.split('.')[0] || '(self)';
  const byTop = new Map<string, [number, number]>(model.namedChildren().map(([n]) => [n, [0, 0]]));
  const add = (name: string, i: 0 | 1, v: number) => {
    const row = byTop.get(top(name)) ?? [0, 0];
    row[i] += v;
    byTop.set(top(name), row);
  };
  for (const [n, p] of model.namedParameters()) add(n, 0, p.size);
  for (const [n, v] of macsByModule(model, inputShape, opts)) add(n, 1, v);
  const rows = [...byTop].map(([n, [p, m]]) => [n, p, m] as [string, number, number]);
  const params = rows.reduce((s, r) => s + r[1], 0),
    macs = rows.reduce((s, r) => s + r[2], 0);
  const line = (n: string, p: number, m: number) => `  ${n.padEnd(16)}${(p / 1e6).toFixed(3).padStart(10)} M${(m / 1e9).toFixed(3).padStart(12)} GMACs`;
  const text = [`${model.constructor.name} on ${fmtShape(inputShape)}`, ...rows.map((r) => line(...r)), line('total', params, macs)].join('\n');
  if (opts.print ?? true) console.log(text);
  return { params, macs, rows, text };
}

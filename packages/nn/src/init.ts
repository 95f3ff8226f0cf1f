// Weight initialisation, after torch.nn.init: fans, gains, Kaiming (He et al. 2015) and Xavier
// (Glorot & Bengio 2010) draws, constants. Each `*_` fills its tensor in place (outside autograd)
// from a seeded Generator (default: the library's defaultGenerator) and returns it.

import { DTypeError, ShapeError, Tensor, ValueError, defaultGenerator, fmtShape, noGrad, type Generator } from '@lad/tensor';

/** The nonlinearity after a layer, which sets the initializers' gain (torch.nn.init names). */
export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu' | 'selu';
/** Whether the Kaiming initializers preserve the variance of the forward pass (fanIn) or of the backward pass (fanOut). */
export type FanMode = 'fanIn' | 'fanOut';

/** Options of every initializer: the generator its draws come from (default: the default generator). */
export interface InitOptions {
  generator?: Generator;
}
/** Options of the Kaiming (He) initializers: leaky-ReLU slope, fan mode and nonlinearity. */
export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU after this layer (only with 'leakyRelu'); default 0. */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}
/** Options of the Xavier (Glorot) initializers: the gain (default 1). */
export interface XavierOptions extends InitOptions {
  gain?: number;
}

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leakyRelu': {
      const slope = param ?? 0.01;
      if (!Number.isFinite(slope)) throw new ValueError(`calculateGain: negative slope must be a finite number: got ${slope}.`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new ValueError(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'.`);
  }
}

/** fanIn = size(1)·receptive field, fanOut = size(0)·receptive field; weights are (out, in, k...). */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new ShapeError(`calculateFanInAndFanOut: tensor must have at least 2 dims: got shape ${fmtShape(t.shape)}.`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1] * receptive, fanOut: t.shape[0] * receptive };
}

function fan(t: Tensor, mode: FanMode): number {
  if (mode !== 'fanIn' && mode !== 'fanOut') throw new ValueError(`init: mode must be 'fanIn' or 'fanOut': got '${String(mode)}'.`);
  const f = calculateFanInAndFanOut(t)[mode];
  if (f === 0) throw new ShapeError(`init: cannot initialise a tensor with ${mode} = 0: got shape ${fmtShape(t.shape)}.`);
  return f;
}

/** Overwrites t with values written into a fresh float buffer by `fill`. */
function fillWith(op: string, t: Tensor, fill: (buf: Float32Array | Float64Array) => void): Tensor {
  if (t.dtype === 'int32') throw new DTypeError(`${op}: tensor must be float32 or float64: got int32.`);
  const buf = t.dtype === 'float64' ? new Float64Array(t.size) : new Float32Array(t.size);
  fill(buf);
  return noGrad(() => t.copy_(Tensor.fromData(buf, t.shape)));
}

/** Fills `t` in place from U(a, b); returns `t`. */
export function uniform_(t: Tensor, a = 0, b = 1, opts: InitOptions = {}): Tensor {
  if (!(a <= b)) throw new ValueError(`uniform_: expected a <= b: got a = ${a}, b = ${b}.`);
  return fillWith('uniform_', t, (buf) => (opts.generator ?? defaultGenerator).fillUniform(buf, a, b));
}

/** Fills `t` in place from N(mean, std²); returns `t`. */
export function normal_(t: Tensor, mean = 0, std = 1, opts: InitOptions = {}): Tensor {
  if (!(std >= 0)) throw new ValueError(`normal_: std must be non-negative: got ${std}.`);
  return fillWith('normal_', t, (buf) => (opts.generator ?? defaultGenerator).fillNormal(buf, mean, std));
}

/** Fills `t` in place with `value` (no gradient recorded); returns `t`. */
export const constant_ = (t: Tensor, value: number): Tensor => noGrad(() => t.copy_(Tensor.fromData(Float64Array.of(value), [])));
/** Fills `t` in place with zeros; returns `t`. */
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
/** Fills `t` in place with ones; returns `t`. */
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

/** std = gain / √fan with gain = calculateGain(nonlinearity, a). */
function kaimingStd(t: Tensor, o: KaimingOptions): number {
  return calculateGain(o.nonlinearity ?? 'leakyRelu', o.a ?? 0) / Math.sqrt(fan(t, o.mode ?? 'fanIn'));
}

/** U(−b, b), b = gain·√(3 / fan). */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform_(t, -bound, bound, opts);
}

/** N(0, std²), std = gain / √fan. */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, opts), opts);
}

/** std = gain·√(2 / (fanIn + fanOut)). */
function xavierStd(t: Tensor, o: XavierOptions): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  if (fanIn + fanOut === 0) throw new ShapeError(`init: cannot initialise a tensor with fanIn + fanOut = 0: got shape ${fmtShape(t.shape)}.`);
  return (o.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
}

/** U(−a, a), a = gain·√(6 / (fanIn + fanOut)). */
export function xavierUniform_(t: Tensor, opts: XavierOptions = {}): Tensor {
  const a = Math.sqrt(3) * xavierStd(t, opts);
  return uniform_(t, -a, a, opts);
}

/** Fills `t` in place from N(0, std²) with std = gain·√(2 / (fanIn + fanOut)) (Glorot); returns `t`. */
export function xavierNormal_(t: Tensor, opts: XavierOptions = {}): Tensor {
  return normal_(t, 0, xavierStd(t, opts), opts);
}

/**
 * PyTorch's default init of Linear and Conv2d (reset_parameters): weight kaiming_uniform(a=√5),
 * i.e. U(±1/√fanIn), and bias U(±1/√fanIn).
 */
export function defaultLayerInit_(weight: Tensor, bias: Tensor | null, opts: InitOptions = {}): void {
  kaimingUniform_(weight, { a: Math.sqrt(5), ...opts });
  if (bias) {
    const { fanIn } = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound, opts);
  }
}

// The label noising module of LAD (lad-method.md §2.2): class ids become one extra input channel,
// L_b(p) = s · (blur^m(c_b[y_b(p)]) + σ·ε_b(p)), with ignore (−1) re-indexed to its own slot K.
// Codes c_b are a lookup table [N, K+1] drawn per `LabelEncoding.codeDist` (§7.3's knobs).
// Legend: N batch, K classes (K+1 slots, slot K = ignore), H×W plane.
// Device: the channel is made on the labels' device. On the CPU the code map is built in float64 and
// rounded once; on another device the lookup is a gather of the [N, K+1] table (float32) and the blur
// an avg-pool, so the values agree with the CPU's to float32 rounding. The random draws (codes, then
// ε) always come from `gen` on the CPU and are moved, so both devices draw the same numbers.

import { DTypeError, type Generator, ShapeError, Tensor, ValueError, avgPool2d, cat, fmtShape, gather, where, zeros } from '@lad/tensor';
import { LABEL_TO_IMAGE_STD, type LabelEncoding, type LadConfig } from './config.ts';
import type { SegDataset } from './data/types.ts';

/**
 * The generalised fixed grid of §2.2: c_k = −1.1 + 2.1·k/K for the slots k = 0..K (slot K = ignore),
 * so it spans [−1.1, 1.0] for every K (the contrast of the N(0, 1) training codes) and is VOC's
 * (k − 11)/10 exactly at K = 21.
 */
export function fixedGrid(numClasses: number): Float64Array {
  return Float64Array.from({ length: numClasses + 1 }, (_, k) => -1.1 + (2.1 * k) / numClasses);
}

/** Codes for `n` images: [n, K+1] row-major; each row is one image's code per slot (slot K = ignore). */
export function codeTable(n: number, numClasses: number, enc: LabelEncoding, gen: Generator): Float64Array {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new ValueError(`codeTable: numClasses: got ${numClasses}, expected an integer >= 1.`);
  if (!Number.isInteger(n) || n < 0) throw new ValueError(`codeTable: n: got ${n}, expected an integer >= 0.`);
  const slots = numClasses + 1;
  const out = new Float64Array(n * slots); // (n, K+1)
  switch (enc.codeDist) {
    case 'normal':
      gen.fillNormal(out);
      break;
    case 'uniform':
      gen.fillUniform(out, -1, 1);
      break;
    case 'zeros':
      break;
    case 'fixedGrid': {
      const grid = fixedGrid(numClasses);
      for (let b = 0; b < n; b++) out.set(grid, b * slots);
      break;
    }
    case 'permutedGrid': {
      const grid = fixedGrid(numClasses);
      for (let b = 0; b < n; b++) gen.randperm(slots).forEach((j, k) => (out[b * slots + k] = grid[j]));
      break;
    }
    default:
      throw new ValueError(`codeTable: enc.codeDist: got '${String(enc.codeDist)}', expected normal | uniform | fixedGrid | permutedGrid | zeros.`);
  }
  return out;
}

/** One 3×3 box blur of an (H, W) plane in place; border pixels average their in-bounds neighbours. */
function boxBlur(plane: Float64Array, H: number, W: number): void {
  const src = plane.slice();
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0,
        c = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= H) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx >= 0 && xx < W) {
            s += src[yy * W + xx];
            c++;
          }
        }
      }
      plane[y * W + x] = s / c;
    }
  }
}

function checkLabels(op: string, labels: Tensor): void {
  if (!(labels instanceof Tensor)) throw new ValueError(`${op}: labels must be a Tensor.`);
  if (labels.dtype !== 'int32') throw new DTypeError(`${op}: labels must be int32 class ids: got ${labels.dtype}.`);
  if (labels.ndim !== 3) throw new ShapeError(`${op}: labels must be (N, H, W): got shape ${fmtShape(labels.shape)}.`);
}

/** The label values of CPU labels, each checked to be -1 or a class id. */
function labelValues(op: string, labels: Tensor, numClasses: number): Int32Array {
  const y = labels.data() as Int32Array;
  for (let i = 0; i < y.length; i++) {
    if (y[i] < -1 || y[i] >= numClasses) throw new ValueError(`${op}: labels: got class ${y[i]}, expected -1 (ignore) or 0..${numClasses - 1}.`);
  }
  return y;
}

function checkEncoding(op: string, enc: LabelEncoding): asserts enc is LabelEncoding & { scale: number } {
  if (enc.scale === 'auto') throw new ValueError(`${op}: enc.scale is 'auto': resolve it for the data first (resolveLabelScale).`);
  if (typeof enc.scale !== 'number' || !Number.isFinite(enc.scale))
    throw new ValueError(`${op}: enc.scale: got ${String(enc.scale)}, expected a finite number.`);
  if (!(enc.smoothPasses >= 0) || !Number.isInteger(enc.smoothPasses))
    throw new ValueError(`${op}: enc.smoothPasses: got ${enc.smoothPasses}, expected an integer >= 0.`);
  if (!(enc.sigma >= 0)) throw new ValueError(`${op}: enc.sigma: got ${enc.sigma}, expected a number >= 0.`);
}

/**
 * The label channel for int32 labels (N, H, W) (−1 = ignore) → float32 (N, 1, H, W), on the labels'
 * device. Draws, in this order: the code table, then ε (N·H·W normals, skipped when sigma = 0).
 * 'zeros' draws nothing. Labels on a device are not read back: a class id out of range there is
 * caught by the gather's deferred index check (ids < −1 or > K), not here.
 */
export function encodeLabels(labels: Tensor, numClasses: number, enc: LabelEncoding, gen: Generator): Tensor {
  checkLabels('encodeLabels', labels);
  const [N, H, W] = labels.shape;
  const device = labels.device;
  if (device !== 'cpu') {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new ValueError(`encodeLabels: numClasses: got ${numClasses}, expected an integer >= 1.`);
    if (enc.codeDist === 'zeros') return zeros([N, 1, H, W], { device });
    checkEncoding('encodeLabels', enc);
    return encodeOnDevice(labels, numClasses, enc, gen);
  }
  const y = labelValues('encodeLabels', labels, numClasses);
  if (enc.codeDist === 'zeros') return zeros([N, 1, H, W]);
  checkEncoding('encodeLabels', enc);
  const slots = numClasses + 1,
    P = H * W;
  const codes = codeTable(N, numClasses, enc, gen); // (N, K+1)
  const map = new Float64Array(N * P); // (N, H·W) pre-noise code map
  for (let b = 0; b < N; b++) {
    for (let p = 0; p < P; p++) {
      const k = y[b * P + p];
      map[b * P + p] = codes[b * slots + (k < 0 ? numClasses : k)];
    }
    const plane = map.subarray(b * P, (b + 1) * P);
    for (let i = 0; i < enc.smoothPasses; i++) boxBlur(plane, H, W);
  }
  const out = new Float32Array(N * P); // (N, 1, H, W)
  if (enc.sigma > 0) gen.fillNormal(out);
  for (let i = 0; i < out.length; i++) out[i] = enc.scale * (map[i] + enc.sigma * out[i]);
  return Tensor.fromData(out, [N, 1, H, W]);
}

/** encodeLabels on a device: the same draws as the CPU path, the lookup as a gather of the code table. */
function encodeOnDevice(labels: Tensor, numClasses: number, enc: LabelEncoding & { scale: number }, gen: Generator): Tensor {
  const [N, H, W] = labels.shape;
  const device = labels.device,
    P = H * W;
  const codes = Tensor.fromData(Float32Array.from(codeTable(N, numClasses, enc, gen)), [N, numClasses + 1]).to(device); // (N, K+1)
  const slot = where(labels.eq(-1), numClasses, labels).reshape([N, P]); // (N, H·W) int32, ignore → slot K
  let map = gather(codes, 1, slot).reshape([N, 1, H, W]); // (N, 1, H, W) pre-noise code map
  for (let i = 0; i < enc.smoothPasses; i++) map = avgPool2d(map, 3, { stride: 1, padding: 1, countIncludePad: false });
  if (enc.sigma > 0) {
    const eps = new Float32Array(N * P); // (N, 1, H, W)
    gen.fillNormal(eps);
    map = map.add(Tensor.fromData(eps, [N, 1, H, W]).to(device).mul(enc.sigma));
  }
  return map.mul(enc.scale);
}

/** Concatenates the label channel to the image: (N, 3, H, W) + (N, 1, H, W) → (N, 4, H, W). */
export function withLabelChannel(images: Tensor, channel: Tensor): Tensor {
  const [N, C, H, W] = images.shape;
  if (images.ndim !== 4 || C !== 3) throw new ShapeError(`withLabelChannel: images must be (N, 3, H, W): got shape ${fmtShape(images.shape)}.`);
  const want = [N, 1, H, W];
  if (channel.ndim !== 4 || channel.shape.some((s, i) => s !== want[i])) {
    throw new ShapeError(
      `withLabelChannel: channel: got shape ${fmtShape(channel.shape)}, expected ${fmtShape(want)} to match images ${fmtShape(images.shape)}.`,
    );
  }
  return cat([images, channel.to(images.dtype)], 1); // (N, 4, H, W)
}

/** The student's (and a "no labels" teacher's) input: the image plus an all-zero 4th channel, (N, 4, H, W). */
export function zeroChannel(images: Tensor): Tensor {
  if (images.ndim !== 4) throw new ShapeError(`zeroChannel: images must be (N, 3, H, W): got shape ${fmtShape(images.shape)}.`);
  const [N, , H, W] = images.shape;
  return withLabelChannel(images, zeros([N, 1, H, W], { dtype: images.dtype, device: images.device }));
}

/** The std of the normalised pixels of the first `n` images of `ds` (all channels pooled), in float64. */
export function imageStd(ds: SegDataset, n = 32): number {
  let sum = 0,
    sq = 0,
    count = 0;
  for (let i = 0; i < Math.min(n, ds.length); i++) {
    const x = ds.get(i).image.data();
    for (let j = 0; j < x.length; j++) (sum += x[j]), (sq += x[j] * x[j]);
    count += x.length;
  }
  if (count === 0) throw new ValueError(`imageStd: dataset '${ds.name}' has no images.`);
  const mean = sum / count;
  return Math.sqrt(Math.max(0, sq / count - mean * mean));
}

/** The scale 'auto' stands for: LABEL_TO_IMAGE_STD × the images' std, to 3 significant digits. */
export const autoLabelScale = (std: number): number => Number((LABEL_TO_IMAGE_STD * std).toPrecision(3));

/** `lad` with every 'auto' scale replaced by autoLabelScale(std); explicit scales are kept. */
export function resolveLabelScale(lad: LadConfig, std: number): LadConfig {
  const s = autoLabelScale(std);
  const fix = (e: LabelEncoding): LabelEncoding => (e.scale === 'auto' ? { ...e, scale: s } : e);
  return { ...lad, encodeTrain: fix(lad.encodeTrain), encodeDistill: fix(lad.encodeDistill), encodeTeacherEval: fix(lad.encodeTeacherEval) };
}

// Sections 1-3 of the page: a digits-seg sample, the label channel under a random code and under the
// fixed code (codeTable, encodeLabels), and one batch through the teacher's two paths with the loss
// terms (segLoss, consistencyLoss) as numbers and per-pixel maps. Legend: N batch, K classes, H×W image, h×w logits.

import { Generator, type Tensor, crossEntropy, logSoftmax, noGrad, softmax, stack } from '@lad/tensor';
import {
  type SegDataset,
  type LadConfig,
  type LabelEncoding,
  type SegModel,
  codeTable,
  consistencyLoss,
  encodeLabels,
  fixedGrid,
  segLoss,
  upsampleTo,
  withLabelChannel,
} from '@lad/lad';
import { drawHeat, drawImage, drawLabels, drawSigned } from './draw.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const canvas = (id: string) => $<HTMLCanvasElement>(id);

/** Section 1: val sample `i` (image, label map with its ignore band). */
export function showSample(val: SegDataset, i: number): void {
  const s = val.get(i),
    [, H, W] = s.image.shape;
  drawImage(canvas('data-image'), s.image.data() as Float32Array, W, H);
  drawLabels(canvas('data-label'), s.label.data() as Int32Array, W, H, val.numClasses);
}

/** Section 2's encoding from the sliders, on top of the experiment's training encoding. */
export function sliderEncoding(base: LabelEncoding): LabelEncoding {
  const v = (id: string) => Number($<HTMLInputElement>(id).value);
  for (const id of ['enc-scale', 'enc-sigma', 'enc-smooth']) $(`${id}-v`).textContent = $<HTMLInputElement>(id).value;
  return { ...base, scale: v('enc-scale'), sigma: v('enc-sigma'), smoothPasses: v('enc-smooth') };
}

/**
 * Section 2: the label channel of val sample `i` under a random code drawn from `gen` and under the
 * fixed distillation code, on one colour range (±3 s); the codes in a table. Returns the random channel's values.
 */
export function showNoising(val: SegDataset, i: number, enc: LabelEncoding, fixed: LabelEncoding, gen: Generator): Float32Array {
  const s = val.get(i),
    [, H, W] = s.image.shape,
    K = val.numClasses;
  const y = s.label.reshape([1, H, W]);
  const codes = codeTable(1, K, enc, new Generator().setState(gen.getState())); // the draw encodeLabels makes first
  const random = encodeLabels(y, K, enc, gen).data() as Float32Array; // (1, 1, H, W)
  const fixedCh = encodeLabels(y, K, { ...fixed, scale: enc.scale }, new Generator(0)).data() as Float32Array;
  const range = 1.5 * (enc.scale as number); // codes are N(0, 1) (mostly within ±1.5) or the fixed grid in [−1.1, 1]
  drawSigned(canvas('enc-random'), random, W, H, range);
  drawSigned(canvas('enc-fixed'), fixedCh, W, H, range);
  const grid = fixedGrid(K),
    names = [...val.classNames, 'ignore'];
  $('enc-codes').innerHTML =
    `<tr><th>class k</th>${names.map((n) => `<th>${n}</th>`).join('')}</tr>` +
    `<tr><td>random code c<sub>k</sub> (this draw)</td>${[...codes].map((c) => `<td>${c.toFixed(2)}</td>`).join('')}</tr>` +
    `<tr><td>fixed code −1.1 + 2.1·k/K</td>${[...grid].map((c) => `<td>${c.toFixed(2)}</td>`).join('')}</tr>`;
  return random;
}

/**
 * Per-pixel share of the CWD consistency (losses.ts's channelWiseDistillation, both directions):
 * Σ_c q_c(p)·(log q_c(p) − log p_c(p)) · T²/(N·K), with q, p the two paths' softmax over the pixels
 * of channel c at temperature T. Sums to the consistency term. (N, h, w) → values of (N, h·w).
 */
function consistencyMap(z1: Tensor, z2: Tensor, T: number): Float32Array {
  const [N, K, h, w] = z1.shape;
  const dir = (s: Tensor, t: Tensor) => {
    const [ls, lt] = [logSoftmax(s.reshape([N * K, h * w]).div(T), 1), logSoftmax(t.reshape([N * K, h * w]).div(T), 1)]; // (N·K, h·w)
    return softmax(t.reshape([N * K, h * w]).div(T), 1)
      .mul(lt.sub(ls))
      .reshape([N, K, h * w])
      .sum(1); // (N, h·w)
  };
  return noGrad(() =>
    dir(z1, z2)
      .add(dir(z2, z1))
      .mul((T * T) / (N * K)),
  ).data() as Float32Array;
}

/** Section 3: one batch of `n` val images through both paths of `teacher` (train mode, as teacherLoss runs them). */
export function showPaths(teacher: SegModel, val: SegDataset, n: number, lad: LadConfig, gen: Generator): Record<string, number> {
  const samples = Array.from({ length: n }, (_, i) => val.get(i));
  const x = stack(samples.map((s) => s.image)),
    y = stack(samples.map((s) => s.label)); // (N, 3, H, W), (N, H, W)
  const [N, , H, W] = x.shape,
    K = val.numClasses;
  teacher.train();
  const terms: Record<string, number> = {};
  const grid = $('paths-grid');
  grid.innerHTML = '';
  const cell = (title: string) => {
    const f = document.createElement('figure'),
      c = document.createElement('canvas');
    f.append(c, Object.assign(document.createElement('figcaption'), { textContent: title }));
    grid.append(f);
    return c;
  };
  const z: Tensor[] = [];
  noGrad(() => {
    for (const path of [1, 2]) {
      const ch = encodeLabels(y, K, lad.encodeTrain, gen); // (N, 1, H, W): path `path`'s own code and noise
      const out = teacher.forward(withLabelChannel(x, ch)),
        logits = out.logits; // (N, K, h, w)
      const seg = segLoss(out, y, lad.auxWeightTeacher); // CE (+ the aux head's), as teacherLoss takes it
      [terms[`ce${path}`], terms[`aux${path}`], terms[`seg${path}`]] = [seg.ce.item(), seg.aux?.item() ?? 0, seg.loss.item()];
      const ce = crossEntropy(upsampleTo(logits, y), y, { ignoreIndex: -1, reduction: 'none' }); // (N, H, W): the CE per pixel
      z.push(logits);
      const plane = H * W;
      drawSigned(cell(`path ${path}: label channel`), (ch.data() as Float32Array).subarray(0, plane), W, H, 1.5 * (lad.encodeTrain.scale as number));
      drawLabels(cell(`path ${path}: prediction`), (upsampleTo(logits, y).argmax(1).data() as Int32Array).subarray(0, plane), W, H, K);
      drawHeat(cell(`path ${path}: CE per pixel`), (ce.data() as Float32Array).subarray(0, plane), W, H);
    }
    terms.cons = consistencyLoss(z[0], z[1], lad).item();
  });
  const [, , h, w] = z[0].shape;
  if (lad.consLoss === 'cwd' && lad.consSymmetric) {
    const map = consistencyMap(z[0], z[1], lad.consT);
    drawHeat(cell('consistency per pixel (logit resolution)'), map.subarray(0, h * w), w, h, (4 * H) / h);
    terms.consMapSum = map.reduce((a, b) => a + b, 0);
  }
  terms.total = terms.seg1 + terms.seg2 + lad.consWeight * terms.cons; // teacherLoss's total
  const row = (name: string, v: number, what: string) => `<tr><td>${name}</td><td>${v.toFixed(4)}</td><td>${what}</td></tr>`;
  $('paths-terms').innerHTML =
    '<tr><th>term</th><th>value</th><th>what</th></tr>' +
    row('CE(z¹, y)', terms.ce1, 'path 1 against the ground truth') +
    row('CE(z², y)', terms.ce2, 'path 2 against the ground truth') +
    row(`aux CE, both paths`, terms.aux1 + terms.aux2, `the aux head's CE, weighted ${lad.auxWeightTeacher}`) +
    row(
      `cons(z¹, z²)`,
      terms.cons,
      `${lad.consLoss}, T = ${lad.consT}${terms.consMapSum === undefined ? '' : `, symmetric; the per-pixel map sums to ${terms.consMapSum.toFixed(4)}`}`,
    ) +
    row(`total (λ = ${lad.consWeight})`, terms.total, `CE + aux + CE + aux + λ·cons, batch of ${N}: teacherLoss's total`);
  return terms;
}

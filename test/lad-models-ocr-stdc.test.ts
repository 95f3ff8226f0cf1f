// OCRHead (Yuan et al., ECCV 2020; mmseg ocr_head.py) and StdcSeg (Fan et al., CVPR 2021; mmseg
// stdc.py): shapes, the attention's normalisation, gradient into the soft object regions, the
// parameter count by hand, the LAD label-channel init, and "overfit one batch" runs of an STDC
// model and of an OCR model on a stand-in backbone. Tiny widths and inputs keep each run short.
// Legend: N batch, K classes, H/W input size.

import { describe, expect, it } from 'vitest';
import { Generator, ValueError, crossEntropy, interpolate, noGrad, randn, tensor, type Tensor } from '@lad/tensor';
import { Conv2d, Module, SGD } from '@lad/nn';
import { OCRHead, gatherObjectRegions, pixelRegionRelation } from '../packages/lad/src/models/heads/ocr.ts';
import { StdcSeg } from '../packages/lad/src/models/stdc.ts';
import { ConvBNReLU } from '../packages/lad/src/models/layers.ts';
import type { SegOutputs } from '../packages/lad/src/models/types.ts';

const numParams = (m: Module): number => m.parameters().reduce((a, p) => a + p.size, 0);
const closeTo = (a: Tensor, b: number[], eps = 1e-5) => [...a.data()].forEach((v, i) => expect(v).toBeCloseTo(b[i], -Math.log10(eps)));

/** Two classes of random discs on background 0; the image's channel c is high where class = c, plus noise. */
function blobBatch(n: number, H: number, W: number, K: number, g: Generator): { x: Tensor; y: Tensor } {
  const xs = new Float32Array(n * 3 * H * W),
    ys = new Int32Array(n * H * W);
  for (let b = 0; b < n; b++) {
    const lab = ys.subarray(b * H * W, (b + 1) * H * W);
    for (let k = 1; k < K; k++) {
      for (let d = 0; d < 2; d++) {
        const cy = g.nextU32() % H,
          cx = g.nextU32() % W,
          r = 5 + (g.nextU32() % 6);
        for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) if ((i - cy) ** 2 + (j - cx) ** 2 <= r * r) lab[i * W + j] = k;
      }
    }
    for (let c = 0; c < 3; c++) for (let p = 0; p < H * W; p++) xs[(b * 3 + c) * H * W + p] = (lab[p] === c ? 1 : 0) + 0.3 * (g.nextU32() / 2 ** 32 - 0.5);
  }
  return { x: tensor(xs).reshape([n, 3, H, W]), y: tensor(ys).reshape([n, H, W]) };
}

/** CE of main + 0.4·aux, logits upsampled bilinearly (align_corners) to the label size. */
function segLoss(o: SegOutputs, y: Tensor): Tensor {
  const up = (t: Tensor) => interpolate(t, { size: y.shape.slice(1), mode: 'bilinear', alignCorners: true });
  return crossEntropy(up(o.logits), y).add(crossEntropy(up(o.auxLogits!), y).mul(0.4));
}

/** SGD (momentum 0.9) on one batch until the loss is below 10% of its start; returns the losses. */
function overfit(model: Module & { forward(x: Tensor): SegOutputs }, x: Tensor, y: Tensor, lr: number, maxSteps = 200): number[] {
  const opt = new SGD(model.parameters(), { lr, momentum: 0.9 });
  const losses: number[] = [];
  for (let step = 0; step < maxSteps; step++) {
    const loss = segLoss(model.forward(x), y);
    losses.push(loss.item());
    if (losses[step] < 0.1 * losses[0]) break;
    opt.zeroGrad();
    loss.backward();
    opt.step();
  }
  return losses;
}

/** Fraction of pixels whose upsampled main-logit argmax equals the label (train-mode BN). */
function pixelAccuracy(model: Module & { forward(x: Tensor): SegOutputs }, x: Tensor, y: Tensor): number {
  const logits = noGrad(() => interpolate(model.forward(x).logits, { size: y.shape.slice(1), mode: 'bilinear', alignCorners: true }));
  return logits.argmax(1).eq(y).sum().item() / y.size;
}

const report = (l: number[]) => `${l.length} steps, loss ${l[0].toFixed(4)} → ${l[l.length - 1].toFixed(4)}`;

// ---- OCRHead ---------------------------------------------------------------------------------

describe('OCRHead', () => {
  const K = 3;
  const make = (g: Generator) => new OCRHead({ inChannels: 6, numClasses: K, channels: 8, keyChannels: 4, generator: g });
  const feats = (g: Generator, H: number, W: number): Tensor[] => [
    randn([2, 2, 2 * H, 2 * W], { generator: g }),
    randn([2, 4, H, W], { generator: g }),
    randn([2, 5, H, W], { generator: g }),
    randn([2, 6, H, W], { generator: g }),
  ];

  it('maps c4 and aux logits to logits at c4 resolution, resizing aux logits of another size', () => {
    const g = new Generator(0);
    const head = make(g);
    const f = feats(g, 6, 5);
    expect(head.forward(f, randn([2, K, 6, 5], { generator: g })).shape).toEqual([2, K, 6, 5]);
    expect(head.forward(f, randn([2, K, 12, 10], { generator: g })).shape).toEqual([2, K, 6, 5]);
    expect(head.forward(f, randn([2, K, 3, 3], { generator: g })).shape).toEqual([2, K, 6, 5]);
  });

  it('throws a clear error without aux logits, and on a wrong c4', () => {
    const g = new Generator(0);
    const head = make(g);
    expect(() => head.forward(feats(g, 4, 4), null)).toThrow(ValueError);
    expect(() => head.forward(feats(g, 4, 4), null)).toThrow(/auxiliary head's logits as soft object regions: build the model with aux: true/);
    expect(() => head.forward(feats(g, 4, 4).slice(0, 3), randn([2, K, 4, 4]))).toThrow(/features\[3\]/);
  });

  it('pixel-region relation: softmax over regions, rows sum to 1', () => {
    const g = new Generator(1);
    const rel = pixelRegionRelation(randn([2, 4, 7], { generator: g }).mul(3), randn([2, 4, 5], { generator: g }).mul(3)); // (N, P, K)
    expect(rel.shape).toEqual([2, 7, 5]);
    closeTo(rel.sum(2), new Array(14).fill(1));
    expect(rel.amin().item()).toBeGreaterThan(0);
    // hand example: E = 4, q = [1,1,1,1], keys e0·2 and 0 → scores 2/√4 = 1 and 0 → [e/(e+1), 1/(e+1)]
    const q = tensor([[[1], [1], [1], [1]]]); // (1, 4, 1)
    const k = tensor([
      [
        [2, 0],
        [0, 0],
        [0, 0],
        [0, 0],
      ],
    ]); // (1, 4, 2)
    closeTo(pixelRegionRelation(q, k), [Math.E / (Math.E + 1), 1 / (Math.E + 1)]);
  });

  it('object regions: a spatial softmax of each class weighs the pixel features', () => {
    // pixels (1, D=2, 1, 2): pixel 0 = [1, 10], pixel 1 = [3, 30]. Class 0 logits equal → the mean;
    // class 1 logits [0, ln 3] → weights [1/4, 3/4].
    const pixels = tensor([[[[1, 3]], [[10, 30]]]]);
    const logits = tensor([[[[0, 0]], [[0, Math.log(3)]]]]);
    const r = gatherObjectRegions(pixels, logits); // (1, D, K, 1)
    expect(r.shape).toEqual([1, 2, 2, 1]);
    closeTo(r, [2, 2.5, 20, 25]);
  });

  it('passes gradient into the aux logits (the soft object regions)', () => {
    const g = new Generator(2);
    const head = make(g);
    const aux = randn([2, K, 4, 4], { generator: g }).requiresGrad_(true);
    head
      .forward(feats(g, 4, 4), aux)
      .square()
      .sum()
      .backward();
    expect(aux.grad).not.toBeNull();
    expect(aux.grad!.abs().sum().item()).toBeGreaterThan(0);
  });
});

// ---- StdcSeg ---------------------------------------------------------------------------------

describe('StdcSeg', () => {
  it.each([3, 4])('output shapes at 32x32, 48x64 and 65x65 (%i input channels, aux on/off)', (C) => {
    const g = new Generator(0);
    for (const aux of [true, false]) {
      const m = new StdcSeg({ inChannels: C, numClasses: 5, width: 4, aux, generator: g });
      for (const [H, W] of [
        [32, 32],
        [48, 64],
        [65, 65],
      ]) {
        const o = noGrad(() => m.forward(randn([2, C, H, W], { generator: g })));
        const at = (s: number) => [2, 5, Math.ceil(H / s), Math.ceil(W / s)]; // every stride-2 layer has k3 p1 (or avg-pool k3 p1)
        expect(o.logits.shape).toEqual(at(8));
        if (aux) expect(o.auxLogits!.shape).toEqual(at(16));
        else expect(o.auxLogits).toBeNull();
      }
    }
  });

  it('rejects a wrong input or width', () => {
    const m = new StdcSeg({ inChannels: 4, numClasses: 2, width: 4, aux: false });
    expect(() => m.forward(randn([1, 3, 16, 16]))).toThrow(/\(N, 4, H, W\)/);
    expect(() => new StdcSeg({ inChannels: 3, numClasses: 2, width: 5, aux: false })).toThrow(/even/);
  });

  it('has the hand-counted number of parameters (width 4, 3 -> 2 classes)', () => {
    // conv-BN-ReLU C→O k×k (groups g, no bias) = C·O·k²/g + 2·O; stage channels 16, 32, 64.
    // STDC module(i→o, stride): 1x1 i→o/2, [dw 3x3 s2 on o/2], 3x3 o/2→o/4, o/4→o/8, o/8→o/8.
    const stem = 3 * 2 * 9 + 4 + (2 * 4 * 9 + 8); // 58 + 80 = 138
    const stage1 =
      4 * 8 +
      16 +
      (8 * 9 + 16) +
      (8 * 4 * 9 + 8) +
      (4 * 2 * 9 + 4) +
      (2 * 2 * 9 + 4) + // stride 2: 48+88+296+76+40 = 548
      (16 * 8 + 16) +
      296 +
      76 +
      40; // stride 1: 144+412 = 556 → 1104
    const stage2 =
      16 * 16 +
      32 +
      (16 * 9 + 32) +
      (16 * 8 * 9 + 16) +
      (8 * 4 * 9 + 8) +
      (4 * 4 * 9 + 8) + // 288+176+1168+296+152 = 2080
      (32 * 16 + 32) +
      1168 +
      296 +
      152; // 544+1616 = 2160 → 4240
    const stage3 =
      32 * 32 +
      64 +
      (32 * 9 + 64) +
      (32 * 16 * 9 + 32) +
      (16 * 8 * 9 + 16) +
      (8 * 8 * 9 + 16) + // 1088+352+4640+1168+592 = 7840
      (64 * 32 + 64) +
      4640 +
      1168 +
      592; // 2112+6400 = 8512 → 16352
    const global = 64 * 8 + 16; // 528
    const arm32 = 64 * 8 * 9 + 16 + (8 * 8 + 16); // 4624 + 80 = 4704
    const arm16 = 32 * 8 * 9 + 16 + (8 * 8 + 16); // 2320 + 80 = 2400
    const refine = 2 * (8 * 8 * 9 + 16); // 1184
    const ffm = 24 * 16 + 32 + 16 * 4 + 4 * 16; // 416 + 128 = 544
    const head = 16 * 16 * 9 + 32 + (16 * 2 + 2); // 2336 + 34 = 2370
    const aux = 8 * 4 * 9 + 8 + (4 * 2 + 2); // 296 + 10 = 306
    const total = stem + stage1 + stage2 + stage3 + global + arm32 + arm16 + refine + ffm + head;
    expect(total).toBe(33564);
    expect(numParams(new StdcSeg({ inChannels: 3, numClasses: 2, width: 4, aux: false }))).toBe(total);
    expect(numParams(new StdcSeg({ inChannels: 3, numClasses: 2, width: 4, aux: true }))).toBe(total + aux);
    expect(numParams(new StdcSeg({ inChannels: 4, numClasses: 2, width: 4, aux: true }))).toBe(total + aux + 2 * 9); // + the label channel's kernels
  });

  it('STDC1 at width 64: the backbone matches STDCNet813 (8.44M with its 3.13M classifier layers)', () => {
    const m = new StdcSeg({ inChannels: 3, numClasses: 19, width: 64, aux: true });
    const backbone = m
      .namedParameters()
      .filter(([n]) => /^(stem|stages)\./.test(n))
      .reduce((a, [, p]) => a + p.size, 0);
    expect(backbone).toBe(5_318_304);
    // STDCNet813's ImageNet layers: conv_last 1x1 1024→1024 + BN, fc 1024→1024 (no bias), BN1d, linear 1024→1000 (no bias)
    expect(backbone + (1024 * 1024 + 2048) + 1024 * 1024 + 2048 + 1024 * 1000).toBe(8_443_552);
    expect(numParams(m)).toBe(8_350_214);
  });

  it('inits convs Kaiming-normal (fan_out) from the generator and the label channel from N(0, std²)', () => {
    const make = () => new StdcSeg({ inChannels: 4, numClasses: 2, width: 32, aux: true, labelChannelStd: 0.01, generator: new Generator(7) });
    const w = make().stem.at(0) as ConvBNReLU; // weight (16, 4, 3, 3)
    const std = (t: Tensor) => Math.sqrt(t.square().mean().item());
    expect(std(w.conv.weight.slice(1, 3, 4))).toBeGreaterThan(0.007);
    expect(std(w.conv.weight.slice(1, 3, 4))).toBeLessThan(0.013);
    const kaiming = Math.sqrt(2 / (16 * 9)); // 0.118
    expect(std(w.conv.weight.slice(1, 0, 3)) / kaiming).toBeGreaterThan(0.85);
    expect(std(w.conv.weight.slice(1, 0, 3)) / kaiming).toBeLessThan(1.15);
    closeTo(w.bn.weight!, new Array(16).fill(1));
    const again = (make().stem.at(0) as ConvBNReLU).conv.weight;
    expect([...again.data()]).toEqual([...w.conv.weight.data()]);
  });

  it('overfits one batch of random blobs', () => {
    const g = new Generator(1);
    const { x, y } = blobBatch(2, 64, 64, 3, g);
    const m = new StdcSeg({ inChannels: 3, numClasses: 3, width: 4, aux: true, dropout: 0, generator: g });
    const losses = overfit(m, x, y, 0.1);
    expect(losses[losses.length - 1], report(losses)).toBeLessThan(0.1 * losses[0]);
    expect(pixelAccuracy(m, x, y)).toBeGreaterThan(0.93);
  });
});

// ---- an OCR model end to end -----------------------------------------------------------------

/** Backbone stand-in: strided convs to 4 maps at strides 2, 4, 4, 4 (c4 dilated), FCN-ish 1x1 aux on c3, OCRHead on c4. */
class TinyOcrNet extends Module {
  c1: ConvBNReLU;
  c2: ConvBNReLU;
  c3: ConvBNReLU;
  c4: ConvBNReLU;
  aux: Conv2d;
  head: OCRHead;

  constructor(K: number, g: Generator) {
    super();
    this.c1 = new ConvBNReLU(3, 8, 3, { stride: 2, generator: g });
    this.c2 = new ConvBNReLU(8, 16, 3, { stride: 2, generator: g });
    this.c3 = new ConvBNReLU(16, 16, 3, { generator: g });
    this.c4 = new ConvBNReLU(16, 24, 3, { dilation: 2, generator: g });
    this.aux = new Conv2d(16, K, 1, { generator: g });
    this.head = new OCRHead({ inChannels: 24, numClasses: K, channels: 16, keyChannels: 8, dropout: 0, generator: g });
  }

  forward(x: Tensor): SegOutputs {
    const f1 = this.c1.forward(x),
      f2 = this.c2.forward(f1),
      f3 = this.c3.forward(f2),
      f4 = this.c4.forward(f3);
    const auxLogits = this.aux.forward(f3); // (N, K, H/4, W/4)
    return { logits: this.head.forward([f1, f2, f3, f4], auxLogits), auxLogits };
  }
}

describe('an OCR model (stand-in backbone + 1x1 aux + OCRHead)', () => {
  it('overfits one batch of random blobs', () => {
    const g = new Generator(3);
    const { x, y } = blobBatch(2, 32, 32, 3, g);
    const m = new TinyOcrNet(3, g);
    expect(m.forward(x).logits.shape).toEqual([2, 3, 8, 8]);
    const losses = overfit(m, x, y, 0.05);
    expect(losses[losses.length - 1], report(losses)).toBeLessThan(0.1 * losses[0]);
    expect(pixelAccuracy(m, x, y)).toBeGreaterThan(0.93);
  });
});

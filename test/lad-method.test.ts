// The LAD method core (lad-method.md §7.4): CWD properties and its closed-form gradient (§4), the
// label encoder (§2.2), poly LR (§2.5), segLoss and pixel KD against hand/manual references, and
// one teacher step (§2.3) and one student step (§2.4) each lowering their loss on a fixed batch.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Generator, Tensor, crossEntropy, grad, interpolate, randn, softmax, stack, tensor } from '@lad/tensor';
import { LRScheduler, SGD, poly } from '@lad/nn';
import {
  DEFAULT_LAD,
  buildModel,
  channelWiseDistillation,
  codeTable,
  consistencyLoss,
  digitsSeg,
  encodeLabels,
  fixedGrid,
  baselineLoss,
  labelTeacherInput,
  modelPreset,
  pixelKD,
  segLoss,
  studentLoss,
  teacherLadAt,
  otherImageLabels,
  teacherLoss,
  withLabelChannel,
  zeroChannel,
  type LabelEncoding,
  type LadConfig,
  type SegModel,
  type StepBatch,
} from '@lad/lad';

const f32 = (t: Tensor) => Array.from(t.data() as Float32Array);
const enc = (o: Partial<LabelEncoding> = {}): LabelEncoding => ({ codeDist: 'normal', sigma: 0, scale: 1, smoothPasses: 0, ...o });
const labels3 = (rows: number[][][]) => tensor(rows, { dtype: 'int32' });

describe('channelWiseDistillation (§4)', () => {
  it('is 0 for identical inputs', () => {
    const z = randn([2, 3, 4, 5], { generator: new Generator(1) });
    expect(channelWiseDistillation(z, z).item()).toBeCloseTo(0, 6);
  });

  it('is non-negative', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.double({ min: 0.5, max: 8, noNaN: true }), (seed, T) => {
        const g = new Generator(seed);
        const s = randn([2, 3, 3, 4], { generator: g }).mul(3),
          t = randn([2, 3, 3, 4], { generator: g }).mul(3);
        return channelWiseDistillation(s, t, { temperature: T }).item() >= -1e-5;
      }),
      { numRuns: 40 },
    );
  });

  it('has gradient (T/(N·C))(q − p) with respect to the student', () => {
    const g = new Generator(2),
      N = 2,
      C = 3,
      H = 2,
      W = 3,
      T = 4;
    const s = randn([N, C, H, W], { generator: g, dtype: 'float64' }).requiresGrad_();
    const t = randn([N, C, H, W], { generator: g, dtype: 'float64' });
    const [gs] = grad([channelWiseDistillation(s, t, { temperature: T })], [s]);
    const q = softmax(
        s
          .detach()
          .reshape([N * C, H * W])
          .div(T),
        1,
      ),
      p = softmax(t.reshape([N * C, H * W]).div(T), 1);
    const want = q
      .sub(p)
      .mul(T / (N * C))
      .reshape([N, C, H, W]);
    const d = gs!.sub(want).abs().amax().item();
    expect(d).toBeLessThan(1e-10);
  });

  it('is invariant to a per-channel constant, not to a per-pixel constant across classes', () => {
    const g = new Generator(3);
    const s = randn([1, 3, 4, 4], { generator: g }),
      t = randn([1, 3, 4, 4], { generator: g });
    const base = channelWiseDistillation(s, t).item();
    const perChannel = tensor([5, -2, 7]).reshape([1, 3, 1, 1]);
    expect(channelWiseDistillation(s.add(perChannel), t).item()).toBeCloseTo(base, 4);
    const perPixel = randn([1, 1, 4, 4], { generator: g }).mul(3);
    expect(Math.abs(channelWiseDistillation(s.add(perPixel), t).item() - base)).toBeGreaterThan(1e-2);
    // ... whereas pixel KD (class softmax) is invariant to the per-pixel constant.
    expect(pixelKD(s.add(perPixel), t).item()).toBeCloseTo(pixelKD(s, t).item(), 4);
  });
});

describe('label encoder (§2.2)', () => {
  const y = labels3([
    [
      [0, 1, 2, -1],
      [2, 2, 0, 1],
    ],
    [
      [1, 1, -1, -1],
      [0, 2, 2, 0],
    ],
  ]); // (2, 2, 4), K = 3

  it('gives every pixel of a class one pre-noise value per image, and ignore its own slot', () => {
    const L = f32(encodeLabels(y, 3, enc(), new Generator(4))),
      lab = Array.from(y.data());
    for (let b = 0; b < 2; b++) {
      const byClass = new Map<number, number>();
      for (let p = 0; p < 8; p++) {
        const k = lab[b * 8 + p],
          v = L[b * 8 + p];
        if (byClass.has(k)) expect(v).toBe(byClass.get(k));
        else byClass.set(k, v);
      }
      expect(new Set(byClass.values()).size).toBe(4); // 3 classes + ignore, all distinct
    }
    const g = fixedGrid(3); // −1.1 + 0.7k: −1.1, −0.4, 0.3, 1.0 (ignore)
    const Lf = f32(encodeLabels(y, 3, enc({ codeDist: 'fixedGrid' }), new Generator(0)));
    lab.forEach((k, i) => expect(Lf[i]).toBeCloseTo(g[k < 0 ? 3 : k], 6));
    expect(g[3]).toBeCloseTo(1, 12);
  });

  it('matches the VOC grid (k − 11)/10 exactly for K = 21', () => {
    const g = fixedGrid(21);
    for (let k = 0; k <= 21; k++) expect(g[k]).toBeCloseTo((k - 11) / 10, 14);
  });

  it('spans [−1.1, 1.0] in equal steps for every K (the contrast of the N(0, 1) codes)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), (K) => {
        const g = fixedGrid(K);
        expect(g.length).toBe(K + 1);
        expect(g[0]).toBeCloseTo(-1.1, 12);
        expect(g[K]).toBeCloseTo(1, 12);
        for (let k = 1; k <= K; k++) expect(g[k] - g[k - 1]).toBeCloseTo(2.1 / K, 12);
      }),
    );
  });

  it('differs between calls in random modes and agrees in fixedGrid mode', () => {
    const g = new Generator(5);
    for (const codeDist of ['normal', 'uniform', 'permutedGrid'] as const) {
      const a = f32(encodeLabels(y, 3, enc({ codeDist }), g)),
        b = f32(encodeLabels(y, 3, enc({ codeDist }), g));
      expect(a).not.toEqual(b);
    }
    const fixed = enc({ codeDist: 'fixedGrid', sigma: 0 });
    expect(f32(encodeLabels(y, 3, fixed, g))).toEqual(f32(encodeLabels(y, 3, fixed, g)));
  });

  it('draws codes per image: uniform in (-1, 1), permutedGrid a permutation of the grid', () => {
    const u = codeTable(50, 3, enc({ codeDist: 'uniform' }), new Generator(6));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...u)).toBeLessThan(1);
    const p = codeTable(4, 3, enc({ codeDist: 'permutedGrid' }), new Generator(7));
    const grid = Array.from(fixedGrid(3)).sort();
    for (let b = 0; b < 4; b++) expect(Array.from(p.subarray(b * 4, b * 4 + 4)).sort()).toEqual(grid);
    const f = codeTable(2, 3, enc({ codeDist: 'fixedGrid' }), new Generator(0));
    expect(Array.from(f.subarray(0, 4))).toEqual(Array.from(f.subarray(4)));
  });

  it('is all zeros in zeros mode and draws nothing', () => {
    const g = new Generator(8),
      before = g.getState();
    const L = encodeLabels(y, 3, enc({ codeDist: 'zeros', sigma: 0.5, scale: 100 }), g);
    expect(L.shape).toEqual([2, 1, 2, 4]);
    expect(f32(L).every((v) => v === 0)).toBe(true);
    expect(g.getState()).toEqual(before);
  });

  it('has noise std ≈ scale·sigma and codes scaled by scale', () => {
    const H = 128,
      W = 128;
    const ones = Tensor.fromData(new Int32Array(H * W).fill(1), [1, H, W]);
    const L = f32(encodeLabels(ones, 3, enc({ codeDist: 'fixedGrid', sigma: 0.05, scale: 20 }), new Generator(9)));
    const mean = L.reduce((a, b) => a + b, 0) / L.length;
    const sd = Math.sqrt(L.reduce((a, b) => a + (b - mean) ** 2, 0) / L.length);
    expect(mean).toBeCloseTo(20 * -0.4, 1); // code of class 1 is −1.1 + 2.1/3
    expect(sd / (20 * 0.05)).toBeGreaterThan(0.97);
    expect(sd / (20 * 0.05)).toBeLessThan(1.03);
    const codes = codeTable(2000, 9, enc(), new Generator(10));
    const cm = codes.reduce((a, b) => a + b, 0) / codes.length;
    expect(Math.abs(cm)).toBeLessThan(0.03);
    expect(Math.sqrt(codes.reduce((a, b) => a + (b - cm) ** 2, 0) / codes.length)).toBeCloseTo(1, 1);
  });

  it('smoothPasses box-blurs the code map before the noise', () => {
    const step = labels3([
      [
        [0, 0, 1, 1],
        [0, 0, 1, 1],
        [0, 0, 1, 1],
      ],
    ]); // (1, 3, 4), a vertical edge
    const sharp = f32(encodeLabels(step, 2, enc({ codeDist: 'fixedGrid' }), new Generator(0)));
    const blur = f32(encodeLabels(step, 2, enc({ codeDist: 'fixedGrid', smoothPasses: 1 }), new Generator(0)));
    // grid for K = 2: c0 = −1.1, c1 = −0.05; row 1 col 1 averages 3 columns: (−1.1·6 − 0.05·3)/9
    expect(sharp[5]).toBeCloseTo(-1.1, 6);
    expect(blur[5]).toBeCloseTo((-1.1 * 6 - 0.05 * 3) / 9, 6);
    expect(blur[4]).toBeCloseTo(-1.1, 6); // col 0: all neighbours are class 0
    expect(blur[0]).toBeCloseTo(-1.1, 6);
  });

  it('validates labels and builds 4-channel inputs', () => {
    expect(() => encodeLabels(labels3([[[0, 3]]]), 3, enc(), new Generator(0))).toThrow(/class 3/);
    expect(() => encodeLabels(labels3([[[0, -2]]]), 3, enc(), new Generator(0))).toThrow(/class -2/);
    expect(() => encodeLabels(tensor([[[0.5]]]), 3, enc(), new Generator(0))).toThrow(/int32/);
    const img = randn([2, 3, 2, 4], { generator: new Generator(11) });
    const x = withLabelChannel(img, encodeLabels(y, 3, enc(), new Generator(0)));
    expect(x.shape).toEqual([2, 4, 2, 4]);
    expect(f32(x.slice(1, 0, 3))).toEqual(f32(img));
    const z = zeroChannel(img);
    expect(z.shape).toEqual([2, 4, 2, 4]);
    expect(f32(z.slice(1, 3, 4)).every((v) => v === 0)).toBe(true);
    expect(() => withLabelChannel(img, randn([2, 1, 3, 4]))).toThrow(/\[2, 1, 2, 4\]/);
  });
});

describe('poly LR (§2.5)', () => {
  it('is lr0 at t = 0 and lr0·(1/T_max)^0.9 at t = T_max − 1', () => {
    const Tmax = 50,
      lr0 = 0.02;
    const p = tensor([1]).requiresGrad_();
    const opt = new SGD([p], { lr: lr0, momentum: 0.9 });
    const sched = new LRScheduler(opt, poly({ power: 0.9, maxIters: Tmax }));
    expect(opt.paramGroups[0].lr).toBeCloseTo(lr0, 12);
    for (let t = 0; t < Tmax - 1; t++) sched.step();
    expect(opt.paramGroups[0].lr).toBeCloseTo(lr0 * (1 / Tmax) ** 0.9, 12);
  });
});

describe('segLoss, pixelKD, consistencyLoss', () => {
  it('segLoss equals manual align_corners upsampling + CE with ignore, plus auxWeight·aux', () => {
    const g = new Generator(12);
    const logits = randn([2, 3, 2, 3], { generator: g }),
      aux = randn([2, 3, 2, 3], { generator: g });
    const y = labels3([
      [
        [0, 1, 2, -1, 0],
        [1, 1, -1, 2, 0],
        [2, 0, 0, 1, 1],
        [0, 0, 2, 2, -1],
      ],
      [
        [1, 2, 0, 0, 0],
        [2, -1, 1, 0, 0],
        [1, 1, 1, 2, 2],
        [0, 1, 2, 0, 1],
      ],
    ]);
    const ce = (z: Tensor) => crossEntropy(interpolate(z, { size: [4, 5], mode: 'bilinear', alignCorners: true }), y, { ignoreIndex: -1 }).item();
    const r = segLoss({ logits, auxLogits: aux }, y, 0.4);
    expect(r.ce.item()).toBeCloseTo(ce(logits), 6);
    expect(r.aux!.item()).toBeCloseTo(ce(aux), 6);
    expect(r.loss.item()).toBeCloseTo(ce(logits) + 0.4 * ce(aux), 6);
    expect(segLoss({ logits, auxLogits: null }, y, 0.4).aux).toBeNull();
  });

  it('pixelKD on a hand example: KL over classes per pixel, mean over pixels, × T²', () => {
    // one image, 2 classes, 1×2 pixels; T = 1. Pixel 0: s = (0, 0), t = (ln 3, 0) → p = (3/4, 1/4), q = (1/2, 1/2).
    // Pixel 1: identical → 0. KL0 = 3/4·ln(3/2) + 1/4·ln(1/2).
    const s = tensor([[[[0, 1]], [[0, 2]]]]),
      t = tensor([[[[Math.log(3), 1]], [[0, 2]]]]);
    const kl0 = 0.75 * Math.log(1.5) + 0.25 * Math.log(0.5);
    expect(pixelKD(s, t, { temperature: 1 }).item()).toBeCloseTo(kl0 / 2, 6);
    // T = 2 rescales the logits by 1/2 and the result by 4.
    const p2 = [Math.sqrt(3) / (Math.sqrt(3) + 1), 1 / (Math.sqrt(3) + 1)];
    const kl2 = p2[0] * Math.log(2 * p2[0]) + p2[1] * Math.log(2 * p2[1]);
    expect(pixelKD(s, t, { temperature: 2 }).item()).toBeCloseTo((4 * kl2) / 2, 6);
  });

  it('consistencyLoss: symmetric sums both directions with stop-grad; one direction otherwise; none is 0', () => {
    const g = new Generator(13);
    const z1 = randn([1, 2, 3, 3], { generator: g }).requiresGrad_(),
      z2 = randn([1, 2, 3, 3], { generator: g }).requiresGrad_();
    const cfg: LadConfig = { ...DEFAULT_LAD, consT: 2 };
    const both = consistencyLoss(z1, z2, cfg).item();
    expect(both).toBeCloseTo(channelWiseDistillation(z1, z2, { temperature: 2 }).item() + channelWiseDistillation(z2, z1, { temperature: 2 }).item(), 6);
    const one = consistencyLoss(z1, z2, { ...cfg, consSymmetric: false });
    expect(one.item()).toBeCloseTo(channelWiseDistillation(z1, z2, { temperature: 2 }).item(), 6);
    const [g1, g2] = grad([one], [z1, z2], { allowUnused: true });
    expect(g1).not.toBeNull();
    expect(g2 === null || g2.abs().amax().item() === 0).toBe(true);
    expect(consistencyLoss(z1, z2, { ...cfg, consLoss: 'mse', consSymmetric: false }).item()).toBeCloseTo(z1.sub(z2).square().mean().item(), 6);
    expect(consistencyLoss(z1, z2, { ...cfg, consLoss: 'pixelKL' }).item()).toBeGreaterThan(0);
    expect(consistencyLoss(z1, z2, { ...cfg, consLoss: 'none' }).item()).toBe(0);
  });
});

// A fixed batch of 4 digits-seg samples at 32×32, 11 classes (background + 10 digits).
function digitsBatch(): StepBatch {
  const ds = digitsSeg({ train: 4, val: 1, size: 32, digits: [1, 2], digitSize: [16, 24] }).train;
  const samples = Array.from({ length: 4 }, (_, i) => ds.get(i));
  return { images: stack(samples.map((s) => s.image)), labels: stack(samples.map((s) => s.label)) };
}
const tinyModel = (inChannels: number, seed: number): SegModel =>
  buildModel(modelPreset('tiny', 'deeplabv3', { inChannels, numClasses: 11 }), { generator: new Generator(seed) });

/** Runs `steps` SGD steps of `lossFn`; returns the loss of the first and the last step. */
function train(model: SegModel, steps: number, lr: number, lossFn: (gen: Generator) => { loss: Tensor }): [number, number] {
  const opt = new SGD(model.parameters(), { lr, momentum: 0.9 });
  const gen = new Generator(99);
  let first = NaN,
    last = NaN;
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    const { loss } = lossFn(gen);
    if (i === 0) first = loss.item();
    last = loss.item();
    loss.backward();
    opt.step();
  }
  return [first, last];
}

describe('teacher and student steps (§2.3, §2.4)', () => {
  const batch = digitsBatch();
  const cfg: LadConfig = DEFAULT_LAD;

  it('a dual-path teacher step lowers its loss on a fixed batch', () => {
    const teacher = tinyModel(4, 1);
    const [first, last] = train(teacher, 30, 0.05, (gen) => teacherLoss(teacher, batch, 11, cfg, gen));
    expect(last).toBeLessThan(0.5 * first);
  }, 30_000);

  it('a student step lowers its loss on a fixed batch; baseline too', () => {
    const teacher = tinyModel(4, 2);
    const student = tinyModel(4, 3);
    const [first, last] = train(student, 30, 0.05, (gen) => studentLoss(student, teacher, batch, 11, cfg, gen));
    expect(last).toBeLessThan(0.5 * first);
    expect(teacher.training).toBe(false);
    const base = tinyModel(4, 4);
    const [b0, b1] = train(base, 20, 0.05, () => baselineLoss(base, batch, cfg));
    expect(b1).toBeLessThan(0.7 * b0);
  }, 30_000);

  it('teacher parts, single path, consLoss none, and a 3-channel "no labels" teacher', () => {
    const teacher = tinyModel(4, 5);
    const dual = teacherLoss(teacher, batch, 11, cfg, new Generator(0));
    expect(Object.keys(dual.parts).sort()).toEqual(['aux1', 'aux2', 'ce1', 'ce2', 'cons', 'total']);
    expect(dual.parts.total).toBeCloseTo(dual.parts.ce1 + dual.parts.ce2 + 0.4 * (dual.parts.aux1 + dual.parts.aux2) + 5 * dual.parts.cons, 4);
    const single = teacherLoss(teacher, batch, 11, { ...cfg, dualPath: false }, new Generator(0));
    expect(Object.keys(single.parts).sort()).toEqual(['aux1', 'ce1', 'total']);
    const none = teacherLoss(teacher, batch, 11, { ...cfg, consLoss: 'none' }, new Generator(0));
    expect(none.parts.cons).toBe(0);
    const plain = tinyModel(3, 6),
      student = tinyModel(4, 7);
    const s = studentLoss(student, plain, batch, 11, { ...cfg, kdLoss: 'pixelKD' }, new Generator(0));
    expect(s.parts.kd).toBeGreaterThan(0);
    expect(() => teacherLoss(teacher, batch, 10, cfg, new Generator(0))).toThrow(/numClasses/);
    const x = labelTeacherInput(batch, 11, cfg.encodeDistill, new Generator(0));
    expect(x.shape).toEqual([4, 4, 32, 32]);
  }, 30_000);

  it('a label-scale warm-up ramps the training encoding linearly, and the teacher sees it', () => {
    const warm: LadConfig = { ...cfg, encodeTrain: enc({ scale: 2, sigma: 0 }), labelScaleWarmup: 4 };
    expect([0, 1, 2, 3, 4, 10].map((s) => teacherLadAt(warm, s).encodeTrain.scale)).toEqual([0.5, 1, 1.5, 2, 2, 2]);
    expect(teacherLadAt(cfg, 0)).toBe(cfg); // none: the same config
    expect(teacherLadAt(warm, 0).encodeDistill).toEqual(warm.encodeDistill); // training only
    expect(() => teacherLadAt({ ...warm, encodeTrain: enc({ scale: 'auto' }) }, 0)).toThrow(/resolve it first/);
    // the label channel of the first warm-up step is the full one scaled by 1/4 (same codes)
    const [early, full] = [teacherLadAt(warm, 0), warm].map((c) => labelTeacherInput(batch, 11, c.encodeTrain, new Generator(5)).select(1, 3));
    f32(early).forEach((v, i) => expect(v).toBeCloseTo(f32(full)[i] / 4, 6));
  });

  it("teacherLabels 'otherImage' fills the channel with the next image's labels and keeps the CE targets", () => {
    const y = batch.labels; // (4, 32, 32)
    const rolled = otherImageLabels(y);
    for (let i = 0; i < 4; i++) expect(rolled.select(0, i).data()).toEqual(y.select(0, (i + 1) % 4).data());
    expect(() => otherImageLabels(y.narrow(0, 0, 1))).toThrow(/teacherLoss: cfg.teacherLabels 'otherImage' needs a batch of at least 2 images.*\[1, 32, 32\]/);
    const other: LadConfig = { ...cfg, teacherLabels: 'otherImage' };
    const loss = (c: LadConfig, b: typeof batch) => teacherLoss(tinyModel(4, 5), b, 11, c, new Generator(3)).parts; // a fresh model: the same dropout draws
    // every image with the same labels: another image's labels are its own, so the loss is the same bits
    const same = { images: batch.images, labels: stack([0, 0, 0, 0].map(() => y.select(0, 0))) };
    expect(loss(other, same)).toEqual(loss(cfg, same));
    // distinct labels: the channel differs; the targets do not (own targets with the rolled channel
    // are not the rolled batch's loss, whose targets are rolled too)
    const [mine, theirs, rolledBatch] = [loss(cfg, batch), loss(other, batch), loss(cfg, { images: batch.images, labels: rolled })];
    expect(theirs.total).not.toBe(mine.total);
    expect(theirs.total).not.toBe(rolledBatch.total);
  }, 30_000);

  it("resizes teacher logits of another size to the student's, or says how to", () => {
    const coarse = buildModel(
      modelPreset('tiny', 'deeplabv3', { inChannels: 4, numClasses: 11, backbone: { ...modelPreset('tiny', 'deeplabv3').backbone, outputStride: 16 } }),
      { generator: new Generator(10) },
    );
    const student = tinyModel(4, 11);
    const r = studentLoss(student, coarse, batch, 11, cfg, new Generator(0));
    expect(r.parts.kd).toBeGreaterThan(0);
    expect(() => studentLoss(student, coarse, batch, 11, { ...cfg, resizeTeacherLogits: false }, new Generator(0))).toThrow(/resizeTeacherLogits/);
  }, 30_000);

  it('is deterministic: the same seeds give identical loss bits', () => {
    const run = () => {
      const t = tinyModel(4, 8),
        s = tinyModel(4, 9);
      const a = teacherLoss(t, batch, 11, cfg, new Generator(42)).parts.total;
      const b = studentLoss(s, t, batch, 11, cfg, new Generator(42)).parts.total;
      return [a, b];
    };
    expect(run()).toEqual(run());
  }, 30_000);
});

// The segmentation models of @lad/lad (FCN, PSPNet, DeepLabV3 on the dilated ResNet v1s): output
// shapes at several input sizes, the paper's layout (§3), parameter counts (one by hand), MACs of a
// conv against the formula, and each model overfitting one fixed batch of blobs.
// NOTE (shapes): every strided conv/pool is k3 p1 s2 or k1 p0 s2, so each maps n → ceil(n/2):
// logits at output stride 8 are ceil(ceil(ceil(n/2)/2)/2) = ceil(n/8), at 16 ceil(n/16) (65 → 9, 5).

import { describe, expect, it } from 'vitest';
import { Generator, Tensor, ValueError, cat, crossEntropy, interpolate, noGrad, randn } from '@lad/tensor';
import { BatchNorm2d, Conv2d, SGD, Sequential } from '@lad/nn';
import {
  ASPPHead,
  BASE_MODEL,
  EncoderDecoder,
  FCNHead,
  PSPHead,
  ResNetV1s,
  buildAuxHead,
  buildBackbone,
  buildDecodeHead,
  buildModel,
  countMacs,
  countParameters,
  macsByModule,
  modelPreset,
  summary,
  type Arch,
  type ModelConfig,
} from '@lad/lad';

const ARCHS = ['fcn', 'psp', 'deeplabv3'] as const satisfies readonly Arch[];
const ceilDiv = (n: number, s: number) => Math.ceil(n / s);

// Hand counts: a bias-free k×k conv, a BN (weight + bias), a BasicBlock with an optional 1x1 shortcut.
const conv = (i: number, o: number, k = 3) => i * o * k * k,
  bn = (c: number) => 2 * c;
const block = (i: number, p: number, ds: boolean) => conv(i, p) + bn(p) + conv(p, p) + bn(p) + (ds ? conv(i, p, 1) + bn(p) : 0);
/** ResNet-18 v1s with base width B and C input channels: stem C→B→B→2B, stages B, 2B, 4B, 8B. */
const r18Params = (B: number, C: number) =>
  conv(C, B) +
  bn(B) +
  conv(B, B) +
  bn(B) +
  conv(B, 2 * B) +
  bn(2 * B) +
  [
    [2 * B, B],
    [B, 2 * B],
    [2 * B, 4 * B],
    [4 * B, 8 * B],
  ]
    .map(([i, p]) => block(i, p, true) + block(p, p, false))
    .reduce((a, b) => a + b);

/** A width-4 ResNet-18 config (c4 = 32 channels), head channels 8, 3 classes. */
const small = (arch: Arch, over: Partial<ModelConfig> = {}): ModelConfig => ({
  ...BASE_MODEL,
  arch,
  numClasses: 3,
  headChannels: 8,
  backbone: { ...BASE_MODEL.backbone, width: 4 },
  ...over,
});

describe('dilated ResNet v1s backbone', () => {
  it('has the §3.1 layout: deep stem, dilations (1,2),(2,2) in layer3 and (2,4),(4,4) in layer4 at OS 8', () => {
    const r = new ResNetV1s({ depth: 18, width: 4, inChannels: 4, outputStride: 8, generator: new Generator(0) });
    const convs = [...r.conv1].filter((m): m is Conv2d => m instanceof Conv2d);
    expect(convs.map((c) => [c.inChannels, c.outChannels, c.stride[0]])).toEqual([
      [4, 4, 2],
      [4, 4, 1],
      [4, 8, 1],
    ]);
    const dil = (layer: Sequential, i: number) => {
      const b = layer.at(i) as unknown as { conv1: Conv2d; conv2: Conv2d };
      return [b.conv1.dilation[0], b.conv2.dilation[0], b.conv1.padding, b.conv1.stride[0]];
    };
    expect([dil(r.layer3, 0), dil(r.layer3, 1)]).toEqual([
      [1, 2, [1, 1], 1],
      [2, 2, [2, 2], 1],
    ]);
    expect([dil(r.layer4, 0), dil(r.layer4, 1)]).toEqual([
      [2, 4, [2, 2], 1],
      [4, 4, [4, 4], 1],
    ]);
    expect(dil(r.layer2, 0)[3]).toBe(2);
    expect(r.channels).toEqual([4, 8, 16, 32]);
    expect(r.strides).toEqual([4, 8, 8, 8]);
    expect(r.namedParameters().map(([n]) => n)).toContain('layer1.0.downsample.0.weight'); // stem gives 2B channels
    const r16 = new ResNetV1s({ width: 4, outputStride: 16, generator: new Generator(0) });
    expect(r16.strides).toEqual([4, 8, 16, 16]);
    expect([dil(r16.layer3, 0)[3], dil(r16.layer4, 0), dil(r16.layer4, 1)]).toEqual([2, [1, 2, [1, 1], 1], [2, 2, [2, 2], 1]]);
  });

  it('Bottleneck depths (50, 101) have expansion 4 and the right block counts', () => {
    const r = new ResNetV1s({ depth: 50, width: 2, generator: new Generator(0) });
    expect(r.channels).toEqual([8, 16, 32, 64]);
    expect([r.layer1.length, r.layer2.length, r.layer3.length, r.layer4.length]).toEqual([3, 4, 6, 3]);
    const f = noGrad(() => r.eval().forward(randn([1, 3, 33, 33])).features);
    expect(f.map((t) => t.shape)).toEqual([
      [1, 8, 9, 9],
      [1, 16, 5, 5],
      [1, 32, 5, 5],
      [1, 64, 5, 5],
    ]);
    expect(new ResNetV1s({ depth: 101, width: 1, generator: new Generator(0) }).layer3.length).toBe(23);
  });

  it('initialises as mmseg: Kaiming normal fan_out convs, BN 1/0, the label channel N(0, 0.1²) (labelChannelStd)', () => {
    const r = new ResNetV1s({ width: 16, inChannels: 4, labelChannelStd: 0.5, generator: new Generator(1) });
    const w = r.layer3.at(0) as unknown as { conv2: Conv2d; bn1: BatchNorm2d };
    const std = (t: Tensor) => Math.sqrt(t.square().mean().item());
    expect(std(w.conv2.weight)).toBeCloseTo(Math.sqrt(2 / (64 * 9)), 2); // fan_out = 64·3·3
    expect(w.bn1.weight!.toArray()).toEqual(new Array(64).fill(1));
    const stem = (r.conv1.at(0) as Conv2d).weight; // (16, 4, 3, 3)
    expect(std(stem.slice(1, 3, 4))).toBeGreaterThan(0.3); // 144 draws of N(0, 0.5²)
    expect(std(stem.slice(1, 0, 3))).toBeCloseTo(Math.sqrt(2 / (16 * 9)), 1);
    const a = new ResNetV1s({ width: 4, generator: new Generator(7) }),
      b = new ResNetV1s({ width: 4, generator: new Generator(7) });
    expect((a.conv1.at(0) as Conv2d).weight.toArray()).toEqual((b.conv1.at(0) as Conv2d).weight.toArray()); // seeded
  });
});

describe('segmentor output shapes', () => {
  const SIZES = [
    [32, 32],
    [48, 64],
    [65, 65],
  ] as const;
  for (const arch of ARCHS) {
    it(`${arch}: logits at ceil(H/s), aux on c3, for aux on/off, OS 8/16, 3/4 input channels`, () => {
      for (const aux of [false, true]) {
        for (const os of [8, 16] as const) {
          for (const inChannels of [3, 4]) {
            const cfg = small(arch, { aux, inChannels, backbone: { ...small(arch).backbone, outputStride: os } });
            const m = buildModel(cfg, { generator: new Generator(0) }).eval();
            for (const [H, W] of SIZES) {
              const out = noGrad(() => m.forward(randn([1, inChannels, H, W])));
              const where = `${arch} aux=${aux} os=${os} in=${inChannels} ${H}x${W}`;
              expect(out.logits.shape, where).toEqual([1, 3, ceilDiv(H, os), ceilDiv(W, os)]);
              expect(out.auxLogits?.shape ?? null, where).toEqual(aux ? [1, 3, ceilDiv(H, os), ceilDiv(W, os)] : null);
            }
          }
        }
      }
    });
  }

  it('trains with batch statistics (N = 2) and rejects a wrong channel count', () => {
    const m = buildModel(small('psp', { inChannels: 4 }), { generator: new Generator(0) });
    const out = m.forward(randn([2, 4, 40, 24]));
    expect(out.logits.shape).toEqual([2, 3, 5, 3]);
    expect(() => m.forward(randn([2, 3, 40, 24]))).toThrow(/\(N, 4, H, W\)/);
  });

  it('ASPP rates scale with the output stride: (12, 24, 36) at 8, (6, 12, 18) at 16', () => {
    const rates = (os: 8 | 16) => {
      const head = (buildModel(small('deeplabv3', { backbone: { ...small('deeplabv3').backbone, outputStride: os } })) as EncoderDecoder)
        .decodeHead as ASPPHead;
      return [...head.branches].map((b) => b.conv.dilation[0]);
    };
    expect(rates(8)).toEqual([1, 12, 24, 36]);
    expect(rates(16)).toEqual([1, 6, 12, 18]);
  });
});

describe('buildModel', () => {
  it('wires ocr (needs aux) and stdc from the same config, logits at 1/8', () => {
    for (const arch of ['ocr', 'stdc'] as const) {
      const m = buildModel(modelPreset('tiny', arch, { numClasses: 3, inChannels: 4 }), { generator: new Generator(0) }).eval();
      const out = noGrad(() => m.forward(randn([1, 4, 40, 33])));
      expect(out.logits.shape, arch).toEqual([1, 3, 5, 5]);
      expect(out.auxLogits, arch).not.toBeNull();
    }
    expect(() => buildModel(modelPreset('tiny', 'ocr', { aux: false }))).toThrow(/aux: true/);
  });

  it('an unknown arch throws a ValueError listing the known ones (never a model without a decode head)', () => {
    for (const arch of ['deeplab', 'DeepLabV3', '', 'toString', 'constructor']) {
      const cfg = { ...modelPreset('tiny', 'fcn'), arch: arch as Arch };
      for (const f of [() => buildModel(cfg), () => buildDecodeHead(cfg, buildBackbone(modelPreset('tiny', 'fcn')))]) {
        let err: unknown = null;
        try {
          f();
        } catch (e) {
          err = e;
        }
        expect(err, arch).toBeInstanceOf(ValueError);
        expect(String(err)).toContain(JSON.stringify(arch));
        expect(String(err)).toContain('fcn, psp, deeplabv3, ocr, stdc');
      }
    }
  });

  it('presets spread the base: paper = §3 (R18, width 64, OS 8, head 128), tiny = width 8, head 32', () => {
    expect(modelPreset('paper', 'psp')).toMatchObject({ arch: 'psp', backbone: { depth: 18, width: 64, outputStride: 8 }, headChannels: 128, aux: true });
    expect(modelPreset('tiny', 'fcn', { numClasses: 5 })).toMatchObject({ backbone: { width: 8 }, headChannels: 32, numClasses: 5 });
    const m = buildModel(modelPreset('tiny', 'deeplabv3'), { generator: new Generator(0) }) as EncoderDecoder;
    expect((m.decodeHead as ASPPHead).dropout1.p).toBe(0.01); // LAD's DeepLabV3 dropout
    expect(((buildModel(modelPreset('tiny', 'psp')) as EncoderDecoder).decodeHead as PSPHead).dropout.p).toBe(0.1);
    expect((m.auxiliaryHead as FCNHead).convs.length).toBe(1);
  });
});

describe('parameter counts', () => {
  it('matches a hand count for a width-2 ResNet-18 FCN with aux, 4 input channels, 3 classes', () => {
    const m = buildModel(small('fcn', { inChannels: 4, headChannels: 4, backbone: { ...BASE_MODEL.backbone, width: 2 } }), { generator: new Generator(0) });
    // stem 4→2→2→4 (72+4+36+4+72+8 = 196); stages of 2 blocks: planes 2, 4, 8, 16 from 4 channels
    const stem = conv(4, 2) + bn(2) + conv(2, 2) + bn(2) + conv(2, 4) + bn(4);
    const layers = [
      [4, 2],
      [2, 4],
      [4, 8],
      [8, 16],
    ].map(([i, p]) => block(i, p, true) + block(p, p, false)); // 208, 552, 2128, 8352
    const head = conv(16, 4) + bn(4) + conv(4, 4) + bn(4) + conv(20, 4) + bn(4) + conv(4, 3, 1) + 3; // 1479, concat 16+4
    const aux = conv(8, 2) + bn(2) + conv(2, 3, 1) + 3; // c3 = 8 → 2 channels: 157
    expect(stem + layers.reduce((a, b) => a + b)).toBe(r18Params(2, 4));
    expect(stem + layers.reduce((a, b) => a + b) + head + aux).toBe(13072);
    expect(countParameters(m)).toBe(13072);
  });

  it('the paper R18 configs: backbone ≈ 11.3 M, DeepLabV3 ≈ 13.6 M, PSPNet ≈ 12.9 M (CIRKD), FCN ≈ 13.0 M', () => {
    const g = new Generator(0),
      cfg = modelPreset('paper', 'deeplabv3');
    const backbone = buildBackbone(cfg, g),
      aux = countParameters(buildAuxHead(cfg, backbone, g));
    const total = (arch: Arch) => countParameters(backbone) + aux + countParameters(buildDecodeHead({ ...cfg, arch }, backbone, g));
    expect(countParameters(backbone)).toBe(r18Params(64, 3)); // no fc
    expect(countParameters(backbone) / 1e6).toBeCloseTo(11.32, 2); // torchvision R18 without fc: 11.18 M; the deep stem adds 0.14 M
    expect(aux).toBe(256 * 64 * 9 + 2 * 64 + 64 * 21 + 21);
    expect(total('deeplabv3') / 1e6).toBeGreaterThan(13.5);
    expect(total('deeplabv3') / 1e6).toBeLessThan(13.7);
    expect(total('psp') / 1e6).toBeGreaterThan(12.85);
    expect(total('psp') / 1e6).toBeLessThan(12.95);
    expect(total('fcn') / 1e6).toBeGreaterThan(12.9);
    expect(total('fcn') / 1e6).toBeLessThan(13.0);
  });
});

describe('complexity', () => {
  it('countMacs of a conv is N·O·OH·OW·(C/groups)·kH·kW, shape-only or real', () => {
    const c = new Conv2d(3, 5, 3, { stride: 2, padding: 1 });
    expect(countMacs(c, [2, 3, 9, 11])).toBe(2 * 5 * 5 * 6 * 3 * 9); // OH = ceil(9/2), OW = ceil(11/2)
    const d = new Conv2d(4, 6, 3, { groups: 2, dilation: 2, padding: 2 });
    expect(countMacs(d, [1, 4, 8, 8], { shapeOnly: false })).toBe(6 * 8 * 8 * 2 * 9);
    const x = randn([1, 4, 8, 8]),
      before = d.forward(x).toArray();
    expect(d.forward(x).toArray()).toEqual(before); // forward restored
    expect(countMacs(new Sequential(c, new Conv2d(5, 7, 1)), [1, 3, 8, 8])).toBe(5 * 16 * 27 + 7 * 16 * 5);
  });

  it('counts every conv of a model once per call, keeps train mode, and sums by child in summary', () => {
    const m = buildModel(small('deeplabv3'), { generator: new Generator(0) });
    const byModule = macsByModule(m, [1, 3, 32, 32]);
    expect(byModule.find(([n]) => n === 'backbone.conv1.0')![1]).toBe(4 * 16 * 16 * 3 * 9);
    expect(byModule.find(([n]) => n === 'decodeHead.convSeg')![1]).toBe(3 * 4 * 4 * 8);
    expect(m.training).toBe(true);
    const s = summary(m, [1, 3, 32, 32], { print: false });
    expect(s.params).toBe(countParameters(m));
    expect(s.macs).toBe(countMacs(m, [1, 3, 32, 32]));
    expect(countMacs(m, [1, 3, 32, 32], { shapeOnly: false })).toBe(s.macs); // zeros change no shape
    expect(s.rows.map((r) => r[0])).toEqual(['backbone', 'decodeHead', 'auxiliaryHead']);
    expect(s.text).toMatch(/total/);
  });
});

/**
 * N images 3xSxS of coloured blobs drawn on the 1/8 grid (each 8x8 block one class: background 0 or
 * blob classes 1..3, plus pixel noise) and their (N, S/8, S/8) labels. NOTE: the loss is taken at the
 * logits' resolution; upsampled 4x4 logits could not fit round 32x32 blobs (the floor is the boundary).
 */
function blobBatch(g: Generator, N = 2, S = 32, K = 4): { x: Tensor; y: Tensor } {
  const h = S / 8,
    x = new Float32Array(N * 3 * S * S),
    y = new Int32Array(N * h * h);
  const colours = [
    [0, 0, 0],
    [1, -1, 0],
    [-1, 1, 1],
    [0.5, 0.5, -1],
  ];
  const u = () => g.nextFloat();
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < 3; b++) {
      const k = 1 + ((n + b) % (K - 1)),
        cy = u() * h,
        cx = u() * h,
        r = 0.8 + u() * 1.5;
      for (let i = 0; i < h; i++) for (let j = 0; j < h; j++) if ((i + 0.5 - cy) ** 2 + (j + 0.5 - cx) ** 2 < r * r) y[(n * h + i) * h + j] = k;
    }
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < S; i++)
        for (let j = 0; j < S; j++) {
          x[((n * 3 + c) * S + i) * S + j] = colours[y[(n * h + (i >> 3)) * h + (j >> 3)]][c] + 0.5 * (u() - 0.5);
        }
  }
  return { x: Tensor.fromData(x, [N, 3, S, S]), y: Tensor.fromData(y, [N, h, h]) };
}

describe('each model overfits one fixed batch', () => {
  const cases: [Arch, number][] = [
    ['fcn', 3],
    ['psp', 3],
    ['deeplabv3', 3],
    ['deeplabv3', 4],
  ];
  for (const [arch, inChannels] of cases) {
    it(`${arch} (tiny preset: width 8, aux, ${inChannels} input channels): loss down ≥ 90% within 150 SGD steps`, () => {
      const g = new Generator(3),
        S = 32;
      const { x: img, y } = blobBatch(g, 2, S);
      // the 4th channel is the label map (nearest-upsampled, scaled), as the LAD teacher sees it
      const labelChannel = () => interpolate(y.to('float32').unsqueeze(1), { size: [S, S], mode: 'nearest' }).mul(0.5); // (2, 1, S, S)
      const x = inChannels === 4 ? cat([img, labelChannel()], 1) : img; // (2, C, S, S)
      const model = buildModel(modelPreset('tiny', arch, { numClasses: 4, inChannels }), { generator: g });
      const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const losses: number[] = [];
      for (let step = 0; step < 150; step++) {
        const { logits, auxLogits } = model.forward(x); // (2, 4, 4, 4) each
        const loss = crossEntropy(logits, y).add(crossEntropy(auxLogits!, y).mul(0.4));
        losses.push(loss.item());
        if (losses[step] < 0.1 * losses[0]) break;
        opt.zeroGrad();
        loss.backward();
        opt.step();
      }
      const last = losses[losses.length - 1];
      expect(last, `${losses.length} steps, loss ${losses[0].toFixed(3)} → ${last.toFixed(3)}`).toBeLessThan(0.1 * losses[0]);
    });
  }
});

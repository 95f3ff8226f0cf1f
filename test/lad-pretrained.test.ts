// `--backbone-from`: ImageNet ResNet-18 files in CIRKD's and torchvision's names, fabricated here with
// the names and shapes those codes write (listed literally below, not derived from our loader), are
// mapped onto ResNetV1s; the stem is widened 3 → 4 channels as the official loader does.

import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, ShapeError, type Tensor, ValueError, randn, zeros } from '@lad/tensor';
import { saveSafetensors, type StateDict } from '@lad/nn';
import { ResNetV1s, StdcSeg, loadPretrainedBackbone_ } from '@lad/lad';
import { main } from '../packages/lad/src/cli.ts';

const B = 8; // a narrow ResNet-18 keeps the test short; the names and the shape rules are those of width 64

/** A BatchNorm's five entries, as PyTorch's state_dict writes them. */
const bn = (p: string, c: number): [string, number[]][] => [
  [`${p}.weight`, [c]],
  [`${p}.bias`, [c]],
  [`${p}.running_mean`, [c]],
  [`${p}.running_var`, [c]],
  [`${p}.num_batches_tracked`, []],
];
/** torchvision / CIRKD BasicBlock `layerI.J` reading `inC` channels, with its shortcut when it has one. */
const block = (p: string, inC: number, planes: number, shortcut: boolean): [string, number[]][] => [
  [`${p}.conv1.weight`, [planes, inC, 3, 3]],
  ...bn(`${p}.bn1`, planes),
  [`${p}.conv2.weight`, [planes, planes, 3, 3]],
  ...bn(`${p}.bn2`, planes),
  ...(shortcut ? ([[`${p}.downsample.0.weight`, [planes, inC, 1, 1]], ...bn(`${p}.downsample.1`, planes)] as [string, number[]][]) : []),
];
const stages = (stemOut: number, w: number): [string, number[]][] => [
  ...block('layer1.0', stemOut, w, stemOut !== w),
  ...block('layer1.1', w, w, false),
  ...block('layer2.0', w, 2 * w, true),
  ...block('layer2.1', 2 * w, 2 * w, false),
  ...block('layer3.0', 2 * w, 4 * w, true),
  ...block('layer3.1', 4 * w, 4 * w, false),
  ...block('layer4.0', 4 * w, 8 * w, true),
  ...block('layer4.1', 8 * w, 8 * w, false),
  ['fc.weight', [1000, 8 * w]],
  ['fc.bias', [1000]],
];
/** CIRKD's resnet18_v1s (deep stem conv1/bn1, conv2/bn2, conv3/bn3 → 2w channels). */
const CIRKD = (w: number): [string, number[]][] => [
  ['conv1.weight', [w, 3, 3, 3]],
  ...bn('bn1', w),
  ['conv2.weight', [w, w, 3, 3]],
  ...bn('bn2', w),
  ['conv3.weight', [2 * w, w, 3, 3]],
  ...bn('bn3', 2 * w),
  ...stages(2 * w, w),
];
/** torchvision's resnet18 (one 7×7 stem conv → w channels). */
const TORCHVISION = (w: number): [string, number[]][] => [['conv1.weight', [w, 3, 7, 7]], ...bn('bn1', w), ...stages(w, w)];

function fabricate(names: [string, number[]][], seed = 1): StateDict {
  const g = new Generator(seed);
  return Object.fromEntries(names.map(([n, s]) => [n, n.endsWith('num_batches_tracked') ? zeros(s, { dtype: 'int32' }).add(7) : randn(s, { generator: g })]));
}
const same = (a: Tensor, b: Tensor) => expect(Array.from(a.contiguous().data())).toEqual(Array.from(b.contiguous().data()));

describe('loadPretrainedBackbone_', () => {
  it("maps every tensor of CIRKD's names and widens the stem to 4 channels", () => {
    const file = fabricate(CIRKD(B));
    const net = new ResNetV1s({ depth: 18, width: B, inChannels: 4, generator: new Generator(0) });
    const r = loadPretrainedBackbone_(net, file, { generator: new Generator(5), labelChannelStd: 0.1 });
    expect(r.format).toBe('cirkd');
    expect(r.kept).toEqual([]);
    expect(r.ignored).toEqual(['fc.weight', 'fc.bias']);
    const sd = net.stateDict();
    same(sd['conv1.0.weight'].slice(1, 0, 3), file['conv1.weight']);
    same(sd['conv1.1.running_var'], file['bn1.running_var']);
    same(sd['conv1.3.weight'], file['conv2.weight']);
    same(sd['conv1.6.weight'], file['conv3.weight']);
    same(sd['bn1.weight'], file['bn3.weight']);
    same(sd['layer1.0.downsample.0.weight'], file['layer1.0.downsample.0.weight']);
    same(sd['layer4.1.conv2.weight'], file['layer4.1.conv2.weight']);
    expect(sd['layer2.0.bn1.num_batches_tracked'].item()).toBe(7);
    // the label channel: N(0, 0.1²) from the generator, the same bits for the same seed
    const extra = Array.from(sd['conv1.0.weight'].slice(1, 3, 4).contiguous().data());
    const std = Math.sqrt(extra.reduce((s, v) => s + v * v, 0) / extra.length);
    expect(std).toBeGreaterThan(0.05);
    expect(std).toBeLessThan(0.2);
    const again = new ResNetV1s({ depth: 18, width: B, inChannels: 4, generator: new Generator(9) });
    loadPretrainedBackbone_(again, file, { generator: new Generator(5), labelChannelStd: 0.1 });
    same(again.stateDict()['conv1.0.weight'], sd['conv1.0.weight']);
    // and the loaded network runs
    expect(net.forward(randn([1, 4, 32, 32])).features[3].shape).toEqual([1, 8 * B, 4, 4]);
  });

  it("loads torchvision's names except what its 7×7 stem cannot give, and says which", () => {
    const file = fabricate(TORCHVISION(B));
    const net = new ResNetV1s({ depth: 18, width: B, inChannels: 3, generator: new Generator(0) });
    const before = net.stateDict();
    const stemBefore = Array.from(before['conv1.0.weight'].contiguous().data());
    const r = loadPretrainedBackbone_(net, file);
    expect(r.format).toBe('torchvision');
    const unfit = Object.keys(before).filter((k) => /^(conv1\.|bn1\.|layer1\.0\.(conv1|bn1|downsample)\.)/.test(k));
    expect(r.kept.sort()).toEqual(unfit.sort());
    expect(r.ignored.sort()).toEqual(
      [
        'bn1.bias',
        'bn1.num_batches_tracked',
        'bn1.running_mean',
        'bn1.running_var',
        'bn1.weight',
        'conv1.weight',
        'fc.bias',
        'fc.weight',
        ...bn('layer1.0.bn1', B).map(([n]) => n),
        'layer1.0.conv1.weight',
      ].sort(),
    );
    const sd = net.stateDict();
    expect(Array.from(sd['conv1.0.weight'].contiguous().data())).toEqual(stemBefore);
    same(sd['layer1.0.conv2.weight'], file['layer1.0.conv2.weight']);
    same(sd['layer3.0.downsample.1.running_mean'], file['layer3.0.downsample.1.running_mean']);
  });

  it('refuses a file of another width, depth or naming, and a non-ResNet backbone, changing nothing', () => {
    const net = new ResNetV1s({ depth: 18, width: B, inChannels: 4, generator: new Generator(0) });
    const before = Array.from(net.stateDict()['layer1.1.conv1.weight'].contiguous().data());
    expect(() => loadPretrainedBackbone_(net, fabricate(CIRKD(2 * B)), { source: 'r18.safetensors' })).toThrow(ShapeError);
    expect(() => loadPretrainedBackbone_(net, fabricate(CIRKD(2 * B)), { source: 'r18.safetensors' })).toThrow(
      /r18\.safetensors's 'conv1\.weight' is \[16, 3, 3, 3\] but the model's 'conv1\.0\.weight' is \[8, 4, 3, 3\].*width 64/,
    );
    const partial = fabricate(CIRKD(B));
    delete partial['layer4.1.conv2.weight'];
    expect(() => loadPretrainedBackbone_(net, partial)).toThrow(/no value for 1 of the model's tensors \(layer4\.1\.conv2\.weight\)/);
    expect(() => loadPretrainedBackbone_(net, { 'conv1.weight': randn([B, 3, 5, 5]) })).toThrow(ValueError);
    expect(() => loadPretrainedBackbone_(net, { 'features.0.weight': randn([B, 3, 3, 3]) })).toThrow(/not a ResNet state dict.*conv1\.weight is missing/);
    const stdc = new StdcSeg({ inChannels: 4, numClasses: 2, width: 4, aux: false });
    expect(() => loadPretrainedBackbone_(stdc, fabricate(CIRKD(B)))).toThrow(/only ResNet backbones.*got a StdcSeg/);
    expect(Array.from(net.stateDict()['layer1.1.conv1.weight'].contiguous().data())).toEqual(before);
  });
});

describe('--backbone-from in the CLI', () => {
  const capture = async (args: string[]) => {
    const out: string[] = [],
      err: string[] = [];
    const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  };

  it('train-teacher loads the file and records it; a file of another width or with --init-from exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lad-pretrained-'));
    const cfg = join(dir, 'tiny.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        data: { trainSamples: 4, valSamples: 2, size: 48 },
        model: { arch: 'fcn', backbone: { width: 4 }, headChannels: 8 },
        train: { batchSize: 2 },
      }),
    );
    const file = join(dir, 'r18-w4.safetensors');
    saveSafetensors(file, fabricate(CIRKD(4)));
    const base = ['--config', cfg, '--iterations', '1', '--out', dir, '--quiet'];
    let r = await capture(['train-teacher', ...base, '--backbone-from', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/backbone from .*r18-w4\.safetensors \(cirkd names\): \d+ tensors loaded, 2 ignored \(fc\.bias, fc\.weight\)/);
    expect(JSON.parse(readFileSync(join(dir, 'teacher', 'config.json'), 'utf8')).backboneFrom).toBe(file);
    const wide = join(dir, 'r18-w8.safetensors');
    saveSafetensors(wide, fabricate(CIRKD(8)));
    r = await capture(['train', ...base, '--name', 'b', '--backbone-from', wide]);
    expect([r.code, r.stderr]).toEqual([
      2,
      expect.stringMatching(
        /^lad train: --backbone-from: \S+r18-w8\.safetensors's '\S+' is \[8(, \d)*\] but the model's '\S+' is \[4(, \d)*\] \(ResNet-18 width 4, 3 input channels\)/,
      ),
    ]);
    r = await capture(['train-teacher', ...base, '--name', 't2', '--backbone-from', file, '--init-from', file]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/--backbone-from and --init-from both give the starting weights/)]);
    // the experiment checks the file against every grid point's model before anything trains
    r = await capture(['experiment', '--preset', 'quick', '--seeds', '1', '--out', join(dir, 'exp'), '--backbone-from', file]);
    expect([r.code, r.stderr]).toEqual([
      2,
      expect.stringMatching(
        /\nlad experiment: backboneFrom: \S+r18-w4\.safetensors's '\S+' is \[4(, \d)*\] but the model's '\S+' is \[8(, \d)*\] \(ResNet-18 width 8, 4 input channels\)/,
      ),
    ]);
    expect(existsSync(join(dir, 'exp', 'config.json'))).toBe(false);
  });
});

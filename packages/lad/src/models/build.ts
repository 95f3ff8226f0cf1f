// Typed model configs and the builder: `buildModel(cfg)` assembles a SegModel for one of the five
// architectures of the paper (FCN, PSPNet, DeepLabV3, OCRNet on a dilated ResNet v1s; STDC-Seg).
// Configs are plain objects composed by spreading a base (ARCHITECTURE.md): `TINY_MODEL` trains on
// a CPU in minutes, `PAPER_MODEL` has lad-method.md §3's R18 numbers. No string registries.

import { ValueError, type Generator } from '@lad/tensor';
import { ResNetV1s, type OutputStride, type ResNetDepth } from './backbones/resnet.ts';
import { FCNHead } from './heads/fcn.ts';
import { PSPHead } from './heads/psp.ts';
import { ASPPHead } from './heads/aspp.ts';
import { OCRHead } from './heads/ocr.ts';
import { StdcSeg } from './stdc.ts';
import { EncoderDecoder } from './segmentor.ts';
import type { DecodeHead, SegModel } from './types.ts';

/** The architectures buildModel knows; `Arch` is derived from this list, so the two cannot drift. */
export const ARCHS = ['fcn', 'psp', 'deeplabv3', 'ocr', 'stdc'] as const;
/** A segmentation architecture (one of ARCHS). */
export type Arch = (typeof ARCHS)[number];

function checkArch(op: string, arch: unknown): asserts arch is Arch {
  if (!(ARCHS as readonly unknown[]).includes(arch)) throw new ValueError(`${op}: unknown arch ${JSON.stringify(arch)}: expected one of ${ARCHS.join(', ')}.`);
}

/** The backbone part of a ModelConfig. */
export interface BackboneConfig {
  /** ResNet depth: 18/34 BasicBlock, 50/101 Bottleneck (ignored by 'stdc'). */
  depth: ResNetDepth;
  /** Base width: ResNet stem B→B→2B and stages B..8B (paper 64); STDC's w (stages 4w, 8w, 16w). */
  width: number;
  /** 8 (stages 3, 4 dilated 2, 4) or 16 (stage 4 dilated 2); 'stdc' is always 8. */
  outputStride: OutputStride;
  /** Std of the first conv's kernel on input channels ≥ 3 (the label channel), §3.1. */
  labelChannelStd: number;
}

/** Everything buildModel needs: architecture, backbone, input channels, classes and head sizes. */
export interface ModelConfig {
  arch: Arch;
  backbone: BackboneConfig;
  /** 3 for the image; 4 with LAD's label channel (teacher: encoded label, student: zeros). */
  inChannels: number;
  numClasses: number;
  /** The auxiliary FCN head on c3 (required by 'ocr', whose regions are the aux logits). */
  aux: boolean;
  /** Decode-head width: FCN convs, PSP bottleneck, ASPP branches, OCR pixel channels. */
  headChannels: number;
  /** Aux head width; null = c3 channels / 4 (CIRKD). */
  auxChannels: number | null;
  /** OCR query/key channels; null = headChannels / 2. */
  keyChannels: number | null;
  /** Decode-head dropout; null = per arch: 0.01 for deeplabv3 (LAD), 0.1 otherwise (CIRKD/mmseg). */
  dropout: number | null;
  /** Aux-head dropout; null = the same per-arch rule as `dropout`. */
  auxDropout: number | null;
}

/** The defaults every preset spreads: an R18 DeepLabV3 with aux, OS 8, paper widths, 21 classes. */
export const BASE_MODEL: ModelConfig = {
  arch: 'deeplabv3',
  backbone: { depth: 18, width: 64, outputStride: 8, labelChannelStd: 0.1 },
  inChannels: 3,
  numClasses: 21, // PASCAL VOC
  aux: true, // CIRKD turns it on for ResNet backbones
  headChannels: 128, // §3.2, R18
  auxChannels: null,
  keyChannels: null,
  dropout: null,
  auxDropout: null,
};

/** lad-method.md §3: ResNet-18 v1s, width 64, OS 8, head channels 128. */
export const PAPER_MODEL: ModelConfig = { ...BASE_MODEL };

/** CPU-trainable in minutes: the ResNet-18 layout at width 8 (c4 = 64 channels), head channels 32. */
export const TINY_MODEL: ModelConfig = { ...BASE_MODEL, backbone: { ...BASE_MODEL.backbone, width: 8 }, headChannels: 32 };

/** The model presets by name: tiny (CPU-sized) and paper. */
export const MODEL_PRESETS = { tiny: TINY_MODEL, paper: PAPER_MODEL } as const;

/** A preset for one architecture: `modelPreset('tiny', 'psp', { inChannels: 4, numClasses: 5 })`. */
export function modelPreset(name: keyof typeof MODEL_PRESETS, arch: Arch, overrides: Partial<ModelConfig> = {}): ModelConfig {
  return { ...MODEL_PRESETS[name], arch, ...overrides };
}

const archDropout = (arch: Arch): number => (arch === 'deeplabv3' ? 0.01 : 0.1);

/** The ResNet backbone of `cfg`. */
export function buildBackbone(cfg: ModelConfig, generator?: Generator): ResNetV1s {
  const { depth, width, outputStride, labelChannelStd } = cfg.backbone;
  return new ResNetV1s({ depth, width, outputStride, labelChannelStd, inChannels: cfg.inChannels, generator });
}

/** The decode head of a ResNet-based arch on c4 (features[3]). */
export function buildDecodeHead(cfg: ModelConfig, backbone: ResNetV1s, generator?: Generator): DecodeHead {
  checkArch('buildDecodeHead', cfg.arch);
  const base = {
    inChannels: backbone.channels[3],
    numClasses: cfg.numClasses,
    channels: cfg.headChannels,
    dropout: cfg.dropout ?? archDropout(cfg.arch),
    generator,
  };
  switch (cfg.arch) {
    case 'fcn':
      return new FCNHead(base);
    case 'psp':
      return new PSPHead(base);
    case 'deeplabv3':
      return new ASPPHead({ ...base, outputStride: backbone.strides[3] });
    case 'ocr':
      return new OCRHead({ ...base, keyChannels: cfg.keyChannels ?? Math.max(1, cfg.headChannels >> 1) });
    case 'stdc':
      throw new ValueError('buildDecodeHead: stdc is a whole model, not a ResNet head: use buildModel.');
  }
}

/** The aux FCN head on c3: 3x3 conv to C3/4 → BN → ReLU → dropout → 1x1 (§3.2). */
export function buildAuxHead(cfg: ModelConfig, backbone: ResNetV1s, generator?: Generator): FCNHead {
  const c3 = backbone.channels[2];
  return new FCNHead({
    inChannels: c3,
    numClasses: cfg.numClasses,
    channels: cfg.auxChannels ?? Math.max(1, c3 >> 2),
    inIndex: 2,
    numConvs: 1,
    concatInput: false,
    dropout: cfg.auxDropout ?? archDropout(cfg.arch),
    generator,
  });
}

/** Builds the model of `cfg`; every init is drawn from `generator` (default: defaultGenerator). */
export function buildModel(cfg: ModelConfig, opts: { generator?: Generator } = {}): SegModel {
  const g = opts.generator;
  checkArch('buildModel', cfg.arch);
  if (cfg.arch === 'ocr' && !cfg.aux) throw new ValueError('buildModel: arch ocr needs aux: true (the aux logits are its soft object regions).');
  if (cfg.arch === 'stdc') {
    const { width, labelChannelStd } = cfg.backbone;
    return new StdcSeg({
      inChannels: cfg.inChannels,
      numClasses: cfg.numClasses,
      width,
      aux: cfg.aux,
      dropout: cfg.dropout ?? 0.1,
      labelChannelStd,
      generator: g,
    });
  }
  const backbone = buildBackbone(cfg, g);
  const decodeHead = buildDecodeHead(cfg, backbone, g);
  const auxiliaryHead = cfg.aux ? buildAuxHead(cfg, backbone, g) : null;
  return new EncoderDecoder({ backbone, decodeHead, auxiliaryHead, inChannels: cfg.inChannels, numClasses: cfg.numClasses });
}

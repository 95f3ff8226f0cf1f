// Loading an ImageNet ResNet into our ResNetV1s (`--backbone-from FILE`; lad-method.md §3.1). The
// official code starts every model from CIRKD's ImageNet `resnet18_v1s` and widens the stem to 4
// input channels: the pretrained kernel fills channels 0–2, the new channel is drawn N(0, 0.1²).
// Two namings are understood, told apart by their stems:
//   cirkd        conv1/bn1, conv2/bn2, conv3/bn3 (the deep stem), layerI.J.*   → every tensor maps
//   torchvision  conv1 7×7 + bn1 (one stem conv), layerI.J.*                    → the stem, and
//                layer1.0's first conv and shortcut (they read the deep stem's 2B channels), stay
//                at their init: the loader says which
// `fc.*` and every other name the backbone does not have are ignored (as the official loader's
// `k in model_dict` filter does); a tensor whose shape differs from ours is an error naming both.

import { ShapeError, ValueError, cat, type Generator, defaultGenerator, fmtShape } from '@lad/tensor';
import type { Conv2d, Module, StateDict } from '@lad/nn';
import { ResNetV1s } from './backbones/resnet.ts';
import { initExtraInputChannels_ } from './layers.ts';

/** The naming of an ImageNet ResNet file: CIRKD's deep stem or torchvision's 7×7 stem. */
export type PretrainedFormat = 'cirkd' | 'torchvision';

/** What `loadPretrainedBackbone_` did, in our backbone's names. */
export interface PretrainedLoad {
  format: PretrainedFormat;
  /** Our tensors that now hold the file's values (the stem conv's channels 0–2 only, when widened). */
  loaded: string[];
  /** Our tensors left at their init (torchvision's stem does not fit the deep stem). */
  kept: string[];
  /** The file's tensors nothing here uses (the classifier `fc.*`, ...). */
  ignored: string[];
}

/** CIRKD's deep-stem names → ours (conv1 is a Sequential: conv, BN, ReLU, conv, BN, ReLU, conv; bn1 after it). */
const CIRKD_STEM: Record<string, string> = { conv1: 'conv1.0', bn1: 'conv1.1', conv2: 'conv1.3', bn2: 'conv1.4', conv3: 'conv1.6', bn3: 'bn1' };
const STEM_CONV = 'conv1.0.weight';
/** Tensors torchvision's one-conv stem cannot give us: the deep stem, and layer1.0's first conv, BN and shortcut (they read 2B channels, torchvision's 64). */
const TORCHVISION_UNFIT = /^(conv1|bn1|layer1\.0\.(conv1|bn1|downsample))\./;

/** Which naming `file` uses; throws when it is neither. */
export function pretrainedFormat(file: StateDict, source: string): PretrainedFormat {
  const conv1 = file['conv1.weight'];
  if (file['conv2.weight'] && file['conv3.weight']) return 'cirkd';
  if (conv1 && conv1.ndim === 4 && conv1.shape[2] === 7) return 'torchvision';
  throw new ValueError(
    `backbone-from: ${source} is not a ResNet state dict in CIRKD's names (conv1/conv2/conv3 deep stem) or torchvision's (conv1 7×7): its conv1.weight is ${conv1 ? fmtShape(conv1.shape) : 'missing'}.`,
  );
}

/** Our backbone name for a file name, or null when the name has no place here. */
function ourName(format: PretrainedFormat, name: string): string | null {
  const [head, ...rest] = name.split('.');
  if (format === 'torchvision' && TORCHVISION_UNFIT.test(name)) return null;
  if (head.startsWith('layer')) return name;
  if (format === 'cirkd' && head in CIRKD_STEM) return [CIRKD_STEM[head], ...rest].join('.');
  return null; // torchvision's stem, fc.*, anything else
}

/**
 * Loads an ImageNet ResNet state dict (CIRKD's or torchvision's names) into `model`'s backbone (or
 * `model` itself, a ResNetV1s), in place.
 * Input channels beyond the file's 3 (the label channel) are drawn N(0, labelChannelStd²) from
 * `generator`, as the official loader does. Throws, having changed nothing, when a shape differs
 * (pretrained files are width 64: build the model at paper width) or the backbone is not a ResNet.
 */
export function loadPretrainedBackbone_(
  model: Module,
  file: StateDict,
  opts: { source?: string; labelChannelStd?: number; generator?: Generator } = {},
): PretrainedLoad {
  const source = opts.source ?? 'the state dict';
  const backbone = model instanceof ResNetV1s ? model : (model as { backbone?: unknown }).backbone;
  if (!(backbone instanceof ResNetV1s))
    throw new ValueError(
      `backbone-from: only ResNet backbones load ImageNet weights: got a ${model.constructor.name}${backbone ? ` with a ${(backbone as object).constructor.name} backbone` : ''}.`,
    );
  const format = pretrainedFormat(file, source);
  const ours = backbone.stateDict();
  const next: StateDict = { ...ours };
  const loaded: string[] = [],
    ignored: string[] = [];
  for (const [name, t] of Object.entries(file)) {
    const mine = ourName(format, name);
    const want = mine === null ? undefined : ours[mine];
    if (mine === null || want === undefined) {
      ignored.push(name);
      continue;
    }
    const widened = mine === STEM_CONV && t.ndim === 4 && t.shape[1] === 3 && want.shape[1] > 3;
    const sameShape = t.ndim === want.ndim && t.shape.every((d, i) => d === want.shape[i] || (widened && i === 1));
    if (!sameShape) {
      throw new ShapeError(
        `backbone-from: ${source}'s '${name}' is ${fmtShape(t.shape)} but the model's '${mine}' is ${fmtShape(want.shape)} (ResNet-${backbone.depth} width ${backbone.width}, ${backbone.inChannels} input channels); ImageNet files are width 64: build the model at paper width.`,
      );
    }
    const value = t.to(want.device).to(want.dtype);
    // widened: the file's kernel on channels 0–2, the label channels redrawn below
    next[mine] = widened ? cat([value, want.slice(1, 3, want.shape[1])], 1) : value; // (O, 3, k, k) ++ (O, C−3, k, k) → (O, C, k, k)
    loaded.push(mine);
  }
  const done = new Set(loaded);
  const kept = Object.keys(ours).filter((k) => !done.has(k));
  const missing = kept.filter((k) => !(format === 'torchvision' && TORCHVISION_UNFIT.test(k)) && !k.endsWith('num_batches_tracked'));
  if (missing.length > 0) {
    throw new ValueError(
      `backbone-from: ${source} (${format} names) has no value for ${missing.length} of the model's tensors (${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', ...' : ''}); is it a ResNet-${backbone.depth}?`,
    );
  }
  backbone.loadStateDict(next);
  const stem = backbone.conv1.namedChildren()[0][1] as Conv2d;
  if (done.has(STEM_CONV)) initExtraInputChannels_(stem, 3, opts.labelChannelStd ?? 0.1, opts.generator ?? defaultGenerator); // N(0, 0.1²), §3.1
  return { format, loaded, kept, ignored };
}

/** One line for the log: what was loaded from where and what kept its init. */
export function describePretrainedLoad(r: PretrainedLoad, source: string): string {
  const kept = r.kept.filter((k) => !k.endsWith('num_batches_tracked'));
  return `backbone from ${source} (${r.format} names): ${r.loaded.length} tensors loaded${kept.length ? `, ${kept.length} kept at init (${kept.join(', ')})` : ''}${r.ignored.length ? `, ${r.ignored.length} ignored (${r.ignored.slice(0, 3).join(', ')}${r.ignored.length > 3 ? ', ...' : ''})` : ''}`;
}

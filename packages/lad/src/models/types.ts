// The model contract: a segmentor maps an image batch (N, inChannels, H, W) to named outputs,
// main logits at 1/8 (or 1/4) resolution and optional auxiliary logits from an earlier stage.
// Backbones return their stage features so heads can pick the stages they need.

import type { Tensor } from '@lad/tensor';
import type { Module } from '@lad/nn';

/** (N, K, H/s, W/s) logits; auxLogits from the auxiliary FCN head when the model has one. */
export interface SegOutputs {
  logits: Tensor;
  auxLogits: Tensor | null;
}

/** Stage outputs of a backbone, shallow to deep (e.g. ResNet c1..c4 at strides 4, 8, 8|16, 8|16). */
export interface BackboneFeatures {
  features: Tensor[];
}

/** A backbone: a Module that maps an image to features at several strides. */
export interface Backbone extends Module {
  /** Channels of each entry of `features`. */
  readonly channels: readonly number[];
  /** Total stride of each entry of `features`. */
  readonly strides: readonly number[];
  forward(x: Tensor): BackboneFeatures;
}

/** A segmentation model: (N, inChannels, H, W) → logits (and auxiliary logits) for numClasses classes. */
export interface SegModel extends Module {
  readonly inChannels: number;
  readonly numClasses: number;
  forward(x: Tensor): SegOutputs;
}

/**
 * A decode head (mmsegmentation's BaseDecodeHead): picks the stages it needs from the backbone's
 * feature list and returns (N, K, H/s, W/s) logits. `auxLogits` are the auxiliary head's logits
 * when the segmentor has one (OCR uses them as soft object regions); other heads ignore them.
 */
export interface DecodeHead extends Module {
  forward(features: Tensor[], auxLogits: Tensor | null): Tensor;
}

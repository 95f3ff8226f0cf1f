// Typed configuration of LAD: every knob of lad-method.md §7.3 with the released code's value as
// its default, plus the training-run settings. Configs are plain objects composed by spreading a
// base (`{ ...DEFAULT_LAD, consWeight: 0 }`); there are no string registries.

/**
 * How class ids become the label channel (lad-method.md §2.2):
 * normal: a fresh N(0, 1) code per image and per slot, each call (teacher training);
 * uniform: a fresh U(-1, 1) code per image and per slot;
 * permutedGrid: a per-image random permutation of the fixed grid;
 * fixedGrid: c_k = −1.1 + 2.1·k/K, the same for every image (teacher at distillation);
 * zeros: an all-zero channel (the student; the "no labels" teacher).
 * The unions below are derived from these lists, which the validator (validate.ts) checks against.
 */
export const CODE_DISTS = ['normal', 'uniform', 'permutedGrid', 'fixedGrid', 'zeros'] as const;
/** How the label codes are drawn (one of CODE_DISTS). */
export type CodeDist = (typeof CODE_DISTS)[number];

/** Distances between the two teacher paths' main logits (LadConfig.consLoss). */
export const CONS_LOSSES = ['cwd', 'pixelKL', 'mse', 'none'] as const;
/** The teacher's consistency loss between its two paths (one of CONS_LOSSES). */
export type ConsLoss = (typeof CONS_LOSSES)[number];

/** Distillation losses from teacher to student (LadConfig.kdLoss). */
export const KD_LOSSES = ['cwd', 'pixelKD', 'none'] as const;
/** The student's distillation loss (one of KD_LOSSES). */
export type KdLoss = (typeof KD_LOSSES)[number];

/** How class labels become the teacher's label channel: code distribution, noise, scale and smoothing (lad-method.md §2.2). */
export interface LabelEncoding {
  codeDist: CodeDist;
  /** Per-pixel Gaussian noise, in code units (before × scale). */
  sigma: number;
  /**
   * Scale s of the channel. The released code's 100 over raw mean-subtracted 0–255 pixels (std ≈ 58)
   * puts the label channel at LABEL_TO_IMAGE_STD ≈ 1.7 times the image's std; 'auto' keeps that ratio
   * for any normalisation (resolveLabelScale: s = 1.7 × the std of the normalised training images).
   * encodeLabels needs a number: resolve 'auto' first.
   */
  scale: number | 'auto';
  /** 3×3 box-blur passes over the code map before the noise (0 in the release). */
  smoothPasses: number;
}

/** LAD's knobs: the label encodings of each phase, the teacher's dual path and consistency loss, the loss weights and the distillation loss. */
export interface LadConfig {
  /** Teacher training: two independent random encodings (§2.3). */
  encodeTrain: LabelEncoding;
  /** Teacher at distillation time: the deterministic grid code (§2.4). */
  encodeDistill: LabelEncoding;
  /** Teacher validation with its label channel ("privileged" score). */
  encodeTeacherEval: LabelEncoding;
  /** Two forward passes with independent encodings (false: one path). */
  dualPath: boolean;
  /** Distance between the two paths' main logits. */
  consLoss: ConsLoss;
  consWeight: number;
  consT: number;
  /** Each direction pulls towards a detached copy of the other path. */
  consSymmetric: boolean;
  auxWeightTeacher: number;
  auxWeightStudent: number;
  /** Aux weight when training the baseline (CIRKD's 0.4). */
  auxWeightBaseline: number;
  kdLoss: KdLoss;
  kdWeight: number;
  kdT: number;
  /** When teacher and student logits differ in size, resize the teacher's bilinearly to the student's. */
  resizeTeacherLogits: boolean;
  /** Init std of the label channel's first-layer weights when a teacher starts from a 3-channel-trained model. */
  labelChannelInitStd: number;
  /**
   * Teacher training: iterations over which encodeTrain's scale ramps linearly from scale/W up to
   * its value (teacherLadAt); 0 or absent: none, as in the released code. A study knob.
   */
  labelScaleWarmup?: number;
  /**
   * Teacher training: whose labels fill the label channel. 'own' (or absent): the image's, as LAD does;
   * 'otherImage': the next image's in the batch, a channel with the codes' statistics and no information
   * about this image (the `teacher-otherlabels` control arm). The CE targets stay the image's own.
   */
  teacherLabels?: 'own' | 'otherImage';
}

/** The released label-to-image std ratio: s = 100 against mean-subtracted pixels of std ≈ 58 (lad-method.md §2.2). */
export const LABEL_TO_IMAGE_STD = 1.7;

/** The library's default: the released knobs, scale 1 (about the ratio for images normalised to std ≈ 0.5). */
export const DEFAULT_LAD: LadConfig = {
  encodeTrain: { codeDist: 'normal', sigma: 0.03, scale: 1, smoothPasses: 0 },
  encodeDistill: { codeDist: 'fixedGrid', sigma: 0.02, scale: 1, smoothPasses: 0 },
  encodeTeacherEval: { codeDist: 'normal', sigma: 0.01, scale: 1, smoothPasses: 0 },
  dualPath: true,
  consLoss: 'cwd',
  consWeight: 5,
  consT: 4,
  consSymmetric: true,
  auxWeightTeacher: 0.4,
  auxWeightStudent: 0.02,
  auxWeightBaseline: 0.4,
  kdLoss: 'cwd',
  kdWeight: 3,
  kdT: 4,
  resizeTeacherLogits: true,
  labelChannelInitStd: 0.1,
  labelScaleWarmup: 0,
  teacherLabels: 'own',
};

/** One training run: SGD with momentum and weight decay on all parameters, poly learning rate (§2.5). */
export interface TrainConfig {
  iterations: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  polyPower: number;
  /** Random-crop size of the augmentation; null trains on whole images without augmentation. */
  cropSize: number | null;
  /** Validate every this many iterations (0: only at the end). */
  evalEvery: number;
  /** Write a checkpoint every this many iterations (0: only at the end). */
  checkpointEvery: number;
  seed: number;
}

/** The paper's training run (§2.5): 40k iterations of batch 16, SGD lr 0.02 with momentum 0.9 and weight decay 1e-4, poly 0.9, 512 crops. */
export const DEFAULT_TRAIN: TrainConfig = {
  iterations: 40000,
  batchSize: 16,
  lr: 0.02,
  momentum: 0.9,
  weightDecay: 1e-4,
  polyPower: 0.9,
  cropSize: 512,
  evalEvery: 800,
  checkpointEvery: 800,
  seed: 0,
};

/** DEFAULT_LAD with every encoding's scale derived from the data (the presets' and the CLI's default). */
export const AUTO_SCALE_LAD: LadConfig = {
  ...DEFAULT_LAD,
  encodeTrain: { ...DEFAULT_LAD.encodeTrain, scale: 'auto' },
  encodeDistill: { ...DEFAULT_LAD.encodeDistill, scale: 'auto' },
  encodeTeacherEval: { ...DEFAULT_LAD.encodeTeacherEval, scale: 'auto' },
};

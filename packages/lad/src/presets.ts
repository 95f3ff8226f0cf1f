// Experiment presets of `lad experiment` (experiment/): what data, model, budgets and LAD knobs one
// side-by-side comparison uses. Plain objects composed by spreading (config.ts); the CLI's --set and
// --sweep address their fields by dotted path (`teacher.iterations`, `lad.consWeight`) or by a named
// knob (`labelScale`, experiment/knobs.ts).

import { AUTO_SCALE_LAD, DEFAULT_TRAIN, type LadConfig, type TrainConfig } from './config.ts';
import type { ArmName } from './experiment/arms.ts';
import { modelPreset, type ModelConfig } from './models/build.ts';
import type { DigitsSegOptions } from './data/digits-seg.ts';
import type { TexturedBlobsOptions } from './data/textured-blobs.ts';
import type { SyntheticOptions } from './data/synthetic.ts';

/** Where the data comes from. Synthetic sets are drawn from `seed`; the same data for every experiment seed. */
export type ExperimentData =
  /** `options`: the generator's own options (digits per image, classes, ...; defaults where absent). */
  | { kind: 'digits-seg'; train: number; val: number; seed: number; size: number; options?: Omit<DigitsSegOptions, keyof SyntheticOptions> }
  | { kind: 'textured-blobs'; train: number; val: number; seed: number; size: number; options?: Omit<TexturedBlobsOptions, keyof SyntheticOptions> }
  /** A folder written in the layout of data/folder.ts (`lad data export`, or a converted real dataset). */
  | { kind: 'folder'; dir: string; val: number | null };

/** A value a knob takes. */
export type KnobValue = number | string | boolean | null;

/** One axis of a grid (`--sweep labelScale=1,10,100`). */
export interface SweepSpec {
  /** A dotted path into ExperimentConfig (`lad.consWeight`), or a named knob (`labelScale`, experiment/knobs.ts). */
  path: string;
  values: KnobValue[];
}

/** An experiment (`lad experiment`): data, model, the three training recipes, LAD knobs, arms, seeds, grid, evaluation. */
export interface ExperimentConfig {
  preset: string;
  data: ExperimentData;
  /** The one architecture of teacher and students; inChannels and numClasses are set from the data (4, K). */
  model: ModelConfig;
  lad: LadConfig;
  /**
   * 'baseline' (the released recipe): a baseline student is trained first (zeros in the label channel),
   * then every arm starts from it. 'scratch': every arm starts from the same fresh init and the
   * baseline stage is skipped.
   */
  init: 'baseline' | 'scratch';
  /**
   * An ImageNet ResNet safetensors file (CIRKD's or torchvision's names, models/pretrained.ts) loaded
   * into the starting point's backbone, its stem widened to 4 channels as the official code does;
   * null: a random init (CIRKD's), so numbers are those of models trained from scratch.
   */
  backboneFrom: string | null;
  /** The baseline student's training (the shared starting point; skipped with init 'scratch'). */
  baseline: TrainConfig;
  /** The teachers' training (teacher-nolabel, teacher-nocons, teacher-lad: experiment/arms.ts). */
  teacher: TrainConfig;
  /** The students' training and the control's (control-compute: the same recipe, iterations for the LAD pipeline's FLOPs). */
  student: TrainConfig;
  /** Experiment seeds: each seeds model init, data order, dropout and label codes of every arm. */
  seeds: number[];
  /** The arms to run (the teachers of the chosen students are added); null: every arm (experiment/arms.ts). */
  arms: ArmName[] | null;
  eval: {
    /** Validation images (null: the whole val split). */
    limit: number | null;
    batchSize: number;
    /** Rows of the examples grid. */
    examples: number;
  };
  /** A grid: every combination of one value per axis runs the arms, in a folder of its own; [] = one point. */
  sweep: SweepSpec[];
}

const train = (over: Partial<TrainConfig>): TrainConfig => ({ ...DEFAULT_TRAIN, ...over });

/**
 * The README's main job: digits-seg reduced to the digits 0, 1, 2 (K = 4), 1-2 large digits per 48×48
 * canvas with strokes thickened by two 3×3 max-filter passes; tiny DeepLabV3 (width 8, OS 8), batch
 * 8 on whole images, baseline lr 0.1 for 500 its, teachers lr 0.05 / students lr 0.01 for 100 its.
 *
 * Why this and not all ten digits on 64×64: at ~0.1 s per baseline iteration on 2 cores, the full
 * digits-seg (thin strokes, 10 digit classes) needs thousands of iterations before the tiny model
 * predicts anything but background (ours at 160 its and a PyTorch calibration at 1200 its: 7.9 mIoU,
 * the all-background score; PyTorch at 4000 its: 13.0). Probes of the baseline alone, 48×48, 1-2
 * digits, lr 0.1, 400 its, mIoU (all-background score): three classes with the default thickening
 * (30% of digits, one pass) 21.4 (21.4), every digit thickened once 27.9 (20.2), twice 37.5 (20);
 * five classes thickened twice 17.3 (14); four classes thickened twice, at 600 its, 30-35 (16-17).
 * Wider models (width 16) learn in fewer iterations but cost 2.6× per iteration; Adam did no better.
 *
 * Measured (`npx --yes pnpm@10.34.9 experiment`, 2 cores shared with other work, Node 20): 278 s.
 * Val mIoU over all K classes, mean ± std over 3 seeds (all background would score about 19):
 * baseline start 47.9 ± 6.4; control 49.7 ± 6.5; control-compute (333 its) 51.8 ± 7.6;
 * teacher-nolabel 49.8 ± 7.2; teacher-nocons 51.7 ± 7.1; teacher-lad 48.2 ± 7.5 (own labels = zeros =
 * another image's ± 0.1: it ignores its channel, label scale auto = 0.826); student-kd 48.1 ± 6.4;
 * student-lad 47.9 ± 5.9 (student-lad − student-kd −0.2 ± 0.7, − control-compute −3.9 ± 1.8).
 * docs/results/label-usage.md: the labels help the teacher at 96×96 from scratch, not here.
 */
export const QUICK: ExperimentConfig = {
  preset: 'quick',
  data: {
    kind: 'digits-seg',
    train: 1000,
    val: 120,
    seed: 0,
    size: 48,
    options: { classes: [0, 1, 2], digits: [1, 2], digitSize: [32, 44], thickenProb: 1, thickenPasses: 2 },
  },
  model: modelPreset('tiny', 'deeplabv3', { inChannels: 4 }),
  lad: AUTO_SCALE_LAD,
  init: 'baseline',
  backboneFrom: null,
  baseline: train({ iterations: 500, batchSize: 8, lr: 0.1, cropSize: null, evalEvery: 100, checkpointEvery: 100 }),
  teacher: train({ iterations: 100, batchSize: 8, lr: 0.05, cropSize: null, evalEvery: 50, checkpointEvery: 50 }),
  student: train({ iterations: 100, batchSize: 8, lr: 0.01, cropSize: null, evalEvery: 50, checkpointEvery: 50 }),
  seeds: [0, 1, 2],
  eval: { limit: 120, batchSize: 16, examples: 4 },
  arms: null,
  sweep: [],
};

/**
 * textured-blobs (class = texture orientation, ambiguous boundaries; §7.2). Sweep the label scale
 * with `--sweep labelScale=0.1,1,10 --arms teacher-lad,teacher-nolabel`. Measured with the previous
 * runner (five arms, built-in label-scale sweep, mIoU over present classes; before the no-label
 * teacher and the compute-matched control existed), `--preset textured --seeds 1` (2 shared cores, 568 s
 * per seed): at the earlier baseline of 300 its at lr 0.02 every arm predicted background (13.5
 * mIoU); at 600 its at lr 0.1 (teachers lr 0.05) the baseline reached 20.9, the teachers 21.7–22.0,
 * and the sweep found the teacher ignoring its labels at scale 0.1 and 1 (own labels = zeros =
 * another image's, within 0.1) and using them at 10 (18.3 / 16.3 / 14.8) — as a PyTorch run of the
 * recipe at scale 1–3 found (the issue). `--seeds 3` (1269 s): baseline 20.7 ± 0.3, teachers
 * 21.0 ± 1.3 / 20.1 ± 1.6, students 20.9 ± 0.2 (KD) / 20.7 ± 0.6 (LAD); the sweep at 10 gives
 * 16.1 / 15.1 / 14.4 (own labels / zeros / another image's): the labels move it, but it is worse.
 */
export const TEXTURED: ExperimentConfig = {
  ...QUICK,
  preset: 'textured',
  data: { kind: 'textured-blobs', train: 1000, val: 150, seed: 0, size: 64 },
  baseline: train({ iterations: 600, batchSize: 8, lr: 0.1, cropSize: null, evalEvery: 100, checkpointEvery: 100 }),
  teacher: train({ iterations: 150, batchSize: 8, lr: 0.05, cropSize: null, evalEvery: 50, checkpointEvery: 50 }),
  student: train({ iterations: 150, batchSize: 8, lr: 0.01, cropSize: null, evalEvery: 40, checkpointEvery: 40 }),
};

/**
 * The paper's settings (lad-method.md §2.5): R18 DeepLabV3 at paper width, batch 16, crop 512, 40k
 * iterations per stage, baseline/teacher lr 0.02 (CIRKD), student fine-tune lr 0.001 (the LAD log),
 * validation every 800. Needs a dataset folder (`--data DIR`) and a machine that can afford it. The
 * paper starts from an ImageNet ResNet-18 (`--backbone-from FILE`); without one, the numbers are those
 * of models trained from scratch and not comparable with the paper's.
 */
export const FULL: ExperimentConfig = {
  preset: 'full',
  data: { kind: 'folder', dir: '', val: null },
  model: modelPreset('paper', 'deeplabv3', { inChannels: 4 }),
  lad: AUTO_SCALE_LAD,
  init: 'baseline',
  backboneFrom: null,
  baseline: train({ iterations: 40000, batchSize: 16, lr: 0.02, cropSize: 512 }),
  teacher: train({ iterations: 40000, batchSize: 16, lr: 0.02, cropSize: 512 }),
  student: train({ iterations: 40000, batchSize: 16, lr: 0.001, cropSize: 512 }),
  seeds: [0, 1, 2],
  eval: { limit: null, batchSize: 8, examples: 4 },
  arms: null,
  sweep: [],
};

/** The presets by name (`lad experiment --preset NAME`). */
export const EXPERIMENT_PRESETS: Readonly<Record<string, ExperimentConfig>> = { quick: QUICK, textured: TEXTURED, full: FULL };

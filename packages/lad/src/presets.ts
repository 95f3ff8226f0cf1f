// Experiment presets of `lad experiment` (experiment.ts): what data, model, budgets and LAD knobs one
// side-by-side comparison uses. Plain objects composed by spreading (config.ts); the CLI's --set and
// --sweep address their fields by dotted path (`teacher.iterations`, `lad.consWeight`, `labelScale`).

import { DEFAULT_LAD, DEFAULT_TRAIN, type LadConfig, type TrainConfig } from './config.ts';
import { modelPreset, type ModelConfig } from './models/build.ts';

/** Where the data comes from. Synthetic sets are drawn from `seed`; the same data for every experiment seed. */
export type ExperimentData =
  | { kind: 'digits-seg' | 'textured-blobs'; train: number; val: number; seed: number; size: number }
  /** A folder written in the layout of data/folder.ts (`lad data export`, or a converted real dataset). */
  | { kind: 'folder'; dir: string; val: number | null };

/** A knob varied over values for the teacher arm (`--sweep labelScale=1,10,100`). */
export interface SweepSpec {
  /** A dotted path into ExperimentConfig (`lad.consWeight`), or an alias (`labelScale`, see KNOB_ALIASES). */
  path: string;
  values: (number | string | boolean | null)[];
}

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
  /** The baseline student's training (the shared starting point; skipped with init 'scratch'). */
  baseline: TrainConfig;
  /** The teachers' fine-tuning (label teacher without consistency, LAD teacher, sweep runs). */
  teacher: TrainConfig;
  /** The students' fine-tuning, and the continued baseline (the fair control) with the same budget. */
  student: TrainConfig;
  /** Experiment seeds: each seeds model init, data order, dropout and label codes of every arm. */
  seeds: number[];
  eval: {
    /** Validation images (null: the whole val split). */
    limit: number | null;
    batchSize: number;
    /** Rows of the examples grid. */
    examples: number;
  };
  sweep: SweepSpec | null;
}

/** Knob names that set several fields at once. `labelScale` is the scale of every label encoding. */
export const KNOB_ALIASES: Record<string, string[]> = {
  labelScale: ['lad.encodeTrain.scale', 'lad.encodeDistill.scale', 'lad.encodeTeacherEval.scale'],
  labelSigma: ['lad.encodeTrain.sigma'],
  iterations: ['baseline.iterations', 'teacher.iterations', 'student.iterations'],
};

const train = (over: Partial<TrainConfig>): TrainConfig => ({ ...DEFAULT_TRAIN, ...over });

/**
 * digits-seg, tiny DeepLabV3, batch 8 on whole 64×64 images, 120 val images. Sized so that all arms
 * of 3 seeds run in about 10 minutes on 2 (shared) cores: at 200/100/100 iterations one seed took
 * 217 s, so 160/80/80. NOTE: at this budget the tiny model had not yet learnt the digits (it
 * predicted background everywhere); the numbers of this preset test the pipeline, not LAD.
 */
export const QUICK: ExperimentConfig = {
  preset: 'quick',
  data: { kind: 'digits-seg', train: 1000, val: 120, seed: 0, size: 64 },
  model: modelPreset('tiny', 'deeplabv3', { inChannels: 4 }),
  lad: DEFAULT_LAD,
  init: 'baseline',
  baseline: train({ iterations: 160, batchSize: 8, lr: 0.02, cropSize: null, evalEvery: 40, checkpointEvery: 40 }),
  teacher: train({ iterations: 80, batchSize: 8, lr: 0.01, cropSize: null, evalEvery: 40, checkpointEvery: 40 }),
  student: train({ iterations: 80, batchSize: 8, lr: 0.01, cropSize: null, evalEvery: 40, checkpointEvery: 40 }),
  seeds: [0, 1, 2],
  eval: { limit: 120, batchSize: 16, examples: 4 },
  sweep: null,
};

/** textured-blobs (class = texture orientation, ambiguous boundaries; §7.2), with a label-scale sweep of the teacher. */
export const TEXTURED: ExperimentConfig = {
  ...QUICK,
  preset: 'textured',
  data: { kind: 'textured-blobs', train: 1000, val: 150, seed: 0, size: 64 },
  baseline: { ...QUICK.baseline, iterations: 300 },
  teacher: { ...QUICK.teacher, iterations: 150 },
  student: { ...QUICK.student, iterations: 150 },
  sweep: { path: 'labelScale', values: [0.1, 1, 10] },
};

/**
 * The paper's settings (lad-method.md §2.5): R18 DeepLabV3 at paper width, batch 16, crop 512, 40k
 * iterations per stage, baseline/teacher lr 0.02 (CIRKD), student fine-tune lr 0.001 (the LAD log),
 * validation every 800. Needs a dataset folder (`--data DIR`) and a machine that can afford it.
 */
export const FULL: ExperimentConfig = {
  preset: 'full',
  data: { kind: 'folder', dir: '', val: null },
  model: modelPreset('paper', 'deeplabv3', { inChannels: 4 }),
  lad: DEFAULT_LAD,
  init: 'baseline',
  baseline: train({ iterations: 40000, batchSize: 16, lr: 0.02, cropSize: 512 }),
  teacher: train({ iterations: 40000, batchSize: 16, lr: 0.02, cropSize: 512 }),
  student: train({ iterations: 40000, batchSize: 16, lr: 0.001, cropSize: 512 }),
  seeds: [0, 1, 2],
  eval: { limit: null, batchSize: 8, examples: 4 },
  sweep: null,
};

export const EXPERIMENT_PRESETS: Readonly<Record<string, ExperimentConfig>> = { quick: QUICK, textured: TEXTURED, full: FULL };

/**
 * `@lad/lad`: Label Assisted Distillation for semantic segmentation: datasets, models, metrics, the
 * label encoding, teacher and student losses, the trainer, evaluation and report graphics.
 *
 * @packageDocumentation
 * @module @lad/lad
 */

export * from './losses.ts';
export * from './data/index.ts';
export * from './metrics.ts';
export * from './models/index.ts';
export * from './config.ts';
export * from './validate.ts';
export * from './label-encoding.ts';
export * from './teacher.ts';
export * from './student.ts';
export * from './evaluate.ts';
export * from './train.ts';
// `Batch` is the loader's (ids, indices, epoch too); teacher.ts's minimal { images, labels } Batch,
// which every loader batch satisfies, is exported as `StepBatch`.
export type { Batch } from './data/index.ts';
export * from './report/index.ts';
export * from './presets.ts';
export * from './seeds.ts';
export * from './experiment/index.ts';

/**
 * `@lad/lad`: Label Assisted Distillation for semantic segmentation: datasets, models, metrics, the
 * label encoding, teacher and student losses, the trainer, evaluation and report graphics.
 *
 * @packageDocumentation
 * @module @lad/lad
 */

// Everything that runs in a browser (browser.ts), then what needs Node: the datasets read from
// files, the PNG figures and the experiment runner that writes run folders.
export * from './browser.ts';
export * from './data/index.ts';
// `Batch` is the loader's (ids, indices, epoch too); teacher.ts's minimal { images, labels } Batch,
// which every loader batch satisfies, is exported as `StepBatch`.
export type { Batch } from './data/index.ts';
export * from './report/index.ts';
export * from './experiment/index.ts';

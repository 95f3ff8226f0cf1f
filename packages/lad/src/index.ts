// @lad/lad: Label Assisted Distillation for semantic segmentation. So far only the distillation
// losses; datasets, models and the teacher/student trainers come with the LAD issues.
export * from './losses.ts';
export * from './data/index.ts';
export * from './metrics.ts';
export * from './models/index.ts';

// @lad/lad: Label Assisted Distillation for semantic segmentation. So far only the distillation
// losses; datasets, models and the teacher/student trainers come with the LAD issues.
export * from './losses.ts';

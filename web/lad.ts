// What the page uses of the library: the same source files as the CLI, imported by path.
// The packages' index files also export their Node-only parts (checkpoint files, the trainer's logs,
// the CLI), so the page takes the browser-safe modules one by one. Nothing of the method is
// re-implemented in web/: every loss, encoding and model below is the library's.

export * from '@lad/tensor';
export { SGD } from '../packages/nn/src/optim/sgd.ts';
export { Conv2d } from '../packages/nn/src/layers/conv.ts';
export { poly } from '../packages/nn/src/optim/schedule.ts';
export { DigitsSeg, parseMnistDigits, setMnistDigit } from '../packages/lad/src/data/digits-seg.ts';
export type { SegDataset } from '../packages/lad/src/data/types.ts';
export { loadBatch } from '../packages/lad/src/data/batch.ts';
export { codeTable, encodeLabels, fixedGrid, imageStd, resolveLabelScale, withLabelChannel } from '../packages/lad/src/label-encoding.ts';
export { readParts, teacherLoss, teacherInput } from '../packages/lad/src/teacher.ts';
export { baselineLoss, studentLoss } from '../packages/lad/src/student.ts';
export { consistencyLoss, segLoss, upsampleTo } from '../packages/lad/src/losses.ts';
export { buildModel } from '../packages/lad/src/models/build.ts';
export { initExtraInputChannels_ } from '../packages/lad/src/models/layers.ts';
export type { SegModel } from '../packages/lad/src/models/types.ts';
export { encodingAgreement, evaluate } from '../packages/lad/src/evaluate.ts';
export type { LabelEncoding, LadConfig, TrainConfig } from '../packages/lad/src/config.ts';
export { QUICK, type ExperimentConfig, type ExperimentData as ExperimentConfigData } from '../packages/lad/src/presets.ts';
export { applySettings } from '../packages/lad/src/experiment/knobs.ts';
export { ARMS, armSpec } from '../packages/lad/src/experiment/arms.ts';
export { fmtStat, pct, stat, teacherVerdict, type ExperimentReport } from '../packages/lad/src/experiment/report.ts';
export { renderReportMd } from '../packages/lad/src/experiment/render.ts';
export { hashName, mixSeed, STREAM } from '../packages/lad/src/seeds.ts';
export { channelToRgb, classPalette, imageToRgb, labelToRgb } from '../packages/lad/src/report/colors.ts';

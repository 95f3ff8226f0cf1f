/**
 * `@lad/lad` in a browser (the `browser` condition of package.json's exports; the teaching page in
 * web/ imports it so): everything of index.ts that runs without Node. The training loop (trainModel)
 * and one experiment unit (runUnit) run in memory there (no outDir). Left out, Node only: the
 * datasets read from files (folder layout, VOC, Cityscapes, ADE20K, COCO-Stuff, image-io), PNG
 * figures (report/ but its colours), and the experiment runner that writes run folders (run.ts).
 *
 * @packageDocumentation
 * @module @lad/lad (browser)
 */

export * from './losses.ts';
export * from './data/types.ts';
export * from './data/raw.ts';
export * from './data/synthetic.ts';
export * from './data/digits-seg.ts';
export * from './data/textured-blobs.ts';
export * from './data/augment.ts';
export * from './data/spec-types.ts';
export * from './data/loader.ts';
export * from './metrics.ts';
export * from './models/index.ts';
export * from './config.ts';
export * from './validate.ts';
export * from './label-encoding.ts';
export * from './teacher.ts';
export * from './student.ts';
export * from './evaluate.ts';
export * from './train.ts';
export type { Batch } from './data/loader.ts';
export * from './report/colors.ts';
export * from './presets.ts';
export * from './seeds.ts';
export * from './experiment/arms.ts';
export * from './experiment/knobs.ts';
export * from './experiment/report.ts';
export { renderReportMd } from './experiment/render.ts';
export {
  runUnit,
  unitEvalOptions,
  armEvaluation,
  datasetInfo,
  forwardsPerStep,
  trainFlops,
  computeMatchedIterations,
  baselineKey,
  type UnitContext,
  type UnitRun,
  type UnitWatch,
} from './experiment/unit.ts';

// The LAD experiment (lad-method.md §7.1 item 8): the arms of arms.ts side by side on the same data
// and budget, over seeds and an optional grid of knobs, one folder per unit, merged into one report.
//   arms.ts     the arms, one table        knobs.ts   --set / --sweep, grid points
//   unit.ts     one seed of one point      run.ts     units, shards, the report files
//   report.ts   metrics, verdicts, stats   render.ts  report.md     figures.ts  plots, examples

export * from './arms.ts';
export * from './knobs.ts';
export * from './report.ts';
export { renderReportMd } from './render.ts';
export {
  runUnit,
  unitEvalOptions,
  armEvaluation,
  datasetInfo,
  forwardsPerStep,
  trainFlops,
  computeMatchedIterations,
  baselineKey,
  readUnit,
  type UnitContext,
  type UnitRun,
  type UnitWatch,
} from './unit.ts';
export { runExperiment, reportExperiment, loadExperimentData, type RunExperimentOptions, type ReportOptions, type ExperimentDataSets } from './run.ts';
export type { ExperimentConfig, SweepSpec, KnobValue } from '../presets.ts';

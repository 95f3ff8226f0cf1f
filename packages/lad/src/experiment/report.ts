// What an experiment reports: per-seed metrics of each arm (one "unit" = one seed of one grid point,
// written as unit.json by run.ts), their aggregation over seeds, and the plain-language verdicts
// (does the teacher use its labels? is it helped by them? does an arm predict one class everywhere?).
// All IoU / accuracy numbers are percentages; mIoU is the released code's, over all K classes.

import type { ExperimentConfig, KnobValue } from '../presets.ts';
import { ARMS, type ArmName } from './arms.ts';

/** A number over seeds: mean, standard deviation, range and count. */
export interface Stat {
  mean: number;
  std: number;
  min: number;
  max: number;
  n: number;
}

/** Mean, sample std (0 for one value), min and max. */
export function stat(xs: readonly number[]): Stat {
  const n = xs.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs), n };
}

/** "62.3 ± 1.2" (points); the mean alone for one seed. */
export function fmtStat(s: Stat, digits = 1): string {
  if (!Number.isFinite(s.mean)) return 'n/a';
  return s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}
/** "min–max" of a Stat ("(1 seed)" for one). */
export const fmtRange = (s: Stat, digits = 1): string => (s.n > 1 ? `${s.min.toFixed(digits)}–${s.max.toFixed(digits)}` : '(1 seed)');
/** A fraction in percentage points. */
export const pct = (v: number): number => 100 * v;

// ------------------------------------------------------------------------------------------------
// Per seed

/** A teacher's mIoU under each label channel, and its invariance to the codes. */
export interface TeacherDiagnostics {
  /** With the encoded labels of the same image (encodeTeacherEval, random codes): the privileged score. */
  encoded: number;
  /** With an all-zero label channel. */
  zeros: number;
  /** With the encoded labels of another image. */
  otherImage: number;
  /** With the fixed distillation code (encodeDistill): what the student is distilled from. */
  fixedCode: number;
  /** Pixel agreement (%) of its predictions under two independent encodeTeacherEval draws. */
  agreement: number;
}

/** The class a model predicts most often, and on what share (%) of the labelled pixels. */
export interface TopClass {
  classId: number;
  className: string;
  share: number;
}

/** One arm's results in one seed (a unit.json row): val scores, curve, final loss, FLOPs, diagnostics. */
export interface ArmSeedMetrics {
  seed: number;
  /** Over all K classes (headline). */
  mIoU: number;
  /** Over the classes present in the ground truth or the prediction. */
  mIoUPresent: number;
  pixAcc: number;
  /** Per class; null where the class is absent from both ground truth and prediction. */
  iou: (number | null)[];
  /** Validation mIoU against the arm's own steps. */
  curve: [number, number][];
  finalLoss: number | null;
  topClass: TopClass;
  /** Training iterations and FLOPs (≈ 2·MACs per forward, a backward as two forwards). */
  iterations: number;
  trainFlops: number;
  diagnostics?: TeacherDiagnostics;
}

/** One seed of one grid point: what unit.json holds. */
export interface UnitResult {
  version: 2;
  /** The grid point's knob values ({} without a sweep) and its folder name. */
  point: Record<string, KnobValue>;
  pointName: string;
  seed: number;
  /** The point's config, with the label scale resolved for the data. */
  config: ExperimentConfig;
  dataset: { name: string; numClasses: number; classNames: string[]; train: number; val: number; evalImages: number; imageStd: number };
  arms: Partial<Record<ArmName | 'baseline-start', ArmSeedMetrics>>;
  /** NOT deterministic. */
  timing: Partial<Record<ArmName | 'baseline-start', { seconds: number; imgsPerSec: number | null }>>;
}

// ------------------------------------------------------------------------------------------------
// Over seeds

/** A teacher's diagnostics over seeds, with the verdict on their means. */
export interface DiagnosticsSummary {
  encoded: Stat;
  zeros: Stat;
  otherImage: Stat;
  fixedCode: Stat;
  agreement: Stat;
  verdict: Verdict;
}

/** One arm over the seeds of a grid point: per-seed metrics and their statistics. */
export interface ArmReport {
  title: string;
  /** What the label channel holds when the row's mIoU is measured. */
  input: string;
  perSeed: ArmSeedMetrics[];
  mIoU: Stat;
  mIoUPresent: Stat;
  pixAcc: Stat;
  trainFlops: number;
  /** Mean per-class IoU over seeds (seeds where the class is absent are skipped; null if all are). */
  iou: (number | null)[];
  singleClass: SingleClassVerdict | null;
  diagnostics?: DiagnosticsSummary;
}

/** A difference of two arms' mIoU (points), per seed and summarised. */
export interface Delta {
  name: string;
  perSeed: number[];
  stat: Stat;
}

/** The study's question for one grid point: is the LAD teacher helped by its labels? */
export interface LabelUsage {
  /** teacher-lad with its own labels − the no-label teacher of the same recipe, per seed. */
  overNoLabel: Delta | null;
  /** teacher-lad own labels − zeros, per seed. */
  overZeros: Delta;
  /** teacher-lad under the fixed distillation code − the no-label teacher, per seed. */
  fixedOverNoLabel: Delta | null;
  helped: boolean;
  text: string;
}

/** One grid point of a report: its knob values, config, data and every arm over its seeds. */
export interface PointReport {
  point: Record<string, KnobValue>;
  name: string;
  config: ExperimentConfig;
  dataset: UnitResult['dataset'];
  seeds: number[];
  arms: Partial<Record<ArmName | 'baseline-start', ArmReport>>;
  labelUsage: LabelUsage | null;
  /** Differences in mIoU points, per seed then summarised. */
  deltas: Delta[];
}

/** report.json of `lad experiment`: every grid point, the files written, and the timing. */
export interface ExperimentReport {
  version: 2;
  preset: string;
  dataset: UnitResult['dataset'];
  points: PointReport[];
  /** The grid axes (empty without a sweep). */
  sweep: ExperimentConfig['sweep'];
  files: { reportMd: string; plots: string[]; examples: string | null };
  /** NOT deterministic: drop this key when comparing runs (see deterministicPart). */
  timing: {
    totalSeconds: number;
    units: { point: string; seed: number; arms: UnitResult['timing'] }[];
    machine: { cpus: number; cpuModel: string; threads: number; memGiB: number; platform: string; node: string; device: string };
  };
}

/** report.json without its "timing" key: the part that is bit-identical across runs of the same seeds. */
export function deterministicPart(report: ExperimentReport | Record<string, unknown>): Record<string, unknown> {
  const { timing: _timing, ...rest } = report as Record<string, unknown>;
  return rest;
}

// ------------------------------------------------------------------------------------------------
// Verdicts

/** teacherVerdict's reading of a teacher's diagnostics. */
export interface Verdict {
  /** The three teacher mIoUs are within `tolerance` points of each other. */
  ignoresLabels: boolean;
  /** The teacher scores more than `tolerance` points higher with its labels than with zeros. */
  usesLabels: boolean;
  text: string;
}

/**
 * The plain-language reading of a teacher's diagnostics (mIoU in points): with its own labels, with
 * zeros, with another image's labels. All within `tolerance` (default 1 point): it ignores its labels.
 */
export function teacherVerdict(m: { encoded: number; zeros: number; otherImage: number }, tolerance = 1): Verdict {
  const f = (v: number) => v.toFixed(1);
  const vals = [m.encoded, m.zeros, m.otherImage];
  const spread = Math.max(...vals) - Math.min(...vals);
  const scores = `its own labels ${f(m.encoded)}, zeros ${f(m.zeros)}, another image's labels ${f(m.otherImage)} mIoU`;
  if (spread <= tolerance) {
    return {
      ignoresLabels: true,
      usesLabels: false,
      text: `The teacher is ignoring its labels: its mIoU is the same within ${tolerance} point with ${scores}. Its label channel adds nothing, so distilling from it is conventional KD.`,
    };
  }
  const gain = m.encoded - m.zeros;
  if (gain > tolerance) {
    const wrong =
      m.otherImage < m.zeros - tolerance
        ? ` Another image's labels pull it below zeros, so it follows the channel rather than the image where they disagree.`
        : '';
    return { ignoresLabels: false, usesLabels: true, text: `The teacher uses its labels: ${f(gain)} points above zeros (${scores}).${wrong}` };
  }
  return {
    ignoresLabels: false,
    usesLabels: false,
    text: `The teacher does not gain from its own labels (${scores}); its scores differ by ${f(spread)} points, but its labels do not raise them above zeros.`,
  };
}

/** The study's criterion (issue 10 §3-4): own labels beat the no-label teacher and zeros by ≥ `margin` points. */
export const HELPED_MARGIN = 3;

/** The study's question answered from the teacher deltas (LabelUsage): helped when both beat HELPED_MARGIN. */
export function labelUsageVerdict(overNoLabel: Delta | null, overZeros: Delta, fixedOverNoLabel: Delta | null): LabelUsage {
  const f = (d: Delta) => `${d.stat.mean >= 0 ? '+' : ''}${d.stat.mean.toFixed(1)}`;
  if (!overNoLabel) {
    return {
      overNoLabel,
      overZeros,
      fixedOverNoLabel,
      helped: false,
      text: `Own labels − zeros ${f(overZeros)} points; run teacher-nolabel to tell whether the labels help (--arms).`,
    };
  }
  const helped = overNoLabel.stat.mean >= HELPED_MARGIN && overZeros.stat.mean >= HELPED_MARGIN;
  const fixed = fixedOverNoLabel
    ? ` Under the fixed distillation code it scores ${f(fixedOverNoLabel)} against the no-label teacher: ${fixedOverNoLabel.stat.mean >= HELPED_MARGIN ? 'the student is distilled from a better teacher' : 'what the student is distilled from is no better than a teacher without labels'}.`
    : '';
  const text = helped
    ? `The LAD teacher is helped by its labels: ${f(overNoLabel)} points over the no-label teacher of the same recipe and ${f(overZeros)} over itself with zeros.${fixed}`
    : `The LAD teacher is NOT helped by its labels: ${f(overNoLabel)} points over the no-label teacher of the same recipe, ${f(overZeros)} over itself with zeros (the criterion is ≥ ${HELPED_MARGIN} on both).${fixed}`;
  return { overNoLabel, overZeros, fixedOverNoLabel, helped, text };
}

/** Seeds whose arm predicted one class almost everywhere, and a sentence saying so. */
export interface SingleClassVerdict {
  /** The seeds in which one class took more than the threshold share of the predictions. */
  seeds: number[];
  text: string;
}

/** Above this share (%) of the predicted pixels, a model "predicts one class almost everywhere". */
export const SINGLE_CLASS_SHARE = 98;

/** The most predicted class of a (K, K) confusion matrix (rows ground truth, columns prediction). */
export function topPredictedClass(confusion: readonly (readonly number[])[], classNames: readonly string[]): TopClass {
  const K = confusion.length;
  const cols = Array.from({ length: K }, (_, j) => confusion.reduce((a, row) => a + row[j], 0));
  const total = cols.reduce((a, b) => a + b, 0);
  let best = 0;
  for (let j = 1; j < K; j++) if (cols[j] > cols[best]) best = j;
  return { classId: best, className: classNames[best] ?? String(best), share: total > 0 ? pct(cols[best] / total) : NaN };
}

/**
 * The plain statement for a model that predicts (nearly) one class everywhere: in the seeds where the
 * top class takes more than `threshold` % of the predicted labelled pixels. Null when no seed does.
 */
export function singleClassVerdict(perSeed: readonly { seed: number; topClass: TopClass }[], threshold = SINGLE_CLASS_SHARE): SingleClassVerdict | null {
  const hit = perSeed.filter((p) => p.topClass.share > threshold);
  if (hit.length === 0) return null;
  const names = [...new Set(hit.map((p) => p.topClass.className))];
  const cls = names.map((n) => `'${n}'`).join(' or ');
  const shares = hit.map((p) => `${p.topClass.share.toFixed(1)}%`).join(', ');
  const where =
    perSeed.length === 1
      ? ''
      : hit.length === perSeed.length
        ? `In every seed (${hit.map((p) => p.seed).join(', ')}) it `
        : `In seed${hit.length > 1 ? 's' : ''} ${hit.map((p) => p.seed).join(', ')} of ${perSeed.length} it `;
  const text = `${where ? where : 'It '}predicts class ${cls} almost everywhere: it has not learnt the task at this budget (${shares} of the predicted labelled val pixels).`;
  return { seeds: hit.map((p) => p.seed), text };
}

// ------------------------------------------------------------------------------------------------
// Aggregation

const ARM_TITLES: Record<string, { title: string; input: string }> = {
  'baseline-start': { title: 'baseline student before fine-tuning (the common starting point)', input: 'zeros' },
  ...Object.fromEntries(ARMS.map((a) => [a.name, { title: a.title, input: a.evalInput === 'labels' ? 'labels (encodeTeacherEval)' : 'zeros' }])),
};

function summariseDiagnostics(ds: TeacherDiagnostics[]): DiagnosticsSummary {
  const s = (k: keyof TeacherDiagnostics) => stat(ds.map((d) => d[k]));
  const [encoded, zeros, otherImage, fixedCode, agreement] = [s('encoded'), s('zeros'), s('otherImage'), s('fixedCode'), s('agreement')];
  return {
    encoded,
    zeros,
    otherImage,
    fixedCode,
    agreement,
    verdict: teacherVerdict({ encoded: encoded.mean, zeros: zeros.mean, otherImage: otherImage.mean }),
  };
}

/** The seeds of one grid point (units sorted by seed) aggregated into its report. */
export function aggregatePoint(units: readonly UnitResult[]): PointReport {
  const seeds = units.map((u) => u.seed);
  const K = units[0].dataset.numClasses;
  const names = (['baseline-start', ...ARMS.map((a) => a.name)] as const).filter((n) => units.every((u) => u.arms[n]));
  const arms: PointReport['arms'] = {};
  for (const name of names) {
    const rows = units.map((u) => u.arms[name]!);
    arms[name] = {
      ...ARM_TITLES[name],
      perSeed: rows,
      mIoU: stat(rows.map((r) => r.mIoU)),
      mIoUPresent: stat(rows.map((r) => r.mIoUPresent)),
      pixAcc: stat(rows.map((r) => r.pixAcc)),
      trainFlops: rows[0].trainFlops,
      iou: Array.from({ length: K }, (_, k) => {
        const xs = rows.map((r) => r.iou[k]).filter((v): v is number => v !== null);
        return xs.length ? stat(xs).mean : null;
      }),
      singleClass: singleClassVerdict(rows),
      ...(rows[0].diagnostics ? { diagnostics: summariseDiagnostics(rows.map((r) => r.diagnostics!)) } : {}),
    };
  }
  const delta = (name: string, a: (u: UnitResult) => number | undefined, b: (u: UnitResult) => number | undefined): Delta | null => {
    if (!units.every((u) => a(u) !== undefined && b(u) !== undefined)) return null;
    const perSeed = units.map((u) => a(u)! - b(u)!);
    return { name, perSeed, stat: stat(perSeed) };
  };
  const m = (arm: ArmName) => (u: UnitResult) => u.arms[arm]?.mIoU;
  const d = (f: keyof TeacherDiagnostics) => (u: UnitResult) => u.arms['teacher-lad']?.diagnostics?.[f];
  const overZeros = delta('teacher-lad own labels − zeros', d('encoded'), d('zeros'));
  const labelUsage = overZeros
    ? labelUsageVerdict(
        delta('teacher-lad own labels − teacher-nolabel', d('encoded'), m('teacher-nolabel')),
        overZeros,
        delta('teacher-lad fixed code − teacher-nolabel', d('fixedCode'), m('teacher-nolabel')),
      )
    : null;
  const pairs: [ArmName, ArmName][] = [
    ['student-lad', 'student-kd'],
    ['student-lad', 'control-compute'],
    ['student-lad', 'control'],
    ['student-kd', 'control-compute'],
    ['student-kd', 'control'],
    ['control-compute', 'control'],
    ['teacher-lad', 'teacher-nocons'],
    ['teacher-lad', 'teacher-otherlabels'], // what the labels' information adds (both measured with their own labels)
  ];
  const deltas = pairs.map(([a, b]) => delta(`${a} − ${b}`, m(a), m(b))).filter((x): x is Delta => x !== null);
  return { point: units[0].point, name: units[0].pointName, config: units[0].config, dataset: units[0].dataset, seeds, arms, labelUsage, deltas };
}

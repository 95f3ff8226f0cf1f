// report.md of an experiment: the teacher's label usage first (own labels vs zeros vs another image's
// vs the fixed distillation code vs the no-label teacher of the same recipe), then the students
// against the plain and the compute-matched control, then every arm, per-class IoU and the teacher
// diagnostics. A grid gets a summary table across its points before the per-point sections.

import type { TrainConfig } from '../config.ts';
import type { ArmReport, Delta, ExperimentReport, PointReport, Stat } from './report.ts';
import { HELPED_MARGIN, fmtRange, fmtStat } from './report.ts';

const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;
const fmtDelta = (d: Delta) => `${d.stat.n > 1 ? `${signed(d.stat.mean)} ± ${d.stat.std.toFixed(1)}` : signed(d.stat.mean)}`;
const perSeed = (d: Delta) => d.perSeed.map(signed).join(', ');
const flops = (f: number) => (f >= 1e12 ? `${(f / 1e12).toFixed(2)} T` : `${(f / 1e9).toFixed(1)} G`);
const its = (t: TrainConfig) => `${t.iterations} its, batch ${t.batchSize}, lr ${t.lr}${t.cropSize ? `, crop ${t.cropSize}` : ''}`;
const verdictWord = (a: ArmReport) =>
  a.diagnostics!.verdict.ignoresLabels ? '**ignores its labels**' : a.diagnostics!.verdict.usesLabels ? 'uses its labels' : 'no gain from its labels';

/** The label-usage row of a point: teacher-lad's scores and the no-label teacher's. */
function usageCells(p: PointReport): string[] {
  const t = p.arms['teacher-lad']?.diagnostics,
    nl = p.arms['teacher-nolabel'];
  const s = (x: Stat | undefined) => (x ? fmtStat(x) : '–');
  const u = p.labelUsage;
  return [
    s(t?.encoded),
    s(t?.zeros),
    s(t?.otherImage),
    s(t?.fixedCode),
    s(nl?.mIoU),
    u?.overNoLabel ? fmtDelta(u.overNoLabel) : '–',
    u ? fmtDelta(u.overZeros) : '–',
    u ? (u.helped ? '**helped**' : 'not helped') : '–',
  ];
}
const USAGE_HEAD = "own labels | zeros | another image's | fixed code | teacher-nolabel | own − no-label | own − zeros | verdict";

function pointSections(r: ExperimentReport, p: PointReport, h: string, seconds: Map<string, number>): string[] {
  const L: string[] = [];
  const seeds = p.seeds.length;
  L.push(`${h} Label usage of the LAD teacher`, '');
  if (p.labelUsage) {
    L.push(
      `mIoU of teacher-lad with its own labels (random codes, encodeTeacherEval), zeros, another image's labels, and the fixed distillation code the student sees (encodeDistill); teacher-nolabel is the same recipe on a zero channel. Helped: own labels beat the no-label teacher and zeros by ≥ ${HELPED_MARGIN} points.`,
      '',
    );
    L.push(`| ${USAGE_HEAD} |`, `|${' --- |'.repeat(8)}`, `| ${usageCells(p).join(' | ')} |`, '');
    L.push(`**${p.labelUsage.text}**`, '');
    for (const d of [p.labelUsage.overNoLabel, p.labelUsage.overZeros, p.labelUsage.fixedOverNoLabel]) if (d) L.push(`- ${d.name}, per seed: ${perSeed(d)}`);
    L.push('');
  } else L.push('teacher-lad did not run (--arms).', '');

  const students = (['control', 'control-compute', 'student-kd', 'student-lad'] as const).filter((a) => p.arms[a]);
  if (students.length > 0) {
    L.push(`${h} Students against the controls, with their compute`, '');
    L.push(
      "Training FLOPs ≈ 2 × forward MACs (eval-mode count, convs and linears) × forwards per step (a backward counts as two; a student step adds the frozen teacher's forward) × batch × iterations. control-compute is the control trained for the FLOPs of teacher-lad + student-lad.",
      '',
    );
    L.push('| arm | mIoU | per seed | iterations | training FLOPs | wall time (s, mean) |', '| --- | --- | --- | --- | --- | --- |');
    for (const a of [...students, 'teacher-nolabel', 'teacher-lad'] as const) {
      const arm = p.arms[a];
      if (!arm) continue;
      const sec = seconds.get(`${p.name}|${a}`);
      L.push(
        `| ${a} | ${fmtStat(arm.mIoU)} | ${arm.perSeed.map((s) => s.mIoU.toFixed(1)).join(', ')} | ${arm.perSeed[0].iterations} | ${flops(arm.trainFlops)} | ${sec === undefined ? '–' : sec.toFixed(0)} |`,
      );
    }
    L.push('');
    L.push('| difference (mIoU points) | mean ± std | per seed |', '| --- | --- | --- |');
    for (const d of p.deltas) L.push(`| ${d.name} | ${fmtDelta(d)} | ${perSeed(d)} |`);
    L.push('');
    L.push(
      seeds > 1
        ? 'A difference smaller than about two seed std is not evidence either way.'
        : 'One seed only: differences of a few points are noise; run --seeds 3 before reading anything into them.',
      '',
    );
  }

  L.push(`${h} Every arm`, '');
  L.push(
    '| arm | what | label channel at eval | mIoU | min–max | per seed | mIoU (present classes) | pixAcc |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const [name, a] of Object.entries(p.arms)) {
    L.push(
      `| ${name} | ${a.title} | ${a.input} | ${fmtStat(a.mIoU)} | ${fmtRange(a.mIoU)} | ${a.perSeed.map((s) => s.mIoU.toFixed(1)).join(', ')} | ${fmtStat(a.mIoUPresent)} | ${fmtStat(a.pixAcc)} |`,
    );
  }
  L.push('');
  for (const [name, a] of Object.entries(p.arms)) if (a.singleClass) L.push(`- **${name}**: ${a.singleClass.text}`);
  L.push('');

  L.push(`${h} Per-class IoU (mean over seeds)`, '');
  const names = r.dataset.classNames;
  L.push(`| arm | ${names.join(' | ')} |`, `| --- | ${names.map(() => '---').join(' | ')} |`);
  for (const [name, a] of Object.entries(p.arms)) L.push(`| ${name} | ${a.iou.map((v) => (v === null ? '–' : v.toFixed(1))).join(' | ')} |`);
  L.push('');

  const teachers = Object.entries(p.arms).filter(([, a]) => a.diagnostics);
  if (teachers.length > 0) {
    L.push(`${h} Teacher diagnostics`, '');
    L.push("Agreement: % of labelled pixels on which a teacher's predictions agree under two independent random encodings.", '');
    L.push("| teacher | own labels | zeros | another image's | fixed code | agreement (%) | verdict |", '| --- | --- | --- | --- | --- | --- | --- |');
    for (const [name, a] of teachers) {
      const d = a.diagnostics!;
      L.push(
        `| ${name} | ${fmtStat(d.encoded)} | ${fmtStat(d.zeros)} | ${fmtStat(d.otherImage)} | ${fmtStat(d.fixedCode)} | ${fmtStat(d.agreement)} | ${verdictWord(a)} |`,
      );
    }
    L.push('');
    for (const [name, a] of teachers) L.push(`- **${name}**: ${a.diagnostics!.verdict.text}${a.singleClass ? ` ${a.singleClass.text}` : ''}`);
    L.push('');
  }
  return L;
}

/** report.md of a report.json: its tables and verdicts as markdown (the teaching page renders the same). */
export function renderReportMd(r: ExperimentReport): string {
  const L: string[] = [];
  const c = r.points[0].config;
  L.push(`# LAD experiment: preset \`${r.preset}\``, '');
  const gen = c.data.kind !== 'folder' ? `; ${c.data.size}×${c.data.size}${c.data.options ? `, generator options ${JSON.stringify(c.data.options)}` : ''}` : '';
  L.push(
    `- data: ${r.dataset.name}, ${r.dataset.numClasses} classes (${r.dataset.classNames.join(', ')}), ${r.dataset.train} train images, validation on ${r.dataset.evalImages} val images${gen}; normalised image std ${r.dataset.imageStd.toFixed(3)}`,
  );
  L.push(
    `- model: ${c.model.arch}, ResNet-${c.model.backbone.depth} width ${c.model.backbone.width}, output stride ${c.model.backbone.outputStride}, head ${c.model.headChannels}, 4 input channels (image + label channel)`,
  );
  L.push(
    `- init: ${c.init === 'baseline' ? `from a baseline student (${its(c.baseline)}; zeros in the label channel)` : 'every arm from the same fresh init'}${c.backboneFrom ? `; the starting backbone from ${c.backboneFrom} (ImageNet, stem widened to 4 channels)` : '; random init (no pretrained backbone)'}`,
  );
  L.push(
    `- teachers: ${its(c.teacher)}; students and the control: ${its(c.student)}; SGD momentum ${c.student.momentum}, wd ${c.student.weightDecay}, poly ${c.student.polyPower}`,
  );
  L.push(
    `- label channel: scale ${c.lad.encodeTrain.scale} (training), consistency ${c.lad.consLoss} × ${c.lad.consWeight}, KD ${c.lad.kdLoss} × ${c.lad.kdWeight}`,
  );
  L.push(`- seeds: ${r.points[0].seeds.join(', ')}; numbers are val mIoU in points over all K classes (the released code's), mean ± std over seeds`);
  L.push('');
  const seconds = new Map<string, number>();
  for (const p of r.points) {
    for (const [arm] of Object.entries(p.arms)) {
      const xs = r.timing.units
        .filter((u) => u.point === p.name)
        .map((u) => u.arms[arm as keyof typeof u.arms]?.seconds)
        .filter((v): v is number => v !== undefined);
      if (xs.length) seconds.set(`${p.name}|${arm}`, xs.reduce((a, b) => a + b, 0) / xs.length);
    }
  }
  if (r.points.length === 1) L.push(...pointSections(r, r.points[0], '##', seconds));
  else {
    L.push(`## Grid summary: ${r.sweep.map((s) => `\`${s.path}\``).join(' × ')}`, '');
    L.push(`| point | ${USAGE_HEAD} | student-lad − student-kd | student-lad − control-compute |`, `|${' --- |'.repeat(11)}`);
    for (const p of r.points) {
      const d = (n: string) => p.deltas.find((x) => x.name === n);
      const sd = [d('student-lad − student-kd'), d('student-lad − control-compute')].map((x) => (x ? fmtDelta(x) : '–'));
      L.push(`| ${p.name} | ${usageCells(p).join(' | ')} | ${sd.join(' | ')} |`);
    }
    L.push('');
    for (const p of r.points) L.push(`## Point \`${p.name}\``, '', ...pointSections(r, p, '###', seconds));
  }
  L.push('## Files', '');
  L.push(
    '- report.json: per point, per arm, per seed metrics and their summaries; its "timing" key (wall times, machine) is the only part that differs between runs of the same seeds.',
  );
  L.push(
    '- per unit (a seed of a point): <point>/seed-<s>/unit.json and <arm>/log.jsonl, ckpt-<step>.safetensors; the baseline stage in baseline-<key>/seed-<s>/.',
  );
  if (r.files.plots.length) L.push(`- plots (first point, first seed): ${r.files.plots.map((p) => `[${p}](${p})`).join(', ')}`);
  if (r.files.examples)
    L.push(`- examples: [${r.files.examples}](${r.files.examples}) (image, ground truth, the LAD teacher's noised label channel, then the predictions)`);
  L.push('');
  const m = r.timing.machine;
  L.push(
    `Timing: ${r.timing.totalSeconds.toFixed(0)} s on ${m.cpus} × ${m.cpuModel} (${m.threads} threads${m.device && m.device !== 'cpu' ? `, device ${m.device}` : ''}).`,
    '',
  );
  return L.join('\n');
}

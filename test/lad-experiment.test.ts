// `lad experiment`: a reduced quick preset end to end through the API (report.json, report.md, PNGs,
// every arm, the label-usage verdict and the teacher diagnostics), determinism of report.json (minus
// "timing") across two runs and a resume, a grid run in two shards merged by `lad report` into the
// bits of an unsharded run, the CLI's parsing and its usage errors (exit 2), the verdicts.

import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../packages/lad/src/cli.ts';
import { Generator, tensor } from '@lad/tensor';
import {
  ARMS,
  ARM_NAMES,
  HELPED_MARGIN,
  armEvaluation,
  datasetInfo,
  loadExperimentData,
  pct,
  runUnit,
  type UnitResult,
  SINGLE_CLASS_SHARE,
  armsToRun,
  computeMatchedIterations,
  deterministicPart,
  experimentPreset,
  gridPoints,
  labelUsageVerdict,
  runExperiment,
  singleClassVerdict,
  teacherVerdict,
  topPredictedClass,
  stat,
  type ExperimentConfig,
  type ExperimentReport,
} from '../packages/lad/src/experiment/index.ts';
import { buildModel, modelPreset } from '../packages/lad/src/models/build.ts';
import { evaluate } from '../packages/lad/src/evaluate.ts';
import { DigitsSeg } from '../packages/lad/src/data/digits-seg.ts';
import { experimentConfigFromFlags } from '../packages/lad/src/cli/experiment.ts';
import { resolveLabelScale } from '../packages/lad/src/label-encoding.ts';
import { loadCheckpoint } from '@lad/nn';

const tmp = () => mkdtempSync(join(tmpdir(), 'lad-exp-'));

/** The quick preset scaled down to a few iterations per arm and a few val images. */
const tiny = (): ExperimentConfig =>
  experimentPreset('quick', [
    'iterations=3',
    'baseline.evalEvery=2',
    'teacher.evalEvery=2',
    'student.evalEvery=2',
    'baseline.checkpointEvery=2',
    'data.train=24',
    'data.val=6',
    'eval.limit=6',
    'eval.examples=2',
    'baseline.batchSize=4',
    'teacher.batchSize=4',
    'student.batchSize=4',
  ]);

async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [out, err]: string[][] = [[], []];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('runExperiment (reduced quick preset)', () => {
  it('writes the report with every arm, the label usage and the diagnostics, deterministically', { timeout: 120_000 }, async () => {
    const cfg = { ...tiny(), seeds: [0] };
    const [a, b] = [tmp(), tmp()];
    try {
      const quiet = { quiet: true, log: () => {} };
      const r1 = (await runExperiment(cfg, { outDir: a, ...quiet }))!;
      for (const f of ['report.json', 'report.md', 'losses.png', 'val-miou.png', 'examples.png', 'config.json', 'seed-0/unit.json'])
        expect(existsSync(join(a, f)), f).toBe(true);
      for (const p of r1.files.plots) expect(readFileSync(join(a, p)).subarray(1, 4).toString()).toBe('PNG');
      expect(r1.points).toHaveLength(1);
      const arms = r1.points[0].arms;
      expect(Object.keys(arms)).toEqual(['baseline-start', ...ARM_NAMES]);
      for (const arm of ARM_NAMES) {
        expect(arms[arm]!.perSeed).toHaveLength(1);
        expect(Number.isFinite(arms[arm]!.mIoU.mean)).toBe(true);
        expect(arms[arm]!.trainFlops).toBeGreaterThan(0);
        expect(existsSync(join(a, 'seed-0', arm, 'log.jsonl'))).toBe(true);
      }
      // FLOPs: a dual-path teacher step is 6 forwards, a KD student step 4, a control step 3 (same batch here)
      const f = (n: (typeof ARM_NAMES)[number]) => arms[n]!.trainFlops / arms[n]!.perSeed[0].iterations;
      expect(f('teacher-lad') / f('control')).toBeCloseTo(2, 10);
      expect(f('student-lad') / f('control')).toBeCloseTo(4 / 3, 10);
      expect(arms['control-compute']!.perSeed[0].iterations).toBe(computeMatchedIterations(cfg, cfg.lad));
      expect(Math.abs(arms['control-compute']!.trainFlops - arms['teacher-lad']!.trainFlops - arms['student-lad']!.trainFlops)).toBeLessThanOrEqual(
        f('control') / 2,
      );
      for (const t of ['teacher-nocons', 'teacher-lad'] as const) {
        const d = arms[t]!.diagnostics!;
        expect(d).toBeDefined();
        for (const k of ['encoded', 'zeros', 'otherImage', 'fixedCode', 'agreement'] as const) expect(Number.isFinite(d[k].mean)).toBe(true);
        expect(typeof d.verdict.text).toBe('string');
      }
      expect(arms['teacher-nolabel']!.diagnostics).toBeUndefined();
      const usage = r1.points[0].labelUsage!;
      expect(usage.overNoLabel!.perSeed[0]).toBeCloseTo(arms['teacher-lad']!.diagnostics!.encoded.mean - arms['teacher-nolabel']!.mIoU.mean, 10);
      expect(usage.fixedOverNoLabel!.perSeed[0]).toBeCloseTo(arms['teacher-lad']!.diagnostics!.fixedCode.mean - arms['teacher-nolabel']!.mIoU.mean, 10);
      const md = readFileSync(join(a, 'report.md'), 'utf8');
      for (const arm of ARM_NAMES) expect(md).toContain(`| ${arm} |`);
      // the label usage comes first, then the students against the controls with their compute
      const at = (re: RegExp) => md.search(re);
      expect(at(/## Label usage of the LAD teacher/)).toBeGreaterThan(0);
      expect(at(/## Label usage/)).toBeLessThan(at(/## Students against the controls, with their compute/));
      expect(at(/## Students against/)).toBeLessThan(at(/## Every arm/));
      expect(md).toContain(usage.text);
      expect(md).toMatch(/## Teacher diagnostics/);
      expect(md).toMatch(/One seed only/);
      // 3 iterations teach nothing: the starting point predicts background everywhere, and the report says so
      expect(arms['baseline-start']!.singleClass?.text).toMatch(/predicts class 'background' almost everywhere: it has not learnt the task at this budget/);
      expect(JSON.parse(readFileSync(join(a, 'report.json'), 'utf8')).points[0].arms['baseline-start'].singleClass.seeds).toEqual([0]);
      // the single-class verdict is there exactly for the arms whose top class took > 98% of the pixels
      for (const [name, arm] of Object.entries(arms)) {
        const top = arm.perSeed[0].topClass;
        expect(top.share).toBeGreaterThan(0);
        expect(arm.singleClass !== null).toBe(top.share > SINGLE_CLASS_SHARE);
        expect(md.includes(`**${name}**: ${arm.singleClass?.text}`)).toBe(arm.singleClass !== null);
      }
      const json = JSON.parse(readFileSync(join(a, 'report.json'), 'utf8'));
      expect(json.timing.machine.cpus).toBeGreaterThan(0);

      // the same seed → the same report.json bits, "timing" aside
      await runExperiment(cfg, { outDir: b, ...quiet });
      const strip = (dir: string) => JSON.stringify(deterministicPart(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))));
      expect(strip(b)).toBe(strip(a));

      // resuming a finished run loads every arm (no training) and gives the same report
      const before = readFileSync(join(a, 'seed-0', 'teacher-lad', 'log.jsonl'), 'utf8');
      await runExperiment(cfg, { outDir: a, resume: true, ...quiet });
      expect(readFileSync(join(a, 'seed-0', 'teacher-lad', 'log.jsonl'), 'utf8')).toBe(before);
      expect(strip(a)).toBe(strip(b));
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it("runs a unit in memory (no outDir) as on disk, watched; a checkpoint names its arm, seed and point and scores the unit's mIoU", {
    timeout: 120_000,
  }, async () => {
    const cfg: ExperimentConfig = { ...tiny(), seeds: [0], arms: ['student-lad', 'control'] };
    const out = tmp();
    try {
      await runExperiment(cfg, { outDir: out, quiet: true, log: () => {} });
      const onDisk = JSON.parse(readFileSync(join(out, 'seed-0', 'unit.json'), 'utf8')) as UnitResult;
      const data = loadExperimentData(cfg.data);
      const dataset = datasetInfo(data, cfg.eval.limit);
      const events: string[] = [];
      const cwd = readdirSync('.').sort();
      const unit = { ...cfg, lad: resolveLabelScale(cfg.lad, dataset.imageStd) };
      const { result } = await runUnit(unit, {}, '', 0, {
        outDir: null,
        data,
        dataset,
        device: 'cpu',
        resume: false,
        quiet: true,
        owner: 'test',
        log: () => {},
        watch: {
          start: (arm, n) => void events.push(`${arm} start ${n}`),
          step: (arm, e) => void (e.step === 1 && events.push(`${arm} step 1`)),
          done: (arm, m) => void events.push(`${arm} done ${m.mIoU}`),
        },
      });
      expect(readdirSync('.').sort()).toEqual(cwd);
      expect(JSON.parse(JSON.stringify(result.arms))).toEqual(onDisk.arms); // every metric, bit for bit (timing aside)
      expect(events).toEqual(
        ['baseline-start', 'control', 'teacher-lad', 'student-lad'].flatMap((a) => [
          `${a} start 3`,
          `${a} step 1`,
          `${a} done ${onDisk.arms[a as 'control']!.mIoU}`,
        ]),
      );

      const ck = loadCheckpoint(join(out, 'seed-0', 'teacher-lad', 'ckpt-00000003.safetensors'));
      expect([ck.extra.arm, ck.extra.seed, ck.extra.point]).toEqual(['teacher-lad', '0', '']);
      const model = buildModel(JSON.parse(ck.extra.model), { generator: new Generator(5) });
      model.loadStateDict(ck.model, { strict: true });
      const r = await armEvaluation(onDisk.config, 'teacher-lad', 0, data.val, onDisk.dataset)(model);
      expect(pct(r.mIoU)).toBe(onDisk.arms['teacher-lad']!.mIoU);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('runs a grid in two shards into one folder, shares the baseline stage, and lad report merges them into the unsharded bits', {
    timeout: 120_000,
  }, async () => {
    const cfg: ExperimentConfig = {
      ...tiny(),
      seeds: [0, 1],
      arms: ['teacher-lad', 'teacher-nolabel'],
      sweep: [{ path: 'lad.consWeight', values: [0, 5] }],
      eval: { ...tiny().eval, examples: 0 },
    };
    const [a, b] = [tmp(), tmp()];
    try {
      const quiet = { quiet: true, log: () => {} };
      const whole = (await runExperiment(cfg, { outDir: a, ...quiet }))!;
      expect(whole.points.map((p) => p.name)).toEqual(['lad.consWeight=0', 'lad.consWeight=5']);
      expect(Object.keys(whole.points[0].arms)).toEqual(['baseline-start', 'teacher-nolabel', 'teacher-lad']);
      expect(readFileSync(join(a, 'report.md'), 'utf8')).toMatch(/## Grid summary: `lad.consWeight`/);
      // shard 0 of 2 runs units 0 and 2 (point-major): it cannot report alone
      expect(await runExperiment(cfg, { outDir: b, ...quiet, shard: { index: 0, count: 2 } })).toBeNull();
      expect([existsSync(join(b, 'lad.consWeight=0', 'seed-0', 'unit.json')), existsSync(join(b, 'lad.consWeight=0', 'seed-1', 'unit.json'))]).toEqual([
        true,
        false,
      ]);
      await expect(main(['report', b], { out: () => {}, err: () => {} })).resolves.toBe(2);
      const last = await runExperiment(cfg, { outDir: b, ...quiet, shard: { index: 1, count: 2 } });
      expect(last).not.toBeNull(); // the last shard to finish writes the report
      const baselines = readdirSync(b).filter((d) => d.startsWith('baseline-'));
      expect(baselines).toHaveLength(1); // both grid points started from the same baseline per seed
      const r = await runMain(['report', b]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/lad.consWeight=5: val mIoU over 2 seed/);
      const strip = (dir: string) => JSON.stringify(deterministicPart(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ExperimentReport));
      expect(strip(b)).toBe(strip(a));
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });
});

describe('the arm table', () => {
  it('adds the teachers of chosen students, keeps table order, and isolates the labels', () => {
    expect(armsToRun(null).map((a) => a.name)).toEqual(ARM_NAMES);
    expect(armsToRun(['student-lad', 'student-kd']).map((a) => a.name)).toEqual(['teacher-nolabel', 'teacher-lad', 'student-kd', 'student-lad']);
    const lad = experimentPreset('quick').lad;
    const arm = (n: string) => ARMS.find((x) => x.name === n)!;
    // student-kd and student-lad differ only in their teacher and the distillation code
    const [kd, sl] = [arm('student-kd').lad(lad), arm('student-lad').lad(lad)];
    expect({ ...kd, encodeDistill: null }).toEqual({ ...sl, encodeDistill: null });
    expect(kd.encodeDistill.codeDist).toBe('zeros');
    // teacher-nolabel is the LAD teacher's recipe on a zero channel
    const [nl, tl] = [arm('teacher-nolabel').lad(lad), arm('teacher-lad').lad(lad)];
    expect({ ...nl, encodeTrain: null }).toEqual({ ...tl, encodeTrain: null });
    expect([nl.encodeTrain.codeDist, arm('teacher-nolabel').recipe, arm('teacher-lad').recipe]).toEqual(['zeros', 'teacher', 'teacher']);
    // the control is the student recipe with the KD term off
    expect([arm('control').lad(lad).kdWeight, arm('control').recipe, arm('control').teacher]).toEqual([0, 'student', null]);
  });

  it('makes a grid of every combination, last axis fastest', () => {
    const cfg = {
      ...experimentPreset('quick'),
      sweep: [
        { path: 'labelScale', values: [1, 'auto'] },
        { path: 'size', values: [48, 96] },
      ],
    };
    const pts = gridPoints(cfg);
    expect(pts.map((p) => p.name)).toEqual(['labelScale=1,size=48', 'labelScale=1,size=96', 'labelScale=auto,size=48', 'labelScale=auto,size=96']);
    expect(pts[1].cfg.data.kind === 'digits-seg' && pts[1].cfg.data.size).toBe(96);
    // digits-seg keeps its digits and strokes in proportion to the canvas (quick: 32-44 px, 2 passes at 48)
    expect(pts[1].cfg.data.kind === 'digits-seg' && [pts[1].cfg.data.options?.digitSize, pts[1].cfg.data.options?.thickenPasses]).toEqual([[64, 88], 4]);
    expect([pts[1].cfg.lad.encodeTrain.scale, pts[1].cfg.lad.encodeDistill.scale, pts[3].cfg.lad.encodeTeacherEval.scale]).toEqual([1, 1, 'auto']);
    expect(gridPoints(experimentPreset('quick')).map((p) => p.name)).toEqual(['']);
  });

  it('says the teacher is helped only when own labels beat the no-label teacher and zeros by the margin', () => {
    const d = (v: number) => ({ name: 'd', perSeed: [v], stat: stat([v]) });
    expect(labelUsageVerdict(d(HELPED_MARGIN), d(HELPED_MARGIN), null).helped).toBe(true);
    expect(labelUsageVerdict(d(HELPED_MARGIN - 0.1), d(20), null)).toMatchObject({ helped: false });
    expect(labelUsageVerdict(d(10), d(1), null).text).toMatch(/NOT helped/);
    expect(labelUsageVerdict(null, d(10), null).helped).toBe(false);
  });
});

describe('teacherVerdict', () => {
  it('says plainly that the teacher ignores its labels when the three mIoUs are equal', () => {
    const v = teacherVerdict({ encoded: 55.2, zeros: 55.2, otherImage: 55.2 });
    expect(v.ignoresLabels).toBe(true);
    expect(v.text).toMatch(/The teacher is ignoring its labels/);
    expect(teacherVerdict({ encoded: 55.9, zeros: 55.2, otherImage: 55.0 }).ignoresLabels).toBe(true);
  });
  it('says the teacher uses its labels when they lift it above zeros', () => {
    const v = teacherVerdict({ encoded: 80, zeros: 50, otherImage: 30 });
    expect(v).toMatchObject({ ignoresLabels: false, usesLabels: true });
    expect(v.text).not.toMatch(/ignoring/);
    expect(v.text).toMatch(/Another image's labels pull it below zeros/);
    expect(teacherVerdict({ encoded: 50, zeros: 52, otherImage: 40 })).toMatchObject({ ignoresLabels: false, usesLabels: false });
  });
  it('stat gives mean, sample std and range', () => {
    expect(stat([1, 2, 3])).toEqual({ mean: 2, std: 1, min: 1, max: 3, n: 3 });
    expect(stat([4]).std).toBe(0);
  });
});

describe('single-class verdict', () => {
  const names = ['background', '0', '1', '2'];
  it('finds a model whose classifier always picks one class, and says it has not learnt the task', async () => {
    const val = new DigitsSeg('val', { val: 4, size: 32, digitSize: [16, 24], classes: [0, 1, 2] });
    const model = buildModel(modelPreset('tiny', 'fcn', { inChannels: 4, numClasses: 4, aux: false }), { generator: new Generator(0) });
    const sd = model.stateDict();
    const key = Object.keys(sd).find((k) => k.endsWith('decodeHead.convSeg.bias'))!;
    sd[key] = tensor([0, 0, 50, 0]); // class 2 ('1') wins every pixel
    model.loadStateDict(sd);
    const r = await evaluate(model, val, { numClasses: 4 });
    const top = topPredictedClass(r.confusion, val.classNames);
    expect(top).toEqual({ classId: 2, className: '1', share: 100 });
    const v = singleClassVerdict([{ seed: 0, topClass: top }])!;
    expect(v.seeds).toEqual([0]);
    expect(v.text).toMatch(/^It predicts class '1' almost everywhere: it has not learnt the task at this budget \(100\.0% of/);
  });
  it('stays silent for a model that predicts several classes, and names the seeds that collapse', () => {
    const confusion = [
      [90, 5, 3, 2],
      [4, 30, 0, 0],
      [1, 0, 20, 2],
      [0, 1, 1, 25],
    ]; // column shares 51%, 19%, 13%, 16%
    const spread = topPredictedClass(confusion, names);
    expect(spread.classId).toBe(0);
    expect(spread.share).toBeCloseTo((100 * 95) / 184, 10);
    expect(singleClassVerdict([{ seed: 0, topClass: spread }])).toBeNull();
    const bg = topPredictedClass(
      [
        [500, 0, 0, 1],
        [40, 0, 0, 0],
        [30, 0, 0, 0],
        [20, 0, 0, 0],
      ],
      names,
    ); // 590 of 591
    expect(bg).toMatchObject({ classId: 0, className: 'background' });
    expect(bg.share).toBeGreaterThan(SINGLE_CLASS_SHARE);
    const v = singleClassVerdict([
      { seed: 0, topClass: spread },
      { seed: 1, topClass: bg },
      { seed: 2, topClass: bg },
    ])!;
    expect(v.seeds).toEqual([1, 2]);
    expect(v.text).toMatch(/^In seeds 1, 2 of 3 it predicts class 'background' almost everywhere: it has not learnt the task at this budget/);
    expect(
      singleClassVerdict([
        { seed: 3, topClass: bg },
        { seed: 4, topClass: bg },
      ])!.text,
    ).toMatch(/^In every seed \(3, 4\) it predicts class 'background'/);
    // exactly at the threshold is not "almost everywhere"
    expect(singleClassVerdict([{ seed: 0, topClass: { classId: 0, className: 'background', share: SINGLE_CLASS_SHARE } }])).toBeNull();
  });
});

describe('lad experiment (CLI)', () => {
  it('parses --preset, --seeds, --sweep, --set and --data', () => {
    const cfg = experimentConfigFromFlags({ preset: 'quick', seeds: '2', sweep: 'labelScale=1,10,100', set: 'teacher.iterations=7,lad.consLoss=mse' });
    expect(cfg.seeds).toEqual([0, 1]);
    expect(cfg.sweep).toEqual([{ path: 'labelScale', values: [1, 10, 100] }]);
    expect(cfg.teacher.iterations).toBe(7);
    expect(cfg.lad.consLoss).toBe('mse');
    expect(experimentConfigFromFlags({ preset: 'textured', seeds: '3,7' }).seeds).toEqual([3, 7]);
    expect(experimentConfigFromFlags({ preset: 'quick', sweep: 'lad.consWeight=0,5' }).sweep).toEqual([{ path: 'lad.consWeight', values: [0, 5] }]);
    expect(experimentConfigFromFlags({ preset: 'quick', sweep: 'consLoss=cwd,none' }).sweep[0].values).toEqual(['cwd', 'none']);
    expect(experimentConfigFromFlags({ preset: 'quick', sweep: ' size=48,96  outputStride=8,4 ' }).sweep).toEqual([
      { path: 'size', values: [48, 96] },
      { path: 'outputStride', values: [8, 4] },
    ]);
    expect(experimentConfigFromFlags({ preset: 'quick', sweep: 'labelScale=auto,2' }).sweep[0].values).toEqual(['auto', 2]);
    expect(experimentConfigFromFlags({ preset: 'quick', arms: 'teacher-lad,teacher-nolabel' }).arms).toEqual(['teacher-lad', 'teacher-nolabel']);
  });

  it.each([
    [['--preset', 'quik'], /unknown preset 'quik'; did you mean 'quick'\?/],
    [[], /--preset NAME is required/],
    [['--preset', 'quick', '--seeds', '0'], /--seeds takes a count N >= 1/],
    [['--preset', 'quick', '--seeds', 'x'], /--seeds takes/],
    [['--preset', 'quick', '--seeds', '1,1'], /repeated seeds/],
    [['--preset', 'quick', '--sweep', 'labelScale'], /--sweep: a sweep is KNOB=V1,V2/],
    [['--preset', 'quick', '--sweep', 'nosuch=1,2'], /--sweep: unknown knob 'nosuch'/],
    [['--preset', 'quick', '--sweep', 'lad.consWeight=a,b'], /lad.consWeight takes a number/],
    [['--preset', 'quick', '--sweep', 'lad.consLoss=cwd,l2'], /at grid point lad.consLoss=l2: lad.consLoss: got 'l2', expected one of cwd, pixelKL, mse, none/],
    [['--preset', 'quick', '--set', 'teacher.iterations'], /--set: a setting is KNOB=VALUE/],
    [['--preset', 'quick', '--arms', 'teacher-lda'], /--arms: unknown arm 'teacher-lda'; did you mean 'teacher-lad'\?/],
    [['--preset', 'quick', '--shard', '2/2'], /--shard takes I\/N with 0 <= I < N/],
    [['--preset', 'quick', '--shard', 'x'], /--shard takes I\/N/],
    [['--preset', 'full'], /give --data DIR/],
    [['--preset', 'full', '--data', '/nonexistent/lad-data'], /does not exist/],
    [['--preset', 'quick', '--bogus'], /unknown flag --bogus/],
    [['--preset', 'quick', 'extra'], /unexpected argument 'extra'/],
  ])('rejects %j with exit 2', async (args, message) => {
    const r = await runMain(['experiment', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('refuses a non-empty --out without --resume, and a missing one with it', async () => {
    const dir = tmp();
    try {
      writeFileSync(join(dir, 'x'), '');
      const r = await runMain(['experiment', '--preset', 'quick', '--out', dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is not empty; choose a new --out, or pass --resume/);
      const r2 = await runMain(['experiment', '--preset', 'quick', '--resume', '--out', join(dir, 'missing')]);
      expect(r2.code).toBe(2);
      expect(r2.stderr).toMatch(/--resume: .* does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help describes the flags and the command is listed', async () => {
    const r = await runMain(['experiment', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--preset NAME/);
    expect(r.stdout).toMatch(/--sweep/);
    expect((await runMain(['--help'])).stdout).toMatch(/experiment/);
  });
});

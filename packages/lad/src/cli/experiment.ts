// `lad experiment --preset <name> [--seeds N] [--sweep 'KNOB=V1,V2 KNOB=…'] [--set KNOB=V,…] [--arms A,…]
// [--shard I/N] [--out DIR] [--data DIR] [--resume] [--quiet]`: runs the LAD experiment of experiment/
// (the arms side by side, over seeds and a grid) into one run folder with report.json, report.md and
// PNG figures; and `lad report DIR [DIR…]`, which merges the finished units of sharded runs.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { EXPERIMENT_PRESETS, type ExperimentConfig } from '../presets.ts';
import {
  ARM_NAMES,
  NAMED_KNOBS,
  applySettings,
  fmtStat,
  parseSweep,
  reportExperiment,
  runExperiment,
  type ArmName,
  type ExperimentReport,
} from '../experiment/index.ts';
import { UsageError, formatFlags, intFlag, parseFlags, suggest, type CliIO, type FlagSpec, type CommandRun } from './args.ts';
import { setNumThreads } from '@lad/tensor';
import { DEVICE_FLAGS, parseDevice, withDevice } from './device.ts';
import { asUsage } from './run-config.ts';
import { ConfigError, validateExperimentConfig } from '../validate.ts';

const CMD = 'lad experiment';

const FLAGS: FlagSpec = {
  preset: { type: 'string', value: 'NAME', help: `${Object.keys(EXPERIMENT_PRESETS).join(' | ')} (required)` },
  seeds: { type: 'string', value: 'N|S,S,…', help: 'N seeds 0..N-1, or a comma-separated list of seeds (default 3)' },
  sweep: {
    type: 'string',
    value: "'KNOB=V,… KNOB=V,…'",
    help: "a grid: run the arms at every combination of the values, one axis per space-separated KNOB=V1,V2 (e.g. labelScale=1,10 or 'size=48,96 outputStride=8,4')",
  },
  set: { type: 'string', value: 'KNOB=V,…', help: 'override config fields (e.g. teacher.iterations=50,eval.limit=100)' },
  arms: { type: 'string', value: 'A,…', help: `run only these arms (and the teachers of chosen students): ${ARM_NAMES.join(', ')}` },
  threads: { type: 'string', value: 'N', help: 'CPU kernel threads of this process (default min(2, cores)); 1 for one shard per core' },
  shard: {
    type: 'string',
    value: 'I/N',
    help: 'run only the I-th of N slices of the (grid point, seed) units, 0 <= I < N; run all N (in parallel) into one --out, then lad report',
  },
  out: { type: 'string', value: 'DIR', help: 'run folder (default runs/<preset>-<timestamp>)' },
  'backbone-from': {
    type: 'string',
    value: 'FILE',
    help: "ImageNet ResNet weights (safetensors, CIRKD's or torchvision's names) for the starting point's backbone, the stem widened to 4 channels as the official code does; without it every model starts from a random init (full: the paper starts from ImageNet)",
  },
  data: { type: 'string', value: 'DIR', help: 'dataset folder in the folder layout (required by full; replaces the synthetic data of the others)' },
  resume: { type: 'boolean', help: 'continue an interrupted experiment in --out (same flags)' },
  quiet: { type: 'boolean', help: 'no per-step training progress' },
  ...DEVICE_FLAGS,
  help: { type: 'boolean', help: 'show this help' },
};

const USAGE = [
  `usage: ${CMD} --preset <${Object.keys(EXPERIMENT_PRESETS).join('|')}> [--seeds N] [--sweep 'KNOB=V1,V2 ...'] [--set KNOB=V,...] [--arms A,...] [--shard I/N] [--out DIR] [--data DIR] [--resume] [--quiet] [--device cpu|gpu [--gpu-mode MODE]]`,
  '',
  'Trains from a common starting point, on the same data order: the student recipe without KD (the',
  'control) and the same for the FLOPs of the LAD pipeline (control-compute), a teacher without labels',
  'of the LAD recipe, a label teacher without consistency, the LAD teacher, a student distilled from the',
  'no-label teacher and the LAD student. Reports first whether the LAD teacher is helped by its labels',
  "(own labels vs zeros vs another image's vs the fixed code vs the no-label teacher), then the students",
  'against the controls with their FLOPs, per-class IoU and teacher diagnostics (mIoU over all K classes).',
  "Presets: quick (digits-seg digits 0-2, tiny model), textured (textured-blobs), full (the paper's",
  'settings on --data DIR; the paper starts every model from an ImageNet ResNet-18: pass it with',
  '--backbone-from FILE, else every model starts from a random init and the numbers are those of models',
  "trained from scratch, not comparable with the paper's).",
  `Named knobs: ${Object.entries(NAMED_KNOBS)
    .map(([k, v]) => `${k} (${v.help})`)
    .join('; ')}.`,
  '',
  ...formatFlags(FLAGS),
].join('\n');

const timestamp = (d = new Date()) => {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
};

/** Builds the experiment config from the flags, or throws a UsageError saying what to change. */
export function experimentConfigFromFlags(flags: Record<string, string | boolean | undefined>): ExperimentConfig {
  const name = flags.preset;
  const names = Object.keys(EXPERIMENT_PRESETS);
  if (typeof name !== 'string' || name === '') throw new UsageError(`${CMD}: --preset NAME is required (one of ${names.join(', ')}).`);
  const preset = EXPERIMENT_PRESETS[name];
  if (!preset) {
    const guess = suggest(name, names);
    throw new UsageError(`${CMD}: unknown preset '${name}'${guess ? `; did you mean '${guess}'?` : '.'} The presets are ${names.join(', ')}.`);
  }
  let cfg: ExperimentConfig = structuredClone(preset);
  cfg.seeds = parseSeeds(flags.seeds);
  if (typeof flags.data === 'string') {
    if (flags.data === '') throw new UsageError(`${CMD}: --data needs a directory.`);
    cfg.data = { kind: 'folder', dir: resolve(flags.data), val: null };
  }
  if (cfg.data.kind === 'folder') {
    if (!cfg.data.dir)
      throw new UsageError(
        `${CMD}: preset '${name}' trains on a dataset folder: give --data DIR (the folder layout written by lad data export, or a converted real dataset).`,
      );
    if (!existsSync(cfg.data.dir)) throw new UsageError(`${CMD}: --data ${cfg.data.dir} does not exist.`);
    if (!existsSync(resolve(cfg.data.dir, 'dataset.json')))
      throw new UsageError(`${CMD}: --data ${cfg.data.dir} has no dataset.json; is it a folder in the layout of lad data export?`);
  }
  if (typeof flags['backbone-from'] === 'string') {
    cfg.backboneFrom = resolve(flags['backbone-from']);
    if (!existsSync(cfg.backboneFrom)) throw new UsageError(`${CMD}: --backbone-from ${cfg.backboneFrom} does not exist.`);
  }
  if (typeof flags.set === 'string') {
    try {
      cfg = applySettings(
        cfg,
        flags.set.split(',').filter((s) => s.trim() !== ''),
      );
    } catch (e) {
      throw new UsageError(`${CMD}: --set: ${(e as Error).message}`);
    }
  }
  if (typeof flags.sweep === 'string') {
    try {
      cfg.sweep = flags.sweep
        .split(/\s+/)
        .filter((s) => s !== '')
        .map((axis) => parseSweep(cfg, axis));
    } catch (e) {
      throw new UsageError(`${CMD}: --sweep: ${(e as Error).message}`);
    }
  }
  if (typeof flags.arms === 'string') {
    const arms = flags.arms
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '');
    const bad = arms.find((a) => !ARM_NAMES.includes(a as ArmName));
    if (bad !== undefined || arms.length === 0)
      throw new UsageError(
        `${CMD}: --arms: ${bad === undefined ? 'no arm given' : `unknown arm '${bad}'${suggest(bad, ARM_NAMES) ? `; did you mean '${suggest(bad, ARM_NAMES)}'?` : ''}`}; the arms are ${ARM_NAMES.join(', ')}.`,
      );
    cfg.arms = arms as ArmName[];
  }
  asUsage(CMD, () => validateExperimentConfig(cfg)); // every stage and sweep value, before anything trains
  return cfg;
}

function parseShard(v: string | boolean | undefined): { index: number; count: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(String(v).trim());
  const [index, count] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!m || count < 1 || index >= count)
    throw new UsageError(`${CMD}: --shard takes I/N with 0 <= I < N (e.g. 0/2 and 1/2 for two processes): got '${String(v)}'.`);
  return { index, count };
}

function parseSeeds(v: string | boolean | undefined): number[] {
  if (v === undefined) return [0, 1, 2];
  const text = String(v).trim();
  const bad = (why: string) =>
    new UsageError(`${CMD}: --seeds takes a count N >= 1 (seeds 0..N-1) or a comma-separated list of distinct integer seeds: got '${String(v)}' (${why}).`);
  if (text.includes(',')) {
    const seeds = text.split(',').map((s) => Number(s.trim()));
    if (seeds.some((s, i) => !Number.isSafeInteger(s) || text.split(',')[i].trim() === '')) throw bad('not integers');
    if (new Set(seeds).size !== seeds.length) throw bad('repeated seeds');
    return seeds;
  }
  const n = Number(text);
  if (text === '' || !Number.isSafeInteger(n) || n < 1) throw bad('not a positive integer');
  if (n > 100) throw bad('more than 100 seeds');
  return Array.from({ length: n }, (_, i) => i);
}

export const runExperimentCommand: CommandRun = async (args: string[], io: CliIO) => {
  const { flags, positionals } = parseFlags(CMD, args, FLAGS);
  if (flags.help) return (io.out(USAGE), 0);
  if (positionals.length > 0) throw new UsageError(`${CMD}: unexpected argument '${positionals[0]}' (every setting is a flag; see ${CMD} --help).`);
  const cfg = experimentConfigFromFlags(flags);
  const shard = parseShard(flags.shard);
  const threads = intFlag(CMD, flags, 'threads', undefined, 1);
  if (threads !== undefined) setNumThreads(threads);
  const choice = parseDevice(CMD, flags);
  if (flags.out === '') throw new UsageError(`${CMD}: --out needs a directory.`);
  const out = resolve(typeof flags.out === 'string' ? flags.out : `runs/${cfg.preset}-${timestamp()}`);
  const resume = flags.resume === true;
  if (resume) {
    if (!existsSync(out)) throw new UsageError(`${CMD}: --resume: ${out} does not exist; give the --out of the interrupted run.`);
    const saved = resolve(out, 'config.json');
    if (existsSync(saved) && readFileSync(saved, 'utf8') !== JSON.stringify(cfg, null, 2) + '\n') {
      throw new UsageError(
        `${CMD}: --resume: ${out}/config.json differs from the config of these flags; pass the same --preset/--seeds/--sweep/--set/--data as the interrupted run.`,
      );
    }
  } else if (existsSync(out) && readdirSync(out).length > 0 && !shard) {
    throw new UsageError(`${CMD}: ${out} is not empty; choose a new --out, or pass --resume to continue the run in it.`);
  } else if (shard && existsSync(resolve(out, 'config.json')) && readFileSync(resolve(out, 'config.json'), 'utf8') !== JSON.stringify(cfg, null, 2) + '\n') {
    throw new UsageError(
      `${CMD}: --shard: ${out}/config.json differs from the config of these flags; every shard takes the same --preset/--seeds/--sweep/--set/--arms/--data.`,
    );
  }

  const grid = cfg.sweep.map((s) => `${s.path}=${s.values.join(',')}`).join(' ');
  io.err(
    `${CMD}: preset ${cfg.preset}, seeds ${cfg.seeds.join(',')}${grid ? `, grid ${grid}` : ''}${shard ? `, shard ${shard.index}/${shard.count}` : ''} → ${out}`,
  );
  const report = await withDevice(CMD, choice, io, (device, deviceLabel) =>
    runExperiment(cfg, {
      outDir: out,
      resume: resume || shard !== undefined,
      shard,
      quiet: flags.quiet === true,
      log: (l) => io.err(l),
      device,
      deviceLabel,
    }).catch((e: unknown) => {
      if (e instanceof ConfigError) throw new UsageError(`${CMD}: ${e.message.replace(/^experiment: /, '')}`); // e.g. a backbone file that does not fit the model
      throw e;
    }),
  );
  if (report) printSummary(report, out, io);
  else io.out(`shard ${shard!.index}/${shard!.count} done; the other shards' units are not all finished yet: run lad report ${out} when they are.`);
  return 0;
};

/** The console summary of a report: label usage first, then every arm's mIoU. */
function printSummary(report: ExperimentReport, out: string, io: CliIO): void {
  for (const p of report.points) {
    io.out(`${p.name ? `${p.name}: ` : ''}val mIoU over ${p.seeds.length} seed(s) (mean ± std, points, all K classes):`);
    if (p.labelUsage) io.out(`  ${p.labelUsage.text}`);
    const width = Math.max(...Object.keys(p.arms).map((k) => k.length));
    for (const [name, a] of Object.entries(p.arms)) io.out(`  ${name.padEnd(width)}  ${fmtStat(a.mIoU).padEnd(12)} (${a.input})`);
    for (const d of p.deltas.filter((x) => x.name.startsWith('student-lad'))) io.out(`  ${d.name}: ${fmtStat(d.stat)}`);
    for (const [name, a] of Object.entries(p.arms)) if (a.singleClass) io.out(`  ${name}: ${a.singleClass.text}`);
  }
  io.out(
    `wrote ${out}/report.md, report.json and ${report.files.plots.length + (report.files.examples ? 1 : 0)} PNGs in ${report.timing.totalSeconds.toFixed(0)} s`,
  );
}

const REPORT_USAGE = [
  'usage: lad report DIR [DIR...]',
  '',
  'Merges the finished units of a lad experiment run folder (e.g. one written by --shard I/N processes)',
  'into DIR/report.json and DIR/report.md with plots; further DIRs hold units of the same experiment',
  'run elsewhere (same config.json). Fails naming the units that are not finished.',
].join('\n');

export const runReportCommand: CommandRun = async (args: string[], io: CliIO) => {
  const { flags, positionals } = parseFlags('lad report', args, { help: { type: 'boolean', help: 'show this help' } });
  if (flags.help) return (io.out(REPORT_USAGE), 0);
  if (positionals.length === 0) throw new UsageError(`lad report: give the run folder (the --out of lad experiment).\n${REPORT_USAGE}`);
  const [dir, ...from] = positionals.map((p) => resolve(p));
  for (const d of [dir, ...from])
    if (!existsSync(resolve(d, 'config.json'))) throw new UsageError(`lad report: ${d} has no config.json; give the --out folder of a lad experiment.`);
  let report: ExperimentReport;
  try {
    report = await reportExperiment(dir, { from });
  } catch (e) {
    throw new UsageError(`lad report: ${(e as Error).message}`);
  }
  printSummary(report, dir, io);
  return 0;
};

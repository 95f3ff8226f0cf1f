// `lad experiment --preset <name> [--seeds N] [--sweep KNOB=V1,V2,…] [--set KNOB=V,…] [--out DIR]
// [--data DIR] [--resume] [--quiet]`: runs the LAD experiment of experiment.ts (every control and LAD
// side by side, over seeds) into one run folder with report.json, report.md and PNG figures.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { EXPERIMENT_PRESETS, type ExperimentConfig } from '../presets.ts';
import { applySettings, fmtStat, parseSweep, runExperiment } from '../experiment.ts';
import { UsageError, formatFlags, parseFlags, suggest, type CliIO, type FlagSpec } from './args.ts';
import { DEVICE_FLAGS, parseDevice, withDevice } from './device.ts';
import { asUsage } from './run-config.ts';
import { validateExperimentConfig } from '../validate.ts';
import type { CommandRun } from '../cli.ts';

const CMD = 'lad experiment';

const FLAGS: FlagSpec = {
  preset: { type: 'string', value: 'NAME', help: `${Object.keys(EXPERIMENT_PRESETS).join(' | ')} (required)` },
  seeds: { type: 'string', value: 'N|S,S,…', help: 'N seeds 0..N-1, or a comma-separated list of seeds (default 3)' },
  sweep: { type: 'string', value: 'KNOB=V,…', help: 'run the teacher arm once per value and add a table (e.g. labelScale=1,10,100, lad.consWeight=0,5)' },
  set: { type: 'string', value: 'KNOB=V,…', help: 'override config fields (e.g. teacher.iterations=50,eval.limit=100)' },
  out: { type: 'string', value: 'DIR', help: 'run folder (default runs/<preset>-<timestamp>)' },
  data: { type: 'string', value: 'DIR', help: 'dataset folder in the folder layout (required by full; replaces the synthetic data of the others)' },
  resume: { type: 'boolean', help: 'continue an interrupted experiment in --out (same flags)' },
  quiet: { type: 'boolean', help: 'no per-step training progress' },
  ...DEVICE_FLAGS,
  help: { type: 'boolean', help: 'show this help' },
};

const USAGE = [
  `usage: ${CMD} --preset <${Object.keys(EXPERIMENT_PRESETS).join('|')}> [--seeds N] [--sweep KNOB=V1,V2,...] [--set KNOB=V,...] [--out DIR] [--data DIR] [--resume] [--quiet] [--device cpu|gpu [--gpu-mode MODE]]`,
  '',
  'Trains, on the same data and budget: the baseline continued (the fair control), a label teacher',
  'without consistency, the LAD teacher, a student distilled from a same-size teacher without labels,',
  'and the LAD student; reports val mIoU mean ± std over seeds, per-class IoU, and teacher diagnostics.',
  'Presets: quick (digits-seg digits 0-2, tiny model, ~7 min for 3 seeds on 2 cores), textured (textured-blobs + a',
  'label-scale sweep), full (the paper\'s settings on --data DIR).',
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
    if (!cfg.data.dir) throw new UsageError(`${CMD}: preset '${name}' trains on a dataset folder: give --data DIR (the folder layout written by lad data export, or a converted real dataset).`);
    if (!existsSync(cfg.data.dir)) throw new UsageError(`${CMD}: --data ${cfg.data.dir} does not exist.`);
    if (!existsSync(resolve(cfg.data.dir, 'dataset.json'))) throw new UsageError(`${CMD}: --data ${cfg.data.dir} has no dataset.json; is it a folder in the layout of lad data export?`);
  }
  if (typeof flags.set === 'string') {
    try {
      cfg = applySettings(cfg, flags.set.split(',').filter((s) => s.trim() !== ''));
    } catch (e) {
      throw new UsageError(`${CMD}: --set: ${(e as Error).message}`);
    }
  }
  if (typeof flags.sweep === 'string') {
    try {
      cfg.sweep = parseSweep(cfg, flags.sweep);
    } catch (e) {
      throw new UsageError(`${CMD}: --sweep: ${(e as Error).message}`);
    }
  }
  asUsage(CMD, () => validateExperimentConfig(cfg)); // every stage and sweep value, before anything trains
  return cfg;
}

function parseSeeds(v: string | boolean | undefined): number[] {
  if (v === undefined) return [0, 1, 2];
  const text = String(v).trim();
  const bad = (why: string) => new UsageError(`${CMD}: --seeds takes a count N >= 1 (seeds 0..N-1) or a comma-separated list of distinct integer seeds: got '${String(v)}' (${why}).`);
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
  if (flags.help) return io.out(USAGE), 0;
  if (positionals.length > 0) throw new UsageError(`${CMD}: unexpected argument '${positionals[0]}' (every setting is a flag; see ${CMD} --help).`);
  const cfg = experimentConfigFromFlags(flags);
  const choice = parseDevice(CMD, flags);
  if (flags.out === '') throw new UsageError(`${CMD}: --out needs a directory.`);
  const out = resolve(typeof flags.out === 'string' ? flags.out : `runs/${cfg.preset}-${timestamp()}`);
  const resume = flags.resume === true;
  if (resume) {
    if (!existsSync(out)) throw new UsageError(`${CMD}: --resume: ${out} does not exist; give the --out of the interrupted run.`);
    const saved = resolve(out, 'config.json');
    if (existsSync(saved) && readFileSync(saved, 'utf8') !== JSON.stringify(cfg, null, 2) + '\n') {
      throw new UsageError(`${CMD}: --resume: ${out}/config.json differs from the config of these flags; pass the same --preset/--seeds/--sweep/--set/--data as the interrupted run.`);
    }
  } else if (existsSync(out) && readdirSync(out).length > 0) {
    throw new UsageError(`${CMD}: ${out} is not empty; choose a new --out, or pass --resume to continue the run in it.`);
  }

  io.err(`${CMD}: preset ${cfg.preset}, seeds ${cfg.seeds.join(',')}${cfg.sweep ? `, sweep ${cfg.sweep.path}=${cfg.sweep.values.join(',')}` : ''} → ${out}`);
  const report = await withDevice(CMD, choice, io, (device, deviceLabel) => runExperiment(cfg, { outDir: out, resume, quiet: flags.quiet === true, log: (l) => io.err(l), device, deviceLabel }));
  io.out(`val mIoU over ${report.seeds.length} seed(s) (mean ± std, points):`);
  const width = Math.max(...Object.keys(report.arms).map((k) => k.length));
  for (const [name, a] of Object.entries(report.arms)) io.out(`  ${name.padEnd(width)}  ${fmtStat(a.mIoU).padEnd(12)} (${a.input})`);
  for (const [name, a] of Object.entries(report.arms)) if (a.diagnostics) io.out(`  ${name}: ${a.diagnostics.verdict.text}`);
  for (const [name, a] of Object.entries(report.arms)) if (a.singleClass) io.out(`  ${name}: ${a.singleClass.text}`);
  io.out(`wrote ${out}/report.md, report.json and ${report.files.plots.length + (report.files.examples ? 1 : 0)} PNGs in ${report.timing.totalSeconds.toFixed(0)} s`);
  return 0;
};

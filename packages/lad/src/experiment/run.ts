// Runs an experiment: every unit (one seed of one grid point, unit.ts) in point-major order, or the
// I-th of N slices of them (`shard`), each into its own folder, resumable; then, once every unit of
// the grid is done, merges the units into report.json / report.md with plots and examples
// (`reportExperiment`, which `lad report DIR` also calls).
//
// report.json is deterministic: the same config and seeds give the same bits on CPU, except the
// "timing" key (wall times, machine), which a comparison must drop (`deterministicPart`).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, arch as osArch } from 'node:os';
import { join } from 'node:path';
import { type Device, Generator, ValueError, getNumThreads } from '@lad/tensor';
import { loadSafetensors, type StateDict } from '@lad/nn';
import type { ExperimentConfig, ExperimentData } from '../presets.ts';
import { digitsSeg } from '../data/digits-seg.ts';
import { texturedBlobs } from '../data/textured-blobs.ts';
import { FolderDataset } from '../data/folder.ts';
import { UNIT_NORMALIZATION, type Normalization, type SegDataset } from '../data/types.ts';
import { resolveLabelScale } from '../label-encoding.ts';
import type { SegModel } from '../models/types.ts';
import { buildModel } from '../models/build.ts';
import { loadPretrainedBackbone_ } from '../models/pretrained.ts';
import { ConfigError, validateExperimentConfig } from '../validate.ts';
import { gridPoints } from './knobs.ts';
import { aggregatePoint, type ExperimentReport, type UnitResult } from './report.ts';
import { baselineKey, datasetInfo, jsonNumbers, readUnit, runUnit, type UnitRun } from './unit.ts';
import { examplesGrid, readArmLog, writePlots } from './figures.ts';
import { renderReportMd } from './render.ts';

/** The train and val sets of an experiment's data, and their normalization. */
export interface ExperimentDataSets {
  train: SegDataset;
  val: SegDataset;
  normalization: Normalization;
}

/** The datasets of `spec`; a folder is checked to exist up front. */
export function loadExperimentData(spec: ExperimentData): ExperimentDataSets {
  if (spec.kind === 'folder') {
    if (!spec.dir)
      throw new ValueError(`the dataset folder is not set: give one (--data DIR) written in the folder layout (lad data export, or a converted real dataset).`);
    if (!existsSync(spec.dir)) throw new ValueError(`the dataset folder ${spec.dir} does not exist.`);
    const train = new FolderDataset(spec.dir, 'train'),
      val = new FolderDataset(spec.dir, 'val');
    return { train, val, normalization: train.normalization };
  }
  // cached: every arm of every seed reads the same few hundred samples many times
  const base = { train: spec.train, val: spec.val, seed: spec.seed, size: spec.size, cache: true };
  const { train, val } = spec.kind === 'digits-seg' ? digitsSeg({ ...spec.options, ...base }) : texturedBlobs({ ...spec.options, ...base });
  return { train, val, normalization: train.normalization ?? UNIT_NORMALIZATION };
}

/** Options of runExperiment: the folder, resume, shard, output and device. */
export interface RunExperimentOptions {
  outDir: string;
  /** Continue an interrupted experiment in outDir: finished units are skipped, finished arms loaded, the running one resumed. */
  resume?: boolean;
  /** Run only the units i with i % count === index (point-major order), e.g. one per core or job-array task. */
  shard?: { index: number; count: number };
  /** No training progress output. */
  quiet?: boolean;
  /** Where experiment-level progress lines go (default stderr). */
  log?: (line: string) => void;
  /** Where trainModel's progress goes (default stderr). */
  print?: (text: string) => void;
  /**
   * Where every arm trains and is evaluated (default 'cpu'); 'gpu' needs `await initBackend('gpu', …)`
   * first. Random draws stay on the CPU generators, so the numbers differ from a CPU run only by
   * float rounding (report.json's bits are reproducible per device and GPU mode).
   */
  device?: Device;
  /** How the device is described in report.json's timing.machine.device (e.g. 'gpu (webasm)'); default `device`. */
  deviceLabel?: string;
}

/** Runs this process's units and, when the whole grid is done, writes the report (else returns null). */
export async function runExperiment(cfg: ExperimentConfig, opts: RunExperimentOptions): Promise<ExperimentReport | null> {
  const t0 = performance.now();
  const log = opts.log ?? ((l: string) => void process.stderr.write(l + '\n'));
  const { outDir } = opts;
  const device = opts.device ?? 'cpu';
  const shard = opts.shard ?? { index: 0, count: 1 };
  if (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count)
    throw new ValueError(`experiment: shard: got ${shard.index}/${shard.count}, expected I/N with 0 <= I < N.`);
  validateExperimentConfig(cfg); // every stage of every grid point, before anything trains
  // each grid point's data (a knob like size changes it), loaded once per distinct spec
  const cache = new Map<string, { data: ExperimentDataSets; dataset: UnitResult['dataset'] }>();
  const dataOf = (c: ExperimentConfig) => {
    const key = JSON.stringify(c.data);
    if (!cache.has(key)) {
      const data = loadExperimentData(c.data);
      cache.set(key, { data, dataset: datasetInfo(data, c.eval.limit) });
    }
    return cache.get(key)!;
  };
  const points = gridPoints(cfg).map((p) => ({ ...p, cfg: { ...p.cfg, lad: resolveLabelScale(p.cfg.lad, dataOf(p.cfg).dataset.imageStd) } }));
  // the pretrained backbone: read once, and tried on every grid point's model before anything trains
  let pretrained: StateDict | null = null;
  if (cfg.backboneFrom) {
    try {
      pretrained = loadSafetensors(cfg.backboneFrom).tensors;
      for (const p of points) {
        const m = buildModel({ ...p.cfg.model, inChannels: 4, numClasses: dataOf(p.cfg).dataset.numClasses }, { generator: new Generator(0) });
        loadPretrainedBackbone_(m, pretrained, { source: cfg.backboneFrom });
      }
    } catch (e) {
      throw new ConfigError('backboneFrom', `experiment: backboneFrom: ${(e as Error).message.replace(/^backbone-from: /, '')}`);
    }
  }
  mkdirSync(outDir, { recursive: true });
  if (!existsSync(join(outDir, 'config.json'))) writeFileSync(join(outDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');

  const units = points.flatMap((p) => cfg.seeds.map((seed) => ({ p, seed })));
  const mine = units.filter((_, i) => i % shard.count === shard.index);
  const owner = shard.count === 1 ? 'main' : `${shard.index}-of-${shard.count}`;
  log(
    `[experiment] ${mine.length} of ${units.length} units (seeds × grid points); label scale ${[...new Set(points.map((p) => `${p.cfg.lad.encodeTrain.scale} (image std ${dataOf(p.cfg).dataset.imageStd.toFixed(3)})`))].join(', ')}`,
  );
  let first: UnitRun | null = null;
  let firstData: ExperimentDataSets | null = null;
  for (const [i, { p, seed }] of mine.entries()) {
    const done = readUnit(outDir, p.name, seed);
    if (done && i > 0) continue; // the first unit is loaded (not retrained) for the examples grid
    const { data, dataset } = dataOf(p.cfg);
    const run = await runUnit(p.cfg, p.values, p.name, seed, {
      outDir,
      data,
      dataset,
      device,
      resume: opts.resume === true || done !== null,
      quiet: opts.quiet ?? false,
      owner,
      log,
      print: opts.print,
      pretrained,
    });
    if (!first) [first, firstData] = [run, data];
  }
  const finished = units.map(({ p, seed }) => readUnit(outDir, p.name, seed));
  if (finished.some((u) => u === null)) {
    log(`[experiment] ${finished.filter((u) => u).length} of ${units.length} units are done; \`lad report ${outDir}\` once the other shards finish.`);
    return null;
  }
  return reportExperiment(outDir, {
    totalSeconds: (performance.now() - t0) / 1000,
    device: opts.deviceLabel ?? device,
    examples:
      first && firstData && first.result.pointName === points[0].name && first.result.seed === cfg.seeds[0]
        ? { models: first.models, data: firstData, device }
        : null,
  });
}

/** Options of reportExperiment: other shards' folders, timing, device, and the models for the examples grid. */
export interface ReportOptions {
  /** Further folders that hold units of the same experiment (shards run elsewhere); outDir is searched first. */
  from?: string[];
  totalSeconds?: number;
  device?: string;
  /** The first unit's models, to draw the examples grid. */
  examples?: { models: Partial<Record<string, SegModel>>; data: ExperimentDataSets; device: Device } | null;
}

/**
 * Merges the finished units of a run folder (its config.json's grid and seeds) into report.json and
 * report.md, with plots from the first unit's logs; throws naming the units that are missing.
 */
export async function reportExperiment(outDir: string, opts: ReportOptions = {}): Promise<ExperimentReport> {
  const cfgPath = join(outDir, 'config.json');
  if (!existsSync(cfgPath)) throw new ValueError(`report: ${outDir} has no config.json; is it the --out of a lad experiment?`);
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as ExperimentConfig;
  const points = gridPoints(cfg);
  const dirs = [outDir, ...(opts.from ?? [])];
  for (const d of opts.from ?? []) {
    const other = join(d, 'config.json');
    if (!existsSync(other) || readFileSync(other, 'utf8') !== readFileSync(cfgPath, 'utf8'))
      throw new ValueError(`report: ${d}/config.json is missing or differs from ${cfgPath}; only shards of one experiment can be merged.`);
  }
  const missing: string[] = [];
  const where = new Map<UnitResult, string>();
  const byPoint = points.map((p) =>
    cfg.seeds.map((seed) => {
      for (const d of dirs) {
        const u = readUnit(d, p.name, seed);
        if (u) return (where.set(u, d), u);
      }
      missing.push(`${p.name || '(the only point)'} seed ${seed}`);
      return null!;
    }),
  );
  if (missing.length)
    throw new ValueError(
      `report: ${missing.length} unit(s) of ${outDir} are not finished: ${missing.slice(0, 5).join('; ')}${missing.length > 5 ? '; …' : ''}. Run the missing shards (or lad experiment --resume).`,
    );
  const reports = byPoint.map((units) => aggregatePoint(units));
  const u0 = byPoint[0][0];
  const d0 = where.get(u0)!;
  const dirOf = (arm: string) =>
    arm === 'baseline-start' ? join(d0, `baseline-${baselineKey(u0.config)}`, `seed-${u0.seed}`, arm) : join(d0, u0.pointName, `seed-${u0.seed}`, arm);
  const logs = Object.keys(u0.arms)
    .map((arm) => readArmLog(arm, dirOf(arm)))
    .filter((l) => l.history.length > 0);
  const plots = logs.length ? writePlots(outDir, logs, u0.seed) : [];
  let examples: string | null = null;
  if (opts.examples && cfg.eval.examples > 0) {
    examples = 'examples.png';
    writeFileSync(
      join(outDir, examples),
      await examplesGrid(opts.examples.data.val, opts.examples.data.normalization, opts.examples.models, u0.config, u0.seed, opts.examples.device),
    );
  }
  const report: ExperimentReport = {
    version: 2,
    preset: cfg.preset,
    dataset: u0.dataset,
    points: reports,
    sweep: cfg.sweep,
    files: { reportMd: 'report.md', plots, examples },
    timing: {
      totalSeconds: opts.totalSeconds ?? 0,
      units: byPoint.flat().map((u) => ({ point: u.pointName, seed: u.seed, arms: u.timing })),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        threads: getNumThreads(),
        memGiB: Math.round(totalmem() / 2 ** 30),
        platform: `${platform()}-${osArch()}`,
        node: process.version,
        device: opts.device ?? 'cpu',
      },
    },
  };
  writeFileSync(join(outDir, 'report.json'), JSON.stringify(report, jsonNumbers, 2) + '\n');
  writeFileSync(join(outDir, 'report.md'), renderReportMd(report));
  return report;
}

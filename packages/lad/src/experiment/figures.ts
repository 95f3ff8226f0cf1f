// The experiment's figures, drawn from the arms' log.jsonl files (so `lad report` can redraw them):
// training losses, validation mIoU with every stage where it happens on one step axis (the baseline
// stage first, the fine-tuning arms after it), each arm's loss parts, and the examples grid
// (image, ground truth, the teacher's label channel, predictions) from models still in memory.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Device, Generator, interpolate, noGrad, stack, type Tensor } from '@lad/tensor';
import { readLog, type HistoryEntry } from '../train.ts';
import type { EvalResult } from '../evaluate.ts';
import type { SegModel } from '../models/types.ts';
import type { SegDataset, Normalization } from '../data/types.ts';
import { encodeLabels, withLabelChannel } from '../label-encoding.ts';
import type { ExperimentConfig } from '../presets.ts';
import { linePlotPng, segGridPng, classPalette, labelToRgb, channelToRgb, imageToRgb, type GridCell } from '../report/index.ts';
import type { ArmName } from './arms.ts';
import { pct } from './report.ts';

/** An arm's logged curves: loss per step, validation results per step. */
export interface ArmLog {
  name: string;
  history: HistoryEntry[];
  evals: { step: number; result: EvalResult }[];
}

/** The curves of an arm's run folder. */
export function readArmLog(name: string, runDir: string): ArmLog {
  const lines = readLog(join(runDir, 'log.jsonl'));
  return {
    name,
    history: lines.flatMap((l) => (l.type === 'step' ? [l] : [])),
    evals: lines.flatMap((l) => (l.type === 'eval' ? [{ step: l.step, result: l.result }] : [])),
  };
}

const smooth = (pts: [number, number][], w: number): [number, number][] =>
  pts.map(([x], i) => {
    const win = pts.slice(Math.max(0, i - w + 1), i + 1);
    return [x, win.reduce((a, p) => a + p[1], 0) / win.length];
  });

/** Writes losses.png, val-miou.png and loss-<arm>.png for one seed's arms; returns the file names. */
export function writePlots(outDir: string, logs: ArmLog[], seed: number): string[] {
  const files: string[] = [];
  const write = (file: string, png: Uint8Array) => (writeFileSync(join(outDir, file), png), files.push(file));
  const base = logs.find((l) => l.name === 'baseline-start');
  const offset = (l: ArmLog) => (l.name === 'baseline-start' || !base ? 0 : (base.history.at(-1)?.step ?? 0)); // fine-tuning starts where the baseline ends
  write(
    'losses.png',
    linePlotPng({
      title: `training loss, seed ${seed} (mean of 10 steps)`,
      xLabel: 'step (fine-tuning after the baseline stage)',
      yLabel: 'loss',
      logY: true,
      series: logs.map((l) => ({
        name: l.name,
        points: smooth(
          l.history.map((h) => [offset(l) + h.step, h.loss]),
          10,
        ),
      })),
    }),
  );
  write(
    'val-miou.png',
    linePlotPng({
      title: `val mIoU, seed ${seed} (teachers with labels)`,
      xLabel: 'step (fine-tuning after the baseline stage)',
      yLabel: 'mIoU (%)',
      series: logs.map((l) => ({ name: l.name, points: l.evals.map((e) => [offset(l) + e.step, pct(e.result.mIoU)]) })),
    }),
  );
  for (const l of logs) {
    const keys = [...new Set(l.history.flatMap((e) => Object.keys(e.parts)))].filter((k) => k !== 'total');
    write(
      `loss-${l.name}.png`,
      linePlotPng({
        title: `${l.name}: loss and its parts, seed ${seed}`,
        xLabel: 'step',
        yLabel: 'loss',
        series: [
          { name: 'total', points: l.history.map((e) => [e.step, e.loss]) },
          ...keys.map((k) => ({ name: k, points: l.history.map((e): [number, number] => [e.step, e.parts[k] ?? NaN]) })),
        ],
      }),
    );
  }
  return files;
}

/** Example columns after image, ground truth and the label channel: the arms that ran, in this order. */
const EXAMPLE_ARMS: [ArmName, string][] = [
  ['teacher-lad', 'LAD teacher'],
  ['control', 'control'],
  ['control-compute', 'control (FLOPs)'],
  ['student-kd', 'KD student'],
  ['student-lad', 'LAD student'],
];

/**
 * Rows: the first val images. Columns: image, ground truth, the LAD teacher's label channel, then the
 * predictions of the arms in `models`. Inputs are built on the CPU and moved to `device`.
 */
export async function examplesGrid(
  val: SegDataset,
  normalization: Normalization,
  models: Partial<Record<string, SegModel>>,
  cfg: ExperimentConfig,
  seed: number,
  device: Device,
): Promise<Uint8Array> {
  const K = val.numClasses;
  const n = Math.min(cfg.eval.examples, val.length);
  const palette = classPalette(K);
  const gen = new Generator(seed);
  const shown = EXAMPLE_ARMS.filter(([a]) => models[a]);
  const rows: { cells: GridCell[] }[] = [];
  for (let i = 0; i < n; i++) {
    const s = val.get(i);
    const [, H, W] = s.image.shape;
    const images = stack([s.image]); // (1, 3, H, W)
    const labels = stack([s.label]); // (1, H, W)
    const channel = encodeLabels(labels, K, cfg.lad.encodeTeacherEval, gen); // (1, 1, H, W)
    const zeros = withLabelChannel(images, encodeLabels(labels, K, { ...cfg.lad.encodeTeacherEval, codeDist: 'zeros' }, gen));
    const cell = (rgb: Uint8Array): GridCell => ({ rgb, width: W, height: H });
    const predict = async (m: SegModel, x: Tensor): Promise<GridCell> => {
      const was = m.training;
      m.eval();
      const pred = noGrad(() => interpolate(m.forward(x.to(device)).logits, { size: [H, W], mode: 'bilinear', alignCorners: true }).argmax(1));
      m.train(was);
      return cell(labelToRgb((await pred.dataAsync()) as Int32Array, W, H, palette));
    };
    const cells = [
      cell(imageToRgb(s.image.data() as Float32Array, W, H, normalization.mean, normalization.std)),
      cell(labelToRgb(s.label.data() as Int32Array, W, H, palette)),
      cell(channelToRgb(channel.data() as Float32Array, W, H)),
    ];
    for (const [a] of shown) cells.push(await predict(models[a]!, a.startsWith('teacher') ? withLabelChannel(images, channel) : zeros));
    rows.push({ cells });
  }
  return segGridPng({ columns: ['image', 'ground truth', 'label channel', ...shown.map(([, t]) => t)], rows, scale: 2 });
}

// Does the label channel reach the loss? Two guards of the path encoder → input → network → loss
// (issue 10 §3), on a reduced quick task (digits 0-2 on 32×32 canvases), trained from scratch:
//   label-only: the image channels zeroed, the fixed class code in the label channel: the channel
//               alone must be enough to segment up to the logits' resolution;
//   oracle:     image + the fixed code (the channel names the class): the teacher must lean on it,
//               its own labels beating an all-zero channel by a wide margin.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, zeros } from '@lad/tensor';
import { DEFAULT_LAD, DEFAULT_TRAIN, type LadConfig, type LabelEncoding } from '../packages/lad/src/config.ts';
import { digitsSeg } from '../packages/lad/src/data/digits-seg.ts';
import type { SegDataset } from '../packages/lad/src/data/types.ts';
import { buildModel, modelPreset } from '../packages/lad/src/models/build.ts';
import { teacherLoss } from '../packages/lad/src/teacher.ts';
import { trainModel } from '../packages/lad/src/train.ts';
import { evaluate } from '../packages/lad/src/evaluate.ts';

const { train, val } = digitsSeg({
  classes: [0, 1, 2],
  digits: [1, 2],
  digitSize: [20, 28],
  thickenProb: 1,
  thickenPasses: 2,
  train: 200,
  val: 40,
  seed: 0,
  size: 32,
  cache: true,
});
const K = train.numClasses;
const FIXED: LabelEncoding = { codeDist: 'fixedGrid', sigma: 0.02, scale: 3, smoothPasses: 0 };
/** One path, no consistency, the fixed code in training and evaluation: the channel names the class. */
const ORACLE: LadConfig = {
  ...DEFAULT_LAD,
  encodeTrain: FIXED,
  encodeTeacherEval: FIXED,
  encodeDistill: FIXED,
  dualPath: false,
  consLoss: 'none',
  consWeight: 0,
};

/** `ds` with every image set to zeros: only the label channel is left. */
const blank = (ds: SegDataset): SegDataset => ({
  name: ds.name,
  numClasses: ds.numClasses,
  classNames: ds.classNames,
  length: ds.length,
  get: (i) => {
    const s = ds.get(i);
    return { ...s, image: zeros(s.image.shape) };
  },
});

async function trainOracle(data: { train: SegDataset; val: SegDataset }, iterations: number) {
  const model = buildModel(
    { ...modelPreset('tiny', 'deeplabv3', { inChannels: 4, numClasses: K }), backbone: { ...modelPreset('tiny', 'deeplabv3').backbone, outputStride: 4 } },
    { generator: new Generator(1) },
  );
  const out = mkdtempSync(join(tmpdir(), 'lad-oracle-'));
  try {
    await trainModel({
      name: 'oracle',
      model,
      lossFn: (b, _s, g) => teacherLoss(model, b, K, ORACLE, g),
      train: data.train,
      numClasses: K,
      outDir: out,
      quiet: true,
      cfg: { ...DEFAULT_TRAIN, iterations, batchSize: 8, lr: 0.1, cropSize: null, evalEvery: 0, checkpointEvery: 0, seed: 3 },
    });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const score = async (labelMode: 'encoded' | 'zeros') => 100 * (await evaluate(model, data.val, { numClasses: K, labelMode, encoding: FIXED, seed: 5 })).mIoU;
  return { own: await score('encoded'), zeros: await score('zeros') };
}

describe('the label channel reaches the loss', () => {
  it('label-only: with the images zeroed, the fixed code alone segments the digits (up to the logit grid)', { timeout: 180_000 }, async () => {
    const r = await trainOracle({ train: blank(train), val: blank(val) }, 300);
    // 300 its give 82 (seed 1); the ceiling is the 8×8 logit grid (OS 4 on 32 px) upsampled over the digits' edges
    expect(r.own).toBeGreaterThan(75);
    expect(r.zeros).toBeLessThan(40); // nothing else to read
  });

  it('oracle: with image + fixed code, the teacher leans on its labels (own − zeros ≥ 20 points)', { timeout: 180_000 }, async () => {
    const r = await trainOracle({ train, val }, 300);
    expect(r.own - r.zeros).toBeGreaterThanOrEqual(20);
    expect(r.own).toBeGreaterThan(75);
  });
});

// A tiny, fast training run shared by test/lad-train.test.ts and the child process it kills
// (lad-train-child.ts): digits-seg at 48×48, an FCN on a width-4 ResNet-18 v1s, the teacher's
// dual-path loss (so the loss generator and the heads' dropout generator both matter on resume).

import { Generator } from '@lad/tensor';
import { DEFAULT_LAD, DEFAULT_TRAIN, type TrainConfig } from '../../packages/lad/src/config.ts';
import { DigitsSeg } from '../../packages/lad/src/data/digits-seg.ts';
import { TINY_MODEL, buildModel } from '../../packages/lad/src/models/build.ts';
import { teacherLoss } from '../../packages/lad/src/teacher.ts';
import { trainModel, type TrainOptions, type TrainResult } from '../../packages/lad/src/train.ts';
import type { SegModel } from '../../packages/lad/src/models/types.ts';

export const TINY_TRAIN = new DigitsSeg('train', { train: 8, size: 48 });
export const TINY_VAL = new DigitsSeg('val', { val: 4, size: 48 });
export const TINY_CFG: TrainConfig = { ...DEFAULT_TRAIN, iterations: 6, batchSize: 2, lr: 0.05, cropSize: 40, evalEvery: 0, checkpointEvery: 3, seed: 7 };

export function tinyModel(initSeed = 1, inChannels = 4): SegModel {
  const cfg = {
    ...TINY_MODEL,
    arch: 'fcn' as const,
    backbone: { ...TINY_MODEL.backbone, width: 4 },
    headChannels: 8,
    numClasses: TINY_TRAIN.numClasses,
    inChannels,
  };
  return buildModel(cfg, { generator: new Generator(initSeed) });
}

/** Trains a fresh tiny teacher (built from initSeed) in outDir/name (null: in memory); `lossFn` replaces the teacher's loss. */
export function tinyRun(outDir: string | null, o: Partial<TrainOptions> & { initSeed?: number; slowAfter?: number } = {}): Promise<TrainResult> {
  const model = o.model ?? tinyModel(o.initSeed);
  const K = TINY_TRAIN.numClasses;
  return trainModel({
    name: 'run',
    train: TINY_TRAIN,
    val: null,
    numClasses: K,
    cfg: TINY_CFG,
    outDir,
    quiet: true,
    ...o,
    model,
    lossFn:
      o.lossFn ??
      ((batch, step, gen) => {
        if (o.slowAfter !== undefined && step >= o.slowAfter) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000); // give the parent time to kill us
        return teacherLoss(model, batch, K, DEFAULT_LAD, gen);
      }),
  });
}

/** All parameters and buffers as one byte string, for bit-for-bit comparison. */
export function stateBytes(model: SegModel): Buffer {
  return Buffer.concat(Object.values(model.stateDict()).map((t) => Buffer.from(t.data().buffer, t.data().byteOffset, t.data().byteLength)));
}

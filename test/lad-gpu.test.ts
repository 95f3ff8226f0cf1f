// LAD on @lad/tensor's GPU backend, in gpu.js 'cpu' mode (the GPU code path, run on the CPU): the
// label channel, a teacher step and a student step give the CPU's values on a fixed batch; trainModel
// and evaluation on 'gpu' give the CPU run's losses and mIoU, and resume from a checkpoint written on
// the device; and with asyncKernels (reads only through the async forms, as in webgpu mode) a reduced
// experiment runs end to end, so no LAD code path reads a device tensor synchronously. Last, `lad
// train` and `lad eval` with --device gpu --gpu-mode cpu.
// NOTE: only the first steps are compared tightly: this tiny training is chaotic (a 1e-6 relative
// change of one step's gradients moves the parameters by ~1e-3 three steps later), so longer runs
// on two devices agree in mIoU, not in bits.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Device, Generator, disposeBackend, initBackend, stack, zeros } from '@lad/tensor';
import { DEFAULT_LAD, type LabelEncoding } from '../packages/lad/src/config.ts';
import { encodeLabels, zeroChannel } from '../packages/lad/src/label-encoding.ts';
import { readParts, teacherLoss, type StepBatch } from '../packages/lad/src/teacher.ts';
import { studentLoss } from '../packages/lad/src/student.ts';
import { encodingAgreement, evaluate } from '../packages/lad/src/evaluate.ts';
import { experimentPreset, runExperiment } from '../packages/lad/src/experiment/index.ts';
import { main } from '../packages/lad/src/cli.ts';
import { TINY_CFG, TINY_TRAIN, TINY_VAL, stateBytes, tinyModel, tinyRun } from './util/lad-train-setup.ts';

const K = TINY_TRAIN.numClasses;
const tmp = () => mkdtempSync(join(tmpdir(), 'lad-gpu-'));
const relClose = (a: number, b: number, rel = 1e-4) => Math.abs(a - b) <= rel * Math.abs(b) + 1e-6;

/** A fixed batch of 2 digits-seg samples (48×48), on `device`. */
function fixedBatch(device: Device): StepBatch {
  const s = [0, 1].map((i) => TINY_TRAIN.get(i));
  return { images: stack(s.map((x) => x.image)).to(device), labels: stack(s.map((x) => x.label)).to(device) };
}

describe('LAD on the gpu backend (gpu.js cpu mode)', () => {
  beforeAll(async () => {
    await initBackend('gpu', { mode: 'cpu' });
  });
  afterAll(async () => {
    await disposeBackend('gpu');
  });

  it('encodes labels on the device with the same draws and values as on the CPU', async () => {
    const labels = fixedBatch('cpu').labels;
    const encs: LabelEncoding[] = [
      DEFAULT_LAD.encodeTrain,
      DEFAULT_LAD.encodeDistill,
      { codeDist: 'permutedGrid', sigma: 0.1, scale: 3, smoothPasses: 2 },
      { codeDist: 'uniform', sigma: 0, scale: 1, smoothPasses: 1 },
    ];
    for (const enc of encs) {
      const cpu = encodeLabels(labels, K, enc, new Generator(7)).data();
      const dev = encodeLabels(labels.to('gpu'), K, enc, new Generator(7));
      expect(dev.device).toBe('gpu');
      const gpu = await dev.dataAsync();
      let worst = 0;
      cpu.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - gpu[i]))));
      expect(worst, enc.codeDist).toBeLessThan(1e-5 * Math.max(1, enc.scale as number));
    }
    const z = encodeLabels(labels.to('gpu'), K, { ...DEFAULT_LAD.encodeTrain, codeDist: 'zeros' }, new Generator(0));
    expect([z.device, z.shape]).toEqual(['gpu', [2, 1, 48, 48]]);
    expect(zeroChannel(fixedBatch('gpu').images).device).toBe('gpu');
  });

  it('a teacher step and a student step give the CPU losses (1e-4 relative) on a fixed batch', async () => {
    const run = async (device: Device) => {
      const batch = fixedBatch(device);
      const teacher = tinyModel(1).to(device),
        student = tinyModel(2).to(device);
      const t = teacherLoss(teacher, batch, K, DEFAULT_LAD, new Generator(3));
      t.loss.backward();
      const s = studentLoss(student, teacher, batch, K, DEFAULT_LAD, new Generator(4));
      s.loss.backward();
      const grad = await student.parameters()[0].grad!.dataAsync();
      return { t: await readParts(t.terms), s: await readParts(s.terms), grad };
    };
    const cpu = await run('cpu'),
      gpu = await run('gpu');
    expect(Object.keys(gpu.t)).toEqual(Object.keys(cpu.t));
    for (const k of ['ce1', 'aux1', 'ce2', 'aux2', 'total']) expect(relClose(gpu.t[k], cpu.t[k]), `teacher ${k}: ${gpu.t[k]} vs ${cpu.t[k]}`).toBe(true);
    for (const k of ['ce', 'aux', 'total']) expect(relClose(gpu.s[k], cpu.s[k]), `student ${k}: ${gpu.s[k]} vs ${cpu.s[k]}`).toBe(true);
    // the small distillation terms: absolute agreement
    expect(Math.abs(gpu.t.cons - cpu.t.cons)).toBeLessThan(1e-6);
    expect(Math.abs(gpu.s.kd - cpu.s.kd)).toBeLessThan(1e-6);
    let worst = 0,
      scale = 0;
    cpu.grad.forEach((v, i) => ((worst = Math.max(worst, Math.abs(v - gpu.grad[i]))), (scale = Math.max(scale, Math.abs(v)))));
    expect(worst).toBeLessThan(1e-3 * scale);
  }, 30_000);

  it('trainModel on the gpu: the CPU losses and mIoU, checkpoints on the CPU, and resume on the device', async () => {
    const [a, b, c, d] = [tmp(), tmp(), tmp(), tmp()];
    try {
      const cfg = { ...TINY_CFG, iterations: 4, checkpointEvery: 2 };
      const cpu = await tinyRun(a, { cfg, val: TINY_VAL });
      const model = tinyModel();
      const gpu = await tinyRun(b, { cfg, val: TINY_VAL, model, device: 'gpu' });
      expect(model.parameters().every((p) => p.device === 'gpu')).toBe(true);
      expect(relClose(gpu.history[0].loss, cpu.history[0].loss)).toBe(true);
      gpu.history.forEach((h, i) => expect(relClose(h.loss, cpu.history[i].loss, 1e-2), `step ${i + 1}`).toBe(true));
      expect(Math.abs(gpu.final!.mIoU - cpu.final!.mIoU)).toBeLessThan(0.02);
      expect(Math.abs(gpu.final!.pixAcc - cpu.final!.pixAcc)).toBeLessThan(0.02);
      // evaluation on the device agrees with evaluation of the same weights on the CPU
      const opts = { numClasses: K, labelMode: 'encoded' as const, seed: 3 };
      const onGpu = await evaluate(model, TINY_VAL, opts);
      const onCpu = await evaluate(model.to('cpu'), TINY_VAL, opts);
      expect(Math.abs(onGpu.mIoU - onCpu.mIoU)).toBeLessThan(0.01);
      model.to('gpu');
      expect(await encodingAgreement(model, TINY_VAL, { numClasses: K, encoding: DEFAULT_LAD.encodeTrain })).toBeGreaterThan(0.5);

      // stop at step 2 (checkpoint written from the device), resume on the device: the same run
      await tinyRun(c, { cfg, device: 'gpu', stopAfter: 2 });
      const again = tinyModel(9);
      const resumed = await tinyRun(c, { cfg, device: 'gpu', model: again, resume: true });
      const straight = tinyModel();
      const whole = await tinyRun(d, { cfg, device: 'gpu', model: straight });
      expect(resumed.history.map((h) => h.loss)).toEqual(whole.history.map((h) => h.loss));
      expect(stateBytes(again.to('cpu')).equals(stateBytes(straight.to('cpu')))).toBe(true);
    } finally {
      for (const dir of [a, b, c, d]) rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('LAD with asynchronous device reads only (gpu.js cpu mode, asyncKernels: the webgpu code path)', () => {
  beforeAll(async () => {
    await initBackend('gpu', { mode: 'cpu', asyncKernels: true });
  });
  afterAll(async () => {
    await disposeBackend('gpu');
  });

  it('a reduced experiment runs end to end on the gpu and scores like the CPU run', async () => {
    expect(() => zeros([1], { device: 'gpu' }).add(1).item()).toThrow(/asynchronously/); // this mode forbids synchronous reads of queued results
    const cfg = {
      ...experimentPreset('quick', [
        'iterations=2',
        'baseline.evalEvery=1',
        'teacher.evalEvery=0',
        'student.evalEvery=0',
        'baseline.checkpointEvery=1',
        'data.train=8',
        'data.val=3',
        'eval.limit=3',
        'eval.examples=1',
        'baseline.batchSize=2',
        'teacher.batchSize=2',
        'student.batchSize=2',
      ]),
      seeds: [0],
    };
    const [a, b] = [tmp(), tmp()];
    try {
      const quiet = { quiet: true, log: () => {} };
      const cpu = (await runExperiment(cfg, { outDir: a, ...quiet }))!;
      const gpu = (await runExperiment(cfg, { outDir: b, ...quiet, device: 'gpu', deviceLabel: 'gpu (cpu, async)' }))!;
      expect(gpu.timing.machine.device).toBe('gpu (cpu, async)');
      const [c0, g0] = [cpu.points[0].arms, gpu.points[0].arms];
      expect(Object.keys(g0)).toEqual(Object.keys(c0));
      for (const [name, arm] of Object.entries(c0)) {
        const g = g0[name as keyof typeof g0]!;
        expect(Math.abs(g.mIoU.mean - arm.mIoU.mean), name).toBeLessThan(2); // points
        expect(relClose(g.perSeed[0].finalLoss!, arm.perSeed[0].finalLoss!, 2e-2), name).toBe(true);
      }
      expect(gpu.files.examples).toBe('examples.png');
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  }, 180_000); // under a minute alone, more on a loaded machine
});

describe('lad train / eval --device gpu (each command starts and disposes of the backend itself)', () => {
  it('trains and evaluates on the gpu in gpu.js cpu mode', async () => {
    const dir = tmp();
    try {
      const file = join(dir, 'tiny.json');
      writeFileSync(
        file,
        JSON.stringify({
          data: { trainSamples: 4, valSamples: 2, size: 48 },
          model: { arch: 'fcn', backbone: { width: 4 }, headChannels: 8 },
          train: { batchSize: 2 },
        }),
      );
      const [out, err]: string[][] = [[], []];
      const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
      const gpu = ['--device', 'gpu', '--gpu-mode', 'cpu'];
      expect(await main(['train', '--config', file, '--iterations', '2', '--out', dir, '--quiet', ...gpu], io), err.join('\n')).toBe(0);
      expect(err.join('\n')).toMatch(/lad train: device gpu, gpu.js mode cpu/);
      expect(out.join('\n')).toMatch(/baseline: 2 iterations in .* s on gpu; val mIoU/);
      expect(await main(['eval', '--checkpoint', join(dir, 'baseline', 'ckpt-00000002.safetensors'), '--json', ...gpu], io), err.join('\n')).toBe(0);
      const r = JSON.parse(out.at(-1)!) as { device: string; mIoU: number };
      expect([r.device, r.mIoU >= 0 && r.mIoU <= 1]).toEqual(['gpu', true]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

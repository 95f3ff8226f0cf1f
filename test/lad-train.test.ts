// trainModel on a tiny digits-seg run (test/util/lad-train-setup.ts): the JSONL log, checkpoints,
// a decreasing loss, bit-for-bit determinism, and resume (after a simulated stop and after a real
// SIGKILL of a child process) matching an uninterrupted run bit for bit. Then the `lad train`,
// `lad train-teacher`, `lad distill` and `lad eval` commands end to end, and their usage errors.

import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '@lad/nn';
import { type Generator, ValueError, tidyStats } from '@lad/tensor';
import { DEFAULT_LAD, type TrainConfig } from '../packages/lad/src/config.ts';
import { stepLoss, teacherLoss } from '../packages/lad/src/teacher.ts';
import type { Batch } from '../packages/lad/src/data/loader.ts';
import { main } from '../packages/lad/src/cli.ts';
import type { LossFn } from '../packages/lad/src/train.ts';
import { TINY_CFG, TINY_TRAIN, TINY_VAL, stateBytes, tinyModel, tinyRun } from './util/lad-train-setup.ts';
import { evaluate } from '../packages/lad/src/evaluate.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = () => mkdtempSync(join(tmpdir(), 'lad-train-'));
const readLog = (dir: string) =>
  readFileSync(join(dir, 'run', 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; step: number; loss: number; lr: number });

describe('trainModel', () => {
  it('logs every step, evaluates, checkpoints, and the loss goes down', async () => {
    const out = tmp();
    const model = tinyModel();
    const cfg = { ...TINY_CFG, iterations: 10, cropSize: null, evalEvery: 5, checkpointEvery: 5 };
    const tidy0 = { ...tidyStats };
    const r = await tinyRun(out, { model, cfg, val: TINY_VAL, evalFn: (m) => evaluate(m, TINY_VAL, { numClasses: 11, labelMode: 'encoded' }) });
    expect(tidyStats.scopes - tidy0.scopes).toBeGreaterThanOrEqual(10); // each step in a tidy() (and each evaluation batch), its buffers back to the pool
    expect(tidyStats.released - tidy0.released).toBeGreaterThan(10 * 20);
    const log = readLog(out);
    expect(log.filter((l) => l.type === 'step').map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(log.filter((l) => l.type === 'eval').map((l) => l.step)).toEqual([5, 10]);
    expect(Object.keys(log[0]).sort()).toEqual(['imgsPerSec', 'loss', 'lr', 'parts', 'step', 'type']);
    expect(
      readdirSync(join(out, 'run'))
        .filter((f) => f.endsWith('.safetensors'))
        .sort(),
    ).toEqual(['ckpt-00000005.safetensors', 'ckpt-00000010.safetensors']);
    expect(r.checkpoint).toBe(join(out, 'run', 'ckpt-00000010.safetensors'));
    expect(r.history).toHaveLength(10);
    expect(r.evals.map((e) => e.step)).toEqual([5, 10]);
    expect(r.final).toBe(r.evals[1].result);
    // poly schedule: lr0 at step 1, then decreasing
    expect(r.history[0].lr).toBe(cfg.lr);
    expect(r.history.every((h, i) => i === 0 || h.lr < r.history[i - 1].lr)).toBe(true);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(r.history.slice(-3).map((h) => h.loss))).toBeLessThan(mean(r.history.slice(0, 3).map((h) => h.loss)));
    expect(model.training).toBe(true);
    const ck = loadCheckpoint(r.checkpoint);
    expect(ck.step).toBe(10);
    expect(Object.keys(ck.generatorStates).sort()).toEqual(['default', 'loss', 'model.0']);
    expect(ck.optimizer).not.toBeNull();
  });

  it('is deterministic, and resuming after a stop at step 3 matches the uninterrupted run bit for bit', async () => {
    const [a, b, c] = [tmp(), tmp(), tmp()];
    const full = tinyModel();
    await tinyRun(a, { model: full });
    const again = tinyModel();
    await tinyRun(b, { model: again });
    expect(stateBytes(again).equals(stateBytes(full))).toBe(true);

    const stopped = await tinyRun(c, { stopAfter: 3 });
    expect(stopped.final).toBeNull();
    expect(readdirSync(join(c, 'run')).filter((f) => f.endsWith('.safetensors'))).toEqual(['ckpt-00000003.safetensors']);
    const resumed = tinyModel(99); // a different init: everything must come from the checkpoint
    const r = await tinyRun(c, { model: resumed, resume: true });
    expect(stateBytes(resumed).equals(stateBytes(full))).toBe(true);
    expect(r.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(readLog(c).map((l) => l.loss)).toEqual(readLog(a).map((l) => l.loss));
  });

  it('in memory (outDir null) writes nothing, calls onStep after each step, and gives the same bits', async () => {
    const [onDisk, inMemory] = [tinyModel(), tinyModel()];
    const ref = await tinyRun(tmp(), { model: onDisk });
    const cwd = readdirSync('.').sort();
    const seen: number[] = [];
    const r = await tinyRun(null, {
      model: inMemory,
      onStep: async (e, m) => {
        expect(m).toBe(inMemory);
        await new Promise((res) => setTimeout(res, 1)); // a slow watcher holds the run, it does not race it
        seen.push(e.step);
      },
    });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.checkpoint).toBe('');
    expect(r.history.map((h) => h.loss)).toEqual(ref.history.map((h) => h.loss));
    expect(stateBytes(inMemory).equals(stateBytes(onDisk))).toBe(true);
    expect(readdirSync('.').sort()).toEqual(cwd);
    await expect(tinyRun(null, { resume: true, stopAfter: 1 })).resolves.toMatchObject({ checkpoint: '' }); // nothing to resume from: a fresh run
  });

  it('resumes after a real SIGKILL of the training process, bit for bit', async () => {
    const [a, c] = [tmp(), tmp()];
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/util/lad-train-child.ts', c], { cwd: ROOT, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
    const ckpt3 = join(c, 'run', 'ckpt-00000003.safetensors');
    const t0 = Date.now();
    while (!existsSync(ckpt3) && child.exitCode === null && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(ckpt3)).toBe(true);
    expect(existsSync(join(c, 'run', 'ckpt-00000006.safetensors'))).toBe(false);

    const full = tinyModel();
    await tinyRun(a, { model: full });
    const resumed = tinyModel(5);
    await tinyRun(c, { model: resumed, resume: true });
    expect(stateBytes(resumed).equals(stateBytes(full))).toBe(true);
    expect(readLog(c).map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
  }, 40_000);

  it('fails fast on a config it cannot run, before writing anything', async () => {
    const out = tmp();
    await expect(tinyRun(out, { cfg: { ...TINY_CFG, batchSize: 9 } })).rejects.toThrow(/8 samples, fewer than one batch of 9/);
    const err = await tinyRun(out, { cfg: { ...TINY_CFG, iterations: 0 } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ValueError);
    expect((err as Error).message).toBe('trainModel: cfg.iterations: got 0, expected an integer >= 1.');
    await expect(tinyRun(out, { cfg: { ...TINY_CFG, lr: 0 } })).rejects.toThrow(/trainModel: cfg.lr: got 0, expected a finite number > 0/);
    await expect(tinyRun(out, { cfg: { ...TINY_CFG, itrations: 5 } as TrainConfig })).rejects.toThrow(
      /trainModel: cfg.itrations: unknown key \(did you mean 'iterations'\?\)/,
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it('refuses an asynchronous lossFn (the step runs inside tidy())', async () => {
    const model = tinyModel();
    const lossFn = async (b: Batch, _s: number, g: Generator) => teacherLoss(model, b, 11, DEFAULT_LAD, g);
    const err = await tinyRun(null, { model, lossFn: lossFn as unknown as LossFn }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ValueError);
    expect((err as Error).message).toBe('trainModel: lossFn returned a Promise: expected a StepLoss (the step runs inside tidy(), synchronously).');
  });

  it('refuses to start afresh in a folder that holds a run unless resume or overwrite is set', async () => {
    const out = tmp();
    await tinyRun(out, { cfg: { ...TINY_CFG, iterations: 3 } });
    const files = () => Object.fromEntries(readdirSync(join(out, 'run')).map((f) => [f, readFileSync(join(out, 'run', f)).toString('hex')]));
    const before = files();
    expect(Object.keys(before).sort()).toEqual(['ckpt-00000003.safetensors', 'log.jsonl']);
    await expect(tinyRun(out)).rejects.toThrow(
      /trainModel: .*run already holds a run \(log.jsonl, ckpt-00000003.safetensors\): pass resume: true to continue it, overwrite: true to replace it/,
    );
    expect(files()).toEqual(before); // nothing deleted or changed
    // a folder with only an empty log (a run that failed before its first step) is not a run
    const empty = tmp();
    mkdirSync(join(empty, 'run'));
    writeFileSync(join(empty, 'run', 'log.jsonl'), '');
    await expect(tinyRun(empty, { cfg: { ...TINY_CFG, iterations: 1 } })).resolves.toMatchObject({ name: 'run' });
    // overwrite: a fresh run replaces the old one
    const r = await tinyRun(out, { overwrite: true });
    expect(r.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(readdirSync(join(out, 'run')).sort()).toEqual(['ckpt-00000003.safetensors', 'ckpt-00000006.safetensors', 'log.jsonl']);
  });

  it('names the loss term that went NaN first, and blames the learning rate only when every term diverged', async () => {
    const model = tinyModel();
    const K = TINY_TRAIN.numClasses;
    const withTerm = (bad: number, step0: number) => (batch: Batch, step: number, gen: Generator) => {
      const base = teacherLoss(model, batch, K, DEFAULT_LAD, gen);
      if (step < step0) return base;
      const kd = base.loss.mul(bad); // a term that is NaN (or inf) while ce1, aux1, ... stay finite
      return stepLoss(base.loss.add(kd), { ...base.terms, kd, total: base.loss.add(kd) });
    };
    const err = await tinyRun(tmp(), { model, lossFn: withTerm(NaN, 2) }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ValueError);
    expect((err as Error).message).toMatch(
      /^run: the loss is NaN at step 3: the first non-finite term is 'kd' \(NaN\) while 'ce1', 'aux1', 'ce2', 'aux2', 'cons' stayed finite .*check what 'kd' computes and its settings\.$/,
    );
    expect((err as Error).message).not.toMatch(/learning rate/);
    const diverged = (batch: Batch, _step: number, gen: Generator) => {
      const base = teacherLoss(model, batch, K, DEFAULT_LAD, gen);
      const terms = Object.fromEntries(Object.entries(base.terms).map(([k, v]) => [k, typeof v === 'number' ? Infinity : v.mul(Infinity)]));
      return stepLoss(base.loss.mul(Infinity), terms);
    };
    const err2 = await tinyRun(tmp(), { model, lossFn: diverged }).catch((e: Error) => e);
    expect((err2 as Error).message).toMatch(
      /^run: the loss is (NaN|Infinity) at step 1: every term is non-finite, the first being 'ce1' .*the run diverged; lower the learning rate \(lr 0.05\)\.$/,
    );
  });
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}
async function lad(...args: string[]): Promise<Result> {
  const [out, err]: string[][] = [[], []];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('lad train / train-teacher / distill / eval', () => {
  const tiny = (dir: string, extra: object = {}) => {
    const file = join(dir, 'tiny.json');
    writeFileSync(
      file,
      JSON.stringify({
        data: { trainSamples: 4, valSamples: 2, size: 48 },
        model: { arch: 'fcn', backbone: { width: 4 }, headChannels: 8 },
        train: { batchSize: 2 },
        ...extra,
      }),
    );
    return file;
  };

  it('--help describes each command', async () => {
    for (const cmd of ['train', 'train-teacher', 'distill', 'eval']) {
      const r = await lad(cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: lad ${cmd}`));
    }
    expect((await lad('train', '--help')).stdout).toMatch(/--config FILE[\s\S]*--crop-size N\|none[\s\S]*--resume/);
    expect((await lad('train-teacher', '--help')).stdout).toMatch(/--init-from CKPT/);
    expect((await lad('distill', '--help')).stdout).toMatch(/--teacher CKPT[\s\S]*--teacher-arch ARCH/);
  });

  it('bad flags, devices, config keys and files exit 2 and say what to change', async () => {
    const dir = tmp();
    let r = await lad('train', '--iteratons', '3');
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/unknown flag --iteratons \(did you mean --iterations\?\)/)]);
    r = await lad('train', '--device', 'tpu');
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/--device must be cpu or gpu: got 'tpu'/)]);
    r = await lad('train', '--device', 'gpu', '--gpu-mode', 'fast');
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/--gpu-mode must be one of auto, webgpu, webgl2, webasm, cpu: got 'fast'/)]);
    r = await lad('train', '--gpu-mode', 'webasm');
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/--gpu-mode webasm needs --device gpu/)]);
    // Node has no WebGL2: the error names the mode tried, why it failed, and what to do instead
    r = await lad('train', '--config', tiny(dir), '--device', 'gpu', '--gpu-mode', 'webgl2', '--out', dir, '--quiet');
    expect([r.code, r.stderr]).toEqual([
      1,
      expect.stringMatching(
        /--device gpu: the GPU backend did not start \(--gpu-mode webgl2\): .*webgl2: no WebGL2 context in Node.*What to do: use --gpu-mode webasm/,
      ),
    ]);
    r = await lad('train', '--config', tiny(dir, { train: { lrr: 1 } }));
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/unknown config key 'train.lrr' \(did you mean 'lr'\?\)/)]);
    r = await lad('train', '--config', join(dir, 'missing.json'));
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/missing.json: file not found/)]);
    r = await lad('train', '--dataset', 'digit-seg');
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/unknown dataset 'digit-seg' \(did you mean 'digits-seg'\?\)/)]);
    r = await lad('train', '--arch', 'deeplab');
    expect([r.code, r.stderr]).toEqual([
      2,
      "lad train: config: model.arch: got 'deeplab', expected one of fcn, psp, deeplabv3, ocr, stdc (did you mean 'deeplabv3'?).",
    ]);
    r = await lad('distill', '--config', tiny(dir));
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/--teacher CKPT is required/)]);
    r = await lad('eval', '--checkpoint', join(dir, 'nope.safetensors'));
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/nope.safetensors: file not found/)]);
  });

  it('train → train-teacher --init-from → distill → eval, end to end; a teacher of another class count is refused', async () => {
    const dir = tmp();
    const cfg = tiny(dir);
    const base = ['--config', cfg, '--iterations', '3', '--out', dir, '--quiet'];
    let r = await lad('train', ...base);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(dir, 'baseline')).sort()).toEqual(['ckpt-00000003.safetensors', 'config.json', 'log.jsonl']);
    expect(
      readFileSync(join(dir, 'baseline', 'log.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(4); // 3 steps + the final eval
    const baseCk = join(dir, 'baseline', 'ckpt-00000003.safetensors');

    r = await lad('train-teacher', ...base, '--iterations', '1', '--init-from', baseCk);
    expect(r.code, r.stderr).toBe(0);
    // the label scale is derived from the data ('auto') and printed, and the checkpoint records the number
    const said = /label scale ([\d.]+) \(training\), ([\d.]+) \(distillation code\); 'auto' is ([\d.]+): 1\.7 × the training images' std ([\d.]+)/.exec(
      r.stderr,
    );
    expect(said, r.stderr).not.toBeNull();
    expect([said![1], said![2]]).toEqual([said![3], said![3]]);
    expect(Number(said![3])).toBeCloseTo(1.7 * Number(said![4]), 2);
    const teacherCk = join(dir, 'teacher', 'ckpt-00000001.safetensors');
    expect(JSON.parse(readFileSync(join(dir, 'teacher', 'config.json'), 'utf8')).lad.encodeTrain.scale).toBe(Number(said![3]));
    r = await lad('distill', ...base, '--iterations', '1', '--teacher', teacherCk);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'student', 'ckpt-00000001.safetensors'))).toBe(true);
    // distill --init-from: the student starts from the trained baseline (its image weights as saved)
    r = await lad('distill', ...base, '--iterations', '1', '--lr', '0.001', '--teacher', teacherCk, '--init-from', baseCk, '--name', 'student-ft');
    expect(r.code, r.stderr).toBe(0);
    const [b0, s0] = [loadCheckpoint(baseCk).model, loadCheckpoint(join(dir, 'student-ft', 'ckpt-00000001.safetensors')).model];
    const head = Object.keys(b0).find((k) => k.endsWith('convSeg.weight'))!;
    const diff = Math.max(...Array.from(b0[head].data(), (v, i) => Math.abs(v - s0[head].data()[i])));
    expect(diff).toBeLessThan(1e-2); // one step at lr 0.001 from the baseline, not a fresh init
    expect((await lad('distill', '--help')).stdout).toMatch(/--init-from CKPT/);

    r = await lad('eval', '--checkpoint', teacherCk, '--label-mode', 'otherImage', '--json');
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { labelMode: string; mIoU: number; iou: unknown[] };
    expect([res.labelMode, res.iou.length, res.mIoU >= 0 && res.mIoU <= 1]).toEqual(['otherImage', 11, true]);

    r = await lad('distill', '--config', cfg, '--dataset', 'textured-blobs', '--out', dir, '--name', 'student-blobs', '--quiet', '--teacher', teacherCk);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/teacher .* predicts 11 classes but the student's dataset has 6/)]);
    r = await lad('eval', '--checkpoint', teacherCk, '--label-mode', 'labels');
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/--label-mode must be one of zeros, encoded, otherImage/)]);
  }, 30_000);
});

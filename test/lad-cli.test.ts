// The `lad` command: help, `lad data export` writing the folder layout (read back bit-identical),
// and usage errors (exit code 2, a message saying what to change). A few runs spawn the real
// process (`node --import tsx packages/lad/src/cli.ts`, and bin/lad.js); the rest call main().

import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../packages/lad/src/cli.ts';
import { DigitsSeg, FolderDataset } from '../packages/lad/src/data/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Spawns the CLI as a user would, from the repository root. */
function spawnLad(args: string[], entry = ['--import', 'tsx', 'packages/lad/src/cli.ts']): Promise<Result> {
  return new Promise((done) => {
    execFile(process.execPath, [...entry, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs main() in-process, capturing what it prints. */
async function runMain(args: string[]): Promise<Result> {
  const [out, err]: string[][] = [[], []];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'lad-cli-'));

describe('lad (spawned)', () => {
  it.concurrent('--help lists the commands and exits 0', async () => {
    const r = await spawnLad(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage: lad <command>/);
    expect(r.stdout).toMatch(/^ {2}data +dataset utilities/m);
    expect(r.stdout).toContain('export');
  });

  it.concurrent('data export writes the folder layout, which reads back as the same samples', async () => {
    const dir = join(tmp(), 'out');
    try {
      const r = await spawnLad(['data', 'export', 'digits-seg', '--out', dir, '--train', '3', '--val', '2', '--seed', '9']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/digits-seg: wrote 3 train \+ 2 val samples/);
      expect(readdirSync(dir).sort()).toEqual(['dataset.json', 'images', 'labels', 'train.txt', 'val.txt']);
      expect(readFileSync(join(dir, 'train.txt'), 'utf8')).toBe('train-00000\ntrain-00001\ntrain-00002\n');
      expect(readFileSync(join(dir, 'val.txt'), 'utf8')).toBe('val-00000\nval-00001\n');
      expect(readdirSync(join(dir, 'images')).length).toBe(5);
      expect(readdirSync(join(dir, 'labels')).length).toBe(5);
      expect(JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8'))).toMatchObject({ name: 'digits-seg', numClasses: 11 });
      const [back, want] = [new FolderDataset(dir, 'val'), new DigitsSeg('val', { seed: 9 })];
      expect(Buffer.from(back.get(1).image.data().buffer).equals(Buffer.from(want.get(1).image.data().buffer))).toBe(true);
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });

  it.concurrent('a bad flag exits 2 and names the flag and the right ones', async () => {
    const r = await spawnLad(['data', 'export', 'digits-seg', '--out', join(tmpdir(), 'never'), '--trian', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown flag --trian \(did you mean --train\?\)/);
    expect(r.stderr).toContain('--out, --train, --val, --seed');
    expect(existsSync(join(tmpdir(), 'never'))).toBe(false);
  });

  it.concurrent('bin/lad.js launches the same CLI; an unknown command exits 2', async () => {
    const r = await spawnLad(['trian'], ['packages/lad/bin/lad.js']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'trian'.*The commands are data/);
  });
});

describe('lad (in-process): usage errors say what to change', () => {
  it.each([
    [[], /give a command/],
    [['data'], /lad data: give a subcommand/],
    [['data', 'exprt'], /unknown subcommand 'exprt'; did you mean 'export'/],
    [['data', 'export', '--out', '/tmp/x'], /exactly one dataset name \(digits-seg or textured-blobs\): got none/],
    [['data', 'export', 'digit-seg', '--out', '/tmp/x'], /unknown dataset 'digit-seg'; did you mean 'digits-seg'/],
    [['data', 'export', 'digits-seg'], /--out DIR is required/],
    [['data', 'export', 'digits-seg', '--out'], /flag --out needs a value/],
    [['data', 'export', 'digits-seg', '--out', '/tmp/x', '--train', '-3'], /flag --train needs a value/],
    [['data', 'export', 'digits-seg', '--out', '/tmp/x', '--train', '2.5'], /--train must be an integer >= 0: got '2.5'/],
    [['data', 'export', 'digits-seg', '--out', '/tmp/x', '--seed', 'abc'], /--seed must be an integer/],
    [['data', 'export', 'digits-seg', '--out', '/tmp/x', '--force=yes'], /flag --force takes no value/],
    [['--verbose'], /unknown flag '--verbose' before the command/],
  ])('lad %j', async (args, message) => {
    const r = await runMain(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('refuses a non-empty --out unless --force', async () => {
    const dir = tmp();
    try {
      writeFileSync(join(dir, 'keep.txt'), 'x');
      const r = await runMain(['data', 'export', 'textured-blobs', '--out', dir, '--train', '1', '--val', '1']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is not empty; choose a new --out directory or pass --force/);
      const forced = await runMain(['data', 'export', 'textured-blobs', '--out', dir, '--train', '1', '--val', '1', '--force']);
      expect(forced.code).toBe(0);
      expect(new FolderDataset(dir, 'train').name).toBe('textured-blobs');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints per-command help with exit 0', async () => {
    for (const args of [['data', '--help'], ['data', 'export', '--help'], ['help']]) {
      const r = await runMain(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/usage: lad/);
    }
    expect((await runMain(['data', 'export', '--help'])).stdout).toMatch(/--train N +train samples/);
  });

  it('reports a runtime failure with exit 1', async () => {
    const dir = tmp();
    try {
      const blocker = join(dir, 'file');
      writeFileSync(blocker, 'x');
      const r = await runMain(['data', 'export', 'digits-seg', '--out', join(blocker, 'sub'), '--train', '1', '--val', '1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^lad data: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lad train / train-teacher / distill / experiment: nothing lost, nothing silent', () => {
  /** A tiny run config file in `dir` (4 train images at 48×48, a width-4 FCN), merged with `extra`. */
  const tinyConfig = (dir: string, extra: Record<string, unknown> = {}) => {
    const file = join(dir, `cfg-${Object.keys(extra).join('-') || 'tiny'}-${Math.random().toString(36).slice(2)}.json`);
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
  const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString('hex')]));

  it('a second run into a folder that holds a run exits 2 and keeps it; --overwrite replaces it; --resume continues it', async () => {
    const dir = tmp();
    try {
      const base = ['--config', tinyConfig(dir), '--iterations', '2', '--out', dir, '--quiet'];
      expect((await runMain(['train', ...base])).code).toBe(0);
      const run = join(dir, 'baseline');
      const before = snapshot(run);
      expect(Object.keys(before).sort()).toEqual(['ckpt-00000002.safetensors', 'config.json', 'log.jsonl']);
      const r = await spawnLad(['train', ...base]); // the real process and its exit code
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(
        `lad train: ${run} already holds a run (log.jsonl, ckpt-00000002.safetensors); pass --resume to continue it, choose a new --out or --name, or pass --overwrite to replace it.`,
      );
      expect(snapshot(run)).toEqual(before);
      const both = await runMain(['train', ...base, '--resume', '--overwrite']);
      expect([both.code, both.stderr]).toEqual([2, expect.stringMatching(/--resume and --overwrite contradict each other/)]);
      const resumed = await runMain(['train', ...base, '--resume']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(snapshot(run)['ckpt-00000002.safetensors']).toBe(before['ckpt-00000002.safetensors']); // finished: nothing retrained
      const over = await runMain(['train', ...base, '--iterations', '3', '--overwrite']);
      expect(over.code, over.stderr).toBe(0);
      expect(readdirSync(run).sort()).toEqual(['ckpt-00000003.safetensors', 'config.json', 'log.jsonl']);
      expect(readdirSync(run)).not.toContain('ckpt-00000002.safetensors');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it.each([
    ['train-teacher', 'teacher', '--init-from'],
    ['distill', 'student', '--teacher'],
  ])('lad %s refuses a folder that holds a run before reading anything else', async (cmd, name, ckptFlag) => {
    const dir = tmp();
    try {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'log.jsonl'), '{"type":"step","step":1}\n');
      const r = await runMain([cmd, '--out', dir, ckptFlag, join(dir, 'missing.safetensors')]);
      expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(new RegExp(`^lad ${cmd}: .*${name} already holds a run \\(log.jsonl\\); pass --resume`))]);
      expect(readFileSync(join(dir, name, 'log.jsonl'), 'utf8')).toBe('{"type":"step","step":1}\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const BAD: [Record<string, unknown>, string][] = [
    [{ lad: { kdLoss: 'cdw' } }, "config: lad.kdLoss: got 'cdw', expected one of cwd, pixelKD, none (did you mean 'cwd'?)."],
    [{ lad: { consLoss: 'foo' } }, "config: lad.consLoss: got 'foo', expected one of cwd, pixelKL, mse, none."],
    [{ lad: { kdT: 0 } }, 'config: lad.kdT: got 0, expected a finite number > 0.'],
    [
      { lad: { encodeTrain: { codeDist: 'gaussian' } } },
      "config: lad.encodeTrain.codeDist: got 'gaussian', expected one of normal, uniform, permutedGrid, fixedGrid, zeros.",
    ],
    [{ train: { momentum: 1 } }, 'config: train.momentum: got 1, expected a number in [0, 1).'],
    [{ train: { cropSize: 0 } }, 'config: train.cropSize: got 0, expected null (whole images) or an integer >= 1.'],
    [{ model: { arch: 'ocr', aux: false } }, "config: model.aux: got false, expected true with arch 'ocr' (its aux logits are the soft object regions)."],
  ];
  it.each(['train', 'train-teacher', 'distill'])('lad %s: a bad config value exits 2, naming the key, before anything is written', async (cmd) => {
    const dir = tmp();
    try {
      for (const [extra, message] of BAD) {
        const r = await runMain([cmd, '--config', tinyConfig(dir, extra), '--out', join(dir, 'out'), '--quiet']);
        expect([r.code, r.stderr], JSON.stringify(extra)).toEqual([2, `lad ${cmd}: ${message}`]);
      }
      const typo = await runMain([cmd, '--config', tinyConfig(dir, { lad: { kdweight: 3 } }), '--out', join(dir, 'out')]);
      expect([typo.code, typo.stderr]).toEqual([2, expect.stringMatching(/unknown config key 'lad.kdweight' \(did you mean 'kdWeight'\?\)/)]);
      expect(existsSync(join(dir, 'out'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lad experiment: --set and --sweep values are checked for every stage up front (exit 2, nothing written)', async () => {
    const dir = tmp();
    try {
      const out = join(dir, 'exp');
      const cases: [string[], string][] = [
        [['--set', 'teacher.iterations=-1'], 'lad experiment: config: teacher.iterations: got -1, expected an integer >= 1.'],
        [['--set', 'student.lr=0'], 'lad experiment: config: student.lr: got 0, expected a finite number > 0.'],
        [['--set', 'lad.encodeTrain.sigma=-1'], 'lad experiment: config: lad.encodeTrain.sigma: got -1, expected a finite number >= 0.'],
        [['--sweep', 'lad.consT=4,0'], 'lad experiment: config: at grid point lad.consT=0: lad.consT: got 0, expected a finite number > 0.'],
      ];
      for (const [args, message] of cases) {
        const r = await runMain(['experiment', '--preset', 'quick', '--seeds', '1', '--out', out, '--quiet', ...args]);
        expect([r.code, r.stderr], args.join(' ')).toEqual([2, message]);
      }
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

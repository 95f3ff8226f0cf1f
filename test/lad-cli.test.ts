// The `lad` command: help, `lad data export` writing the folder layout (read back bit-identical),
// and usage errors (exit code 2, a message saying what to change). A few runs spawn the real
// process (`node --import tsx packages/lad/src/cli.ts`, and bin/lad.js); the rest call main().

import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../packages/lad/src/cli.ts';
import { DigitsSeg, FolderDataset } from '../packages/lad/src/data/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Result { code: number; stdout: string; stderr: string }

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

// `lad data …`: dataset utilities. So far `lad data export`, which writes a synthetic dataset in the
// folder layout (data/folder.ts) so that it can be inspected, shared, or read back by FolderDataset.

import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { digitsSeg } from '../data/digits-seg.ts';
import { texturedBlobs } from '../data/textured-blobs.ts';
import { exportDataset } from '../data/folder.ts';
import type { SyntheticDataset } from '../data/synthetic.ts';
import { UsageError, formatFlags, intFlag, parseFlags, suggest, type CliIO, type FlagSpec, type CommandRun } from './args.ts';

/** The datasets `lad data export` can write, by name. */
const SYNTHETIC: Record<string, (o: { train?: number; val?: number; seed?: number }) => { train: SyntheticDataset; val: SyntheticDataset }> = {
  'digits-seg': digitsSeg,
  'textured-blobs': texturedBlobs,
};

const EXPORT_FLAGS: FlagSpec = {
  out: { type: 'string', value: 'DIR', help: 'directory to write (created; must be empty unless --force)' },
  train: { type: 'string', value: 'N', help: 'train samples (default 2000)' },
  val: { type: 'string', value: 'N', help: 'val samples (default 500)' },
  seed: { type: 'string', value: 'S', help: 'base seed (default 0)' },
  force: { type: 'boolean', help: 'write into a non-empty directory' },
  help: { type: 'boolean', help: 'show this help' },
};

const EXPORT_USAGE = [
  `usage: lad data export <${Object.keys(SYNTHETIC).join('|')}> --out DIR [--train N] [--val N] [--seed S] [--force]`,
  '',
  'Writes images/<id>.png, labels/<id>.png (255 = ignore), train.txt, val.txt and dataset.json.',
  '',
  ...formatFlags(EXPORT_FLAGS),
].join('\n');

/** Exports this large report progress on stderr every 10%. */
const PROGRESS_MIN = 500;

const DATA_USAGE = [
  'usage: lad data <subcommand>',
  '',
  'subcommands:',
  '  export   write a synthetic dataset in the folder layout',
  '',
  'Run lad data <subcommand> --help for its flags.',
].join('\n');

function runExport(args: string[], io: CliIO): number {
  const cmd = 'lad data export';
  const { flags, positionals } = parseFlags(cmd, args, EXPORT_FLAGS);
  if (flags.help) return (io.out(EXPORT_USAGE), 0);
  const names = Object.keys(SYNTHETIC);
  if (positionals.length !== 1)
    throw new UsageError(
      `${cmd}: give exactly one dataset name (${names.join(' or ')}): got ${positionals.length ? positionals.join(' ') : 'none'}.\n${EXPORT_USAGE.split('\n')[0]}`,
    );
  const name = positionals[0];
  const make = SYNTHETIC[name];
  if (!make) {
    const guess = suggest(name, names);
    throw new UsageError(`${cmd}: unknown dataset '${name}'${guess ? `; did you mean '${guess}'?` : '.'} The datasets are ${names.join(', ')}.`);
  }
  const out = flags.out;
  if (typeof out !== 'string' || out === '') throw new UsageError(`${cmd}: --out DIR is required (the directory to write).`);
  const opts = {
    train: intFlag(cmd, flags, 'train', undefined),
    val: intFlag(cmd, flags, 'val', undefined),
    seed: intFlag(cmd, flags, 'seed', undefined, Number.MIN_SAFE_INTEGER),
  };
  const dir = resolve(out);
  if (existsSync(dir) && readdirSync(dir).length > 0 && !flags.force)
    throw new UsageError(`${cmd}: ${dir} is not empty; choose a new --out directory or pass --force.`);
  const ds = make(opts);
  const t0 = performance.now();
  let nextReport = 0.1;
  exportDataset(ds, dir, {
    overwrite: true,
    onProgress: (done, total) => {
      if (total >= PROGRESS_MIN && done / total >= nextReport && done < total) io.err(`${name}: ${done}/${total}`), (nextReport += 0.1);
    },
  });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  io.out(
    `${name}: wrote ${ds.train.length} train + ${ds.val.length} val samples (${ds.train.width}x${ds.train.height}, ${ds.train.numClasses} classes, seed ${ds.train.seed}) to ${dir} in ${secs} s`,
  );
  return 0;
}

const SUBCOMMANDS: Record<string, CommandRun> = { export: runExport };

/** `lad data <subcommand> …` */
export const runData: CommandRun = (args, io) => {
  const [sub, ...rest] = args;
  if (sub === undefined) throw new UsageError(`lad data: give a subcommand.\n${DATA_USAGE}`);
  if (sub === '--help' || sub === '-h' || sub === 'help') return (io.out(DATA_USAGE), 0);
  const run = SUBCOMMANDS[sub];
  if (!run) {
    const guess = suggest(sub, Object.keys(SUBCOMMANDS));
    throw new UsageError(
      `lad data: unknown subcommand '${sub}'${guess ? `; did you mean '${guess}'?` : '.'} The subcommands are ${Object.keys(SUBCOMMANDS).join(', ')}.`,
    );
  }
  return run(rest, io);
};

// The `lad` command: subcommand dispatch and help. Each subcommand is a module under cli/ exporting a
// `CommandRun`, listed in COMMANDS below and imported only when it runs (so `lad --help` stays fast).
// Usage errors (bad flags, unknown subcommands) exit with 2 and say what to change; other failures
// exit with 1. Run via bin/lad.js, `pnpm lad`, or `node --import tsx packages/lad/src/cli.ts`.

import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { UsageError, suggest, type CliIO, type CommandRun } from './cli/args.ts';

export type { CommandRun } from './cli/args.ts';

export interface Command {
  name: string;
  /** One line for `lad --help`. */
  summary: string;
  /** Imports the subcommand's module. */
  load(): Promise<CommandRun>;
}

/** The subcommands, in help order. train, train-teacher, distill, eval and experiment join here. */
export const COMMANDS: readonly Command[] = [
  {
    name: 'data',
    summary: 'dataset utilities: lad data export <digits-seg|textured-blobs> --out DIR',
    load: async () => (await import('./cli/data.ts')).runData,
  },
  {
    name: 'experiment',
    summary: 'the LAD experiment, all controls side by side over seeds: lad experiment --preset quick',
    load: async () => (await import('./cli/experiment.ts')).runExperimentCommand,
  },
  {
    name: 'report',
    summary: 'merge the finished units of sharded experiment runs: lad report DIR',
    load: async () => (await import('./cli/experiment.ts')).runReportCommand,
  },
  { name: 'train', summary: 'train the baseline segmenter (cross-entropy, no label channel)', load: async () => (await import('./cli/train.ts')).runTrain },
  {
    name: 'train-teacher',
    summary: 'train the LAD teacher on image + encoded labels (--init-from CKPT)',
    load: async () => (await import('./cli/train.ts')).runTrainTeacher,
  },
  { name: 'distill', summary: 'distil a teacher into a student: lad distill --teacher CKPT', load: async () => (await import('./cli/train.ts')).runDistill },
  {
    name: 'eval',
    summary: 'evaluate a checkpoint: lad eval --checkpoint CKPT [--label-mode zeros|encoded|otherImage]',
    load: async () => (await import('./cli/eval.ts')).runEval,
  },
];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: lad <command> [args] [--help]',
    '',
    'LAD (Label Assisted Distillation) for semantic segmentation.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run lad <command> --help for its arguments.',
  ].join('\n');
}

const STDIO: CliIO = { out: (l) => console.log(l), err: (l) => console.error(l) };

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIO = STDIO): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) throw new UsageError(`lad: give a command.\n${usage()}`);
    if (name === '--help' || name === '-h' || name === 'help') return (io.out(usage()), 0);
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) {
      const guess = suggest(
        name,
        COMMANDS.map((c) => c.name),
      );
      const what = name.startsWith('-') ? `unknown flag '${name}' before the command` : `unknown command '${name}'`;
      throw new UsageError(
        `lad: ${what}${guess ? `; did you mean '${guess}'?` : '.'} The commands are ${COMMANDS.map((c) => c.name).join(', ')} (lad --help).`,
      );
    }
    return await (await cmd.load())(rest, io);
  } catch (e) {
    if (e instanceof UsageError) return (io.err(e.message), 2);
    io.err(`lad ${name}: ${(e as Error).message}`);
    if (process.env.LAD_DEBUG) io.err((e as Error).stack ?? '');
    return 1;
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isEntry) process.exitCode = await main(process.argv.slice(2));

// Flag parsing for the `lad` subcommands: node:util parseArgs in strict mode, with its errors turned
// into UsageErrors that say what to change. A UsageError makes the CLI exit with code 2.

import { parseArgs } from 'node:util';
import { suggest } from '../suggest.ts';

export { suggest };

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Where a command writes: stdout for results, stderr for progress and errors. */
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
}

/** Runs a subcommand on the arguments after its name; returns the exit code, throws UsageError for bad usage. */
export type CommandRun = (args: string[], io: CliIO) => number | Promise<number>;

export interface FlagSpec {
  /** Flag name without dashes → kind; `boolean` flags take no value. */
  [name: string]: { type: 'string' | 'boolean'; help: string; value?: string };
}

export interface Parsed {
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses `args` against `spec`; `command` (e.g. 'lad data export') prefixes every error. */
export function parseFlags(command: string, args: string[], spec: FlagSpec): Parsed {
  const options = Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { type: v.type }]));
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { flags: values as Parsed['flags'], positionals };
  } catch (e) {
    throw new UsageError(`${command}: ${explainParseError(e as Error & { code?: string }, spec)} (see ${command} --help)`);
  }
}

function explainParseError(e: Error & { code?: string }, spec: FlagSpec): string {
  const known = Object.keys(spec)
    .map((k) => `--${k}`)
    .join(', ');
  const flag = /'(-{1,2}[^' ]+)/.exec(e.message)?.[1] ?? '';
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const guess = suggest(flag.replace(/^-+/, ''), Object.keys(spec));
    return `unknown flag ${flag}${guess ? ` (did you mean --${guess}?)` : ''}; the flags are ${known}`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /argument missing/.test(e.message)) return `flag ${flag} needs a value`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /ambiguous/.test(e.message))
    return `flag ${flag} needs a value (for one that starts with '-', write ${flag}=-X)`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /does not take/.test(e.message)) return `flag ${flag} takes no value`;
  return e.message.split('. ')[0];
}

/** The help lines of a flag spec: `  --name VALUE  help`. */
export function formatFlags(spec: FlagSpec): string[] {
  const left = Object.entries(spec).map(([k, v]) => `--${k}${v.type === 'string' ? ` ${v.value ?? 'VALUE'}` : ''}`);
  const width = Math.max(...left.map((l) => l.length));
  return Object.values(spec).map((v, i) => `  ${left[i].padEnd(width)}  ${v.help}`);
}

/** A non-negative integer flag, or `fallback` when absent. */
export function intFlag(command: string, flags: Parsed['flags'], name: string, fallback: number | undefined, min = 0): number | undefined {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${command}: --${name} must be an integer >= ${min}: got '${String(v)}'.`);
  }
  return n;
}

// The main-thread side of the DataLoader's prefetch: one worker thread (loader-worker.ts) that
// rebuilds the dataset from its DatasetSpec and builds requested batches while the caller trains.
// From the sources (tsx, vitest) TypeScript is loaded in the worker by registering tsx inside it (see
// bootCode), which works under `tsx script.ts`, `node --import tsx` and vitest; from the built dist/
// the worker imports loader-worker.js directly (tsx only if the parent runs under it, for .ts dataset
// modules). The worker is unref'd while no request is pending and terminated by close(), so it never
// keeps the process alive. Node's modules are taken when a Prefetcher starts (node.ts), so the
// DataLoader bundles for a browser, where it loads batches synchronously.

import type { Worker } from 'node:worker_threads';
import { nodeModule } from '../node.ts';
import { DTypeError, DeviceError, ShapeError, ValueError } from '@lad/tensor';
import type { AugmentOptions } from './augment.ts';
import type { RawBatch } from './batch.ts';
import type { DatasetSpec } from './dataset-spec.ts';
import type { ToWorker, WireError } from './loader-worker.ts';

type FromWorker =
  | { type: 'ready'; name: string; length: number }
  | { type: 'init-error'; error: WireError }
  | { type: 'batch'; id: number; batch: RawBatch }
  | { type: 'error'; id: number; error: WireError };

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

const INIT = -1;

/** The parent's execArgv without tsx's loader flags (the boot code registers tsx in the worker itself). */
export function workerExecArgv(): string[] {
  const argv = process.execArgv,
    out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const isLoader = ['--import', '--require', '-r', '--loader', '--experimental-loader'].includes(flag);
    const value = inline ?? (isLoader ? argv[i + 1] : undefined);
    if (isLoader && value !== undefined && value.includes('tsx')) {
      if (inline === undefined) i++;
      continue;
    }
    out.push(argv[i]);
  }
  return out;
}

/** This module's extension: '.ts' when run from the sources, '.js' from the built dist/. */
const SELF_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** tsx's ESM register API file (the package's `./esm/api` import export; require.resolve would give the CJS one), or undefined if tsx is not installed. */
function tsxEsmApi(): string | undefined {
  const { readFileSync } = nodeModule('DataLoader prefetch', 'node:fs'),
    { dirname, join } = nodeModule('DataLoader prefetch', 'node:path');
  let pkgFile: string;
  try {
    pkgFile = nodeModule('DataLoader prefetch', 'node:module')
      .createRequire(import.meta.url)
      .resolve('tsx/package.json');
  } catch {
    return undefined;
  }
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import?: { default?: string } } | string> };
  const api = pkg.exports['./esm/api'];
  const rel = typeof api === 'object' ? api.import?.default : undefined;
  if (!rel) throw new Error(`DataLoader prefetch: ${pkgFile} has no './esm/api' import export; cannot load TypeScript in the worker.`);
  return join(dirname(pkgFile), rel);
}

/**
 * The worker's boot code: register tsx in the worker thread when TypeScript is needed (this module
 * runs from the sources, or the parent runs under tsx), then import the worker entry.
 * NOTE: on Node 20, `execArgv: ['--import', 'tsx']` does not make the worker's own entry loadable
 * (the hooks do not reach its main module: "Unknown file extension .ts"); registering in-thread does.
 */
function bootCode(): string {
  const entry = new URL(`./loader-worker${SELF_EXT}`, import.meta.url).href;
  const needsTs = SELF_EXT === '.ts' || workerExecArgv().length < process.execArgv.length;
  const api = needsTs ? tsxEsmApi() : undefined;
  if (api === undefined) {
    if (SELF_EXT === '.ts') throw new Error('DataLoader prefetch: tsx is not installed; cannot load TypeScript in the worker.');
    return `import(${JSON.stringify(entry)});`;
  }
  const tsxApi = nodeModule('DataLoader prefetch', 'node:url').pathToFileURL(api).href;
  return `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

/** The worker's error as the class it was thrown with (the library's typed errors), else an Error. */
const WIRE_CLASSES: Record<string, new (message: string) => Error> = { ShapeError, ValueError, DTypeError, DeviceError, TypeError, RangeError };
function wireToError(w: WireError): Error {
  const e = new (WIRE_CLASSES[w.name] ?? Error)(w.message);
  e.name = w.name;
  return e;
}

export class Prefetcher {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;
  readonly ready: Promise<void>;

  constructor(spec: DatasetSpec, seed: number, augment: AugmentOptions | undefined, expect: { name: string; length: number }) {
    const { Worker } = nodeModule('DataLoader prefetch', 'node:worker_threads');
    this.worker = new Worker(bootCode(), { eval: true, execArgv: workerExecArgv() });
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => this.track(INIT, { resolve: () => resolve(), reject }));
    this.ready.catch(() => {}); // surfaced through request()
    this.worker.on('message', (m: FromWorker) => this.onMessage(m, expect));
    this.worker.on('error', (e) => this.fail(new Error(`DataLoader prefetch worker failed: ${e.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`DataLoader prefetch worker exited (code ${code}).`)));
    this.post({ type: 'init', spec, seed, augment });
  }

  /** The batch of `indices` in `epoch`, built in the worker. */
  request(epoch: number, indices: number[]): Promise<RawBatch> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const p = new Promise<RawBatch>((resolve, reject) => this.track(id, { resolve: (v) => resolve(v as RawBatch), reject }));
    this.post({ type: 'batch', id, epoch, indices });
    return Promise.all([this.ready, p]).then(([, b]) => b);
  }

  async close(): Promise<void> {
    this.fail(new Error('DataLoader closed.'));
    await this.worker.terminate();
  }

  private post(msg: ToWorker): void {
    this.worker.postMessage(msg);
  }

  private track(id: number, p: Pending): void {
    if (this.pending.size === 0) this.worker.ref(); // keep the process alive while a result is awaited
    this.pending.set(id, p);
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    return p;
  }

  private onMessage(m: FromWorker, expect: { name: string; length: number }): void {
    if (m.type === 'ready') {
      const ok = m.length === expect.length;
      const init = this.settle(INIT);
      if (ok) init?.resolve(undefined);
      else
        this.fail(
          new ValueError(
            `DataLoader prefetch: the worker rebuilt '${m.name}' with ${m.length} samples, but the loader's dataset '${expect.name}' has ${expect.length}; check its spec.`,
          ),
        );
    } else if (m.type === 'init-error') this.fail(wireToError(m.error));
    else if (m.type === 'batch') this.settle(m.id)?.resolve(m.batch);
    else this.settle(m.id)?.reject(wireToError(m.error));
  }

  /** Rejects everything pending; later requests reject with the same error. */
  private fail(e: Error): void {
    this.failure ??= e;
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(this.failure);
  }
}

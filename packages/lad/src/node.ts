// Node's built-in modules for the parts of @lad/lad that touch files or threads (a run's log and
// checkpoints, the DataLoader's prefetch worker), taken when a function needs them
// (process.getBuiltinModule, Node >= 20.16) instead of imported at the top: the modules that use
// them then bundle for a browser (the `browser` entry, browser.ts), where such a function throws a
// DeviceError naming itself and everything else runs.

import type * as fs from 'node:fs';
import type * as path from 'node:path';
import type * as url from 'node:url';
import type * as module from 'node:module';
import type * as workerThreads from 'node:worker_threads';
import { DeviceError } from '@lad/tensor';

interface Builtins {
  'node:fs': typeof fs;
  'node:path': typeof path;
  'node:url': typeof url;
  'node:module': typeof module;
  'node:worker_threads': typeof workerThreads;
}

/** Node's module `id` for `op`; a DeviceError outside Node. */
export function nodeModule<K extends keyof Builtins>(op: string, id: K): Builtins[K] {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') throw new DeviceError(`${op}: needs Node (${id}, Node >= 20.16); this is not Node.`);
  return proc.getBuiltinModule(id) as Builtins[K];
}

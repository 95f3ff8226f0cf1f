// Node's fs, path and crypto for the file I/O of @lad/nn, taken when a function needs them
// (process.getBuiltinModule, Node >= 20.16) instead of imported: @lad/nn then bundles for a browser
// with no node: import. There, the in-memory forms work (parseSafetensors, state dicts) and the
// functions that touch files throw a DeviceError naming themselves.

import type * as fs from 'node:fs';
import type * as path from 'node:path';
import type * as crypto from 'node:crypto';
import { DeviceError } from '@lad/tensor';

interface Builtins {
  'node:fs': typeof fs;
  'node:path': typeof path;
  'node:crypto': typeof crypto;
}

/** Node's module `id` for the file function `op`; a DeviceError outside Node. */
export function nodeModule<K extends keyof Builtins>(op: string, id: K): Builtins[K] {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function')
    throw new DeviceError(`${op}: needs Node's file system (${id}, Node >= 20.16); in a browser, use the in-memory forms.`);
  return proc.getBuiltinModule(id) as Builtins[K];
}

// Atomic file replacement (the POSIX recipe: write a temp file in the target's directory, fsync
// it, rename(2) it over the target, fsync the directory): a crash at any point leaves either the
// old file or the complete new one under the target name, never a half-written file.

import { nodeModule } from './node.ts';

/** The temp-file name for `path`: hidden, in the same directory, unique per process and call. */
export function tempPathFor(path: string): string {
  const { basename, dirname, join, resolve } = nodeModule('tempPathFor', 'node:path'),
    { randomBytes } = nodeModule('tempPathFor', 'node:crypto');
  const abs = resolve(path);
  return join(dirname(abs), `.${basename(abs)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Writes the chunks that `produce` hands to its sink into `path`, atomically. If `produce` throws,
 * the temp file is removed and `path` is left as it was.
 */
export function writeFileAtomic(path: string, produce: (sink: (chunk: Uint8Array) => void) => void): void {
  const { closeSync, fsyncSync, openSync, renameSync, rmSync } = nodeModule('writeFileAtomic', 'node:fs'),
    { dirname, resolve } = nodeModule('writeFileAtomic', 'node:path');
  const tmp = tempPathFor(path);
  let fd: number | null = openSync(tmp, 'wx');
  try {
    const out = fd;
    produce((chunk) => writeAll(out, chunk));
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeQuietly(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDirectory(dirname(resolve(path)));
}

function writeAll(fd: number, chunk: Uint8Array): void {
  const { writeSync } = nodeModule('writeFileAtomic', 'node:fs');
  for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done, chunk.length - done);
}

function closeQuietly(fd: number): void {
  try {
    nodeModule('writeFileAtomic', 'node:fs').closeSync(fd);
  } catch {
    // already failing; the first error is the one to report
  }
}

/** Makes the rename durable. NOTE: Windows cannot open a directory for fsync; there the rename is all we get. */
function fsyncDirectory(dir: string): void {
  if (process.platform === 'win32') return;
  const { closeSync, fsyncSync, openSync } = nodeModule('writeFileAtomic', 'node:fs');
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

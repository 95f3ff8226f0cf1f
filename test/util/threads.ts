// Thread settings for the tests that compare results on 1 and 2 threads: jobs split from a small
// size, and the workers run their units however late they start (no take-back by the calling thread).

import { afterAll } from 'vitest';
import { threadTuning } from '../../packages/tensor/src/backend/cpu/threads.ts';

/** Runs `fn` with jobs split from `minMacs` multiply-adds and no take-back, then restores threadTuning. */
export function withWorkerSplits<T>(minMacs: number, fn: () => T): T {
  const saved = { ...threadTuning };
  Object.assign(threadTuning, { minMacs, takeBack: false });
  try {
    return fn();
  } finally {
    Object.assign(threadTuning, saved);
  }
}

/** The same for a whole test file: from now until the file's tests end (afterAll restores threadTuning). */
export function workerSplitsInFile(minMacs: number): void {
  const saved = { ...threadTuning };
  Object.assign(threadTuning, { minMacs, takeBack: false });
  afterAll(() => void Object.assign(threadTuning, saved));
}

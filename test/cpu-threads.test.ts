// The CPU thread pool's plumbing in Node (threads.ts, threads-web.ts): a kernel's error in a worker
// comes back, with its text, through the worker's shared control buffer; initThreads in Node only
// sets the number of threads (the pool starts on first use). The kernels' results on 1 and 2 threads
// are compared in cpu-gemm.test.ts and cpu-conv.test.ts; the browser's Web Workers in `pnpm test:web`.

import { afterAll, describe, expect, it } from 'vitest';
import { initThreads, singleThreadReason } from '../packages/tensor/src/backend/cpu/threads-web.ts';
import {
  getNumThreads,
  registerKernels,
  runKernel,
  setNumThreads,
  setSplitMacs,
  threadStats,
  threadTuning,
} from '../packages/tensor/src/backend/cpu/threads.ts';
import { withWorkerSplits } from './util/threads.ts';

describe('CPU thread pool', () => {
  const threads = getNumThreads();
  afterAll(() => setNumThreads(threads));

  registerKernels({
    // Writes u + 1 into out[u]; throws in the units from `failFrom` on (that is, in the worker's part).
    // (A function, not a method: its source is shipped to the workers.)
    fillOrFail: function fillOrFail(_K: unknown, job: { out: Int32Array; failFrom: number }, u0: number, u1: number) {
      for (let u = u0; u < u1; u++) {
        if (u >= job.failFrom) throw new Error(`fillOrFail: failed at unit ${u}`);
        job.out[u] = u + 1;
      }
    },
    // out[u] = 2 x[u], plus 100 where x is on a SharedArrayBuffer (a worker's copy rather than the caller's array)
    double: function double(_K: unknown, job: { x: Float32Array; out: Float32Array }, u0: number, u1: number) {
      for (let u = u0; u < u1; u++) job.out[u] = 2 * job.x[u]!;
    },
    doubleMarkShared: function doubleMarkShared(_K: unknown, job: { x: Float32Array; out: Float32Array }, u0: number, u1: number) {
      const shared = typeof SharedArrayBuffer === 'function' && job.x.buffer instanceof SharedArrayBuffer;
      for (let u = u0; u < u1; u++) job.out[u] = 2 * job.x[u]! + (shared ? 100 : 0);
    },
  });

  it('runs a job over both threads, and brings back a worker error with its text', () => {
    setNumThreads(2);
    withWorkerSplits(threadTuning.minMacs, () => {
      const out = new Int32Array(8),
        before = threadStats().parallelJobs;
      runKernel('fillOrFail', { out, failFrom: 8 }, 8, threadTuning.minMacs, ['out']);
      expect(threadStats().parallelJobs).toBe(before + 1);
      expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // units 4..7 were the worker's, copied back
      expect(() => runKernel('fillOrFail', { out, failFrom: 6 }, 8, threadTuning.minMacs, ['out'])).toThrow(
        /runKernel: kernel 'fillOrFail' failed in a worker: Error: fillOrFail: failed at unit 6/,
      );
      // the worker is still usable after its error
      runKernel('fillOrFail', { out: out.fill(0), failFrom: 8 }, 8, threadTuning.minMacs, ['out']);
      expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });
  });

  it('takes back the units of a worker that has not started them, and gives the same results either way', () => {
    setNumThreads(2);
    const x = Float32Array.from({ length: 8 }, (_, i) => i + 1),
      taken0 = threadStats().takenBack,
      spans = (_key: string, u0: number, u1: number): [number, number][] => [[u0, u1]];
    // units 0-3 are four multiplications: the calling thread is done long before a sleeping worker wakes
    for (let i = 0; i < 50; i++) {
      const out = new Float32Array(8).fill(-1);
      runKernel('double', { x, out }, 8, threadTuning.minMacs, ['out'], spans);
      expect(Array.from(out)).toEqual([2, 4, 6, 8, 10, 12, 14, 16]); // the worker's copy back skipped where taken back
    }
    expect(threadStats().takenBack).toBeGreaterThan(taken0);
    // a taken-back part's error is the kernel's own; the worker still runs later jobs
    expect(() => runKernel('fillOrFail', { out: new Int32Array(8), failFrom: 6 }, 8, threadTuning.minMacs, ['out'])).toThrow(/fillOrFail: failed at unit 6/);
    withWorkerSplits(threadTuning.minMacs, () => {
      const out = new Float32Array(8);
      runKernel('doubleMarkShared', { x, out }, 8, threadTuning.minMacs, ['out'], spans);
      expect(Array.from(out)).toEqual([2, 4, 6, 8, 110, 112, 114, 116]);
    });
  });

  it("with spans, copies only the workers' ranges and lets the calling thread work on the caller's arrays", () => {
    setNumThreads(2);
    withWorkerSplits(threadTuning.minMacs, () => {
      const x = Float32Array.from({ length: 8 }, (_, i) => i + 1),
        out = new Float32Array(8).fill(-1),
        asked: string[] = [];
      const spans = (key: string, u0: number, u1: number): [number, number][] => (asked.push(`${key} ${u0}-${u1}`), [[u0, u1]]);
      runKernel('doubleMarkShared', { x, out }, 8, threadTuning.minMacs, ['out'], spans);
      expect(Array.from(out)).toEqual([2, 4, 6, 8, 110, 112, 114, 116]); // units 0-3 on the caller's x and out; 4-7 on the worker's copy, copied back
      expect(asked).toContain('x 4-8');
      expect(asked).toContain('out 4-8');
      expect(asked.every((a) => a.endsWith(' 4-8'))).toBe(true); // only the worker's units are asked about
    });
  });

  it('a job under threadTuning.minMacs multiply-adds runs on the calling thread', () => {
    setNumThreads(2);
    const before = threadStats().parallelJobs;
    runKernel('fillOrFail', { out: new Int32Array(8), failFrom: 8 }, 8, threadTuning.minMacs - 1, ['out']);
    expect(threadStats().parallelJobs).toBe(before);
  });

  it('initThreads in Node sets the number of threads, and rejects a bad one', async () => {
    expect(singleThreadReason()).toBeNull();
    expect(await initThreads(1)).toBe(1);
    expect(getNumThreads()).toBe(1);
    expect(await initThreads(3)).toBe(3);
    expect(() => initThreads(0)).toThrow(/initThreads: n must be an integer >= 1: got 0/);
    expect(() => initThreads(1.5)).toThrow(RangeError);
  });

  it('setSplitMacs sets the split size, and rejects a bad one', () => {
    const before = threadTuning.minMacs;
    try {
      setSplitMacs(1234);
      expect(threadTuning.minMacs).toBe(1234);
      for (const bad of [-1, Number.NaN, Infinity]) expect(() => setSplitMacs(bad)).toThrow(/setSplitMacs: macs must be a finite number >= 0/);
      expect(threadTuning.minMacs).toBe(1234);
    } finally {
      threadTuning.minMacs = before;
    }
  });
});

// The CPU thread pool in a browser: Web Workers over SharedArrayBuffer (threads.ts runs the jobs).
// A Web Worker starts only once the thread that made it returns to its event loop, so the workers
// cannot be started on the first parallel job as in Node (the kernels block in Atomics.wait):
// initThreads starts them, from a Blob of the same script as Node's workers, and waits until each
// answers. A job reaches a worker as a message (its onmessage runs it: a worker never blocks); the
// caller blocks on the worker's DONE word, and an error's text comes back in its shared control buffer.
// Needs a cross-origin isolated page (COOP: same-origin, COEP: require-corp) and a worker thread:
// elsewhere (a page without those headers, a window's own thread) the kernels run on one thread.

import { CTRL_BYTES, type PoolWorker, WORKER_COMMON, addWorker, getNumThreads, inNode, setNumThreads, threadStats } from './threads.ts';

/** A Web Worker's script: the first message hands it its control buffer; each one after is a job. */
const WEB_MAIN = `${WORKER_COMMON}
let ctrl = null;
onmessage = (e) => {
  if (ctrl !== null) return run(ctrl, e.data);
  ctrl = new Int32Array(e.data.ctrl);
  postMessage('ready');
};`;

/** The browser globals used here (the package is type-checked without the DOM lib). */
type WebWorker = { postMessage(m: unknown): void; terminate(): void; onmessage: (() => void) | null; onerror: (() => void) | null };
type WebGlobals = {
  crossOriginIsolated?: boolean;
  document?: unknown;
  navigator?: { hardwareConcurrency?: number };
  Worker: new (url: string, options: { name: string }) => WebWorker;
};

/**
 * Why the CPU kernels run on one thread here, or null where initThreads can start workers (Node, or
 * a cross-origin isolated browser worker).
 */
export function singleThreadReason(): string | null {
  if (inNode) return null;
  const g = globalThis as unknown as WebGlobals;
  if (g.crossOriginIsolated !== true || typeof SharedArrayBuffer !== 'function')
    return 'the page is not cross-origin isolated (its server sends no COOP: same-origin and COEP: require-corp), so it has no SharedArrayBuffer';
  if (g.document !== undefined) return "a window's own thread cannot block on workers (Atomics.wait): train in a Web Worker";
  return null;
}

let starting: Promise<number> = Promise.resolve(0);

/**
 * Starts the threads the CPU kernels may use (the calling thread included): `n`, by default
 * min(2, cores) as in Node; resolves to the number now in use. In a browser it starts Web Workers
 * (fewer if some do not answer within 10 s; none where singleThreadReason() says why), and must be
 * awaited before the kernels can use them. In Node the pool starts on first use: this only sets the number.
 */
export function initThreads(n?: number): Promise<number> {
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new RangeError(`initThreads: n must be an integer >= 1: got ${n}`);
  if (inNode) {
    if (n !== undefined) setNumThreads(n);
    return Promise.resolve(getNumThreads());
  }
  const want = n ?? Math.max(1, Math.min(2, (globalThis as unknown as WebGlobals).navigator?.hardwareConcurrency ?? 1));
  starting = starting.then(async () => {
    setNumThreads(want);
    if (singleThreadReason() === null) {
      const started = await Promise.all(Array.from({ length: Math.max(0, want - 1 - threadStats().workers) }, startWebWorker));
      for (const w of started) if (w !== null) addWorker(w);
    }
    return getNumThreads();
  });
  return starting;
}

/** A Web Worker running WEB_MAIN, once it has answered; null if it fails or does not answer within 10 s. */
function startWebWorker(): Promise<PoolWorker | null> {
  const url = URL.createObjectURL(new Blob([WEB_MAIN], { type: 'text/javascript' }));
  const worker = new (globalThis as unknown as WebGlobals).Worker(url, { name: 'lad-cpu' });
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_BYTES));
  return new Promise<PoolWorker | null>((resolve) => {
    const give = (w: PoolWorker | null) => {
      clearTimeout(timer);
      URL.revokeObjectURL(url);
      [worker.onmessage, worker.onerror] = [null, null];
      if (w === null) worker.terminate();
      resolve(w);
    };
    const timer = setTimeout(() => give(null), 10_000);
    worker.onerror = () => give(null);
    worker.onmessage = () => give({ send: (job) => worker.postMessage(job), ctrl, seq: 0, loaded: 0, loadedValues: 0 });
    worker.postMessage({ ctrl: ctrl.buffer });
  });
}

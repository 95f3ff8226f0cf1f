// Fork-join thread pool for the CPU kernels (node:worker_threads + SharedArrayBuffer).
// The op API is synchronous, so the main thread posts a job to persistent workers, wakes them with
// Atomics.notify, computes its own fixed partition, takes back (runs itself) the partition of a
// worker that has not claimed it yet, then waits (a short spin, then Atomics.wait) until all are done.
// Kernels are self-contained functions (no imports, no closures) shipped to the workers as source
// via fn.toString(), which works the same under tsx, vitest and plain node. Work is split in fixed
// contiguous ranges of "units", and every kernel computes each output element in one unit only.
// Values kernels need that are not code (a compiled WebAssembly.Module) are registered once with
// registerValues and posted to each worker with its next job (K.value); K.local keeps per-thread
// objects between jobs (such as a WebAssembly instance and its memory).
// Node's modules are taken with process.getBuiltinModule (synchronous, Node >= 20.16), not imported,
// so that a browser bundle has no node: import. In a browser the pool is made of Web Workers, which
// must be started before a kernel blocks on them: threads-web.ts (initThreads) starts them; until
// then, and on a page that is not cross-origin isolated, every kernel runs on the calling thread.

import { alloc, allocShared, dtypeOf, isShared, type FloatArray, type TypedArray } from './alloc.ts';

/** A kernel body: computes units [u0, u1) of `job`. Must be self-contained (it also runs in a worker). */
// biome-ignore lint/suspicious/noExplicitAny: kernels take and return anything; they are shipped to workers as source
export type KernelFn = (...args: any[]) => any;
/** The table kernels call each other through (same names on the main thread and in the workers). */
export interface KernelTable {
  /** A thread-local float64 scratch buffer of at least n elements (contents undefined). */
  buf(slot: string, n: number): Float64Array;
  /** A thread-local object kept between jobs, made by `make` on first use in each thread (e.g. a WebAssembly instance). */
  local<T>(slot: string, make: () => T): T;
  /** A value given to registerValues (structured-cloned once into each worker, e.g. a WebAssembly.Module). */
  value(name: string): unknown;
  [name: string]: KernelFn;
}

/**
 * The CPU thread pool's knobs. `minMacs` (set by setSplitMacs): a job is split across threads from
 * that many multiply-adds (4 M; tests lower it to split small jobs). A worker starts 0.05-0.8 ms after
 * the post on the project's 2-core VM (an idle vCPU wakes; at times several ms), and the operands are
 * copied into shared memory. `takeBack`: the calling thread, done with its own units, runs those of a
 * worker that has not started them yet (tests turn it off to make the workers run theirs), so a late
 * worker costs a small job little. `joinSpinMs`: how long the calling thread then spins on a running
 * worker's DONE word before it sleeps in Atomics.wait (a thread asleep wakes slowly). Step medians on
 * 2 threads with tidy() (`npx tsx bench/threads-ab.ts`, idle machine), split from 32 M / 8 M / 4 M / 2 M:
 * LAD teacher 96x96 90.2 / 82.8 / 82.4 / 82.3 ms (1 thread 100.8), teacher 48x48 33.6 / 31.4 / 30.8 / 29.8
 * (33.7), tiny CNN 74.5 / 74.6 / 74.1 / 73.1 (115.8); at 8 M without take-back 84.6, 31.4, 74.7.
 */
export const threadTuning = { minMacs: 1 << 22, takeBack: true, joinSpinMs: 2 };

// --- code that also runs in the workers (self-contained) -------------------------------------

function makeScratch(make: (n: number) => Float64Array): (slot: string, n: number) => Float64Array {
  const bufs = new Map<string, Float64Array>();
  return function buf(slot: string, n: number): Float64Array {
    let a = bufs.get(slot);
    if (a === undefined || a.length < n) {
      a = make(Math.max(n, a === undefined ? 0 : Math.floor(a.length * 1.5)));
      bufs.set(slot, a);
    }
    return a;
  };
}

function makeLocal(): <T>(slot: string, make: () => T) => T {
  const objs = new Map<string, unknown>();
  return function local<T>(slot: string, make: () => T): T {
    if (!objs.has(slot)) objs.set(slot, make());
    return objs.get(slot) as T;
  };
}

// Control words, one Int32Array per worker, followed by the text of a worker's error (UTF-16).
const SEQ = 0,
  DONE = 1,
  ERR = 2, // 0, or 1 + the length of the error text
  READY = 3,
  CLAIM = 4, // the posted job's seq while nobody has taken it; -1: the worker took it; 0: the caller did
  TEXT_AT = 32, // byte offset of the error text
  ERR_CHARS = 2000;
/** Bytes of a worker's control buffer (SharedArrayBuffer): the control words and the error text. */
export const CTRL_BYTES = TEXT_AT + 2 * ERR_CHARS;

/** The part of a worker's script both starters share: K, and run(ctrl, job), which loads the new kernels and values, runs the units and signals DONE. */
export const WORKER_COMMON = `
var __name = (f) => f; // esbuild's keepNames helper (tsx transpiles with keepNames)
const values = new Map();
const K = { buf: (${makeScratch.toString()})((n) => new Float64Array(n)), local: (${makeLocal.toString()})(), value: (n) => values.get(n) };
function run(ctrl, job) {
  try {
    for (const [name, v] of job.values) values.set(name, v);
    for (const [name, src] of job.load) K[name] = new Function('__name', 'return (' + src + ')')(__name);
    // the caller runs the units itself when it finished its own before this worker took them
    if (Atomics.compareExchange(ctrl, ${CLAIM}, job.seq, -1) === job.seq) K[job.name](K, job.args, job.u0, job.u1);
  } catch (e) {
    const text = String((e && e.stack) || e).slice(0, ${ERR_CHARS}), chars = new Uint16Array(ctrl.buffer, ${TEXT_AT}, ${ERR_CHARS});
    for (let i = 0; i < text.length; i++) chars[i] = text.charCodeAt(i);
    Atomics.store(ctrl, ${ERR}, 1 + text.length);
  }
  Atomics.store(ctrl, ${DONE}, job.seq); Atomics.notify(ctrl, ${DONE});
}`;

/**
 * Node: the worker blocks on SEQ and takes the jobs posted before the wake-up with receiveMessageOnPort,
 * one message per seq, in order (a job the caller took back is still read, to load its kernels, and skipped).
 */
const NODE_MAIN = `${WORKER_COMMON}
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const ctrl = new Int32Array(workerData.ctrl), port = workerData.port;
Atomics.store(ctrl, ${READY}, 1); Atomics.notify(ctrl, ${READY});
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, ${SEQ}, seen);
  const seq = Atomics.load(ctrl, ${SEQ});
  if (seq === seen) continue;
  let msg;
  while ((msg = receiveMessageOnPort(port)) === undefined) {} // posted before the wake-up; spin is brief
  run(ctrl, msg.message);
  seen = msg.message.seq;
}`;

// --- registry ---------------------------------------------------------------------------------

const values = new Map<string, unknown>();
const K: KernelTable = { buf: makeScratch((n) => alloc('float64', n)), local: makeLocal(), value: (n) => values.get(n) };
const sources: [string, string][] = [];
const valueList: [string, unknown][] = [];

/** Makes kernels callable as K[name] here and in every worker (shipped lazily with the next job). */
export function registerKernels(fns: Record<string, KernelFn>): void {
  for (const [name, fn] of Object.entries(fns)) {
    if (K[name] === fn) continue;
    K[name] = fn;
    sources.push([name, fn.toString()]);
  }
}

/** Makes values (anything structured-clone can post, such as a WebAssembly.Module) readable as K.value(name) here and in every worker. */
export function registerValues(vals: Record<string, unknown>): void {
  for (const [name, v] of Object.entries(vals)) {
    values.set(name, v);
    valueList.push([name, v]);
  }
}

const modules = new Map<string, object | null>();
/**
 * The WebAssembly.Module of `build()`'s bytes, compiled on first use and registered as K.value(name)
 * for the kernels (here and in the workers); null where WebAssembly is missing or the bytes do not validate.
 */
export function registerModule(name: string, build: () => Uint8Array): object | null {
  let m = modules.get(name);
  if (m === undefined) {
    const WA = (globalThis as { WebAssembly?: { validate(b: Uint8Array): boolean; Module: new (b: Uint8Array) => object } }).WebAssembly;
    try {
      const bytes = build();
      m = WA !== undefined && WA.validate(bytes) ? new WA.Module(bytes) : null;
    } catch {
      m = null;
    }
    modules.set(name, m);
    if (m !== null) registerValues({ [name]: m });
  }
  return m;
}

/** What an instance of a registered module exports: its functions, and its memory. */
export interface ModuleExports {
  mem: { buffer: ArrayBuffer; grow(pages: number): number };
}

/**
 * A kernel's instance of the module registerModule compiled as `name`, its memory grown to at least
 * `bytes`: the thread's own, kept between jobs, up to `keepBytes`; past that a fresh one, whose memory
 * goes with it after the job. Kernels call it as K.moduleInstance (here and in the workers).
 */
function moduleInstance(K: KernelTable, name: string, bytes: number, keepBytes: number): ModuleExports {
  const WA = (globalThis as unknown as { WebAssembly: { Instance: new (m: unknown) => { exports: ModuleExports } } }).WebAssembly;
  const make = () => new WA.Instance(K.value(name)).exports;
  const m = bytes <= keepBytes ? K.local(name, make) : make();
  if (m.mem.buffer.byteLength < bytes) m.mem.grow(Math.ceil((bytes - m.mem.buffer.byteLength) / 65536));
  return m;
}
registerKernels({ moduleInstance });

// --- pool -------------------------------------------------------------------------------------

type NodeThreads = { os: typeof import('node:os'); wt: typeof import('node:worker_threads') };
/** node:os and node:worker_threads in Node; null in a browser (or a Node without getBuiltinModule): one thread. */
const node: NodeThreads | null = (() => {
  const proc = (globalThis as { process?: { getBuiltinModule?: NodeJS.Process['getBuiltinModule'] } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') return null;
  return { os: proc.getBuiltinModule('node:os'), wt: proc.getBuiltinModule('node:worker_threads') };
})();

/** A started worker: `send` posts a job to it (and wakes it); it signals DONE in `ctrl`. */
export interface PoolWorker {
  send(job: object): void;
  ctrl: Int32Array;
  seq: number;
  loaded: number;
  loadedValues: number;
}

/** Whether this is Node (worker_threads, started on first use) rather than a browser (Web Workers, started by initThreads). */
export const inNode = node !== null;
let numThreads = node ? Math.max(1, Math.min(2, node.os.availableParallelism())) : 1;
let disabled = false,
  parallelJobs = 0,
  takenBack = 0;
const pool: PoolWorker[] = [];

/** Splits CPU jobs across threads from `macs` multiply-adds (threadTuning.minMacs; default 4 M). */
export function setSplitMacs(macs: number): void {
  if (!(Number.isFinite(macs) && macs >= 0)) throw new RangeError(`setSplitMacs: macs must be a finite number >= 0: got ${macs}`);
  threadTuning.minMacs = macs;
}

/** Threads the kernels may use (the main thread included). Tests set 1 to compare against. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: n must be an integer >= 1: got ${n}`);
  numThreads = n;
}
/**
 * Threads the kernels may use now (the main thread included): min(2, cores) in Node by default; in
 * a browser 1, or as many as initThreads started (with the calling thread).
 */
export function getNumThreads(): number {
  return node === null ? Math.min(numThreads, pool.length + 1) : numThreads;
}
/** Started workers, jobs split over threads so far, and worker parts the calling thread took back (for tests and benchmarks). */
export function threadStats(): { workers: number; parallelJobs: number; takenBack: number } {
  return { workers: pool.length, parallelJobs, takenBack };
}
/** Adds a Web Worker that initThreads started (threads-web.ts). */
export function addWorker(w: PoolWorker): void {
  pool.push(w);
}

function startWorker(): PoolWorker | null {
  if (node === null) return null;
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_BYTES));
  const { port1, port2 } = new node.wt.MessageChannel();
  const worker = new node.wt.Worker(NODE_MAIN, {
    eval: true,
    execArgv: [],
    workerData: { ctrl: ctrl.buffer, port: port2 },
    transferList: [port2],
  });
  worker.unref();
  port1.unref();
  // A worker that cannot start would leave the main thread waiting forever: check once, then trust.
  if (Atomics.wait(ctrl, READY, 0, 10_000) === 'timed-out' && Atomics.load(ctrl, READY) === 0) {
    void worker.terminate();
    return null;
  }
  const w: PoolWorker = {
    send(job) {
      port1.postMessage(job);
      Atomics.store(ctrl, SEQ, w.seq);
      Atomics.notify(ctrl, SEQ);
    },
    ctrl,
    seq: 0,
    loaded: 0,
    loadedValues: 0,
  };
  return w;
}

/** Threads a job of `units` units and `macs` multiply-adds will run on. */
export function threadsFor(units: number, macs: number): number {
  if (disabled || macs < threadTuning.minMacs) return 1;
  return Math.max(1, Math.min(getNumThreads(), units));
}

function ensurePool(n: number): boolean {
  while (pool.length < n) {
    const w = startWorker();
    if (w === null) {
      disabled = true;
      console.warn('lad cpu backend: a worker thread did not start within 10 s; running single-threaded');
      return false;
    }
    pool.push(w);
  }
  return true;
}

// --- sharing ----------------------------------------------------------------------------------

function isTyped(v: unknown): v is TypedArray {
  return v instanceof Float32Array || v instanceof Float64Array || v instanceof Int32Array;
}

/** A shared scratch array of `like`'s dtype and length n, reused per slot and dtype (grown by 1/4 steps). */
const sharedSlots = new Map<string, TypedArray>();
function sharedScratch(slot: string, like: TypedArray, n: number): TypedArray {
  const dtype = dtypeOf(like),
    key = `${slot}:${dtype}`;
  let s = sharedSlots.get(key);
  if (s === undefined || s.length < n) {
    s = allocShared(dtype, s === undefined ? n : Math.max(n, Math.ceil(s.length * 1.25)));
    sharedSlots.set(key, s);
  }
  return s.subarray(0, n);
}

const F32 = new Float32Array(0),
  F64 = new Float64Array(0);
/** A float scratch array on a SharedArrayBuffer (reused per slot), for intermediates of multi-kernel ops. */
export function sharedFloat(slot: string, dtype: 'float32' | 'float64', n: number): FloatArray {
  return sharedScratch('user:' + slot, dtype === 'float32' ? F32 : F64, n) as FloatArray;
}

type Job = Record<string, unknown>;
/**
 * The element ranges [start, end) of the typed array at `key` (a job field, or 'B.x' one level down)
 * that units [u0, u1) read, or write (an output); null: the whole array. runKernel copies only the
 * workers' ranges into shared memory and back, and the calling thread works on the caller's arrays.
 * The workers' ranges of an output must not overlap the calling thread's.
 */
export type UnitSpans = (key: string, u0: number, u1: number) => readonly (readonly [number, number])[] | null;

/**
 * The workers' job (`job` with every non-shared typed array, to depth 2, replaced by a shared copy, of
 * the workers' ranges only where `ranges` gives them; outputs not copied in) and the calling thread's
 * (the caller's arrays, but the shared copy of an output the workers write whole).
 */
function shareJob(name: string, job: Job, outKeys: readonly string[], ranges: (key: string) => [number, number][] | null, path = ''): [Job, Job] {
  const res: Job = {},
    own: Job = {};
  for (const [key, v] of Object.entries(job)) {
    const p = path + key;
    if (isTyped(v) && !isShared(v)) {
      const s = sharedScratch(`${name}:${p}`, v, v.length),
        r = ranges(p),
        out = outKeys.includes(p);
      if (!out && r === null) s.set(v);
      else if (!out) for (const [a, b] of r!) s.set(v.subarray(a, b), a);
      res[key] = s;
      own[key] = out && r === null ? s : v;
    } else if (v !== null && typeof v === 'object' && !isTyped(v) && path === '') {
      [res[key], own[key]] = shareJob(name, v as Job, outKeys, ranges, p + '.');
    } else res[key] = own[key] = v;
  }
  return [res, own];
}

// --- running ----------------------------------------------------------------------------------

/**
 * Runs kernel `name` over units [0, units) of `job`, on up to getNumThreads() threads when `macs`
 * is large enough. Typed arrays not on a SharedArrayBuffer are copied into shared scratch for the
 * workers (only the ranges their units touch, where `spans` says them); the fields named in
 * `outKeys` (such as 'out' or 'B.x'), which the kernel must overwrite entirely, are not copied in
 * but the workers' part is copied back after. Blocks until done.
 */
export function runKernel(name: string, jobIn: object, units: number, macs: number, outKeys: readonly string[], spans?: UnitSpans): void {
  const job = jobIn as Job,
    kernel = K[name];
  if (kernel === undefined) throw new Error(`runKernel: unknown kernel '${name}' (a library bug)`);
  const T = threadsFor(units, macs);
  if (T <= 1 || !ensurePool(T - 1)) {
    kernel(K, job, 0, units);
    return;
  }
  const from = (t: number) => Math.floor((units * t) / T);
  const ranges = (key: string): [number, number][] | null => {
    if (spans === undefined) return null;
    const r: [number, number][] = [];
    for (let t = 1; t < T; t++) {
      const s = spans(key, from(t), from(t + 1));
      if (s === null) return null;
      for (const [a, b] of s) r.push([a, b]);
    }
    return r;
  };
  const [sjob, own] = shareJob(name, job, outKeys, ranges);
  parallelJobs++;
  for (let t = 1; t < T; t++) post(pool[t - 1]!, name, sjob, from(t), from(t + 1));
  let error: unknown = null;
  const taken: boolean[] = []; // taken[t]: the calling thread ran worker t's units (it had not started them)
  try {
    kernel(K, own, 0, from(1));
    for (let t = 1; t < T; t++) if ((taken[t] = takeBack(pool[t - 1]!))) kernel(K, own, from(t), from(t + 1));
  } catch (e) {
    error = e;
  }
  for (let t = 1; t < T; t++) {
    const msg = taken[t] ? null : join(pool[t - 1]!);
    if (msg !== null && error === null) error = new Error(`runKernel: kernel '${name}' failed in a worker: ${msg}`);
  }
  if (error !== null) throw error;
  for (const p of outKeys) {
    const [a, b] = p.split('.') as [string, string | undefined];
    const orig = b === undefined ? job[a] : (job[a] as Job)[b];
    const copy = b === undefined ? sjob[a] : (sjob[a] as Job)[b];
    if (orig === copy || !isTyped(orig) || !isTyped(copy)) continue;
    if (ranges(p) === null)
      orig.set(copy); // the calling thread worked on this copy too
    else
      for (let t = 1; t < T; t++) {
        if (taken[t]) continue; // written in place by the calling thread
        for (const [s, e] of spans!(p, from(t), from(t + 1))!) orig.set(copy.subarray(s, e), s);
      }
  }
}

function post(w: PoolWorker, name: string, args: Job, u0: number, u1: number): void {
  const load = sources.slice(w.loaded),
    values = valueList.slice(w.loadedValues);
  w.loaded = sources.length;
  w.loadedValues = valueList.length;
  w.seq = (w.seq + 1) | 0 || 1;
  Atomics.store(w.ctrl, CLAIM, w.seq);
  w.send({ name, args, u0, u1, load, values, seq: w.seq });
}

/**
 * Whether the calling thread takes back `w`'s posted units: yes when `w` has not started them (its
 * core may take a millisecond or more to wake up); the worker then skips the job when it reads it.
 */
function takeBack(w: PoolWorker): boolean {
  if (!threadTuning.takeBack || Atomics.compareExchange(w.ctrl, CLAIM, w.seq, 0) !== w.seq) return false;
  takenBack++;
  return true;
}

/** Blocks until `w` finished its job; returns its error message, if any. */
function join(w: PoolWorker): string | null {
  // spin only on a worker that runs (has claimed its part): one that has not may be queued on this core
  const spinEnd = performance.now() + threadTuning.joinSpinMs;
  while (Atomics.load(w.ctrl, DONE) !== w.seq && Atomics.load(w.ctrl, CLAIM) === -1 && performance.now() < spinEnd) {}
  let d: number;
  while ((d = Atomics.load(w.ctrl, DONE)) !== w.seq) Atomics.wait(w.ctrl, DONE, d, 1000);
  const n = Atomics.load(w.ctrl, ERR) - 1;
  if (n < 0) return null;
  Atomics.store(w.ctrl, ERR, 0);
  return n === 0 ? 'unknown error' : String.fromCharCode(...new Uint16Array(w.ctrl.buffer, TEXT_AT, n));
}

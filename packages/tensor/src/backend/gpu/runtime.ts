// The GPU runtime: one gpu.js instance in the mode initBackend chose, device buffers, the kernel
// queue and its flushes, reads back to the host, checks deferred to the next read, and the kernel
// cache. Ops stay synchronous: `launch` enqueues a kernel and returns its (pending) output buffer;
// the queue runs at a read or at `await flush()`. In the synchronous modes (cpu, webasm, webgl2)
// a sync read runs it at once; webgpu's first call of a kernel is asynchronous, so there only the
// async reads can run the queue.

import type { DType, TypedArray } from '../cpu/alloc.ts';
import { contiguousData, view, type AnyStorage, type DeviceData, type Storage } from '../../storage.ts';
import { DeviceError, InternalError } from '../../errors.ts';

/** The gpu.js modes, from a real GPU (webgpu, webgl2) to the CPU (webasm, cpu: checks of the GPU code path). */
export type GpuMode = 'webgpu' | 'webgl2' | 'webasm' | 'cpu';
export const GPU_MODES: readonly GpuMode[] = ['webgpu', 'webgl2', 'webasm', 'cpu'];

/** The npm package `webgpu` (Dawn for Node): found by initBackend when installed, or passed in by the caller (`await import('webgpu')`). */
export interface WebGpuModule {
  create(flags: string[]): unknown;
  globals?: Record<string, unknown>;
}

/** Options of initBackend('gpu'). */
export interface InitOptions {
  /** 'auto' (default): webgpu if an adapter answers, else webgl2 (browsers), else webasm, else cpu. */
  mode?: 'auto' | GpuMode;
  /** Node only: the `webgpu` module that provides navigator.gpu (gpu.js does not wire Dawn itself); default: the installed npm `webgpu` (0.4 or later), if any. */
  webgpu?: WebGpuModule;
  /** Every kernel call returns a Promise (gpu.js asyncMode): how CI exercises the webgpu code path in cpu mode. */
  asyncKernels?: boolean;
  /** Kernels kept compiled (LRU; an evicted kernel is destroyed). */
  cacheSize?: number;
  /**
   * Device bytes that may become garbage between collections. The JS heap does not see device
   * memory, so a flush that finds live buffers grown by more than this since the last collection
   * asks V8 for one (Node; browsers collect on their own). Default 256 MiB.
   */
  gcBytes?: number;
}

/** What initBackend('gpu') chose, and why the other modes were not taken. */
export interface GpuInfo {
  mode: GpuMode;
  /** Every mode tried, in order, and why it was or was not taken. */
  tried: { mode: GpuMode; ok: boolean; why: string }[];
}

interface GpuJsKernel {
  (...args: unknown[]): unknown;
  destroy(removeCanvasReferences?: boolean): void;
}
interface GpuJs {
  createKernel(src: string, settings: Record<string, unknown>): GpuJsKernel;
  destroy(): unknown;
}

const state = {
  gpu: null as GpuJs | null,
  mode: null as GpuMode | null,
  asyncKernels: false,
  cacheSize: 1024,
  /** Set when we installed navigator.gpu ourselves (Node): removed again by disposeGpu. */
  ownsNavigator: false,
  gcBytes: 256 * 2 ** 20,
  /** V8's collector where it can be had (Node), else null. */
  gc: null as (() => void) | null,
};

// ---- device buffers ----------------------------------------------------------------------------

/** What a buffer's kernel produced: a Float32Array (cpu, webasm), a gpu.js Texture (webgl2) or WebGPUBufferResult (webgpu). */
interface Cell {
  value: unknown;
  bytes: number;
}

const counts = { live: 0, created: 0, liveBytes: 0, bytesAtLastGc: 0, collections: 0 };
const finalizer = new FinalizationRegistry<Cell>((cell) => {
  counts.live--;
  counts.liveBytes -= cell.bytes;
  release(cell.value);
  cell.value = null;
});

function release(v: unknown): void {
  if (v && typeof (v as { delete?: unknown }).delete === 'function') (v as { delete(): void }).delete();
}

/**
 * A device buffer of `length` elements. Values are float32 on the device whatever the dtype
 * (int32 values are exact up to 2^24). Its device memory is released when the buffer is
 * garbage-collected (a FinalizationRegistry), so nothing a tensor or a gradient rule still holds
 * is ever released.
 */
export class GpuBuffer implements DeviceData {
  readonly device = 'gpu';
  readonly cell: Cell;
  constructor(
    readonly length: number,
    readonly dtype: DType,
  ) {
    this.cell = { value: null, bytes: 4 * length };
    counts.live++;
    counts.created++;
    counts.liveBytes += this.cell.bytes;
    finalizer.register(this, this.cell);
  }
  /** The kernel output; throws when the kernel that makes it has not run. */
  get value(): unknown {
    if (this.cell.value === null) throw new InternalError('gpu: a buffer was read before the kernel that makes it ran');
    return this.cell.value;
  }
  get(): number {
    throw new InternalError('gpu: device data is not read element by element');
  }
  set(): void {
    throw new InternalError('gpu: device data is not written element by element');
  }
}

export const asGpu = (s: AnyStorage): GpuBuffer => {
  if (!(s.data instanceof GpuBuffer)) throw new InternalError('gpu: a non-gpu buffer reached a gpu kernel');
  return s.data;
};

// ---- queue -------------------------------------------------------------------------------------

type Job = () => void | Promise<void>;
let queue: Job[] = [];
let running: Promise<void> | null = null;
const checks: { count: AnyStorage; error: () => Error }[] = [];

export function enqueue(job: Job): void {
  queue.push(job);
}

/** Whether a read must be asynchronous (webgpu, or kernels forced async). */
export const isAsync = (): boolean => state.mode === 'webgpu' || state.asyncKernels;

/** Runs every queued kernel now; the synchronous modes only. */
export function flushSync(op: string): void {
  if (isAsync()) {
    // always, not only with work queued: webgpu values cannot be read synchronously at all
    throw new DeviceError(
      `${op}: ${state.mode} kernels run asynchronously; read with await t.dataAsync(), t.itemAsync(), t.toArrayAsync() or t.cpuAsync(), or await flush() first.`,
    );
  }
  if (running) throw new DeviceError(`${op}: an asynchronous flush is running; await it before reading synchronously.`);
  runJobs((r) => {
    if (r) throw new InternalError('gpu: a kernel returned a Promise in a synchronous mode');
  });
  if (checks.length > 0) {
    const pending = checks.splice(0);
    for (const c of pending) if (hostData(c.count, readValueSync(asGpu(c.count)))[0] !== 0) throw c.error();
  }
}

function runJobs(onResult: (r: void | Promise<void>) => void): void {
  while (queue.length > 0) {
    const jobs = queue;
    queue = [];
    try {
      for (const j of jobs) onResult(j());
    } catch (e) {
      queue = [];
      throw e;
    }
  }
}

/** Runs every queued kernel (awaiting the asynchronous ones), then the deferred checks. */
export async function flush(): Promise<void> {
  while (running) await running.catch(() => undefined);
  const run = (async () => {
    while (queue.length > 0) {
      const jobs = queue;
      queue = [];
      try {
        for (const j of jobs) {
          const r = j();
          if (r) await r;
        }
      } catch (e) {
        queue = [];
        throw e;
      }
    }
  })();
  running = run;
  try {
    await run;
  } finally {
    running = null;
  }
  const pending = checks.splice(0);
  for (const c of pending) if (hostData(c.count, await readValue(asGpu(c.count)))[0] !== 0) throw c.error();
  await collectIfGrown();
}

/**
 * Asks for a collection when live device bytes grew by more than gcBytes over their low point
 * since the last one, then lets finalizers run. The low point, not the bytes just after the call:
 * finalizers may run turns later (under load, many), and the bytes they free count as freed.
 */
async function collectIfGrown(): Promise<void> {
  counts.bytesAtLastGc = Math.min(counts.bytesAtLastGc, counts.liveBytes);
  if (!state.gc || counts.liveBytes - counts.bytesAtLastGc <= state.gcBytes) return;
  state.gc();
  counts.collections++;
  await new Promise((r) => setTimeout(r, 0)); // FinalizationRegistry callbacks run as tasks
  counts.bytesAtLastGc = counts.liveBytes;
}

async function loadGc(): Promise<(() => void) | null> {
  if (!inNode || typeof process.getBuiltinModule !== 'function') return null;
  try {
    // taken, not imported, so that a browser bundle has no node: import
    const [v8, vm] = [process.getBuiltinModule('node:v8'), process.getBuiltinModule('node:vm')];
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

/** At the next flush or read, a nonzero element in `count` (a 1-element view) throws `error()`. */
export function deferCheck(count: AnyStorage, error: () => Error): void {
  checks.push({ count, error });
}

// ---- reads and uploads -------------------------------------------------------------------------

function readValueSync(b: GpuBuffer): Float32Array {
  const v = b.value;
  if (v instanceof Float32Array) return v;
  const arr = (v as { toArray(): unknown }).toArray();
  if (arr instanceof Float32Array) return arr;
  throw new InternalError(`gpu: a ${state.mode} buffer cannot be read synchronously`);
}

async function readValue(b: GpuBuffer): Promise<Float32Array> {
  const v = b.value;
  if (v instanceof Float32Array) return v;
  return (await (v as { toArray(): Promise<Float32Array> | Float32Array }).toArray()) as Float32Array;
}

/** The view's elements in row-major order, in its dtype, from the buffer's float32 values. */
function hostData(s: AnyStorage, flat: Float32Array): TypedArray {
  const b = asGpu(s);
  const typed = b.dtype === 'int32' ? Int32Array.from(flat) : new Float32Array(flat);
  return contiguousData(view(typed, s.shape, s.stride, s.offset) as Storage);
}

export function readSync(s: AnyStorage, op = 'read'): TypedArray {
  flushSync(op);
  return hostData(s, readValueSync(asGpu(s)));
}

export async function read(s: AnyStorage): Promise<TypedArray> {
  await flush();
  return hostData(s, await readValue(asGpu(s)));
}

/** A dense device copy of CPU data. */
export function upload(data: TypedArray): GpuBuffer {
  if (data instanceof Float64Array) throw new DeviceError("to: gpu tensors are float32 or int32; cast first with .to('float32').");
  const out = new GpuBuffer(data.length, data instanceof Int32Array ? 'int32' : 'float32');
  const f32 = Float32Array.from(data);
  if (state.mode === 'cpu' || state.mode === 'webasm' || data.length === 0) out.cell.value = f32;
  else {
    // on a real device the upload is a copy kernel, so every buffer is a kernel output of one kind
    enqueue(() => settle(out, kernelFor({ key: `upload|${data.length}`, src: 'function(a) { return a[this.thread.x]; }', n: data.length, consts: {} })(f32)));
  }
  return out;
}

// ---- kernels -----------------------------------------------------------------------------------

/** A kernel: gpu.js source over 1-D output [n], constants (Integer unless listed in `floats`) and the loop bound. */
export interface KernelSpec {
  key: string;
  src: string;
  n: number;
  consts: Record<string, number>;
  floats?: readonly string[];
  loopMax?: number;
}

const cache = new Map<string, GpuJsKernel>();
export const kernelStats = { compiled: 0, evicted: 0, launched: 0 };

/** The compiled kernel for `spec`, from the cache or compiled now. */
export function kernelFor(spec: KernelSpec): GpuJsKernel {
  const key = `${spec.key}|${spec.n}|${JSON.stringify(spec.consts)}`;
  let k = cache.get(key);
  if (k) {
    cache.delete(key); // LRU: most recently used last
    cache.set(key, k);
    return k;
  }
  const gpu = state.gpu;
  if (!gpu) throw new DeviceError("gpu: the backend is not initialised; call await initBackend('gpu') first.");
  const constantTypes: Record<string, string> = {};
  for (const name of Object.keys(spec.consts)) constantTypes[name] = spec.floats?.includes(name) ? 'Float' : 'Integer';
  k = gpu.createKernel(spec.src, {
    output: [spec.n],
    pipeline: true,
    immutable: true,
    dynamicArguments: true,
    precision: 'single',
    tactic: 'precision',
    constants: spec.consts,
    constantTypes,
    loopMaxIterations: Math.max(1, spec.loopMax ?? 1),
    ...(state.asyncKernels ? { asyncMode: true } : {}),
  });
  kernelStats.compiled++;
  cache.set(key, k);
  while (cache.size > state.cacheSize) {
    const [oldKey, old] = cache.entries().next().value as [string, GpuJsKernel];
    cache.delete(oldKey);
    old.destroy();
    kernelStats.evicted++;
  }
  return k;
}

const isThenable = (v: unknown): v is Promise<unknown> => typeof (v as { then?: unknown })?.then === 'function';

function settle(out: GpuBuffer, r: unknown): void | Promise<void> {
  if (isThenable(r)) {
    return r.then((v) => {
      out.cell.value = v;
    });
  }
  out.cell.value = r;
}

/** Enqueues `spec` over `args` and returns its output buffer (pending until the queue runs). */
export function launch(spec: KernelSpec, args: readonly GpuBuffer[], dtype: DType): GpuBuffer {
  const out = new GpuBuffer(spec.n, dtype);
  if (spec.n === 0) {
    out.cell.value = new Float32Array(0);
    return out;
  }
  kernelStats.launched++;
  enqueue(() => settle(out, kernelFor(spec)(...args.map((a) => a.value))));
  return out;
}

// ---- init --------------------------------------------------------------------------------------

interface GpuJsModule {
  GPU: (new (
    settings: Record<string, unknown>,
  ) => GpuJs) & {
    isWebGL2Supported: boolean;
    isWebGPUSupported: boolean;
    isWebGPUAvailable(): Promise<boolean>;
    isWebAssemblySupported: boolean;
  };
}

async function loadGpuJs(): Promise<GpuJsModule> {
  const m = (await import('gpu.js')) as unknown as GpuJsModule & { default?: GpuJsModule };
  return m.GPU ? m : m.default!;
}

const inNode = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * The npm package `webgpu` (Dawn's Node bindings, an optional native addon that is not a dependency
 * of @lad/tensor) when it is installed: the first node_modules/webgpu of version 0.4 or later up from
 * the working directory, then up from this file (or up from each folder in `from`). Older ones
 * (0.2.x is gpu.js's own dependency, macOS binaries only) are passed over. NODE_PATH is not used.
 * `why` says what was missing when there is no module.
 */
export async function findWebGpu(from?: readonly string[]): Promise<{ module?: WebGpuModule; why: string }> {
  // Node built-ins through a non-literal import: bundlers building for a browser leave it alone.
  const node = <T>(name: string): Promise<T> => import(/* @vite-ignore */ `node:${name}`) as Promise<T>;
  const [{ dirname, join }, { fileURLToPath, pathToFileURL }, { existsSync, readFileSync }] = await Promise.all([
    node<typeof import('node:path')>('path'),
    node<typeof import('node:url')>('url'),
    node<typeof import('node:fs')>('fs'),
  ]);
  let why = 'the npm package webgpu is not installed';
  for (const start of from ?? [process.cwd(), dirname(fileURLToPath(import.meta.url))]) {
    for (let dir = start, up = ''; dir !== up; up = dir, dir = dirname(dir)) {
      const pkgDir = join(dir, 'node_modules', 'webgpu');
      if (!existsSync(join(pkgDir, 'package.json'))) continue;
      const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version?: string; main?: string };
      const [major = 0, minor = 0] = (pkg.version ?? '0.0').split('.').map(Number);
      if (major === 0 && minor < 4) {
        why = `the webgpu package found (${pkgDir}) is ${pkg.version}, not 0.4 or later`;
        continue;
      }
      try {
        return { module: (await import(pathToFileURL(join(pkgDir, pkg.main ?? 'index.js')).href)) as WebGpuModule, why: '' };
      } catch (e) {
        return { why: `npm webgpu@${pkg.version} did not load: ${(e as Error).message.split('\n')[0]}` };
      }
    }
  }
  return { why };
}

/** Why `mode` cannot run here (null: it can). */
async function probe(lib: GpuJsModule, mode: GpuMode, opts: InitOptions): Promise<string | null> {
  const { GPU } = lib;
  switch (mode) {
    case 'webgpu': {
      const nav = globalThis as { navigator?: { gpu?: unknown } };
      let missing = '';
      if (!nav.navigator?.gpu && inNode) {
        const found = opts.webgpu ? { module: opts.webgpu, why: '' } : await findWebGpu();
        missing = found.why;
        if (found.module) {
          Object.assign(globalThis, found.module.globals ?? {});
          Object.defineProperty(globalThis, 'navigator', {
            value: { ...(nav.navigator ?? {}), gpu: found.module.create([]) },
            configurable: true,
            writable: true,
          });
          state.ownsNavigator = true;
        }
      }
      if (!nav.navigator?.gpu) {
        return inNode
          ? `Node has no navigator.gpu: ${missing}; install Dawn's bindings in your project (npm install webgpu@0.4.0) or pass them, initBackend('gpu', { webgpu: await import('webgpu') })`
          : 'this browser has no navigator.gpu';
      }
      return (await GPU.isWebGPUAvailable()) ? null : 'navigator.gpu answered no adapter';
    }
    case 'webgl2':
      return GPU.isWebGL2Supported
        ? null
        : inNode
          ? 'no WebGL2 context in Node (headless gl is not used: it renders on the CPU and needs an X server)'
          : 'this browser has no WebGL2';
    case 'webasm':
      return GPU.isWebAssemblySupported ? null : 'no WebAssembly here';
    case 'cpu':
      return null;
  }
}

export async function initGpu(opts: InitOptions = {}): Promise<GpuInfo> {
  const lib = await loadGpuJs();
  const want = opts.mode ?? 'auto';
  if (want !== 'auto' && !GPU_MODES.includes(want))
    throw new DeviceError(`initBackend: unknown gpu mode '${String(want)}': expected auto, ${GPU_MODES.join(', ')}.`);
  disposeGpu();
  const tried: GpuInfo['tried'] = [];
  for (const mode of want === 'auto' ? GPU_MODES : [want]) {
    const why = await probe(lib, mode, opts);
    tried.push({ mode, ok: why === null, why: why ?? 'selected' });
    if (why !== null) continue;
    state.gpu = new lib.GPU({ mode });
    state.mode = mode;
    state.asyncKernels = !!opts.asyncKernels;
    state.cacheSize = opts.cacheSize ?? 1024;
    state.gcBytes = opts.gcBytes ?? 256 * 2 ** 20;
    state.gc ??= await loadGc();
    return { mode, tried };
  }
  throw new DeviceError(`initBackend: gpu mode '${want}' is not available here: ${tried.map((t) => `${t.mode}: ${t.why}`).join('; ')}.`);
}

/** Destroys every kernel and the gpu.js instance (and Dawn's navigator.gpu if we made it), so Node can exit. */
export function disposeGpu(): void {
  for (const k of cache.values()) k.destroy();
  cache.clear();
  queue = [];
  checks.length = 0;
  state.gpu?.destroy();
  state.gpu = null;
  state.mode = null;
  if (state.ownsNavigator) {
    delete (globalThis as { navigator?: unknown }).navigator;
    state.ownsNavigator = false;
  }
}

/** Live device buffers (not yet garbage-collected), buffers ever made, compiled kernels. */
export const gpuStats = () => ({
  liveBuffers: counts.live,
  liveBytes: counts.liveBytes,
  createdBuffers: counts.created,
  collections: counts.collections,
  cachedKernels: cache.size,
  ...kernelStats,
});

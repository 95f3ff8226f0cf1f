// The profiler: `profile(fn)` runs fn and returns (and prints) a per-op table of backend dispatches —
// calls, self time, share of the profiled call, bytes allocated — split into forward (everything outside
// backward passes, optimizer updates included) and backward, plus the time outside kernels (op checks,
// views, autograd bookkeeping, GC, user code). On the GPU backend a kernel call only queues work: its row
// is queued time, and flush/read/readSync rows are the flushed time. `profileSteps(fn)` profiles the
// interval between successive calls of fn (a training step's loss function: one whole iteration).
// Hooks: backendFor wraps the backend while a profiler runs, propagate reports backward passes; with
// no profiler running each costs one branch.

import { setDispatchHook, type Backend } from './backend/backend.ts';
import { setBackwardHook } from './autograd/tape.ts';
import { TensorError } from './errors.ts';

/** The autograd phase a profiled primitive ran in. */
export type Phase = 'forward' | 'backward';
/** kernel: a CPU kernel ran; queued: GPU work queued; flush: a GPU flush or read; transfer: an upload. */
export type RowKind = 'kernel' | 'queued' | 'flush' | 'transfer' | 'other';

/** One line of a profile: a backend primitive in one phase, its calls and time. */
export interface ProfileRow {
  phase: Phase;
  /** The backend primitive, with its op for unary/binary/reduce (`binary.add`); `(outside kernels)` for the rest. */
  op: string;
  kind: RowKind;
  calls: number;
  /** Time inside the primitive, less any dispatch nested in it (ms). */
  selfMs: number;
  /** selfMs over the profiled call's wall time. */
  share: number;
  /** Bytes of the buffers the primitive returned. */
  bytes: number;
}

/** What profile() measured: fn's value, wall time per phase and the time per backend primitive. */
export interface Profile<T = unknown> {
  /** fn's return value (awaited for an async fn). */
  value: T;
  /** Wall time of the profiled call (ms). */
  totalMs: number;
  /** Wall time per phase and how much of it was inside dispatched primitives. */
  phases: Record<Phase, { wallMs: number; dispatchMs: number }>;
  /** GPU only (0 on the CPU): time queuing kernels and time flushing/reading back. */
  gpu: { queuedMs: number; flushedMs: number };
  /** Per (phase, op), largest self time first; one `(outside kernels)` row per phase; shares sum to 1. */
  rows: ProfileRow[];
  /** The printed table. */
  table(): string;
}

/** Options of profile(): where the table is printed and its title. */
export interface ProfileOptions {
  /** Print the table (default true) through `print` (default console.log). */
  print?: boolean | ((s: string) => void);
  /** A title for the table. */
  label?: string;
}

const OUTSIDE = '(outside kernels)';
const FLUSH_METHODS = new Set(['flush', 'read', 'readSync']);

/** Bytes of what a primitive returned: typed arrays, device data, or objects of them. */
function bytesOf(r: unknown): number {
  if (r === null || typeof r !== 'object') return 0;
  if (ArrayBuffer.isView(r)) return r.byteLength;
  const d = r as { device?: unknown; length?: unknown; dtype?: unknown };
  if (typeof d.device === 'string' && typeof d.length === 'number') return d.length * (d.dtype === 'float64' ? 8 : 4);
  let n = 0;
  for (const v of Object.values(r)) if (v !== null && typeof v === 'object') n += bytesOf(v);
  return n;
}

/** One running profile: the wrapped backends and the accumulated rows. */
class Session {
  readonly t0 = performance.now();
  private readonly rows = new Map<string, ProfileRow>();
  private readonly wrappers = new Map<Backend, Backend>();
  private depth = 0;
  private backwardStart = 0;
  private backwardMs = 0;
  private childMs = 0;

  phase(): Phase {
    return this.depth > 0 ? 'backward' : 'forward';
  }

  onBackward = (entering: boolean): void => {
    if (entering && this.depth++ === 0) this.backwardStart = performance.now();
    if (!entering && --this.depth === 0) this.backwardMs += performance.now() - this.backwardStart;
  };

  private add(phase: Phase, op: string, kind: RowKind, ms: number, bytes: number): void {
    const key = `${phase}\u0000${op}`;
    const row = this.rows.get(key);
    if (row) row.calls++, (row.selfMs += ms), (row.bytes += bytes);
    else this.rows.set(key, { phase, op, kind, calls: 1, selfMs: ms, share: 0, bytes });
  }

  /** A proxy of `b` timing every method call. */
  wrap = (b: Backend): Backend => {
    let w = this.wrappers.get(b);
    if (w) return w;
    const isDevice = 'upload' in b;
    const methods = new Map<PropertyKey, unknown>();
    w = new Proxy(b, {
      get: (target, prop) => {
        const v = Reflect.get(target, prop) as unknown;
        if (typeof v !== 'function') return v;
        let m = methods.get(prop);
        if (!m) methods.set(prop, (m = this.timed(target, String(prop), v as (...a: unknown[]) => unknown, isDevice)));
        return m;
      },
    });
    this.wrappers.set(b, w);
    return w;
  };

  private timed(target: Backend, name: string, fn: (...a: unknown[]) => unknown, isDevice: boolean) {
    const kind: RowKind = !isDevice
      ? 'kernel'
      : FLUSH_METHODS.has(name)
        ? 'flush'
        : name === 'upload'
          ? 'transfer'
          : name === 'deferCheck'
            ? 'other'
            : 'queued';
    return (...args: unknown[]): unknown => {
      const op = typeof args[0] === 'string' ? `${name}.${args[0]}` : name;
      const phase = this.phase(),
        saved = this.childMs;
      this.childMs = 0;
      const start = performance.now();
      let r: unknown;
      try {
        r = fn.apply(target, args);
      } finally {
        const elapsed = performance.now() - start;
        if (r instanceof Promise)
          this.childMs = saved; // timed when it settles
        else {
          this.add(phase, op, kind, elapsed - this.childMs, bytesOf(r));
          this.childMs = saved + elapsed;
        }
      }
      if (r instanceof Promise) return r.then((x) => (this.add(phase, op, kind, performance.now() - start, bytesOf(x)), x));
      return r;
    };
  }

  finish<T>(value: T, label: string | undefined): Profile<T> {
    const totalMs = performance.now() - this.t0;
    const backwardMs = this.backwardMs + (this.depth > 0 ? performance.now() - this.backwardStart : 0);
    const rows = [...this.rows.values()];
    const phases = { forward: { wallMs: totalMs - backwardMs, dispatchMs: 0 }, backward: { wallMs: backwardMs, dispatchMs: 0 } };
    const gpu = { queuedMs: 0, flushedMs: 0 };
    for (const r of rows) {
      phases[r.phase].dispatchMs += r.selfMs;
      if (r.kind === 'queued') gpu.queuedMs += r.selfMs;
      if (r.kind === 'flush') gpu.flushedMs += r.selfMs;
    }
    for (const p of ['forward', 'backward'] as const) {
      if (phases[p].wallMs > 0)
        rows.push({ phase: p, op: OUTSIDE, kind: 'other', calls: 0, selfMs: Math.max(0, phases[p].wallMs - phases[p].dispatchMs), share: 0, bytes: 0 });
    }
    for (const r of rows) r.share = totalMs > 0 ? r.selfMs / totalMs : 0;
    rows.sort((a, b) => (a.phase === b.phase ? b.selfMs - a.selfMs : a.phase === 'forward' ? -1 : 1));
    const p: Profile<T> = { value, totalMs, phases, gpu, rows, table: () => formatTable(p, label) };
    return p;
  }
}

const fmtBytes = (n: number): string =>
  n === 0 ? '-' : n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;

function formatTable(p: Profile<unknown>, label?: string): string {
  const { forward: f, backward: b } = p.phases;
  const head = `profile${label ? ` ${label}` : ''}: ${p.totalMs.toFixed(1)} ms (forward ${f.wallMs.toFixed(1)} ms, backward ${b.wallMs.toFixed(1)} ms; inside primitives ${(f.dispatchMs + b.dispatchMs).toFixed(1)} ms)`;
  const gpu =
    p.gpu.queuedMs + p.gpu.flushedMs > 0 ? [`gpu: queued ${p.gpu.queuedMs.toFixed(1)} ms, flushed (flush/read) ${p.gpu.flushedMs.toFixed(1)} ms`] : [];
  const cells = [
    ['phase', 'op', 'kind', 'calls', 'self ms', 'share', 'bytes'],
    ...p.rows.map((r) => [r.phase, r.op, r.kind, r.calls ? String(r.calls) : '-', r.selfMs.toFixed(2), `${(100 * r.share).toFixed(1)}%`, fmtBytes(r.bytes)]),
  ];
  const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  const lines = cells.map((c) => c.map((s, i) => (i < 3 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  '));
  return [head, ...gpu, ...lines].join('\n');
}

let active: Session | null = null;

function start(): Session {
  if (active) throw new TensorError('profile: a profile is already running; profiles do not nest.');
  active = new Session();
  setDispatchHook(active.wrap);
  setBackwardHook(active.onBackward);
  return active;
}

function stop<T>(s: Session, value: T, opts: ProfileOptions): Profile<T> {
  setDispatchHook(null);
  setBackwardHook(null);
  active = null;
  const p = s.finish(value, opts.label);
  if (opts.print !== false) (typeof opts.print === 'function' ? opts.print : console.log)(p.table());
  return p;
}

/** Runs `fn` under the profiler; an async fn is profiled until its promise settles. */
export function profile<T>(fn: () => Promise<T>, opts?: ProfileOptions): Promise<Profile<T>>;
export function profile<T>(fn: () => T, opts?: ProfileOptions): Profile<T>;
export function profile<T>(fn: () => T | Promise<T>, opts: ProfileOptions = {}): Profile<T> | Promise<Profile<T>> {
  const s = start();
  let r: T | Promise<T>;
  try {
    r = fn();
  } catch (e) {
    stop(s, undefined, { print: false });
    throw e;
  }
  if (r instanceof Promise) {
    return r.then(
      (v) => stop(s, v, opts),
      (e: unknown) => {
        stop(s, undefined, { print: false });
        throw e;
      },
    );
  }
  return stop(s, r, opts);
}

/** Options of profileSteps: the intervals to skip and to profile, and a callback for each profile. */
export interface ProfileStepsOptions extends ProfileOptions {
  /** Calls to let pass before the first profiled interval (default 1: the warmup step). */
  skip?: number;
  /** Intervals to profile (default 3). */
  steps?: number;
  /** Gets each interval's profile (besides the printed table). */
  onProfile?: (p: Profile<undefined>, step: number) => void;
}

/**
 * Wraps `fn` so that the intervals from call k to call k + 1 (k = skip .. skip + steps − 1) are profiled,
 * each printed when the next call starts: wrapping a training loop's loss function profiles whole
 * iterations (loss, backward, update, read-back, next batch).
 */
export function profileSteps<A extends unknown[], R>(fn: (...args: A) => R, opts: ProfileStepsOptions = {}): (...args: A) => R {
  const skip = opts.skip ?? 1,
    steps = opts.steps ?? 3;
  let calls = 0,
    session: Session | null = null;
  return (...args: A): R => {
    if (session) {
      const p = stop(session, undefined, { ...opts, label: `${opts.label ?? 'step'} ${calls}` });
      opts.onProfile?.(p, calls);
      session = null;
    }
    if (calls >= skip && calls < skip + steps) session = start();
    calls++;
    return fn(...args);
  };
}

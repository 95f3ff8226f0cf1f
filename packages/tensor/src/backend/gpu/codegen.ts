// Kernel source generation for gpu.js: one kernel per (op, shapes, strides), over a 1-D output.
// Shape-derived numbers are 'Integer'-typed constants, loops record their bounds (gpu.js cuts
// loops at loopMaxIterations), and a flat index is split into a multi-index with an exact integer
// division (gpu.js divides in float32 on every backend).
//
// The rule that keeps indices above 2^24 exact: gpu.js declares every local as a float (an
// Integer initialiser decays to float32, as in its WebGL backend), so a local may only hold a
// value below 2^24 — a coordinate, a loop counter — and is read back as an Integer with `asInt(v)`.
// Flat offsets are never stored: they are written out as one Integer expression at each read,
// from `this.thread.x`, Integer constants and `| 0` casts, which gpu.js computes in int32.

import type { AnyStorage } from '../../storage.ts';
import type { KernelSpec } from './runtime.ts';
import { DeviceError } from '../../errors.ts';

/**
 * An Integer from a float local or expression holding an integer value v: `(v | 0)`, shifted so the
 * `|` sees a non-negative operand (gpu.js's WebGL2 `|` returns 0 for a negative one). Exact for
 * −65536 ≤ v < 2^24 − 65536, and for larger float estimates to within their own rounding.
 */
export const asInt = (v: string): string => `((((${v}) + 65536) | 0) - 65536)`;

export class Src {
  readonly consts: Record<string, number> = {};
  readonly floats: string[] = [];
  private readonly names = new Map<string, string>();
  private readonly lines: string[] = [];
  private loopMax = 1;
  private tmp = 0;

  /** An Integer constant holding v (one name per distinct value). */
  int(v: number): string {
    if (!Number.isInteger(v)) throw new Error(`gpu codegen: ${v} is not an integer`);
    return this.constant(`i${v}`, v, false);
  }
  /** A Float constant holding v. */
  float(v: number): string {
    return this.constant(`f${v}`, v, true);
  }
  private constant(id: string, v: number, isFloat: boolean): string {
    let name = this.names.get(id);
    if (!name) {
      name = `c${this.names.size}`;
      this.names.set(id, name);
      this.consts[name] = v;
      if (isFloat) this.floats.push(name);
    }
    return `this.constants.${name}`;
  }
  /** A loop bound: the constant, and loopMaxIterations raised to cover it. */
  bound(v: number): string {
    // loop counters are float locals: past 2^24 a counter stops counting (split longer loops)
    if (v > 2 ** 24) throw new DeviceError(`gpu: a kernel loop of ${v} iterations is longer than 2^24; this op cannot run on the gpu at this size.`);
    this.loopMax = Math.max(this.loopMax, v);
    return this.int(v);
  }
  line(s: string): this {
    this.lines.push(s);
    return this;
  }
  fresh(prefix: string): string {
    return `${prefix}${this.tmp++}`;
  }

  /**
   * floor(x / d) as an Integer expression, exact for Integer x in (−2^31, 2^31) even where the
   * GPU divides approximately (WGSL allows 2.5 ulp; on an NVIDIA H200 a 110 / 110 below 1 explains
   * a conv gradient read wrong): a float estimate q0, a second one from the int32 remainder (now
   * within ±1), then a ±1 fix-up that compares the remainder r1 ∈ [−d, 2d) with 0 and d, clamping
   * integers rather than dividing.
   */
  div(x: string, d: number): string {
    if (d === 1) return x;
    const D = this.int(d);
    const q0 = asInt(`Math.floor((${x}) / ${D})`);
    const q1 = `(${q0} + ${asInt(`Math.floor(((${x}) - ${q0} * ${D}) / ${D})`)})`;
    const r1 = `((${x}) - ${q1} * ${D})`;
    const step = (v: string) => asInt(`Math.min(1, Math.max(0, ${v}))`); // 1 if the integer v ≥ 1, else 0
    return `(${q1} + ${step(`${r1} - ${D} + 1`)} - ${step(`0 - ${r1}`)})`;
  }

  /** Declares locals q = floor(i / d) and r = i − q·d, for results below 2^24 (read them back as `(q | 0)`). */
  divmod(i: string, d: number, q: string, r: string): void {
    this.line(`let ${q} = ${this.div(i, d)};`);
    this.line(`let ${r} = (${i}) - ${asInt(q)} * ${this.int(d)};`);
  }

  /** A local holding Integer expression `expr` (whose value must stay below 2^24), returned as an Integer (asInt). */
  local(prefix: string, expr: string): string {
    const name = this.fresh(prefix);
    this.line(`const ${name} = ${expr};`);
    return asInt(name);
  }

  /**
   * The row-major multi-index of flat Integer expression `i` over `shape`, as Integer
   * expressions: coordinates below 2^24 in locals, a larger one (a dim of 2^24 elements or more)
   * written out in full.
   */
  unravel(i: string, shape: readonly number[]): string[] {
    const inner = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    return shape.map((size, d) => {
      const outer = d === 0 ? null : this.div(i, inner[d - 1]); // floor(i / (size · inner))
      const q = this.div(i, inner[d]);
      const expr = outer === null ? q : `(${q} - ${outer} * ${this.int(size)})`;
      return size < 2 ** 24 ? this.local('r', expr) : expr;
    });
  }

  /** offset + Σ idx[d]·stride[d] as an Integer expression (stride-0 dims drop out). */
  offset(off: number, idx: readonly string[], stride: readonly number[]): string {
    const terms = off === 0 ? [] : [this.int(off)];
    idx.forEach((v, d) => {
      if (stride[d] === 0) return;
      terms.push(stride[d] === 1 ? v : `${v} * ${this.int(stride[d])}`);
    });
    return terms.length ? `(${terms.join(' + ')})` : '0';
  }

  /** The kernel: `function(args) { lines; return ret; }` with output [n]. */
  spec(name: string, n: number, args: readonly string[], ret: string): KernelSpec {
    const src = `function(${args.join(', ')}) {\n  ${this.lines.join('\n  ')}\n  return ${ret};\n}`;
    return { key: `${name}\n${src}`, src, n, consts: this.consts, floats: this.floats, loopMax: this.loopMax };
  }
}

/**
 * Merges adjacent dims that every operand walks contiguously, so dense operands index with one
 * flat counter and only genuinely strided dims pay for a division. Rank 0 becomes [1].
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  if (shape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue; // size-1 dims never move the index
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

/** The output position: an Integer expression, never stored in a local (it may exceed 2^24). */
export const THREAD = 'this.thread.x';

/** Reads of several same-shape views at output position THREAD: declares v0, v1, … and returns their names. */
export function stridedReads(src: Src, views: readonly AnyStorage[], args: readonly string[]): string[] {
  const c = coalesce(
    views[0].shape,
    views.map((v) => v.stride),
  );
  const idx = src.unravel(THREAD, c.shape);
  return views.map((v, k) => {
    const name = `v${k}`;
    src.line(`const ${name} = ${args[k]}[${src.offset(v.offset, idx, c.strides[k])}];`);
    return name;
  });
}

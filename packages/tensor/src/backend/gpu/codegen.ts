// Kernel source generation for gpu.js: one kernel per (op, shapes, strides), over a 1-D output.
// Shape-derived numbers are 'Integer'-typed constants (flat indices above 2^24 stay exact), loops
// record their bounds (gpu.js cuts loops at loopMaxIterations), and a flat index is split into a
// multi-index with an exact integer division (gpu.js divides in float32 on every backend).

import type { AnyStorage } from '../../storage.ts';
import type { KernelSpec } from './runtime.ts';

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

  /** Declares q = floor(i / d) and r = i - q·d for an Integer i in [0, 2^31): float estimate, corrected twice in integers. */
  divmod(i: string, d: number, q: string, r: string): void {
    if (d === 1) {
      this.line(`let ${q} = ${i};`).line(`let ${r} = 0;`);
      return;
    }
    const D = this.int(d);
    this.line(`let ${q} = Math.floor(${i} / ${D}) | 0;`);
    this.line(`let ${r} = ${i} - ${q} * ${D};`);
    this.line(`${q} = ${q} + (Math.floor(${r} / ${D}) | 0);`);
    this.line(`${r} = ${i} - ${q} * ${D};`);
  }

  /** The row-major multi-index of flat Integer `i` over `shape`: one variable name per dim. */
  unravel(i: string, shape: readonly number[]): string[] {
    const idx = new Array<string>(shape.length);
    let rest = i;
    for (let d = shape.length - 1; d >= 1; d--) {
      const q = this.fresh('q'), r = this.fresh('r');
      this.divmod(rest, shape[d], q, r);
      idx[d] = r;
      rest = q;
    }
    if (shape.length > 0) idx[0] = rest;
    return idx;
  }

  /** offset + Σ idx[d]·stride[d] as an Integer expression (stride-0 and size-1 dims drop out). */
  offset(off: number, idx: readonly string[], stride: readonly number[]): string {
    const terms = off === 0 ? [] : [this.int(off)];
    idx.forEach((v, d) => {
      if (stride[d] === 0) return;
      terms.push(stride[d] === 1 ? v : `${v} * ${this.int(stride[d])}`);
    });
    return terms.length ? terms.join(' + ') : '0';
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

/** Reads of several same-shape views at output position `this.thread.x`: declares v0, v1, … and returns their names. */
export function stridedReads(src: Src, views: readonly AnyStorage[], args: readonly string[]): string[] {
  const c = coalesce(views[0].shape, views.map((v) => v.stride));
  src.line('const i = this.thread.x;');
  const idx = src.unravel('i', c.shape);
  return views.map((v, k) => {
    const name = `v${k}`;
    src.line(`const ${name} = ${args[k]}[${src.offset(v.offset, idx, c.strides[k])}];`);
    return name;
  });
}

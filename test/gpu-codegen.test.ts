// The GPU kernels' index arithmetic (backend/gpu/codegen.ts) under a GPU's approximate float
// division: WGSL allows 2.5 ulp, and on an NVIDIA H200 a quotient 110 / 110 just below 1 explains
// how the conv2d input gradient once read the wrong channel. The generated Integer expressions
// are evaluated here in JS with a Math whose floor sees each quotient perturbed by a few float32
// ulps (as the GPU's division would deliver it) and whose min/max see float32 arguments.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Src } from '../packages/tensor/src/backend/gpu/codegen.ts';

const ULPS4 = 2 ** -21; // 4 float32 ulps, relative

/**
 * Evaluates Integer expression `expr` of `src` at thread `x`, each Math.floor's argument v scaled by
 * 1 + ULPS4·e, e one of `errs` picked by v's bits: a deterministic division, as a GPU's is (a
 * repeated subexpression gives the same value each time).
 */
function evalInt(src: Src, expr: string, x: number, errs: readonly number[]): number {
  return compile(src, `return ${expr};`, errs)(x) as number;
}

/** `body` as a function of the thread index, under evalInt's Math. */
function compile(src: Src, body: string, errs: readonly number[]): (x: number) => unknown {
  const pick = (v: number) => errs[Math.abs(Math.imul(Math.fround(v) * 1024, 0x9e3779b1) >> 7) % errs.length];
  const math = {
    floor: (v: number) => Math.floor(Math.fround(v * (1 + ULPS4 * pick(v)))),
    min: (a: number, b: number) => Math.min(Math.fround(a), Math.fround(b)),
    max: (a: number, b: number) => Math.max(Math.fround(a), Math.fround(b)),
  };
  const fn = new Function('Math', body);
  return (x) => fn.call({ constants: src.consts, thread: { x } }, math);
}

const errs = fc.array(fc.constantFrom(-1, 0, 1), { minLength: 1, maxLength: 8 });

describe('gpu codegen: Src.div under approximate division', () => {
  it('is floor(x / d) for any int32 x and d up to 2^24', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 2 ** 24 }), errs, (x, d, e) => {
        const s = new Src();
        expect(evalInt(s, s.div('this.thread.x', d), x, e)).toBe(Math.floor(x / d));
      }),
      { numRuns: 2000 },
    );
  });

  it('is exact at and next to multiples of d, where a quotient just below an integer floors wrong', () => {
    fc.assert(
      fc.property(fc.integer({ min: -3000, max: 3000 }), fc.integer({ min: 2, max: 70000 }), fc.constantFrom(-1, 0, 1), errs, (q, d, delta, e) => {
        const x = q * d + delta;
        const s = new Src();
        expect(evalInt(s, s.div('this.thread.x', d), x, e)).toBe(Math.floor(x / d));
      }),
      { numRuns: 2000 },
    );
  });

  it('the first estimate alone is wrong there (so the fix-up is needed): 110 / 110 read just below 1', () => {
    const s = new Src();
    const naive = `Math.floor(this.thread.x / ${s.int(110)})`;
    expect(evalInt(s, naive, 110, [-1])).toBe(0);
    expect(evalInt(s, s.div('this.thread.x', 110), 110, [-1])).toBe(1);
  });
});

describe('gpu codegen: Src.unravel under approximate division', () => {
  it('splits every flat index of a shape into its row-major coordinates', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }), errs, (shape, e) => {
        const s = new Src();
        const idx = s.unravel('this.thread.x', shape);
        // unravel stores coordinates in locals: evaluate the declared lines, then the returned expressions
        const lines = (s as unknown as { lines: string[] }).lines.join('\n');
        const at = compile(s, `${lines}\nreturn [${idx.join(', ')}];`, e);
        const n = shape.reduce((a, b) => a * b, 1);
        for (let i = 0; i < n; i++) {
          const got = at(i);
          let rest = i;
          const want = shape.map((_, d) => {
            const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
            const c = Math.floor(rest / inner);
            rest -= c * inner;
            return c;
          });
          expect(got).toEqual(want);
        }
      }),
      { numRuns: 200 },
    );
  });
});

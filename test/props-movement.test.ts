// Property tests for the movement ops (ops/movement.ts) and `.to(dtype)`: forward against naive
// flat-index references (Python slice semantics, F.pad with negative crops, torch.gather /
// scatter_add / index_select / one_hot), gradients against gradcheck (float64), strided inputs
// against their dense copies, and random chains of views (views of views) against the reference.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  cat,
  chunk,
  contiguous,
  exp,
  expand,
  flatten,
  flip,
  gather,
  gradcheck,
  indexSelect,
  oneHot,
  pad,
  permute,
  reshape,
  scatterAdd,
  select,
  slice,
  split,
  squeeze,
  stack,
  sum,
  tensor,
  transpose,
  unsqueeze,
  view,
  ShapeError,
  type DType,
} from '@lad/tensor';
import {
  arrArb,
  at,
  dimArb,
  dimsArb,
  expectArr,
  expectSameTensor,
  numel,
  refBroadcastTo,
  resolveDim,
  shapeArb,
  smallIntArb,
  stridedArb,
  tabulate,
  toStrided,
  toTensor,
  valueArb,
  valuesArb,
  type Arr,
  type Shape,
  type Strided,
} from './util/arb.ts';

const RUNS = 30;
const GRAD_RUNS = 12;
const small = shapeArb({ maxRank: 3, maxDim: 3 });
const ranked = shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 });

/** A dense and a strided tensor with the same values; the op must not tell them apart. */
function expectViewInvariant(s: Strided, f: (x: Tensor) => Tensor | Tensor[]): void {
  const got = f(toStrided(s)),
    want = f(toTensor(s)),
    dense = f(toStrided(s).contiguous());
  const [g, w, d] = [got, want, dense].map((r) => (Array.isArray(r) ? r : [r]));
  expect(g.length).toBe(w.length);
  g.forEach((t, i) => {
    expectSameTensor(t, w[i]);
    expectSameTensor(t, d[i]);
  });
}

// ---- references -----------------------------------------------------------------------------

const refPermute = (a: Arr, p: readonly number[]): Arr =>
  tabulate(
    p.map((d) => a.shape[d]),
    (idx) => {
      const src = new Array<number>(p.length);
      p.forEach((d, i) => (src[d] = idx[i]));
      return at(a, src);
    },
  );

/** Python's slice(start, end, step).indices(n) for step > 0. */
function pyRange(n: number, start: number | null, end: number | null, step: number): number[] {
  const norm = (v: number | null, dflt: number) => (v === null ? dflt : v < 0 ? Math.max(v + n, 0) : Math.min(v, n));
  const out: number[] = [];
  for (let i = norm(start, 0); i < norm(end, n); i += step) out.push(i);
  return out;
}
const refSlice = (a: Arr, d: number, start: number | null, end: number | null, step: number): Arr => {
  const pos = pyRange(a.shape[d], start, end, step);
  return tabulate(
    a.shape.map((s, k) => (k === d ? pos.length : s)),
    (idx) =>
      at(
        a,
        idx.map((v, k) => (k === d ? pos[v] : v)),
      ),
  );
};
const refFlip = (a: Arr, dims: readonly number[]): Arr =>
  tabulate(a.shape, (idx) =>
    at(
      a,
      idx.map((v, k) => (dims.includes(k) ? a.shape[k] - 1 - v : v)),
    ),
  );
const refReshape = (a: Arr, shape: Shape): Arr => ({ shape, data: [...a.data] });
const refSelect = (a: Arr, d: number, i: number): Arr => {
  const r = refSlice(a, d, i, i + 1, 1);
  return { shape: r.shape.filter((_, k) => k !== d), data: r.data };
};
const refCat = (xs: readonly Arr[], d: number): Arr => {
  const shape = [...xs[0].shape];
  shape[d] = xs.reduce((n, x) => n + x.shape[d], 0);
  return tabulate(shape, (idx) => {
    let j = idx[d],
      k = 0;
    while (j >= xs[k].shape[d]) j -= xs[k++].shape[d];
    return at(
      xs[k],
      idx.map((v, m) => (m === d ? j : v)),
    );
  });
};

function primeFactors(n: number): number[] {
  const ps: number[] = [];
  for (let p = 2; n > 1; p++) while (n % p === 0) ps.push(p), (n /= p);
  return ps;
}
/** A shape with `n` elements (1 to 4 dims), possibly with one -1. */
const reshapeTargetArb = (n: number): fc.Arbitrary<number[]> => {
  const ps = primeFactors(n);
  return fc
    .tuple(fc.integer({ min: n === 1 ? 0 : 1, max: 4 }), valuesArb(ps.length, fc.nat(3)), fc.option(fc.nat(3), { nil: null }))
    .map(([k, assign, neg]) => {
      const t = new Array<number>(k).fill(1);
      ps.forEach((p, i) => (t[assign[i] % k] *= p));
      if (neg !== null && k > 0) t[neg % k] = -1;
      return t;
    });
};

// ---- views ----------------------------------------------------------------------------------

describe('the strided-tensor fixture', () => {
  it('holds the logical values, over a buffer whose other slots are NaN', () => {
    fc.assert(
      fc.property(stridedArb(small), (s) => {
        const x = toStrided(s);
        expectArr(x, s, 'exact');
        expect([...x.shape]).toEqual(s.shape);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('reshape / view / flatten', () => {
  const arb = small.chain((s) => fc.tuple(stridedArb(s), reshapeTargetArb(numel(s))));

  it('reshape keeps the row-major order; -1 is inferred; strided inputs match dense copies', () => {
    fc.assert(
      fc.property(arb, ([s, target]) => {
        const known = target.reduce((p, d) => (d === -1 ? p : p * d), 1);
        const resolved = target.map((d) => (d === -1 ? numel(s.shape) / known : d));
        expectArr(reshape(toTensor(s), target), refReshape(s, resolved), 'exact');
        expectViewInvariant(s, (x) => reshape(x, target));
        expectArr(toTensor(s).reshape(...target), refReshape(s, resolved), 'exact');
      }),
      { numRuns: RUNS },
    );
  });

  it('view equals reshape on dense inputs and throws a ShapeError (never copies) on non-row-major ones', () => {
    fc.assert(
      fc.property(arb, ([s, target]) => {
        expectSameTensor(view(toTensor(s), target), reshape(toTensor(s), target));
        const x = toStrided(s);
        let v: Tensor;
        try {
          v = view(x, target);
        } catch (e) {
          expect(e).toBeInstanceOf(ShapeError);
          expect((e as Error).message).toMatch(/^view: /);
          return;
        }
        expectSameTensor(v, reshape(toTensor(s), target));
        expect(v.storage.data).toBe(x.storage.data); // shares memory
      }),
      { numRuns: RUNS },
    );
  });

  it('flatten(start, end) merges the dims in between', () => {
    const fl = ranked.chain((s) => fc.tuple(stridedArb(s), dimArb(s.length), dimArb(s.length)));
    fc.assert(
      fc.property(fl, ([s, d0, d1]) => {
        const r = s.shape.length;
        const [a, b] = [resolveDim(d0, r), resolveDim(d1, r)].sort((u, v) => u - v);
        const shape = [...s.shape.slice(0, a), numel(s.shape.slice(a, b + 1)), ...s.shape.slice(b + 1)];
        const [lo, hi] = resolveDim(d0, r) <= resolveDim(d1, r) ? [d0, d1] : [d1, d0];
        expectArr(flatten(toTensor(s), lo, hi), refReshape(s, shape), 'exact');
        expectViewInvariant(s, (x) => flatten(x, lo, hi));
        expectArr(flatten(toTensor(s)), refReshape(s, [numel(s.shape)]), 'exact');
      }),
      { numRuns: RUNS },
    );
    expect([...flatten(tensor(3)).shape]).toEqual([1]);
  });

  it('gradients match finite differences', () => {
    fc.assert(
      fc.property(
        small.chain((s) => fc.tuple(arrArb(s), reshapeTargetArb(numel(s)))),
        ([a, target]) => {
          expect(gradcheck((x) => reshape(x, target), [toTensor(a)])).toBe(true);
          expect(gradcheck((x) => view(x, target), [toTensor(a)])).toBe(true);
          expect(gradcheck((x) => flatten(x), [toTensor(a)])).toBe(true);
        },
      ),
      { numRuns: GRAD_RUNS },
    );
  });
});

describe('permute / transpose', () => {
  const permArb = small.chain((s) =>
    fc.tuple(stridedArb(s), fc.shuffledSubarray([...Array(s.length).keys()], { minLength: s.length, maxLength: s.length }), valuesArb(s.length, fc.boolean())),
  );
  it('permute (dims possibly negative) matches the reference, is a view, and has the adjoint gradient', () => {
    fc.assert(
      fc.property(permArb, ([s, p, negs]) => {
        const dims = p.map((d, i) => (negs[i] ? d - p.length : d));
        expectArr(permute(toTensor(s), dims), refPermute(s, p), 'exact');
        expectViewInvariant(s, (x) => permute(x, dims));
        const x = toTensor(s);
        expect(permute(x, dims).storage.data).toBe(x.storage.data);
        expect(gradcheck((t) => permute(t, dims), [toTensor(s)])).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
  it('transpose swaps two dims', () => {
    const tArb = ranked.chain((s) => fc.tuple(stridedArb(s), dimArb(s.length), dimArb(s.length)));
    fc.assert(
      fc.property(tArb, ([s, d0, d1]) => {
        const p = [...s.shape.keys()];
        const [a, b] = [resolveDim(d0, p.length), resolveDim(d1, p.length)];
        [p[a], p[b]] = [p[b], p[a]];
        expectArr(transpose(toTensor(s), d0, d1), refPermute(s, p), 'exact');
        expectViewInvariant(s, (x) => transpose(x, d0, d1));
        expect(gradcheck((t) => transpose(t, d0, d1), [toTensor(s)])).toBe(true);
        expectArr(toTensor(s).T, refPermute(s, [...s.shape.keys()].reverse()), 'exact');
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

describe('expand', () => {
  const exArb = small.chain((s) =>
    fc.tuple(
      stridedArb(s),
      valuesArb(s.length, fc.integer({ min: 1, max: 3 })),
      valuesArb(s.length, fc.boolean()),
      fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    ),
  );
  it('broadcasts size-1 dims and new leading dims (-1 keeps a size) as a stride-0 view', () => {
    fc.assert(
      fc.property(exArb, ([s, sizes, keep, lead]) => {
        const target = [...lead, ...s.shape.map((d, i) => (d === 1 && !keep[i] ? sizes[i] : d))];
        const arg = [...lead, ...s.shape.map((d, i) => (keep[i] ? -1 : d === 1 ? sizes[i] : d))];
        const want = refBroadcastTo(s, target);
        expectArr(expand(toTensor(s), arg), want, 'exact');
        expectViewInvariant(s, (x) => expand(x, arg));
        const x = toTensor(s);
        expect(expand(x, target).storage.data).toBe(x.storage.data);
        expect(gradcheck((t) => expand(t, arg), [toTensor(s)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

describe('slice / select / narrow', () => {
  const slArb = ranked.chain((s) =>
    fc.tuple(
      stridedArb(s),
      dimArb(s.length),
      fc.option(fc.integer({ min: -5, max: 5 }), { nil: null }),
      fc.option(fc.integer({ min: -5, max: 5 }), { nil: null }),
      fc.integer({ min: 1, max: 3 }),
    ),
  );
  it('slice follows Python slice semantics (negative and out-of-range start/end, step)', () => {
    fc.assert(
      fc.property(slArb, ([s, dim, start, end, step]) => {
        const d = resolveDim(dim, s.shape.length);
        expectArr(slice(toTensor(s), dim, start, end, step), refSlice(s, d, start, end, step), 'exact');
        expectViewInvariant(s, (x) => slice(x, dim, start, end, step));
        const x = toTensor(s);
        expect(slice(x, dim, start, end, step).storage.data).toBe(x.storage.data);
      }),
      { numRuns: RUNS },
    );
  });
  it('slice gradient matches finite differences (scatters into zeros at the taken positions)', () => {
    fc.assert(
      fc.property(slArb, ([s, dim, start, end, step]) => {
        expect(gradcheck((x) => slice(x, dim, start, end, step), [toTensor(s)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it('select takes one index (negative counts from the end) and drops the dim; narrow is a slice', () => {
    const selArb = ranked.chain((s) =>
      dimArb(s.length).chain((dim) =>
        fc.tuple(stridedArb(s), fc.constant(dim), fc.integer({ min: -s[resolveDim(dim, s.length)], max: s[resolveDim(dim, s.length)] - 1 })),
      ),
    );
    fc.assert(
      fc.property(selArb, ([s, dim, i]) => {
        const d = resolveDim(dim, s.shape.length),
          n = s.shape[d];
        const want = refSelect(s, d, i < 0 ? i + n : i);
        expectArr(select(toTensor(s), dim, i), want, 'exact');
        expectViewInvariant(s, (x) => select(x, dim, i));
        expect(gradcheck((x) => select(x, dim, i), [toTensor(s)])).toBe(true);
        const j = i < 0 ? i + n : i;
        expectArr(toTensor(s).narrow(d, j, n - j), refSlice(s, d, j, n, 1), 'exact');
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

describe('narrow', () => {
  it('equals slice(start, start + length) inside the dim (start may be negative) and throws a ShapeError past the end', () => {
    const arb = ranked.chain((s) =>
      dimArb(s.length).chain((dim) => {
        const n = s[resolveDim(dim, s.length)];
        return fc.tuple(stridedArb(s), fc.constant(dim), fc.integer({ min: -n - 2, max: n + 2 }), fc.integer({ min: -1, max: n + 2 }));
      }),
    );
    fc.assert(
      fc.property(arb, ([s, dim, start, length]) => {
        const d = resolveDim(dim, s.shape.length),
          n = s.shape[d];
        const from = start < 0 ? start + n : start;
        const x = toTensor(s);
        if (from >= 0 && from <= n && length >= 0 && from + length <= n) {
          const y = x.narrow(dim, start, length);
          expect(y.shape[d]).toBe(length);
          expectArr(y, refSlice(s, d, from, from + length, 1), 'exact');
        } else {
          expect(() => x.narrow(dim, start, length)).toThrow(ShapeError);
          expect(() => x.narrow(dim, start, length)).toThrow(/^narrow: /);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('reshape with -1 on empty tensors', () => {
  it('infers the -1 when the other sizes are nonzero, and throws (ambiguous, like torch) when one of them is 0', () => {
    fc.assert(
      fc.property(shapeArb({ maxRank: 2 }), fc.nat(2), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }), fc.nat(3), (s0, zeroAt, others, at) => {
        const s = [...s0];
        s.splice(zeroAt % (s0.length + 1), 0, 0); // an empty input
        const target = [...others];
        target.splice(at % (others.length + 1), 0, -1);
        const x = toTensor({ shape: s, data: [] });
        if (numel(others) === 0) expect(() => reshape(x, target)).toThrow(/^reshape: cannot infer the -1/);
        else expect(reshape(x, target).shape).toEqual(target.map((d) => (d === -1 ? 0 : d)));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('flip / squeeze / unsqueeze / contiguous', () => {
  it('flip reverses the given dims, as a view', () => {
    fc.assert(
      fc.property(
        small.chain((s) => fc.tuple(stridedArb(s), dimsArb(s.length))),
        ([s, dims]) => {
          const r = s.shape.length;
          expectArr(
            flip(toTensor(s), dims),
            refFlip(
              s,
              dims.map((d) => resolveDim(d, r)),
            ),
            'exact',
          );
          expectViewInvariant(s, (x) => flip(x, dims));
          expect(gradcheck((x) => flip(x, dims), [toTensor(s)])).toBe(true);
        },
      ),
      { numRuns: GRAD_RUNS },
    );
  });

  const ones = shapeArb({ maxRank: 4, minDim: 1, maxDim: 2 });
  it('squeeze drops size-1 dims (all, one, or a list; others are left alone, like torch)', () => {
    const sqArb = ones.chain((s) =>
      fc.tuple(stridedArb(s), fc.oneof(fc.constant(undefined), s.length ? dimArb(s.length) : fc.constant(undefined), dimsArb(s.length))),
    );
    fc.assert(
      fc.property(sqArb, ([s, dim]) => {
        const r = s.shape.length;
        const named = dim === undefined ? [...Array(r).keys()] : (typeof dim === 'number' ? [dim] : dim).map((d) => resolveDim(d, r));
        const shape = s.shape.filter((n, k) => !(named.includes(k) && n === 1));
        expectArr(squeeze(toTensor(s), dim), refReshape(s, shape), 'exact');
        expectViewInvariant(s, (x) => squeeze(x, dim));
        expect(gradcheck((x) => squeeze(x, dim), [toTensor(s)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it('unsqueeze inserts a size-1 dim at any position in [-rank-1, rank]', () => {
    const uArb = small.chain((s) => fc.tuple(stridedArb(s), fc.integer({ min: -s.length - 1, max: s.length })));
    fc.assert(
      fc.property(uArb, ([s, dim]) => {
        const d = dim < 0 ? dim + s.shape.length + 1 : dim;
        const shape = [...s.shape.slice(0, d), 1, ...s.shape.slice(d)];
        expectArr(unsqueeze(toTensor(s), dim), refReshape(s, shape), 'exact');
        expectViewInvariant(s, (x) => unsqueeze(x, dim));
        expect(gradcheck((x) => unsqueeze(x, dim), [toTensor(s)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it('contiguous gives a dense copy of a view (and the view itself when already dense)', () => {
    fc.assert(
      fc.property(stridedArb(small), (s) => {
        const x = toStrided(s);
        const c = contiguous(x);
        expect(c.isContiguous()).toBe(true);
        expect(c.storage.data.length).toBe(numel(s.shape));
        expectArr(c, s, 'exact');
        expect(contiguous(c)).toBe(c);
        const p = s.shape.length >= 2 ? [...s.shape.keys()].reverse() : [...s.shape.keys()];
        expect(gradcheck((t) => contiguous(permute(flip(t, [...s.shape.keys()]), p)), [toTensor(s)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

// ---- random chains of views -----------------------------------------------------------------

type StepKind = 'permute' | 'slice' | 'flip' | 'expand' | 'transpose' | 'select' | 'unsqueeze' | 'squeeze';
interface Step {
  kind: StepKind;
  r: number[];
}
const stepArb: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom<StepKind>('permute', 'slice', 'flip', 'expand', 'transpose', 'select', 'unsqueeze', 'squeeze'),
  r: valuesArb(5, fc.double({ min: 0, max: 0.999, noNaN: true })),
});
const pickI = (u: number, n: number): number => Math.floor(u * n);

/** Applies one view step to a tensor and (independently) to its reference. */
function applyStep(st: Step, x: Tensor, a: Arr): [Tensor, Arr] {
  const r = a.shape.length,
    { r: u } = st;
  switch (st.kind) {
    case 'permute': {
      const p = [...Array(r).keys()].sort((i, j) => u[i] - u[j] || i - j);
      return [permute(x, p), refPermute(a, p)];
    }
    case 'transpose': {
      if (r < 2) return [x, a];
      const [d0, d1] = [pickI(u[0], r), pickI(u[1], r)];
      const p = [...Array(r).keys()];
      [p[d0], p[d1]] = [p[d1], p[d0]];
      return [x.transpose(d0, d1), refPermute(a, p)];
    }
    case 'slice': {
      if (r === 0) return [x, a];
      const d = pickI(u[0], r),
        n = a.shape[d],
        step = 1 + pickI(u[1], 3);
      const start = pickI(u[2], n + 1) - (u[3] < 0.5 ? n : 0);
      const end = u[4] < 0.3 ? null : pickI(u[4], n + 2) - 1;
      return [slice(x, d, start, end, step), refSlice(a, d, start, end, step)];
    }
    case 'flip': {
      const dims = [...Array(r).keys()].filter((d) => u[d] < 0.5);
      return [flip(x, dims), refFlip(a, dims)];
    }
    case 'expand': {
      const lead = r < 4 && u[4] > 0.6 ? [2] : [];
      const shape = [...lead, ...a.shape.map((n, d) => (n === 1 ? 1 + pickI(u[d], 3) : n))];
      return [x.expand(shape), refBroadcastTo(a, shape)];
    }
    case 'select': {
      const d = pickI(u[0], r),
        i = pickI(u[1], a.shape[d]);
      if (r < 2 || a.shape[d] === 0) return [x, a];
      return [select(x, d, i), refSelect(a, d, i)];
    }
    case 'unsqueeze': {
      if (r >= 4) return [x, a];
      const d = pickI(u[0], r + 1);
      return [unsqueeze(x, d), refReshape(a, [...a.shape.slice(0, d), 1, ...a.shape.slice(d)])];
    }
    case 'squeeze':
      return [
        squeeze(x),
        refReshape(
          a,
          a.shape.filter((n) => n !== 1),
        ),
      ];
  }
}
const runChain = (steps: readonly Step[], x: Tensor, a: Arr): [Tensor, Arr] => steps.reduce(([t, b], st) => applyStep(st, t, b), [x, a] as [Tensor, Arr]);

describe('chains of views (views of views)', () => {
  const chainArb = fc.tuple(arrArb(ranked), fc.array(stepArb, { minLength: 1, maxLength: 5 }));
  it('match the reference, and ops on them match ops on their contiguous copies', () => {
    fc.assert(
      fc.property(chainArb, ([a, steps]) => {
        const [t, want] = runChain(steps, toTensor(a), a);
        expectArr(t, want, 'exact');
        expectSameTensor(exp(t), exp(t.contiguous()));
        expectSameTensor(t.mul(t.flip([...t.shape.keys()])), t.contiguous().mul(t.flip([...t.shape.keys()]).contiguous()));
        if (t.ndim > 0) expectSameTensor(sum(t, 0), sum(t.contiguous(), 0));
        expectSameTensor(reshape(t, [-1]), reshape(t.contiguous(), [-1]));
        expectSameTensor(t.clone(), t.contiguous());
      }),
      { numRuns: 60 },
    );
  });
  it('gradients through a chain match finite differences', () => {
    fc.assert(
      fc.property(chainArb, ([a, steps]) => {
        expect(gradcheck((x) => runChain(steps, x, a)[0].mul(2), [toTensor(a)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

// ---- copying ops ----------------------------------------------------------------------------

/** k shapes equal except along dim d (sizes 0..3 there). */
const catArb = ranked.chain((s) =>
  fc.tuple(dimArb(s.length), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 })).chain(([dim, sizes]) => {
    const d = resolveDim(dim, s.length);
    return fc.tuple(
      fc.constant(dim),
      fc.tuple(
        ...sizes.map((n) =>
          stridedArb(
            s.map((v, k) => (k === d ? n : v)),
            valueArb(),
            false,
          ),
        ),
      ),
    );
  }),
);

describe('cat / stack', () => {
  it('cat joins along any dim (empty pieces too); strided pieces match dense copies', () => {
    fc.assert(
      fc.property(catArb, ([dim, parts]) => {
        const d = resolveDim(dim, parts[0].shape.length);
        expectArr(
          cat(
            parts.map((p) => toTensor(p)),
            dim,
          ),
          refCat(parts, d),
          'exact',
        );
        expectSameTensor(
          cat(
            parts.map((p) => toStrided(p)),
            dim,
          ),
          cat(
            parts.map((p) => toTensor(p)),
            dim,
          ),
        );
      }),
      { numRuns: RUNS },
    );
  });
  it('cat copies contiguous pieces (at an offset, long blocks too) as the strided walk does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 2 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 3 }),
        (n, dim, sizes) => {
          const base = [n, 3, 5]; // dim 2: blocks of 5·size; dims 0 and 1: blocks up to 600 elements
          const parts = sizes.map((m, i) => {
            const shape = base.map((v, k) => (k === dim ? m : v));
            const big = tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) + 7 }, (_, j) => j * 0.5 - i)).slice(0, 7); // row-major from offset 7
            return big.reshape(shape);
          });
          const dense = parts.map((p) => tensor(Array.from(p.data()), { dtype: p.dtype }).reshape(p.shape));
          const strided = parts.map((p) => p.permute([2, 1, 0]).contiguous().permute([2, 1, 0])); // same values, not row-major
          expectSameTensor(cat(parts, dim), cat(dense, dim));
          expectSameTensor(cat(strided, dim), cat(dense, dim));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('cat promotes dtypes', () => {
    const y = cat([tensor([1, 2], { dtype: 'int32' }), tensor([0.5], { dtype: 'float32' }), tensor([0.25], { dtype: 'float64' })]);
    expect(y.dtype).toBe('float64');
    expect([...y.data()]).toEqual([1, 2, 0.5, 0.25]);
    expect(cat([tensor([1], { dtype: 'int32' }), tensor([2], { dtype: 'int32' })]).dtype).toBe('int32');
  });
  it('cat gradient w.r.t. every piece matches finite differences', () => {
    fc.assert(
      fc.property(catArb, ([dim, parts]) => {
        expect(
          gradcheck(
            (...xs) => cat(xs, dim),
            parts.map((p) => toTensor(p)),
          ),
        ).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it('stack inserts a new dim at any position in [-rank-1, rank]', () => {
    const stArb = small.chain((s) => fc.tuple(fc.integer({ min: -s.length - 1, max: s.length }), fc.array(stridedArb(s), { minLength: 1, maxLength: 3 })));
    fc.assert(
      fc.property(stArb, ([dim, parts]) => {
        const r = parts[0].shape.length,
          d = dim < 0 ? dim + r + 1 : dim;
        const up = parts.map((p) => refReshape(p, [...p.shape.slice(0, d), 1, ...p.shape.slice(d)]));
        expectArr(
          stack(
            parts.map((p) => toTensor(p)),
            dim,
          ),
          refCat(up, d),
          'exact',
        );
        expectSameTensor(
          stack(
            parts.map((p) => toStrided(p)),
            dim,
          ),
          stack(
            parts.map((p) => toTensor(p)),
            dim,
          ),
        );
        expect(
          gradcheck(
            (...xs) => stack(xs, dim),
            parts.map((p) => toTensor(p)),
          ),
        ).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

describe('split / chunk', () => {
  const spArb = ranked.chain((s) => fc.tuple(stridedArb(s), dimArb(s.length), fc.integer({ min: 1, max: 4 })));
  /** torch.split sizes for an int split size, and torch.chunk's (ceil(n / chunks) each). */
  const splitSizes = (n: number, k: number): number[] => (n === 0 ? [0] : Array.from({ length: Math.ceil(n / k) }, (_, i) => Math.min(k, n - i * k)));
  const pieces = (a: Arr, d: number, sizes: number[]): Arr[] => {
    let at0 = 0;
    return sizes.map((n) => refSlice(a, d, at0, (at0 += n), 1));
  };

  it('split by size and by sections, and chunk, match torch', () => {
    fc.assert(
      fc.property(spArb, fc.array(fc.nat(3), { minLength: 1, maxLength: 3 }), ([s, dim, k], cuts) => {
        const d = resolveDim(dim, s.shape.length),
          n = s.shape[d];
        const bySize = split(toTensor(s), k, dim);
        const want = pieces(s, d, splitSizes(n, k));
        expect(bySize.length).toBe(want.length);
        bySize.forEach((p, i) => expectArr(p, want[i], 'exact'));
        expectViewInvariant(s, (x) => split(x, k, dim));
        // sections: random cut points summing to n
        const sections = [...cuts.map((c) => Math.min(c, n)), 0];
        let left = n;
        for (let i = 0; i < sections.length; i++) left -= sections[i] = Math.min(sections[i], left);
        sections[sections.length - 1] += left;
        const bySec = split(toTensor(s), sections, dim);
        pieces(s, d, sections).forEach((w, i) => expectArr(bySec[i], w, 'exact'));
        const ch = chunk(toTensor(s), k, dim);
        const cw = pieces(s, d, splitSizes(n, Math.ceil(n / k)));
        expect(ch.length).toBe(cw.length);
        ch.forEach((p, i) => expectArr(p, cw[i], 'exact'));
        expectViewInvariant(s, (x) => chunk(x, k, dim));
      }),
      { numRuns: RUNS },
    );
  });
  it('gradients through the pieces match finite differences', () => {
    fc.assert(
      fc.property(spArb, ([s, dim, k]) => {
        expect(
          gradcheck(
            (x) =>
              cat(
                split(x, k, dim).map((p, i) => p.mul(i + 1)),
                dim,
              ),
            [toTensor(s)],
          ),
        ).toBe(true);
        expect(
          gradcheck(
            (x) =>
              cat(
                chunk(x, k, dim).map((p, i) => p.mul(i - 1)),
                dim,
              ),
            [toTensor(s)],
          ),
        ).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

describe('pad', () => {
  /** F.pad lists for the last m dims: each side in [-size, 2], never cropping below 0. */
  const padArb = ranked.chain((s) =>
    fc.integer({ min: 1, max: s.length }).chain((m) =>
      fc.tuple(
        stridedArb(s),
        fc
          .tuple(
            ...Array.from({ length: m }, (_, k) => {
              const n = s[s.length - 1 - k];
              return fc.integer({ min: -n, max: 2 }).chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: -(n + Math.min(b, 0)), max: 2 })));
            }),
          )
          .map((pairs) => pairs.flat()),
        fc.oneof(fc.constant(0), valueArb()),
      ),
    ),
  );
  const refPad = (a: Arr, p: number[], value: number): Arr => {
    const r = a.shape.length;
    const before = a.shape.map((_, d) => p[2 * (r - 1 - d)] ?? 0),
      after = a.shape.map((_, d) => p[2 * (r - 1 - d) + 1] ?? 0);
    return tabulate(
      a.shape.map((n, d) => n + before[d] + after[d]),
      (idx) => {
        const src = idx.map((v, d) => v - before[d]);
        return src.every((v, d) => v >= 0 && v < a.shape[d]) ? at(a, src) : value;
      },
    );
  };
  it('pads with a constant and crops with negative amounts (F.pad)', () => {
    fc.assert(
      fc.property(padArb, ([s, p, value]) => {
        expectArr(pad(toTensor(s), p, value), refPad(s, p, value), 'exact');
        expectViewInvariant(s, (x) => pad(x, p, value));
        const yi = pad(toTensor({ ...s, data: s.data.map(Math.round) }, 'int32'), p, 7);
        expect(yi.dtype).toBe('int32');
        expectArr(yi, refPad({ shape: s.shape, data: s.data.map(Math.round) }, p, 7), 'exact');
      }),
      { numRuns: RUNS },
    );
  });
  it('gradient matches finite differences', () => {
    fc.assert(
      fc.property(padArb, ([s, p, value]) => {
        expect(gradcheck((x) => pad(x, p, value), [toTensor(s)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

// ---- gather / scatterAdd / indexSelect / oneHot ---------------------------------------------

/** x of shape s, a dim, and an int32 index of the same rank: <= s off dim, any length along it. */
const gatherArb = ranked.chain((s) =>
  dimArb(s.length).chain((dim) => {
    const d = resolveDim(dim, s.length);
    const ishape = fc.tuple(...s.map((n, k) => fc.integer({ min: k === d ? 0 : 1, max: k === d ? 3 : n })));
    return fc.tuple(
      stridedArb(s),
      fc.constant(dim),
      ishape.chain((is) => stridedArb(is, fc.integer({ min: 0, max: s[d] - 1 }))),
    );
  }),
);
const refGather = (a: Arr, d: number, idx: Arr): Arr =>
  tabulate(idx.shape, (i) =>
    at(
      a,
      i.map((v, k) => (k === d ? at(idx, i) : v)),
    ),
  );
const refScatterAdd = (shape: Shape, d: number, idx: Arr, src: Arr): Arr => {
  const out = tabulate(shape, () => 0);
  tabulate(idx.shape, (i) => {
    const j = i.map((v, k) => (k === d ? at(idx, i) : v));
    out.data[j.reduce((p, v, k) => p * shape[k] + v, 0)] += at(src, i);
    return 0;
  });
  return out;
};

describe('gather / scatterAdd / indexSelect / oneHot', () => {
  it('gather picks along dim (index may be smaller off dim); strided x and index match dense copies', () => {
    fc.assert(
      fc.property(gatherArb, ([s, dim, idx]) => {
        const d = resolveDim(dim, s.shape.length);
        const it = toTensor(idx, 'int32');
        expectArr(gather(toTensor(s), dim, it), refGather(s, d, idx), 'exact');
        expectViewInvariant(s, (x) => gather(x, dim, it));
        expectSameTensor(gather(toTensor(s), dim, toStrided(idx, 'int32')), gather(toTensor(s), dim, it));
        expectArr(toTensor(s).gather(dim, it), refGather(s, d, idx), 'exact');
      }),
      { numRuns: RUNS },
    );
  });
  it('gather gradient (a scatter-add, repeated indices accumulate) matches finite differences', () => {
    fc.assert(
      fc.property(gatherArb, ([s, dim, idx]) => {
        const it = toTensor(idx, 'int32');
        expect(gradcheck((x) => gather(x, dim, it), [toTensor(s)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it('gather and scatterAdd check the index once: a write into it before backward throws the version error, not an out-of-range scatter', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 4 }), fc.boolean(), (n, at, viaScatter) => {
        const x = tensor(Array.from({ length: n }, (_, i) => i + 1)).requiresGrad_(); // (n)
        const idx = tensor([0, n - 1], { dtype: 'int32' }); // (2), in range
        const y = (viaScatter ? scatterAdd([n], 0, idx, x.slice(0, 0, 1).expand([2])) : gather(x, 0, idx)).sum();
        idx.slice(0, at % 2, (at % 2) + 1).copy_(n + at); // now out of range
        const op = viaScatter ? 'scatterAdd' : 'gather';
        expect(() => y.backward()).toThrow(new RegExp(`${op} backward: .*modified in place`));
      }),
      { numRuns: 20 },
    );
  });

  /** out shape, dim, index (<= shape off dim) and src of the index's shape (torch.scatter_add). */
  const scatterArb = ranked.chain((s) =>
    dimArb(s.length).chain((dim) => {
      const d = resolveDim(dim, s.length);
      const ishape = fc.tuple(...s.map((n, k) => fc.integer({ min: 1, max: k === d ? 3 : n })));
      return fc.tuple(
        fc.constant(s),
        fc.constant(dim),
        ishape.chain((is) => fc.tuple(stridedArb(is, fc.integer({ min: 0, max: s[d] - 1 })), stridedArb(is))),
      );
    }),
  );
  it('scatterAdd adds src into zeros at index along dim (repeats accumulate), like torch.scatter_add', () => {
    fc.assert(
      fc.property(scatterArb, ([shape, dim, [idx, src]]) => {
        const d = resolveDim(dim, shape.length);
        const it = toTensor(idx, 'int32');
        expectArr(scatterAdd(shape, dim, it, toTensor(src)), refScatterAdd(shape, d, idx, src), { rtol: 1e-15, atol: 1e-15 });
        expectViewInvariant(src, (x) => scatterAdd(shape, dim, it, x));
        expectSameTensor(scatterAdd(shape, dim, toStrided(idx, 'int32'), toTensor(src)), scatterAdd(shape, dim, it, toTensor(src)));
        expect(gradcheck((x) => scatterAdd(shape, dim, it, x), [toTensor(src)])).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('indexSelect takes whole slices at the given positions (repeats allowed)', () => {
    const isArb = ranked.chain((s) =>
      dimArb(s.length).chain((dim) =>
        fc.tuple(stridedArb(s), fc.constant(dim), fc.array(fc.integer({ min: 0, max: s[resolveDim(dim, s.length)] - 1 }), { maxLength: 4 })),
      ),
    );
    fc.assert(
      fc.property(isArb, ([s, dim, pos]) => {
        const d = resolveDim(dim, s.shape.length);
        const it = tensor(pos, { dtype: 'int32' });
        const want = tabulate(
          s.shape.map((n, k) => (k === d ? pos.length : n)),
          (i) =>
            at(
              s,
              i.map((v, k) => (k === d ? pos[v] : v)),
            ),
        );
        expectArr(indexSelect(toTensor(s), dim, it), want, 'exact');
        expectViewInvariant(s, (x) => indexSelect(x, dim, it));
        expect(gradcheck((x) => indexSelect(x, dim, it), [toTensor(s)])).toBe(true);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it('oneHot gives [..., numClasses] int32 rows', () => {
    const ohArb = fc
      .integer({ min: 1, max: 4 })
      .chain((c) => fc.tuple(fc.constant(c), stridedArb(shapeArb({ maxRank: 2, maxDim: 3 }), fc.integer({ min: 0, max: c - 1 }))));
    fc.assert(
      fc.property(ohArb, ([c, labels]) => {
        const y = oneHot(toTensor(labels, 'int32'), c);
        expect(y.dtype).toBe('int32');
        expectArr(
          y,
          tabulate([...labels.shape, c], (i) => +(at(labels, i.slice(0, -1)) === i[i.length - 1])),
          'exact',
        );
        expectSameTensor(oneHot(toStrided(labels, 'int32'), c), y);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- to(dtype) ------------------------------------------------------------------------------

describe('to(dtype)', () => {
  const conv: Record<DType, (v: number) => number> = { float64: (v) => v, float32: Math.fround, int32: Math.trunc };
  const dts: DType[] = ['float64', 'float32', 'int32'];
  it('converts between every pair of dtypes (float → int32 truncates toward zero, like torch)', () => {
    fc.assert(
      fc.property(stridedArb(small, fc.oneof(valueArb(-100, 100), smallIntArb(-3, 3))), fc.constantFrom(...dts), fc.constantFrom(...dts), (s, from, to) => {
        const src = { ...s, data: s.data.map(conv[from]) };
        const y = toTensor(src, from).to(to);
        expect(y.dtype).toBe(to);
        expectArr(y, { shape: s.shape, data: src.data.map(conv[to]) }, 'exact');
        expectSameTensor(toStrided(src, from).to(to), y);
        if (from === to) expect(toTensor(src, from).to(to).dtype).toBe(from);
      }),
      { numRuns: RUNS },
    );
  });
  it('is differentiable between float dtypes; the gradient comes back in the input dtype', () => {
    fc.assert(
      fc.property(arrArb(small), arrArb(small), (a, g) => {
        const x = toTensor(a).requiresGrad_();
        const y = x.to('float32');
        expect(y.requiresGrad).toBe(true);
        const gy = toTensor(
          { shape: a.shape, data: g.data.slice(0, numel(a.shape)).concat(new Array(Math.max(0, numel(a.shape) - g.data.length)).fill(1)) },
          'float32',
        );
        y.backward(gy);
        expect(x.grad!.dtype).toBe('float64');
        expectArr(x.grad!, { shape: a.shape, data: [...gy.data()] }, 'exact');
        // the float32 round trip is the identity up to rounding: gradcheck with a coarse step
        expect(gradcheck((t) => t.to('float32').mul(3).to('float64'), [toTensor(a)], { eps: 1e-2, atol: 1e-3, rtol: 1e-3 })).toBe(true);
        expect(toTensor(a).requiresGrad_().to('int32').requiresGrad).toBe(false);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
});

// ---- copy_ ----------------------------------------------------------------------------------

describe('copy_', () => {
  it('from a view of its own storage (flip, permute, slice) gives what a copy from a clone gives', () => {
    const sqArb = fc.integer({ min: 1, max: 4 }).chain((n) =>
      fc.tuple(
        valuesArb(n * n, valueArb()),
        fc.constant(n),
        fc.constantFrom<(t: Tensor) => Tensor>(
          (t) => t.flip([0, 1]),
          (t) => t.T,
          (t) => t.flip(1).T,
          (t) => t.slice(0, 0, 1).expand(t.shape),
        ),
      ),
    );
    fc.assert(
      fc.property(sqArb, ([data, n, f]) => {
        const x = tensor(data, { shape: [n, n], dtype: 'float64' }),
          ref = x.clone();
        x.copy_(f(x));
        ref.copy_(f(ref).clone());
        expectSameTensor(x, ref);
      }),
      { numRuns: RUNS },
    );
  });
  it('into a view where two elements share one memory cell (a broadcast dim of size > 1) throws a ShapeError', () => {
    fc.assert(
      fc.property(ranked, fc.integer({ min: 2, max: 4 }), (s, k) => {
        const x = tensor(new Array(numel(s)).fill(0), { shape: s });
        const e = expand(unsqueeze(x, 0), [k, ...s]);
        expect(() => e.copy_(1)).toThrow(ShapeError);
        expect(() => e.copy_(1)).toThrow(/copy_: .*one memory location/);
        expect([...x.data()].every((v) => v === 0)).toBe(true);
        unsqueeze(x, 0).copy_(2); // size-1 dims are fine
        expect([...x.data()].every((v) => v === 2)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

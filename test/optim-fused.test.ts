// The fused SGD update (sgdUpdate_) against the op-by-op update it replaces: on the CPU the same bits for
// float32 and float64, over random options; on the GPU backend (gpu.js cpu mode: its two kernels keep
// intermediates unrounded) within float32 rounding, on strided views too; and it declines (returns
// false) what it cannot take.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Generator, type Tensor, disposeBackend, initBackend, noGrad, randn, sgdUpdate_, tensor } from '@lad/tensor';
import { SGD } from '@lad/nn';

interface Opts {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/** The unfused update of @lad/nn's SGD (its op sequence), returning the new p and buffer. */
function reference(p: Tensor, grad: Tensor, b: Tensor | null, o: Opts): [Tensor, Tensor | null] {
  return noGrad(() => {
    let g = o.maximize ? grad.neg() : grad;
    if (o.weightDecay !== 0) g = g.add(p.mul(o.weightDecay));
    let nb: Tensor | null = null;
    if (o.momentum !== 0) {
      nb = b!.mul(o.momentum).add(o.dampening === 0 ? g : g.mul(1 - o.dampening));
      g = o.nesterov ? g.add(nb.mul(o.momentum)) : nb;
    }
    return [p.sub(g.mul(o.lr)), nb];
  });
}

const bits = (t: Tensor) =>
  Array.from(t.dtype === 'float32' ? new Uint32Array(new Float32Array(t.data()).buffer) : new Uint32Array(new Float64Array(t.data()).buffer));

const opts = fc
  .record({
    lr: fc.double({ min: 1e-4, max: 1, noNaN: true }),
    momentum: fc.constantFrom(0, 0.9, 0.37),
    dampening: fc.constantFrom(0, 0.1),
    weightDecay: fc.constantFrom(0, 1e-4, 0.03),
    nesterov: fc.boolean(),
    maximize: fc.boolean(),
  })
  .map((o) => ({ ...o, nesterov: o.nesterov && o.momentum > 0 && o.dampening === 0 }));

describe('sgdUpdate_', () => {
  it('gives the bits of the op-by-op update (float32 and float64)', () => {
    fc.assert(
      fc.property(
        opts,
        fc.constantFrom('float32', 'float64' as const),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 1e6 }),
        (o, dtype, n, seed) => {
          const g = new Generator(seed);
          const p = randn([n], { dtype, generator: g }),
            grad = randn([n], { dtype, generator: g }),
            b = o.momentum !== 0 ? randn([n], { dtype, generator: g }) : null;
          const [wantP, wantB] = reference(p, grad, b, o);
          expect(sgdUpdate_(p, grad, b, o)).toBe(true);
          expect(bits(p)).toEqual(bits(wantP));
          if (b) expect(bits(b)).toEqual(bits(wantB!));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('works on a row-major view at an offset and declines strided views, int32 and a missing buffer', () => {
    const g = new Generator(1),
      o = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: false, maximize: false };
    const big = randn([3, 4], { generator: g }),
      grad = randn([4], { generator: g }),
      b = randn([4], { generator: g });
    const row = big.select(0, 1);
    const [wantP] = reference(row.clone(), grad, b.clone(), o);
    expect(sgdUpdate_(row, grad, b, o)).toBe(true);
    expect(bits(big.select(0, 1))).toEqual(bits(wantP));
    expect(sgdUpdate_(big.transpose(0, 1), randn([4, 3], { generator: g }), randn([4, 3], { generator: g }), o)).toBe(false);
    expect(sgdUpdate_(randn([4], { generator: g }), grad, null, o)).toBe(false); // momentum needs its buffer
    expect(sgdUpdate_(randn([4], { generator: g }), randn([4], { generator: g, dtype: 'float64' }), null, { ...o, momentum: 0 })).toBe(false);
  });

  it('SGD with momentum trains the same bits over several steps as the op-by-op rule', () => {
    const g = new Generator(5),
      o = { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true, maximize: false };
    const w = randn([16], { generator: g }).requiresGrad_();
    let refP = w.detach().clone(),
      refB: Tensor | null = null;
    const opt = new SGD([w], o);
    for (let step = 0; step < 4; step++) {
      const x = randn([16], { generator: g });
      w.mul(x).sum().backward();
      const grad = w.grad!.clone();
      opt.step();
      opt.zeroGrad();
      if (refB === null) {
        // the first step makes the buffer from the gradient
        refB = noGrad(() => grad.add(refP.mul(o.weightDecay)));
        refP = noGrad(() =>
          refP.sub(
            refB!
              .mul(o.momentum)
              .add(grad.add(refP.mul(o.weightDecay)))
              .mul(o.lr),
          ),
        );
      } else [refP, refB] = reference(refP, grad, refB, o);
      expect(bits(w.detach())).toEqual(bits(refP));
    }
  });
});

describe('sgdUpdate_ and autograd', () => {
  it('counts as an in-place write: a graph that saved the parameter refuses to backward after the update', () => {
    const p = tensor([1, 2, 3], { requiresGrad: true });
    const y = p.mul(p).sum(); // mul saves p
    const grad = tensor([1, 1, 1]);
    expect(sgdUpdate_(p.detach(), grad, null, { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false })).toBe(true);
    expect(() => y.backward()).toThrow(/mul backward: an input saved for backward was modified in place/);
  });
});

describe('sgdUpdate_ on the gpu backend (gpu.js cpu mode)', () => {
  beforeAll(async () => {
    await initBackend('gpu', { mode: 'cpu' });
  });
  afterAll(async () => {
    await disposeBackend('gpu');
  });

  it('matches the op-by-op update on the CPU, on dense and transposed views, and leaves neighbours alone', async () => {
    const close = (got: Float32Array, want: Tensor) =>
      want.data().forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(w))));
    await fc.assert(
      fc.asyncProperty(
        opts,
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 1e6 }),
        async (o, r, c, strided, seed) => {
          const g = new Generator(seed);
          const full = randn([r + 1, c], { generator: g }); // row 0 stays outside the updated view
          const grad = randn([r, c], { generator: g }),
            b = o.momentum !== 0 ? randn([r, c], { generator: g }) : null;
          const [wantP, wantB] = reference(full.slice(0, 1, r + 1), grad, b, o);
          const dev = full.to('gpu');
          const pick = (t: Tensor) => (strided ? t.transpose(0, 1).contiguous().transpose(0, 1) : t); // same values, column-major on the device
          const p = dev.slice(0, 1, r + 1);
          const gb = b && pick(b.to('gpu'));
          expect(sgdUpdate_(p, pick(grad.to('gpu')), gb, o)).toBe(true);
          close((await p.dataAsync()) as Float32Array, wantP);
          if (gb) close((await gb.dataAsync()) as Float32Array, wantB!);
          expect(Array.from((await dev.slice(0, 0, 1).dataAsync()) as Float32Array)).toEqual(Array.from(full.slice(0, 0, 1).data()));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('declines a gradient on another device', () => {
    const o = { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };
    expect(sgdUpdate_(randn([3]).to('gpu'), randn([3]), null, o)).toBe(false);
  });
});

// Tests for @lad/nn's loss modules (packages/nn/src/losses.ts): each equals its function in F
// with the same options, class weights travel in stateDict as buffers, and BCEWithLogitsLoss's
// element weight is checked by hand.

import { describe, expect, it } from 'vitest';
import { randn, rand, randint, tensor, Generator, ValueError } from '@lad/tensor';
import { BCEWithLogitsLoss, CrossEntropyLoss, F, KLDivLoss, MSELoss, NLLLoss } from '@lad/nn';
import { expectClose, expectThrows, vals } from './util/nn-arb.ts';

const gen = () => new Generator(3);

describe('loss modules', () => {
  const logits = randn([4, 3, 2, 2], { generator: gen() });
  const target = randint(0, 3, [4, 2, 2], { generator: gen() });
  const weight = tensor([0.2, 1, 3]);

  it('CrossEntropyLoss and NLLLoss pass weight, ignoreIndex and reduction through', () => {
    const t = tensor(
      Array.from(vals(target), (v, i) => (i % 5 === 0 ? 255 : v)),
      { dtype: 'int32', shape: target.shape },
    );
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const o = { weight, ignoreIndex: 255, reduction };
      expect(vals(new CrossEntropyLoss(o).forward(logits, t))).toEqual(vals(F.crossEntropy(logits, t, o)));
      const lp = F.logSoftmax(logits, 1);
      expect(vals(new NLLLoss(o).forward(lp, t))).toEqual(vals(F.nllLoss(lp, t, o)));
    }
    // with no options: mean over all pixels, ignoreIndex −100
    expect(new CrossEntropyLoss().forward(logits, target).item()).toBe(F.crossEntropy(logits, target).item());
  });

  it('keeps the class weight as a buffer, like PyTorch', () => {
    const ce = new CrossEntropyLoss({ weight });
    expect(Object.keys(ce.stateDict())).toEqual(['weight']);
    expect(ce.parameters()).toEqual([]);
    expect(Object.keys(new CrossEntropyLoss().stateDict())).toEqual([]);
  });

  it('KLDivLoss, MSELoss match their functions; gradients flow', () => {
    const input = F.logSoftmax(randn([3, 5], { generator: gen() }), 1);
    const p = F.softmax(randn([3, 5], { generator: new Generator(4) }), 1);
    for (const o of [{ reduction: 'batchmean' as const }, { reduction: 'sum' as const, logTarget: true }]) {
      const tgt = o.logTarget ? p.log() : p;
      expect(new KLDivLoss(o).forward(input, tgt).item()).toBe(F.klDiv(input, tgt, o).item());
    }
    const x = randn([6]).requiresGrad_(),
      y = randn([6]);
    const mse = new MSELoss({ reduction: 'sum' }).forward(x, y);
    expect(mse.item()).toBe(F.mseLoss(x, y, { reduction: 'sum' }).item());
    mse.backward();
    expectClose(x.grad!, vals(x.sub(y).mul(2)), 1e-6, 1e-6);
  });

  it('BCEWithLogitsLoss: log 2 at logit 0, posWeight, and an element weight', () => {
    expect(new BCEWithLogitsLoss().forward(tensor([0, 0]), tensor([1, 0])).item()).toBeCloseTo(Math.LN2, 6);
    const x = randn([4, 3], { generator: gen() }),
      t = rand([4, 3], { generator: gen() });
    const pw = tensor([1, 2, 0.5]);
    expect(new BCEWithLogitsLoss({ posWeight: pw }).forward(x, t).item()).toBe(F.binaryCrossEntropyWithLogits(x, t, { posWeight: pw }).item());
    // weight [1, 0] per column: only column 0 counts, the mean still divides by all 12 elements
    const w = tensor([1, 0, 0]);
    const each = F.binaryCrossEntropyWithLogits(x, t, { reduction: 'none' });
    const col0 = Array.from(vals(each))
      .filter((_, i) => i % 3 === 0)
      .reduce((a, b) => a + b, 0);
    expect(new BCEWithLogitsLoss({ weight: w }).forward(x, t).item()).toBeCloseTo(col0 / 12, 6);
    expect(new BCEWithLogitsLoss({ weight: w, reduction: 'sum' }).forward(x, t).item()).toBeCloseTo(col0, 5);
    expect(Object.keys(new BCEWithLogitsLoss({ weight: w, posWeight: pw }).stateDict())).toEqual(['weight', 'pos_weight']);
    expectThrows(() => new BCEWithLogitsLoss({ reduction: 'avg' as 'mean' }), ValueError, ["'avg'"]);
  });

  it('is printed like PyTorch', () => {
    expect(String(new CrossEntropyLoss())).toBe('CrossEntropyLoss()');
    expect(String(new BCEWithLogitsLoss({ weight: tensor([1]) }))).toBe('BCEWithLogitsLoss()');
  });
});

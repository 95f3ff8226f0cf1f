// Tests for @lad/nn's Module (packages/nn/src/module.ts): PyTorch-style dotted names through
// nested ModuleList/Sequential/ModuleDict, parameters vs buffers, train/eval propagation, apply,
// zeroGrad, stateDict round-trips, loadStateDict's all-or-nothing errors and the repr tree.

import { describe, expect, it } from 'vitest';
import { Tensor, ShapeError, ValueError, ones, randn, tensor, zeros } from '@lad/tensor';
import {
  BatchNorm2d,
  Conv2d,
  Dropout,
  Identity,
  Linear,
  Module,
  ModuleDict,
  ModuleList,
  ReLU,
  Sequential,
  StateDictError,
  buffer,
  isBuffer,
  isParameter,
  parameter,
  type Layer,
} from '@lad/nn';
import { expectThrows, vals } from './util/nn-arb.ts';

const arr = (t: Tensor): number[] => Array.from(vals(t));

/** A residual-ish block: conv, bn, relu; the names mimic a ResNet basic block. */
class Block extends Module {
  conv1 = new Conv2d(2, 2, 3, { padding: 1, bias: false });
  bn1 = new BatchNorm2d(2);
  relu = new ReLU();
  forward(x: Tensor): Tensor {
    return this.relu.forward(this.bn1.forward(this.conv1.forward(x))).add(x);
  }
}

class Backbone extends Module {
  stem = new Conv2d(1, 2, 3, { padding: 1 });
  layer1 = new Sequential(new Block(), new Block());
  forward(x: Tensor): Tensor {
    return this.layer1.forward(this.stem.forward(x));
  }
}

class Net extends Module {
  backbone = new Backbone();
  heads = new ModuleList([new Conv2d(2, 3, 1), new Sequential(new Dropout(0.1), new Conv2d(2, 3, 1))]);
  extra = new ModuleDict({ proj: new Linear(4, 2) });
  scale = parameter(ones([1]));
  forward(x: Tensor): Tensor {
    const h = this.backbone.forward(x);
    return (this.heads.at(0) as Conv2d).forward(h).mul(this.scale);
  }
}

const names = (pairs: [string, unknown][]) => pairs.map(([k]) => k);

describe('Module naming', () => {
  it('gives PyTorch dotted names through nested Sequential / ModuleList / ModuleDict', () => {
    const net = new Net();
    expect(names(net.namedParameters())).toEqual([
      'scale',
      'backbone.stem.weight',
      'backbone.stem.bias',
      'backbone.layer1.0.conv1.weight',
      'backbone.layer1.0.bn1.weight',
      'backbone.layer1.0.bn1.bias',
      'backbone.layer1.1.conv1.weight',
      'backbone.layer1.1.bn1.weight',
      'backbone.layer1.1.bn1.bias',
      'heads.0.weight',
      'heads.0.bias',
      'heads.1.1.weight',
      'heads.1.1.bias',
      'extra.proj.weight',
      'extra.proj.bias',
    ]);
    expect(net.parameters()).toHaveLength(15);
    expect(net.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
  });

  it('lists buffers apart from parameters, with PyTorch state keys for BatchNorm2d', () => {
    const net = new Net();
    expect(names(net.namedBuffers())).toEqual([
      'backbone.layer1.0.bn1.running_mean',
      'backbone.layer1.0.bn1.running_var',
      'backbone.layer1.0.bn1.num_batches_tracked',
      'backbone.layer1.1.bn1.running_mean',
      'backbone.layer1.1.bn1.running_var',
      'backbone.layer1.1.bn1.num_batches_tracked',
    ]);
    const bn = new BatchNorm2d(3);
    expect(isBuffer(bn.runningMean)).toBe(true);
    expect(isParameter(bn.runningMean)).toBe(false);
    expect(bn.parameters()).toEqual([bn.weight, bn.bias]);
    expect(bn.runningMean!.requiresGrad).toBe(false);
    // stateDict: each module's parameters, then its buffers, then its children (as PyTorch)
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  });

  it('lists children and modules with names, each module once', () => {
    const net = new Net();
    expect(names(net.namedChildren())).toEqual(['backbone', 'heads', 'extra']);
    expect(names(net.namedModules())).toEqual([
      '',
      'backbone',
      'backbone.stem',
      'backbone.layer1',
      'backbone.layer1.0',
      'backbone.layer1.0.conv1',
      'backbone.layer1.0.bn1',
      'backbone.layer1.0.relu',
      'backbone.layer1.1',
      'backbone.layer1.1.conv1',
      'backbone.layer1.1.bn1',
      'backbone.layer1.1.relu',
      'heads',
      'heads.0',
      'heads.1',
      'heads.1.0',
      'heads.1.1',
      'extra',
      'extra.proj',
    ]);
    expect(net.children()[0]).toBe(net.backbone);
  });

  it('lists a shared module and a shared tensor once', () => {
    const shared = new Linear(2, 2);
    class Tied extends Module {
      a = shared;
      b = shared;
    }
    const m = new Tied();
    expect(names(m.namedParameters())).toEqual(['a.weight', 'a.bias']);
    expect(names(m.namedModules())).toEqual(['', 'a']);
    expect(Object.keys(m.stateDict())).toEqual(['a.weight', 'a.bias', 'b.weight', 'b.bias']); // as PyTorch
  });

  it('ignores plain tensors and null optional tensors; rejects a plain array of modules', () => {
    class M extends Module {
      plain = zeros([2]);
      bias: Tensor | null = null;
      w = parameter(randn([2, 2]).mul(2)); // a non-leaf becomes a leaf
    }
    const m = new M();
    expect(names(m.namedParameters())).toEqual(['w']);
    expect(m.w.isLeaf).toBe(true);
    class Bad extends Module {
      layers = [new ReLU(), new ReLU()];
    }
    expectThrows(() => new Bad().parameters(), ShapeError, ["field 'layers'", 'ModuleList']);
    expectThrows(() => buffer(parameter(zeros([1]))), ValueError, ['already a parameter']);
    expectThrows(() => parameter(buffer(zeros([1]))), ValueError, ['already a buffer']);
  });
});

describe('Module modes and traversal', () => {
  it('train()/eval() propagate to every descendant and return the module', () => {
    const net = new Net();
    expect(net.modules().every((m) => m.training)).toBe(true);
    expect(net.eval()).toBe(net);
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.backbone.train();
    expect(net.training).toBe(false);
    expect(net.backbone.modules().every((m) => m.training)).toBe(true);
    net.train(false);
    expect(net.modules().some((m) => m.training)).toBe(false);
  });

  it('apply visits children before the parent', () => {
    const seq = new Sequential(new Sequential(new ReLU()), new Identity());
    const order: string[] = [];
    seq.apply((m) => order.push(m.constructor.name));
    expect(order).toEqual(['ReLU', 'Sequential', 'Identity', 'Sequential']);
  });

  it('zeroGrad drops the gradients; requiresGrad_ freezes every parameter', () => {
    const lin = new Linear(3, 2);
    lin
      .forward(ones([4, 3]))
      .sum()
      .backward();
    expect(lin.weight.grad).not.toBeNull();
    lin.zeroGrad();
    expect(lin.parameters().every((p) => p.grad === null)).toBe(true);
    lin.requiresGrad_(false);
    expect(lin.parameters().some((p) => p.requiresGrad)).toBe(false);
    expect(lin.parameters()).toHaveLength(2); // frozen parameters are still parameters
  });
});

describe('stateDict / loadStateDict', () => {
  /** conv (2 tensors) + bn (5 tensors). */
  const small = () => new Sequential(new Conv2d(1, 2, 3), new BatchNorm2d(2));

  it("round-trips: a fresh module loads another one's state and computes the same", () => {
    const a = small(),
      b = small();
    a.forward(randn([2, 1, 5, 5])); // moves a's running stats
    const res = b.loadStateDict(a.stateDict());
    expect(res).toEqual({ missingKeys: [], unexpectedKeys: [] });
    for (const [k, t] of Object.entries(a.stateDict())) expect(arr(b.stateDict()[k]), k).toEqual(arr(t));
    expect(b.stateDict()['1.num_batches_tracked'].item()).toBe(1);
    const x = randn([2, 1, 5, 5]);
    a.eval();
    b.eval();
    expect(arr(b.forward(x))).toEqual(arr(a.forward(x)));
    // the loaded values are copies: b's tensors are still its own leaves
    expect(b.stateDict()['0.weight'].storage).not.toBe(a.stateDict()['0.weight'].storage);
    expect((b.at(0) as Conv2d).weight.requiresGrad).toBe(true);
  });

  it('stateDict values share storage with the module but are detached', () => {
    const lin = new Linear(2, 2);
    const sd = lin.stateDict();
    expect(sd.weight.storage).toBe(lin.weight.storage);
    expect(sd.weight.requiresGrad).toBe(false);
  });

  it('lists missing, unexpected and wrongly-shaped keys, and loads nothing on error', () => {
    const m = small();
    const before = Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, arr(t)]));
    const sd = small().stateDict();
    delete sd['1.running_var'];
    delete sd['0.bias'];
    sd['0.weight'] = zeros([2, 1, 5, 5]);
    sd['2.weight'] = zeros([3]);
    let err: unknown;
    try {
      m.loadStateDict(sd);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    expect(err).toBeInstanceOf(ShapeError);
    const e = err as StateDictError;
    expect(e.missingKeys).toEqual(['0.bias', '1.running_var']);
    expect(e.unexpectedKeys).toEqual(['2.weight']);
    expect(e.mismatchedKeys).toEqual(['0.weight']);
    for (const part of ['loadStateDict', '0.bias', '1.running_var', '2.weight', '0.weight: got [2, 1, 5, 5], expected [2, 1, 3, 3]', 'Nothing was loaded']) {
      expect(e.message).toContain(part);
    }
    // nothing was copied, not even the keys that fit (1.weight, 1.running_mean, ...)
    for (const [k, t] of Object.entries(m.stateDict())) expect(arr(t), k).toEqual(before[k]);
  });

  it('keys that name Object.prototype members (toString, constructor, __proto__) are unexpected keys, not matches', () => {
    for (const key of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      const m = new Linear(2, 2);
      const sd = JSON.parse(`{"${key}": 1}`) as Record<string, Tensor>; // JSON makes even __proto__ an own key
      Object.assign(sd, m.stateDict());
      let err: unknown = null;
      try {
        m.loadStateDict(sd);
      } catch (e) {
        err = e;
      }
      expect(err, key).toBeInstanceOf(StateDictError);
      expect((err as StateDictError).unexpectedKeys).toEqual([key]);
      expect(m.loadStateDict(sd, { strict: false }).unexpectedKeys).toEqual([key]);
      // and a state dict missing a key is not completed by an inherited member of that name
      const partial: Record<string, Tensor> = Object.create({ weight: zeros([2, 2]) });
      partial.bias = zeros([2]);
      expect(m.loadStateDict(partial, { strict: false }).missingKeys).toEqual(['weight']);
    }
  });

  it('strict: false loads the matching keys and reports the rest', () => {
    const m = small();
    const src = small();
    noGradFill(src, 0.5);
    const sd = src.stateDict();
    delete sd['0.bias'];
    const res = m.loadStateDict({ ...sd, extra: zeros([1]) }, { strict: false });
    expect(res).toEqual({ missingKeys: ['0.bias'], unexpectedKeys: ['extra'] });
    expect(arr(m.stateDict()['0.weight']).every((v) => v === 0.5)).toBe(true);
    expect(arr(m.stateDict()['0.bias']).every((v) => v === 0.5)).toBe(false);
    // a wrong shape still throws without strict, and nothing is loaded
    const m2 = small();
    const w0 = arr(m2.stateDict()['1.weight']);
    expectThrows(() => m2.loadStateDict({ ...sd, '0.weight': zeros([1]) }, { strict: false }), StateDictError, ['0.weight: got [1], expected [2, 1, 3, 3]']);
    expect(arr(m2.stateDict()['1.weight'])).toEqual(w0);
  });

  it('names a value that is not a tensor', () => {
    const lin = new Linear(1, 1);
    expectThrows(() => lin.loadStateDict({ weight: 3 as unknown as Tensor, bias: zeros([1]) }), StateDictError, ['weight: got a number, not a Tensor']);
  });
});

/** Sets every tensor of m's state to v (ints too). */
function noGradFill(m: Module, v: number): void {
  const sd = Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, zeros(t.shape).add(v)]));
  m.loadStateDict(sd);
}

describe('repr', () => {
  it('prints a tree like PyTorch', () => {
    const net = new Sequential(
      new Conv2d(3, 8, 3, { padding: 1 }),
      new BatchNorm2d(8),
      new ReLU(),
      new Sequential(new Conv2d(8, 8, 3, { stride: 2, dilation: 2, groups: 4, bias: false }), new Dropout(0.25)),
      new Linear(8, 2),
    );
    expect(String(net)).toBe(
      [
        'Sequential(',
        '  (0): Conv2d(3, 8, kernelSize=[3, 3], stride=[1, 1], padding=[1, 1])',
        '  (1): BatchNorm2d(8, eps=1e-5, momentum=0.1, affine=true, trackRunningStats=true)',
        '  (2): ReLU()',
        '  (3): Sequential(',
        '    (0): Conv2d(8, 8, kernelSize=[3, 3], stride=[2, 2], dilation=[2, 2], groups=4, bias=false)',
        '    (1): Dropout(p=0.25)',
        '  )',
        '  (4): Linear(inFeatures=8, outFeatures=2, bias=true)',
        ')',
      ].join('\n'),
    );
  });

  it('prints a custom module with named fields and a ModuleDict', () => {
    class Head extends Module {
      convs = new ModuleDict({ a: new Conv2d(2, 2, 1), b: new Identity() });
      act = new ReLU();
    }
    expect(new Head().toString()).toBe(
      'Head(\n  (convs): ModuleDict(\n    (a): Conv2d(2, 2, kernelSize=[1, 1], stride=[1, 1])\n    (b): Identity()\n  )\n  (act): ReLU()\n)',
    );
  });
});

describe('containers', () => {
  it('Sequential chains forward and indexes like an array', () => {
    const seq = new Sequential(new Linear(2, 3), new ReLU());
    const x = tensor([[1, -2]]);
    const l0 = seq.at(0) as Linear;
    expect(arr(seq.forward(x))).toEqual(arr(l0.forward(x).relu()));
    expect(seq.length).toBe(2);
    expect(seq.at(-1)).toBeInstanceOf(ReLU);
    expect([...seq]).toHaveLength(2);
    seq.append(new Identity());
    expect(names(seq.namedChildren())).toEqual(['0', '1', '2']);
    expectThrows(() => seq.at(3), ValueError, ['index 3']);
  });

  it('ModuleList and ModuleDict hold typed children', () => {
    const list = new ModuleList<Linear>([new Linear(1, 1)]).push(new Linear(1, 2));
    expect(list.at(1).outFeatures).toBe(2);
    expect(names(list.namedParameters())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    const dict = new ModuleDict<Layer>({ b: new ReLU() });
    dict.set('a', new Linear(1, 1));
    expect(dict.keys()).toEqual(['b', 'a']);
    expect(names(dict.namedParameters())).toEqual(['a.weight', 'a.bias']);
    expectThrows(() => dict.set('x.y', new ReLU()), ValueError, ["'x.y'"]);
  });
});

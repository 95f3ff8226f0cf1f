// Property tests for matmul and conv2d (ops/linalg.ts, ops/conv.ts): forward against naive
// references written here from the torch.matmul and F.conv2d definitions, gradchecks in float64,
// strided views against dense copies, and the error messages' classes and numbers.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { conv2d, matmul, gradcheck, tensor, ShapeError, DTypeError } from '@lad/tensor';
import { expectClose, expectThrows, nonContiguous, numel, randT, seedArb, strides, vals } from './util/nn-arb.ts';

// ---- matmul ------------------------------------------------------------------------------------

/** torch.matmul by definition: promote 1-D operands, broadcast batch dims, squeeze back. */
function refMatmul(a: Float64Array, as: readonly number[], b: Float64Array, bs: readonly number[]): { data: Float64Array; shape: number[] } {
  const A = as.length === 1 ? [1, as[0]] : [...as],
    B = bs.length === 1 ? [bs[0], 1] : [...bs];
  const [M, K] = A.slice(-2),
    N = B[B.length - 1];
  const ab = A.slice(0, -2),
    bb = B.slice(0, -2),
    n = Math.max(ab.length, bb.length);
  const pa = [...Array(n - ab.length).fill(1), ...ab],
    pb = [...Array(n - bb.length).fill(1), ...bb];
  const batch = pa.map((d, i) => Math.max(d, pb[i]));
  const sa = strides(pa),
    sb = strides(pb),
    sbat = strides(batch);
  const out = new Float64Array(numel(batch) * M * N);
  for (let bi = 0; bi < numel(batch); bi++) {
    let oa = 0,
      ob = 0;
    for (let d = 0; d < n; d++) {
      const idx = Math.floor(bi / sbat[d]) % batch[d];
      oa += (pa[d] === 1 ? 0 : idx) * sa[d];
      ob += (pb[d] === 1 ? 0 : idx) * sb[d];
    }
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[oa * M * K + i * K + k] * b[ob * K * N + k * N + j];
        out[(bi * M + i) * N + j] = s;
      }
  }
  let shape = [...batch, M, N];
  if (as.length === 1) shape = shape.filter((_, i) => i !== shape.length - 2);
  if (bs.length === 1) shape = shape.slice(0, -1);
  return { data: out, shape };
}

/** Pairs of matmul-compatible shapes: 1-D, 2-D, batched, with broadcast batch dims. */
const matShapes = fc
  .record({
    M: fc.integer({ min: 1, max: 4 }),
    K: fc.integer({ min: 1, max: 5 }),
    N: fc.integer({ min: 1, max: 4 }),
    aVec: fc.boolean(),
    bVec: fc.boolean(),
    batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    maskA: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    maskB: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    dropA: fc.integer({ min: 0, max: 2 }),
    dropB: fc.integer({ min: 0, max: 2 }),
  })
  .map(({ M, K, N, aVec, bVec, batch, maskA, maskB, dropA, dropB }) => {
    // Each side keeps a suffix of the batch dims, some set to 1 (broadcast).
    const ba = batch.slice(Math.min(dropA, batch.length)).map((d, i) => (maskA[i] ? 1 : d));
    const bb = batch.slice(Math.min(dropB, batch.length)).map((d, i) => (maskB[i] ? 1 : d));
    const a = aVec ? [K] : [...ba, M, K];
    const b = bVec ? [K] : [...bb, K, N];
    return { a, b };
  });

describe('matmul', () => {
  it('matches the reference over 1-D, 2-D, batched and broadcast shapes', () => {
    fc.assert(
      fc.property(matShapes, seedArb, ({ a, b }, seed) => {
        const x = randT(a, seed),
          y = randT(b, seed + 1);
        const got = matmul(x, y);
        const want = refMatmul(vals(x), a, vals(y), b);
        expect(got.shape).toEqual(want.shape);
        expectClose(got, want.data, 1e-12, 1e-12);
        // float32 agrees within float32 rounding
        const got32 = matmul(x.to('float32'), y.to('float32'));
        expect(got32.dtype).toBe('float32');
        expectClose(got32, want.data, 1e-5, 1e-4);
      }),
      { numRuns: 40 },
    );
  });

  it('broadcasts [3, 1, 4, 5] @ [2, 5, 2] to [3, 2, 4, 2]', () => {
    const x = randT([3, 1, 4, 5], 1),
      y = randT([2, 5, 2], 2);
    const got = matmul(x, y);
    expect(got.shape).toEqual([3, 2, 4, 2]);
    expectClose(got, refMatmul(vals(x), x.shape, vals(y), y.shape).data, 1e-12, 1e-12);
    expect(matmul(randT([4], 3), randT([4], 4)).shape).toEqual([]);
    expect(matmul(randT([4], 3), randT([2, 4, 3], 4)).shape).toEqual([2, 3]);
    expect(matmul(randT([2, 3, 4], 3), randT([4], 4)).shape).toEqual([2, 3]);
  });

  it('gradcheck in float64 for both operands', () => {
    fc.assert(
      fc.property(matShapes, seedArb, ({ a, b }, seed) => {
        expect(gradcheck(matmul, [randT(a, seed), randT(b, seed + 1)])).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('strided views give the same product as dense copies', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), (seed, m, k, n) => {
        const at = randT([k, m], seed).transpose(0, 1); // (m, k) transposed view
        const bw = randT([k, 2 * n], seed + 1).slice(1, 0, null, 2); // (k, n) step-2 view
        expectClose(matmul(at, bw), matmul(at.contiguous(), bw.contiguous()), 1e-12, 1e-12);
        const ab = randT([2, k, m], seed + 2).permute(0, 2, 1); // (2, m, k)
        expectClose(matmul(ab, bw), matmul(ab.contiguous(), bw.contiguous()), 1e-12, 1e-12);
        expect(gradcheck((p, q) => matmul(p.transpose(0, 1), q), [randT([k, m], seed), randT([k, n], seed + 3)])).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('larger shapes (blocked and multi-threaded GEMM paths), with strided operands and gradients', () => {
    const cases: [number[], number[]][] = [
      [
        [70, 90],
        [90, 40],
      ],
      [
        [3, 64, 100],
        [100, 200],
      ],
      [
        [2, 1, 33, 129],
        [3, 129, 65],
      ],
      [[257], [257, 130]],
    ];
    cases.forEach(([as, bs], k) => {
      for (const dtype of ['float32', 'float64'] as const) {
        const a = randT(as, 300 + k, dtype),
          b = randT(bs, 400 + k, dtype);
        const want = refMatmul(vals(a), as, vals(b), bs);
        const [atol, rtol] = dtype === 'float32' ? [2e-4, 1e-4] : [1e-11, 1e-10];
        const y = matmul(a, b);
        expect(y.shape).toEqual(want.shape);
        expectClose(y, want.data, atol, rtol, `case ${k} ${dtype}`);
        // the same operands as transposed views of dense transposes
        const tr = (t: typeof a) => (t.ndim < 2 ? t : t.transpose(-1, -2).contiguous().transpose(-1, -2));
        expectClose(matmul(tr(a), tr(b)), want.data, atol, rtol, `case ${k} ${dtype} strided`);
        // gradients: dA = G Bᵀ, dB = Aᵀ G, checked against the reference on the 2-D / broadcast-free cases
        if (k === 0) {
          const al = a.detach().requiresGrad_(),
            bl = b.detach().requiresGrad_();
          const g = randT(want.shape, 500, dtype);
          matmul(al, bl).backward(g);
          expectClose(al.grad!, refMatmul(vals(g), want.shape, vals(b.transpose(0, 1)), [bs[1], bs[0]]).data, atol, rtol, 'dA');
          expectClose(bl.grad!, refMatmul(vals(a.transpose(0, 1)), [as[1], as[0]], vals(g), want.shape).data, atol, rtol, 'dB');
        }
      }
    });
  });

  it('an empty inner dim gives zeros of the output shape (torch.matmul), with zero gradients; empty M or N give empty outputs', () => {
    const dimArb = fc.integer({ min: 0, max: 3 });
    fc.assert(
      fc.property(dimArb, dimArb, fc.integer({ min: 0, max: 2 }), fc.boolean(), (M, N, K, batched) => {
        const lead = batched ? [2] : [];
        const a = randT([...lead, M, K], 1).requiresGrad_(),
          b = randT([K, N], 2).requiresGrad_();
        const y = matmul(a, b);
        expect(y.shape).toEqual([...lead, M, N]);
        if (K === 0) expect([...y.data()].every((v) => v === 0)).toBe(true);
        y.sum().backward();
        expect(a.grad!.shape).toEqual(a.shape);
        expect(b.grad!.shape).toEqual(b.shape);
        const bb = randT([...lead, K, N], 3);
        expect(matmul(a.detach(), bb).shape).toEqual([...lead, M, N]); // the batched (bmm) path
      }),
      { numRuns: 40 },
    );
  });

  it('rejects int32 operands', () => {
    const i = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'int32' },
    );
    expectThrows(() => matmul(i, i), DTypeError, ['int32']);
    expectThrows(() => matmul(i, randT([2, 2], 1)), DTypeError, ['int32']);
  });

  it('rejects an inner-dim mismatch, naming both sizes', () => {
    expectThrows(() => matmul(randT([2, 3], 1), randT([4, 5], 2)), ShapeError, ['[2, 3]', '[4, 5]', '3', '4']);
    expectThrows(() => matmul(randT([3], 1), randT([4], 2)), ShapeError, ['[3]', '[4]']);
    expectThrows(() => matmul(randT([2, 2, 3], 1), randT([3, 3, 2], 2)), ShapeError);
    expectThrows(() => matmul(randT([], 1), randT([3], 2)), ShapeError);
  });
});

// ---- conv2d ------------------------------------------------------------------------------------

interface ConvCase {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  kH: number;
  kW: number;
  groups: number;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  bias: boolean;
}

/** Random valid conv geometry, including non-square kernels, strides, dilation and groups. */
const convArb: fc.Arbitrary<ConvCase> = fc
  .record({
    N: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 3 }),
    cg: fc.integer({ min: 1, max: 2 }),
    og: fc.integer({ min: 1, max: 2 }),
    kH: fc.integer({ min: 1, max: 3 }),
    kW: fc.integer({ min: 1, max: 3 }),
    sH: fc.integer({ min: 1, max: 3 }),
    sW: fc.integer({ min: 1, max: 3 }),
    pH: fc.integer({ min: 0, max: 2 }),
    pW: fc.integer({ min: 0, max: 2 }),
    dH: fc.integer({ min: 1, max: 2 }),
    dW: fc.integer({ min: 1, max: 2 }),
    eH: fc.integer({ min: 0, max: 4 }),
    eW: fc.integer({ min: 0, max: 4 }),
    bias: fc.boolean(),
  })
  .map(({ N, groups, cg, og, kH, kW, sH, sW, pH, pW, dH, dW, eH, eW, bias }) => ({
    N,
    C: cg * groups,
    O: og * groups,
    kH,
    kW,
    groups,
    bias,
    H: Math.max(1, dH * (kH - 1) + 1 - 2 * pH) + eH,
    W: Math.max(1, dW * (kW - 1) + 1 - 2 * pW) + eW,
    stride: [sH, sW] as [number, number],
    padding: [pH, pW] as [number, number],
    dilation: [dH, dW] as [number, number],
  }));

/** F.conv2d by definition: y[n,o,i,j] = b[o] + Σ_{c in group, p, q} x[n, c, i·s − pad + p·d, ...] w[o, c', p, q]. */
function refConv(x: Float64Array, w: Float64Array, b: Float64Array | null, c: ConvCase): { data: Float64Array; OH: number; OW: number } {
  const { N, C, H, W, O, kH, kW, groups } = c,
    [sH, sW] = c.stride,
    [pH, pW] = c.padding,
    [dH, dW] = c.dilation;
  const OH = Math.floor((H + 2 * pH - dH * (kH - 1) - 1) / sH) + 1,
    OW = Math.floor((W + 2 * pW - dW * (kW - 1) - 1) / sW) + 1;
  const Cg = C / groups,
    Og = O / groups;
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = b ? b[o] : 0;
          const g = Math.floor(o / Og);
          for (let cc = 0; cc < Cg; cc++)
            for (let p = 0; p < kH; p++)
              for (let q = 0; q < kW; q++) {
                const h = i * sH - pH + p * dH,
                  v = j * sW - pW + q * dW;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                s += x[((n * C + g * Cg + cc) * H + h) * W + v] * w[((o * Cg + cc) * kH + p) * kW + q];
              }
          out[((n * O + o) * OH + i) * OW + j] = s;
        }
  return { data: out, OH, OW };
}

/** The adjoints of refConv: gx[n, c, h, w] and gw[o, c', p, q] from gy (N, O, OH, OW). */
function refConvBackward(x: Float64Array, w: Float64Array, gy: Float64Array, c: ConvCase): { gx: Float64Array; gw: Float64Array } {
  const { N, C, H, W, O, kH, kW, groups } = c,
    [sH, sW] = c.stride,
    [pH, pW] = c.padding,
    [dH, dW] = c.dilation;
  const OH = Math.floor((H + 2 * pH - dH * (kH - 1) - 1) / sH) + 1,
    OW = Math.floor((W + 2 * pW - dW * (kW - 1) - 1) / sW) + 1;
  const Cg = C / groups,
    Og = O / groups;
  const gx = new Float64Array(x.length),
    gw = new Float64Array(w.length);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          const gv = gy[((n * O + o) * OH + i) * OW + j],
            g = Math.floor(o / Og);
          for (let cc = 0; cc < Cg; cc++)
            for (let p = 0; p < kH; p++)
              for (let q = 0; q < kW; q++) {
                const h = i * sH - pH + p * dH,
                  v = j * sW - pW + q * dW;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                const xi = ((n * C + g * Cg + cc) * H + h) * W + v,
                  wi = ((o * Cg + cc) * kH + p) * kW + q;
                gx[xi] += gv * w[wi];
                gw[wi] += gv * x[xi];
              }
        }
  return { gx, gw };
}

const convInputs = (c: ConvCase, seed: number, dtype: 'float32' | 'float64' = 'float64') => ({
  x: randT([c.N, c.C, c.H, c.W], seed, dtype),
  w: randT([c.O, c.C / c.groups, c.kH, c.kW], seed + 1, dtype),
  b: c.bias ? randT([c.O], seed + 2, dtype) : null,
});
const convOpts = (c: ConvCase) => ({ stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });

describe('conv2d', () => {
  it('matches the naive reference (float64 and float32)', () => {
    fc.assert(
      fc.property(convArb, seedArb, (c, seed) => {
        const { x, w, b } = convInputs(c, seed);
        const want = refConv(vals(x), vals(w), b && vals(b), c);
        const y = conv2d(x, w, b, convOpts(c));
        expect(y.shape).toEqual([c.N, c.O, want.OH, want.OW]);
        expect(y.dtype).toBe('float64');
        expectClose(y, want.data, 1e-12, 1e-10);
        const y32 = conv2d(x.to('float32'), w.to('float32'), b && b.to('float32'), convOpts(c));
        expect(y32.dtype).toBe('float32');
        expectClose(y32, want.data, 1e-5, 1e-4);
      }),
      { numRuns: 40 },
    );
  });

  it('gradcheck for input, weight and bias in float64', () => {
    fc.assert(
      fc.property(convArb, seedArb, (c, seed) => {
        const { x, w, b } = convInputs(c, seed);
        const o = convOpts(c);
        if (b) expect(gradcheck((xx, ww, bb) => conv2d(xx, ww, bb, o), [x, w, b])).toBe(true);
        else expect(gradcheck((xx, ww) => conv2d(xx, ww, null, o), [x, w])).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('non-contiguous input and weight equal their dense copies (values and gradients)', () => {
    fc.assert(
      fc.property(convArb, seedArb, fc.constantFrom<0 | 1>(0, 1), (c, seed, kind) => {
        const { x, w, b } = convInputs(c, seed);
        const xv = nonContiguous(x, kind),
          wv = nonContiguous(w, kind === 0 ? 1 : 0);
        if (kind === 1) expect(xv.isContiguous()).toBe(false); // a permute with size-1 dims may be dense
        const o = convOpts(c);
        expectClose(conv2d(xv, wv, b, o), conv2d(x, w, b, o), 1e-12, 1e-12);
        expect(gradcheck((xx, ww) => conv2d(xx.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2), ww, null, o), [x, w])).toBe(true);
        // gradients reaching a strided leaf view are in its logical layout
        const xl = xv.detach().requiresGrad_(),
          wl = wv.detach().requiresGrad_();
        const gy = randT([c.N, c.O, ...conv2d(x, w, null, o).shape.slice(2)], seed + 5);
        conv2d(xl, wl, null, o).backward(gy);
        const xd = x.detach().requiresGrad_(),
          wd = w.detach().requiresGrad_();
        conv2d(xd, wd, null, o).backward(gy);
        expectClose(xl.grad!, xd.grad!, 1e-12, 1e-10);
        expectClose(wl.grad!, wd.grad!, 1e-12, 1e-10);
      }),
      { numRuns: 20 },
    );
  });

  it('larger shapes (blocked and multi-threaded GEMM paths): forward and both gradients vs the reference', () => {
    const cases: ConvCase[] = [
      { N: 2, C: 16, H: 20, W: 20, O: 32, kH: 3, kW: 3, groups: 1, stride: [1, 1], padding: [1, 1], dilation: [1, 1], bias: true },
      { N: 2, C: 16, H: 21, W: 19, O: 24, kH: 3, kW: 5, groups: 4, stride: [2, 1], padding: [1, 2], dilation: [1, 2], bias: false },
      { N: 1, C: 32, H: 24, W: 24, O: 64, kH: 1, kW: 1, groups: 1, stride: [1, 1], padding: [0, 0], dilation: [1, 1], bias: true },
      { N: 3, C: 8, H: 30, W: 30, O: 16, kH: 4, kW: 4, groups: 2, stride: [3, 3], padding: [2, 0], dilation: [2, 1], bias: true },
    ];
    cases.forEach((c, k) => {
      for (const dtype of ['float32', 'float64'] as const) {
        const { x, w, b } = convInputs(c, 100 + k, dtype);
        const xd = x.detach().requiresGrad_(),
          wd = w.detach().requiresGrad_(),
          bd = b && b.detach().requiresGrad_();
        const y = conv2d(xd, wd, bd, convOpts(c));
        const want = refConv(vals(x), vals(w), b && vals(b), c);
        const [atol, rtol] = dtype === 'float32' ? [1e-4, 1e-4] : [1e-11, 1e-10];
        expectClose(y, want.data, atol, rtol, `case ${k} ${dtype} forward`);
        const gy = randT(y.shape, 200 + k, dtype);
        y.backward(gy);
        const r = refConvBackward(vals(x), vals(w), vals(gy), c);
        expectClose(xd.grad!, r.gx, atol, rtol, `case ${k} ${dtype} grad x`);
        expectClose(wd.grad!, r.gw, atol * 10, rtol, `case ${k} ${dtype} grad w`);
        expect(xd.grad!.dtype).toBe(dtype);
      }
    });
  });

  it('hand example: 1x1x3x3 input, 2x2 ones kernel', () => {
    const x = tensor([
      [
        [
          [1, 2, 3],
          [4, 5, 6],
          [7, 8, 9],
        ],
      ],
    ]);
    const w = tensor([
      [
        [
          [1, 1],
          [1, 1],
        ],
      ],
    ]);
    expect(conv2d(x, w).toArray()).toEqual([
      [
        [
          [12, 16],
          [24, 28],
        ],
      ],
    ]);
    expect(conv2d(x, w, tensor([1]), { padding: 1, stride: 2 }).toArray()).toEqual([
      [
        [
          [2, 6],
          [12, 29],
        ],
      ],
    ]);
  });

  it('names the channel mismatch with the shapes and groups', () => {
    expectThrows(() => conv2d(randT([1, 3, 5, 5], 1), randT([8, 4, 3, 3], 2)), ShapeError, [
      'conv2d: input has 3 channels but weight [8, 4, 3, 3] expects 4 (groups = 1)',
    ]);
    expectThrows(() => conv2d(randT([1, 4, 5, 5], 1), randT([6, 4, 3, 3], 2), null, { groups: 2 }), ShapeError, ['4 channels', 'expects 8', 'groups = 2']);
    expectThrows(() => conv2d(randT([1, 4, 5, 5], 1), randT([3, 2, 3, 3], 2), null, { groups: 2 }), ShapeError, ['3 output channels', 'groups = 2']);
  });

  it('rejects wrong ranks, an oversize kernel, bad bias and int32 input', () => {
    expectThrows(() => conv2d(randT([3, 5, 5], 1), randT([2, 3, 3, 3], 2)), ShapeError, ['4-D', '[3, 5, 5]']);
    expectThrows(() => conv2d(randT([1, 3, 5, 5], 1), randT([2, 3, 3], 2)), ShapeError, ['weight', '[2, 3, 3]']);
    expectThrows(() => conv2d(randT([1, 1, 2, 2], 1), randT([1, 1, 5, 5], 2)), ShapeError, ['[1, 1, 2, 2]', '5x5']);
    expectThrows(() => conv2d(randT([1, 1, 2, 2], 1), randT([1, 1, 3, 3], 2), null, { dilation: 2, padding: 1 }), ShapeError, ['4x4', '5x5']);
    expectThrows(() => conv2d(randT([1, 1, 4, 4], 1), randT([2, 1, 3, 3], 2), randT([3], 3)), ShapeError, ['bias', '[2]', '[3]']);
    expectThrows(() => conv2d(randT([1, 1, 4, 4], 1, 'int32'), randT([1, 1, 3, 3], 2)), DTypeError, ['int32']);
    expectThrows(() => conv2d(randT([1, 1, 4, 4], 1, 'float32'), randT([1, 1, 3, 3], 2)), DTypeError);
  });
});

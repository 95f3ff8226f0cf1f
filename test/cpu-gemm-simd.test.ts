// Tests of the float32 WebAssembly SIMD path of the CPU GEMM (backend/cpu/wasm/): the emitter (LEB128, modules
// that WebAssembly.validate accepts, a hand-built module that runs), the module's kernels called directly, and
// bmm / conv2d through it: against bmmNaive within a float32 error bound, and bit for bit against a sequential
// float32 reference (the path's contract), on random sizes with edge tiles (M, N, K not multiples of the 4x8 tile,
// several K blocks, several row and column tiles), strided / transposed / broadcast / reversed / expanded views;
// 1 vs 2 threads bit-identical; and the JS fallback behind gemmOptions.simd. The bit-for-bit tests run with each
// kernel this engine has: mul+add, and fma where relaxed_madd fuses (cpu-gemm-fma.test.ts tests the switch itself).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lcgFloats } from './util/lcg.ts';
import fc from 'fast-check';
import { alloc, type FloatArray } from '../packages/tensor/src/backend/cpu/alloc.ts';
import * as cv from '../packages/tensor/src/backend/cpu/conv.ts';
import { directTuning } from '../packages/tensor/src/backend/cpu/conv-direct.ts';
import { bmm, bmmNaive, bmmPacked, gemmKernel, gemmOptions, gemmStats, setFma, simdAvailable, type MatView } from '../packages/tensor/src/backend/cpu/gemm.ts';
import { getNumThreads, setNumThreads, threadStats } from '../packages/tensor/src/backend/cpu/threads.ts';
import { Code, I32, Op, Simd, V128, sleb, uleb, wasmModule } from '../packages/tensor/src/backend/cpu/wasm/emit.ts';
import { relaxedMaddFuses } from '../packages/tensor/src/backend/cpu/wasm/fma.ts';
import { buildGemmSimdModule, gemmSimdModule } from '../packages/tensor/src/backend/cpu/wasm/gemm-simd.ts';
import { bmmF32Sequential } from './util/f32-ref.ts';
import { workerSplitsInFile } from './util/threads.ts';

// The 1-and-2-thread comparisons below are sized for splits from 1 M multiply-adds.
workerSplitsInFile(1 << 20);

// tsconfig's lib has no WebAssembly types: the few bits used here.
interface WasmInstance {
  exports: Record<string, unknown>;
}
const WA = (
  globalThis as unknown as {
    WebAssembly: {
      validate(b: Uint8Array): boolean;
      Module: new (b: Uint8Array) => object;
      Instance: new (m: object) => WasmInstance;
    };
  }
).WebAssembly;

const U = 2 ** -24; // unit roundoff of float32
/** The SIMD kernels this engine runs (the fma one where relaxed_madd fuses), each tested for its contract. */
const kernels = relaxedMaddFuses() ? (['mul+add', 'fma'] as const) : (['mul+add'] as const);
const fmaDefault = gemmOptions.fma;
/** Runs fn with the given kernel on, checking that it is the one that runs. */
function withKernel<T>(k: 'mul+add' | 'fma', fn: () => T): T {
  setFma(k === 'fma');
  try {
    expect(gemmKernel()).toBe(k);
    return fn();
  } finally {
    setFma(fmaDefault);
  }
}

type Layout = 'rowMajor' | 'transposed' | 'padded' | 'broadcast' | 'reversed' | 'expanded';
const layouts: Layout[] = ['rowMajor', 'transposed', 'padded', 'broadcast', 'reversed', 'expanded'];

/** A random [batch, R, C] float32 operand laid out as asked; values in [-1, 1), or small integers if `ints`. */
function makeView(layout: Layout, batch: number, R: number, C: number, seed: number, ints = false): MatView {
  const off = layout === 'padded' ? 3 : 0,
    ld = layout === 'padded' ? C + 2 : C;
  const perBatch = layout === 'expanded' ? R : layout === 'transposed' ? R * C : R * ld;
  const nb = layout === 'broadcast' ? 1 : batch;
  const data = new Float32Array(off + nb * perBatch);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = ints ? (s >>> 29) - 4 : s / 2 ** 31 - 1;
  }
  const batchStride = layout === 'broadcast' ? 0 : perBatch;
  if (layout === 'reversed') return { data, offset: data.length - 1, batchStride: -perBatch, rowStride: -C, colStride: -1 };
  if (layout === 'expanded') return { data, offset: 0, batchStride, rowStride: 1, colStride: 0 }; // each row one value
  return layout === 'transposed'
    ? { data, offset: off, batchStride, rowStride: 1, colStride: R }
    : { data, offset: off, batchStride, rowStride: ld, colStride: 1 };
}

const absView = (v: MatView): MatView => ({ ...v, data: v.data.map(Math.abs) });

/**
 * Float32 accumulation bound: |got - exact| <= 4 sqrt(K) u sum_k |a_k b_k|. For K <= 15 this is above the
 * worst case gamma_K = K u / (1 - K u) (Higham, Accuracy and Stability, 3.1); for larger K it is more than 12
 * standard deviations of the rounding-error model (errors grow like sqrt(K) on average, Higham & Mary 2019).
 * `absSum` is sum_k |a_k b_k| (+ |bias|) per element, computed like `want` from absolute values.
 */
function expectF32Close(got: FloatArray, want: FloatArray, absSum: FloatArray, K: number, what = ''): void {
  expect(got.length).toBe(want.length);
  const c = 4 * Math.sqrt(Math.max(K, 1)) * U;
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= c * absSum[i]!)) {
      throw new Error(`${what} element ${i}: got ${got[i]}, want ${want[i]} (bound ${c * absSum[i]!}, K ${K})`);
    }
  }
}

/** Index of the first element whose bits differ (-1 if none). */
function firstBitDiff(a: FloatArray, b: FloatArray): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return Math.floor(i / a.BYTES_PER_ELEMENT);
  return -1;
}

describe('wasm emitter', () => {
  it('encodes LEB128', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([127]);
    expect(uleb(128)).toEqual([0x80, 1]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(uleb(2 ** 32 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(sleb(0)).toEqual([0]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(() => uleb(-1)).toThrow(RangeError);
    expect(() => sleb(2 ** 31)).toThrow(RangeError);
  });

  it('builds GEMM modules that WebAssembly.validate accepts, for several register tiles', () => {
    for (const t of [
      { mPanels: 1, nVecs: 1 },
      { mPanels: 1, nVecs: 2 },
      { mPanels: 1, nVecs: 3 },
      { mPanels: 2, nVecs: 2 },
    ]) {
      expect(WA.validate(buildGemmSimdModule(t))).toBe(true);
    }
    expect(WA.validate(buildGemmSimdModule())).toBe(true);
    expect(simdAvailable).toBe(true); // Node 20's V8 has WebAssembly SIMD
    expect(gemmSimdModule).not.toBeNull();
  });

  it('emits a module whose integer and SIMD code runs', () => {
    // (func (export "madd") (param i32 i32) (result i32) (i32.add (i32.mul (local.get 0) (local.get 1)) (i32.const -7)))
    const madd = new Code().get(0).get(1).op(Op.i32_mul).i32(-7).op(Op.i32_add);
    // (func (export "axpy4") (param $p i32)  ;; mem[p+32 ..] = mem[p ..] * splat(mem[p+16]) + mem[p+32 ..]
    const axpy = new Code()
      .get(0)
      .get(0)
      .simd(Simd.v128_load, { align: 4, offset: 0 })
      .get(0)
      .simd(Simd.v128_load32_splat, { align: 2, offset: 16 })
      .simd(Simd.f32x4_mul)
      .get(0)
      .simd(Simd.v128_load, { align: 4, offset: 32 })
      .simd(Simd.f32x4_add)
      .simd(Simd.v128_store, { align: 4, offset: 32 });
    // (func (export "rev") (param $p i32)  ;; reverses the 4 floats at p with a shuffle
    const rev = new Code()
      .get(0)
      .get(0)
      .simd(Simd.v128_load, { align: 4, offset: 0 })
      .tee(1)
      .get(1)
      .shuffle32([3, 2, 1, 0])
      .simd(Simd.v128_store, { align: 4, offset: 0 });
    const bytes = wasmModule({
      funcs: [
        { params: [I32, I32], results: [I32], locals: [], body: madd, export: 'madd' },
        { params: [I32], results: [], locals: [], body: axpy, export: 'axpy4' },
        { params: [I32], results: [], locals: [V128], body: rev, export: 'rev' },
      ],
      memory: { minPages: 1, export: 'mem' },
    });
    expect(WA.validate(bytes)).toBe(true);
    const ex = new WA.Instance(new WA.Module(bytes)).exports as {
      madd(a: number, b: number): number;
      axpy4(p: number): void;
      rev(p: number): void;
      mem: { buffer: ArrayBuffer };
    };
    expect(ex.madd(6, 7)).toBe(35);
    const f = new Float32Array(ex.mem.buffer);
    f.set([1, 2, 3, 4, 0.5, 0, 0, 0, 10, 20, 30, 40], 4); // p = 16 bytes
    ex.axpy4(16);
    expect(Array.from(f.subarray(12, 16))).toEqual([10.5, 21, 31.5, 42]);
    ex.rev(16);
    expect(Array.from(f.subarray(4, 8))).toEqual([4, 3, 2, 1]);
  });

  it('runs copyRuns, panelize and gebp on packed data (integer values: exact)', () => {
    const ex = new WA.Instance(gemmSimdModule!).exports as {
      gebp(mP: number, nP: number, kB: number, a: number, pa: number, b: number, bk: number, bv: number, bj: number, c: number, ldc: number): void;
      panelize(src: number, ld: number, lines: number, dst: number): void;
      copyRuns(p: number, n: number): void;
      mem: { buffer: ArrayBuffer; grow(pages: number): number };
    };
    ex.mem.grow(16);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 37 }),
        fc.boolean(),
        fc.integer(),
        (mq, nq, kB, rows, seed) => {
          const mP = 4 * mq,
            nP = 4 * nq,
            ld = (kB + 3) & ~3;
          const f = new Float32Array(ex.mem.buffer),
            R = new Int32Array(ex.mem.buffer);
          let s = seed >>> 0;
          const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 29) - 4;
          const A = Array.from({ length: mP * kB }, rnd),
            B = Array.from({ length: kB * nP }, rnd); // row-major
          const aSrc = 0,
            bSrc = 4096,
            aL = 8192,
            aP = 12288,
            bS = 16384,
            bP = 20480,
            cAt = 24576,
            runs = 28672; // floats
          f.set(A, aSrc);
          f.set(B, bSrc);
          // A rows -> lines (one run per row), then panels
          for (let r = 0; r < mP; r++) R.set([aL + r * ld, aSrc + r * kB, kB, 1], runs + 4 * r);
          ex.copyRuns(runs * 4, mP);
          ex.panelize(aL * 4, ld, mP, aP * 4);
          let bAt: number, bk: number, bv: number, bj: number;
          if (rows) {
            // B rows as is (one run per k)
            for (let k = 0; k < kB; k++) R.set([bS + k * nP, bSrc + k * nP, nP, 1], runs + 4 * k);
            ex.copyRuns(runs * 4, kB);
            [bAt, bk, bv, bj] = [bS, 4 * nP, 16, 4];
          } else {
            // B columns -> lines (strided runs), then panels
            for (let c = 0; c < nP; c++) R.set([bS + c * ld, bSrc + c, kB, nP], runs + 4 * c);
            ex.copyRuns(runs * 4, nP);
            ex.panelize(bS * 4, ld, nP, bP * 4);
            [bAt, bk, bv, bj] = [bP, 16, 16 * ld, 4 * ld];
          }
          for (let i = 0; i < mP * nP; i++) f[cAt + i] = i % 5; // C accumulates onto what is there
          ex.gebp(mP, nP, kB, aP * 4, 16 * ld, bAt * 4, bk, bv, bj, cAt * 4, nP * 4);
          for (let i = 0; i < mP; i++)
            for (let j = 0; j < nP; j++) {
              let want = (i * nP + j) % 5;
              for (let k = 0; k < kB; k++) want += A[i * kB + k]! * B[k * nP + j]!;
              if (f[cAt + i * nP + j] !== want) throw new Error(`C[${i}][${j}] = ${f[cAt + i * nP + j]}, want ${want}`);
            }
        },
      ),
      { numRuns: 60 },
    );
  });
});

const dim = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 41 }), fc.integer({ min: 60, max: 140 }));
const caseArb = fc
  .record({
    batch: fc.integer({ min: 1, max: 3 }),
    M: dim,
    N: fc.oneof(dim, fc.integer({ min: 250, max: 300 })), // > 1 column tile
    K: fc.oneof(dim, fc.integer({ min: 321, max: 700 })), // more than one K block
    la: fc.constantFrom(...layouts),
    lb: fc.constantFrom(...layouts),
    seed: fc.integer(),
  })
  .filter(({ batch, M, N, K }) => batch * M * N * K <= 6e6);

describe('bmm on the float32 SIMD path', () => {
  const threads = getNumThreads();
  afterAll(() => {
    setNumThreads(threads);
    gemmOptions.simd = true;
  });

  it.each(kernels)('%s: matches the sequential float32 reference bit for bit, and bmmNaive within the float32 bound', (kernel) => {
    withKernel(kernel, () =>
      fc.assert(
        fc.property(caseArb, ({ batch, M, N, K, la, lb, seed }) => {
          const a = makeView(la, batch, M, K, seed),
            b = makeView(lb, batch, K, N, seed ^ 0x5bd1e995);
          const n = batch * M * N,
            got = new Float32Array(n).fill(NaN),
            gotP = new Float32Array(n).fill(NaN);
          const seq = new Float32Array(n),
            want = new Float32Array(n),
            absSum = new Float64Array(n);
          const before = gemmStats.simdJobs;
          bmmPacked(batch, M, N, K, a, b, gotP);
          expect(gemmStats.simdJobs).toBe(before + 1);
          bmm(batch, M, N, K, a, b, got); // bmmNaive below SMALL_MACS multiply-adds
          bmmF32Sequential(batch, M, N, K, a, b, seq, kernel === 'fma');
          bmmNaive(batch, M, N, K, a, b, want);
          bmmNaive(batch, M, N, K, absView(a), absView(b), absSum);
          expect(firstBitDiff(gotP, seq)).toBe(-1);
          expectF32Close(gotP, want, absSum, K, 'bmmPacked');
          expectF32Close(got, want, absSum, K, 'bmm');
        }),
        { numRuns: 40 },
      ),
    );
  });

  it('is exact on small integers, at sizes with edge tiles everywhere', () => {
    for (const [batch, M, N, K] of [
      [1, 5, 9, 3],
      [2, 65, 259, 641],
      [1, 131, 13, 333],
      [3, 7, 517, 1],
    ]) {
      const a = makeView('rowMajor', batch, M, K, 1, true),
        b = makeView('transposed', batch, K, N, 2, true);
      const got = new Float32Array(batch * M * N).fill(NaN),
        want = new Float32Array(batch * M * N);
      bmmPacked(batch, M, N, K, a, b, got);
      bmmNaive(batch, M, N, K, a, b, want);
      expect(firstBitDiff(got, want)).toBe(-1);
    }
  });

  it('handles K = 0 (zeros)', () => {
    const out = new Float32Array(30).fill(7);
    bmmPacked(2, 3, 5, 0, makeView('rowMajor', 2, 3, 0, 1), makeView('rowMajor', 2, 0, 5, 2), out);
    expect(Array.from(out).every((v) => v === 0)).toBe(true);
  });

  it.each(kernels)('%s: gives bit-identical results on 1 and 2 threads, shared or not', (kernel) =>
    withKernel(kernel, () => {
      const cases = [
        [2, 67, 130, 150, 'rowMajor', 'transposed'],
        [1, 129, 261, 333, 'broadcast', 'padded'],
        [3, 70, 90, 100, 'reversed', 'rowMajor'],
      ] as const;
      for (const [batch, M, N, K, la, lb] of cases) {
        // each >= 1e6 multiply-adds: split across threads
        const a = makeView(la, batch, M, K, 11),
          b = makeView(lb, batch, K, N, 12);
        const run = (T: number, view: (v: MatView) => MatView = (v) => v) => {
          setNumThreads(T);
          const out = new Float32Array(batch * M * N);
          bmm(batch, M, N, K, view(a), view(b), out);
          return out;
        };
        const jobs = gemmStats.simdJobs,
          one = run(1),
          before = threadStats().parallelJobs,
          two = run(2);
        const unshared = run(2, (v) => ({ ...v, data: new Float32Array(v.data) }));
        expect(threadStats().parallelJobs).toBe(before + 2);
        expect(gemmStats.simdJobs).toBe(jobs + 3);
        expect(firstBitDiff(two, one)).toBe(-1);
        expect(firstBitDiff(unshared, one)).toBe(-1);
        const seq = new Float32Array(batch * M * N);
        bmmF32Sequential(batch, M, N, K, a, b, seq, kernel === 'fma');
        expect(firstBitDiff(one, seq)).toBe(-1);
      }
    }),
  );

  it('leaves float64 and mixed dtypes on the JS path (exact float64 sums)', () => {
    const a32 = makeView('rowMajor', 2, 20, 30, 3),
      b32 = makeView('transposed', 2, 30, 25, 4);
    const to64 = (v: MatView): MatView => ({ ...v, data: Float64Array.from(v.data) });
    for (const [a, b, out] of [
      [to64(a32), to64(b32), new Float64Array(1000)],
      [a32, b32, new Float64Array(1000)],
      [to64(a32), b32, new Float32Array(1000)],
    ] as const) {
      const js = gemmStats.jsJobs,
        want = alloc(out instanceof Float64Array ? 'float64' : 'float32', 1000) as FloatArray;
      bmmPacked(2, 20, 25, 30, a, b, out);
      bmmNaive(2, 20, 25, 30, a, b, want);
      expect(gemmStats.jsJobs).toBe(js + 1);
      expect(firstBitDiff(out, want)).toBe(-1);
    }
  });

  it('falls back to the JS kernel (float64 sums, bit-identical to bmmNaive) when switched off', () => {
    gemmOptions.simd = false;
    try {
      fc.assert(
        fc.property(caseArb, ({ batch, M, N, K, la, lb, seed }) => {
          const a = makeView(la, batch, M, K, seed),
            b = makeView(lb, batch, K, N, ~seed);
          const got = new Float32Array(batch * M * N).fill(NaN),
            want = new Float32Array(batch * M * N);
          const js = gemmStats.jsJobs,
            simd = gemmStats.simdJobs;
          bmmPacked(batch, M, N, K, a, b, got);
          expect([gemmStats.jsJobs - js, gemmStats.simdJobs - simd]).toEqual([1, 0]);
          bmmNaive(batch, M, N, K, a, b, want);
          expect(firstBitDiff(got, want)).toBe(-1);
        }),
        { numRuns: 15 },
      );
    } finally {
      gemmOptions.simd = true;
    }
  });
});

describe('conv2d on the float32 SIMD path', () => {
  const threads = getNumThreads();
  beforeAll(() => {
    directTuning.mode = 'gemm'; // the stride-1 forwards would run the direct kernel (cpu-conv-direct.test.ts)
  });
  afterAll(() => {
    setNumThreads(threads);
    directTuning.mode = 'auto';
  });

  const rand = lcgFloats;
  const geom = (p: Omit<cv.Conv2dGeom, 'OH' | 'OW'>): cv.Conv2dGeom => ({
    ...p,
    OH: Math.floor((p.H + 2 * p.pH - p.dH * (p.kH - 1) - 1) / p.sH) + 1,
    OW: Math.floor((p.W + 2 * p.pW - p.dW * (p.kW - 1) - 1) / p.sW) + 1,
  });

  it('runs all three passes through the SIMD kernel within the float32 bound, on 1 and 2 threads alike', () => {
    for (const g of [
      geom({ N: 2, C: 16, H: 24, W: 24, O: 16, kH: 3, kW: 3, sH: 1, sW: 1, pH: 1, pW: 1, dH: 1, dW: 1, groups: 1 }),
      geom({ N: 3, C: 24, H: 41, W: 39, O: 24, kH: 3, kW: 3, sH: 2, sW: 2, pH: 1, pW: 0, dH: 2, dW: 1, groups: 3 }),
      geom({ N: 2, C: 6, H: 17, W: 70, O: 9, kH: 5, kW: 2, sH: 1, sW: 3, pH: 2, pW: 1, dH: 1, dW: 2, groups: 1 }),
    ]) {
      const Cg = g.C / g.groups,
        Og = g.O / g.groups;
      const nx = g.N * g.C * g.H * g.W,
        nw = g.O * Cg * g.kH * g.kW,
        ny = g.N * g.O * g.OH * g.OW;
      const x = rand(nx, 5),
        w = rand(nw, 6),
        gy = rand(ny, 7),
        bias = rand(g.O, 8);
      const abs = (a: Float32Array) => a.map(Math.abs);
      const passes = [
        {
          n: ny,
          K: Cg * g.kH * g.kW,
          fast: (o: Float32Array) => cv.conv2dForward(x, w, bias, g, o),
          naive: (o: FloatArray, e: (a: Float32Array) => Float32Array) => cv.conv2dForwardNaive(e(x), e(w), e(bias), g, o),
        },
        {
          n: nx,
          K: Og * g.kH * g.kW,
          fast: (o: Float32Array) => cv.conv2dBackwardInput(gy, w, g, o),
          naive: (o: FloatArray, e: (a: Float32Array) => Float32Array) => cv.conv2dBackwardInputNaive(e(gy), e(w), g, o),
        },
        {
          n: nw,
          K: g.N * g.OH * g.OW,
          fast: (o: Float32Array) => cv.conv2dBackwardWeight(x, gy, g, o),
          naive: (o: FloatArray, e: (a: Float32Array) => Float32Array) => cv.conv2dBackwardWeightNaive(e(x), e(gy), g, o),
        },
      ];
      for (const [i, p] of passes.entries()) {
        const outs = [1, 2].map((T) => {
          setNumThreads(T);
          const o = new Float32Array(p.n).fill(NaN),
            simd = gemmStats.simdJobs;
          p.fast(o);
          expect(gemmStats.simdJobs).toBeGreaterThan(simd);
          return o;
        });
        const want = new Float64Array(p.n),
          absSum = new Float64Array(p.n);
        p.naive(want, (a) => a);
        p.naive(absSum, abs);
        expect(firstBitDiff(outs[1]!, outs[0]!)).toBe(-1);
        // The strided input gradient sums float32 GEMM results over taps (col2im): up to K more roundings.
        expectF32Close(outs[0]!, want, absSum, p.K, `pass ${i}`);
      }
    }
  });
});

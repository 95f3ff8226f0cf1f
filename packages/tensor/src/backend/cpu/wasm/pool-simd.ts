// The interior of float32 max pooling (pool.ts's maxPool2d) as WebAssembly SIMD, emitted at load time
// with emit.ts: four adjacent output columns per f32x4, each lane folding its window's cells in
// row-major order with pool.ts's rule (take v when v > best or v is NaN), made branch-free with
// v128.bitselect on the values and on their flat indices. The same cells in the same order, no
// arithmetic on the values: the bits of the JS loop (NaN payloads, signed zeros), about five times
// faster on real activations, whose maxima are unpredictable branches for the JS loop.
// Runs on the calling thread, in one module instance whose memory holds the operands: x copied in,
// out and indices copied out. null where WebAssembly SIMD is unavailable.

import { Code, whileNot, I32, Op, Simd, V128, wasmModule, type FuncDef, instantiate } from './emit.ts';

// Opcodes emit.ts does not list (fixed-width SIMD, after SIMD_PREFIX).
// biome-ignore format: opcodes on one line
const V128_CONST = 0x0c, I32X4_SPLAT = 0x11, F32X4_REPLACE_LANE = 0x20, F32X4_NE = 0x42, V128_OR = 0x50, V128_BITSELECT = 0x52, I32X4_ADD = 0xae, I32X4_MUL = 0xb5;

/*
 * (func $maxS (param $x $out $idx $rows $P $H $W $OH $OW $kW $sW $pW $a $nq $last i32)
 *   for each plane p < P, output row oh < OH (window rows [lo, hi) = rows[2oh], rows[2oh+1]),
 *   group q < nq of output columns ow .. ow + 3, ow = min(a + 4q, last) (windows wholly inside the
 *   row; the last group may overlap the one before, recomputing the same values):
 *     best = -inf, arg = lo·W + w0 + lane·sW                 ;; w0 = ow·sW − pW
 *     for h in [lo, hi), j in [0, kW): v = x[p·H·W + h·W + w0 + j + lane·sW]
 *       take = v > best | v != v; best = take ? v : best; arg = take ? h·W + w0 + j + lane·sW : arg
 *     out, idx[(p·OH + oh)·OW + ow + lane] = best, arg
 * S is the column stride: maxS1 (one v128.load), maxS2 (two loads, even lanes; reads one float past
 * the last cell) and maxSn (four f32 loads, any stride).
 */
function maxKernel(stride: 1 | 2 | 0): FuncDef {
  // biome-ignore format: parameter and local indices
  const [x, out, idx, rows, P, H, W, OH, OW, kW, sW, pW, a, nq, last] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  // biome-ignore format: i32 locals
  const [p, oh, q, h, j, lo, hi, w0, o, plane, at, s4] = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26];
  const [best, arg, v, take, lanes] = [27, 28, 29, 30, 31]; // v128
  const c = new Code();
  const inc = (l: number) => c.get(l).i32(1).op(Op.i32_add).set(l);
  // lanes = (0, 1, 2, 3)·sW: each lane's column offset
  c.simd(V128_CONST).op(0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0);
  c.get(sW).simd(I32X4_SPLAT).simd(I32X4_MUL).set(lanes);
  c.get(sW).i32(2).op(Op.i32_shl).set(s4);
  c.i32(0).set(p);
  whileNot(
    c,
    () => c.get(p).get(P).op(Op.i32_ge_s),
    () => {
      c.get(p).get(H).op(Op.i32_mul).get(W).op(Op.i32_mul).set(plane);
      c.i32(0).set(oh);
      whileNot(
        c,
        () => c.get(oh).get(OH).op(Op.i32_ge_s),
        () => {
          c.get(rows).get(oh).i32(3).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 2, 0).set(lo);
          c.get(rows).get(oh).i32(3).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 2, 4).set(hi);
          c.i32(0).set(q);
          whileNot(
            c,
            () => c.get(q).get(nq).op(Op.i32_ge_s),
            () => {
              // ow = min(a + 4q, last) (in o for now); w0 = ow·sW − pW; o = (p·OH + oh)·OW + ow
              c.get(a).get(q).i32(2).op(Op.i32_shl).op(Op.i32_add).tee(o).get(last).get(o).get(last).op(Op.i32_lt_s).op(Op.select).set(o);
              c.get(o).get(sW).op(Op.i32_mul).get(pW).op(Op.i32_sub).set(w0);
              c.get(p).get(OH).op(Op.i32_mul).get(oh).op(Op.i32_add).get(OW).op(Op.i32_mul).get(o).op(Op.i32_add).set(o);
              c.f32(-Infinity).simd(Simd.f32x4_splat).set(best);
              c.get(lo).get(W).op(Op.i32_mul).get(w0).op(Op.i32_add).simd(I32X4_SPLAT).get(lanes).simd(I32X4_ADD).set(arg);
              c.get(lo).set(h);
              whileNot(
                c,
                () => c.get(h).get(hi).op(Op.i32_ge_s),
                () => {
                  c.i32(0).set(j);
                  whileNot(
                    c,
                    () => c.get(j).get(kW).op(Op.i32_ge_s),
                    () => {
                      // at = byte address of x[plane + h·W + w0 + j] (lane 0)
                      c.get(h).get(W).op(Op.i32_mul).get(w0).op(Op.i32_add).get(j).op(Op.i32_add).tee(at);
                      c.get(plane).op(Op.i32_add).i32(2).op(Op.i32_shl).get(x).op(Op.i32_add).set(at);
                      if (stride === 1) c.get(at).simd(Simd.v128_load, { align: 2, offset: 0 });
                      else if (stride === 2) {
                        c.get(at).simd(Simd.v128_load, { align: 2, offset: 0 }).get(at).simd(Simd.v128_load, { align: 2, offset: 16 });
                        c.shuffle32([0, 2, 4, 6]);
                      } else {
                        c.get(at).mem(Op.f32_load, 2).simd(Simd.f32x4_splat);
                        for (let lane = 1; lane < 4; lane++) {
                          c.get(at).get(s4).op(Op.i32_add).tee(at).mem(Op.f32_load, 2).simd(F32X4_REPLACE_LANE).op(lane);
                        }
                      }
                      c.tee(v).get(best).simd(Simd.f32x4_gt).get(v).get(v).simd(F32X4_NE).simd(V128_OR).set(take);
                      c.get(v).get(best).get(take).simd(V128_BITSELECT).set(best);
                      c.get(h).get(W).op(Op.i32_mul).get(w0).op(Op.i32_add).get(j).op(Op.i32_add).simd(I32X4_SPLAT).get(lanes).simd(I32X4_ADD);
                      c.get(arg).get(take).simd(V128_BITSELECT).set(arg);
                      inc(j);
                    },
                  );
                  inc(h);
                },
              );
              c.get(out).get(o).i32(2).op(Op.i32_shl).op(Op.i32_add).get(best).simd(Simd.v128_store, { align: 2, offset: 0 });
              c.get(idx).get(o).i32(2).op(Op.i32_shl).op(Op.i32_add).get(arg).simd(Simd.v128_store, { align: 2, offset: 0 });
              inc(q);
            },
          );
          inc(oh);
        },
      );
      inc(p);
    },
  );
  return {
    params: Array<typeof I32>(15).fill(I32),
    results: [],
    locals: [...Array<typeof I32>(12).fill(I32), ...Array<typeof V128>(5).fill(V128)],
    body: c,
    export: stride === 1 ? 'maxS1' : stride === 2 ? 'maxS2' : 'maxSn',
  };
}

/** The module's bytes: maxS1, maxS2, maxSn; memory exported as "mem". */
export function buildPoolSimdModule(): Uint8Array {
  return wasmModule({ funcs: [maxKernel(1), maxKernel(2), maxKernel(0)], memory: { minPages: 1, export: 'mem' } });
}

// ============ running (calling thread) ============

type MaxFn = (
  x: number,
  out: number,
  idx: number,
  rows: number,
  P: number,
  H: number,
  W: number,
  OH: number,
  OW: number,
  kW: number,
  sW: number,
  pW: number,
  a: number,
  nq: number,
  last: number,
) => void;
interface PoolInstance {
  maxS1: MaxFn;
  maxS2: MaxFn;
  maxSn: MaxFn;
  mem: { buffer: ArrayBuffer; grow(pages: number): number };
}

const instance = instantiate<PoolInstance>(buildPoolSimdModule); // null without WebAssembly SIMD

/** Switch, for tests: simd = false runs pool.ts's JS loops everywhere. */
export const poolOptions = { simd: true };

/** Input elements above which max pooling stays in JS: module memory never shrinks (at most ~12·MAX_N bytes are kept). */
const MAX_N = 1 << 22;

/** Whether the interior of a float32 max pool over n input elements runs here. */
export function poolSimdOn(n: number): boolean {
  return instance !== null && poolOptions.simd && n <= MAX_N;
}

const up4 = (n: number) => (n + 3) & ~3;

/**
 * out, indices at the interior output columns [a, b) (b − a ≥ 4: windows wholly inside the row) of
 * every plane and output row of a float32 max pool (geometry as pool.ts's: N·C planes of H×W, window
 * rows rowsLo/rowsHi per output row). Writes all of out and indices: the other columns hold
 * garbage, for the caller to compute afterwards.
 */
export function maxPoolInteriorF32(
  x: Float32Array,
  g: { N: number; C: number; H: number; W: number; kW: number; sW: number; pW: number; OH: number; OW: number },
  rowsLo: Int32Array,
  rowsHi: Int32Array,
  a: number,
  b: number,
  out: Float32Array,
  indices: Int32Array,
): void {
  const n = x.length,
    m = out.length;
  const oAt = up4(n) + 4, // floats (and int32s): x, 4 floats of slack (maxS2 reads one past the last cell), out, indices, rows
    iAt = oAt + up4(m),
    rAt = iAt + up4(m);
  const mem = instance!.mem;
  const bytes = 4 * (rAt + 2 * g.OH);
  if (mem.buffer.byteLength < bytes) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / 65536));
  const f = new Float32Array(mem.buffer),
    i32 = new Int32Array(mem.buffer);
  f.set(x);
  for (let oh = 0; oh < g.OH; oh++) {
    i32[rAt + 2 * oh] = rowsLo[oh]!;
    i32[rAt + 2 * oh + 1] = rowsHi[oh]!;
  }
  const run = g.sW === 1 ? instance!.maxS1 : g.sW === 2 ? instance!.maxS2 : instance!.maxSn;
  run(0, 4 * oAt, 4 * iAt, 4 * rAt, g.N * g.C, g.H, g.W, g.OH, g.OW, g.kW, g.sW, g.pW, a, Math.ceil((b - a) / 4), b - 4);
  out.set(f.subarray(oAt, oAt + m));
  indices.set(i32.subarray(iAt, iAt + m));
}

// 2-D resizing on gpu.js, forward and backward, matching backend/cpu/resize.ts (PyTorch
// F.interpolate to a size: 'bilinear' with align_corners true or false, and 'nearest'). Inputs are
// dense NCHW; P = N·C planes, H×W in, OH×OW out. Every kernel is gather-style: one thread per
// output element. Along an axis of `size` inputs and `O` outputs:
//
//   bilinear source of output d: real = d·(size−1)/(O−1)               (align_corners; 0 when O = 1)
//                                real = max(((2d+1)·size − O) / (2·O), 0) (pixel centres)
//     computed as an exact integer quotient and remainder: i0 = ⌊real⌋, frac = remainder / denominator,
//     i1 = i0 + 1 (i0 at the last index), weights 1 − frac on i0 and frac on i1.
//   resize (bilinear)   y[p, oh, ow] = (1−fy)·((1−fx)·x[y0, x0] + fx·x[y0, x1]) + fy·((1−fx)·x[y1, x0] + fx·x[y1, x1])
//   resizeBackward      gx[p, h, w]  = Σ_{oh, ow reading (h, w)} wy(oh, h) · wx(ow, w) · gy[p, oh, ow],
//                       wy(oh, h) = [y0(oh) = h]·(1−fy) + [y1(oh) = h]·fy (wx alike)
//     the output indices reading input h are contiguous and start at or after
//     L(h) = 0 for h ≤ 1, else the first d with i0(d) ≥ h − 1:
//       ⌈(h−1)·(O−1)/(size−1)⌉ (align_corners), ⌈((2h−1)·O − size)/(2·size)⌉ (pixel centres);
//     the loop length (the most outputs from L(h) to the last one reading h) is found on the host.
//   nearest source of output d: min(⌊fround(d · fround(size/O))⌋, size − 1) (float32, as PyTorch):
//     computed on the host (the float32 rounding is not reproducible in every gpu.js mode) and
//     uploaded as a table; the backward uploads start[h] = the first d whose source is ≥ h, so the
//     outputs reading h are [start[h], start[h+1]).
//   resize (nearest)    y[p, oh, ow] = x[p, sy[oh], sx[ow]]
//   resizeBackward      gx[p, h, w]  = Σ_{oh ∈ [startH[h], startH[h+1]), ow ∈ [startW[w], startW[w+1])} gy[p, oh, ow]
//
// As codegen.ts requires, locals hold only small values (source indices, remainders, loop
// counters) and are read as Integers with `(v | 0)`; the numerators (which may pass 2^24) and
// every flat offset are Integer expressions, never stored.

import { linearSource, nearestSource } from '../cpu/resize.ts';
import { InternalError } from '../../errors.ts';
import type { AnyStorage } from '../../storage.ts';
import { storageDType } from '../../storage.ts';
import { asGpu, launch, upload, type GpuBuffer } from './runtime.ts';
import { asInt, Src, THREAD } from './codegen.ts';

const I = asInt; // a small float local read back as an Integer (codegen.ts)

type Mode = 'bilinear' | 'nearest';

// ---- bilinear ----------------------------------------------------------------------------------

/**
 * Declares `${v}0`, `${v}1` (source index locals) and `${v}f` (the Float weight of `${v}1`) for
 * the Integer output index `d` along an axis of `size` inputs and `O` outputs.
 */
function linearAxis(s: Src, v: string, d: string, size: number, O: number, ac: boolean): void {
  if (ac && O === 1) {
    s.line(`const ${v}0 = 0;`).line(`const ${v}f = 0.0;`);
  } else {
    const den = ac ? O - 1 : 2 * O;
    s.divmod(ac ? `${d} * ${s.int(size - 1)}` : `(${d} * 2 + 1) * ${s.int(size)} - ${s.int(O)}`, den, `${v}0`, `${v}r`);
    // pixel centres: a negative numerator is the clamp at real = 0
    if (!ac) s.line(`if (${v}0 < 0) { ${v}0 = 0; ${v}r = 0; }`);
    s.line(`const ${v}f = ${v}r / ${s.float(den)};`);
  }
  s.line(`let ${v}1 = ${v}0;`).line(`if (${v}0 < ${s.int(size - 1)}) { ${v}1 = ${v}0 + 1; }`);
}

/** L(i) on the host: the first output index that can read input index i (see the header). */
function lowerHost(i: number, size: number, O: number, ac: boolean): number {
  if (i < 2) return 0;
  if (ac) return O === 1 || size === 1 ? 0 : Math.floor(((i - 1) * (O - 1) + size - 2) / (size - 1));
  return Math.floor(((2 * i - 1) * O + size - 1) / (2 * size));
}

/** Declares the local `${v}` = L(i) for the Integer input index `i` (see the header). */
function lower(s: Src, v: string, i: string, size: number, O: number, ac: boolean): void {
  if (ac && (O === 1 || size === 1)) {
    s.line(`const ${v} = 0;`);
    return;
  }
  const num = ac ? `(${i} - 1) * ${s.int(O - 1)} + ${s.int(size - 2)}` : `(${i} * 2 - 1) * ${s.int(O)} + ${s.int(size - 1)}`;
  s.divmod(num, ac ? size - 1 : 2 * size, v, `${v}r`);
  s.line(`if (${i} < 2) { ${v} = 0; }`);
}

/**
 * The bilinear backward loop length along an axis: the most output indices from L(i) to the last
 * one reading input index i. The source indices are backend/cpu/resize.ts's.
 */
function linearSpan(size: number, O: number, ac: boolean): number {
  const first = new Array<number>(size).fill(-1),
    last = new Array<number>(size).fill(-1);
  const touch = (i: number, d: number): void => {
    if (first[i] < 0) first[i] = d;
    last[i] = d;
  };
  for (let d = 0; d < O; d++) {
    const lo = Math.min(Math.floor(linearSource(d, size, O, ac)), size - 1);
    touch(lo, d);
    if (lo < size - 1) touch(lo + 1, d);
  }
  let span = 1;
  for (let i = 0; i < size; i++) {
    if (first[i] < 0) continue;
    const L = lowerHost(i, size, O, ac);
    if (first[i] < L) throw new InternalError(`gpu resizeBackward: output ${first[i]} reads input ${i} below its bound ${L} (size ${size} → ${O})`);
    span = Math.max(span, last[i] - L + 1);
  }
  return span;
}

function bilinear(x: AnyStorage, OH: number, OW: number, ac: boolean): GpuBuffer {
  const [N, C, H, W] = x.shape;
  const s = new Src();
  const [p, oh, ow] = s.unravel(THREAD, [N * C, OH, OW]);
  linearAxis(s, 'sy', oh, H, OH, ac);
  linearAxis(s, 'sx', ow, W, OW, ac);
  const at = (row: string, col: string): string => `x0[${p} * ${s.int(H * W)} + ${I(row)} * ${s.int(W)} + ${I(col)}]`;
  s.line('const a0 = 1.0 - sxf;');
  s.line(`const top = a0 * ${at('sy0', 'sx0')} + sxf * ${at('sy0', 'sx1')};`);
  s.line(`const bot = a0 * ${at('sy1', 'sx0')} + sxf * ${at('sy1', 'sx1')};`);
  return launch(s.spec(`resize-bilinear-${ac}`, N * C * OH * OW, ['x0'], '(1.0 - syf) * top + syf * bot'), [asGpu(x)], storageDType(x));
}

function bilinearBackward(gy: AnyStorage, H: number, W: number, ac: boolean): GpuBuffer {
  const [N, C, OH, OW] = gy.shape;
  const s = new Src();
  const [p, h, w] = s.unravel(THREAD, [N * C, H, W]);
  lower(s, 'ohL', h, H, OH, ac);
  lower(s, 'owL', w, W, OW, ac);
  s.line('let acc = 0.0;');
  s.line(`for (let jh = 0; jh < ${s.bound(linearSpan(H, OH, ac))}; jh++) {`);
  s.line(`const oh = ${I('ohL')} + ${I('jh')};`);
  s.line(`if (oh < ${s.int(OH)}) {`);
  linearAxis(s, 'sy', I('oh'), H, OH, ac);
  // the membership test guards the read: a non-finite gy must not reach pixels it does not touch
  s.line(`if (${I('sy0')} === ${h} || ${I('sy1')} === ${h}) {`);
  s.line('let wy = 0.0;');
  s.line(`if (${I('sy0')} === ${h}) { wy += 1.0 - syf; }`);
  s.line(`if (${I('sy1')} === ${h}) { wy += syf; }`);
  s.line(`for (let jw = 0; jw < ${s.bound(linearSpan(W, OW, ac))}; jw++) {`);
  s.line(`const ow = ${I('owL')} + ${I('jw')};`);
  s.line(`if (ow < ${s.int(OW)}) {`);
  linearAxis(s, 'sx', I('ow'), W, OW, ac);
  s.line(`if (${I('sx0')} === ${w} || ${I('sx1')} === ${w}) {`);
  s.line('let wx = 0.0;');
  s.line(`if (${I('sx0')} === ${w}) { wx += 1.0 - sxf; }`);
  s.line(`if (${I('sx1')} === ${w}) { wx += sxf; }`);
  s.line(`acc += wx * (wy * x0[${p} * ${s.int(OH * OW)} + ${I('oh')} * ${s.int(OW)} + ${I('ow')}]);`);
  s.line('}').line('}').line('}').line('}').line('}').line('}');
  return launch(s.spec(`resize-bilinear-grad-${ac}`, N * C * H * W, ['x0'], 'acc'), [asGpu(gy)], storageDType(gy));
}

// ---- nearest -----------------------------------------------------------------------------------

/** The nearest source index of every output index along an axis (backend/cpu/resize.ts's rule). */
function nearestTable(size: number, O: number): Int32Array {
  const t = new Int32Array(O);
  for (let d = 0; d < O; d++) t[d] = nearestSource(d, size, O);
  return t;
}

/** start[i] = the first output index whose source is ≥ i, for i in [0, size]; and the longest run. */
function nearestStarts(size: number, O: number): { start: Int32Array; span: number } {
  const src = nearestTable(size, O);
  const start = new Int32Array(size + 1);
  let d = 0;
  for (let i = 0; i <= size; i++) {
    while (d < O && src[d] < i) d++;
    start[i] = d;
  }
  let span = 1;
  for (let i = 0; i < size; i++) span = Math.max(span, start[i + 1] - start[i]);
  return { start, span };
}

function nearest(x: AnyStorage, OH: number, OW: number): GpuBuffer {
  const [N, C, H, W] = x.shape;
  const s = new Src();
  const [p, oh, ow] = s.unravel(THREAD, [N * C, OH, OW]);
  s.line(`const hy = x1[${oh}];`);
  s.line(`const wx = x2[${ow}];`);
  const ret = `x0[${p} * ${s.int(H * W)} + ${I('hy')} * ${s.int(W)} + ${I('wx')}]`;
  const tables = [upload(nearestTable(H, OH)), upload(nearestTable(W, OW))];
  return launch(s.spec('resize-nearest', N * C * OH * OW, ['x0', 'x1', 'x2'], ret), [asGpu(x), ...tables], storageDType(x));
}

function nearestBackward(gy: AnyStorage, H: number, W: number): GpuBuffer {
  const [N, C, OH, OW] = gy.shape;
  const rows = nearestStarts(H, OH),
    cols = nearestStarts(W, OW);
  const s = new Src();
  const [p, h, w] = s.unravel(THREAD, [N * C, H, W]);
  s.line(`const h0 = x1[${h}];`).line(`const h1 = x1[${h} + 1];`);
  s.line(`const w0 = x2[${w}];`).line(`const w1 = x2[${w} + 1];`);
  s.line('let acc = 0.0;');
  s.line(`for (let jh = 0; jh < ${s.bound(rows.span)}; jh++) {`);
  s.line(`const oh = ${I('h0')} + ${I('jh')};`);
  s.line('if (oh < h1) {');
  s.line(`for (let jw = 0; jw < ${s.bound(cols.span)}; jw++) {`);
  s.line(`const ow = ${I('w0')} + ${I('jw')};`);
  s.line('if (ow < w1) {');
  s.line(`acc += x0[${p} * ${s.int(OH * OW)} + ${I('oh')} * ${s.int(OW)} + ${I('ow')}];`);
  s.line('}').line('}').line('}').line('}');
  const tables = [upload(rows.start), upload(cols.start)];
  return launch(s.spec('resize-nearest-grad', N * C * H * W, ['x0', 'x1', 'x2'], 'acc'), [asGpu(gy), ...tables], storageDType(gy));
}

// ---- entry points ------------------------------------------------------------------------------

/** out: (N, C, OH, OW) ← x: (N, C, H, W) dense. */
export function resize(x: AnyStorage, OH: number, OW: number, mode: Mode, alignCorners: boolean): GpuBuffer {
  return mode === 'bilinear' ? bilinear(x, OH, OW, alignCorners) : nearest(x, OH, OW);
}

/** gx: (N, C, H, W) ← gy: (N, C, OH, OW) dense. */
export function resizeBackward(gy: AnyStorage, H: number, W: number, mode: Mode, alignCorners: boolean): GpuBuffer {
  return mode === 'bilinear' ? bilinearBackward(gy, H, W, alignCorners) : nearestBackward(gy, H, W);
}

// 2-D pooling on gpu.js, forward and backward, matching backend/cpu/pool.ts. Inputs are dense
// NCHW; P = N·C planes of H×W in, OH×OW out. Every kernel is gather-style: one thread per output
// element, loops over the few cells (forward) or windows (backward) that touch it, geometry baked
// in as Integer constants. A window is clipped to the input: rows [max(hs, 0), min(hs + kH, H))
// with hs = oh·sH − pH (columns alike), so a ceil-mode geometry (a last window hanging over the
// edge) works unchanged.
//
//   maxPool2d            y[p, oh, ow]   = max over the clipped window (a NaN wins, the last one in row-major order)
//                        idx[p, oh, ow] = h·W + w of that max (the first of equal maxima)
//   maxPool2dBackward    gx[p, h, w]    = Σ_{(oh, ow) whose window holds (h, w), idx[p, oh, ow] = h·W + w} gy[p, oh, ow]
//   avgPool2d            y[p, oh, ow]   = Σ_window x / d(oh, ow),  d = kH·kW (countIncludePad) or the clipped window's area
//   avgPool2dBackward    gx[p, h, w]    = Σ_{(oh, ow) whose window holds (h, w)} gy[p, oh, ow] / d(oh, ow)
//   adaptiveAvgPool2d    y[p, oh, ow]   = mean of x over rows [⌊oh·H/OH⌋, ⌈(oh+1)·H/OH⌉) × the columns alike
//   adaptiveAvgPool2dBackward gx[p, h, w] = Σ_{bins holding (h, w)} gy[p, oh, ow] / |bin|
//
// Backward windows along an axis: the window of oh holds row h iff oh·sH − pH ≤ h < oh·sH − pH + kH,
// i.e. ⌊(h + pH − kH)/sH⌋ + 1 ≤ oh ≤ ⌊(h + pH)/sH⌋: at most ⌈kH/sH⌉ windows. Adaptive bins holding
// h start at oh = ⌊h·OH/H⌋ and are contiguous; their largest count is found on the host.
//
// As codegen.ts requires, locals hold only small values (coordinates, window bounds, loop
// counters, the in-plane argmax h·W + w, all below 2^24) and are read as Integers with `(v | 0)`;
// every flat offset is written out as one Integer expression at its read.

import type { Pool2dGeom } from '../cpu/pool.ts';
import type { AnyStorage } from '../../storage.ts';
import { storageDType } from '../../storage.ts';
import { asGpu, launch, type GpuBuffer } from './runtime.ts';
import { asInt, Src, THREAD } from './codegen.ts';

const I = asInt; // a small float local read back as an Integer (codegen.ts)

/** Declares `${v}0` = max(start, 0) and `${v}1` = min(start + k, size): the clipped window of `start`. */
function clip(s: Src, v: string, start: string, k: number, size: number): void {
  s.line(`let ${v}0 = ${start};`).line(`if (${v}0 < 0) { ${v}0 = 0; }`);
  s.line(`let ${v}1 = ${start} + ${s.int(k)};`).line(`if (${v}1 > ${s.int(size)}) { ${v}1 = ${s.int(size)}; }`);
}

/**
 * Declares `${v}Lo`, `${v}Hi`: the first and last output index whose window (start o·st − p,
 * length k) holds the Integer input index `i` along an axis of `O` outputs (Src.div: exact even
 * where the GPU's float division is not).
 */
function windowRange(s: Src, v: string, i: string, k: number, st: number, p: number, O: number): void {
  s.line(`let ${v}Lo = ${s.div(`${i} + ${s.int(p - k)}`, st)} + 1;`).line(`if (${v}Lo < 0) { ${v}Lo = 0; }`);
  s.line(`let ${v}Hi = ${s.div(`${i} + ${s.int(p)}`, st)};`).line(`if (${v}Hi > ${s.int(O - 1)}) { ${v}Hi = ${s.int(O - 1)}; }`);
}

/** Loops over the cells (h, w) of the window at (hs, ws) that lie inside the input; `body` emits what each does. */
function forWindowCells(s: Src, g: Pool2dGeom, body: () => void): void {
  s.line(`for (let kh = 0; kh < ${s.bound(g.kH)}; kh++) {`);
  s.line(`const h = ${I('hs')} + ${I('kh')};`);
  s.line(`if (h >= 0 && h < ${s.int(g.H)}) {`);
  s.line(`for (let kw = 0; kw < ${s.bound(g.kW)}; kw++) {`);
  s.line(`const w = ${I('ws')} + ${I('kw')};`);
  s.line(`if (w >= 0 && w < ${s.int(g.W)}) {`);
  body();
  s.line('}').line('}').line('}').line('}');
}

/** The max-pool kernel: its values, or (`indices`) the flat h·W + w of each max. */
function maxPoolKernel(x: AnyStorage, g: Pool2dGeom, indices: boolean): GpuBuffer {
  const { N, C, H, W, sH, sW, pH, pW, OH, OW } = g;
  const s = new Src();
  const [p, oh, ow] = s.unravel(THREAD, [N * C, OH, OW]);
  const base = `${p} * ${s.int(H * W)}`;
  s.line(`const hs = ${oh} * ${s.int(sH)} - ${s.int(pH)};`);
  s.line(`const ws = ${ow} * ${s.int(sW)} - ${s.int(pW)};`);
  s.line('let h0 = hs;').line('if (h0 < 0) { h0 = 0; }');
  s.line('let w0 = ws;').line('if (w0 < 0) { w0 = 0; }');
  // start from the window's first cell: the CPU's -inf start gives the same value and index
  // (a -inf or NaN first cell included), and the loop below revisits it
  s.line(`let arg = ${I('h0')} * ${s.int(W)} + ${I('w0')};`);
  s.line(`let best = x0[${base} + ${I('arg')}];`);
  forWindowCells(s, g, () => {
    s.line(`const at = ${I('h')} * ${s.int(W)} + ${I('w')};`);
    s.line(`const v = x0[${base} + ${I('at')}];`);
    s.line('if (v > best || v !== v) { best = v; arg = at; }');
  });
  const name = indices ? 'maxPool2d-indices' : 'maxPool2d';
  return launch(s.spec(name, N * C * OH * OW, ['x0'], indices ? 'arg' : 'best'), [asGpu(x)], indices ? 'int32' : storageDType(x));
}

/** values, indices: (N, C, OH, OW) ← x: (N, C, H, W) dense. */
export function maxPool2d(x: AnyStorage, g: Pool2dGeom): { values: GpuBuffer; indices: GpuBuffer } {
  return { values: maxPoolKernel(x, g, false), indices: maxPoolKernel(x, g, true) };
}

/** gx: (N, C, H, W) ← gy, indices: (N, C, OH, OW) dense. */
export function maxPool2dBackward(gy: AnyStorage, indices: AnyStorage, g: Pool2dGeom): GpuBuffer {
  const { N, C, H, W, kH, kW, sH, sW, pH, pW, OH, OW } = g;
  const s = new Src();
  const [p, h, w] = s.unravel(THREAD, [N * C, H, W]);
  s.line(`const me = ${h} * ${s.int(W)} + ${w};`);
  windowRange(s, 'oh', h, kH, sH, pH, OH);
  windowRange(s, 'ow', w, kW, sW, pW, OW);
  s.line('let acc = 0.0;');
  s.line(`for (let jh = 0; jh < ${s.bound(Math.ceil(kH / sH))}; jh++) {`);
  s.line(`const oh = ${I('ohLo')} + ${I('jh')};`);
  s.line('if (oh <= ohHi) {');
  s.line(`for (let jw = 0; jw < ${s.bound(Math.ceil(kW / sW))}; jw++) {`);
  s.line(`const ow = ${I('owLo')} + ${I('jw')};`);
  s.line('if (ow <= owHi) {');
  const at = `${p} * ${s.int(OH * OW)} + ${I('oh')} * ${s.int(OW)} + ${I('ow')}`;
  s.line(`if (x1[${at}] === me) { acc += x0[${at}]; }`);
  s.line('}').line('}').line('}').line('}');
  return launch(s.spec('maxPool2d-grad', N * C * H * W, ['x0', 'x1'], 'acc'), [asGpu(gy), asGpu(indices)], storageDType(gy));
}

/** out: (N, C, OH, OW) ← x: (N, C, H, W) dense. */
export function avgPool2d(x: AnyStorage, g: Pool2dGeom, countIncludePad: boolean): GpuBuffer {
  const { N, C, H, W, kH, kW, sH, sW, pH, pW, OH, OW } = g;
  const s = new Src();
  const [p, oh, ow] = s.unravel(THREAD, [N * C, OH, OW]);
  s.line(`const hs = ${oh} * ${s.int(sH)} - ${s.int(pH)};`);
  s.line(`const ws = ${ow} * ${s.int(sW)} - ${s.int(pW)};`);
  s.line('let acc = 0.0;');
  forWindowCells(s, g, () => s.line(`acc += x0[${p} * ${s.int(H * W)} + ${I('h')} * ${s.int(W)} + ${I('w')}];`));
  if (countIncludePad) s.line(`const d = ${s.float(kH * kW)};`);
  else {
    clip(s, 'h', 'hs', kH, H);
    clip(s, 'w', 'ws', kW, W);
    s.line('const d = (h1 - h0) * (w1 - w0);');
  }
  return launch(s.spec(`avgPool2d-${countIncludePad}`, N * C * OH * OW, ['x0'], 'acc / d'), [asGpu(x)], storageDType(x));
}

/** gx: (N, C, H, W) ← gy: (N, C, OH, OW) dense. */
export function avgPool2dBackward(gy: AnyStorage, g: Pool2dGeom, countIncludePad: boolean): GpuBuffer {
  const { N, C, H, W, kH, kW, sH, sW, pH, pW, OH, OW } = g;
  const s = new Src();
  const [p, h, w] = s.unravel(THREAD, [N * C, H, W]);
  windowRange(s, 'oh', h, kH, sH, pH, OH);
  windowRange(s, 'ow', w, kW, sW, pW, OW);
  s.line('let acc = 0.0;');
  s.line(`for (let jh = 0; jh < ${s.bound(Math.ceil(kH / sH))}; jh++) {`);
  s.line(`const oh = ${I('ohLo')} + ${I('jh')};`);
  s.line('if (oh <= ohHi) {');
  if (!countIncludePad) clip(s, 'h', `${I('oh')} * ${s.int(sH)} - ${s.int(pH)}`, kH, H);
  s.line(`for (let jw = 0; jw < ${s.bound(Math.ceil(kW / sW))}; jw++) {`);
  s.line(`const ow = ${I('owLo')} + ${I('jw')};`);
  s.line('if (ow <= owHi) {');
  if (!countIncludePad) {
    clip(s, 'w', `${I('ow')} * ${s.int(sW)} - ${s.int(pW)}`, kW, W);
    s.line('const d = (h1 - h0) * (w1 - w0);');
  } else s.line(`const d = ${s.float(kH * kW)};`);
  s.line(`acc += x0[${p} * ${s.int(OH * OW)} + ${I('oh')} * ${s.int(OW)} + ${I('ow')}] / d;`);
  s.line('}').line('}').line('}').line('}');
  return launch(s.spec(`avgPool2d-grad-${countIncludePad}`, N * C * H * W, ['x0'], 'acc'), [asGpu(gy)], storageDType(gy));
}

/** Declares `${v}0` = ⌊o·size/O⌋ and `${v}1` = ⌈(o+1)·size/O⌉: the adaptive bin of the Integer output index `o`. */
function bin(s: Src, v: string, o: string, size: number, O: number): void {
  s.divmod(`${o} * ${s.int(size)}`, O, `${v}0`, s.fresh('r'));
  s.divmod(`(${o} + 1) * ${s.int(size)} + ${s.int(O - 1)}`, O, `${v}1`, s.fresh('r'));
}

/** The host's adaptive bins along an axis (as backend/cpu/pool.ts): [lo, hi) per output index. */
function bins(O: number, size: number): { lo: number[]; hi: number[] } {
  const lo: number[] = [],
    hi: number[] = [];
  for (let i = 0; i < O; i++) {
    lo.push(Math.floor((i * size) / O));
    hi.push(Math.floor(((i + 1) * size + O - 1) / O));
  }
  return { lo, hi };
}

/** The largest bin along an axis. */
function maxBin(O: number, size: number): number {
  const b = bins(O, size);
  let m = 1;
  for (let i = 0; i < O; i++) m = Math.max(m, b.hi[i] - b.lo[i]);
  return m;
}

/**
 * The largest count of output indices, counted from ⌊i·O/size⌋ (the first bin that can hold input
 * index i), needed to reach the last bin holding i, over every i of the axis.
 */
function adaptiveSpan(O: number, size: number): number {
  const b = bins(O, size);
  const last = new Array<number>(size).fill(-1);
  for (let o = 0; o < O; o++) for (let i = b.lo[o]; i < b.hi[o]; i++) last[i] = o;
  let span = 1;
  for (let i = 0; i < size; i++) span = Math.max(span, last[i] - Math.floor((i * O) / size) + 1);
  return span;
}

/** out: (N, C, OH, OW) ← x: (N, C, H, W) dense. */
export function adaptiveAvgPool2d(x: AnyStorage, OH: number, OW: number): GpuBuffer {
  const [N, C, H, W] = x.shape;
  const s = new Src();
  const [p, oh, ow] = s.unravel(THREAD, [N * C, OH, OW]);
  bin(s, 'h', oh, H, OH);
  bin(s, 'w', ow, W, OW);
  s.line('let acc = 0.0;');
  s.line(`for (let kh = 0; kh < ${s.bound(maxBin(OH, H))}; kh++) {`);
  s.line(`const h = ${I('h0')} + ${I('kh')};`);
  s.line('if (h < h1) {');
  s.line(`for (let kw = 0; kw < ${s.bound(maxBin(OW, W))}; kw++) {`);
  s.line(`const w = ${I('w0')} + ${I('kw')};`);
  s.line('if (w < w1) {');
  s.line(`acc += x0[${p} * ${s.int(H * W)} + ${I('h')} * ${s.int(W)} + ${I('w')}];`);
  s.line('}').line('}').line('}').line('}');
  return launch(s.spec('adaptiveAvgPool2d', N * C * OH * OW, ['x0'], 'acc / ((h1 - h0) * (w1 - w0))'), [asGpu(x)], storageDType(x));
}

/** gx: (N, C, H, W) ← gy: (N, C, OH, OW) dense. */
export function adaptiveAvgPool2dBackward(gy: AnyStorage, H: number, W: number): GpuBuffer {
  const [N, C, OH, OW] = gy.shape;
  const s = new Src();
  const [p, h, w] = s.unravel(THREAD, [N * C, H, W]);
  // the first bins that can hold h and w: ⌊h·OH/H⌋, ⌊w·OW/W⌋
  s.divmod(`${h} * ${s.int(OH)}`, H, 'ohLo', s.fresh('r'));
  s.divmod(`${w} * ${s.int(OW)}`, W, 'owLo', s.fresh('r'));
  s.line('let acc = 0.0;');
  s.line(`for (let jh = 0; jh < ${s.bound(adaptiveSpan(OH, H))}; jh++) {`);
  s.line(`const oh = ${I('ohLo')} + ${I('jh')};`);
  s.line(`if (oh < ${s.int(OH)}) {`);
  bin(s, 'h', I('oh'), H, OH);
  s.line(`if (h0 <= ${h} && ${h} < h1) {`);
  s.line(`for (let jw = 0; jw < ${s.bound(adaptiveSpan(OW, W))}; jw++) {`);
  s.line(`const ow = ${I('owLo')} + ${I('jw')};`);
  s.line(`if (ow < ${s.int(OW)}) {`);
  bin(s, 'w', I('ow'), W, OW);
  s.line(`if (w0 <= ${w} && ${w} < w1) {`);
  s.line(`acc += x0[${p} * ${s.int(OH * OW)} + ${I('oh')} * ${s.int(OW)} + ${I('ow')}] / ((h1 - h0) * (w1 - w0));`);
  s.line('}').line('}').line('}').line('}').line('}').line('}');
  return launch(s.spec('adaptiveAvgPool2d-grad', N * C * H * W, ['x0'], 'acc'), [asGpu(gy)], storageDType(gy));
}

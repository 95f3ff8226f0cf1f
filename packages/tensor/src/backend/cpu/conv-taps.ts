// Dead kernel taps of a convolution: a tap (kh, kw) whose input row or column falls in the padding
// for every output pixel contributes nothing (a dilated 3x3 with dilation >= the map size, as in
// DeepLabV3's ASPP on small maps, is a 1x1 conv in disguise). The live taps always form a window
// [kh0, kh0 + kH) x [kw0, kw0 + kW); the conv drivers (conv.ts) run the conv on that window of the
// weight with the padding shifted by kh0·dH (kw0·dW): the same sums, without the zero terms.

import type { Conv2dGeom } from './conv.ts';
import type { FloatArray } from './alloc.ts';

/** The live window along one axis: [k0, k1) of taps whose row (column) is in [0, size) for some output. */
function liveRange(k: number, s: number, p: number, d: number, size: number, out: number): [number, number] {
  let k0 = 0,
    k1 = k;
  const dead = (t: number) => t * d - p + (out - 1) * s < 0 || t * d - p >= size; // every output reads padding
  while (k0 < k1 && dead(k0)) k0++;
  while (k1 > k0 && dead(k1 - 1)) k1--;
  return [k0, k1];
}

export interface TapWindow {
  kh0: number;
  kw0: number;
  g: Conv2dGeom;
}

/** The live window and the geometry of the conv restricted to it; null when every tap is live or none is. */
export function liveTaps(g: Conv2dGeom): TapWindow | null {
  const [kh0, kh1] = liveRange(g.kH, g.sH, g.pH, g.dH, g.H, g.OH);
  const [kw0, kw1] = liveRange(g.kW, g.sW, g.pW, g.dW, g.W, g.OW);
  if (kh1 - kh0 === g.kH && kw1 - kw0 === g.kW) return null;
  if (kh1 === kh0 || kw1 === kw0) return null; // no live tap: the full conv gives its zeros (or bias)
  const { N, C, H, W, O, sH, sW, dH, dW, groups, OH, OW } = g; // a literal: spreading this many fields costs V8 microseconds
  return { kh0, kw0, g: { N, C, H, W, O, kH: kh1 - kh0, kW: kw1 - kw0, sH, sW, pH: g.pH - kh0 * dH, pW: g.pW - kw0 * dW, dH, dW, groups, OH, OW } };
}

/** w (O, Cg, kH, kW) → its live window (O, Cg, kH', kW'), dense. */
export function windowWeight(w: FloatArray, g: Conv2dGeom, t: TapWindow): FloatArray {
  const { kH, kW } = t.g,
    rows = g.O * (g.C / g.groups);
  const out = new (w.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(rows * kH * kW); // (O, Cg, kH', kW')
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < kH; i++)
      for (let j = 0; j < kW; j++) {
        out[(r * kH + i) * kW + j] = w[(r * g.kH + t.kh0 + i) * g.kW + t.kw0 + j];
      }
  return out;
}

/** gw (O, Cg, kH, kW) ← the window's gradient gwWin (O, Cg, kH', kW') in place, zeros at the dead taps. */
export function scatterWindow(gwWin: FloatArray, g: Conv2dGeom, t: TapWindow, gw: FloatArray): void {
  const { kH, kW } = t.g,
    rows = g.O * (g.C / g.groups);
  gw.fill(0);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < kH; i++)
      for (let j = 0; j < kW; j++) {
        gw[(r * g.kH + t.kh0 + i) * g.kW + t.kw0 + j] = gwWin[(r * kH + i) * kW + j];
      }
}

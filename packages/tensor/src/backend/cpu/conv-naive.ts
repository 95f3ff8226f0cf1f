// Naive references for the conv2d kernels in conv.ts: straight 7-deep loops over the definition
// of PyTorch's F.conv2d (NCHW, weight [O, C/groups, kH, kW]), accumulating in float64.
// The optimized kernels are property-tested against these (test/cpu-conv.test.ts).
// Dims: n image, o output channel, c input channel within its group, (oh, ow) output pixel, (kh, kw) tap.

import { alloc, type FloatArray } from './alloc.ts';
import type { Conv2dGeom } from './conv.ts';

/** x [N,C,H,W] contiguous, out [N,O,OH,OW] overwritten: out = bias + sum over (c, kh, kw) of x * w. */
export function conv2dForwardNaive(x: FloatArray, w: FloatArray, bias: FloatArray | null, g: Conv2dGeom, out: FloatArray): void {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups, Og = O / groups;
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    const gi = Math.floor(o / Og);
    let acc = 0;
    for (let c = 0; c < Cg; c++) for (let kh = 0; kh < kH; kh++) for (let kw = 0; kw < kW; kw++) {
      const ih = oh * sH - pH + kh * dH, iw = ow * sW - pW + kw * dW;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      acc += x[((n * C + gi * Cg + c) * H + ih) * W + iw]! * w[((o * Cg + c) * kH + kh) * kW + kw]!;
    }
    out[((n * O + o) * OH + oh) * OW + ow] = acc + (bias === null ? 0 : bias[o]!); // (N, O, OH, OW)
  }
}

/** gy [N,O,OH,OW] -> gx [N,C,H,W] overwritten: every tap scatters gy * w back to its input pixel. */
export function conv2dBackwardInputNaive(gy: FloatArray, w: FloatArray, g: Conv2dGeom, gx: FloatArray): void {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups, Og = O / groups, acc = alloc('float64', N * C * H * W); // (N, C, H, W)
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    const gi = Math.floor(o / Og), dy = gy[((n * O + o) * OH + oh) * OW + ow]!;
    for (let c = 0; c < Cg; c++) for (let kh = 0; kh < kH; kh++) for (let kw = 0; kw < kW; kw++) {
      const ih = oh * sH - pH + kh * dH, iw = ow * sW - pW + kw * dW;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      acc[((n * C + gi * Cg + c) * H + ih) * W + iw] += dy * w[((o * Cg + c) * kH + kh) * kW + kw]!;
    }
  }
  gx.set(acc);
}

/** x [N,C,H,W], gy [N,O,OH,OW] -> gw [O,C/groups,kH,kW] overwritten: sum over (n, oh, ow) of gy * x. */
export function conv2dBackwardWeightNaive(x: FloatArray, gy: FloatArray, g: Conv2dGeom, gw: FloatArray): void {
  const { N, C, H, W, O, kH, kW, sH, sW, pH, pW, dH, dW, groups, OH, OW } = g;
  const Cg = C / groups, Og = O / groups;
  for (let o = 0; o < O; o++) for (let c = 0; c < Cg; c++) for (let kh = 0; kh < kH; kh++) for (let kw = 0; kw < kW; kw++) {
    const gi = Math.floor(o / Og);
    let acc = 0;
    for (let n = 0; n < N; n++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      const ih = oh * sH - pH + kh * dH, iw = ow * sW - pW + kw * dW;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      acc += gy[((n * O + o) * OH + oh) * OW + ow]! * x[((n * C + gi * Cg + c) * H + ih) * W + iw]!;
    }
    gw[((o * Cg + c) * kH + kh) * kW + kw] = acc; // (O, Cg, kH, kW)
  }
}

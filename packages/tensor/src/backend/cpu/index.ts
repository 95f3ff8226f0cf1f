// The CPU backend: the Backend interface wired to the typed-array kernels in this folder.
// Kernels take dense arrays unless noted; `dense` makes a view dense only when it is not already.

import type { Backend, BnStats } from '../backend.ts';
import { alloc, allocOut, type FloatArray } from './alloc.ts';
import { assign, contiguousData as dense, type Storage } from '../../storage.ts';
import * as ew from './elementwise.ts';
import { reduce } from './reduce.ts';
import * as mv from './movement.ts';
import { bmm, type MatView } from './gemm.ts';
import * as conv from './conv.ts';
import * as pool from './pool.ts';
import * as rs from './resize.ts';
import * as bn from './norm.ts';
import * as sm from './softmax.ts';
import { sgdUpdate } from './optim.ts';

/** (N, C, ...) as [N, C, L]. */
const ncl = (s: Storage): [number, number, number] => [s.shape[0], s.shape[1], s.size / (s.shape[0] * s.shape[1] || 1)];

/** The shape as [outer, n, inner] around dim (n = shape[dim]). */
const around = (s: Storage, dim: number): [number, number, number] => {
  const n = s.shape[dim],
    outer = s.shape.slice(0, dim).reduce((a, b) => a * b, 1);
  return [outer, n, s.size / (outer * n || 1)];
};
const f = (s: Storage): FloatArray => dense(s) as FloatArray;
const mat = (s: Storage): MatView => ({
  data: s.data as FloatArray,
  offset: s.offset,
  batchStride: s.stride[0],
  rowStride: s.stride[1],
  colStride: s.stride[2],
});
/** A zeroed float array of n elements with the dtype of `like`. */
const falloc = (like: Storage, n: number): FloatArray => (like.data instanceof Float64Array ? alloc('float64', n) : alloc('float32', n));
/** falloc for a kernel that writes every element: not zeroed (alloc.ts's allocOut). */
const fout = (like: Storage, n: number): FloatArray => (like.data instanceof Float64Array ? allocOut('float64', n) : allocOut('float32', n));

/** Statistics this backend made or the ops built from CPU tensors: always CPU float arrays. */
const st = (s: BnStats): bn.BnStats => s as bn.BnStats;

export const cpuBackend: Backend<Storage> = {
  name: 'cpu',
  unary: ew.unary,
  binary: ew.binary,
  where: ew.where,
  cast: ew.cast,
  assign,
  reduce,
  bmm(a, b, dtype) {
    const [B, M, K] = a.shape,
      N = b.shape[2];
    const out = alloc(dtype, B * M * N) as FloatArray;
    bmm(B, M, N, K, mat(a), mat(b), out);
    return out;
  },
  conv2d(x, w, bias, g) {
    const out = fout(x, g.N * g.O * g.OH * g.OW);
    conv.conv2dForward(f(x), f(w), bias && f(bias), g, out);
    return out;
  },
  conv2dBackwardInput(gy, w, g) {
    const gx = falloc(gy, g.N * g.C * g.H * g.W);
    conv.conv2dBackwardInput(f(gy), f(w), g, gx);
    return gx;
  },
  conv2dBackwardWeight(x, gy, g) {
    const gw = falloc(x, g.O * (g.C / g.groups) * g.kH * g.kW);
    conv.conv2dBackwardWeight(f(x), f(gy), g, gw);
    return gw;
  },
  maxPool2d(x, g) {
    const n = g.N * g.C * g.OH * g.OW;
    const values = falloc(x, n),
      indices = alloc('int32', n);
    pool.maxPool2d(f(x), g, values, indices);
    return { values, indices };
  },
  maxPool2dBackward(gy, indices, g) {
    const gx = falloc(gy, g.N * g.C * g.H * g.W);
    pool.maxPool2dBackward(f(gy), dense(indices) as Int32Array, g, gx);
    return gx;
  },
  avgPool2d(x, g, countIncludePad) {
    const out = falloc(x, g.N * g.C * g.OH * g.OW);
    pool.avgPool2d(f(x), g, countIncludePad, out);
    return out;
  },
  avgPool2dBackward(gy, g, countIncludePad) {
    const gx = falloc(gy, g.N * g.C * g.H * g.W);
    pool.avgPool2dBackward(f(gy), g, countIncludePad, gx);
    return gx;
  },
  adaptiveAvgPool2d(x, oh, ow) {
    const [N, C, H, W] = x.shape;
    const out = falloc(x, N * C * oh * ow);
    pool.adaptiveAvgPool2d(f(x), N, C, H, W, oh, ow, out);
    return out;
  },
  adaptiveAvgPool2dBackward(gy, h, w) {
    const [N, C, OH, OW] = gy.shape;
    const gx = falloc(gy, N * C * h * w);
    pool.adaptiveAvgPool2dBackward(f(gy), N, C, h, w, OH, OW, gx);
    return gx;
  },
  resize(x, oh, ow, mode, alignCorners) {
    const [N, C, H, W] = x.shape;
    const out = fout(x, N * C * oh * ow);
    if (mode === 'bilinear') rs.bilinear(f(x), N, C, H, W, oh, ow, alignCorners, out);
    else rs.nearest(f(x), N, C, H, W, oh, ow, out);
    return out;
  },
  resizeBackward(gy, h, w, mode, alignCorners) {
    const [N, C, OH, OW] = gy.shape;
    const gx = falloc(gy, N * C * h * w);
    if (mode === 'bilinear') rs.bilinearBackward(f(gy), N, C, h, w, OH, OW, alignCorners, gx);
    else rs.nearestBackward(f(gy), N, C, h, w, OH, OW, gx);
    return gx;
  },
  batchNormStats: (x, eps) => bn.bnStats(f(x), ...ncl(x), eps),
  batchNorm: (x, stats, w, b, relu) => bn.bnForward(f(x), ...ncl(x), st(stats), w && f(w), b && f(b), relu),
  batchNormRunningStats: (rm, rv, stats, eps, M, momentum) => bn.bnRunningStats(rm.data as FloatArray, rv.data as FloatArray, st(stats), eps, M, momentum),
  batchNormBackward: (gy, x, stats, w, training, y) => bn.bnBackward(f(gy), f(x), ...ncl(x), st(stats), w && f(w), training, y && f(y)),
  logSoftmax(x, dim, probs) {
    const [outer, n, inner] = around(x, dim),
      y = fout(x, x.size),
      p = probs ? fout(x, x.size) : null;
    sm.logSoftmax(f(x), outer, n, inner, y, p);
    return { y, p };
  },
  logSoftmaxBackward(gy, p, dim) {
    const [outer, n, inner] = around(gy, dim),
      gx = fout(gy, gy.size);
    sm.logSoftmaxBackward(f(gy), f(p), outer, n, inner, gx);
    return gx;
  },
  pad: mv.pad,
  cat: mv.cat,
  gather: mv.gather,
  scatterAdd: mv.scatterAdd,
  sgdUpdate: (p, g, b, o) =>
    sgdUpdate(p.data as FloatArray, p.offset, g.data as FloatArray, g.offset, b && (b.data as FloatArray), b ? b.offset : 0, p.size, o),
};

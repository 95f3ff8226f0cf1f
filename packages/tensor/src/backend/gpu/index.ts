// The GPU backend: the Backend interface wired to the gpu.js kernels in this folder, plus the
// device methods (upload, reads, flush, deferred checks). The table is complete by type: every
// primitive has a GPU kernel, so no op falls back to the CPU. (Ops that need host data, the index
// range checks, run on the device and report through `deferCheck`.)

import type { Backend, DeviceBackend } from '../backend.ts';
import { isDense, storageDType, view, type AnyStorage } from '../../storage.ts';
import * as rt from './runtime.ts';
import * as ew from './elementwise.ts';
import { reduce } from './reduce.ts';
import { bmm } from './gemm.ts';
import * as conv from './conv.ts';
import * as mv from './movement.ts';
import * as norm from './norm.ts';
import * as pool from './pool.ts';
import * as rs from './resize.ts';
import * as sm from './softmax.ts';
import { sgdUpdate } from './optim.ts';

/** A dense view of the same elements (a copy kernel only when the view is strided). */
const dense = (s: AnyStorage): AnyStorage => (isDense(s) ? s : view(ew.cast(s, storageDType(s)), s.shape));

export const gpuBackend: Backend & DeviceBackend = {
  name: 'gpu',
  unary: ew.unary,
  binary: ew.binary,
  where: ew.where,
  cast: ew.cast,
  assign: mv.assign,
  reduce,
  bmm,
  conv2d: (x, w, b, g) => conv.conv2d(dense(x), dense(w), b && dense(b), g),
  conv2dBackwardInput: (gy, w, g) => conv.conv2dBackwardInput(dense(gy), dense(w), g),
  conv2dBackwardWeight: (x, gy, g) => conv.conv2dBackwardWeight(dense(x), dense(gy), g),
  maxPool2d: (x, g) => pool.maxPool2d(dense(x), g),
  maxPool2dBackward: (gy, idx, g) => pool.maxPool2dBackward(dense(gy), dense(idx), g),
  avgPool2d: (x, g, cip) => pool.avgPool2d(dense(x), g, cip),
  avgPool2dBackward: (gy, g, cip) => pool.avgPool2dBackward(dense(gy), g, cip),
  adaptiveAvgPool2d: (x, oh, ow) => pool.adaptiveAvgPool2d(dense(x), oh, ow),
  adaptiveAvgPool2dBackward: (gy, h, w) => pool.adaptiveAvgPool2dBackward(dense(gy), h, w),
  resize: (x, oh, ow, mode, ac) => rs.resize(dense(x), oh, ow, mode, ac),
  resizeBackward: (gy, h, w, mode, ac) => rs.resizeBackward(dense(gy), h, w, mode, ac),
  batchNormStats: (x, eps) => norm.batchNormStats(dense(x), eps),
  batchNorm: (x, stats, w, b, relu) => norm.batchNorm(dense(x), stats, w && dense(w), b && dense(b), relu),
  batchNormBackward: (gy, x, stats, w, training, y) =>
    norm.batchNormBackward(y ? view(ew.binary('reluBackward', gy, y, storageDType(gy)), gy.shape) : dense(gy), dense(x), stats, w && dense(w), training),
  batchNormRunningStats: norm.batchNormRunningStats,
  logSoftmax: (x, dim, probs) => sm.logSoftmax(x, dim, probs),
  logSoftmaxBackward: (gy, p, dim) => sm.logSoftmaxBackward(gy, p, dim),
  pad: mv.pad,
  cat: mv.cat,
  gather: mv.gather,
  scatterAdd: mv.scatterAdd,
  sgdUpdate,

  upload: rt.upload,
  readSync: (x) => rt.readSync(x),
  read: rt.read,
  flush: rt.flush,
  deferCheck: rt.deferCheck,
};

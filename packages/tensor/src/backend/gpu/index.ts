// The GPU backend: the Backend interface wired to the gpu.js kernels in this folder, plus the
// device methods (upload, reads, flush, deferred checks). The table is complete by type; an entry
// that routes through `host` runs on the CPU (inputs read back, outputs uploaded) with a one-time
// warning, and `gpuStats().fallbacks` lists those that ran.

import type { Backend, DeviceBackend } from '../backend.ts';
import { cpuBackend } from '../cpu/index.ts';
import type { DType, TypedArray } from '../cpu/alloc.ts';
import { isDense, storageDType, view, type AnyStorage, type Storage } from '../../storage.ts';
import * as rt from './runtime.ts';
import * as ew from './elementwise.ts';
import { reduce } from './reduce.ts';
import { bmm } from './gemm.ts';
import * as conv from './conv.ts';
import * as mv from './movement.ts';
import * as norm from './norm.ts';

/** A dense view of the same elements (a copy kernel only when the view is strided). */
const dense = (s: AnyStorage): AnyStorage => (isDense(s) ? s : view(ew.cast(s, storageDType(s)), s.shape));

/** Runs a CPU backend method on the host for `op` (see runtime.onHost); `outs` are the result lengths and dtypes. */
function host(op: string, inputs: readonly AnyStorage[], outs: readonly { length: number; dtype: DType }[], compute: (xs: Storage[]) => TypedArray[]): rt.GpuBuffer[] {
  return rt.onHost(op, inputs, outs, compute);
}

const dt = (s: AnyStorage): DType => storageDType(s);

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
  maxPool2d(x, g) {
    const n = g.N * g.C * g.OH * g.OW;
    const [values, indices] = host('maxPool2d', [x], [{ length: n, dtype: dt(x) }, { length: n, dtype: 'int32' }], ([a]) => {
      const r = cpuBackend.maxPool2d(a, g);
      return [r.values as TypedArray, r.indices as TypedArray];
    });
    return { values, indices };
  },
  maxPool2dBackward: (gy, idx, g) => host('maxPool2dBackward', [gy, idx], [{ length: g.N * g.C * g.H * g.W, dtype: dt(gy) }], ([a, i]) => [cpuBackend.maxPool2dBackward(a, i, g) as TypedArray])[0],
  avgPool2d: (x, g, cip) => host('avgPool2d', [x], [{ length: g.N * g.C * g.OH * g.OW, dtype: dt(x) }], ([a]) => [cpuBackend.avgPool2d(a, g, cip) as TypedArray])[0],
  avgPool2dBackward: (gy, g, cip) => host('avgPool2dBackward', [gy], [{ length: g.N * g.C * g.H * g.W, dtype: dt(gy) }], ([a]) => [cpuBackend.avgPool2dBackward(a, g, cip) as TypedArray])[0],
  adaptiveAvgPool2d: (x, oh, ow) => host('adaptiveAvgPool2d', [x], [{ length: x.shape[0] * x.shape[1] * oh * ow, dtype: dt(x) }], ([a]) => [cpuBackend.adaptiveAvgPool2d(a, oh, ow) as TypedArray])[0],
  adaptiveAvgPool2dBackward: (gy, h, w) => host('adaptiveAvgPool2dBackward', [gy], [{ length: gy.shape[0] * gy.shape[1] * h * w, dtype: dt(gy) }], ([a]) => [cpuBackend.adaptiveAvgPool2dBackward(a, h, w) as TypedArray])[0],
  resize: (x, oh, ow, mode, ac) => host('resize', [x], [{ length: x.shape[0] * x.shape[1] * oh * ow, dtype: dt(x) }], ([a]) => [cpuBackend.resize(a, oh, ow, mode, ac) as TypedArray])[0],
  resizeBackward: (gy, h, w, mode, ac) => host('resizeBackward', [gy], [{ length: gy.shape[0] * gy.shape[1] * h * w, dtype: dt(gy) }], ([a]) => [cpuBackend.resizeBackward(a, h, w, mode, ac) as TypedArray])[0],
  batchNormStats: (x, eps) => norm.batchNormStats(dense(x), eps),
  batchNorm: (x, stats, w, b) => norm.batchNorm(dense(x), stats, w && dense(w), b && dense(b)),
  batchNormBackward: (gy, x, stats, w, training) => norm.batchNormBackward(dense(gy), dense(x), stats, w && dense(w), training),
  pad: mv.pad,
  cat: mv.cat,
  gather: mv.gather,
  scatterAdd: mv.scatterAdd,

  upload: rt.upload,
  readSync: (x) => rt.readSync(x),
  read: rt.read,
  flush: rt.flush,
  deferCheck: rt.deferCheck,
};

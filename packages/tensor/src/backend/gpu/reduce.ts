// Reduction gpu.js kernels: sum, max and min over any set of dims, with the argmax/argmin index
// (flat over the reduced dims, as the CPU kernel gives it). One thread per output element walks
// its reduced elements in nested loops over the (coalesced) reduced dims; accumulation is float32.

import type { DType } from '../cpu/alloc.ts';
import type { ReduceOp } from '../cpu/reduce.ts';
import type { AnyStorage } from '../../storage.ts';
import { asGpu, launch, type GpuBuffer } from './runtime.ts';
import { coalesce, Src, THREAD } from './codegen.ts';
import { mapKernel } from './elementwise.ts';

function reduceKernel(op: ReduceOp, x: AnyStorage, dims: readonly number[], dtype: DType, wantIndex: boolean): GpuBuffer {
  const rank = x.shape.length;
  const kept = [...Array(rank).keys()].filter((d) => !dims.includes(d));
  const n = kept.reduce((a, d) => a * x.shape[d], 1);
  const src = new Src();
  const k = coalesce(
    kept.map((d) => x.shape[d]),
    [kept.map((d) => x.stride[d])],
  );
  const idx = src.unravel(THREAD, k.shape);
  const base = src.offset(x.offset, idx, k.strides[0]); // an expression, written out at each read
  const r = coalesce(
    dims.map((d) => x.shape[d]),
    [dims.map((d) => x.stride[d])],
  );
  const R = dims.reduce((a, d) => a * x.shape[d], 1);
  // nested loops over the reduced dims; `j` counts the flat reduced index for argmax/argmin
  src.line(op === 'sum' ? 'let acc = 0.0;' : `let acc = x0[${base}];`);
  src.line('let best = 0;').line('let j = 0;');
  // a loop counter is a float local too, so a dim longer than 2^22 runs as two nested loops
  let close = 0;
  const coords = r.shape.map((size, d) => {
    if (size <= 2 ** 22) {
      src.line(`for (let l${d} = 0; l${d} < ${src.bound(size)}; l${d}++) {`);
      close++;
      return `(l${d} | 0)`;
    }
    const inner = 4096,
      at = `((m${d} | 0) * ${src.int(inner)} + (l${d} | 0))`;
    src.line(`for (let m${d} = 0; m${d} < ${src.bound(Math.ceil(size / inner))}; m${d}++) {`);
    src.line(`for (let l${d} = 0; l${d} < ${src.bound(inner)}; l${d}++) {`);
    src.line(`if (${at} < ${src.int(size)}) {`);
    close += 3;
    return at;
  });
  src.line(`const v = x0[${base} + ${src.offset(0, coords, r.strides[0])}];`);
  if (op === 'sum') src.line('acc += v;');
  else src.line(`if (v ${op === 'max' ? '>' : '<'} acc) { acc = v; best = j; }`);
  src.line('j++;');
  for (let c = 0; c < close; c++) src.line('}');
  if (R === 0) return launch(new Src().spec('zeros', n, ['x0'], '0.0'), [asGpu(x)], dtype);
  return launch(src.spec(`reduce-${op}${wantIndex ? '-index' : ''}`, n, ['x0'], wantIndex ? 'best' : 'acc'), [asGpu(x)], wantIndex ? 'int32' : dtype);
}

export function reduce(op: ReduceOp, x: AnyStorage, dims: readonly number[], dtype: DType): { values: GpuBuffer; indices: GpuBuffer | null } {
  // nothing to reduce (a 0-d input): a copy, and index 0. The loop kernel over no dims reads its
  // input in a way gpu.js's WebGL2 backend does not compile ('getFloatFromSampler2D': no overload).
  if (dims.length === 0) {
    return { values: mapKernel('reduce-none', 'a', [x], dtype), indices: op === 'sum' ? null : mapKernel('reduce-none-index', '0.0', [x], 'int32') };
  }
  return {
    values: reduceKernel(op, x, dims, dtype, false),
    indices: op === 'sum' ? null : reduceKernel(op, x, dims, dtype, true),
  };
}

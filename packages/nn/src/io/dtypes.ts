// The element types of the safetensors format (huggingface/safetensors, safetensors/src/tensor.rs,
// `enum Dtype`) and how each maps to a @lad/tensor dtype: F32, F64 and I32 one to one; F16 and
// BF16 widen to float32 exactly; the other integer types and BOOL become int32, with a range check
// where a value might not fit. All data in the file is little-endian, whatever the host.

import type { DType } from '@lad/tensor';

type TypedArray = Float32Array | Float64Array | Int32Array;
/** Reads `n` little-endian elements from `dv`; calls `fail` on a value that cannot be held. */
type Reader = (dv: DataView, n: number, fail: (why: string) => never) => TypedArray;

export interface Codec {
  /** Bytes per element. */
  size: number;
  read: Reader;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const INT32_MAX = 0x7fffffff;

/** A native typed array straight from the bytes (one copy), or element by element on a big-endian host. */
function native<T extends TypedArray>(Ctor: { new (b: ArrayBuffer): T; new (n: number): T }, size: number, get: (dv: DataView, off: number) => number): Reader {
  return (dv, n) => {
    if (LITTLE_ENDIAN_HOST) return new Ctor(dv.buffer.slice(dv.byteOffset, dv.byteOffset + n * size) as ArrayBuffer);
    const out = new Ctor(n);
    for (let i = 0; i < n; i++) out[i] = get(dv, i * size);
    return out;
  };
}

/** An int32 array from a narrower or range-checked integer type. */
function toInt32(size: number, get: (dv: DataView, off: number, fail: (why: string) => never, i: number) => number): Reader {
  return (dv, n, fail) => {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = get(dv, i * size, fail, i);
    return out;
  };
}

/** A 64-bit integer as int32, or a range error naming its value and flat index. */
function int64(signed: boolean): Reader {
  return toInt32(8, (dv, off, fail, i) => {
    const lo = dv.getUint32(off, true),
      hi = signed ? dv.getInt32(off + 4, true) : dv.getUint32(off + 4, true);
    if ((hi === 0 && lo <= INT32_MAX) || (signed && hi === -1 && lo > INT32_MAX)) return lo | 0;
    const v = (signed ? dv.getBigInt64(off, true) : dv.getBigUint64(off, true)).toString();
    return fail(`value ${v} at flat index ${i} does not fit in int32: got ${v}, expected -2147483648..2147483647`);
  });
}

/** IEEE binary16 bits to a number (exact: every half is a float32). */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24; // zero and subnormals
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

function float16(): Reader {
  return (dv, n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = halfToNumber(dv.getUint16(2 * i, true));
    return out;
  };
}

/** bfloat16 is the top half of a float32's bits. */
function bfloat16(): Reader {
  return (dv, n) => {
    const out = new Float32Array(n),
      bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
    return out;
  };
}

/** The dtypes this library reads, by their safetensors names. */
export const CODECS: Record<string, Codec> = {
  F64: { size: 8, read: native(Float64Array, 8, (dv, o) => dv.getFloat64(o, true)) },
  F32: { size: 4, read: native(Float32Array, 4, (dv, o) => dv.getFloat32(o, true)) },
  F16: { size: 2, read: float16() },
  BF16: { size: 2, read: bfloat16() },
  I64: { size: 8, read: int64(true) },
  U64: { size: 8, read: int64(false) },
  I32: { size: 4, read: native(Int32Array, 4, (dv, o) => dv.getInt32(o, true)) },
  U32: {
    size: 4,
    read: toInt32(4, (dv, o, fail, i) => {
      const v = dv.getUint32(o, true);
      return v <= INT32_MAX ? v : fail(`value ${v} at flat index ${i} does not fit in int32: got ${v}, expected 0..2147483647`);
    }),
  },
  I16: { size: 2, read: toInt32(2, (dv, o) => dv.getInt16(o, true)) },
  U16: { size: 2, read: toInt32(2, (dv, o) => dv.getUint16(o, true)) },
  I8: { size: 1, read: toInt32(1, (dv, o) => dv.getInt8(o)) },
  U8: { size: 1, read: toInt32(1, (dv, o) => dv.getUint8(o)) },
  BOOL: {
    size: 1,
    read: toInt32(1, (dv, o, fail, i) => {
      const v = dv.getUint8(o);
      return v <= 1 ? v : fail(`BOOL value at flat index ${i} is not 0 or 1: got ${v}`);
    }),
  },
};

/** Dtypes of the format that this library cannot represent (named so the error can say so). */
export const UNSUPPORTED = new Set(['F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);

/** How each @lad/tensor dtype is written; `rank` orders tensors as the reference writer does (larger alignment first). */
export const WRITE: Record<DType, { name: string; size: number; rank: number }> = {
  float64: { name: 'F64', size: 8, rank: 2 },
  float32: { name: 'F32', size: 4, rank: 1 },
  int32: { name: 'I32', size: 4, rank: 0 },
};

/** The little-endian bytes of a dense typed array (a view of it on a little-endian host). */
export function littleEndianBytes(a: TypedArray): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength),
    dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) {
    if (a instanceof Float64Array) dv.setFloat64(8 * i, a[i], true);
    else if (a instanceof Float32Array) dv.setFloat32(4 * i, a[i], true);
    else dv.setInt32(4 * i, a[i], true);
  }
  return out;
}

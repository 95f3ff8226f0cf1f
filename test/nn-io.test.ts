// @lad/nn io: safetensors (huggingface/safetensors README "Format") and training checkpoints.
// Files written by hand from the spec load with the right values; our bytes are checked by hand;
// every malformed file fails with an error naming it; writes are atomic; a checkpointed run resumed
// in a fresh process ends with the same bits as an uninterrupted one.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Generator, Tensor, tensor, type DType } from '@lad/tensor';
import {
  CheckpointError,
  Linear,
  SGD,
  SafetensorsError,
  checkpointPath,
  latestCheckpoint,
  loadCheckpoint,
  loadSafetensors,
  parseCheckpoint,
  parseSafetensors,
  restoreCheckpoint,
  saveCheckpoint,
  saveSafetensors,
  serializeSafetensors,
  writeFileAtomic,
} from '@lad/nn';
import type { OptimizerStateDict, StateDict } from '../packages/nn/src/types.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'nn-io-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (): string => mkdtempSync(join(tmp, `d${dirCount++}-`));

/** The error `fn` throws (the test fails if it returns). */
function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, but none was thrown');
}
const hex = (t: Tensor): string => Buffer.from(t.data().buffer).toString('hex');
function expectSameTensor(got: Tensor, want: Tensor): void {
  expect(got.dtype).toBe(want.dtype);
  expect(got.shape).toEqual(want.shape);
  expect(hex(got)).toBe(hex(want));
}
const f32 = (xs: number[], shape: number[]) => tensor(xs, { shape, dtype: 'float32' });

/** A file from header text (padded with spaces to `align`) and data bytes, exactly as the spec lays it out. */
function file(header: string | Uint8Array, data: Uint8Array | number[] = [], align = 8): Uint8Array {
  const json = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const n = Math.ceil(json.length / align) * align;
  const out = new Uint8Array(8 + n + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.fill(0x20, 8, 8 + n).set(json, 8);
  out.set(data, 8 + n);
  return out;
}
/** Header length, header text and data offset of our output, read by hand. */
function readHeader(bytes: Uint8Array): { n: number; text: string; dataStart: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, text: new TextDecoder().decode(bytes.subarray(8, 8 + n)), dataStart: 8 + n };
}

// ---- round trip ---------------------------------------------------------------------------

const VALUE: Record<DType, fc.Arbitrary<number>> = {
  float32: fc.float(), // includes NaN, ±Infinity, -0
  float64: fc.double(),
  int32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
};
const CTOR = { float32: Float32Array, float64: Float64Array, int32: Int32Array } as const;

/** A tensor of any dtype and small shape (0-d and empty included), built contiguous, permuted or strided. */
const arbTensor = fc
  .record({
    dtype: fc.constantFrom<DType>('float32', 'float64', 'int32'),
    shape: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }),
    layout: fc.constantFrom('dense', 'permuted', 'strided'),
  })
  .chain(({ dtype, shape, layout }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc.array(VALUE[dtype], { minLength: n, maxLength: n }).map((vals) => {
      if (layout === 'permuted' && shape.length >= 2) {
        const rev = [...shape].reverse(),
          dims = shape.map((_, i) => shape.length - 1 - i);
        return Tensor.fromData(CTOR[dtype].from(vals), rev).permute(dims); // (shape), not contiguous
      }
      if (layout === 'strided' && shape.length >= 1) {
        const wide = [...shape.slice(0, -1), 2 * shape[shape.length - 1]];
        const base = Tensor.fromData(CTOR[dtype].from(vals.flatMap((v) => [v, 7])), wide);
        return base.slice(-1, 0, null, 2); // every other element of the last dim
      }
      return Tensor.fromData(CTOR[dtype].from(vals), shape);
    });
  });
const arbName = fc.string({ unit: 'binary', maxLength: 6 }).filter((s) => s !== '__metadata__');
const arbStateDict = fc.uniqueArray(fc.tuple(arbName, arbTensor), { maxLength: 4, selector: ([k]) => k }).map((kv) => Object.fromEntries(kv) as StateDict);
const arbMetadata = fc.dictionary(fc.string({ unit: 'binary', maxLength: 5 }), fc.string({ unit: 'binary', maxLength: 8 }), { maxKeys: 3 });

describe('safetensors round trip', () => {
  it('keeps every dtype, shape and bit, and lays the file out per spec', () => {
    fc.assert(
      fc.property(arbStateDict, arbMetadata, (sd, metadata) => {
        const bytes = serializeSafetensors(sd, metadata);
        const { n, dataStart } = readHeader(bytes);
        expect(n % 8).toBe(0);
        const back = parseSafetensors(bytes, 'roundtrip');
        expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(sd).sort());
        for (const [k, t] of Object.entries(sd)) expectSameTensor(back.tensors[k], t);
        expect(back.metadata).toEqual(metadata);
        const header = JSON.parse(readHeader(bytes).text) as Record<string, { dtype: string; data_offsets: [number, number] }>;
        let total = 0;
        for (const [k, e] of Object.entries(header)) {
          if (k === '__metadata__') continue;
          expect((dataStart + e.data_offsets[0]) % (e.dtype === 'F64' ? 8 : 4)).toBe(0); // aligned
          total += e.data_offsets[1] - e.data_offsets[0];
        }
        expect(bytes.length).toBe(dataStart + total);
        expect(serializeSafetensors(back.tensors, back.metadata)).toEqual(bytes); // canonical output
      }),
      { numRuns: 150 },
    );
  });

  it('saves and loads through a file', () => {
    const path = join(freshDir(), 'w.safetensors');
    const sd = {
      'fc.weight': f32([1, 2, 3, 4, 5, 6], [2, 3]).T,
      scalar: tensor(3, { dtype: 'float64' }),
      empty: tensor([], { shape: [0, 5], dtype: 'int32' }),
    };
    saveSafetensors(path, sd, { format: 'pt' });
    const back = loadSafetensors(path);
    for (const [k, t] of Object.entries(sd)) expectSameTensor(back.tensors[k], t);
    expect(back.tensors['fc.weight'].toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(back.metadata).toEqual({ format: 'pt' });
  });
});

// ---- files written from the spec -----------------------------------------------------------

describe('safetensors files written by hand from the spec', () => {
  it('loads F32, I64, F64 0-d, empty, F16, BF16, BOOL and U8 tensors with padded header', () => {
    const data = new Uint8Array(58),
      dv = new DataView(data.buffer);
    [1.5, -2, 0.25, 3e-5].forEach((v, i) => dv.setFloat32(4 * i, v, true)); // w: [0, 16)
    [-1n, 2147483647n, -2147483648n].forEach((v, i) => dv.setBigInt64(16 + 8 * i, v, true)); // idx: [16, 40)
    dv.setFloat64(40, Math.PI, true); // s: [40, 48); e: [48, 48)
    dv.setUint16(48, 0x3c00, true); // h: 1.0 in binary16
    dv.setUint16(50, 0xc000, true); //    -2.0
    dv.setUint16(52, 0x3fc0, true); // b: 1.5 in bfloat16
    data.set([1, 0, 255, 7], 54); // m: BOOL [1, 0]; u: U8 [255, 7]
    const header = `{
      "idx": {"dtype": "I64", "shape": [3], "data_offsets": [16, 40]},
      "__metadata__": {"format": "pt", "note": "handmade"},
      "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
      "s": {"dtype": "F64", "shape": [], "data_offsets": [40, 48]},
      "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [48, 48]},
      "h": {"dtype": "F16", "shape": [2], "data_offsets": [48, 52]},
      "b": {"dtype": "BF16", "shape": [1], "data_offsets": [52, 54]},
      "m": {"dtype": "BOOL", "shape": [2], "data_offsets": [54, 56]},
      "u": {"dtype": "U8", "shape": [2], "data_offsets": [56, 58]}
    }`;
    const bytes = file(header, data, 16); // extra space padding beyond 8-byte alignment
    expect(readHeader(bytes).text.endsWith(' ')).toBe(true);
    const { tensors: t, metadata } = parseSafetensors(bytes, 'hand.safetensors');
    expect(metadata).toEqual({ format: 'pt', note: 'handmade' });
    expect(t.w.dtype).toBe('float32');
    expect(t.w.toArray()).toEqual([
      [1.5, -2],
      [0.25, Math.fround(3e-5)],
    ]);
    expect(t.idx.dtype).toBe('int32');
    expect(t.idx.toArray()).toEqual([-1, 2147483647, -2147483648]);
    expect(t.s.dtype).toBe('float64');
    expect(t.s.shape).toEqual([]);
    expect(t.s.item()).toBe(Math.PI);
    expect(t.e.shape).toEqual([0, 3]);
    expect(t.h.toArray()).toEqual([1, -2]);
    expect(t.b.toArray()).toEqual([1.5]);
    expect([t.m.dtype, t.m.toArray(), t.u.toArray()]).toEqual(['int32', [1, 0], [255, 7]]);
  });

  it('takes a null __metadata__ as none, and an empty header as an empty file', () => {
    expect(parseSafetensors(file('{"__metadata__":null}'))).toEqual({ tensors: {}, metadata: {} });
    expect(parseSafetensors(file('{}', [], 1))).toEqual({ tensors: {}, metadata: {} }); // no padding at all
  });

  it('rejects an I64 value that does not fit in int32, naming the tensor and value', () => {
    const data = new Uint8Array(16),
      dv = new DataView(data.buffer);
    dv.setBigInt64(0, 5n, true);
    dv.setBigInt64(8, 2n ** 31n, true);
    const bytes = file('{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}', data);
    expect(() => parseSafetensors(bytes, 'ids.safetensors')).toThrow(
      /ids\.safetensors: tensor "ids" \(I64\): value 2147483648 at flat index 1 does not fit in int32/,
    );
  });
});

// ---- our output, checked by hand -----------------------------------------------------------

describe('safetensors output per spec', () => {
  it('writes the 8-byte length, compact JSON, and little-endian data (the reference test vector)', () => {
    const bytes = serializeSafetensors({ 'attn.0': f32([0, 1, 2, 3, 4, 5], [1, 2, 3]) });
    const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(json.length).toBe(64); // already a multiple of 8: no padding
    expect([...bytes.subarray(0, 8)]).toEqual([64, 0, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(bytes.subarray(8, 72))).toBe(json);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    expect(Array.from({ length: 6 }, (_, i) => dv.getFloat32(72 + 4 * i, true))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(bytes.length).toBe(72 + 24);
  });

  it('pads the header with spaces to a multiple of 8', () => {
    const bytes = serializeSafetensors({ attn0: f32([0, 1, 2, 3, 4, 5], [1, 1, 2, 3]) });
    const { n, text } = readHeader(bytes);
    expect(n).toBe(72);
    expect(text).toBe('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ');
    expect([...serializeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  });

  it('orders tensors by alignment then name, after __metadata__, packed without gaps', () => {
    const bytes = serializeSafetensors(
      { b: tensor([7, -8], { dtype: 'int32' }), a: f32([1, 2, 3], [3]), z: tensor([0.5], { dtype: 'float64' }) },
      { format: 'pt' },
    );
    const { text, dataStart } = readHeader(bytes);
    expect(text.trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"z":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
        '"a":{"dtype":"F32","shape":[3],"data_offsets":[8,20]},"b":{"dtype":"I32","shape":[2],"data_offsets":[20,28]}}',
    );
    const dv = new DataView(bytes.buffer, bytes.byteOffset + dataStart);
    expect([dv.getFloat64(0, true), dv.getFloat32(8, true), dv.getFloat32(16, true), dv.getInt32(20, true), dv.getInt32(24, true)]).toEqual([0.5, 1, 3, 7, -8]);
    expect(bytes.length).toBe(dataStart + 28);
  });

  it('rejects what it cannot write, naming the problem', () => {
    expect(() => serializeSafetensors({ __metadata__: f32([1], [1]) })).toThrow(SafetensorsError);
    expect(() => serializeSafetensors({ a: f32([1], [1]) }, { k: 1 as unknown as string })).toThrow(/metadata value for "k" is not a string/);
    expect(() => serializeSafetensors({ a: [1, 2] as unknown as Tensor })).toThrow(/"a" is not a Tensor/);
  });
});

// ---- malformed input -----------------------------------------------------------------------

const A = '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
const B = (begin: number, end: number) => `"b":{"dtype":"F32","shape":[2],"data_offsets":[${begin},${end}]}`;
const lengthPrefix = (n: bigint, rest: number[] = []) => {
  const out = new Uint8Array(8 + rest.length);
  new DataView(out.buffer).setBigUint64(0, n, true);
  out.set(rest, 8);
  return out;
};
const MALFORMED: [string, Uint8Array, RegExp][] = [
  ['truncated header length', new Uint8Array(5), /truncated header length: got 5 bytes/],
  ['header length beyond the file', lengthPrefix(1000n, [0x7b, 0x7d]), /header length 1000 goes beyond the end of the file/],
  ['header length 2^64-1', lengthPrefix(2n ** 64n - 1n, [0x7b, 0x7d]), /goes beyond the end of the file/],
  ['invalid UTF-8', file(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d])), /not valid UTF-8/],
  ['invalid JSON', file('{"a": '), /not valid JSON/],
  ['header not an object', file('[1, 2]'), /not a JSON object: got an array/],
  ['duplicate tensor names', file(`{${A},${A}}`, new Uint8Array(8)), /the key "a" twice/],
  ['duplicate field', file('{"a":{"dtype":"F32","dtype":"F64","shape":[],"data_offsets":[0,4]}}', new Uint8Array(4)), /the key "dtype" twice/],
  ['unknown dtype', file('{"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /unknown dtype "F17"/],
  ['unsupported dtype', file('{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', [0]), /unsupported dtype "F8_E4M3"/],
  [
    'shape/offset mismatch',
    file('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Uint8Array(8)),
    /shape\/offset mismatch: data_offsets \[0, 8\] span 8 bytes, expected 12/,
  ],
  ['offsets out of bounds', file(`{${A}}`, new Uint8Array(4)), /out of bounds: got end 8, expected at most 4/],
  ['overlapping offsets', file(`{${A},${B(4, 12)}}`, new Uint8Array(12)), /tensor "b": data_offsets \[4, 12\] overlap tensor "a"/],
  ['gap between tensors', file(`{${A},${B(12, 20)}}`, new Uint8Array(20)), /leave a gap: bytes 8\.\.12/],
  ['not starting at 0', file(`{${B(4, 12)}}`, new Uint8Array(12)), /leave a gap: bytes 0\.\.4/],
  ['trailing garbage', file(`{${A}}`, new Uint8Array(12)), /trailing garbage: 4 bytes/],
  ['negative dim', file('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}'), /shape must be an array of non-negative integers/],
  ['fractional dim', file('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,6]}}', new Uint8Array(6)), /shape must be/],
  ['reversed offsets', file('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}'), /data_offsets must be \[begin, end\]/],
  ['missing dtype', file('{"a":{"shape":[0],"data_offsets":[0,0]}}'), /dtype must be a string/],
  ['entry not an object', file('{"a":5}'), /entry must be an object/],
  ['non-string metadata', file('{"__metadata__":{"k":1}}'), /__metadata__ value for "k" is not a string/],
  ['BOOL not 0 or 1', file('{"m":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}', [2]), /BOOL value at flat index 0 is not 0 or 1/],
];

describe('malformed safetensors', () => {
  it.each(MALFORMED)('%s: throws a SafetensorsError naming the file', (_, bytes, pattern) => {
    const err = caught(() => parseSafetensors(bytes, 'bad.safetensors'));
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(err.message).toMatch(/^safetensors: bad\.safetensors: /);
    expect(err.message).toMatch(pattern);
  });

  it('every truncation of a valid file fails, and loadSafetensors names the path', () => {
    const bytes = serializeSafetensors({ w: f32([1, 2, 3], [3]), i: tensor([4], { dtype: 'int32' }) }, { a: 'b' });
    for (let len = 0; len < bytes.length; len++) expect(() => parseSafetensors(bytes.subarray(0, len), 'cut')).toThrow(SafetensorsError);
    const path = join(freshDir(), 'cut.safetensors');
    writeFileSync(path, bytes.subarray(0, bytes.length - 3));
    const err = caught(() => loadSafetensors(path));
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(err.message).toContain(`safetensors: ${path}: tensor "i": data_offsets`);
    expect(err.message).toMatch(/out of bounds/);
  });

  it('a corrupted byte anywhere gives a SafetensorsError or a valid result, never another error', () => {
    const bytes = serializeSafetensors({ w: f32([1, 2], [2]), n: tensor([[1, 2]], { dtype: 'float64' }) }, { k: 'v' });
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const bad = bytes.slice();
        bad[at] = value;
        try {
          parseSafetensors(bad, 'fuzz');
        } catch (e) {
          expect(e).toBeInstanceOf(SafetensorsError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---- atomic writes -------------------------------------------------------------------------

describe('atomic writes', () => {
  it('leaves the target untouched and no temp file when serialization throws midway', () => {
    const dir = freshDir(),
      path = join(dir, 'model.safetensors');
    saveSafetensors(path, { w: f32([1, 2], [2]) });
    const before = readFileSync(path);
    const bad = f32([3, 4], [2]);
    bad.data = () => {
      throw new Error('boom while encoding');
    };
    expect(() => saveSafetensors(path, { a: f32([5], [1]), b: bad })).toThrow('boom while encoding'); // after the header and "a"
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('writes into a temp file in the same directory, then renames it over the target', () => {
    const dir = freshDir(),
      path = join(dir, 'x.bin');
    writeFileSync(path, 'old');
    let during: string[] = [];
    expect(() =>
      writeFileAtomic(path, (sink) => {
        sink(new Uint8Array([1, 2, 3]));
        during = readdirSync(dir);
        throw new Error('crash');
      }),
    ).toThrow('crash');
    expect(during.length).toBe(2);
    expect(during.find((f) => f !== 'x.bin')).toMatch(/^\.x\.bin\.\d+\.[0-9a-f]+\.tmp$/);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['x.bin']);
    writeFileAtomic(path, (sink) => sink(new TextEncoder().encode('new')));
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['x.bin']);
  });
});

// ---- checkpoints ---------------------------------------------------------------------------

function fakeModel(sd: StateDict) {
  const calls: { sd: StateDict; opts: unknown }[] = [];
  return { calls, stateDict: () => sd, loadStateDict: (got: StateDict, opts?: unknown) => void calls.push({ sd: got, opts }) };
}
function fakeOptimizer(osd: OptimizerStateDict) {
  const calls: OptimizerStateDict[] = [];
  return { calls, stateDict: () => osd, loadStateDict: (got: OptimizerStateDict) => void calls.push(got) };
}
const draws = (g: Generator, n: number) => Array.from({ length: n }, () => g.nextU32());

describe('checkpoints', () => {
  const modelSd = {
    'layer.weight': f32([1, 2, 3, 4, 5, 6], [2, 3]),
    'layer.bias': tensor([0.1, 0.2, 0.3], { dtype: 'float64' }),
    'bn.num_batches_tracked': tensor(42, { dtype: 'int32' }),
  };
  const optSd: OptimizerStateDict = {
    state: {
      0: { momentum_buffer: f32([9, 8, 7, 6, 5, 4], [2, 3]), step: 3 },
      2: { exp_avg: f32([1, 1], [2]), exp_avg_sq: f32([2, 2], [2]), step: 7.5 },
      5: {},
    },
    paramGroups: [
      { params: [0, 1, 2], lr: 0.1, momentum: 0.9, nesterov: false, foreach: null, betas: [0.9, 0.999] },
      { params: [5], lr: 1e-3, weight_decay: 0 },
    ],
  };

  it('round-trips model, optimizer, step, generators and extra metadata; the generator continues its sequence', () => {
    const dir = freshDir(),
      path = checkpointPath(dir, 120);
    const train = new Generator(11),
      data = new Generator(12);
    draws(train, 3);
    const config = JSON.stringify({ lr: 0.1, widths: [8, 16] });
    saveCheckpoint(path, {
      model: fakeModel(modelSd),
      optimizer: fakeOptimizer(optSd),
      step: 120,
      generators: { train, data },
      extra: { config, note: 'ünïcode ✓' },
    });
    const next = draws(train, 5);

    const ck = loadCheckpoint(path);
    expect(ck.step).toBe(120);
    expect(Object.keys(ck.model).sort()).toEqual(Object.keys(modelSd).sort());
    for (const [k, t] of Object.entries(modelSd)) expectSameTensor(ck.model[k], t);
    expect(ck.optimizer!.paramGroups).toEqual(optSd.paramGroups);
    expect(Object.keys(ck.optimizer!.state).sort()).toEqual(['0', '2', '5']);
    for (const [i, ps] of Object.entries(optSd.state)) {
      for (const [k, v] of Object.entries(ps)) {
        const got = ck.optimizer!.state[Number(i)][k];
        if (typeof v === 'number') expect(got).toBe(v);
        else expectSameTensor(got as Tensor, v);
      }
    }
    expect(ck.extra).toEqual({ config, note: 'ünïcode ✓' });
    expect(JSON.parse(ck.extra.config)).toEqual({ lr: 0.1, widths: [8, 16] });

    const model = fakeModel({}),
      optimizer = fakeOptimizer({ state: {}, paramGroups: [] }),
      fresh = new Generator(999);
    const restored = restoreCheckpoint(path, { model, optimizer, generators: { train: fresh } });
    expect(restored.step).toBe(120);
    expect(model.calls.length).toBe(1);
    expect(model.calls[0].opts).toEqual({ strict: true });
    expect(optimizer.calls[0].paramGroups).toEqual(optSd.paramGroups);
    expect(draws(fresh, 5)).toEqual(next);

    const raw = loadSafetensors(path); // also a plain safetensors file for PyTorch
    expect(Object.keys(raw.tensors)).toContain('optim.state.0.momentum_buffer');
    expect(Object.keys(raw.tensors)).toContain('model.layer.weight');
    expect(raw.metadata['lad.step']).toBe('120');
  });

  it('restores nothing when the checkpoint lacks what a target needs', () => {
    const path = join(freshDir(), 'c.safetensors');
    saveCheckpoint(path, { model: fakeModel(modelSd), step: 1, generators: { train: new Generator(1) } });
    const model = fakeModel({});
    expect(() => restoreCheckpoint(path, { model, generators: { other: new Generator(2) } })).toThrow(/no state for generator "other"/);
    expect(() => restoreCheckpoint(path, { model, optimizer: fakeOptimizer(optSd) })).toThrow(/holds no optimizer state/);
    expect(model.calls.length).toBe(0);
    expect(loadCheckpoint(path).optimizer).toBeNull();
  });

  it('validates every part before applying any: a bad model, optimizer or generator part leaves all targets as they were', () => {
    const dir = freshDir();
    const trained = (inF: number) => {
      const m = new Linear(inF, 2, { generator: new Generator(inF) });
      const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
      m.forward(
        f32(
          Array.from({ length: inF }, (_, i) => i + 1),
          [1, inF],
        ),
      )
        .sum()
        .backward();
      opt.step(); // momentum buffers exist now
      return { m, opt };
    };
    const good = trained(3),
      other = trained(4);
    const zeroGen = { getState: () => [0, 0, 0, 0] }; // uint32 words, but not a valid xoshiro state
    const cases: [string, Parameters<typeof saveCheckpoint>[1], RegExp][] = [
      [
        'optimizer',
        { model: good.m, optimizer: other.opt, step: 1, generators: { g: new Generator(5) } },
        /optimizer state does not fit .*momentum_buffer: got shape \[2, 4\], expected \[2, 3\]/,
      ],
      [
        'model',
        { model: other.m, optimizer: good.opt, step: 1, generators: { g: new Generator(5) } },
        /model state does not fit .*weight: got \[2, 4\], expected \[2, 3\]/,
      ],
      ['generator', { model: good.m, optimizer: good.opt, step: 1, generators: { g: zeroGen } }, /state of generator "g" does not fit .*not all zero/],
    ];
    for (const [name, input, pattern] of cases) {
      const path = join(dir, `${name}.safetensors`);
      saveCheckpoint(path, input);
      const { m, opt } = trained(3);
      const gen = new Generator(77);
      const before = {
        weights: m.parameters().map(hex),
        opt: JSON.stringify(opt.stateDict().paramGroups),
        buffers: Object.values(opt.stateDict().state).flatMap((s) => Object.values(s).map((v) => (v instanceof Tensor ? hex(v) : v))),
        gen: gen.getState(),
      };
      const err = caught(() => restoreCheckpoint(path, { model: m, optimizer: opt, generators: { g: gen } }));
      expect(err, name).toBeInstanceOf(CheckpointError);
      expect(err.message, name).toMatch(pattern);
      expect(err.message, name).toContain(path);
      expect(m.parameters().map(hex), name).toEqual(before.weights);
      expect(JSON.stringify(opt.stateDict().paramGroups), name).toBe(before.opt);
      expect(
        Object.values(opt.stateDict().state).flatMap((s) => Object.values(s).map((v) => (v instanceof Tensor ? hex(v) : v))),
        name,
      ).toEqual(before.buffers);
      expect(gen.getState(), name).toEqual(before.gen);
    }
    // the same targets take a good checkpoint afterwards
    const path = join(dir, 'good.safetensors');
    saveCheckpoint(path, { model: good.m, optimizer: good.opt, step: 1, generators: { g: new Generator(5) } });
    const { m, opt } = trained(3);
    restoreCheckpoint(path, { model: m, optimizer: opt, generators: { g: new Generator(77) } });
    expect(m.parameters().map(hex)).toEqual(good.m.parameters().map(hex));
  });

  it('a truncated, corrupt or foreign file throws an error naming it', () => {
    const dir = freshDir(),
      path = join(dir, 'ck.safetensors');
    saveCheckpoint(path, { model: fakeModel(modelSd), optimizer: fakeOptimizer(optSd), step: 5 });
    const bytes = readFileSync(path);
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(() => loadCheckpoint(cut)).toThrow(SafetensorsError);
    expect(() => loadCheckpoint(cut)).toThrow(cut);
    const cases: [string, StateDict, Record<string, string>, RegExp][] = [
      ['foreign', { w: f32([1], [1]) }, { format: 'pt' }, /not a checkpoint/],
      ['badjson', {}, { 'lad.checkpoint': '1', 'lad.step': '1', 'lad.optimizer': '{oops' }, /"lad.optimizer" is not valid JSON/],
      ['badstep', {}, { 'lad.checkpoint': '1', 'lad.step': '-3' }, /"lad.step" must be a non-negative integer/],
      ['stray', { 'optim.state.0.x': f32([1], [1]) }, { 'lad.checkpoint': '1', 'lad.step': '1' }, /unexpected tensors \["optim.state.0.x"\]/],
      [
        'missing',
        {},
        { 'lad.checkpoint': '1', 'lad.step': '1', 'lad.optimizer': '{"paramGroups":[],"state":{"0":{"numbers":{},"tensors":["buf"]}}}' },
        /missing tensor "optim.state.0.buf"/,
      ],
      ['version', {}, { 'lad.checkpoint': '9', 'lad.step': '1' }, /unsupported checkpoint version/],
    ];
    for (const [name, tensors, metadata, pattern] of cases) {
      const p = join(dir, `${name}.safetensors`);
      saveSafetensors(p, tensors, metadata);
      expect(() => loadCheckpoint(p)).toThrow(CheckpointError);
      expect(() => loadCheckpoint(p)).toThrow(pattern);
      expect(() => loadCheckpoint(p)).toThrow(p);
    }
  });

  it("parseCheckpoint reads a file's bytes (a browser's File) as loadCheckpoint reads the file, and names its source on error", () => {
    const path = join(freshDir(), 'ck.safetensors');
    saveCheckpoint(path, {
      model: fakeModel(modelSd),
      optimizer: fakeOptimizer(optSd),
      step: 7,
      generators: { g: new Generator(3) },
      extra: { arm: 'control' },
    });
    const bytes = readFileSync(path);
    const [fromBytes, fromFile] = [parseCheckpoint(new Uint8Array(bytes), 'picked.safetensors'), loadCheckpoint(path)];
    expect({ ...fromBytes, model: null, optimizer: null }).toEqual({ ...fromFile, model: null, optimizer: null });
    for (const [k, t] of Object.entries(fromFile.model)) expectSameTensor(fromBytes.model[k], t);
    expect(fromBytes.optimizer!.paramGroups).toEqual(optSd.paramGroups);
    expect(() => parseCheckpoint(bytes.subarray(0, 100), 'picked.safetensors')).toThrow(/picked\.safetensors/);
    expect(() => parseCheckpoint(serializeSafetensors({ w: f32([1], [1]) }, { format: 'pt' }), 'pt.safetensors')).toThrow(CheckpointError);
  });

  it('refuses non-finite optimizer numbers before touching the file', () => {
    const path = join(freshDir(), 'nan.safetensors');
    const bad = fakeOptimizer({ state: { 0: { step: NaN } }, paramGroups: [] });
    expect(() => saveCheckpoint(path, { model: fakeModel({}), optimizer: bad, step: 0 })).toThrow(/"step" is NaN/);
    expect(readdirSync(dirname(path))).toEqual([]);
  });

  it('latestCheckpoint picks the highest step and ignores other files', () => {
    const dir = freshDir();
    expect(latestCheckpoint(join(dir, 'missing'))).toBeNull();
    expect(latestCheckpoint(dir)).toBeNull();
    for (const f of [
      'ckpt-00000005.safetensors',
      'ckpt-00000120.safetensors',
      'ckpt-99.safetensors',
      '.ckpt-00000999.safetensors.1.ab.tmp',
      'ckpt-500.txt',
      'other-9999.safetensors',
    ])
      writeFileSync(join(dir, f), '');
    expect(latestCheckpoint(dir)).toBe(join(dir, 'ckpt-00000120.safetensors'));
    expect(latestCheckpoint(dir, 'other')).toBe(join(dir, 'other-9999.safetensors'));
    expect(checkpointPath(dir, 7)).toBe(join(dir, 'ckpt-00000007.safetensors'));
  });
});

// ---- resume in a fresh process ---------------------------------------------------------------

describe('resume', () => {
  const script = join(ROOT, 'test', 'fixtures', 'train-resume.ts');
  function train(...args: string[]): string {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  }

  it('N steps equal N/2, save, load in a fresh process, N/2 (bit for bit)', () => {
    const N = 20,
      ckpt = join(freshDir(), 'half.safetensors');
    const straight = train(String(N));
    const first = train(String(N / 2), '--save', ckpt);
    expect(first).toMatch(/^step 10\n/);
    const resumed = train(String(N / 2), '--resume', ckpt);
    expect(resumed).toMatch(/^step 20\nparams [0-9a-f:]+\n$/);
    expect(resumed).toBe(straight);
    expect(train(String(N / 2), '--resume', ckpt, '--no-rng')).not.toBe(straight); // the test sees a lost generator state
  });
});

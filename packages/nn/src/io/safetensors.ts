// Reading and writing safetensors files, so weights move between this library and PyTorch
// (huggingface/safetensors README, "Format"): 8 bytes of little-endian u64 header length N, N bytes
// of UTF-8 JSON header padded with spaces to a multiple of 8, then the row-major little-endian data.
// Tensors are written as the reference writer orders them (larger alignment first, then by name),
// so every tensor's data is aligned; a reader checks everything before it builds any tensor.

import { Tensor } from '@lad/tensor';
import type { StateDict } from '../types.ts';
import { littleEndianBytes, WRITE } from './dtypes.ts';
import { nodeModule } from './node.ts';
import { SafetensorsError } from './errors.ts';
import { parseHeader, setOwn } from './header.ts';
import { writeFileAtomic } from './atomic.ts';

/** What a safetensors file holds: its tensors (in file order) and its `__metadata__` strings. */
export interface Safetensors {
  tensors: StateDict;
  metadata: Record<string, string>;
}

/** The reference reader's limit on the header (tensor.rs `MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;
const IN_MEMORY = '<in memory>';

interface Plan {
  header: Uint8Array; // the 8-byte length and the padded JSON
  order: { name: string; tensor: Tensor }[];
}

/** The file's bytes for `tensors` (non-contiguous tensors are written contiguously). */
export function serializeSafetensors(tensors: StateDict, metadata?: Record<string, string>): Uint8Array {
  const chunks: Uint8Array[] = [];
  writeSafetensors(tensors, metadata, IN_MEMORY, (c) => chunks.push(c));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/** Writes `tensors` to `path` atomically: a temp file in the same directory, fsync, rename, fsync of the directory. */
export function saveSafetensors(path: string, tensors: StateDict, metadata?: Record<string, string>): void {
  writeFileAtomic(path, (sink) => writeSafetensors(tensors, metadata, path, sink));
}

/** Reads a safetensors file; any defect throws a SafetensorsError naming `path`. */
export function loadSafetensors(path: string): Safetensors {
  return parseSafetensors(nodeModule('loadSafetensors', 'node:fs').readFileSync(path), path);
}

/** Streams the file's bytes to `sink`: the header, then one tensor at a time. */
function writeSafetensors(tensors: StateDict, metadata: Record<string, string> | undefined, file: string, sink: (c: Uint8Array) => void): void {
  const plan = planFile(tensors, metadata ?? {}, (why) => {
    throw new SafetensorsError(file, why);
  });
  sink(plan.header);
  for (const { tensor } of plan.order) sink(littleEndianBytes(tensor.data()));
}

function planFile(tensors: StateDict, metadata: Record<string, string>, fail: (why: string) => never): Plan {
  const order = Object.entries(tensors).map(([name, tensor]) => ({ name, tensor: checkTensor(name, tensor, fail) }));
  const utf8 = (s: string) => Buffer.from(s, 'utf8');
  order.sort((a, b) => WRITE[b.tensor.dtype].rank - WRITE[a.tensor.dtype].rank || Buffer.compare(utf8(a.name), utf8(b.name)));
  const parts: string[] = [];
  if (Object.keys(metadata).length > 0) parts.push(`"__metadata__":${metadataJson(metadata, fail)}`);
  let offset = 0;
  for (const { name, tensor } of order) {
    const w = WRITE[tensor.dtype],
      end = offset + tensor.numel() * w.size;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: w.name, shape: tensor.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.length / 8) * 8; // NOTE: padding with spaces keeps the data 8-byte aligned
  const header = new Uint8Array(8 + n).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(n), true);
  header.set(json, 8);
  return { header, order };
}

function checkTensor(name: string, t: unknown, fail: (why: string) => never): Tensor {
  if (name === '__metadata__') fail('a tensor cannot be named "__metadata__": the format reserves that key');
  if (!(t instanceof Tensor)) fail(`state dict entry ${JSON.stringify(name)} is not a Tensor: got ${typeof t}`);
  if (t.device !== 'cpu') fail(`tensor ${JSON.stringify(name)} is on ${t.device}: got device ${t.device}, expected cpu (call .to('cpu') first)`);
  if (!Object.hasOwn(WRITE, t.dtype)) fail(`tensor ${JSON.stringify(name)} has dtype ${String(t.dtype)}: expected float32, float64 or int32`);
  return t;
}

function metadataJson(metadata: Record<string, string>, fail: (why: string) => never): string {
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') fail(`metadata value for ${JSON.stringify(k)} is not a string: got ${typeof v}, expected a string (JSON.stringify it first)`);
  }
  return JSON.stringify(metadata);
}

/** Parses a whole safetensors file held in memory; `sourceName` names it in errors. */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer, sourceName = IN_MEMORY): Safetensors {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const fail = (why: string): never => {
    throw new SafetensorsError(sourceName, why);
  };
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 8) fail(`truncated header length: got ${buf.length} bytes, expected at least 8 (the u64 header length)`);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(buf.length - 8))
    fail(`header length ${n} goes beyond the end of the file: got ${buf.length - 8} bytes after the length, expected at least ${n}`);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header too large: got ${n} bytes, expected at most ${MAX_HEADER_BYTES}`);
  const dataStart = 8 + Number(n);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf.subarray(8, dataStart));
  } catch {
    fail('header is not valid UTF-8');
  }
  const header = parseHeader(text, buf.length - dataStart, fail);
  const tensors: StateDict = {};
  for (const e of header.entries) {
    const at = new DataView(buf.buffer, buf.byteOffset + dataStart + e.begin, e.end - e.begin);
    const data = e.codec.read(at, e.numel, (why) => fail(`tensor ${JSON.stringify(e.name)} (${e.dtype}): ${why}`));
    setOwn(tensors, e.name, Tensor.fromData(data, e.shape));
  }
  return { tensors, metadata: header.metadata };
}

// The JSON header of a safetensors file, checked as the reference reader does
// (huggingface/safetensors, README "Format" and tensor.rs `Metadata::validate`): an object of
// `name: { dtype, shape, data_offsets }` plus an optional `__metadata__` of string values; no
// duplicate keys; the tensors, taken in offset order, tile the data section exactly.

import { CODECS, UNSUPPORTED, type Codec } from './dtypes.ts';

export interface HeaderEntry {
  name: string;
  dtype: string;
  codec: Codec;
  shape: number[];
  numel: number;
  /** Byte offsets relative to the start of the data section, `end` one past the last byte. */
  begin: number;
  end: number;
}

export interface Header {
  /** In the order of their data in the file. */
  entries: HeaderEntry[];
  metadata: Record<string, string>;
}

type Fail = (why: string) => never;

const show = (v: unknown): string => (v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v)));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Sets an own enumerable property, even for a key like `__proto__`. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Parses and validates the header text against a data section of `dataLength` bytes. */
export function parseHeader(text: string, dataLength: number, fail: Fail): Header {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) fail(`header is not a JSON object: got ${Array.isArray(json) ? 'an array' : show(json)}`);
  const dup = findDuplicateKey(text);
  if (dup !== null) fail(`header has the key ${show(dup)} twice: duplicate keys are invalid`);
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') parseMetadata(value, metadata, fail);
    else entries.push(parseEntry(name, value, dataLength, fail));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  checkLayout(entries, dataLength, fail);
  return { entries, metadata };
}

function parseMetadata(value: unknown, out: Record<string, string>, fail: Fail): void {
  if (value === null) return; // NOTE: the reference reader takes null as "no metadata" (an Option)
  if (!isObject(value)) fail(`__metadata__ must be an object of strings: got ${show(value)}`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(`__metadata__ value for ${show(k)} is not a string: got ${show(v)}`);
    setOwn(out, k, v);
  }
}

function parseEntry(name: string, v: unknown, dataLength: number, fail: Fail): HeaderEntry {
  const where = `tensor ${show(name)}`;
  if (!isObject(v)) fail(`${where}: entry must be an object with dtype, shape and data_offsets: got ${show(v)}`);
  const { dtype, shape, data_offsets: offsets } = v;
  if (typeof dtype !== 'string') fail(`${where}: dtype must be a string: got ${show(dtype)}`);
  const codec = CODECS[dtype];
  if (!Object.hasOwn(CODECS, dtype)) {
    const readable = Object.keys(CODECS).join(', ');
    fail(`${where}: ${UNSUPPORTED.has(dtype) ? 'unsupported' : 'unknown'} dtype ${show(dtype)}: expected one of ${readable}`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) fail(`${where}: shape must be an array of non-negative integers: got ${show(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    fail(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end: got ${show(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const numel = shape.reduce((a: number, b: number) => a * b, 1);
  const nbytes = numel * codec.size;
  if (!Number.isSafeInteger(nbytes)) fail(`${where}: shape ${show(shape)} is too large: got ${nbytes} bytes`);
  if (end - begin !== nbytes) {
    fail(`${where}: shape/offset mismatch: data_offsets [${begin}, ${end}] span ${end - begin} bytes, expected ${nbytes} for ${dtype} of shape ${show(shape)}`);
  }
  if (end > dataLength)
    fail(`${where}: data_offsets [${begin}, ${end}] are out of bounds: got end ${end}, expected at most ${dataLength} (the data section's size)`);
  return { name, dtype, codec, shape: shape as number[], numel, begin, end };
}

/** Offsets sorted by begin must follow each other with no gap or overlap, up to the end of the data. */
function checkLayout(entries: readonly HeaderEntry[], dataLength: number, fail: Fail): void {
  let pos = 0,
    prev = '';
  for (const e of entries) {
    if (e.begin < pos) fail(`tensor ${show(e.name)}: data_offsets [${e.begin}, ${e.end}] overlap tensor ${show(prev)}, which ends at ${pos}`);
    if (e.begin > pos) fail(`tensor ${show(e.name)}: data_offsets [${e.begin}, ${e.end}] leave a gap: bytes ${pos}..${e.begin} belong to no tensor`);
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataLength)
    fail(`trailing garbage: ${dataLength - pos} bytes after the last tensor's data: got a data section of ${dataLength} bytes, expected ${pos}`);
}

/**
 * The first key that appears twice in one object of (already valid) JSON text, or null.
 * JSON.parse keeps the last silently; the format forbids duplicates.
 */
export function findDuplicateKey(text: string): string | null {
  const stack: (Set<string> | null)[] = []; // a key set per open object, null per open array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      expectKey = false;
      i = j;
    } else if (c === '{' || c === '[') {
      stack.push(c === '{' ? new Set() : null);
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return null;
}

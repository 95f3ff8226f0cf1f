// Image-file writers for fabricating small real-dataset layouts in temp dirs: JPEG (jpeg-js),
// RGB and gray PNG (image-io's encodePng), and true palette PNGs (colour type 3, written by hand
// since pngjs cannot write them; PNG spec §11.2.2 IHDR, §11.2.3 PLTE).

import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { deflateSync } from 'node:zlib';
import { encodePng } from '../../packages/lad/src/data/image-io.ts';

interface JpegJs {
  encode(img: { data: Uint8Array; width: number; height: number }, quality?: number): { data: Uint8Array };
}
// jpeg-js is a dependency of @lad/lad only, so resolve it from there.
const jpeg = createRequire(new URL('../../packages/lad/package.json', import.meta.url))('jpeg-js') as JpegJs;

function put(file: string, bytes: Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
}

/** A smooth deterministic RGB test pattern (H, W, 3). */
export function pattern(w: number, h: number, seed = 0): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const x = i % w,
      y = Math.floor(i / w);
    for (let c = 0; c < 3; c++) out[3 * i + c] = (40 + 25 * c + 9 * x + 13 * y + 31 * seed) % 256;
  }
  return out;
}

export function writeJpeg(file: string, w: number, h: number, rgb: Uint8Array = pattern(w, h)): void {
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], 255], 4 * i);
  put(file, jpeg.encode({ data: rgba, width: w, height: h }, 95).data);
}

export const writeGrayPng = (file: string, w: number, h: number, values: Uint8Array): void => put(file, encodePng(w, h, values, 1));
export const writeRgbPng = (file: string, w: number, h: number, rgb: Uint8Array = pattern(w, h)): void => put(file, encodePng(w, h, rgb, 3));

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** An 8-bit palette PNG: `indices` (H, W) into `colors` ([r, g, b] per palette entry). */
export function writePalettePng(file: string, w: number, h: number, indices: Uint8Array, colors: readonly (readonly number[])[]): void {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 3, 0, 0, 0], 8); // bit depth 8, colour type 3 (palette), deflate, filter 0, no interlace
  const rows = Buffer.alloc(h * (w + 1));
  for (let y = 0; y < h; y++) rows.set(indices.subarray(y * w, (y + 1) * w), y * (w + 1) + 1); // filter byte 0
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  put(
    file,
    Buffer.concat([sig, chunk('IHDR', ihdr), chunk('PLTE', Buffer.from(colors.flat())), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]),
  );
}

export function writeText(file: string, text: string): void {
  put(file, Buffer.from(text, 'utf8'));
}

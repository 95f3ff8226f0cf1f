// Image files: PNG (pngjs) and JPEG (jpeg-js) decoding to interleaved 8-bit RGB or single-channel
// label maps, and PNG encoding. Every failure names the file; nothing is skipped silently.

import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';

/** An 8-bit RGB image. */
export interface RgbImage {
  width: number;
  height: number /** interleaved RGB, row-major */;
  data: Uint8Array;
}
/** An 8-bit single-channel image (e.g. a label map). */
export interface GrayImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** An image file that cannot be read or decoded; the message names the file. */
export class ImageFileError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`image: ${file}: ${detail}`);
    this.name = 'ImageFileError';
  }
}

const isPng = (b: Uint8Array) => b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
const isJpeg = (b: Uint8Array) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** RGBA pixels of a PNG or JPEG file's bytes (format from the magic number, not the name). */
function decodeRgba(bytes: Uint8Array, file: string): { width: number; height: number; rgba: Uint8Array } {
  try {
    if (isPng(bytes)) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, rgba: png.data };
    }
    if (isJpeg(bytes)) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      return { width: img.width, height: img.height, rgba: img.data };
    }
  } catch (e) {
    throw new ImageFileError(file, `cannot decode (${(e as Error).message})`);
  }
  throw new ImageFileError(file, bytes.length === 0 ? 'empty file' : 'neither a PNG nor a JPEG file');
}

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ImageFileError(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
}

/** Decodes an RGB(A) or gray image to interleaved RGB (alpha dropped, gray replicated). */
export function decodeRgb(bytes: Uint8Array, file = '<bytes>'): RgbImage {
  const { width, height, rgba } = decodeRgba(bytes, file);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    data[3 * i] = rgba[j];
    data[3 * i + 1] = rgba[j + 1];
    data[3 * i + 2] = rgba[j + 2];
  }
  return { width, height, data };
}

/**
 * Decodes a label map: 8-bit gray (or palette) PNG values are the class ids. For palette PNGs such
 * as VOC's, pngjs expands the palette to RGB, so the ids are recovered through `palette` when given,
 * else from the red channel of a gray image.
 */
export function decodeLabel(bytes: Uint8Array, file = '<bytes>', palette?: ReadonlyMap<number, number>): GrayImage {
  const { width, height, rgba } = decodeRgba(bytes, file);
  const data = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    if (palette) {
      const id = palette.get((rgba[j] << 16) | (rgba[j + 1] << 8) | rgba[j + 2]);
      if (id === undefined)
        throw new ImageFileError(
          file,
          `pixel ${i % width},${Math.floor(i / width)} has colour (${rgba[j]}, ${rgba[j + 1]}, ${rgba[j + 2]}), which is not in the palette`,
        );
      data[i] = id;
    } else data[i] = rgba[j];
  }
  return { width, height, data };
}

/** Reads a PNG or JPEG file as 8-bit RGB. */
export const readRgb = (file: string): RgbImage => decodeRgb(readBytes(file), file);
/** Reads a label PNG as 8-bit class ids (mapped through `palette` for colour-coded labels). */
export const readLabel = (file: string, palette?: ReadonlyMap<number, number>): GrayImage => decodeLabel(readBytes(file), file, palette);

/** PNG bytes of an RGB (3 channels) or gray (1 channel) 8-bit image. */
export function encodePng(width: number, height: number, data: Uint8Array, channels: 1 | 3): Uint8Array {
  const png = new PNG({ width, height, colorType: channels === 1 ? 0 : 2, inputColorType: channels === 1 ? 0 : 2, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(data);
  return PNG.sync.write(png, { colorType: channels === 1 ? 0 : 2, inputColorType: channels === 1 ? 0 : 2, inputHasAlpha: false });
}

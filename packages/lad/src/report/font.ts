// A tiny built-in 5x7 bitmap font (printable ASCII 32–126) and text drawing onto any pixel sink.
// Each glyph is five columns of bits (bit 0 = top row) written as ten hex digits: 7 rows, plus an
// 8th for the descenders of g j p q y; glyphs advance 6 pixels and lines are 8 tall, times `scale`.
// Unknown characters draw as '?'. Text can also be drawn rotated 90° counter-clockwise (axis labels).

/** An 8-bit RGB colour. */
export type Rgb = readonly [number, number, number];

/** Anything text can be drawn onto: the Canvas satisfies it. */
export interface PixelSink {
  setPixel(x: number, y: number, color: Rgb): void;
}

/** Glyph width of the built-in font (px at scale 1). */
export const GLYPH_W = 5;
/** Glyph height of the built-in font (px at scale 1). */
export const GLYPH_H = 7;
/** Horizontal advance per character (px at scale 1). */
export const ADVANCE = 6;
/** Line height (px at scale 1). */
export const LINE_H = 8;

// biome-ignore format: a bitmap table, eight glyphs per row
const GLYPHS = [
  '0000000000', '00005f0000', '0007000700', '147f147f14', '242a7f2a12', '2313086462', '3649552250', '0005030000',
  '001c224100', '0041221c00', '082a1c2a08', '08083e0808', '0050300000', '0808080808', '0060600000', '2010080402',
  '3e5149453e', '00427f4000', '4261514946', '2141454b31', '1814127f10', '2745454539', '3c4a494930', '0171090503',
  '3649494936', '064949291e', '0036360000', '0056360000', '0008142241', '1414141414', '4122140800', '0201510906',
  '324979413e', '7e1111117e', '7f49494936', '3e41414122', '7f4141221c', '7f49494941', '7f09090101', '3e41415132',
  '7f0808087f', '00417f4100', '2040413f01', '7f08142241', '7f40404040', '7f0204027f', '7f0408107f', '3e4141413e',
  '7f09090906', '3e4151215e', '7f09192946', '4649494931', '01017f0101', '3f4040403f', '1f2040201f', '7f2018207f',
  '6314081463', '0304780403', '6151494543', '007f414100', '0204081020', '41417f0000', '0402010204', '4040404040',
  '0001020400', '2054545478', '7f48444438', '3844444420', '384444487f', '3854545418', '087e090102', '18a4a4a47c',
  '7f08040478', '00447d4000', '0080807d00', '007f102844', '00417f4000', '7c0418047c', '7c08040478', '3844444438',
  'fc24242418', '18242424fc', '7c08040408', '4854545420', '043f444020', '3c4040207c', '1c2040201c', '3c4030403c',
  '4428102844', '1ca0a0a07c', '4464544c44', '0008364100', '00007f0000', '0041360800', '0804081008',
];

/** The five column bitmasks of a character (space for control characters, '?' for the unknown). */
export function glyph(ch: string): number[] {
  const code = ch.charCodeAt(0);
  const hex = GLYPHS[code >= 32 && code <= 126 ? code - 32 : 31];
  return [0, 1, 2, 3, 4].map((i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

/** Width in pixels of `text` at `scale` (no trailing blank column). */
export const textWidth = (text: string, scale = 1): number => (text.length === 0 ? 0 : (text.length * ADVANCE - 1) * scale);
/** Height of a line of text at `scale` (px). */
export const textHeight = (scale = 1): number => GLYPH_H * scale;

/** Draws `text` with its top-left corner at (x, y); each font pixel becomes a scale×scale block. */
export function drawText(sink: PixelSink, x: number, y: number, text: string, color: Rgb, scale = 1): void {
  for (let i = 0; i < text.length; i++) {
    drawGlyph(glyph(text[i]), (gx, gy) => plot(sink, x + (i * ADVANCE + gx) * scale, y + gy * scale, scale, color));
  }
}

/** Draws `text` rotated 90° counter-clockwise, reading bottom-up; (x, y) is the top-left of its box. */
export function drawTextVertical(sink: PixelSink, x: number, y: number, text: string, color: Rgb, scale = 1): void {
  const bottom = y + textWidth(text, scale) - scale;
  for (let i = 0; i < text.length; i++) {
    drawGlyph(glyph(text[i]), (gx, gy) => plot(sink, x + gy * scale, bottom - (i * ADVANCE + gx) * scale, scale, color));
  }
}

function drawGlyph(cols: number[], on: (gx: number, gy: number) => void): void {
  for (let gx = 0; gx < GLYPH_W; gx++) for (let gy = 0; gy < LINE_H; gy++) if ((cols[gx] >> gy) & 1) on(gx, gy);
}

function plot(sink: PixelSink, x: number, y: number, scale: number, color: Rgb): void {
  for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) sink.setPixel(x + dx, y + dy, color);
}

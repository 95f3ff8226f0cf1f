// Training augmentation (lad-method.md §2.1): the scale set, output crop size, pad values (image 0,
// label -1), seeded determinism, flips of both image and label together, and (fast-check) that image
// and label stay aligned: each image pixel encodes its label's code, so after augmentation every
// labelled pixel must carry its own code (exactly without rescaling; between neighbouring codes with it).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Generator, Tensor, ValueError } from '@lad/tensor';
import { augment, rescale, roundHalfEven, scaleChoices, type AugmentOptions } from '../packages/lad/src/data/augment.ts';
import type { Sample } from '../packages/lad/src/data/types.ts';

const CODE = 8; // image value of label k is k·CODE in every channel (channel 1 negated, channel 2 + 1)
const code = (k: number, c: number) => (c === 1 ? -k * CODE : k * CODE + (c === 2 ? 1 : 0));

/** A sample whose image encodes its label: label k ↔ image (8k, -8k, 8k+1). */
function encoded(label: Int32Array, H: number, W: number, id = 's'): Sample {
  const image = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++) for (let i = 0; i < H * W; i++) image[c * H * W + i] = code(label[i], c);
  return { id, image: Tensor.fromData(image, [3, H, W]), label: Tensor.fromData(label, [H, W]) };
}

/** A label map of axis-aligned blocks (each at least `minSide` px) with random classes 0..K-1. */
function blocks(H: number, W: number, cuts: number[][], classes: number[], minSide: number): Int32Array {
  const edges = (n: number, raw: number[]) =>
    [...new Set(raw.map((v) => minSide * Math.floor(v * (n / minSide))).filter((v) => v > 0 && n - v >= minSide))].sort((a, b) => a - b);
  const ys = edges(H, cuts[0]),
    xs = edges(W, cuts[1]);
  const band = (v: number, e: number[]) => e.filter((b) => v >= b).length;
  const out = new Int32Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = classes[(band(y, ys) * 7 + band(x, xs)) % classes.length];
  return out;
}

const arr = (t: Tensor) => Array.from(t.data());

describe('augment: scale set, crop size, padding', () => {
  it('draws from {0.5, 0.6, …, 2.0} by default and honours scaleRange/scaleStep', () => {
    expect(scaleChoices({ cropSize: 4 })).toEqual([0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2]);
    expect(scaleChoices({ cropSize: 4, scaleRange: [0.75, 1.25], scaleStep: 0.25 })).toEqual([0.75, 1, 1.25]);
    expect(() => scaleChoices({ cropSize: 4, scaleRange: [1, 0.5] })).toThrow(ValueError);
  });

  it('rounds sizes half to even as cv2 does', () => {
    expect([186.5, 187.5, 2.5, 3.5, 4.4, 4.6].map(roundHalfEven)).toEqual([186, 188, 2, 4, 4, 5]);
  });

  it('rescales to cvRound(H·f) × cvRound(W·f): bilinear image, nearest label', () => {
    const s = encoded(
      Int32Array.from({ length: 5 * 7 }, (_, i) => i % 3),
      5,
      7,
    );
    const r = rescale(s, 1.5);
    expect(r.image.shape).toEqual([3, 8, 10]); // 7.5 → 8, 10.5 → 10
    expect(r.label.shape).toEqual([8, 10]);
    expect(r.label.dtype).toBe('int32');
    expect(new Set(arr(r.label))).toEqual(new Set([0, 1, 2]));
  });

  it('outputs the crop size and pads bottom/right with image 0 and label -1', () => {
    const H = 5,
      W = 6;
    const s = encoded(
      Int32Array.from({ length: H * W }, (_, i) => 1 + (i % 4)),
      H,
      W,
    );
    const opts: AugmentOptions = { cropSize: [8, 10], scaleRange: [1, 1], flip: false };
    const out = augment(s, new Generator(3), opts);
    expect(out.image.shape).toEqual([3, 8, 10]);
    expect(out.label.shape).toEqual([8, 10]);
    const lab = arr(out.label),
      img = arr(out.image);
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 10; x++) {
        const inside = y < H && x < W;
        expect(lab[y * 10 + x]).toBe(inside ? s.label.data()[y * W + x] : -1);
        if (!inside) for (let c = 0; c < 3; c++) expect(img[c * 80 + y * 10 + x]).toBe(0);
      }
  });

  it('takes a crop of a larger image at a random offset', () => {
    const s = encoded(
      Int32Array.from({ length: 20 * 30 }, (_, i) => i % 5),
      20,
      30,
    );
    const out = augment(s, new Generator(0), { cropSize: 7, scaleRange: [1, 1] });
    expect(out.image.shape).toEqual([3, 7, 7]);
    expect(out.label.shape).toEqual([7, 7]);
  });
});

describe('augment: determinism and flip', () => {
  const s = encoded(
    Int32Array.from({ length: 13 * 17 }, (_, i) => (i * 7) % 5),
    13,
    17,
  );
  const opts: AugmentOptions = { cropSize: [9, 11] };

  it('the same seed gives the same bits; different seeds give different crops', () => {
    const a = augment(s, new Generator(42), opts),
      b = augment(s, new Generator(42), opts);
    expect(arr(a.image)).toEqual(arr(b.image));
    expect(arr(a.label)).toEqual(arr(b.label));
    const outs = new Set(Array.from({ length: 8 }, (_, k) => arr(augment(s, new Generator(k), opts).label).join(',')));
    expect(outs.size).toBeGreaterThan(1);
  });

  it('flips image and label together, about half the time', () => {
    const H = 4,
      W = 5;
    const lab = Int32Array.from({ length: H * W }, (_, i) => i % 7);
    const src = encoded(lab, H, W);
    const mirrored = Array.from({ length: H * W }, (_, i) => lab[Math.floor(i / W) * W + (W - 1 - (i % W))]);
    let flips = 0;
    for (let seed = 0; seed < 40; seed++) {
      const out = augment(src, new Generator(seed), { cropSize: [H, W], scaleRange: [1, 1] });
      const l = arr(out.label);
      const flipped = l.join() === mirrored.join();
      expect(flipped || l.join() === Array.from(lab).join()).toBe(true);
      expect(arr(out.image)).toEqual(arr(encoded(Int32Array.from(l), H, W).image));
      flips += flipped ? 1 : 0;
    }
    expect(flips).toBeGreaterThan(8);
    expect(flips).toBeLessThan(32);
    const never = Array.from({ length: 10 }, (_, seed) =>
      arr(augment(src, new Generator(seed), { cropSize: [H, W], scaleRange: [1, 1], flip: false }).label).join(),
    );
    expect(new Set(never)).toEqual(new Set([Array.from(lab).join()]));
  });
});

describe('augment: image and label stay aligned (property)', () => {
  const dims = fc.record({
    H: fc.integer({ min: 1, max: 24 }),
    W: fc.integer({ min: 1, max: 24 }),
    ch: fc.integer({ min: 1, max: 20 }),
    cw: fc.integer({ min: 1, max: 20 }),
    seed: fc.nat(),
  });

  it('without rescaling every pixel keeps exactly its own code (any label map)', () => {
    fc.assert(
      fc.property(dims, fc.array(fc.integer({ min: -1, max: 9 }), { minLength: 576, maxLength: 576 }), ({ H, W, ch, cw, seed }, labs) => {
        const s = encoded(Int32Array.from(labs.slice(0, H * W)), H, W);
        const out = augment(s, new Generator(seed), { cropSize: [ch, cw], scaleRange: [1, 1] });
        const l = arr(out.label),
          img = arr(out.image);
        l.forEach((k, i) => {
          if (k >= 0) for (let c = 0; c < 3; c++) expect(img[c * ch * cw + i]).toBe(code(k, c));
        });
      }),
      { numRuns: 60 },
    );
  });

  const blockArb = fc.record({
    H: fc.integer({ min: 8, max: 28 }),
    W: fc.integer({ min: 8, max: 28 }),
    seed: fc.nat(),
    cuts: fc.tuple(
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }),
    ),
    classes: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 6 }),
  });

  it('rescaling by every factor keeps labels from the input and each pixel at its own code, or (at a boundary) between neighbouring codes', () => {
    fc.assert(
      fc.property(blockArb, ({ H, W, cuts, classes }) => {
        const lab = blocks(H, W, cuts, classes, 4);
        for (const f of scaleChoices({ cropSize: 1 })) {
          const r = rescale(encoded(lab, H, W), f);
          const [, SH, SW] = r.image.shape;
          checkNeighbourCodes(arr(r.label), arr(r.image), SH, SW, new Set(lab), 0);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('the full augmentation (scale, pad, crop, flip) keeps the same relation away from the crop edges', () => {
    fc.assert(
      fc.property(blockArb, fc.integer({ min: 8, max: 24 }), ({ H, W, seed, cuts, classes }, crop) => {
        const lab = blocks(H, W, cuts, classes, 4);
        const out = augment(encoded(lab, H, W), new Generator(seed), { cropSize: crop });
        checkNeighbourCodes(arr(out.label), arr(out.image), crop, crop, new Set(lab), 2);
      }),
      { numRuns: 60 },
    );
  });
});

/**
 * Every label is an input label or -1; every labelled pixel at least `margin` px from the edges has
 * channel 0 equal to its own code when its 5×5 neighbourhood has one label, else between the smallest
 * and largest code there. (A crop edge cuts off the neighbours a pixel was mixed with, hence margin.)
 */
function checkNeighbourCodes(l: number[], img: number[], H: number, W: number, allowed: Set<number>, margin: number): void {
  expect(violation(l, img, H, W, allowed, margin)).toBeNull();
}

function violation(l: number[], img: number[], H: number, W: number, allowed: Set<number>, margin: number): string | null {
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const k = l[y * W + x];
      if (k !== -1 && !allowed.has(k)) return `label ${k} at ${x},${y} is not an input label`;
      if (k < 0 || y < margin || x < margin || y >= H - margin || x >= W - margin) continue;
      let lo = Infinity,
        hi = -Infinity;
      for (let dy = -2; dy <= 2; dy++)
        for (let dx = -2; dx <= 2; dx++) {
          const yy = y + dy,
            xx = x + dx;
          const n = yy >= 0 && yy < H && xx >= 0 && xx < W ? l[yy * W + xx] : -1;
          if (n >= 0) [lo, hi] = [Math.min(lo, n), Math.max(hi, n)];
        }
      const v = img[y * W + x];
      const ok = lo === hi ? Math.abs(v - code(k, 0)) < 1e-3 : v >= lo * CODE - 1e-3 && v <= hi * CODE + 1e-3;
      if (!ok) return `pixel ${x},${y} has label ${k} but image ${v} (neighbour labels ${lo}..${hi})`;
    }
  return null;
}

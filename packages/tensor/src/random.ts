// The library's one seeded random generator: xoshiro128** seeded through splitmix32.
// Every random draw (rand, randn, randint, dropout, shuffles, init) goes through a Generator,
// so the same seed gives the same bits; its state can be saved in a checkpoint and restored.

import { ValueError } from './errors.ts';

/** Seeded random generator (xoshiro128**): uniform, normal and integer draws whose state can be saved and restored. */
export class Generator {
  private s = new Uint32Array(4);

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /** Resets the state from a seed (any integer or float; it is hashed with splitmix32). */
  manualSeed(seed: number): this {
    if (!Number.isFinite(seed)) throw new ValueError(`manualSeed: seed must be a finite number: got ${seed}.`);
    let x = (Math.floor(seed) ^ Math.floor(seed / 2 ** 32)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0; // splitmix32
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
    return this;
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    return ((this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6)) / 9007199254740992;
  }

  /** Uniform integer in [low, high). */
  nextInt(low: number, high: number): number {
    return low + Math.floor(this.nextFloat() * (high - low));
  }

  /** A standard normal pair through Box–Muller. */
  nextNormalPair(): [number, number] {
    const u1 = 1 - this.nextFloat(); // (0, 1]
    const u2 = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u1));
    return [r * Math.cos(2 * Math.PI * u2), r * Math.sin(2 * Math.PI * u2)];
  }

  /** Fills `out` with uniform [low, high). */
  fillUniform(out: Float32Array | Float64Array, low = 0, high = 1): void {
    for (let i = 0; i < out.length; i++) {
      out[i] = low + (high - low) * this.nextFloat();
      // NOTE: stored in float32 a draw can round up to `high` (for [0, 1): any u > 1 − 2^-25); redraw
      // it, a bounded number of times in case the range is narrower than float32's spacing.
      for (let k = 0; out[i] >= high && high > low && k < 16; k++) out[i] = low + (high - low) * this.nextFloat();
    }
  }

  /**
   * Fills `out` with normal(mean, std), pairs at a time (an odd tail drops its second draw): nextNormalPair's
   * draws, inlined so that no pair array is made per draw (the label channel's noise takes N·H·W a step).
   */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): void {
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      const u1 = 1 - this.nextFloat(); // (0, 1]
      const u2 = this.nextFloat();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = mean + std * (r * Math.cos(2 * Math.PI * u2));
      if (i + 1 < n) out[i + 1] = mean + std * (r * Math.sin(2 * Math.PI * u2));
    }
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.nextInt(0, i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }

  /** A random permutation of 0..n-1. */
  randperm(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  getState(): number[] {
    return Array.from(this.s);
  }

  setState(state: readonly number[]): this {
    if (state.length !== 4 || state.every((v) => v === 0))
      throw new ValueError(`Generator.setState: expected 4 uint32 words, not all zero: got ${JSON.stringify(state)}.`);
    this.s.set(state);
    return this;
  }
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** The default generator used when an op is not given one. */
export const defaultGenerator = new Generator(0);

/** Seeds the default generator (like `torch.manual_seed`). */
export function manualSeed(seed: number): Generator {
  return defaultGenerator.manualSeed(seed);
}

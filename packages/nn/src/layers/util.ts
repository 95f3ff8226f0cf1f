// Helpers shared by the layer constructors: options every parameterised layer takes, argument
// checks with the library's error format, and number formatting for reprs.

import { ValueError, type Generator } from '@lad/tensor';

/** What a layer's tensors are created with (PyTorch's factory kwargs, plus the init generator). */
export interface FactoryOptions {
  dtype?: 'float32' | 'float64';
  /** Draws the default init; the library's defaultGenerator when absent. */
  generator?: Generator;
}

/** Checks an integer argument >= min. */
export function checkInt(op: string, name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new ValueError(`${op}: ${name} must be an integer >= ${min}: got ${v}.`);
  return v;
}

/** `3` or `[3, 5]` → `[3, 5]`-style pair of integers >= min. */
export function intPair(op: string, name: string, v: number | readonly number[], min: number): [number, number] {
  const p = typeof v === 'number' ? [v, v] : [...v];
  if (p.length !== 2) throw new ValueError(`${op}: ${name} must be a number or a pair: got [${p.join(', ')}].`);
  return [checkInt(op, name, p[0], min), checkInt(op, name, p[1], min)];
}

/** Numbers as in a repr: small magnitudes in exponent form (1e-5, not 0.00001). */
export const fmtNum = (v: number): string => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v));

/** `[1, 1]` */
export const fmtPair = (p: readonly number[]): string => `[${p.join(', ')}]`;

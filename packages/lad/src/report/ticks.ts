// Axis ticks and their labels: "nice" linear ticks (steps of 1, 2, 2.5 or 5 × 10^k), decade ticks for
// log axes, and compact number formatting that keeps tick labels short and distinct.

/** Axis ticks: the axis range and the tick values. */
export interface Ticks {
  lo: number;
  hi: number;
  values: number[];
}

/** A nice step for covering `span` in about `target` intervals. */
export function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

/** Ticks for [min, max]; `extend` widens the range to whole steps (auto ranges), else ticks stay inside. */
export function linearTicks(min: number, max: number, target: number, extend: boolean): Ticks {
  const step = niceStep(max - min, target);
  const lo = extend ? Math.floor(min / step + 1e-9) * step : min;
  const hi = extend ? Math.ceil(max / step - 1e-9) * step : max;
  const values: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) values.push(snap(k * step, step));
  return { lo, hi, values };
}

/** Ticks of a log axis in log10 space: decades, plus 2× and 5× when the range spans under two decades. */
export function logTicks(lo: number, hi: number): Ticks {
  const mantissas = hi - lo < 2 ? [1, 2, 5] : [1];
  const values: number[] = [];
  for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) {
    for (const m of mantissas) {
      const t = d + Math.log10(m);
      if (t >= lo - 1e-9 && t <= hi + 1e-9) values.push(t);
    }
  }
  return { lo, hi, values };
}

/** Removes floating-point noise (0.30000000000000004 → 0.3) relative to the step. */
const snap = (v: number, step: number): number => (Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));

/** A short label for a tick on an axis with the given step (decimals follow the step). */
export function formatTick(v: number, step: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return formatNumber(v);
  const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (niceMantissa(step) === 2.5 ? 1 : 0)));
  return v.toFixed(decimals);
}

const niceMantissa = (step: number): number => Number((step / 10 ** Math.floor(Math.log10(step) + 1e-9)).toPrecision(3));

/** Compact general formatting: 3 significant digits, exponent form for very large or small values. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential(2).split('e');
    return `${trimZeros(m)}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(3)));
}

const trimZeros = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);

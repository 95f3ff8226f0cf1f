// A one-line training progress display for a TTY (rewritten in place with '\r'): percent, a bar,
// step count, elapsed time, ETA as h:mm:ss from the mean rate so far, and the current losses.
// The line never exceeds `width` columns, so it does not wrap; the bar takes what the text leaves.

/** Options of a training progress line: step, total, start and current time, the loss parts shown and the bar width. */
export interface ProgressOptions {
  step: number;
  total: number;
  /** Milliseconds, as Date.now() or performance.now(); `now` on the same clock. */
  startedAt: number;
  now: number;
  parts: Record<string, number>;
  /** Terminal columns (default 100). */
  width?: number;
}

/** h:mm:ss (hours unbounded); '-:--:--' for unknown (negative or non-finite) durations. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-:--:--';
  const s = Math.round(seconds);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

/** A loss value in at most ~8 characters. */
export function formatLoss(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(a >= 100 ? 1 : 4);
}

/** The progress line (see the file header). */
export function progressLine(opts: ProgressOptions): string {
  const { step, total, startedAt, now } = opts;
  const width = opts.width ?? 100;
  const frac = total > 0 ? Math.min(1, Math.max(0, step / total)) : 0;
  const elapsed = Math.max(0, (now - startedAt) / 1000);
  const eta = step > 0 ? (elapsed / step) * Math.max(0, total - step) : NaN;
  const head = `${(100 * frac).toFixed(1).padStart(5)}%`;
  const tail = ` ${step}/${total} ${formatDuration(elapsed)} ETA ${formatDuration(eta)}`;
  const losses = Object.entries(opts.parts)
    .map(([k, v]) => `${k} ${formatLoss(v)}`)
    .join(' ');
  const text = tail + (losses ? ` | ${losses}` : '');
  const barW = Math.max(10, Math.min(40, width - head.length - text.length - 3));
  const filled = Math.round(frac * barW);
  return clip(`${head} [${'#'.repeat(filled)}${'.'.repeat(barW - filled)}]${text}`, width);
}

const clip = (line: string, width: number): string => (line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}~`);

// Every seeded random stream of @lad/lad in one registry. A generator is seeded with
// `mixSeed(STREAM.x, ...parts)` (or `mixSeed(seed, STREAM.x)` in the experiment), so two streams never
// share draws and adding a stream changes no other stream's numbers. Same seed, same bits.

/** murmur3's 32-bit finaliser. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 32-bit seed from integer parts (order matters); independent streams for different part lists. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = fmix32((h ^ fmix32((p >>> 0) ^ Math.floor(p / 2 ** 32))) + 0x7f4a7c15);
  }
  return h;
}

/** A seed part from a name (an arm's, in the experiment's defaultGenerator stream). */
export const hashName = (s: string): number => [...s].reduce((h, c) => mixSeed(h, c.charCodeAt(0)), 0);

/** The stream ids. The numbers are part of every result's bits: never renumber one. */
export const STREAM = {
  /** DataLoader: the epoch's shuffle, mixSeed(shuffle, trainSeed, epoch). */
  shuffle: 1,
  /** Augmentation of one sample, mixSeed(augment, trainSeed, epoch, index). */
  augment: 2,
  /** trainModel's loss generator (label codes and noise of the steps), mixSeed(loss, trainSeed). */
  loss: 3,
  /** `lad train-teacher`: the redraw of the label channel's first-layer weights. */
  cliLabelRedraw: 5,
  /** Experiment: the baseline stage's data order. */
  baseline: 11,
  /** Experiment: the data order of every fine-tuning arm of a seed (the same for all arms). */
  finetune: 12,
  /** Experiment: the fresh model init every arm starts from. */
  init: 13,
  /** Experiment: the teachers' label-channel redraw (the same for every teacher of a seed). */
  redraw: 14,
  /** Experiment: the library's defaultGenerator, mixed with the arm's name. */
  default: 15,
  /** Experiment: evaluation label codes and noise. */
  eval: 16,
  /** The label channel's kernel when a 3-channel pretrained stem is widened (--backbone-from). */
  pretrained: 17,
} as const;

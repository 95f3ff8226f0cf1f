// Learning-rate schedules: a schedule is a pure function (iter, baseLr) => lr, and one LRScheduler
// applies it to an optimizer's groups. Closed forms follow mmcv's PolyLrUpdaterHook (poly, as in
// mmsegmentation) and torch.optim.lr_scheduler's StepLR, CosineAnnealingLR (its closed form),
// LinearLR, SequentialLR and ChainedScheduler. After construction the groups hold lr(0); each
// step() advances one iteration, so after k steps they hold lr(k).

import { ValueError } from '@lad/tensor';

/** The learning rate at iteration `iter` (0-based) for a group whose base lr is `baseLr`. */
export type Schedule = (iter: number, baseLr: number) => number;

function positive(op: string, name: string, v: number): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new ValueError(`${op}: ${name}: got ${String(v)}, expected a finite number > 0.`);
}

/** (base − minLr)·(1 − it/maxIters)^power + minLr, held at minLr after maxIters. */
export function poly(o: { power: number; maxIters: number; minLr?: number }): Schedule {
  positive('poly', 'maxIters', o.maxIters);
  if (!(o.power >= 0)) throw new ValueError(`poly: power: got ${o.power}, expected a number >= 0.`);
  const minLr = o.minLr ?? 0;
  return (it, base) => (base - minLr) * (1 - Math.min(it, o.maxIters) / o.maxIters) ** o.power + minLr;
}

/** base·γ^⌊it/stepSize⌋ (torch StepLR). */
export function stepDecay(o: { stepSize: number; gamma?: number }): Schedule {
  positive('stepDecay', 'stepSize', o.stepSize);
  const gamma = o.gamma ?? 0.1;
  return (it, base) => base * gamma ** Math.floor(it / o.stepSize);
}

/** η_min + (base − η_min)·(1 + cos(π·it/tMax))/2 (torch CosineAnnealingLR's closed form, periodic past tMax). */
export function cosine(o: { tMax: number; etaMin?: number }): Schedule {
  positive('cosine', 'tMax', o.tMax);
  const etaMin = o.etaMin ?? 0;
  return (it, base) => etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * it) / o.tMax))) / 2;
}

/** base·(s + (1 − s)·min(it, warmupIters)/warmupIters): s·base rising linearly to base (torch LinearLR to 1). */
export function linearWarmup(o: { warmupIters: number; startFactor?: number }): Schedule {
  positive('linearWarmup', 'warmupIters', o.warmupIters);
  const s = o.startFactor ?? 1 / 3;
  if (!(s > 0 && s <= 1)) throw new ValueError(`linearWarmup: startFactor: got ${s}, expected 0 < startFactor <= 1.`);
  return (it, base) => base * (s + ((1 - s) * Math.min(it, o.warmupIters)) / o.warmupIters);
}

/** schedules[i] from milestones[i-1] on, counting its iterations from there (torch SequentialLR). */
export function sequential(schedules: readonly Schedule[], milestones: readonly number[]): Schedule {
  if (schedules.length === 0 || milestones.length !== schedules.length - 1) {
    throw new ValueError(
      `sequential: milestones: got ${milestones.length} milestones for ${schedules.length} schedules, expected one fewer milestone than schedules (at least one schedule).`,
    );
  }
  milestones.forEach((m, i) => {
    if (!Number.isInteger(m) || m <= (i === 0 ? 0 : milestones[i - 1]))
      throw new ValueError(`sequential: milestones[${i}]: got ${m}, expected increasing positive integers.`);
  });
  return (it, base) => {
    let i = 0;
    while (i < milestones.length && it >= milestones[i]) i++;
    return schedules[i](it - (i === 0 ? 0 : milestones[i - 1]), base);
  };
}

/** Applies each schedule to the previous one's output: multiplicative schedules multiply (torch ChainedScheduler). */
export function chain(schedules: readonly Schedule[]): Schedule {
  return (it, base) => schedules.reduce((lr, f) => f(it, lr), base);
}

/** What LRScheduler.stateDict() returns: enough to continue a run identically. */
export interface SchedulerStateDict {
  iter: number;
  baseLrs: number[];
}

/** The part of an optimizer a scheduler drives. */
export interface LrGroup {
  lr: number;
  initialLr?: number;
}

/** Sets each parameter group's lr from a schedule of the iteration; `step()` advances it, and its state goes in checkpoints. */
export class LRScheduler {
  /** Iterations taken so far; the groups hold lr(iter). */
  iter = 0;
  readonly baseLrs: number[];
  private readonly schedules: Schedule[];

  /** One schedule for every group, or one per group. Base lrs are the groups' initialLr or lr. */
  constructor(
    readonly optimizer: { paramGroups: LrGroup[] },
    schedule: Schedule | readonly Schedule[],
  ) {
    const groups = optimizer.paramGroups;
    this.schedules = typeof schedule === 'function' ? groups.map(() => schedule) : [...schedule];
    if (this.schedules.length !== groups.length) {
      throw new ValueError(`LRScheduler: schedule: got ${this.schedules.length} schedules, expected one or ${groups.length} (one per param group).`);
    }
    this.baseLrs = groups.map((g) => (g.initialLr ??= g.lr));
    this.apply();
  }

  /** Advances one iteration and sets every group's lr. */
  step(): void {
    this.iter++;
    this.apply();
  }

  /** The lrs of the current iteration, one per group. */
  getLr(): number[] {
    return this.schedules.map((f, i) => f(this.iter, this.baseLrs[i]));
  }

  stateDict(): SchedulerStateDict {
    return { iter: this.iter, baseLrs: [...this.baseLrs] };
  }

  /** Restores the iteration and base lrs and sets the groups' lrs to match. */
  loadStateDict(sd: SchedulerStateDict): void {
    if (!Number.isInteger(sd.iter) || sd.iter < 0) throw new ValueError(`LRScheduler.loadStateDict: iter: got ${sd.iter}, expected an integer >= 0.`);
    if (sd.baseLrs.length !== this.baseLrs.length) {
      throw new ValueError(`LRScheduler.loadStateDict: baseLrs: got ${sd.baseLrs.length} values, expected ${this.baseLrs.length} (one per param group).`);
    }
    this.iter = sd.iter;
    sd.baseLrs.forEach((lr, i) => (this.baseLrs[i] = this.optimizer.paramGroups[i].initialLr = lr));
    this.apply();
  }

  private apply(): void {
    this.getLr().forEach((lr, i) => (this.optimizer.paramGroups[i].lr = lr));
  }
}

/**
 * Learning-rate schedules as pure functions of the iteration: warmup times a main schedule, detectron2's
 * per-iteration convention (`WarmupMultiStepLR` / `WarmupCosineLR`, detectron2/solver/lr_scheduler.py).
 *
 * Iterations count optimizer steps from 0: the step with index `it` uses `learningRateAt(schedule, it)`. A schedule
 * holds no state, so resuming at iteration `it` needs nothing but `it`.
 */

/** Linear (or constant) warmup at the start of training. */
export interface WarmupOptions {
  /** Number of warmup iterations W ≥ 0; 0 disables warmup. */
  iters: number;
  /** Multiplier at iteration 0, in (0, 1] (detectron2 `WARMUP_FACTOR`, torchvision `--lr-warmup-decay`). */
  factor: number;
  /**
   * `linear`: multiplier `factor·(1 − α) + α` with `α = it / W`; `constant`: `factor` for it < W. Default linear.
   * Both give 1 from it = W on.
   */
  method?: 'linear' | 'constant';
}

/** The main schedule after (and under) the warmup. Each variant's formula gives the multiplier m(it) of `baseLr`. */
export type MainSchedule =
  /** m = 1. */
  | { kind: 'constant' }
  /** torch StepLR: m = gamma^floor(it / stepSize). */
  | { kind: 'step'; stepSize: number; gamma: number }
  /**
   * torch MultiStepLR / detectron2 WarmupMultiStepLR: m = gamma^(number of milestones ≤ it). Give milestones either
   * as iterations (`milestones`, integers in 1..maxIter) or as fractions of `maxIter` (`milestoneFractions` in
   * (0, 1), each turned into `round(f · maxIter)`), not both.
   */
  | { kind: 'multistep'; gamma: number; milestones?: number[]; milestoneFractions?: number[] }
  /**
   * torch CosineAnnealingLR's closed form over the whole run: lr = minLr + (baseLr − minLr)·(1 + cos(π·it/maxIter))/2,
   * minLr in absolute learning-rate units (default 0).
   */
  | { kind: 'cosine'; minLr?: number }
  /**
   * Polynomial decay used for segmentation (torchvision references/segmentation, power 0.9):
   * lr = minLr + (baseLr − minLr)·(1 − it/maxIter)^power, power default 0.9, minLr default 0.
   */
  | { kind: 'poly'; power?: number; minLr?: number };

/** A complete schedule. */
export interface LrSchedule {
  /** Peak learning rate (after warmup, before decay). */
  baseLr: number;
  /** Total number of iterations of the run (the decay horizon of cosine and poly, the base of milestone fractions). */
  maxIter: number;
  main: MainSchedule;
  warmup?: WarmupOptions;
}

/**
 * The warmup multiplier at iteration `it` (1 when there is no warmup or `it ≥ W`).
 * Reference: detectron2 solver/lr_scheduler.py `_get_warmup_factor_at_iter`.
 */
export function warmupFactorAt(warmup: WarmupOptions | undefined, it: number): number {
  if (!warmup || warmup.iters <= 0 || it >= warmup.iters) return 1;
  if ((warmup.method ?? 'linear') === 'constant') return warmup.factor;
  const alpha = it / warmup.iters;
  return warmup.factor * (1 - alpha) + alpha;
}

/**
 * Milestone iterations of a multistep schedule, sorted ascending.
 * @throws Error when both or neither form is given, or a milestone is out of range.
 */
export function resolveMilestones(main: Extract<MainSchedule, { kind: 'multistep' }>, maxIter: number): number[] {
  const { milestones, milestoneFractions } = main;
  if ((milestones === undefined) === (milestoneFractions === undefined)) {
    throw new Error('multistep schedule: give exactly one of milestones (iterations) or milestoneFractions');
  }
  let its: number[];
  if (milestones !== undefined) {
    for (const m of milestones) {
      if (!Number.isInteger(m) || m < 1 || m > maxIter) {
        throw new Error(`multistep schedule: milestone ${m} must be an integer iteration in 1..maxIter=${maxIter}`);
      }
    }
    its = [...milestones];
  } else {
    for (const f of milestoneFractions!) {
      if (!(f > 0 && f < 1)) throw new Error(`multistep schedule: milestone fraction ${f} must be in (0, 1)`);
    }
    its = milestoneFractions!.map((f) => Math.round(f * maxIter));
  }
  return its.sort((a, b) => a - b);
}

/**
 * Check a schedule's fields. @throws Error naming the field and the allowed range.
 */
export function validateLrSchedule(s: LrSchedule): void {
  if (!(s.baseLr >= 0 && Number.isFinite(s.baseLr))) throw new Error(`lr schedule: baseLr must be ≥ 0, got ${s.baseLr}`);
  if (!(Number.isInteger(s.maxIter) && s.maxIter >= 1)) throw new Error(`lr schedule: maxIter must be an integer ≥ 1, got ${s.maxIter}`);
  if (s.warmup) {
    const w = s.warmup;
    if (!(Number.isInteger(w.iters) && w.iters >= 0)) throw new Error(`lr schedule: warmup.iters must be an integer ≥ 0, got ${w.iters}`);
    if (!(w.factor > 0 && w.factor <= 1)) throw new Error(`lr schedule: warmup.factor must be in (0, 1], got ${w.factor}`);
    if (w.method !== undefined && w.method !== 'linear' && w.method !== 'constant') {
      throw new Error(`lr schedule: warmup.method must be 'linear' or 'constant', got '${String(w.method)}'`);
    }
  }
  const m = s.main;
  switch (m.kind) {
    case 'constant':
      return;
    case 'step':
      if (!(Number.isInteger(m.stepSize) && m.stepSize >= 1)) throw new Error(`lr schedule: step.stepSize must be an integer ≥ 1, got ${m.stepSize}`);
      if (!(m.gamma > 0)) throw new Error(`lr schedule: step.gamma must be > 0, got ${m.gamma}`);
      return;
    case 'multistep':
      if (!(m.gamma > 0)) throw new Error(`lr schedule: multistep.gamma must be > 0, got ${m.gamma}`);
      resolveMilestones(m, s.maxIter);
      return;
    case 'cosine':
      if (m.minLr !== undefined && !(m.minLr >= 0 && m.minLr <= s.baseLr)) {
        throw new Error(`lr schedule: cosine.minLr must be in [0, baseLr], got ${m.minLr}`);
      }
      return;
    case 'poly':
      if (m.power !== undefined && !(m.power > 0)) throw new Error(`lr schedule: poly.power must be > 0, got ${m.power}`);
      if (m.minLr !== undefined && !(m.minLr >= 0 && m.minLr <= s.baseLr)) {
        throw new Error(`lr schedule: poly.minLr must be in [0, baseLr], got ${m.minLr}`);
      }
      return;
    default: {
      const never: never = m;
      throw new Error(`lr schedule: unknown kind '${(never as { kind: string }).kind}': expected constant, step, multistep, cosine or poly`);
    }
  }
}

/**
 * The learning rate of the step with index `it`: `warmupFactorAt(warmup, it) · main(it)`, where `main(it)` is the
 * main schedule's learning rate at `it` (the warmup multiplies the main schedule, as detectron2's
 * WarmupMultiStepLR and WarmupCosineLR do; torchvision's reference instead runs its main schedule after the
 * warmup). Iterations past `maxIter` keep the value at `maxIter`.
 *
 * @param s the schedule (validated here).
 * @param it step index, an integer ≥ 0.
 * @returns the learning rate, ≥ 0.
 * @throws Error on an invalid schedule or iteration.
 * Reference: detectron2 solver/lr_scheduler.py; torch.optim.lr_scheduler (StepLR, MultiStepLR,
 * CosineAnnealingLR closed form, PolynomialLR).
 */
export function learningRateAt(s: LrSchedule, it: number): number {
  validateLrSchedule(s);
  if (!(Number.isInteger(it) && it >= 0)) throw new Error(`learningRateAt: iteration must be an integer ≥ 0, got ${it}`);
  const t = Math.min(it, s.maxIter);
  const m = s.main;
  let lr: number;
  switch (m.kind) {
    case 'constant':
      lr = s.baseLr;
      break;
    case 'step':
      lr = s.baseLr * Math.pow(m.gamma, Math.floor(t / m.stepSize));
      break;
    case 'multistep': {
      const passed = resolveMilestones(m, s.maxIter).filter((x) => x <= t).length; // bisect_right
      lr = s.baseLr * Math.pow(m.gamma, passed);
      break;
    }
    case 'cosine': {
      const minLr = m.minLr ?? 0;
      lr = minLr + ((s.baseLr - minLr) * (1 + Math.cos((Math.PI * t) / s.maxIter))) / 2;
      break;
    }
    case 'poly': {
      const minLr = m.minLr ?? 0;
      lr = minLr + (s.baseLr - minLr) * Math.pow(1 - t / s.maxIter, m.power ?? 0.9);
      break;
    }
    default: {
      const never: never = m;
      throw new Error(`unknown schedule '${String(never)}'`);
    }
  }
  return lr * warmupFactorAt(s.warmup, it);
}

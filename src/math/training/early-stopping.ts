// Early stopping on a validation figure, and the best W seen, robust to a small validation set.
import { tarMetricFar, type EarlyStoppingMetric, type ValidationFigures } from '../mining/types.js';

/**
 * Candidate evaluations whose round-to-round changes estimate the figure's noise: enough for a
 * stable spread, few enough to follow the shrinking steps of a decaying learning rate.
 */
export const NOISE_ROUNDS = 10;
/** Fewer figures than this give no noise estimate (the spread of two or three changes says little). */
export const NOISE_MIN_FIGURES = 5;

export interface EarlyStoppingOptions {
  earlyStoppingMetric: EarlyStoppingMetric;
  /** fraction of maxIterations before which a W is not a candidate */
  earlyStoppingStart: number;
  maxIterations: number;
  /** evaluations without a gain beyond tolerance before stopping; 0 never stops */
  patience: number;
  minDelta: number;
}

/** The monitored figure, larger is better. */
export function figureOf(v: ValidationFigures, metric: EarlyStoppingMetric): number {
  if (tarMetricFar(metric) !== null) return v.validationTarAtFar ?? 0;
  return metric === 'validationLoss' ? -v.validationLoss : v[metric as Exclude<EarlyStoppingMetric, `tar@${string}`>];
}

/**
 * The figure's noise between evaluations: the spread of its round-to-round changes about their mean
 * (so a steady climb is not counted as noise), /√2 since each change carries two evaluations' noise.
 * Every evaluation scores the same validation queries, so this paired noise — not the binomial error
 * of the figure as an estimate over new queries — is what a gain must exceed. 0 with fewer than
 * NOISE_MIN_FIGURES figures.
 */
export function roundNoise(scores: readonly number[]): number {
  const m = scores.length - 1;
  if (scores.length < NOISE_MIN_FIGURES) return 0;
  let mean = 0;
  for (let i = 1; i <= m; i++) mean += scores[i] - scores[i - 1];
  mean /= m;
  let ss = 0;
  for (let i = 1; i <= m; i++) ss += (scores[i] - scores[i - 1] - mean) ** 2;
  return Math.sqrt(ss / (m - 1) / 2);
}

/** tol = max(minDelta, the round noise of the latest NOISE_ROUNDS candidate figures). */
export function tolerance(p: Pick<EarlyStoppingOptions, 'minDelta'>, scores: readonly number[]): number {
  return Math.max(p.minDelta, roundNoise(scores.slice(-NOISE_ROUNDS)));
}

export interface EarlyStopping {
  /** the kept W (starts as a copy of the initial W) */
  readonly bestW: Float64Array;
  /** figures of the kept W; null until a W has been kept */
  readonly bestFigures: ValidationFigures | null;
  /** step of the kept W (0 until one is kept) */
  readonly bestIteration: number;
  /** One evaluation of W at step `at`. Returns true when patience has run out. */
  observe(fig: ValidationFigures, at: number, W: Float64Array): boolean;
  /** A copy of the state between evaluations (for checkpoints). */
  snapshot(): EarlyStoppingState;
  restore(s: EarlyStoppingState): void;
}

export interface EarlyStoppingState {
  bestW: Float64Array;
  bestFigures: ValidationFigures | null;
  bestIteration: number;
  /** best monitored figure so far (−Infinity before the first candidate): the kept W is within tolerance of it */
  bestScore: number;
  /** the figure at the last gain beyond tolerance: the level a new gain is measured from */
  reference: number;
  /** evaluations since the last gain beyond tolerance */
  stale: number;
  /** the latest NOISE_ROUNDS candidate figures, oldest first */
  recent: number[];
}

/**
 * A gain counts when the figure exceeds the level of the last counted gain (`reference`, not the
 * running best) by more than the tolerance: a slow climb adds up until it counts, where comparing
 * each figure with a best raised by every sub-tolerance gain would call every round of it stale.
 * A counted gain resets the patience counter; every evaluation within tolerance of the best so far
 * replaces the kept W (the later W, further down the learning-rate schedule, wins a tie within noise).
 * Before earlyStoppingStart·maxIterations (unless that is the last step) a W is not a candidate:
 * a small validation set can score the starting W perfectly (a few held-out labels are easy to
 * tell apart) and would then be kept for good.
 */
export function createEarlyStopping(p: EarlyStoppingOptions, W0: Float64Array): EarlyStopping {
  const bestW = Float64Array.from(W0);
  let bestFigures: ValidationFigures | null = null;
  let bestIteration = 0;
  let bestScore = -Infinity;
  let reference = -Infinity;
  let stale = 0;
  let recent: number[] = [];
  return {
    bestW,
    get bestFigures() {
      return bestFigures;
    },
    get bestIteration() {
      return bestIteration;
    },
    observe(fig, at, W) {
      if (at < p.earlyStoppingStart * p.maxIterations && at < p.maxIterations) return false;
      const score = figureOf(fig, p.earlyStoppingMetric);
      recent.push(score);
      if (recent.length > NOISE_ROUNDS) recent.shift();
      const tol = tolerance(p, recent);
      if (bestFigures === null || score > reference + tol) {
        reference = score;
        stale = 0;
      } else stale++;
      bestScore = Math.max(bestScore, score);
      if (score >= bestScore - tol) {
        bestFigures = fig;
        bestIteration = at;
        bestW.set(W);
      }
      return p.patience > 0 && stale >= p.patience;
    },
    snapshot: () => ({
      bestW: Float64Array.from(bestW),
      bestFigures: bestFigures && { ...bestFigures },
      bestIteration,
      bestScore,
      reference,
      stale,
      recent: recent.slice(),
    }),
    restore(s) {
      if (s.bestW.length !== bestW.length) throw new RangeError(`checkpoint: best W needs ${bestW.length} values`);
      bestW.set(s.bestW);
      bestFigures = s.bestFigures && { ...s.bestFigures };
      bestIteration = s.bestIteration;
      bestScore = s.bestScore;
      // checkpoints written before these fields: the best stands in for the reference, no noise history
      reference = s.reference ?? s.bestScore;
      stale = s.stale;
      recent = s.recent ? s.recent.slice() : [];
    },
  };
}

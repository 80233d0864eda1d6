// Early stopping on a validation figure, and the best W seen, robust to a small validation set.
import { tarMetricFar, type EarlyStoppingMetric, type ValidationFigures } from '../mining/types.js';

/** Half a standard error: gains below this are indistinguishable from the noise of a small validation set. */
export const NOISE_FACTOR = 0.5;

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
 * tol = max(minDelta, NOISE_FACTOR·√(m(1−m)/q)), the binomial bound on the figure's standard error
 * (m the figure, q the queries, triplets or — for a TAR — genuine pairs it averages); minDelta
 * alone for the loss.
 */
export function tolerance(v: ValidationFigures, p: EarlyStoppingOptions, queries: number, triplets: number): number {
  const metric = p.earlyStoppingMetric;
  if (metric === 'validationLoss') return p.minDelta;
  const m = figureOf(v, metric);
  const q = metric === 'validationTripletAccuracy' ? triplets : queries;
  const se = q > 0 ? Math.sqrt(Math.max(0, m * (1 - m)) / q) : 0;
  return Math.max(p.minDelta, NOISE_FACTOR * se);
}

export interface EarlyStopping {
  /** the kept W (starts as a copy of the initial W) */
  readonly bestW: Float64Array;
  /** figures of the kept W; null until a W has been kept */
  readonly bestFigures: ValidationFigures | null;
  /** step of the kept W (0 until one is kept) */
  readonly bestIteration: number;
  /**
   * One evaluation of W at step `at` over `queries` retrieval queries and `triplets` scored triplets.
   * Returns true when patience has run out.
   */
  observe(fig: ValidationFigures, at: number, W: Float64Array, queries: number, triplets: number): boolean;
  /** A copy of the state between evaluations (for checkpoints). */
  snapshot(): EarlyStoppingState;
  restore(s: EarlyStoppingState): void;
}

export interface EarlyStoppingState {
  bestW: Float64Array;
  bestFigures: ValidationFigures | null;
  bestIteration: number;
  /** best monitored figure so far (−Infinity before the first candidate) */
  bestScore: number;
  /** evaluations since the last gain beyond tolerance */
  stale: number;
}

/**
 * A change of the monitored figure counts only when it exceeds the tolerance. A gain beyond it
 * resets the patience counter; every evaluation within it of the best so far replaces the kept W
 * (the later W, further down the learning-rate schedule, wins a tie within noise).
 * Before earlyStoppingStart·maxIterations (unless that is the last step) a W is not a candidate:
 * a small validation set can score the starting W perfectly (a few held-out labels are easy to
 * tell apart) and would then be kept for good.
 */
export function createEarlyStopping(p: EarlyStoppingOptions, W0: Float64Array): EarlyStopping {
  const bestW = Float64Array.from(W0);
  let bestFigures: ValidationFigures | null = null;
  let bestIteration = 0;
  let bestScore = -Infinity;
  let stale = 0;
  return {
    bestW,
    get bestFigures() {
      return bestFigures;
    },
    get bestIteration() {
      return bestIteration;
    },
    observe(fig, at, W, queries, triplets) {
      if (at < p.earlyStoppingStart * p.maxIterations && at < p.maxIterations) return false;
      const score = figureOf(fig, p.earlyStoppingMetric);
      const tol = tolerance(fig, p, queries, triplets);
      if (bestFigures === null || score > bestScore + tol) {
        bestScore = score;
        stale = 0;
      } else {
        bestScore = Math.max(bestScore, score);
        stale++;
      }
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
      stale,
    }),
    restore(s) {
      if (s.bestW.length !== bestW.length) throw new RangeError(`checkpoint: best W needs ${bestW.length} values`);
      bestW.set(s.bestW);
      bestFigures = s.bestFigures && { ...s.bestFigures };
      bestIteration = s.bestIteration;
      bestScore = s.bestScore;
      stale = s.stale;
    },
  };
}

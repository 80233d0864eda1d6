// Shared descent loop for L-BFGS and CG: stopping rules, line search, the
// steepest-descent restart after a failed line search, and bookkeeping.
// The strategies only decide the search direction and the first trial step.
import type { StopReason } from '../types.js';
import { createLineSearchWork, wolfeLineSearch } from './linesearch.js';
import {
  dot,
  norm1,
  normInf,
  type DescentState,
  type DirectionState,
  type FG,
  type MinimizeOptions,
  type MinimizeResult,
} from './types.js';

export interface DirectionStrategy {
  /** Forget curvature information (next direction is steepest descent). */
  reset(): void;
  /** Writes the search direction at (x, g) into dir. */
  direction(g: Float64Array, dir: Float64Array): void;
  /** First trial step along dir (gtd = gᵀdir < 0). */
  initialStep(g: Float64Array, gtd: number): number;
  /** Learns from an accepted step x→xNew (g→gNew) with step length alpha along dir. */
  update(
    x: Float64Array,
    xNew: Float64Array,
    g: Float64Array,
    gNew: Float64Array,
    dir: Float64Array,
    alpha: number,
    gtd: number,
  ): void;
  /** curvature constant for the line search */
  readonly c2: number;
  /** A copy of what the strategy carries between iterations (for checkpoints). */
  snapshot(): DirectionState;
  /** Continues from a snapshot; throws a RangeError when it is another strategy's or another size's. */
  restore(s: DirectionState): void;
}

/** First step of a steepest-descent restart: unit step in the normalised direction, capped at 1 (minFunc). */
export function steepestStep(g: Float64Array): number {
  const n1 = norm1(g);
  return n1 > 0 ? Math.min(1, 1 / n1) : 1;
}

interface LoopState {
  x: Float64Array;
  g: Float64Array;
  f: number;
  iterations: number;
  evaluations: number;
}

interface ProgressTest {
  /** records f at `iteration`; true when the relative decrease over the window is negligible */
  (f: number, iteration: number): boolean;
  /** the ring of recent f values, indexed by iteration mod w + 1 (part of a checkpoint) */
  readonly history: Float64Array;
}

/** Relative-decrease test over a window of accepted iterations (cf. L-BFGS-B's factr). */
function makeProgressTest(opts: MinimizeOptions): ProgressTest {
  const w = Math.max(1, opts.noProgressWindow ?? 5);
  const tol = opts.noProgressTolerance ?? 1e-10;
  const history = new Float64Array(w + 1);
  const test = (f: number, iteration: number): boolean => {
    history[iteration % (w + 1)] = f;
    if (iteration < w) return false;
    const old = history[(iteration - w) % (w + 1)];
    return old - f <= w * tol * Math.max(Math.abs(f), Math.abs(old), 1);
  };
  return Object.assign(test, { history });
}

/** The loop's state after the first evaluation, or the checkpoint's. */
function startState(fg: FG, x0: Float64Array, opts: MinimizeOptions, noProgress: ProgressTest): LoopState {
  const r = opts.resumeFrom;
  if (!r) {
    const x = Float64Array.from(x0);
    const g = new Float64Array(x0.length);
    const f = fg(x, g);
    noProgress(f, 0);
    return { x, g, f, iterations: 0, evaluations: 1 };
  }
  const n = x0.length;
  if (r.x.length !== n || r.g.length !== n)
    throw new RangeError(`checkpoint: x and g need ${n} values (got ${r.x.length}, ${r.g.length})`);
  if (r.recentLosses.length !== noProgress.history.length)
    throw new RangeError(`checkpoint: the no-progress window needs ${noProgress.history.length} values`);
  noProgress.history.set(r.recentLosses);
  // copies: the caller's checkpoint stays untouched and can be resumed again
  return {
    x: Float64Array.from(r.x),
    g: Float64Array.from(r.g),
    f: r.f,
    iterations: r.iteration,
    evaluations: r.evaluations,
  };
}

/** A copy of the loop's state at an iteration boundary. */
function snapshot(s: LoopState, noProgress: ProgressTest, strategy: DirectionStrategy): DescentState {
  return {
    iteration: s.iterations,
    evaluations: s.evaluations,
    x: Float64Array.from(s.x),
    f: s.f,
    g: Float64Array.from(s.g),
    recentLosses: Float64Array.from(noProgress.history),
    direction: strategy.snapshot(),
  };
}

function checkpoint(s: LoopState, opts: MinimizeOptions, noProgress: ProgressTest, strategy: DirectionStrategy): void {
  if (opts.onCheckpoint && (opts.checkpointDue?.(s.iterations) ?? true))
    opts.onCheckpoint(snapshot(s, noProgress, strategy));
}

function stopBeforeStep(s: LoopState, opts: MinimizeOptions): StopReason | null {
  if (s.f === 0) return 'zero_loss';
  if ((opts.gradientNorm ?? normInf)(s.g) <= opts.gradientTolerance) return 'gradient_tolerance';
  if (s.iterations >= opts.maxIterations) return 'max_iterations';
  if (opts.shouldStop?.()) return 'cancelled';
  return null;
}

export function runDescent(
  fg: FG,
  x0: Float64Array,
  opts: MinimizeOptions,
  strategy: DirectionStrategy,
): MinimizeResult {
  const n = x0.length;
  const noProgress = makeProgressTest(opts);
  const s = startState(fg, x0, opts, noProgress);
  if (!Number.isFinite(s.f) || !Number.isFinite(normInf(s.g))) {
    // nothing sensible to descend on; report instead of throwing (a checkpoint is always finite)
    return { x: s.x, g: s.g, f: s.f, iterations: 0, evaluations: 1, reason: 'line_search_failed' };
  }
  if (opts.resumeFrom) strategy.restore(opts.resumeFrom.direction);
  let x: Float64Array = s.x;
  let g: Float64Array = s.g;
  let xNew: Float64Array = new Float64Array(n);
  let gNew: Float64Array = new Float64Array(n);
  const dir = new Float64Array(n);
  const work = createLineSearchWork(n);
  let restarting = false;
  let reason: StopReason | null;
  // a resumed run starts from a checkpoint the caller already has
  if (!opts.resumeFrom) checkpoint(s, opts, noProgress, strategy);
  while ((reason = stopBeforeStep(s, opts)) === null) {
    if (restarting) strategy.reset();
    strategy.direction(g, dir);
    let gtd = dot(g, dir);
    if (!(gtd < 0)) {
      // not a descent direction (lost curvature information): fall back to −g
      strategy.reset();
      strategy.direction(g, dir);
      gtd = dot(g, dir);
    }
    const alpha0 = restarting ? steepestStep(g) : strategy.initialStep(g, gtd);
    const ls = wolfeLineSearch(fg, x, s.f, gtd, dir, alpha0, xNew, gNew, work, {
      c2: strategy.c2,
      maxEvaluations: opts.maxLineSearchEvaluations ?? 25,
      shouldStop: opts.shouldStop,
    });
    s.evaluations += ls.evaluations;
    if (ls.status === 'cancelled') {
      reason = 'cancelled';
      break;
    }
    if (ls.status === 'failed') {
      if (restarting) {
        reason = 'line_search_failed';
        break;
      }
      restarting = true;
      continue;
    }
    restarting = false;
    strategy.update(x, xNew, g, gNew, dir, ls.alpha, gtd);
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    s.x = x;
    s.g = g;
    s.f = ls.f;
    s.iterations++;
    opts.onIteration?.({ iteration: s.iterations, f: s.f, x, g, evaluations: s.evaluations });
    if (noProgress(s.f, s.iterations)) {
      reason = 'no_progress';
      break;
    }
    checkpoint(s, opts, noProgress, strategy);
  }
  return { x, g, f: s.f, iterations: s.iterations, evaluations: s.evaluations, reason: reason ?? 'max_iterations' };
}

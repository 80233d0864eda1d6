// Shared descent loop for L-BFGS and CG: stopping rules, line search, the
// steepest-descent restart after a failed line search, and bookkeeping.
// The strategies only decide the search direction and the first trial step.
import type { StopReason } from '../types.js';
import { createLineSearchWork, wolfeLineSearch } from './linesearch.js';
import { dot, norm1, normInf, type FG, type MinimizeOptions, type MinimizeResult } from './types.js';

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

/** Relative-decrease test over a window of accepted iterations (cf. L-BFGS-B's factr). */
function makeProgressTest(opts: MinimizeOptions): (f: number, iteration: number) => boolean {
  const w = Math.max(1, opts.noProgressWindow ?? 5);
  const tol = opts.noProgressTolerance ?? 1e-10;
  const history = new Float64Array(w + 1);
  return (f, iteration) => {
    history[iteration % (w + 1)] = f;
    if (iteration < w) return false;
    const old = history[(iteration - w) % (w + 1)];
    return old - f <= w * tol * Math.max(Math.abs(f), Math.abs(old), 1);
  };
}

function stopBeforeStep(s: LoopState, opts: MinimizeOptions): StopReason | null {
  if (s.f === 0) return 'zero_loss';
  if (normInf(s.g) <= opts.gradientTolerance) return 'gradient_tolerance';
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
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let xNew = new Float64Array(n);
  let gNew = new Float64Array(n);
  const dir = new Float64Array(n);
  const work = createLineSearchWork(n);
  const noProgress = makeProgressTest(opts);
  const s: LoopState = { x, g, f: fg(x, g), iterations: 0, evaluations: 1 };
  if (!Number.isFinite(s.f) || !Number.isFinite(normInf(g))) {
    // nothing sensible to descend on; report instead of throwing
    return { x, g, f: s.f, iterations: 0, evaluations: 1, reason: 'line_search_failed' };
  }
  let restarting = false;
  let reason: StopReason | null;
  noProgress(s.f, 0);
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
  }
  return { x, g, f: s.f, iterations: s.iterations, evaluations: s.evaluations, reason: reason ?? 'max_iterations' };
}

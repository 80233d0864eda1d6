import type { StopReason } from '../types.js';

/** Objective: returns f(x) and writes ∇f(x) into g. */
export type FG = (x: Float64Array, g: Float64Array) => number;

export interface IterationInfo {
  /** accepted steps so far */
  iteration: number;
  f: number;
  x: Float64Array;
  g: Float64Array;
  evaluations: number;
}

export interface MinimizeOptions {
  maxIterations: number;
  /** stop when ‖g‖∞ (or gradientNorm(g)) ≤ this */
  gradientTolerance: number;
  /** the norm the tolerance applies to, when x are not the caller's coordinates; default ‖g‖∞ */
  gradientNorm?: (g: Float64Array) => number;
  /** L-BFGS history length (ignored by CG); default 10 */
  historySize?: number;
  /** no_progress when f decreased by ≤ noProgressTolerance·max(|f|,1) per iteration over this many iterations; default 5 */
  noProgressWindow?: number;
  /** default 1e-10 */
  noProgressTolerance?: number;
  /** function evaluations allowed per line search; default 25 */
  maxLineSearchEvaluations?: number;
  /** polled before every function evaluation; true stops with `cancelled` */
  shouldStop?: () => boolean;
  /** called after every accepted step */
  onIteration?: (info: IterationInfo) => void;
  /** continue from this state (a checkpoint's) instead of evaluating x0; x0 then only fixes the length */
  resumeFrom?: DescentState;
  /**
   * called with a copy of the state at the iteration boundaries (0 = after the first evaluation, then
   * after each accepted step that did not end the run) where checkpointDue says so (every one without it)
   */
  onCheckpoint?: (state: DescentState) => void;
  checkpointDue?: (iteration: number) => boolean;
}

/** L-BFGS memory: the `count` stored pairs oldest first (count·n values each), as the two-loop recursion reads them. */
export interface LbfgsState {
  kind: 'lbfgs';
  historySize: number;
  count: number;
  /** initial Hessian scale sᵀy/yᵀy of the newest accepted pair */
  gamma: number;
  /** the step length the line search last accepted (absent in checkpoints written before it: 1) */
  lastAlpha?: number;
  S: Float64Array;
  Y: Float64Array;
  rho: Float64Array;
}

/** Polak–Ribière+ state: the previous direction, β for the next one, and the step-length guess's input. */
export interface CgState {
  kind: 'cg';
  prevDir: Float64Array;
  beta: number;
  /** true: the next direction is steepest descent */
  fresh: boolean;
  prevAlphaGtd: number;
}

export type DirectionState = LbfgsState | CgState;

/** Everything the descent loop carries from one iteration to the next. */
export interface DescentState {
  /** accepted steps so far */
  iteration: number;
  evaluations: number;
  x: Float64Array;
  f: number;
  g: Float64Array;
  /** the no-progress test's ring of recent f values, indexed by iteration mod its length */
  recentLosses: Float64Array;
  direction: DirectionState;
}

export interface MinimizeResult {
  /** the best accepted point (a fresh array, x0 is left untouched) */
  x: Float64Array;
  f: number;
  g: Float64Array;
  iterations: number;
  evaluations: number;
  reason: StopReason;
}

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function normInf(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > s || v !== v) s = v;
  }
  return s;
}

export function norm1(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]);
  return s;
}

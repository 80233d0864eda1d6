// Strong-Wolfe line search: bracketing (Nocedal & Wright Alg. 3.5) then zoom
// (Alg. 3.6) with safeguarded cubic interpolation, as minFunc's WolfeLineSearch.
// The hinge loss is only piecewise smooth, so the curvature condition can be
// unattainable; the search then falls back to the best point that satisfied the
// sufficient-decrease (Armijo) condition, and reports failure only if none did.
import { dot, type FG } from './types.js';

export interface LineSearchOptions {
  /** sufficient decrease, default 1e-4 */
  c1?: number;
  /** curvature, default 0.9 (quasi-Newton); use 0.1 for CG */
  c2?: number;
  /** relative width of a bracket around an Armijo step at which the zoom stops, default 0.1 */
  xtol?: number;
  maxEvaluations?: number;
  shouldStop?: () => boolean;
}

export type LineSearchStatus = 'wolfe' | 'armijo' | 'failed' | 'cancelled';

export interface LineSearchResult {
  status: LineSearchStatus;
  alpha: number;
  f: number;
  evaluations: number;
}

/** Scratch vectors, allocated once per optimiser run. */
export interface LineSearchWork {
  xt: Float64Array;
  gt: Float64Array;
}

export function createLineSearchWork(n: number): LineSearchWork {
  return { xt: new Float64Array(n), gt: new Float64Array(n) };
}

interface Trial {
  a: number;
  f: number;
  g: number;
}

/** Minimiser of the cubic matching (a, fa, ga) and (b, fb, gb); NaN when it has none. */
export function cubicMinimizer(a: number, fa: number, ga: number, b: number, fb: number, gb: number): number {
  const d1 = ga + gb - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - ga * gb;
  if (!(disc >= 0)) return NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  const t = b - ((b - a) * (gb + d2 - d1)) / (gb - ga + 2 * d2);
  return Number.isFinite(t) ? t : NaN;
}

/**
 * Interpolated point inside (lo, hi), clamped to 10% away from both ends (as minFunc's
 * polyinterp): an overshoot by orders of magnitude (a hinge set crossed) then shrinks the step
 * tenfold per trial instead of halving it. Bisection when the cubic has no minimiser.
 */
function zoomPoint(lo: Trial, hi: Trial): number {
  const left = Math.min(lo.a, hi.a);
  const right = Math.max(lo.a, hi.a);
  const w = right - left;
  const t = Number.isFinite(hi.f) ? cubicMinimizer(lo.a, lo.f, lo.g, hi.a, hi.f, hi.g) : NaN;
  if (!(t === t)) return (left + right) / 2;
  return Math.min(right - 0.1 * w, Math.max(left + 0.1 * w, t));
}

/** Next trial when extrapolating beyond cur: cubic step clamped to [cur + 0.01·(cur−prev), 10·cur]. */
function extrapolate(prev: Trial, cur: Trial): number {
  const lo = cur.a + 0.01 * (cur.a - prev.a);
  const hi = 10 * cur.a;
  const t = cubicMinimizer(prev.a, prev.f, prev.g, cur.a, cur.f, cur.g);
  if (!(t === t)) return hi;
  return Math.min(hi, Math.max(lo, t));
}

/**
 * Searches along `dir` from x (value f0, directional derivative gtd0 < 0) starting at alpha0.
 * On 'wolfe' or 'armijo' the accepted point and gradient are in xOut/gOut.
 */
export function wolfeLineSearch(
  fg: FG,
  x: Float64Array,
  f0: number,
  gtd0: number,
  dir: Float64Array,
  alpha0: number,
  xOut: Float64Array,
  gOut: Float64Array,
  work: LineSearchWork,
  opts: LineSearchOptions = {},
): LineSearchResult {
  const c1 = opts.c1 ?? 1e-4;
  const c2 = opts.c2 ?? 0.9;
  const xtol = opts.xtol ?? 0.1;
  const maxEvals = opts.maxEvaluations ?? 25;
  const { xt, gt } = work;
  let evals = 0;
  let best: Trial | null = null; // best Armijo point, mirrored in xOut/gOut

  const failed = (): LineSearchResult =>
    best
      ? { status: 'armijo', alpha: best.a, f: best.f, evaluations: evals }
      : { status: 'failed', alpha: 0, f: f0, evaluations: evals };

  const evaluate = (a: number): Trial => {
    for (let i = 0; i < x.length; i++) xt[i] = x[i] + a * dir[i];
    const f = fg(xt, gt);
    evals++;
    const tr: Trial = { a, f: Number.isFinite(f) ? f : Infinity, g: dot(gt, dir) };
    if (!Number.isFinite(tr.g)) tr.f = Infinity;
    if (tr.f <= f0 + c1 * a * gtd0 && (best === null || tr.f < best.f)) {
      best = tr;
      xOut.set(xt);
      gOut.set(gt);
    }
    return tr;
  };
  const accept = (tr: Trial): LineSearchResult => {
    xOut.set(xt);
    gOut.set(gt);
    return { status: 'wolfe', alpha: tr.a, f: tr.f, evaluations: evals };
  };
  const armijoFails = (tr: Trial, prev: Trial | null) =>
    tr.f > f0 + c1 * tr.a * gtd0 || (prev !== null && tr.f >= prev.f);
  const curvatureHolds = (tr: Trial) => Math.abs(tr.g) <= -c2 * gtd0;

  if (!(gtd0 < 0) || !(alpha0 > 0) || !Number.isFinite(f0)) return failed();

  // Bracketing phase (Alg. 3.5)
  let prev: Trial = { a: 0, f: f0, g: gtd0 };
  let a = alpha0;
  let lo: Trial;
  let hi: Trial;
  for (;;) {
    if (evals >= maxEvals) return failed();
    if (opts.shouldStop?.()) return { status: 'cancelled', alpha: 0, f: f0, evaluations: evals };
    const tr = evaluate(a);
    if (armijoFails(tr, evals > 1 ? prev : null)) {
      lo = prev;
      hi = tr;
      break;
    }
    if (curvatureHolds(tr)) return accept(tr);
    if (tr.g >= 0) {
      lo = tr;
      hi = prev;
      break;
    }
    a = extrapolate(prev, tr);
    prev = tr;
  }

  // Zoom phase (Alg. 3.6): lo always satisfies Armijo and has the lowest f so far.
  for (;;) {
    if (evals >= maxEvals) return failed();
    if (Math.abs(hi.a - lo.a) <= 1e-14 * Math.max(1, Math.abs(lo.a))) return failed();
    // An Armijo step whose bracket is this narrow will not be bettered by more trials: on a kink of
    // the hinge the curvature condition may hold nowhere in it (scipy's dcsrch: xtol)
    if (lo.a > 0 && Math.abs(hi.a - lo.a) <= xtol * Math.max(lo.a, hi.a)) return failed();
    if (opts.shouldStop?.()) return { status: 'cancelled', alpha: 0, f: f0, evaluations: evals };
    const tr = evaluate(zoomPoint(lo, hi));
    if (tr.f > f0 + c1 * tr.a * gtd0 || tr.f >= lo.f) {
      hi = tr;
      continue;
    }
    if (curvatureHolds(tr)) return accept(tr);
    if (tr.g * (hi.a - lo.a) >= 0) hi = lo;
    lo = tr;
  }
}

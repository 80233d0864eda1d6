// Limited-memory BFGS (Nocedal & Wright Alg. 7.4/7.5): two-loop recursion over
// the last `historySize` pairs (s, y), initial Hessian γI with γ = sᵀy/yᵀy.
// Pairs with non-positive curvature yᵀs (possible on the piecewise-quadratic
// hinge loss, or with an Armijo-only step) are skipped so H stays positive definite.
import { runDescent, steepestStep, type DirectionStrategy } from './descent.js';
import { DEFAULT_HISTORY_SIZE } from '../defaults.js';
import {
  dot,
  type DirectionState,
  type FG,
  type LbfgsState,
  type MinimizeOptions,
  type MinimizeResult,
} from './types.js';

export { DEFAULT_HISTORY_SIZE };

export function createLbfgsStrategy(n: number, historySize: number): DirectionStrategy {
  const mem = Math.max(1, Math.floor(historySize));
  const S = Array.from({ length: mem }, () => new Float64Array(n));
  const Y = Array.from({ length: mem }, () => new Float64Array(n));
  const rho = new Float64Array(mem);
  const alpha = new Float64Array(mem);
  // The candidate pair is built here and swapped into the ring only once accepted: written in
  // place, a pair skipped while the memory is full would corrupt the oldest stored one.
  let sNew = new Float64Array(n);
  let yNew = new Float64Array(n);
  let count = 0; // stored pairs
  let head = 0; // index of the next slot to write
  let gamma = 1;
  let lastAlpha = 1;
  // slot of the t-th newest pair (t = 0 newest)
  const slot = (t: number): number => (head - 1 - t + mem) % mem;

  return {
    c2: 0.9,
    reset() {
      count = 0;
      head = 0;
      gamma = 1;
      lastAlpha = 1;
    },
    direction(g, dir) {
      for (let i = 0; i < n; i++) dir[i] = -g[i];
      // newest to oldest
      for (let t = 0; t < count; t++) {
        const j = slot(t);
        const a = rho[j] * dot(S[j], dir);
        alpha[j] = a;
        const y = Y[j];
        for (let i = 0; i < n; i++) dir[i] -= a * y[i];
      }
      if (gamma !== 1) for (let i = 0; i < n; i++) dir[i] *= gamma;
      // oldest to newest
      for (let t = count - 1; t >= 0; t--) {
        const j = slot(t);
        const b = rho[j] * dot(Y[j], dir);
        const s = S[j];
        const c = alpha[j] - b;
        for (let i = 0; i < n; i++) dir[i] += c * s[i];
      }
    },
    initialStep(g) {
      // The quasi-Newton step is already scaled (the very first is not): the unit step, unless the
      // last one accepted was much shorter. On the hinge's kinks, once no triplet is active, the
      // weight decay alone sets the curvature pairs, and the unit step then overshoots the loss by
      // orders of magnitude, every iteration (docs/decisions/0052).
      if (count === 0) return steepestStep(g);
      return Math.min(1, 10 * lastAlpha);
    },
    update(x, xNew, g, gNew, _dir, alphaTaken) {
      lastAlpha = alphaTaken;
      const s = sNew;
      const y = yNew;
      for (let i = 0; i < n; i++) {
        s[i] = xNew[i] - x[i];
        y[i] = gNew[i] - g[i];
      }
      const ys = dot(y, s);
      const yy = dot(y, y);
      if (!(ys > 1e-10 * Math.sqrt(dot(s, s) * yy))) return; // skip: non-positive curvature
      [sNew, S[head]] = [S[head], s];
      [yNew, Y[head]] = [Y[head], y];
      rho[head] = 1 / ys;
      gamma = ys / yy;
      head = (head + 1) % mem;
      count = Math.min(count + 1, mem);
    },
    snapshot(): LbfgsState {
      // only the pairs in use, oldest first: the slots' physical order does not change any sum.
      const S2 = new Float64Array(count * n);
      const Y2 = new Float64Array(count * n);
      const rho2 = new Float64Array(count);
      for (let t = 0; t < count; t++) {
        const j = slot(count - 1 - t);
        S2.set(S[j], t * n);
        Y2.set(Y[j], t * n);
        rho2[t] = rho[j];
      }
      return { kind: 'lbfgs', historySize: mem, count, gamma, lastAlpha, S: S2, Y: Y2, rho: rho2 };
    },
    restore(st: DirectionState) {
      checkLbfgsState(st, n, mem);
      for (let t = 0; t < st.count; t++) {
        S[t].set(st.S.subarray(t * n, (t + 1) * n));
        Y[t].set(st.Y.subarray(t * n, (t + 1) * n));
        rho[t] = st.rho[t];
      }
      count = st.count;
      head = st.count % mem;
      gamma = st.gamma;
      lastAlpha = st.lastAlpha ?? 1;
    },
  };
}

function checkLbfgsState(st: DirectionState, n: number, mem: number): asserts st is LbfgsState {
  if (st.kind !== 'lbfgs') throw new RangeError(`checkpoint: optimizer is ${st.kind}, not lbfgs`);
  if (st.historySize !== mem) throw new RangeError(`checkpoint: historySize is ${st.historySize}, not ${mem}`);
  const c = st.count;
  if (!(
    Number.isInteger(c) &&
    c >= 0 &&
    c <= mem &&
    st.S.length === c * n &&
    st.Y.length === c * n &&
    st.rho.length === c
  ))
    throw new RangeError(`checkpoint: L-BFGS memory does not hold ${c} pairs of ${n} values`);
}

/** Minimises fg from x0 (left untouched) with L-BFGS and a strong-Wolfe line search. */
export function minimizeLbfgs(fg: FG, x0: Float64Array, opts: MinimizeOptions): MinimizeResult {
  return runDescent(fg, x0, opts, createLbfgsStrategy(x0.length, opts.historySize ?? DEFAULT_HISTORY_SIZE));
}

// Nonlinear conjugate gradient, Polak–Ribière+ (β = max(0, gₖ₊₁ᵀ(gₖ₊₁−gₖ)/gₖᵀgₖ),
// Nocedal & Wright eq. 5.45) with a strong-Wolfe line search (c2 = 0.1, so the
// directions stay descent directions) and the step-length guess of N&W eq. 3.60.
// β⁺ clipping restarts automatically when conjugacy is lost, which the hinge's
// kinks cause often; a non-descent direction falls back to −g in the shared loop.
import { runDescent, steepestStep, type DirectionStrategy } from './descent.js';
import { dot, type CgState, type DirectionState, type FG, type MinimizeOptions, type MinimizeResult } from './types.js';

function createCgStrategy(n: number): DirectionStrategy {
  const prevDir = new Float64Array(n);
  let beta = 0;
  let fresh = true;
  let prevAlphaGtd = 0; // αₖ₋₁·gₖ₋₁ᵀdₖ₋₁ for the eq. 3.60 guess

  return {
    c2: 0.1,
    reset() {
      fresh = true;
      beta = 0;
    },
    direction(g, dir) {
      if (fresh) {
        for (let i = 0; i < n; i++) dir[i] = -g[i];
      } else {
        for (let i = 0; i < n; i++) dir[i] = -g[i] + beta * prevDir[i];
      }
    },
    initialStep(g, gtd) {
      if (fresh || prevAlphaGtd === 0) return steepestStep(g);
      const a = prevAlphaGtd / gtd;
      return Number.isFinite(a) && a > 0 ? Math.min(a, 1e10) : steepestStep(g);
    },
    update(_x, _xNew, g, gNew, dir, alpha, gtd) {
      const gg = dot(g, g);
      let num = 0;
      for (let i = 0; i < n; i++) num += gNew[i] * (gNew[i] - g[i]);
      beta = gg > 0 ? Math.max(0, num / gg) : 0;
      prevDir.set(dir);
      prevAlphaGtd = alpha * gtd;
      fresh = false;
    },
    snapshot: (): CgState => ({ kind: 'cg', prevDir: Float64Array.from(prevDir), beta, fresh, prevAlphaGtd }),
    restore(st: DirectionState) {
      if (st.kind !== 'cg') throw new RangeError(`checkpoint: optimizer is ${st.kind}, not cg`);
      if (st.prevDir.length !== n) throw new RangeError(`checkpoint: CG direction needs ${n} values`);
      prevDir.set(st.prevDir);
      beta = st.beta;
      fresh = st.fresh;
      prevAlphaGtd = st.prevAlphaGtd;
    },
  };
}

/** Minimises fg from x0 (left untouched) with Polak–Ribière+ nonlinear CG. */
export function minimizeCg(fg: FG, x0: Float64Array, opts: MinimizeOptions): MinimizeResult {
  return runDescent(fg, x0, opts, createCgStrategy(x0.length));
}

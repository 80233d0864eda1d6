// Whitening as a preconditioner of full-batch training (docs/decisions/0055): the optimiser works
// on V with W = V·R, R = (C/c̄ + ε·I)^(−1/2), C the covariance of the training vectors and c̄ its
// mean eigenvalue. The loss and its minimisers are unchanged (W ranges over the same matrices);
// only the optimiser's geometry changes: L-BFGS starts from γ·I in V, which is γ·R² in W, a scaling
// by the data's own spread instead of none. Gradients map as ∇_V = ∇_W·R (R is symmetric).
//
// R from the top eigenpairs (u_i, λ_i) and one value for the rest (their mean variance):
//   R = c_t·I + Σ_i (r_i − c_t)·u_i u_iᵀ,  r_i = (λ_i/c̄ + ε)^(−1/2),  c_t = (λ_tail/c̄ + ε)^(−1/2),
// so A·R = c_t·A + ((A·Uᵀ)·diag(r − c_t))·U costs 2·rows·d·r multiply-adds and no d×d matrix.
// The products go through the job's kernels (float32 in WebAssembly, like the objective's).
import { jsKernels } from './kernels/js.js';
import type { Kernels } from './kernels/types.js';

/** Regularises the small eigenvalues: the largest stretch of a direction is ε^(−1/2) ≈ 4.5. */
export const WHITEN_EPSILON = 0.05;

/** Top eigenpairs of the training vectors' covariance, and the mean variance of all d directions. */
export interface Spectrum {
  d: number;
  /** pairs held (≤ d) */
  count: number;
  values: Float64Array;
  /** count×d, eigenvectors as rows, orthonormal */
  vectors: Float64Array;
  /** trace(C)/d */
  meanVariance: number;
}

export interface Whitening {
  /** out (rows×d) = A·R */
  apply(A: Float64Array, rows: number, out: Float64Array): void;
  /** out (rows×d) = A·R⁻¹ */
  applyInverse(A: Float64Array, rows: number, out: Float64Array): void;
}

/** Per-direction factors: the top pairs' and the rest's, both as R's (power −½) or R⁻¹'s (+½). */
function factors(s: Spectrum, power: number): { top: Float64Array; tail: number } {
  const c = s.meanVariance > 0 ? s.meanVariance : 1;
  let rest = s.meanVariance * s.d;
  const top = new Float64Array(s.count);
  for (let i = 0; i < s.count; i++) {
    const v = Math.max(0, s.values[i]);
    rest -= v;
    top[i] = Math.pow(v / c + WHITEN_EPSILON, power);
  }
  const tailVariance = s.count < s.d ? Math.max(0, rest) / (s.d - s.count) : 0;
  return { top, tail: Math.pow(tailVariance / c + WHITEN_EPSILON, power) };
}

export function createWhitening(s: Spectrum, kernels: Kernels = jsKernels): Whitening {
  const { d, count: r } = s;
  const rows = new Int32Array(r);
  for (let t = 0; t < r; t++) rows[t] = t;
  const forward = factors(s, -0.5);
  const inverse = factors(s, 0.5);
  let P = new Float64Array(0);
  let Pt = new Float64Array(0);
  const map = (f: { top: Float64Array; tail: number }, A: Float64Array, n: number, out: Float64Array) => {
    if (P.length < n * r) {
      P = new Float64Array(n * r);
      Pt = new Float64Array(n * r);
    }
    kernels.project(s.vectors, r, d, A, n, P); // P = A·Uᵀ (n×r)
    for (let i = 0; i < n; i++) for (let t = 0; t < r; t++) Pt[t * n + i] = P[i * r + t] * (f.top[t] - f.tail);
    for (let x = 0; x < n * d; x++) out[x] = f.tail * A[x];
    kernels.accumulate(out, n, d, Pt, s.vectors, rows, r); // out += Ptᵀ·U
  };
  return {
    apply: (A, n, out) => map(forward, A, n, out),
    applyInverse: (A, n, out) => map(inverse, A, n, out),
  };
}

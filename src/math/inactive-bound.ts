// Triplets that provably stay inactive while W stays near where they were last checked
// (docs/decisions/0041): for x = a − p, y = a − n and slack s = −(‖W_c x‖² − ‖W_c y‖² + margin) > 0
// at W_c, every W with ‖W − W_c‖_F < r keeps the bracket negative, where r is the positive root of
// Aδ² + 2Bδ − s, A = ‖x‖² + ‖y‖², B = ‖x‖‖W_c x‖ + ‖y‖‖W_c y‖. A skipped triplet adds nothing to
// the hinged loss or its gradient, and counts as inactive and correct. Pure.
import { jsKernels } from './kernels/js.js';
import { gramOfColumns } from './top-eigen.js';
import { tripletSquaredDistances } from './triplet-rows.js';
import type { IndexedTripletSet } from './types.js';

/**
 * Slack kept back from the bound, relative to the distances it is computed from: the projections
 * may be float32 (relative error ~1e-6), so a triplet within this of its hinge is always checked.
 */
export const SLACK_TOLERANCE = 1e-4;

/** ‖a − p‖ and ‖a − n‖ of every triplet, in float64. */
export function tripletNorms(set: IndexedTripletSet): { nx: Float64Array; ny: Float64Array } {
  const { m, d, samples, refs } = set;
  const squares = new Float64Array(2 * m);
  tripletSquaredDistances(refs, samples, d, null, m, squares);
  const nx = new Float64Array(m);
  const ny = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    nx[i] = Math.sqrt(squares[2 * i]);
    ny[i] = Math.sqrt(squares[2 * i + 1]);
  }
  return { nx, ny };
}

/**
 * How far (Frobenius) W may move from W_c before triplet i can turn active, from its squared
 * distances dp = ‖W_c x‖², dn = ‖W_c y‖² at W_c; 0 when it is active or within tolerance of it.
 */
export function inactiveRadius(dp: number, dn: number, margin: number, nx: number, ny: number): number {
  const s = dn - dp - margin - SLACK_TOLERANCE * (dp + dn);
  if (!(s > 0)) return 0;
  const A = nx * nx + ny * ny;
  const B = nx * Math.sqrt(dp) + ny * Math.sqrt(dn);
  // s / (B + √(B² + As)): the root without cancellation; shaved for its own rounding
  return (s / (B + Math.sqrt(B * B + A * s))) * (1 - 1e-12);
}

/** ‖W − W_c‖_F */
export function frobeniusDistance(W: Float64Array, Wc: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = W[i] - Wc[i];
    s += e * e;
  }
  return Math.sqrt(s);
}

/** Squarings in spectralNormBound: the bound exceeds ‖D‖₂ by at most rank^(1/2^(q+2)) (≤ 1.08 for rank 128). */
const SQUARINGS = 5;

/**
 * An upper bound on ‖D‖₂ (D r×c row-major), tighter than ‖D‖_F by up to √rank: with M = D·Dᵀ (or
 * Dᵀ·D, the smaller), ‖D‖₂² = λ_max(M) ≤ ‖M^(2^q)‖_F^(1/2^q), since M is symmetric positive
 * semi-definite and the Frobenius norm of its power sums λ_i^(2^q). Each square is rescaled to unit
 * Frobenius norm (the scales multiply back in log space).
 * Cost: min(r, c)²·max(r, c)/2 + q·min(r, c)³ multiply-adds. Pure.
 */
export function spectralNormBound(D: Float64Array, r: number, c: number): number {
  // D / max|D_ij| first: the Gram matrix of tiny (or huge) steps would under- (over-)flow
  let scale = 0;
  for (let i = 0; i < r * c; i++) scale = Math.max(scale, Math.abs(D[i]));
  if (!(scale > 0)) return 0;
  let M = gram(
    D.map((v) => v / scale),
    r,
    c,
  );
  const s = Math.min(r, c);
  let log = 0;
  let weight = 1;
  for (let q = 0; ; q++) {
    const f = Math.sqrt(M.reduce((t, v) => t + v * v, 0));
    if (!(f > 0)) return 0;
    log += weight * Math.log(f);
    if (q === SQUARINGS) break;
    for (let i = 0; i < M.length; i++) M[i] /= f;
    M = gram(M, s, s); // M·Mᵀ = M² for the symmetric M
    weight /= 2;
  }
  // rounding of the float64 products, relative ~1e-13 per step, kept on the safe side
  return scale * Math.sqrt(Math.exp(log)) * (1 + 1e-9);
}

/** D·Dᵀ (r×r) when r ≤ c, else Dᵀ·D (c×c), with the tiled JS kernel in float64. */
function gram(D: Float64Array, r: number, c: number): Float64Array {
  if (r > c) return gramOfColumns(D, r, c, 1);
  const M = new Float64Array(r * r);
  jsKernels.project(D, r, c, D, r, M);
  return M;
}

/** Multiply-adds of spectralNormBound for an r×c matrix. */
export function spectralBoundCost(r: number, c: number): number {
  const s = Math.min(r, c);
  return (s * s * Math.max(r, c)) / 2 + SQUARINGS * s * s * s;
}

// The unit every optimiser moves W in. Their constants are absolute while W carries the inverse of
// the features' unit (the loss is dimensionless and the PCA start is rescaled to the data):
//   - full batch (L-BFGS, CG): the first step of a steepest-descent start moves W by at most 1
//     (minFunc's min(1, 1/‖g‖₁)), the default gradientTolerance is 1e-8 on ‖∇W‖∞, and the line
//     search resolves steps to 1e-14. With features of 1e-5 or 1e5 a job stopped at its start map
//     (gradient_tolerance, no_progress or line_search_failed at iteration 0) and still succeeded.
//   - Adam (mined samples): ε = 1e-8 is added to √v̂, the RMS of ∇W's entries, which is about the
//     features' unit. With features of 1e-10 it outweighed √v̂ a hundredfold, every step shrank by
//     as much, and the job returned a map barely moved from its start (MAP@R 0.48 for 0.66 on digits).
// They hold for features whose differences have an RMS between 2⁻⁸ and 2⁸ (digits, raw MNIST pixels
// and the face-like sets are inside). Beyond that the optimiser moves x = σ·W, σ the power of two
// that makes the features look as if they were at the nearer end of that range: a power of two is
// exact in floating point, so such data trains as data at 2^±8 would, bit for bit up to the factor,
// and data inside the range trains exactly as it always did (σ = 1).
import { tripletRow } from '../triplet-rows.js';
import type { DataArray, Triplets } from '../types.js';

/** log₂ of the RMS difference between which σ is 1. */
export const SCALE_FREE_BAND = 8;
/** Rows sampleScale reads at most: σ needs only the RMS's power of two. */
const SCALE_ROWS = 8192;

/**
 * σ = 2^(e − clamp(e, −8, 8)), e = round(log₂ rms), for `rms` the RMS difference between the
 * features the loss compares; 1 when it is 0 or not finite.
 */
export function scaleOfRms(rms: number): number {
  if (!(rms > 0 && Number.isFinite(rms))) return 1;
  const e = Math.round(Math.log2(rms));
  return 2 ** (e - Math.min(SCALE_FREE_BAND, Math.max(-SCALE_FREE_BAND, e)));
}

/** σ of a triplet set: the RMS of a − p and a − n over its triplets. One pass over the rows: m·d. */
export function optimiserScale(set: Triplets): number {
  const { m, d } = set;
  let sum = 0;
  for (let i = 0; i < m; i++) {
    const [A, a] = tripletRow(set, 0, i);
    const [P, p] = tripletRow(set, 1, i);
    const [N, q] = tripletRow(set, 2, i);
    for (let r = 0; r < d; r++) {
      const u = A[a * d + r] - P[p * d + r];
      const v = A[a * d + r] - N[q * d + r];
      sum += u * u + v * v;
    }
  }
  return scaleOfRms(Math.sqrt(sum / (2 * m * d)));
}

/**
 * σ of labelled samples (X, n×d): the RMS difference between two of them, √2 times the RMS of the
 * rows less their mean (two passes, so rows far from the origin lose no digit), over at most
 * SCALE_ROWS rows evenly spaced. Mined batches compare every pair of their samples.
 */
export function sampleScale(X: DataArray, n: number, d: number): number {
  const stride = Math.max(1, Math.ceil(n / SCALE_ROWS));
  const rows = Math.ceil(n / stride);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i += stride) for (let r = 0; r < d; r++) mean[r] += X[i * d + r];
  for (let r = 0; r < d; r++) mean[r] /= rows;
  let sum = 0;
  for (let i = 0; i < n; i += stride) {
    for (let r = 0; r < d; r++) {
      const u = X[i * d + r] - mean[r];
      sum += u * u;
    }
  }
  return scaleOfRms(Math.sqrt((2 * sum) / (rows * d)));
}

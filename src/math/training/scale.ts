// The unit the full-batch optimisers move W in. Their constants are absolute: the first step of a
// steepest-descent start moves W by at most 1 (minFunc's min(1, 1/‖g‖₁)), the default
// gradientTolerance is 1e-8 on ‖∇W‖∞, and the line search resolves steps to 1e-14. The loss is
// dimensionless and W carries the inverse of the features' unit, so with features of 1e-5 or 1e5 a
// job stopped at its start map (gradient_tolerance, no_progress or line_search_failed at
// iteration 0) and still succeeded. They hold for features whose differences have an RMS between
// 2⁻⁸ and 2⁸ (digits, raw MNIST pixels and the face-like sets are inside). Beyond that the
// optimiser moves x = σ·W, σ the power of two that makes the features look as if they were at the
// nearer end of that range: a power of two is exact in floating point, so such data trains as
// data at 2^±8 would, and data inside the range trains exactly as it always did (σ = 1).
import { tripletRow } from '../triplet-rows.js';
import type { Triplets } from '../types.js';

/** log₂ of the RMS difference between which σ is 1. */
export const SCALE_FREE_BAND = 8;

/**
 * σ = 2^(e − clamp(e, −8, 8)), e = round(log₂ of the RMS of a − p and a − n over the set's
 * triplets); 1 when that RMS is 0 or not finite. One pass over the rows: m·d.
 */
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
  const rms = Math.sqrt(sum / (2 * m * d));
  if (!(rms > 0 && Number.isFinite(rms))) return 1;
  const e = Math.round(Math.log2(rms));
  return 2 ** (e - Math.min(SCALE_FREE_BAND, Math.max(-SCALE_FREE_BAND, e)));
}

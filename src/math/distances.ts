// Embedding and pairwise distances on row-major typed arrays.
import { NORM_EPSILON } from './losses.js';
import type { DataArray } from './types.js';

export type Metric = 'euclidean' | 'squared_euclidean' | 'cosine';

/**
 * out (n×k) = X (n×d) · Wᵀ, rows L2-normalised when asked (norm clamped at
 * NORM_EPSILON, so a zero embedding stays zero instead of becoming NaN).
 */
export function embed(
  W: Float64Array,
  k: number,
  d: number,
  X: DataArray,
  n: number,
  normalize: boolean,
  out: DataArray,
): void {
  if (W.length !== k * d) throw new RangeError(`W has ${W.length} values, expected k·d = ${k * d}`);
  if (X.length < n * d) throw new RangeError(`X has ${X.length} values, expected n·d = ${n * d}`);
  if (out.length < n * k) throw new RangeError(`out has ${out.length} values, expected n·k = ${n * k}`);
  for (let i = 0; i < n; i++) {
    const xo = i * d;
    const eo = i * k;
    let ss = 0;
    for (let r = 0; r < k; r++) {
      const wo = r * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += W[wo + j] * X[xo + j];
      out[eo + r] = s;
      ss += s * s;
    }
    if (!normalize) continue;
    const inv = 1 / Math.max(Math.sqrt(ss), NORM_EPSILON);
    for (let r = 0; r < k; r++) out[eo + r] *= inv;
  }
}

/** Distance between row ia of Ea and row ib of Eb (squared euclidean is computed directly, so it is never negative). */
function pairDistance(Ea: DataArray, ao: number, Eb: DataArray, bo: number, k: number, metric: Metric): number {
  if (metric === 'cosine') {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let r = 0; r < k; r++) {
      const x = Ea[ao + r];
      const y = Eb[bo + r];
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    // a zero vector has no direction: treat it as orthogonal to everything (distance 1)
    if (na === 0 || nb === 0) return 1;
    const cos = dot / Math.sqrt(na * nb);
    return Math.min(2, Math.max(0, 1 - cos));
  }
  let s = 0;
  for (let r = 0; r < k; r++) {
    const v = Ea[ao + r] - Eb[bo + r];
    s += v * v;
  }
  s = Math.max(0, s);
  return metric === 'euclidean' ? Math.sqrt(s) : s;
}

/** out (na×nb row-major) = distances between rows of Ea (na×k) and Eb (nb×k). */
export function pairwiseDistances(
  Ea: DataArray,
  na: number,
  Eb: DataArray,
  nb: number,
  k: number,
  metric: Metric,
  out: DataArray,
): void {
  if (out.length < na * nb) throw new RangeError(`out has ${out.length} values, expected na·nb = ${na * nb}`);
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) out[i * nb + j] = pairDistance(Ea, i * k, Eb, j * k, k, metric);
  }
}

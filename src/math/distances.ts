// Embedding and pairwise distances on row-major typed arrays.
import type { Kernels } from './kernels/types.js';
import { NORM_EPSILON } from './losses.js';
import type { DataArray } from './types.js';

export type Metric = 'euclidean' | 'squared_euclidean' | 'cosine';

/**
 * out (n×k) = X (n×d) · Wᵀ, rows L2-normalised when asked (norm clamped at
 * NORM_EPSILON, so a zero embedding stays zero instead of becoming NaN).
 * With `kernels` that can prepare a projection (WebAssembly SIMD), the product runs there in
 * float32; otherwise in float64 here. For many calls with one W, use kernels.prepareProjection.
 */
export function embed(
  W: Float64Array,
  k: number,
  d: number,
  X: DataArray,
  n: number,
  normalize: boolean,
  out: DataArray,
  kernels?: Kernels,
): void {
  if (W.length !== k * d) throw new RangeError(`W has ${W.length} values, expected k·d = ${k * d}`);
  if (X.length < n * d) throw new RangeError(`X has ${X.length} values, expected n·d = ${n * d}`);
  if (out.length < n * k) throw new RangeError(`out has ${out.length} values, expected n·k = ${n * k}`);
  if (kernels?.prepareProjection) {
    const p = kernels.prepareProjection(W, k, d);
    try {
      p.embed(X, n, normalize, out);
    } finally {
      p.dispose();
    }
    return;
  }
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

/** Mean Euclidean distance over all pairs of the n rows of E (n×k): a collapse gauge. */
export function meanPairwiseDistance(E: DataArray, n: number, k: number): number {
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      let s = 0;
      for (let r = 0; r < k; r++) {
        const v = E[a * k + r] - E[b * k + r];
        s += v * v;
      }
      sum += Math.sqrt(s);
      pairs++;
    }
  }
  return pairs > 0 ? sum / pairs : 0;
}

/** na·nb·k from which the Gram form (‖x‖² + ‖y‖² − 2xᵀy through the kernels) replaces direct differences. */
export const GRAM_MIN_WORK = 1 << 16;

/** ‖eᵢ‖² of each of the n rows of E (n×k). */
export function rowSquaredNorms(E: DataArray, n: number, k: number): Float64Array {
  const sq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let r = 0; r < k; r++) s += E[i * k + r] * E[i * k + r];
    sq[i] = s;
  }
  return sq;
}

/**
 * Large blocks through the kernels' Gram product: squared = max(0, ‖x‖² + ‖y‖² − 2xᵀy) (norms in
 * float64, xᵀy in the kernel's float32), cosine = 1 − xᵀy/(‖x‖‖y‖). When Eb is Ea itself the
 * diagonal is exactly 0. Cancellation makes tiny distances between near-identical points carry
 * an absolute error of about 1e-7·‖x‖², which is why small blocks keep the direct form.
 */
function gramDistances(gram: NonNullable<Kernels['gram']>, Ea: DataArray, na: number, Eb: DataArray, nb: number, k: number, metric: Metric, out: DataArray): void {
  const G = new Float64Array(na * nb);
  gram(Ea, na, Eb, nb, k, G);
  const sa = rowSquaredNorms(Ea, na, k);
  const sb = Eb === Ea ? sa : rowSquaredNorms(Eb, nb, k);
  const self = Eb === Ea && na === nb;
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) {
      const g = G[i * nb + j];
      let v: number;
      if (metric === 'cosine') {
        if (sa[i] === 0 || sb[j] === 0) v = 1;
        else v = Math.min(2, Math.max(0, 1 - g / Math.sqrt(sa[i] * sb[j])));
      } else {
        const s = self && i === j ? 0 : Math.max(0, sa[i] + sb[j] - 2 * g);
        v = metric === 'euclidean' ? Math.sqrt(s) : s;
      }
      out[i * nb + j] = v;
    }
  }
  if (self && metric === 'cosine') for (let i = 0; i < na; i++) if (sa[i] !== 0) out[i * nb + i] = 0;
}

/**
 * out (na×nb row-major) = distances between rows of Ea (na×k) and Eb (nb×k).
 * Blocks of at least GRAM_MIN_WORK multiply-adds go through `kernels.gram` when it exists.
 */
export function pairwiseDistances(
  Ea: DataArray,
  na: number,
  Eb: DataArray,
  nb: number,
  k: number,
  metric: Metric,
  out: DataArray,
  kernels?: Kernels,
): void {
  if (out.length < na * nb) throw new RangeError(`out has ${out.length} values, expected na·nb = ${na * nb}`);
  if (kernels?.gram && na * nb * k >= GRAM_MIN_WORK) {
    gramDistances(kernels.gram, Ea, na, Eb, nb, k, metric, out);
    return;
  }
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) out[i * nb + j] = pairDistance(Ea, i * k, Eb, j * k, k, metric);
  }
}

// Whether a model's embeddings of some rows stay in the range where distances between them are
// finite float32 numbers. A model whose weights are finite can still map finite rows past it
// (W = 3e38 on a row of ones): the kernels' float32 products overflow, Infinity − Infinity is NaN,
// and a NaN compares false everywhere, so a loss reads 0 instead of failing. Checked before such
// figures are computed, so the caller can refuse the request instead of answering nonsense.
import { embed } from './embed.js';
import type { Kernels } from './kernels/types.js';
import type { DataArray } from './types.js';

/** float32's largest finite value. */
export const FLOAT32_MAX = 3.4028234663852886e38;
/** Rows embedded at a time on the exact path: bounds its scratch at CHUNK·k floats. */
const CHUNK = 256;

/**
 * The largest embedding value a squared distance (or norm) between k-dimensional embeddings can
 * take with every sum finite: 4·k·e² < FLOAT32_MAX, with room for the kernels' rounding.
 */
export function largestSafeValue(k: number): number {
  return Math.sqrt(FLOAT32_MAX / (8 * k));
}

/** max over W's rows of Σ|W_rj|: times max|x|, it bounds every |(W·x)_r|. */
export function largestRowSum(W: Float64Array, k: number, d: number): number {
  let most = 0;
  for (let r = 0; r < k; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += Math.abs(W[r * d + j]);
    most = Math.max(most, s);
  }
  return most;
}

function largestAbs(X: DataArray, count: number): number {
  let most = 0;
  for (let i = 0; i < count; i++) {
    const v = Math.abs(X[i]);
    if (v > most) most = v;
  }
  return most;
}

/**
 * The first of the n rows of X whose embedding by W (k×d) has a value past largestSafeValue(k),
 * or a non-finite one; -1 when there is none. One pass over W and X when their bound is safe (the
 * usual case); otherwise the rows are embedded in chunks and measured. A caller checking several
 * sets against one W passes `rowSum` (largestRowSum) so that W is read once.
 */
export function firstUnsafeRow(
  W: Float64Array,
  k: number,
  d: number,
  X: DataArray,
  n: number,
  kernels?: Kernels,
  rowSum = largestRowSum(W, k, d),
): number {
  const safe = largestSafeValue(k);
  if (rowSum * largestAbs(X, n * d) <= safe) return -1;
  const E = new Float32Array(CHUNK * k);
  // W goes to the kernels once, not once a chunk
  const p = kernels?.prepareProjection?.(W, k, d);
  try {
    for (let from = 0; from < n; from += CHUNK) {
      const rows = Math.min(CHUNK, n - from);
      const Xc = X.subarray(from * d, (from + rows) * d);
      if (p) p.embed(Xc, rows, false, E);
      else embed(W, k, d, Xc, rows, false, E);
      const i = firstUnsafeValue(E, rows * k, safe);
      if (i >= 0) return from + Math.floor(i / k);
    }
    return -1;
  } finally {
    p?.dispose();
  }
}

/**
 * The first of n stored k-dimensional embeddings with a value past largestSafeValue(k) (or not
 * finite): its row, the value and the bound; undefined when there is none.
 */
export function firstUnsafeEmbedding(
  E: Float32Array,
  n: number,
  k: number,
): { row: number; value: number; safe: number } | undefined {
  const safe = largestSafeValue(k);
  const i = firstUnsafeValue(E, n * k, safe);
  return i < 0 ? undefined : { row: Math.floor(i / k), value: E[i], safe };
}

/** The index of the first of E's `count` values past ±safe, or not finite; -1 when there is none. */
export function firstUnsafeValue(E: Float32Array, count: number, safe: number): number {
  for (let i = 0; i < count; i++) if (!(Math.abs(E[i]) <= safe)) return i;
  return -1;
}

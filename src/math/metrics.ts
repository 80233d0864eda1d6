// Evaluation numbers: triplet loss/accuracy for a W, and retrieval metrics
// (Musgrave et al. 2020) matching ../shared/tools/eval/common.py.
import type { Kernels } from './kernels/types.js';
import { squaredDistance, type Distance } from './distance.js';
import { GRAM_MIN_WORK, rowSquaredNorms } from './distances.js';
import { createTripletObjective } from './losses.js';
import type { DataArray, TripletSet } from './types.js';

export interface TripletEvaluation {
  /** mean hinge loss, no weight decay */
  loss: number;
  /** fraction with d(a,p) < d(a,n) strictly */
  tripletAccuracy: number;
  /** fraction with a positive bracket */
  activeFraction: number;
  count: number;
}

export function evaluateTriplets(
  W: Float64Array,
  k: number,
  set: TripletSet,
  opts: { margin: number; normalize: boolean },
  kernels?: Kernels,
): TripletEvaluation {
  const obj = createTripletObjective(set, { margin: opts.margin, normalize: opts.normalize, weightDecay: 0 }, kernels);
  let v;
  try {
    v = obj.evaluate(W, k, null);
  } finally {
    obj.dispose?.();
  }
  return {
    loss: v.loss,
    tripletAccuracy: v.correctCount / set.m,
    activeFraction: v.activeCount / set.m,
    count: set.m,
  };
}

export interface RetrievalMetrics {
  /** null when queryCount is 0: nothing was measured, which a 0 would report as a model always wrong */
  precisionAt1: number | null;
  rPrecision: number | null;
  mapAtR: number | null;
  /** queries scored (those with at least one other sample of their label) */
  queryCount: number;
}

/** Queries per block of the distance matrix; bounds memory at CHUNK·n doubles. */
const CHUNK = 64;

/** How many times each label occurs. */
export function labelCounts(labels: Int32Array): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  return counts;
}

/**
 * Distances of queries q0..q0+rows to every row in the distance's Gram form (for squared, as
 * common.py computes them: ‖a‖² + ‖b‖² − 2a·b clamped at 0), self set to +∞ (leave-one-out).
 * `gram`, when given, holds the rows×n dot products (from the kernels); else they are computed
 * here in float64.
 */
function distanceBlock(
  E: DataArray,
  n: number,
  k: number,
  sq: Float64Array,
  q0: number,
  rows: number,
  D: Float64Array,
  gram: Float64Array | null,
  distance: Distance,
): void {
  for (let q = 0; q < rows; q++) {
    const qi = q0 + q;
    const qo = qi * k;
    const o = q * n;
    if (gram) {
      for (let j = 0; j < n; j++) D[o + j] = distance.fromGram(sq[qi], sq[j], gram[o + j]);
    } else {
      for (let j = 0; j < n; j++) {
        const jo = j * k;
        let dot = 0;
        for (let r = 0; r < k; r++) dot += E[qo + r] * E[jo + r];
        D[o + j] = distance.fromGram(sq[qi], sq[j], dot);
      }
    }
    D[o + qi] = Infinity;
  }
}

/** One query's figures: a hit at rank 1 (0 or 1), its R-precision and its average precision at R. */
export interface QueryScore {
  p1: number;
  rPrec: number;
  ap: number;
}

/**
 * Puts the R nearest rows of one query first in `order`, ranked by (distance, row index) — the
 * order of a stable argsort — without sorting the rest: a quickselect partition around the
 * R-th key, then a sort of the first R only.
 */
function nearestFirst(D: Float64Array, off: number, n: number, R: number, order: Int32Array): void {
  for (let j = 0; j < n; j++) order[j] = j;
  const before = (a: number, b: number) => {
    const da = D[off + a];
    const db = D[off + b];
    return da < db || (da === db && a < b);
  };
  // quickselect: afterwards order[0..R) holds the R smallest keys (in some order)
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    // median of three as the pivot
    const mid = (lo + hi) >>> 1;
    const [a, b, c] = [order[lo], order[mid], order[hi]];
    const pivot = medianOf3(a, b, c, before);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (before(order[i], pivot)) i++;
      while (before(pivot, order[j])) j--;
      if (i <= j) {
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
        i++;
        j--;
      }
    }
    // [lo, j] ≤ pivot ≤ [i, hi]; keep the side holding position R−1
    if (R - 1 <= j) hi = j;
    else if (R - 1 >= i) lo = i;
    else break;
  }
  const head = order.subarray(0, R);
  if (R <= 32) {
    for (let x = 1; x < R; x++) {
      const v = head[x];
      let y = x - 1;
      while (y >= 0 && before(v, head[y])) {
        head[y + 1] = head[y];
        y--;
      }
      head[y + 1] = v;
    }
  } else head.sort((a, b) => D[off + a] - D[off + b] || a - b);
}

/** Ranks one query's neighbours (ties by row index, like a stable argsort) and scores its first R. */
function scoreQuery(
  D: Float64Array,
  off: number,
  n: number,
  labels: Int32Array,
  qi: number,
  R: number,
  order: Int32Array,
): QueryScore {
  nearestFirst(D, off, n, R, order);
  const y = labels[qi];
  let hits = 0;
  let ap = 0;
  for (let i = 0; i < R; i++) {
    if (labels[order[i]] !== y) continue;
    hits++;
    ap += hits / (i + 1);
  }
  return { p1: labels[order[0]] === y ? 1 : 0, rPrec: hits / R, ap: ap / R };
}

/**
 * precision@1, R-precision and MAP@R with leave-one-out retrieval inside (E, labels),
 * ranked by `distance` (default squared euclidean, which ranks as euclidean does), micro-averaged over queries that have at least one other sample
 * of their label; null figures when no sample has one (queryCount 0: nothing to measure, see
 * docs/decisions/0071). Distances are computed CHUNK queries at a time (never n×n).
 *
 * With `kernels` that can prepare a projection (WebAssembly SIMD), the dot products of each
 * block come from the kernels with E packed once (float32 accumulation; norms and the distance
 * form stay float64): distances then carry a relative error of ~1e-7, so two neighbours whose
 * float64 distances differ by less than that may swap ranks. Exact ties (e.g. duplicate rows)
 * stay ties. Without kernels everything is float64, as common.py.
 */
export function retrievalMetrics(
  E: DataArray,
  n: number,
  k: number,
  labels: Int32Array,
  kernels?: Kernels,
  distance: Distance = squaredDistance,
  /** called with each scored query's row and figures (the means are over these) */
  onQuery?: (row: number, s: QueryScore) => void,
): RetrievalMetrics {
  if (labels.length < n || E.length < n * k) throw new RangeError('retrievalMetrics: E or labels too short');
  const counts = labelCounts(labels.subarray(0, n));
  const sq = rowSquaredNorms(E, n, k);
  const D = new Float64Array(Math.min(CHUNK, n) * n);
  const order = new Int32Array(n);
  // E (n×k) as the "W" of a projection: a block of queries Q gives Q·Eᵀ, their dot products with every row
  const projection =
    kernels?.prepareProjection && n * n * k >= GRAM_MIN_WORK ? kernels.prepareProjection(E, n, k) : null;
  const gram = projection ? new Float64Array(Math.min(CHUNK, n) * n) : null;
  let p1 = 0;
  let rp = 0;
  let map = 0;
  let queries = 0;
  try {
    for (let q0 = 0; q0 < n; q0 += CHUNK) {
      const rows = Math.min(CHUNK, n - q0);
      if (projection && gram) projection.embed(E.subarray(q0 * k, (q0 + rows) * k), rows, false, gram);
      distanceBlock(E, n, k, sq, q0, rows, D, gram, distance);
      for (let q = 0; q < rows; q++) {
        const qi = q0 + q;
        const R = (counts.get(labels[qi]) ?? 1) - 1;
        if (R <= 0) continue;
        const s = scoreQuery(D, q * n, n, labels, qi, R, order);
        onQuery?.(qi, s);
        p1 += s.p1;
        rp += s.rPrec;
        map += s.ap;
        queries++;
      }
    }
  } finally {
    projection?.dispose();
  }
  // no scorable query: no figure (numpy would give NaN, which JSON cannot carry; 0 would read as a
  // model that is always wrong)
  if (queries === 0) return { precisionAt1: null, rPrecision: null, mapAtR: null, queryCount: 0 };
  return { precisionAt1: p1 / queries, rPrecision: rp / queries, mapAtR: map / queries, queryCount: queries };
}

/** The middle one of three by `before` (a stable choice of pivot for the quicksort above). */
function medianOf3<T>(a: T, b: T, c: T, before: (x: T, y: T) => boolean): T {
  if (before(b, a)) [a, b] = [b, a];
  if (before(c, b)) {
    b = c;
    if (before(b, a)) b = a;
  }
  return b;
}

// Evaluation numbers: triplet loss/accuracy for a W, and retrieval metrics
// (Musgrave et al. 2020) matching /work/shared/tools/eval/common.py.
import type { Kernels } from './kernels/types.js';
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
  precisionAt1: number;
  rPrecision: number;
  mapAtR: number;
  /** queries scored (those with at least one other sample of their label) */
  queryCount: number;
}

/** Queries per block of the distance matrix; bounds memory at CHUNK·n doubles. */
const CHUNK = 64;

function labelCounts(labels: Int32Array): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  return counts;
}

function rowSquaredNorms(E: DataArray, n: number, k: number): Float64Array {
  const sq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let r = 0; r < k; r++) s += E[i * k + r] * E[i * k + r];
    sq[i] = s;
  }
  return sq;
}

/**
 * Squared distances of queries q0..q0+rows to every row, as common.py computes them:
 * ‖a‖² + ‖b‖² − 2a·b clamped at 0, self set to +∞ (leave-one-out).
 */
function distanceBlock(E: DataArray, n: number, k: number, sq: Float64Array, q0: number, rows: number, D: Float64Array): void {
  for (let q = 0; q < rows; q++) {
    const qi = q0 + q;
    const qo = qi * k;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let r = 0; r < k; r++) dot += E[qo + r] * E[j * k + r];
      D[q * n + j] = Math.max(0, sq[qi] + sq[j] - 2 * dot);
    }
    D[q * n + qi] = Infinity;
  }
}

interface QueryScore { p1: number; rPrec: number; ap: number }

/** Ranks one query's neighbours (ties by row index, like a stable argsort) and scores its first R. */
function scoreQuery(D: Float64Array, off: number, n: number, labels: Int32Array, qi: number, R: number, order: Int32Array): QueryScore {
  for (let j = 0; j < n; j++) order[j] = j;
  order.sort((a, b) => D[off + a] - D[off + b] || a - b);
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
 * euclidean ranking, micro-averaged over queries that have at least one other sample
 * of their label. Distances are computed CHUNK queries at a time (never n×n).
 */
export function retrievalMetrics(E: DataArray, n: number, k: number, labels: Int32Array): RetrievalMetrics {
  if (labels.length < n || E.length < n * k) throw new RangeError('retrievalMetrics: E or labels too short');
  const counts = labelCounts(labels.subarray(0, n));
  const sq = rowSquaredNorms(E, n, k);
  const D = new Float64Array(Math.min(CHUNK, n) * n);
  const order = new Int32Array(n);
  let p1 = 0;
  let rp = 0;
  let map = 0;
  let queries = 0;
  for (let q0 = 0; q0 < n; q0 += CHUNK) {
    const rows = Math.min(CHUNK, n - q0);
    distanceBlock(E, n, k, sq, q0, rows, D);
    for (let q = 0; q < rows; q++) {
      const qi = q0 + q;
      const R = (counts.get(labels[qi]) ?? 1) - 1;
      if (R <= 0) continue;
      const s = scoreQuery(D, q * n, n, labels, qi, R, order);
      p1 += s.p1;
      rp += s.rPrec;
      map += s.ap;
      queries++;
    }
  }
  // no scorable query: report zeros (numpy would give NaN, which JSON cannot carry)
  if (queries === 0) return { precisionAt1: 0, rPrecision: 0, mapAtR: 0, queryCount: 0 };
  return { precisionAt1: p1 / queries, rPrecision: rp / queries, mapAtR: map / queries, queryCount: queries };
}

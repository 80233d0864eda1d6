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

/** A query's exact distance to every row (Distance.pair, float64 from differences), self +∞. */
function exactRow(E: DataArray, n: number, k: number, qi: number, D: Float64Array, distance: Distance): void {
  for (let j = 0; j < n; j++) D[j] = j === qi ? Infinity : distance.pair(E, qi * k, E, j * k, k);
}

/**
 * Relative widening of a bar on squared distances when the ranking is on their square roots: any s
 * with √s ≤ √t (rounded) has s ≤ t·(1 + 2⁻⁵⁰).
 */
const SQRT_PAD = 1 + 2 ** -50;

/**
 * A Gram-form screen of the rows through the kernels' float32 products: for a block of queries,
 * every row's Gram value, within `slack(q)` of the exact one (in the units of scaledCopy). For the
 * euclidean distances the rows are centred first (E − mean, rounded to float32): distances do not
 * move, and the float32 dot product's error, relative to the rows' norms, no longer grows with how
 * far the rows sit from the origin. Its bound: k·2⁻²³·(‖x‖² + ‖y‖²) for the products (doubled
 * γ_k), 3·2⁻²³·(…) for the centring's rounding, with room to spare: (k + 6)·2⁻²³, plus what
 * underflowing products can add. Cosine (not translation-invariant) is screened uncentred, within
 * (k + 1)·2⁻²³ + 2⁻⁴⁰ and the same underflow term.
 */
interface Screen {
  /** Gram values of queries q0..q0+rows against every row, rows×n (valid until the next call) */
  block(q0: number, rows: number): Float64Array;
  slack(qi: number): number;
  dispose(): void;
}

function createScreen(
  E: DataArray,
  n: number,
  k: number,
  prepare: NonNullable<Kernels['prepareProjection']>,
  distance: Distance,
): Screen {
  const cosine = distance.name === 'cosine';
  const C = scaledCopy(E, n, k, cosine ? null : meanRow(E, n, k));
  const sq = rowSquaredNorms(C, n, k);
  let maxSq = 0;
  for (let i = 0; i < n; i++) maxSq = Math.max(maxSq, sq[i]);
  const inv = cosine ? sq.map((x) => (x > 0 ? 1 / Math.sqrt(x) : 0)) : null;
  let maxInv = 0;
  if (inv) for (let i = 0; i < n; i++) maxInv = Math.max(maxInv, inv[i]);
  // products that still underflow (a tiny value beside large ones in a row): 2⁻¹⁴⁹ each, doubled
  const underflow = k * 2 ** -148;
  const projection = prepare(C, n, k);
  const G = new Float64Array(Math.min(CHUNK, n) * n);
  return {
    block(q0, rows) {
      projection.embed(C.subarray(q0 * k, (q0 + rows) * k), rows, false, G);
      for (let q = 0; q < rows; q++) {
        const qi = q0 + q;
        const o = q * n;
        if (inv) for (let j = 0; j < n; j++) G[o + j] = 1 - G[o + j] * inv[qi] * inv[j];
        else for (let j = 0; j < n; j++) G[o + j] = sq[qi] + sq[j] - 2 * G[o + j];
      }
      return G;
    },
    slack: (qi) =>
      cosine
        ? (k + 1) * 2 ** -23 + 2 ** -40 + underflow * inv![qi] * maxInv
        : (k + 6) * 2 ** -23 * (sq[qi] + maxSq) + 2 * underflow,
    dispose: () => projection.dispose(),
  };
}

/** The mean of the n rows of E (n×k), float64. */
function meanRow(E: DataArray, n: number, k: number): Float64Array {
  const mean = new Float64Array(k);
  for (let i = 0; i < n; i++) for (let r = 0; r < k; r++) mean[r] += E[i * k + r];
  for (let r = 0; r < k; r++) mean[r] /= n;
  return mean;
}

/**
 * (E − mean)·2^p as float32 (what the kernels take), 2^p bringing the largest row to about unit
 * norm: the rows' float32 products then neither underflow (rows of 1e-25 lost every digit) nor
 * overflow. The Gram values come out in these units, and the screen compares them only with each
 * other. Without a mean, E·2^p (cosine: not translation-invariant, and blind to the scale).
 */
function scaledCopy(E: DataArray, n: number, k: number, mean: Float64Array | null): Float32Array {
  const C = new Float32Array(n * k);
  let max = 0;
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < k; r++) max = Math.max(max, Math.abs(E[i * k + r] - (mean ? mean[r] : 0)));
  }
  const scale = max > 0 ? 2 ** -Math.round(Math.log2(max * Math.sqrt(k))) : 1;
  for (let i = 0; i < n; i++) for (let r = 0; r < k; r++) C[i * k + r] = (E[i * k + r] - (mean ? mean[r] : 0)) * scale;
  return C;
}

/**
 * Ranks one query's R nearest neighbours into order[0..R), by (exact distance, index). The R
 * nearest by the Gram screen, the largest of their Gram values t, bound the R-th exact distance
 * by t + slack, so only rows whose Gram value is within 2·slack of t can rank among the R; those
 * (ascending, so that position order is index order) get their exact distance in D and are ranked.
 */
function screenedRanking(
  E: DataArray,
  n: number,
  k: number,
  qi: number,
  R: number,
  approx: Float64Array,
  aOff: number,
  screen: Screen,
  D: Float64Array,
  candidates: Int32Array,
  order: Int32Array,
  distance: Distance,
): void {
  approx[aOff + qi] = Infinity;
  selectNearest(approx, aOff, n, R, order);
  let t = -Infinity;
  for (let x = 0; x < R; x++) t = Math.max(t, approx[aOff + order[x]]);
  const bar = (t + 2 * screen.slack(qi)) * SQRT_PAD;
  let c = 0;
  for (let j = 0; j < n; j++) {
    if (!(approx[aOff + j] <= bar)) continue;
    candidates[c] = j;
    D[c++] = distance.pair(E, qi * k, E, j * k, k);
  }
  nearestFirst(D, 0, c, R, order);
  for (let x = 0; x < R; x++) order[x] = candidates[order[x]];
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
  const before = selectNearest(D, off, n, R, order);
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

/**
 * A quickselect partition: afterwards order[0..R) holds the R smallest keys by (D[off + j], j), in
 * no particular order. Returns the comparison it used.
 */
function selectNearest(
  D: Float64Array,
  off: number,
  n: number,
  R: number,
  order: Int32Array,
): (a: number, b: number) => boolean {
  for (let j = 0; j < n; j++) order[j] = j;
  const before = (a: number, b: number) => {
    const da = D[off + a];
    const db = D[off + b];
    return da < db || (da === db && a < b);
  };
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
  return before;
}

/** Scores one query's R nearest neighbours, order[0..R) nearest first. */
function scoreRanked(order: Int32Array, labels: Int32Array, qi: number, R: number): QueryScore {
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
 * Neighbours are ranked by their exact distance (Distance.pair: float64 from differences), ties
 * by row index, as a brute force (common.py's float64 Gram form agrees but where its own rounding
 * splits a tie). With `kernels` that can prepare a projection (WebAssembly SIMD), a float32 Gram
 * screen (createScreen) first rules out the rows that cannot be among a query's R nearest, so
 * only the others need an exact distance; without kernels every distance is exact.
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
  const D = new Float64Array(n);
  const order = new Int32Array(n);
  const candidates = new Int32Array(n);
  // E (n×k) as the "W" of a projection: a block of queries Q gives Q·Eᵀ, their dot products with every row
  const screen =
    kernels?.prepareProjection && n * n * k >= GRAM_MIN_WORK
      ? createScreen(E, n, k, kernels.prepareProjection.bind(kernels), distance)
      : null;
  let p1 = 0;
  let rp = 0;
  let map = 0;
  let queries = 0;
  try {
    for (let q0 = 0; q0 < n; q0 += CHUNK) {
      const rows = Math.min(CHUNK, n - q0);
      const approx = screen?.block(q0, rows);
      for (let q = 0; q < rows; q++) {
        const qi = q0 + q;
        const R = (counts.get(labels[qi]) ?? 1) - 1;
        if (R <= 0) continue;
        if (screen && approx) screenedRanking(E, n, k, qi, R, approx, q * n, screen, D, candidates, order, distance);
        else {
          exactRow(E, n, k, qi, D, distance);
          nearestFirst(D, 0, n, R, order);
        }
        const s = scoreRanked(order, labels, qi, R);
        onQuery?.(qi, s);
        p1 += s.p1;
        rp += s.rPrec;
        map += s.ap;
        queries++;
      }
    }
  } finally {
    screen?.dispose();
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

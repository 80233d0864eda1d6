// The ROC of distance scores (lower = same identity; a pair is accepted when distance ≤ threshold)
// with scikit-learn's roc_curve semantics (drop_intermediate=False): one point per distinct distance,
// FAR = impostors ≤ t / impostors, TAR = genuine ≤ t / genuine, plus the origin (threshold −∞ in
// distance, +∞ in sklearn's score = −distance). Genuine distances are held sorted; impostors are
// streamed once into the counts of the gaps between consecutive distinct genuine values (a
// "staircase"): that fixes every point's (FAR, TAR) exactly, hence TAR@FAR, EER and AUC. Only the
// thresholds that fall between two genuine values need impostor values (select.ts).

/** Largest c in 0..total with c/total ≤ rate, compared in float64 as numpy does. */
export function maxCountAtRate(rate: number, total: number): number {
  let c = Math.min(total, Math.max(0, Math.floor(rate * total)));
  while (c < total && (c + 1) / total <= rate) c++;
  while (c > 0 && c / total > rate) c--;
  return c;
}

/** Smallest c in 0..total with c/total ≥ rate (total when none is). */
export function minCountAtRate(rate: number, total: number): number {
  let c = Math.min(total, Math.max(0, Math.ceil(rate * total)));
  while (c > 0 && (c - 1) / total >= rate) c--;
  while (c < total && c / total < rate) c++;
  return c;
}

export interface Staircase {
  /** distinct genuine distances, ascending (K of them) */
  u: Float64Array;
  /** genuine pairs at u[j] */
  gen: Float64Array;
  /** impostors strictly between u[j−1] and u[j] (lt[K]: above u[K−1]) */
  lt: Float64Array;
  /** impostors equal to u[j] */
  eq: Float64Array;
  /** cumulative genuine ≤ u[j] and impostors ≤ u[j] (after finishStaircase) */
  tp: Float64Array;
  fp: Float64Array;
  genuine: number;
  impostors: number;
  /** smallest and largest impostor distance */
  min: number;
  max: number;
}

export function createStaircase(sortedGenuine: Float64Array): Staircase {
  const G = sortedGenuine.length;
  let K = 0;
  for (let i = 0; i < G; i++) if (i === 0 || sortedGenuine[i] !== sortedGenuine[i - 1]) K++;
  const u = new Float64Array(K);
  const gen = new Float64Array(K);
  let j = -1;
  for (let i = 0; i < G; i++) {
    if (i === 0 || sortedGenuine[i] !== sortedGenuine[i - 1]) u[++j] = sortedGenuine[i];
    gen[j]++;
  }
  return {
    u,
    gen,
    lt: new Float64Array(K + 1),
    eq: new Float64Array(K),
    tp: new Float64Array(K),
    fp: new Float64Array(K),
    genuine: G,
    impostors: 0,
    min: Infinity,
    max: -Infinity,
  };
}

/** Counts one chunk of impostor distances into the staircase: O(log K) each. */
export function addImpostors(s: Staircase, buf: Float64Array, len: number): void {
  const { u, lt, eq } = s;
  const K = u.length;
  for (let i = 0; i < len; i++) {
    const x = buf[i];
    if (Number.isNaN(x)) throw new RangeError('verification: a pair distance is NaN (non-finite embeddings?)');
    // first j with u[j] ≥ x
    let lo = 0;
    let hi = K;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (u[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    if (lo < K && u[lo] === x) eq[lo]++;
    else lt[lo]++;
    if (x < s.min) s.min = x;
    if (x > s.max) s.max = x;
  }
  s.impostors += len;
}

export function finishStaircase(s: Staircase): void {
  let tp = 0;
  let fp = 0;
  for (let j = 0; j < s.u.length; j++) {
    tp += s.gen[j];
    fp += s.lt[j] + s.eq[j];
    s.tp[j] = tp;
    s.fp[j] = fp;
  }
}

/** Genuine pairs accepted at the last ROC point with at most m impostors accepted. */
export function genuineAcceptedWithin(s: Staircase, m: number): number {
  // largest j with fp[j] ≤ m (fp is nondecreasing); impostor points after it keep tp[j]
  let lo = 0;
  let hi = s.fp.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s.fp[mid] <= m) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? s.tp[lo - 1] : 0;
}

/** The largest distinct genuine distance strictly below v, or null. */
export function largestGenuineBelow(s: Staircase, v: number): number | null {
  let lo = 0;
  let hi = s.u.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s.u[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? s.u[lo - 1] : null;
}

/**
 * ROC AUC as roc_auc_score computes it (trapezoids; equal to the Mann–Whitney statistic with ties
 * counted one half, i.e. average ranks): Σⱼ gen[j]·(impostors > u[j] + ½·impostors = u[j]) / (G·N).
 */
export function rocAuc(s: Staircase): number {
  const N = s.impostors;
  let sum = 0;
  for (let j = 0; j < s.u.length; j++) sum += s.gen[j] * (N - s.fp[j] + 0.5 * s.eq[j]);
  return sum / (s.genuine * N);
}

/**
 * Equal error rate: walk the ROC points in ascending distance; i* is the first with FAR ≥ FRR
 * (FRR = 1 − TAR); the EER is where the segment from point i*−1 to i* crosses FAR = FRR (linear
 * interpolation), and its threshold is point i*'s. When i* is an impostor distance inside a gap
 * (TAR constant there) the threshold is the impostor distance of rank `rank`, left to the caller.
 */
export function equalErrorRate(s: Staircase): { eer: number; threshold: number | null; rank: number | null } {
  const G = s.genuine;
  const N = s.impostors;
  let fp0 = 0;
  let tp0 = 0;
  for (let j = 0; j < s.u.length; j++) {
    const frr = 1 - tp0 / G;
    const gapEnd = fp0 + s.lt[j];
    if (s.lt[j] > 0 && gapEnd / N >= frr) {
      // crossing on the vertical run of impostor points before u[j]: FAR = FRR = frr there
      return { eer: frr, threshold: null, rank: minCountAtRate(frr, N) };
    }
    if (s.fp[j] / N >= 1 - s.tp[j] / G) {
      const a0 = gapEnd / N;
      const b0 = tp0 / G;
      const a1 = s.fp[j] / N;
      const b1 = s.tp[j] / G;
      const t = (1 - a0 - b0) / (a1 - a0 + (b1 - b0));
      return { eer: a0 + t * (a1 - a0), threshold: s.u[j], rank: null };
    }
    fp0 = s.fp[j];
    tp0 = s.tp[j];
  }
  // unreachable with G > 0: the last genuine value has FRR = 0 ≤ FAR
  throw new Error('equalErrorRate: no crossing');
}

/**
 * TAR at `points` FARs log-spaced from 1/N to 1 (at most 1,000 points): TAR of the last ROC
 * point whose FAR is ≤ the grid value.
 */
export function tarCurve(s: Staircase, points: number): { far: number; tar: number }[] {
  const N = s.impostors;
  const P = Math.max(2, Math.min(1000, Math.floor(points)));
  const a = Math.log10(1 / N);
  const out: { far: number; tar: number }[] = [];
  for (let i = 0; i < P; i++) {
    const far = i === P - 1 ? 1 : 10 ** (a + (i * (0 - a)) / (P - 1));
    out.push({ far, tar: genuineAcceptedWithin(s, maxCountAtRate(far, N)) / s.genuine });
  }
  return out;
}

// Figures and warnings that describe a trained W: norms, the spread of its embeddings, collapse.
import { meanPairwiseDistance } from '../distances.js';
import { embed } from '../embed.js';
import type { Kernels } from '../kernels/types.js';
import { createRng } from '../rng.js';
import { tripletRow } from '../triplet-rows.js';
import type { TrainMetrics, TrainParams, Triplets } from '../types.js';

/** anchors sampled for meanEmbeddingDistance: enough pairs for a stable mean, few enough to cost nothing */
const DISTANCE_SAMPLE = 256;

/** Collapse (mined): mean pairwise distance below this fraction of the starting one. */
export const COLLAPSE_RATIO = 0.01;

/** Σ v_i², in index order. */
export function sumOfSquares(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return s;
}

/** Euclidean norm of a vector (‖W‖_F of a matrix, ‖∇‖ of a gradient). */
export function l2(v: Float64Array): number {
  return Math.sqrt(sumOfSquares(v));
}

/**
 * Mean euclidean distance between all pairs of a fixed seeded sample of anchor embeddings.
 * The sample is drawn from seed 0 regardless of params.seed, so runs are comparable.
 */
export function meanEmbeddingDistance(
  W: Float64Array,
  k: number,
  set: Triplets,
  normalize: boolean,
  kernels?: Kernels,
): number {
  const rows = sampledTriplets(set);
  const E = embedStream(W, k, set, rows, 0, normalize, kernels);
  return meanPairwiseDistance(E, rows.length, k);
}

/**
 * Mean of ‖e_a − e_p‖² and ‖e_a − e_n‖² over the triplets meanEmbeddingDistance samples: what
 * every bracket is made of, in the loss's own (squared) units. Far below the margin, every bracket
 * is about the margin: the map has collapsed the triplets, whatever the anchors' own spread.
 */
export function meanTripletSquaredDistance(
  W: Float64Array,
  k: number,
  set: Triplets,
  normalize: boolean,
  kernels?: Kernels,
): number {
  const rows = sampledTriplets(set);
  const [A, P, N] = ([0, 1, 2] as const).map((s) => embedStream(W, k, set, rows, s, normalize, kernels));
  let sum = 0;
  for (let i = 0; i < rows.length * k; i++) sum += (A[i] - P[i]) ** 2 + (A[i] - N[i]) ** 2;
  return sum / (2 * rows.length);
}

/** The fixed seeded sample of at most DISTANCE_SAMPLE triplets (all of them when there are fewer). */
function sampledTriplets(set: Triplets): Int32Array {
  const n = Math.min(DISTANCE_SAMPLE, set.m);
  const rng = createRng(0x5eed);
  return Int32Array.from({ length: n }, (_, i) => (n === set.m ? i : rng.int(set.m)));
}

/** Embeddings (rows.length×k) of stream s (0 anchors, 1 positives, 2 negatives) of the given triplets. */
function embedStream(
  W: Float64Array,
  k: number,
  set: Triplets,
  rows: Int32Array,
  s: 0 | 1 | 2,
  normalize: boolean,
  kernels?: Kernels,
): Float64Array {
  const n = rows.length;
  const X = new Float64Array(n * set.d);
  for (let i = 0; i < n; i++) {
    const [a, r] = tripletRow(set, s, rows[i]);
    for (let j = 0; j < set.d; j++) X[i * set.d + j] = a[r * set.d + j];
  }
  const E = new Float64Array(n * k);
  embed(W, k, set.d, X, n, normalize, E, kernels);
  return E;
}

/** Mean euclidean distance over pairs of the first DISTANCE_SAMPLE rows of E (n×k). */
export function meanSampleDistance(E: Float64Array, n: number, k: number): number {
  return meanPairwiseDistance(E, Math.min(n, DISTANCE_SAMPLE), k);
}

/**
 * Warnings of a full-batch triplet run, from its final figures, the norm of its starting W and
 * meanTripletSquaredDistance of its final W.
 */
export function tripletRunWarnings(
  m: Omit<TrainMetrics, 'warnings'>,
  p: TrainParams,
  initNorm: number,
  tripletSquaredDistance: number,
): string[] {
  const w: string[] = [];
  // the triplets' squared distances a tiny fraction of the margin: every bracket ≈ margin. Read on
  // the triplets, not on meanEmbeddingDistance's anchors, which may sit close by design while every
  // negative is far (no triplet active: each ‖e_a − e_n‖² ≥ margin, never a collapse)
  if (tripletSquaredDistance < 1e-3 * Math.max(p.margin, 1e-6)) {
    w.push('collapse: mean embedding distance ~0; embeddings barely separate any points');
  }
  if (m.activeFraction === 1)
    w.push('every triplet active: the margin may be too large for the data, or training did not progress');
  if (!p.normalize && p.weightDecay === 0 && m.weightNorm > Math.max(1e3, 100 * initNorm)) {
    w.push('weights grew large; consider weightDecay or normalize');
  }
  if (m.stopReason === 'line_search_failed') w.push('line search failed twice; the result is the last accepted point');
  return w;
}

/** What the mined collapse check reads from scored triplets. */
export interface TripletSpread {
  activeFraction: number;
  /** mean |d(a,p) − d(a,n)| */
  meanAbsGap: number;
}

/**
 * Collapse of a mined run: the embeddings' spread shrank to a small fraction of the start's, or
 * (hinge) every triplet sits at the margin with d(a,p) ≈ d(a,n). Undefined when neither holds.
 */
export function collapseWarning(
  meanDist: number,
  startDist: number,
  t: TripletSpread,
  p: { loss: 'hinge' | 'softplus'; margin: number },
): string | undefined {
  if (startDist > 0 && meanDist < COLLAPSE_RATIO * startDist) {
    return `collapse: mean pairwise embedding distance ${meanDist.toExponential(2)} is below ${COLLAPSE_RATIO} of the starting ${startDist.toExponential(2)}`;
  }
  if (p.loss === 'hinge' && p.margin > 0 && t.activeFraction === 1 && t.meanAbsGap < 0.01 * p.margin) {
    return 'collapse: every triplet is active at the margin (d(a,p) ≈ d(a,n))';
  }
  return undefined;
}

// Multi-similarity loss of one batch (Wang et al., CVPR 2019), on its B×B distance matrix, with its
// pair miner, as pytorch-metric-learning's MultiSimilarityLoss + MultiSimilarityMiner:
//
//   s_ij = 1 − ‖e_i − e_j‖²/2          (the cosine for unit-norm embeddings; affine in ‖·‖² otherwise)
//   mined: positives with s_ip − ε < max_neg s_in, negatives with s_in + ε > min_pos s_ip
//   ℓ_i  = (1/α) log(1 + Σ_{mined p} e^{−α(s_ip − λ)}) + (1/β) log(1 + Σ_{mined n} e^{β(s_in − λ)})
//   L    = weight · mean over anchors with a positive and a negative
//
// Unlike a triplet, every mined pair of the anchor is weighted by how hard it is relative to the
// others (the softmax inside each log), so one very hard positive cannot dominate; the loss is
// read from the distances the triplet losses use, so it shares their normalisation and ∂W pass.
// The mined pairs are constants, as the mined triplets are. Pure: reads D, adds into GD.
import type { DistanceName } from './types.js';

export interface MultiSimilarityOptions {
  weight: number;
  /** positive scale α */
  alpha: number;
  /** negative scale β */
  beta: number;
  /** similarity threshold λ */
  base: number;
  /** mining slack ε */
  epsilon: number;
}

/** pytorch-metric-learning's defaults (the paper's, for cosine similarity). */
export const MULTI_SIMILARITY_DEFAULTS: Readonly<Omit<MultiSimilarityOptions, 'weight'>> = Object.freeze({
  alpha: 2,
  beta: 50,
  base: 0.5,
  epsilon: 0.1,
});

/**
 * Adds the weighted multi-similarity loss of the batch to the returned value and, when `GD` is
 * non-null, weight·∂ℓ/∂d into GD (B×B row-major, ordered pairs). `distance` says what D holds:
 * squared distances or euclidean ones.
 */
export function multiSimilarityLoss(
  D: Float64Array,
  distance: DistanceName,
  labels: Int32Array,
  B: number,
  o: MultiSimilarityOptions,
  GD: Float64Array | null,
): number {
  if (o.weight === 0 || B < 2) return 0;
  const squared = distance === 'squared';
  let anchors = 0;
  for (let i = 0; i < B; i++) if (extreme(D, labels, B, i, squared, true) > -Infinity) anchors++;
  if (anchors === 0) return 0;
  const scale = o.weight / anchors;
  let total = 0;
  for (let i = 0; i < B; i++) {
    const maxNeg = extreme(D, labels, B, i, squared, true);
    if (maxNeg === -Infinity) continue;
    const minPos = extreme(D, labels, B, i, squared, false);
    total += anchorTerm(D, labels, B, i, minPos, maxNeg, o, squared, GD, scale);
  }
  return total * scale;
}

/** s from d: the cosine for unit-norm embeddings. */
const similarity = (d: number, squared: boolean): number => 1 - (squared ? d : d * d) / 2;
/** ∂s/∂d */
const slope = (d: number, squared: boolean): number => (squared ? -0.5 : -d);

/**
 * The anchor's most similar negative (`negative`) or least similar positive; −Infinity (negative)
 * or Infinity (positive) when it has none, and −Infinity for a negative when it has no positive
 * either, so one call says whether the anchor takes part.
 */
function extreme(
  D: Float64Array,
  labels: Int32Array,
  B: number,
  i: number,
  squared: boolean,
  negative: boolean,
): number {
  const r = i * B;
  let minPos = Infinity;
  let maxNeg = -Infinity;
  for (let j = 0; j < B; j++) {
    if (j === i) continue;
    const s = similarity(D[r + j], squared);
    if (labels[j] === labels[i]) minPos = Math.min(minPos, s);
    else maxNeg = Math.max(maxNeg, s);
  }
  if (!negative) return minPos;
  return minPos === Infinity ? -Infinity : maxNeg;
}

/** ℓ_i, and scale·∂ℓ_i/∂d into GD's row i when asked. */
function anchorTerm(
  D: Float64Array,
  labels: Int32Array,
  B: number,
  i: number,
  minPos: number,
  maxNeg: number,
  o: MultiSimilarityOptions,
  squared: boolean,
  GD: Float64Array | null,
  scale: number,
): number {
  const r = i * B;
  const yi = labels[i];
  // log(1 + Σ e^z), shifted by max(0, max z) so that no exponential overflows
  let maxP = 0;
  let maxN = 0;
  for (let j = 0; j < B; j++) {
    if (j === i) continue;
    const s = similarity(D[r + j], squared);
    if (labels[j] === yi) {
      if (s - o.epsilon < maxNeg) maxP = Math.max(maxP, -o.alpha * (s - o.base));
    } else if (s + o.epsilon > minPos) maxN = Math.max(maxN, o.beta * (s - o.base));
  }
  let sumP = Math.exp(-maxP);
  let sumN = Math.exp(-maxN);
  for (let j = 0; j < B; j++) {
    if (j === i) continue;
    const s = similarity(D[r + j], squared);
    if (labels[j] === yi) {
      if (s - o.epsilon < maxNeg) sumP += Math.exp(-o.alpha * (s - o.base) - maxP);
    } else if (s + o.epsilon > minPos) sumN += Math.exp(o.beta * (s - o.base) - maxN);
  }
  const value = (Math.log(sumP) + maxP) / o.alpha + (Math.log(sumN) + maxN) / o.beta;
  if (GD === null) return value;
  for (let j = 0; j < B; j++) {
    if (j === i) continue;
    const d = D[r + j];
    const s = similarity(d, squared);
    let g = 0;
    if (labels[j] === yi) {
      if (s - o.epsilon < maxNeg) g = -Math.exp(-o.alpha * (s - o.base) - maxP) / sumP;
    } else if (s + o.epsilon > minPos) g = Math.exp(o.beta * (s - o.base) - maxN) / sumN;
    if (g !== 0) GD[r + j] += scale * g * slope(d, squared);
  }
  return value;
}

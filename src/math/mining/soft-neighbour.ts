// Soft-neighbour (NCA-style) loss of one batch, on its B×B distance matrix (Goldberger et al.'s NCA,
// restricted to the batch as in pytorch-metric-learning's NCALoss):
//
//   p_ij = exp(−d_ij/τ) / Σ_{k≠i} exp(−d_ik/τ)          (j ≠ i: i picks j as its neighbour)
//   ℓ_i  = −log Σ_{j≠i, y_j = y_i} p_ij                  (anchors with at least one positive)
//   L    = weight · mean_i ℓ_i
//
// ∂ℓ_i/∂d_ij = (q_ij − p_ij)/τ with q_ij = p_ij·[y_j = y_i] / Σ_{pos} p_ij.
// It rewards the nearest neighbour being of the same label (what precision@1 counts), smoothly: every
// pair of the batch contributes, weighted by how close it is at temperature τ, where the hinged triplet
// loss only sees the mined triplets inside the margin. Pure: reads D and labels, adds into GD.
/**
 * Adds the weighted soft-neighbour loss of the batch to the returned value and, when `GD` is non-null,
 * weight·∂ℓ/∂d into GD (B×B row-major, ordered pairs). Uses `logits` (length ≥ B) as scratch.
 */
export function softNeighbourLoss(
  D: Float64Array,
  labels: Int32Array,
  B: number,
  temperature: number,
  weight: number,
  GD: Float64Array | null,
  logits: Float64Array,
): number {
  if (weight === 0 || B < 2) return 0;
  const invT = 1 / temperature;
  let total = 0;
  let anchors = 0;
  // first pass: count anchors with a positive (the mean's denominator)
  for (let i = 0; i < B; i++) if (hasPositive(labels, B, i)) anchors++;
  if (anchors === 0) return 0;
  const scale = weight / anchors;
  for (let i = 0; i < B; i++) {
    if (!hasPositive(labels, B, i)) continue;
    const o = i * B;
    let max = -Infinity;
    for (let j = 0; j < B; j++) {
      if (j === i) continue;
      const z = -D[o + j] * invT;
      logits[j] = z;
      if (z > max) max = z;
    }
    // log-sum-exp over all others and over the positives, shifted by the max for stability
    let sumAll = 0;
    let sumPos = 0;
    const yi = labels[i];
    for (let j = 0; j < B; j++) {
      if (j === i) continue;
      const e = Math.exp(logits[j] - max);
      logits[j] = e;
      sumAll += e;
      if (labels[j] === yi) sumPos += e;
    }
    // sumPos > 0 unless every positive underflowed: then the loss is large but finite
    const posFloor = Math.max(sumPos, Number.MIN_VALUE);
    total += Math.log(sumAll) - Math.log(posFloor);
    if (GD === null) continue;
    const c = scale * invT;
    for (let j = 0; j < B; j++) {
      if (j === i) continue;
      const p = logits[j] / sumAll;
      const q = labels[j] === yi && sumPos > 0 ? logits[j] / sumPos : 0;
      GD[o + j] += c * (q - p);
    }
  }
  return total * scale;
}

function hasPositive(labels: Int32Array, B: number, i: number): boolean {
  const y = labels[i];
  for (let j = 0; j < B; j++) if (j !== i && labels[j] === y) return true;
  return false;
}

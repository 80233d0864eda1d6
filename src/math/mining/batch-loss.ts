// Mined triplet loss of one P×K batch and its exact gradient w.r.t. W (f(x) = Wx).
//
//   e_i = W x_i, or W x_i / max(‖W x_i‖, NORM_EPSILON) with normalize
//   d(i,j) = the Distance (distance.ts): ‖e_i − e_j‖² (squared), √max(‖e_i − e_j‖², EUCLIDEAN_EPSILON)
//            (euclidean, the losses' floored one), or any other Distance object passed in
//   per triplet t = (a, p, n): v_t = d(a,p) − d(a,n), ℓ_t from the TripletLoss (triplet-loss.ts)
//     hinge:    ℓ_t = max(0, v_t + margin)          (margin in units of d)
//     softplus: ℓ_t = log(1 + exp(v_t))             (no margin; computed without overflow)
//   per miner:  L_m = Σ_t ℓ_t / N_m,  N_m = #{t : ℓ_t > 0} (reduction `nonzero`) or #triplets (`all`);
//               L_m = 0 when N_m = 0
//   loss = tripletWeight · Σ over the configured miners (semihard+batchhard: L_semihard + L_batchhard)
//          + the soft-neighbour term (soft-neighbour.ts) and the multi-similarity term
//            (multi-similarity.ts), each when its weight is > 0
//
// Composition, as pytorch-metric-learning's: distance → miners → loss → reducer, summed over miners.
// Backward pass: ∂L/∂d into a B×B matrix, then through the distance (Distance.backprop: 2(e_i − e_j)
// for squared, (e_i − e_j)/d for euclidean, 0 where ‖e_i − e_j‖² ≤ ε), through the normalisation
// (∂z = (∂e − e·(eᵀ∂e))/‖z‖; ∂e/ε where the norm is clamped) and finally ∂W = ∂Zᵀ·X_batch.
// The mined triplets are treated as constants (as every framework does): the loss is piecewise
// smooth in W and the gradient is exact wherever the mining decision and the hinge do not change.
import { jsKernels } from '../kernels/js.js';
import type { Kernels } from '../kernels/types.js';
import { distanceByName, type Distance } from '../distance.js';
import { batchDistances } from '../distances.js';
import { NORM_EPSILON } from '../losses.js';
import type { DataArray } from '../types.js';
import { createMiners, TripletBuffer } from './miners.js';
import { multiSimilarityLoss, type MultiSimilarityOptions } from './multi-similarity.js';
import { softNeighbourLoss } from './soft-neighbour.js';
import { reducerByName, tripletLossByName } from './triplet-loss.js';
import type { DistanceName, MinedLossName, MiningName, ReductionName } from './types.js';

export interface BatchLossOptions {
  margin: number;
  loss: MinedLossName;
  /** a name (euclidean is then the losses' floored one) or any Distance */
  distance: DistanceName | Distance;
  normalize: boolean;
  mining: MiningName;
  /** default `nonzero` */
  reduction?: ReductionName;
  /** weight of the mined triplet losses (default 1; 0 skips mining) */
  tripletWeight?: number;
  /** soft-neighbour (NCA-style) term, soft-neighbour.ts; absent or weight 0: none */
  softNeighbour?: { weight: number; temperature: number };
  /** multi-similarity term, multi-similarity.ts; absent or weight 0: none (needs a squared or euclidean distance) */
  multiSimilarity?: MultiSimilarityOptions;
}

export interface BatchLossValue {
  /** Σ over miners of the reduced loss (no weight decay) */
  loss: number;
  /** triplets mined, summed over miners */
  tripletCount: number;
  /** of those, triplets with d(a,p) − d(a,n) + margin > 0 */
  activeCount: number;
  /** of those, triplets with d(a,p) < d(a,n) strictly */
  correctCount: number;
  /** mean d(i,j) over pairs i < j of the batch (configured distance) */
  meanDistance: number;
}

export interface BatchObjective {
  readonly k: number;
  readonly d: number;
  readonly maxBatch: number;
  /**
   * Loss of the batch Xb (B×d row-major, B ≤ maxBatch) with labels[0..B), and its gradient
   * into `grad` (k×d, overwritten) when non-null. Allocates nothing once the triplet buffers have grown.
   */
  evaluate(W: Float64Array, Xb: DataArray, labels: Int32Array, B: number, grad: Float64Array | null): BatchLossValue;
  /** embeddings of the last evaluated batch (B×k, normalised when asked) */
  readonly embeddings: Float64Array;
  /** distances of the last evaluated batch (B×B, stride B) */
  readonly distances: Float64Array;
}

export function createBatchObjective(
  k: number,
  d: number,
  maxBatch: number,
  opts: BatchLossOptions,
  kernels: Kernels = jsKernels,
): BatchObjective {
  if (!(Number.isInteger(k) && k > 0 && Number.isInteger(d) && d > 0 && Number.isInteger(maxBatch) && maxBatch > 0)) {
    throw new RangeError(
      `createBatchObjective: k, d, maxBatch must be positive integers (got ${k}, ${d}, ${maxBatch})`,
    );
  }
  const { margin, normalize } = opts;
  const distance = typeof opts.distance === 'string' ? distanceByName(opts.distance, { smooth: true }) : opts.distance;
  const miners = createMiners(opts.mining);
  const loss = tripletLossByName(opts.loss, margin);
  const reduce = reducerByName(opts.reduction ?? 'nonzero');
  const buffers = miners.map(() => new TripletBuffer(4 * maxBatch));
  const tripletWeight = opts.tripletWeight ?? 1;
  const soft = opts.softNeighbour ?? { weight: 0, temperature: 1 };
  const logits = new Float64Array(maxBatch);
  const ms = opts.multiSimilarity && opts.multiSimilarity.weight !== 0 ? opts.multiSimilarity : null;
  if (ms !== null && distance.name !== 'squared' && distance.name !== 'euclidean')
    throw new RangeError(`the multi-similarity term needs a squared or euclidean distance, not ${distance.name}`);
  const msDistance = distance.name === 'squared' ? 'squared' : 'euclidean';

  const Z = new Float64Array(maxBatch * k); // projections, then normalised embeddings in place
  const norms = new Float64Array(maxBatch);
  const GE = new Float64Array(maxBatch * k);
  const S = new Float64Array(maxBatch * maxBatch);
  const D = distance.name === 'squared' ? S : new Float64Array(maxBatch * maxBatch);
  const GD = new Float64Array(maxBatch * maxBatch);
  const rows = new Int32Array(maxBatch);
  for (let i = 0; i < maxBatch; i++) rows[i] = i;

  /** ℓ and reduction bookkeeping of one miner's triplets; writes ∂L/∂d into GD when asked. */
  const reduceMiner = (buf: TripletBuffer, B: number, wantGrad: boolean, acc: BatchLossValue): void => {
    const cnt = buf.count;
    let sum = 0;
    let nz = 0;
    for (let t = 0; t < cnt; t++) {
      const ao = buf.a[t] * B;
      const dap = D[ao + buf.p[t]];
      const dan = D[ao + buf.n[t]];
      const v = dap - dan;
      const l = loss.value(v);
      sum += l;
      if (l > 0) nz++;
      if (v + margin > 0) acc.activeCount++;
      if (dap < dan) acc.correctCount++;
    }
    acc.tripletCount += cnt;
    const denom = reduce(nz, cnt);
    if (denom === 0) return;
    acc.loss += (tripletWeight * sum) / denom;
    if (!wantGrad) return;
    const inv = tripletWeight / denom;
    for (let t = 0; t < cnt; t++) {
      const ao = buf.a[t] * B;
      const v = D[ao + buf.p[t]] - D[ao + buf.n[t]];
      const dl = loss.derivative(v);
      if (dl === 0) continue;
      const c = dl * inv;
      GD[ao + buf.p[t]] += c;
      GD[ao + buf.n[t]] -= c;
    }
  };

  /** GE = ∂L/∂E from GD (each nonzero entry is one ordered pair). */
  const backpropDistances = (B: number): void => {
    GE.fill(0, 0, B * k);
    for (let i = 0; i < B; i++) {
      for (let j = 0; j < B; j++) {
        const g = GD[i * B + j];
        if (g !== 0) distance.backprop(g, Z, i * k, j * k, k, S[i * B + j], D[i * B + j], GE);
      }
    }
  };

  return {
    k,
    d,
    maxBatch,
    embeddings: Z,
    distances: D,
    evaluate(W, Xb, labels, B, grad) {
      if (!(Number.isInteger(B) && B >= 0 && B <= maxBatch))
        throw new RangeError(`batch of ${B} rows exceeds maxBatch ${maxBatch}`);
      if (W.length !== k * d) throw new RangeError(`W has ${W.length} values, expected k·d = ${k * d}`);
      const acc: BatchLossValue = { loss: 0, tripletCount: 0, activeCount: 0, correctCount: 0, meanDistance: 0 };
      if (grad !== null) grad.fill(0, 0, k * d);
      if (B === 0) return acc;
      kernels.project(W, k, d, Xb, B, Z);
      if (normalize) {
        for (let i = 0; i < B; i++) {
          const o = i * k;
          let s = 0;
          for (let r = 0; r < k; r++) s += Z[o + r] * Z[o + r];
          const nrm = Math.max(Math.sqrt(s), NORM_EPSILON);
          norms[i] = nrm;
          const inv = 1 / nrm;
          for (let r = 0; r < k; r++) Z[o + r] *= inv;
        }
      }
      batchDistances(Z, B, k, distance, S, D);
      let dsum = 0;
      for (let i = 0; i < B; i++) for (let j = i + 1; j < B; j++) dsum += D[i * B + j];
      acc.meanDistance = B > 1 ? dsum / ((B * (B - 1)) / 2) : 0;

      const wantGrad = grad !== null;
      if (wantGrad) GD.fill(0, 0, B * B);
      for (let m = 0; tripletWeight !== 0 && m < miners.length; m++) {
        miners[m].mine(D, labels, B, buffers[m]);
        reduceMiner(buffers[m], B, wantGrad, acc);
      }
      acc.loss += softNeighbourLoss(D, labels, B, soft.temperature, soft.weight, wantGrad ? GD : null, logits);
      if (ms !== null) acc.loss += multiSimilarityLoss(D, msDistance, labels, B, ms, wantGrad ? GD : null);
      if (!wantGrad || grad === null) return acc;
      backpropDistances(B);
      if (normalize) {
        for (let i = 0; i < B; i++) {
          const o = i * k;
          const clamped = norms[i] === NORM_EPSILON;
          let dot = 0;
          if (!clamped) for (let r = 0; r < k; r++) dot += Z[o + r] * GE[o + r];
          const inv = 1 / norms[i];
          for (let r = 0; r < k; r++) GE[o + r] = (GE[o + r] - Z[o + r] * dot) * inv;
        }
      }
      kernels.accumulate(grad, k, d, GE, Xb, rows, B);
      return acc;
    },
  };
}

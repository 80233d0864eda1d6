// Distance matrices and row norms on row-major typed arrays, for any Distance (distance.ts).
import { distanceByName, euclideanDistance, type Distance, type DistanceKind, type Metric } from './distance.js';
import type { Kernels } from './kernels/types.js';
import type { DataArray } from './types.js';

export type { Metric } from './distance.js';

/** Mean distance (euclidean unless told) over all pairs of the n rows of E (n×k): a collapse gauge. */
export function meanPairwiseDistance(
  E: DataArray,
  n: number,
  k: number,
  distance: Distance = euclideanDistance,
): number {
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      sum += distance.pair(E, a * k, E, b * k, k);
      pairs++;
    }
  }
  return pairs > 0 ? sum / pairs : 0;
}

/**
 * The distance matrix of one batch, B×B row-major: S = squared euclidean distances ‖eᵢ − eⱼ‖² from
 * differences (never negative; what the backward pass needs), D = the distance. For distances that
 * are functions of S, D = fromSquared(S) and may alias S when that is the identity (squared);
 * otherwise D comes from the direct form, with the diagonal `self`.
 */
export function batchDistances(
  E: Float64Array,
  B: number,
  k: number,
  distance: Distance | DistanceKind,
  S: Float64Array,
  D: Float64Array,
): void {
  const dist = typeof distance === 'string' ? distanceByName(distance, { smooth: true }) : distance;
  for (let i = 0; i < B; i++) {
    const io = i * k;
    S[i * B + i] = 0;
    for (let j = i + 1; j < B; j++) {
      const jo = j * k;
      let s = 0;
      for (let r = 0; r < k; r++) {
        const v = E[io + r] - E[jo + r];
        s += v * v;
      }
      S[i * B + j] = s;
      S[j * B + i] = s;
    }
  }
  if (dist.name === 'squared') {
    if (D !== S) D.set(S.subarray(0, B * B));
    return;
  }
  const fromSquared = dist.fromSquared;
  if (fromSquared) {
    for (let i = 0; i < B * B; i++) D[i] = fromSquared(S[i]);
    return;
  }
  if (D === S)
    throw new RangeError(`batchDistances: D may alias S only for a function of the squared distance, not ${dist.name}`);
  for (let i = 0; i < B; i++) {
    D[i * B + i] = dist.self(rowSquaredNorm(E, i * k, k));
    for (let j = i + 1; j < B; j++) {
      const v = dist.pair(E, i * k, E, j * k, k);
      D[i * B + j] = v;
      D[j * B + i] = v;
    }
  }
}

function rowSquaredNorm(E: DataArray, o: number, k: number): number {
  let s = 0;
  for (let r = 0; r < k; r++) s += E[o + r] * E[o + r];
  return s;
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
 * Large blocks through the kernels' Gram product: the distance's Gram form from ‖x‖², ‖y‖² (float64)
 * and xᵀy (the kernel's float32). When Eb is Ea itself the diagonal is the distance's `self`.
 * The float32 product's error is relative to ‖x‖‖y‖, not to the distance: rows far from the origin
 * (an offset of 1,000 with neighbours ~1 apart) got distances 27% off. So for the euclidean
 * distances, which do not move with the origin, both sets are first centred on Eb's mean (Eb is
 * the same for every slice of Ea a caller makes): the error is then about 1e-7·‖x − mean‖², and
 * only tiny distances between near-identical points still carry it, which is why small blocks keep
 * the direct form. Cosine is not translation-invariant and is left as it is. Both sets are then
 * scaled by the power of two that brings their largest value to about 1/√k, and the distances
 * scaled back: exact in floating point, and the products of rows of 1e-25 (which underflow float32)
 * keep their digits.
 */
function gramDistances(
  gram: NonNullable<Kernels['gram']>,
  Ea: DataArray,
  na: number,
  Eb: DataArray,
  nb: number,
  k: number,
  distance: Distance,
  out: DataArray,
): void {
  const self = Eb === Ea && na === nb;
  const mean = distance.fromSquared ? meanRow(Eb, nb, k) : new Float64Array(k);
  const max = Math.max(largest(Ea, na, k, mean), largest(Eb, nb, k, mean));
  const scale = max > 0 ? 2 ** -Math.round(Math.log2(max * Math.sqrt(k))) : 1;
  const B = shifted(Eb, nb, k, mean, scale);
  const A = Eb === Ea ? B : shifted(Ea, na, k, mean, scale);
  const G = new Float64Array(na * nb);
  gram(A, na, B, nb, k, G);
  const sa = rowSquaredNorms(A, na, k);
  const sb = B === A ? sa : rowSquaredNorms(B, nb, k);
  // back to the rows' own units: a distance of degree h in the rows is divided by scale^h
  const back = distance.name === 'squared' ? 1 / (scale * scale) : distance.name === 'euclidean' ? 1 / scale : 1;
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) {
      out[i * nb + j] = self && i === j ? distance.self(sa[i]) : distance.fromGram(sa[i], sb[j], G[i * nb + j]) * back;
    }
  }
}

/** The largest |E − mean| (a power of two scales by it exactly, so a slice's own scale changes no bit). */
function largest(E: DataArray, n: number, k: number, mean: Float64Array): number {
  let max = 0;
  for (let i = 0; i < n; i++) for (let r = 0; r < k; r++) max = Math.max(max, Math.abs(E[i * k + r] - mean[r]));
  return max;
}

/** (E − mean)·scale, float64. */
function shifted(E: DataArray, n: number, k: number, mean: Float64Array, scale: number): Float64Array {
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) for (let r = 0; r < k; r++) out[i * k + r] = (E[i * k + r] - mean[r]) * scale;
  return out;
}

/** The mean of the n rows of E (n×k), float64. */
function meanRow(E: DataArray, n: number, k: number): Float64Array {
  const mean = new Float64Array(k);
  for (let i = 0; i < n; i++) for (let r = 0; r < k; r++) mean[r] += E[i * k + r];
  if (n > 0) for (let r = 0; r < k; r++) mean[r] /= n;
  return mean;
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
  metric: Metric | DistanceKind | Distance,
  out: DataArray,
  kernels?: Kernels,
): void {
  if (out.length < na * nb) throw new RangeError(`out has ${out.length} values, expected na·nb = ${na * nb}`);
  const distance = typeof metric === 'string' ? distanceByName(metric) : metric;
  if (kernels?.gram && na * nb * k >= GRAM_MIN_WORK) {
    gramDistances(kernels.gram, Ea, na, Eb, nb, k, distance, out);
    return;
  }
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) out[i * nb + j] = distance.pair(Ea, i * k, Eb, j * k, k);
  }
}

// Starting points for W (k×d row-major). Deterministic for a seed.
import { jsKernels } from './kernels/js.js';
import type { Kernels } from './kernels/types.js';
import { createRng, type Rng } from './rng.js';
import { exactTopEigen, randomizedTopEigen, sketchWidth, type TopEigen } from './top-eigen.js';
import { tripletRow } from './triplet-rows.js';
import type { DataArray, InitName, Triplets } from './types.js';
import type { Spectrum } from './whitening.js';

export interface InitParams {
  init: InitName;
  k: number;
  d: number;
  seed: number;
  /** PCA only: `auto` (default) is exact up to PCA_EXACT_MAX_D, randomized above; the others force one (benchmarks, tests). */
  pcaMethod?: 'auto' | 'exact' | 'randomized';
}

/** Relative size of rows added when k > d (they carry no information yet; small keeps them from dominating distances). */
const EXTRA_ROW_SCALE = 0.01;
/** PCA covariance budget in multiply-adds (rows·d²/2): keeps init well under a second for d up to ~1000. */
const PCA_FLOP_BUDGET = 5e8;
const PCA_MAX_ROWS = 8192;
/**
 * Up to this dimension PCA uses the exact eigen-decomposition (≤ ~0.2 s here, and the results the
 * fixtures and earlier models were made with); above it, the randomized top-k method (decision 0039).
 */
export const PCA_EXACT_MAX_D = 256;

/** `kernels` does the randomized PCA's products (default: the pure-TypeScript ones). */
export function initW(p: InitParams, set: Triplets, kernels: Kernels = jsKernels): Float64Array {
  return start(p, set, kernels, false).W;
}

/**
 * The start and the spectrum of the training vectors' covariance (for whitening.ts): with a PCA
 * start, the very decomposition it came from (the exact path then keeps all d pairs, the randomized
 * one its top min(k, d)); with another start, a PCA of the same rows on a stream of its own, so
 * that W is the one initW gives.
 */
export function initWithSpectrum(
  p: InitParams,
  set: Triplets,
  kernels: Kernels = jsKernels,
): { W: Float64Array; spectrum: Spectrum } {
  const r = start(p, set, kernels, true);
  const rank = spectrumRank(p.k, p.d);
  const spectrum =
    r.spectrum ?? covarianceSpectrum(set, rank, p.d, createRng(p.seed ^ SPECTRUM_SEED), kernels, 'auto', true);
  return { W: r.W, spectrum };
}

/** Mixed into the seed of a spectrum measured beside a start that is not PCA's. */
const SPECTRUM_SEED = 0x5eed;
/**
 * Eigenpairs measured beside a start that is not PCA's: at most this many above the exact PCA's
 * dimension, so that the randomized path (never a d×d decomposition) serves them.
 */
export const SPECTRUM_MAX_RANK = 128;

/** The pairs asked of a spectrum measured beside a non-PCA start (the exact path still keeps all d). */
export function spectrumRank(k: number, d: number): number {
  return d <= PCA_EXACT_MAX_D ? Math.min(k, d) : Math.min(k, d, SPECTRUM_MAX_RANK);
}

/** Rows the PCA samples from the 3·m stacked triplet rows at dimension d. */
export function pcaRowCount(m: number, d: number): number {
  const budgetRows = Math.floor(PCA_FLOP_BUDGET / Math.max(1, (d * d) / 2));
  return Math.min(3 * m, PCA_MAX_ROWS, Math.max(2 * d + 1, budgetRows));
}

function start(
  p: InitParams,
  set: Triplets,
  kernels: Kernels,
  all: boolean,
): { W: Float64Array; spectrum: Spectrum | null } {
  const { k, d } = p;
  if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`k must be a positive integer (got ${k})`);
  if (d !== set.d) throw new RangeError(`d=${d} does not match the triplet set (d=${set.d})`);
  const rng = createRng(p.seed);
  switch (p.init) {
    case 'uniform':
      return { W: uniformInit(k, d, rng), spectrum: null };
    case 'identity':
      return { W: identityInit(k, d, rng), spectrum: null };
    case 'pca':
      return pcaInit(k, d, set, rng, kernels, p.pcaMethod ?? 'auto', all);
    default:
      throw new RangeError(`unknown init ${String(p.init)}`);
  }
}

/** The write-up's initializeParameters: U(−r, r), r = √6/√(k+d+1). */
function uniformInit(k: number, d: number, rng: Rng): Float64Array {
  const r = Math.sqrt(6) / Math.sqrt(k + d + 1);
  const W = new Float64Array(k * d);
  for (let i = 0; i < W.length; i++) W[i] = rng.range(-r, r);
  return W;
}

/** Rows first..k−1 get U(−ε, ε) with ε = EXTRA_ROW_SCALE·rowNorm/√d (row norm ≈ 0.6% of rowNorm). */
function fillExtraRows(W: Float64Array, first: number, k: number, d: number, rowNorm: number, rng: Rng): void {
  const eps = (EXTRA_ROW_SCALE * rowNorm) / Math.sqrt(d);
  for (let i = first * d; i < k * d; i++) W[i] = rng.range(-eps, eps);
}

function identityInit(k: number, d: number, rng: Rng): Float64Array {
  const W = new Float64Array(k * d);
  const n = Math.min(k, d);
  for (let i = 0; i < n; i++) W[i * d + i] = 1;
  if (k > d) fillExtraRows(W, d, k, d, 1, rng);
  return W;
}

/** Picks a seeded sample of row references (array, row) from the stacked anchors/positives/negatives. */
function sampleRows(set: Triplets, d: number, rng: Rng): Array<[DataArray, number]> {
  const total = 3 * set.m;
  const n = pcaRowCount(set.m, d);
  const out: Array<[DataArray, number]> = [];
  if (n >= total) {
    for (const s of [0, 1, 2] as const) for (let i = 0; i < set.m; i++) out.push(tripletRow(set, s, i));
    return out;
  }
  // partial Fisher–Yates over [0, total)
  const idx = new Int32Array(total);
  for (let i = 0; i < total; i++) idx[i] = i;
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(total - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
    out.push(tripletRow(set, Math.floor(idx[i] / set.m) as 0 | 1 | 2, idx[i] % set.m));
  }
  return out;
}

/** Sample covariance (d×d, float64) of the given rows. */
function covariance(rows: Array<[DataArray, number]>, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (const [a, i] of rows) for (let j = 0; j < d; j++) mean[j] += a[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= rows.length;
  const C = new Float64Array(d * d);
  const x = new Float64Array(d);
  for (const [a, i] of rows) {
    for (let j = 0; j < d; j++) x[j] = a[i * d + j] - mean[j];
    for (let p = 0; p < d; p++) {
      const xp = x[p];
      if (xp === 0) continue;
      const o = p * d;
      for (let q = p; q < d; q++) C[o + q] += xp * x[q];
    }
  }
  const inv = 1 / Math.max(1, rows.length - 1);
  for (let p = 0; p < d; p++) {
    for (let q = p; q < d; q++) {
      C[p * d + q] *= inv;
      C[q * d + p] = C[p * d + q];
    }
  }
  return C;
}

/**
 * PCA start: rows of W are the top-k principal directions of the training vectors,
 * all scaled by one factor s = 1/√(Σ top-k eigenvalues), so that the expected squared
 * distance between two random embeddings is 2, the same as between two random unit
 * vectors. Why: the hinge compares squared distances against an absolute margin
 * (DEFAULT_MARGIN by default). Unit-norm rows on standardised data give distances of order
 * 2·Σλ, which grows with the dimension, so that the margin is negligible and every bracket
 * is decided by the data scale; a scale that puts typical distances at O(1) makes the margin mean
 * the same thing with and without `normalize` (with normalize the loss ignores the scale
 * anyway, and this keeps the gradient, which grows like 1/‖Wx‖, well conditioned).
 * Rows beyond rank d (k > d) get small seeded uniform values.
 */
function pcaInit(
  k: number,
  d: number,
  set: Triplets,
  rng: Rng,
  kernels: Kernels,
  method: NonNullable<InitParams['pcaMethod']>,
  all: boolean,
): { W: Float64Array; spectrum: Spectrum } {
  const spectrum = covarianceSpectrum(set, k, d, rng, kernels, method, all);
  const n = Math.min(k, d);
  let topVariance = 0;
  for (let i = 0; i < n; i++) topVariance += Math.max(0, spectrum.values[i]);
  const s = topVariance > 0 ? 1 / Math.sqrt(topVariance) : 1;
  const W = new Float64Array(k * d);
  for (let i = 0; i < n; i++) writeDirection(W, i, d, spectrum, s);
  if (k > d) fillExtraRows(W, d, k, d, s, rng);
  return { W, spectrum };
}

/**
 * Top eigenpairs of the covariance of seeded sampled rows: min(k, d) of them, or with `all` on the
 * exact path all d (the same decomposition: the first min(k, d) are the same pairs either way).
 */
function covarianceSpectrum(
  set: Triplets,
  k: number,
  d: number,
  rng: Rng,
  kernels: Kernels,
  method: NonNullable<InitParams['pcaMethod']>,
  all: boolean,
): Spectrum {
  const rows = sampleRows(set, d, rng);
  const n = Math.min(k, d);
  const randomized = method === 'auto' ? usesRandomizedPca(k, d) : method === 'randomized' && n < d;
  if (randomized) {
    const Xc = centredRows(rows, d);
    const top = randomizedTopEigen(Xc, rows.length, d, n, rng, kernels);
    let sum = 0;
    for (let i = 0; i < Xc.length; i++) sum += Xc[i] * Xc[i];
    return { d, count: n, ...top, meanVariance: sum / Math.max(1, rows.length - 1) / d };
  }
  const C = covariance(rows, d);
  const count = all ? d : n;
  let trace = 0;
  for (let p = 0; p < d; p++) trace += C[p * d + p];
  return { d, count, ...exactTopEigen(C, d, count), meanVariance: trace / d };
}

/** Whether PCA init of k rows at dimension d takes the randomized path (else the exact one). */
export function usesRandomizedPca(k: number, d: number): boolean {
  return d > PCA_EXACT_MAX_D && sketchWidth(Math.min(k, d), d) < d;
}

/** The sampled rows minus their mean (mean in float64), as one float32 block for the kernels. */
function centredRows(rows: Array<[DataArray, number]>, d: number): Float32Array {
  const mean = new Float64Array(d);
  for (const [a, i] of rows) for (let j = 0; j < d; j++) mean[j] += a[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= rows.length;
  const X = new Float32Array(rows.length * d);
  rows.forEach(([a, i], r) => {
    for (let j = 0; j < d; j++) X[r * d + j] = a[i * d + j] - mean[j];
  });
  return X;
}

/** Row `row` of W = s·(eigenvector `row`), sign fixed so the largest-magnitude entry is positive (deterministic across platforms). */
function writeDirection(W: Float64Array, row: number, d: number, top: Pick<TopEigen, 'vectors'>, s: number): void {
  const v = top.vectors.subarray(row * d, (row + 1) * d);
  let big = 0;
  for (let j = 0; j < d; j++) if (Math.abs(v[j]) > Math.abs(big)) big = v[j];
  const sign = big < 0 ? -s : s;
  for (let j = 0; j < d; j++) W[row * d + j] = sign * v[j];
}

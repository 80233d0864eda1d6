// The top eigenpairs of a sample covariance, for PCA init (init.ts): exact (full symmetric
// eigen-decomposition of the d×d covariance, O(d³)) or randomized (Halko, Martinsson & Tropp 2011,
// Alg. 4.4 + 5.3: a seeded Gaussian sketch, a few subspace iterations with re-orthonormalisation,
// then an exact eigen-decomposition of the small l×l projected matrix, O(n·d·l)).
// The randomized one applies C = XcᵀXc/(n−1) through the injected kernels (WebAssembly SIMD in the
// worker): as two products with the centred sample rows Xc, or, when fewer multiply-adds, by
// forming C once (rows·d²) and multiplying by it (decision 0056).
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { jsKernels } from './kernels/js.js';
import type { Kernels } from './kernels/types.js';
import type { Rng } from './rng.js';

/** n unit eigenvectors (rows of `vectors`, n×d row-major) and their eigenvalues, largest first. */
export interface TopEigen {
  values: Float64Array;
  vectors: Float64Array;
}

/** Subspace iterations after the first sketch: enough for the top-k subspace of real feature spectra. */
export const RANDOMIZED_POWER_ITERATIONS = 4;

/** Sketch width l = n + oversampling: extra directions make the top n converge much faster. */
export function sketchWidth(n: number, d: number): number {
  return Math.min(d, n + Math.max(10, Math.ceil(n / 2)));
}

/** Top n eigenpairs of the symmetric d×d matrix C (row-major) by a full decomposition. */
export function exactTopEigen(C: Float64Array, d: number, n: number): TopEigen {
  const rows2d: number[][] = [];
  for (let p = 0; p < d; p++) rows2d.push(Array.from(C.subarray(p * d, (p + 1) * d)));
  const evd = new EigenvalueDecomposition(new Matrix(rows2d), { assumeSymmetric: true });
  return sortedPairs(evd, d, n);
}

/** The n largest pairs of a decomposition of an s×s matrix (ties by index: deterministic). */
function sortedPairs(evd: EigenvalueDecomposition, s: number, n: number): TopEigen {
  const values = evd.realEigenvalues;
  const V = evd.eigenvectorMatrix;
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
  const out: TopEigen = { values: new Float64Array(n), vectors: new Float64Array(n * s) };
  for (let i = 0; i < n; i++) {
    out.values[i] = values[order[i]];
    for (let j = 0; j < s; j++) out.vectors[i * s + j] = V.get(j, order[i]);
  }
  return out;
}

/**
 * Top n eigenpairs of C = XcᵀXc/(rows−1), Xc the centred rows (rows×d, row-major). Q holds l
 * orthonormal directions as rows (l×d); each iteration replaces Q by orth(C·Q). C is applied as two
 * products with Xc, or formed once when that costs fewer multiply-adds (formsCovariance; `operator`
 * forces one, for tests).
 * The Ritz values are exact for the subspace found and never exceed the true eigenvalues.
 */
export function randomizedTopEigen(
  Xc: Float32Array,
  rows: number,
  d: number,
  n: number,
  rng: Rng,
  kernels: Kernels = jsKernels,
  powerIterations = RANDOMIZED_POWER_ITERATIONS,
  operator: 'auto' | 'rows' | 'covariance' = 'auto',
): TopEigen {
  const l = sketchWidth(n, d);
  let Q: Float64Array = new Float64Array(l * d);
  for (let i = 0; i < Q.length; i++) Q[i] = rng.normal();
  const formed = operator === 'auto' ? formsCovariance(rows, d, l, powerIterations) : operator === 'covariance';
  const op = formed ? covarianceOperator(Xc, rows, d, kernels) : sampleOperator(Xc, rows, d, l, kernels);
  // A Gaussian sketch is well conditioned as drawn. Between iterations one shifted Cholesky QR
  // pass with the injected kernels (float32 products in WebAssembly) keeps the basis well
  // conditioned, which is all the iteration needs; the last basis then gets two float64 passes,
  // orthonormal to working precision, for the Ritz step.
  for (let it = 0; it < powerIterations; it++) {
    const Y = op.apply(Q); // (C·Qᵀ)ᵀ up to the 1/(rows−1) scale, which orth removes
    orthonormalizeRows(Y, l, d, { passes: 1, shifted: true, kernels });
    Q = Y;
  }
  orthonormalizeRows(Q, l, d, { passes: 2, shifted: powerIterations <= 0 });
  const B = op.ritz(Q, 1 / Math.max(1, rows - 1)); // Rayleigh–Ritz: B = Q C Qᵀ, an l×l problem
  const small = exactTopEigen(B, l, n);
  // vectors = U·Q (n×d), U the top n Ritz vectors as rows; accumulate takes Uᵀ (C[t·n + i] = U[i][t])
  const Ut = new Float64Array(l * n);
  for (let i = 0; i < n; i++) for (let t = 0; t < l; t++) Ut[t * n + i] = small.vectors[i * l + t];
  const vectors = new Float64Array(n * d);
  jsKernels.accumulate(vectors, n, d, Ut, Q, rowList(l), l);
  return { values: small.values, vectors };
}

/** Above this dimension C (d×d float64) is never formed, whatever the count says. */
export const COVARIANCE_MAX_D = 2048;

/**
 * Whether forming C = XcᵀXc (rows·d² multiply-adds, then l·d² per use) costs less than applying it
 * as two products with the rows each time (2·rows·l·d per use). Uses: the power iterations and the
 * Ritz step. With rows ≫ l, as PCA init samples them, this holds while d < 2·(q+1)·l roughly.
 */
export function formsCovariance(rows: number, d: number, l: number, powerIterations: number): boolean {
  const uses = powerIterations + 1;
  return d <= COVARIANCE_MAX_D && rows * d * d + uses * l * d * d < uses * 2 * rows * l * d;
}

/** C applied to sketch rows, and the Ritz matrix Q·C·Qᵀ·scale. */
interface CovarianceOperator {
  apply(Q: Float64Array): Float64Array;
  ritz(Q: Float64Array, scale: number): Float64Array;
}

/** C as two products with the centred rows: Z = Xc·Qᵀ, then Zᵀ·Xc. */
function sampleOperator(Xc: Float32Array, rows: number, d: number, l: number, kernels: Kernels): CovarianceOperator {
  const Z = new Float64Array(rows * l);
  const all = rowList(rows);
  return {
    apply(Q) {
      kernels.project(Q, l, d, Xc, rows, Z);
      const Y = new Float64Array(l * d);
      kernels.accumulate(Y, l, d, Z, Xc, all, rows);
      return Y;
    },
    ritz(Q, scale) {
      kernels.project(Q, l, d, Xc, rows, Z);
      return gramOfColumns(Z, rows, l, scale);
    },
  };
}

/** C = XcᵀXc formed once with the kernels (a d×d product over the rows), then one product per use. */
function covarianceOperator(Xc: Float32Array, rows: number, d: number, kernels: Kernels): CovarianceOperator {
  const C = new Float64Array(d * d);
  kernels.accumulate(C, d, d, Float64Array.from(Xc), Xc, rowList(rows), rows); // C = XcᵀXc
  symmetrize(C, d, 1);
  const times = (Q: Float64Array): Float64Array => {
    const l = Q.length / d;
    const Y = new Float64Array(l * d);
    kernels.project(C, d, d, Q, l, Y); // Y[i·d + r] = Σ_j C[r·d + j]·Q[i·d + j]: the rows of Q·C
    return Y;
  };
  return {
    apply: times,
    ritz(Q, scale) {
      const l = Q.length / d;
      const B = new Float64Array(l * l);
      jsKernels.project(Q, l, d, times(Q), l, B);
      return symmetrize(B, l, scale);
    },
  };
}

/** (M + Mᵀ)/2·scale in place: symmetric by construction; this removes the last-bit asymmetry of tiled sums. */
function symmetrize(M: Float64Array, s: number, scale: number): Float64Array {
  for (let a = 0; a < s; a++)
    for (let b = a; b < s; b++) {
      const v = 0.5 * (M[a * s + b] + M[b * s + a]) * scale;
      M[a * s + b] = v;
      M[b * s + a] = v;
    }
  return M;
}

function rowList(n: number): Int32Array {
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

/** ZᵀZ·scale for Z (rows×l row-major), in float64: Zᵀ's rows against themselves with the tiled JS kernel. */
export function gramOfColumns(Z: Float64Array, rows: number, l: number, scale: number): Float64Array {
  const Zt = new Float64Array(l * rows);
  for (let i = 0; i < rows; i++) for (let a = 0; a < l; a++) Zt[a * rows + i] = Z[i * l + a];
  const B = new Float64Array(l * l);
  jsKernels.project(Zt, l, rows, Zt, l, B);
  return symmetrize(B, l, scale);
}

/** Relative shift of a Cholesky QR pass whose Gram matrix was summed in float32. */
const FLOAT32_SHIFT = 1e-6;

export interface OrthOptions {
  passes: number;
  /** shift the first pass (needed when the rows may be dependent; costs orthogonality ~1e-8) */
  shifted: boolean;
  /** products of the passes after the first always use float64 JS kernels; the first may use these */
  kernels?: Kernels;
}

/**
 * Orthonormalises the rows of Q (l×d) in place by Cholesky QR, `passes` times: G = QQᵀ (+ σI on a
 * shifted first pass), G = LLᵀ, Q ← L⁻¹Q (Fukaya et al. 2020, shifted CholeskyQR3 with the
 * defaults). The shift keeps the factorisation defined when the rows are (nearly) dependent, which
 * the power iterations make them on data of low rank; unshifted float64 passes after it restore
 * orthogonality to working precision. The products go through register-tiled kernels, several
 * times faster here than Gram–Schmidt's dot/axpy loops.
 */
export function orthonormalizeRows(
  Q: Float64Array,
  l: number,
  d: number,
  opts: OrthOptions = { passes: 3, shifted: true },
): void {
  const G = new Float64Array(l * l);
  const C = new Float64Array(l * l);
  const all = rowList(l);
  for (let pass = 0; pass < opts.passes; pass++) {
    const kernels = pass === 0 ? (opts.kernels ?? jsKernels) : jsKernels;
    kernels.project(Q, l, d, Q, l, G);
    let trace = 0;
    for (let i = 0; i < l; i++) trace += G[i * l + i];
    if (!(trace > 0)) return;
    // only the first pass needs the shift; after it the rows are well conditioned. Float64 products:
    // Fukaya's bound; other kernels (float32 sums) get a shift above their rounding instead.
    const rel = kernels === jsKernels ? 11 * (d * l + l * (l + 1)) * Number.EPSILON : FLOAT32_SHIFT;
    const shift = pass === 0 && opts.shifted ? rel * trace : 0;
    for (let i = 0; i < l; i++) G[i * l + i] += shift;
    choleskyInverseTransposed(G, l, C);
    const out = new Float64Array(l * d);
    kernels.accumulate(out, l, d, C, Q, all, l);
    Q.set(out);
  }
}

/**
 * Factors G = LLᵀ (lower triangle of G overwritten) and writes C = (L⁻¹)ᵀ, so that
 * C[t·l + r] = (L⁻¹)[r][t], the layout Kernels.accumulate takes for out = L⁻¹·Q.
 */
function choleskyInverseTransposed(G: Float64Array, l: number, C: Float64Array): void {
  for (let j = 0; j < l; j++) {
    let s = G[j * l + j];
    for (let t = 0; t < j; t++) s -= G[j * l + t] * G[j * l + t];
    // a row dependent on the earlier ones (possible only without the shift) is dropped: L⁻¹ gets a zero row
    const ljj = s > 0 ? Math.sqrt(s) : Infinity;
    G[j * l + j] = ljj;
    for (let i = j + 1; i < l; i++) {
      let v = G[i * l + j];
      for (let t = 0; t < j; t++) v -= G[i * l + t] * G[j * l + t];
      G[i * l + j] = v / ljj;
    }
  }
  // columns of L⁻¹ by forward substitution: L·x = e_c
  C.fill(0);
  const x = new Float64Array(l);
  for (let c = 0; c < l; c++) {
    x.fill(0);
    for (let i = c; i < l; i++) {
      let v = i === c ? 1 : 0;
      for (let t = c; t < i; t++) v -= G[i * l + t] * x[t];
      x[i] = v / G[i * l + i];
    }
    for (let r = c; r < l; r++) C[c * l + r] = x[r]; // (L⁻¹)[r][c] at C[c·l + r]
  }
}

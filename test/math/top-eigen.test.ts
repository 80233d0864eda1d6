// Randomized top-k PCA (src/math/top-eigen.ts) against the exact eigen-decomposition: the same
// subspace on data with a spectral gap, the same captured variance on the shared digits data,
// deterministic for a seed, and sane on data of low rank. Speed is measured in bench/, not here.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { initW, PCA_EXACT_MAX_D, usesRandomizedPca } from '../../src/math/init.js';
import { createRng } from '../../src/math/rng.js';
import {
  COVARIANCE_MAX_D,
  exactTopEigen,
  formsCovariance,
  orthonormalizeRows,
  randomizedTopEigen,
  type TopEigen,
} from '../../src/math/top-eigen.js';
import { SHARED } from './helpers.js';

/** Centred float32 rows and their float64 covariance. */
function centred(X: Float64Array, rows: number, d: number): { Xc: Float32Array; C: Float64Array } {
  const mean = new Float64Array(d);
  for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) mean[j] += X[i * d + j] / rows;
  const Xc = new Float32Array(rows * d);
  for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) Xc[i * d + j] = X[i * d + j] - mean[j];
  const C = new Float64Array(d * d);
  for (let i = 0; i < rows; i++)
    for (let p = 0; p < d; p++) {
      const xp = Xc[i * d + p];
      for (let q = 0; q < d; q++) C[p * d + q] += (xp * Xc[i * d + q]) / (rows - 1);
    }
  return { Xc, C };
}

/** Σ vᵢᵀCvᵢ over the n rows of V: the variance the directions capture. */
function captured(C: Float64Array, d: number, top: TopEigen, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = top.vectors.subarray(i * d, (i + 1) * d);
    for (let p = 0; p < d; p++) {
      let cv = 0;
      for (let q = 0; q < d; q++) cv += C[p * d + q] * v[q];
      s += v[p] * cv;
    }
  }
  return s;
}

/** Smallest cosine of the principal angles between two n-dim subspaces = σ_min(VaVbᵀ), via eig of MᵀM. */
function minCosine(a: TopEigen, b: TopEigen, n: number, d: number): number {
  const M = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < d; q++) s += a.vectors[i * d + q] * b.vectors[j * d + q];
      M[i * n + j] = s;
    }
  const MtM = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += M[r * n + i] * M[r * n + j];
      MtM[i * n + j] = s;
    }
  const ev = exactTopEigen(MtM, n, n).values;
  return Math.sqrt(Math.max(0, ev[n - 1]));
}

function maxOrthogonalityError(V: Float64Array, n: number, d: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < d; q++) s += V[i * d + q] * V[j * d + q];
      worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
    }
  return worst;
}

/** rows = latent (rank `r`, scales decaying from 10) + isotropic noise 0.1: a clear gap after r. */
function gapData(rows: number, d: number, r: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const basis = new Float64Array(r * d);
  for (let i = 0; i < basis.length; i++) basis[i] = rng.normal();
  orthonormalizeRows(basis, r, d);
  const X = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++) {
    for (let c = 0; c < r; c++) {
      const z = rng.normal() * (10 - (5 * c) / r);
      for (let j = 0; j < d; j++) X[i * d + j] += z * basis[c * d + j];
    }
    for (let j = 0; j < d; j++) X[i * d + j] += 0.1 * rng.normal() + 3;
  }
  return X;
}

/** C applied through the rows (two products) and formed once (top-eigen.ts formsCovariance). */
const OPERATORS = ['rows', 'covariance'] as const;

t.test('same subspace and variance as the exact method on data with a spectral gap', (t) => {
  const d = 120;
  const rows = 400;
  const { Xc, C } = centred(gapData(rows, d, 12, 1), rows, d);
  for (const op of OPERATORS)
    for (const n of [4, 12]) {
      const exact = exactTopEigen(C, d, n);
      const rand = randomizedTopEigen(Xc, rows, d, n, createRng(7), undefined, undefined, op);
      t.ok(maxOrthogonalityError(rand.vectors, n, d) < 1e-10, `${op}, n=${n}: orthonormal rows`);
      const cos = minCosine(exact, rand, n, d);
      t.ok(cos > 1 - 1e-6, `${op}, n=${n}: smallest principal-angle cosine ${cos}`);
      const ce = captured(C, d, exact, n);
      const cr = captured(C, d, rand, n);
      t.ok(Math.abs(cr - ce) / ce < 1e-6, `${op}, n=${n}: captured variance ${cr} vs ${ce}`);
      for (let i = 0; i < n; i++)
        t.ok(Math.abs(rand.values[i] - exact.values[i]) <= 1e-4 * exact.values[i], `${op}, n=${n}: eigenvalue ${i}`);
    }
  t.end();
});

t.test('captures the exact top-k variance on the shared digits data', (t) => {
  const lines = readFileSync(`${SHARED}/data/digits/train.csv`, 'utf8').trim().split('\n').slice(1);
  const d = 64;
  const rows = lines.length;
  const X = new Float64Array(rows * d);
  lines.forEach((line, i) =>
    line
      .split(',')
      .slice(1)
      .forEach((v, j) => (X[i * d + j] = Number(v))),
  );
  const { Xc, C } = centred(X, rows, d);
  for (const op of OPERATORS)
    for (const n of [8, 16, 32]) {
      const ce = captured(C, d, exactTopEigen(C, d, n), n);
      const cr = captured(C, d, randomizedTopEigen(Xc, rows, d, n, createRng(0), undefined, undefined, op), n);
      t.ok(cr <= ce * (1 + 1e-9), `${op}, n=${n}: never above the optimum`);
      t.ok((ce - cr) / ce < 2e-4, `${op}, n=${n}: captured variance ${cr.toFixed(3)} vs exact ${ce.toFixed(3)}`);
    }
  t.end();
});

t.test('deterministic for a seed, and defined on data of low rank', (t) => {
  const d = 50;
  const rows = 30;
  // rank 3: every row is a combination of three vectors
  const rng = createRng(2);
  const B = Array.from({ length: 3 }, () => Array.from({ length: d }, () => rng.normal()));
  const X = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++)
    for (let c = 0; c < 3; c++) {
      const z = rng.normal();
      for (let j = 0; j < d; j++) X[i * d + j] += z * B[c][j];
    }
  const { Xc, C } = centred(X, rows, d);
  for (const op of OPERATORS) {
    const a = randomizedTopEigen(Xc, rows, d, 6, createRng(5), undefined, undefined, op);
    const b = randomizedTopEigen(Xc, rows, d, 6, createRng(5), undefined, undefined, op);
    t.same(Array.from(a.vectors), Array.from(b.vectors), `${op}: same seed, same vectors`);
    t.ok(a.vectors.every(Number.isFinite) && a.values.every(Number.isFinite), `${op}: finite`);
    const exact = exactTopEigen(C, d, 3);
    t.ok(minCosine(exact, a, 3, d) > 1 - 1e-8, `${op}: the rank-3 subspace is found`);
    t.ok(a.values[3] < 1e-8 * a.values[0], `${op}: and nothing beyond it`);
  }
  t.end();
});

t.test('initW takes the randomized path above PCA_EXACT_MAX_D only', (t) => {
  t.notOk(usesRandomizedPca(16, 64), 'digits-sized: exact');
  t.notOk(usesRandomizedPca(230, PCA_EXACT_MAX_D + 1), 'a sketch as wide as d: exact');
  t.ok(usesRandomizedPca(128, 512));
  const d = PCA_EXACT_MAX_D + 44;
  const m = 200;
  const X = gapData(3 * m, d, 10, 3);
  const set = {
    m,
    d,
    anchors: X.subarray(0, m * d),
    positives: X.subarray(m * d, 2 * m * d),
    negatives: X.subarray(2 * m * d),
  };
  const W = initW({ init: 'pca', k: 8, d, seed: 1 }, set);
  t.same(Array.from(initW({ init: 'pca', k: 8, d, seed: 1 }, set)), Array.from(W), 'deterministic');
  // rows share one scale and are orthogonal
  const s2 = W.subarray(0, d).reduce((acc, v) => acc + v * v, 0);
  const unit = W.map((v) => v / Math.sqrt(s2));
  t.ok(maxOrthogonalityError(unit, 8, d) < 1e-9, 'orthogonal rows of one scale');
  t.end();
});

t.test('C is formed where that takes fewer multiply-adds, never above COVARIANCE_MAX_D', (t) => {
  // PCA init's rows (init.ts pcaRowCount) at k = 128, l = 192, four power iterations
  t.ok(formsCovariance(3814, 512, 192, 4), 'd 512: rows·d² + 5·l·d² < 10·rows·l·d');
  t.notOk(formsCovariance(8193, 4096, 192, 4), 'd 4096: the rows are cheaper');
  t.notOk(formsCovariance(1e6, COVARIANCE_MAX_D + 1, 2000, 4), 'above the cap, never');
  t.notOk(formsCovariance(100, 512, 12, 4), 'few rows: the rows are cheaper');
  t.end();
});

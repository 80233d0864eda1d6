// The hinged triplet loss over indexed triplets (IndexedTripletSet), the same function as
// createTripletObjective's on the gathered rows:
//   L(W) = (1/m) Σ max(0, ‖e(a)−e(p)‖² − ‖e(a)−e(n)‖² + margin) + ½·λ·‖W‖²_F
// Why a second form: triplets drawn from n samples reuse them (m ≫ n/3 at face scale), so
// projecting each sample once costs n·k·d where the difference form costs 2·m·k·d, and the data
// held is n rows instead of 2–3·m. The brackets are then k-dimensional, and the gradient is one
// product over the samples an active triplet touches: ∇ = Cᵀ·X_S with C[j] = Σ ∂ℓ/∂z_j.
// Summation differs from the difference form only in rounding (W·a − W·p against W·(a − p)).
import { jsKernels } from './kernels/js.js';
import type { Kernels } from './kernels/types.js';
import { NORM_EPSILON, type TripletObjective } from './losses.js';
import { sampleProducts } from './sample-products.js';
import { assertIndexedSet } from './triplet-rows.js';
import type { IndexedTripletSet, LossOptions, LossValue } from './types.js';

interface Buffers {
  k: number;
  /** projections (n×k): W·x_j, then unit rows when normalising */
  Z: Float64Array;
  /** ∂L/∂e_j, then ∂L/∂z_j, for the touched samples (n×k) */
  C: Float64Array;
  norms: Float64Array;
  touched: Uint8Array;
  rows: Int32Array;
}

function buffers(n: number, k: number): Buffers {
  return {
    k,
    Z: new Float64Array(n * k),
    C: new Float64Array(n * k),
    norms: new Float64Array(n),
    touched: new Uint8Array(n),
    rows: new Int32Array(n),
  };
}

/** Scales every row of Z (n×k) to unit length (norm clamped at NORM_EPSILON), keeping the norms. */
function normalizeRows(Z: Float64Array, n: number, k: number, norms: Float64Array): void {
  for (let j = 0; j < n; j++) {
    const o = j * k;
    let s = 0;
    for (let r = 0; r < k; r++) s += Z[o + r] * Z[o + r];
    const nrm = Math.max(Math.sqrt(s), NORM_EPSILON);
    norms[j] = nrm;
    const inv = 1 / nrm;
    for (let r = 0; r < k; r++) Z[o + r] *= inv;
  }
}

/** ∂L/∂e → ∂L/∂z through e = z/max(‖z‖, ε): (g − e·(eᵀg))/‖z‖, or g/ε where the norm was clamped. */
function backpropRow(C: Float64Array, E: Float64Array, o: number, k: number, norm: number): void {
  let dot = 0;
  if (norm !== NORM_EPSILON) for (let r = 0; r < k; r++) dot += E[o + r] * C[o + r];
  const inv = 1 / norm;
  for (let r = 0; r < k; r++) C[o + r] = (C[o + r] - E[o + r] * dot) * inv;
}

interface Sums {
  sum: number;
  active: number;
  correct: number;
}

/**
 * Brackets over the m triplets from the projections; with `wantGrad`, each counted triplet adds
 * its derivatives (scaled by 2/m) into C's rows of a, p and n: ∂/∂e_a = 2(e_n − e_p),
 * ∂/∂e_p = 2(e_p − e_a), ∂/∂e_n = 2(e_a − e_n).
 */
function brackets(set: IndexedTripletSet, b: Buffers, margin: number, hinged: boolean, wantGrad: boolean): Sums {
  const { m, refs } = set;
  const { k, Z, C, touched } = b;
  const s = 2 / m;
  let sum = 0;
  let active = 0;
  let correct = 0;
  for (let i = 0; i < m; i++) {
    const a = refs[3 * i] * k;
    const p = refs[3 * i + 1] * k;
    const q = refs[3 * i + 2] * k;
    let dp = 0;
    let dn = 0;
    for (let r = 0; r < k; r++) {
      const u = Z[a + r] - Z[p + r];
      const v = Z[a + r] - Z[q + r];
      dp += u * u;
      dn += v * v;
    }
    const diff = dp - dn;
    const bracket = diff + margin;
    if (diff < 0) correct++;
    if (bracket > 0) active++;
    if (hinged && !(bracket > 0)) continue;
    sum += bracket;
    if (!wantGrad) continue;
    touched[refs[3 * i]] = touched[refs[3 * i + 1]] = touched[refs[3 * i + 2]] = 1;
    for (let r = 0; r < k; r++) {
      const ea = Z[a + r];
      const ep = Z[p + r];
      const en = Z[q + r];
      C[a + r] += s * (en - ep);
      C[p + r] += s * (ep - ea);
      C[q + r] += s * (ea - en);
    }
  }
  return { sum, active, correct };
}

/** The touched samples in ascending order (a fixed summation order), back-propagated when normalising. */
function touchedRows(b: Buffers, n: number, normalize: boolean): number {
  let count = 0;
  for (let j = 0; j < n; j++) {
    if (b.touched[j] === 0) continue;
    if (normalize) backpropRow(b.C, b.Z, j * b.k, b.k, b.norms[j]);
    b.rows[count++] = j;
  }
  return count;
}

/**
 * `kernels` does the two products over the samples (sample-products.ts: float32 in WebAssembly,
 * with the samples resident); the brackets run here in float64. Dispose it when done.
 */
export function createIndexedObjective(
  set: IndexedTripletSet,
  opts: LossOptions,
  kernels: Kernels = jsKernels,
): TripletObjective {
  assertIndexedSet(set);
  const { m, d, n, samples } = set;
  const hinged = (opts.hinge ?? 'relu') === 'relu';
  let b: Buffers | null = null;
  const products = sampleProducts(samples, n, d, kernels);
  return {
    m,
    d,
    evaluate(W: Float64Array, k: number, grad: Float64Array | null): LossValue {
      if (b === null || b.k !== k) b = buffers(n, k);
      products.project(W, k, b.Z);
      if (opts.normalize) normalizeRows(b.Z, n, k, b.norms);
      const wantGrad = grad !== null;
      if (wantGrad) {
        b.C.fill(0);
        b.touched.fill(0);
      }
      const r = brackets(set, b, opts.margin, hinged, wantGrad);
      let wn = 0;
      for (let i = 0; i < k * d; i++) wn += W[i] * W[i];
      if (grad !== null) {
        const count = touchedRows(b, n, opts.normalize);
        if (opts.weightDecay === 0) grad.fill(0, 0, k * d);
        else for (let i = 0; i < k * d; i++) grad[i] = opts.weightDecay * W[i];
        products.accumulate(grad, k, b.C, b.rows, count);
      }
      return { loss: r.sum / m + 0.5 * opts.weightDecay * wn, activeCount: r.active, correctCount: r.correct };
    },
    dispose: () => products.dispose(),
  };
}

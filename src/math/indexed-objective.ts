// The hinged triplet loss over indexed triplets (IndexedTripletSet), the same function as
// createTripletObjective's on the gathered rows:
//   L(W) = (1/m) Σ max(0, ‖e(a)−e(p)‖² − ‖e(a)−e(n)‖² + margin) + ½·λ·‖W‖²_F
// Why a second form: triplets drawn from n samples reuse them (m ≫ n/3 at face scale), so
// projecting each sample once costs n·k·d where the difference form costs 2·m·k·d, and the data
// held is n rows instead of 2–3·m. The brackets are then k-dimensional, and the gradient is one
// product over the samples an active triplet touches: ∇ = Cᵀ·X_S with C[j] = Σ ∂ℓ/∂z_j.
// Summation differs from the difference form only in rounding (W·a − W·p against W·(a − p)).
// Hinged squared loss: after an evaluation at W_c, triplets proved inactive near W_c
// (inactive-bound.ts) are skipped while W stays within their radius: their brackets are not
// computed, and when few samples remain only those are projected. A full evaluation refreshes the
// radii every REFRESH_EVERY evaluations, or sooner when too many triplets are candidates again.
import { jsKernels } from './kernels/js.js';
import type { Kernels, ResidentTriplets } from './kernels/types.js';
import { NORM_EPSILON, normalizeRow, squaredNorm, startGradient, type TripletObjective } from './losses.js';
import { sampleProducts, type SampleProducts } from './sample-products.js';
import {
  frobeniusDistance,
  inactiveRadius,
  spectralBoundCost,
  spectralNormBound,
  tripletNorms,
} from './inactive-bound.js';
import { assertIndexedSet, tripletSquaredDistances } from './triplet-rows.js';
import type { DataArray, IndexedTripletSet, LossOptions, LossValue } from './types.js';

interface Buffers {
  k: number;
  /** ∂L/∂e_j, then ∂L/∂z_j, for the touched samples (n×k); null where the backend sums them */
  C: Float64Array | null;
  /** the triplets whose derivatives the backend sums (those the loss counts), in pass order */
  counted: Int32Array;
  touched: Uint8Array;
  rows: Int32Array;
}

function buffers(n: number, m: number, k: number, resident: boolean): Buffers {
  return {
    k,
    C: resident ? null : new Float64Array(n * k),
    counted: new Int32Array(resident ? m : 0),
    touched: new Uint8Array(n),
    rows: new Int32Array(n),
  };
}

/** Scales every row of Z (n×k) to unit length (norm clamped at NORM_EPSILON), keeping the norms. */
function normalizeRows(Z: Float64Array, n: number, k: number, norms: Float64Array): void {
  for (let j = 0; j < n; j++) norms[j] = normalizeRow(Z, j * k, k);
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
  /** triplets listed in Buffers.counted */
  counted: number;
}

/** The triplets to bracket: all m, or a list of them; with `radii`, each triplet's radius is written. */
interface Pass {
  list: Int32Array | null;
  count: number;
  radii: Bound | null;
}

/** Rows of projections: sample j's at Z[j·ld], ld ≥ k (float64 in JS, float32 in a backend's memory). */
interface Rows {
  Z: Float64Array | Float32Array;
  ld: number;
}

/**
 * Brackets over the pass's triplets from their distances dd; with `wantGrad`, each counted triplet
 * adds its derivatives (scaled by 2/m) into C's rows of a, p and n: ∂/∂e_a = 2(e_n − e_p),
 * ∂/∂e_p = 2(e_p − e_a), ∂/∂e_n = 2(e_a − e_n); without C, it is listed for the backend to add
 * (ResidentTriplets.coefficients). A full pass of a bounded objective also writes each
 * triplet's radius at this W into the bound's pending radii.
 */
function brackets(
  set: IndexedTripletSet,
  dd: Float64Array,
  Zr: Rows,
  b: Buffers,
  margin: number,
  hinged: boolean,
  wantGrad: boolean,
  pass: Pass,
): Sums {
  const { m, refs } = set;
  const { k, C, touched } = b;
  const { Z, ld } = Zr;
  const { list, radii } = pass;
  const s = 2 / m;
  let sum = 0;
  let active = 0;
  let correct = 0;
  let counted = 0;
  for (let t = 0; t < pass.count; t++) {
    const i = list === null ? t : list[t];
    const dp = dd[2 * t];
    const dn = dd[2 * t + 1];
    if (radii !== null) radii.pending[i] = inactiveRadius(dp, dn, margin, radii.nx[i], radii.ny[i]);
    const diff = dp - dn;
    const bracket = diff + margin;
    if (diff < 0) correct++;
    if (bracket > 0) active++;
    // NaN (∞ − ∞: embeddings past float32) is no inactive triplet: it carries into the loss
    if (hinged && bracket <= 0) continue;
    sum += bracket;
    if (!wantGrad) continue;
    const ja = refs[3 * i];
    const jp = refs[3 * i + 1];
    const jn = refs[3 * i + 2];
    touched[ja] = touched[jp] = touched[jn] = 1;
    if (C === null) {
      b.counted[counted++] = i;
      continue;
    }
    const a = ja * k;
    const p = jp * k;
    const q = jn * k;
    const za = ja * ld;
    const zp = jp * ld;
    const zn = jn * ld;
    for (let r = 0; r < k; r++) {
      const ea = Z[za + r];
      const ep = Z[zp + r];
      const en = Z[zn + r];
      C[a + r] += s * (en - ep);
      C[p + r] += s * (ep - ea);
      C[q + r] += s * (ea - en);
    }
  }
  return { sum, active, correct, counted };
}

/** The touched samples in ascending order (a fixed summation order), back-propagated when normalised. */
function touchedRows(b: Buffers, n: number, normalized: { Z: Float64Array; norms: Float64Array } | null): number {
  let count = 0;
  for (let j = 0; j < n; j++) {
    if (b.touched[j] === 0) continue;
    if (normalized) backpropRow(b.C!, normalized.Z, j * b.k, b.k, normalized.norms[j]);
    b.rows[count++] = j;
  }
  return count;
}

/**
 * Where the projections live and where the pass's distances are taken: in JS (float64), or in
 * the backend's memory next to its resident triplets (float32, no copy of Z into JS).
 */
interface Projections {
  /** projects every sample */
  all(W: Float64Array, k: number): void;
  /** Z's rows as last projected, for a partial evaluation to rewrite some of them */
  rows(): Rows;
  distances(pass: Pass): Float64Array;
  /** the gradient's coefficients of the listed triplets, summed by the backend (resident only) */
  coefficients?(list: Int32Array, count: number, scale: number): Float32Array;
  /** Z's unit rows and their norms, when normalising */
  readonly normalized: { Z: Float64Array; norms: Float64Array } | null;
  dispose(): void;
}

function jsProjections(set: IndexedTripletSet, products: SampleProducts, normalize: boolean): Projections {
  const { n, m } = set;
  let k = 0;
  let Z = new Float64Array(0);
  const norms = new Float64Array(n);
  const dd = new Float64Array(2 * m);
  return {
    all(W, kw) {
      if (kw !== k) [k, Z] = [kw, new Float64Array(n * kw)];
      products.project(W, k, Z);
      if (normalize) normalizeRows(Z, n, k, norms);
    },
    rows: () => ({ Z, ld: k }),
    distances(pass) {
      tripletSquaredDistances(set.refs, Z, k, pass.list, pass.count, dd);
      return dd;
    },
    get normalized() {
      return normalize ? { Z, norms } : null;
    },
    dispose: () => {},
  };
}

function residentProjections(
  projectTo: NonNullable<SampleProducts['projectTo']>,
  triplets: ResidentTriplets,
): Projections {
  return {
    all: (W, k) => void projectTo(W, k, triplets),
    rows: () => triplets.rows(),
    distances: (pass) => triplets.distances(pass.list, pass.count),
    coefficients: (list, count, scale) => triplets.coefficients(list, count, scale),
    normalized: null,
    dispose: () => triplets.dispose(),
  };
}

/** A partial evaluation projects at most this share of the samples; past it, projecting all is cheaper. */
export const PARTIAL_SAMPLE_SHARE = 1 / 3;
/**
 * A partial evaluation brackets at most this share of the triplets: past it, the full pass (which
 * also refreshes the radii) costs little more. Measured with REFRESH_EVERY in docs/decisions/0053.
 */
export const CANDIDATE_SHARE = 1 / 2;
/** The spectral step bound is used when it costs at most this share of a full pass's brackets (m·k). */
export const SPECTRAL_COST_SHARE = 1 / 8;
/** Partial evaluations between refreshes: the radii only shrink as W moves away from W_c. */
export const REFRESH_EVERY = 10;

/** The radii at Wc, the best full evaluation so far, for one k. */
interface Bound {
  k: number;
  Wc: Float64Array | null;
  /** the objective at Wc: a full evaluation refreshes the radii only where it is lower */
  loss: number;
  radius: Float64Array;
  /** the radii at the last full evaluation, adopted when it lowered the objective */
  pending: Float64Array;
  nx: Float64Array;
  ny: Float64Array;
  /** triplets that may be active, and the distinct samples they use (scratch) */
  candidates: Int32Array;
  used: Int32Array;
  stamp: Int32Array;
  generation: number;
  /** the most samples a partial evaluation projects: PARTIAL_SAMPLE_SHARE of n */
  cap: number;
  /** the most triplets a partial evaluation brackets: CANDIDATE_SHARE of m */
  limit: number;
  /** partial evaluations since Wc was adopted */
  sinceRefresh: number;
  /** whether to bound the step by its spectral norm, and its scratch (k×d) */
  spectral: boolean;
  step: Float64Array;
  gathered: DataArray;
  projected: Float64Array;
}

function newBound(set: IndexedTripletSet, k: number, norms: { nx: Float64Array; ny: Float64Array }): Bound {
  const { m, n, d } = set;
  const cap = Math.floor(n * PARTIAL_SAMPLE_SHARE);
  const spectral = spectralBoundCost(k, d) <= SPECTRAL_COST_SHARE * m * k;
  return {
    k,
    Wc: null,
    loss: Infinity,
    radius: new Float64Array(m),
    pending: new Float64Array(m),
    ...norms,
    candidates: new Int32Array(m),
    used: new Int32Array(n),
    stamp: new Int32Array(n),
    generation: 0,
    cap,
    limit: Math.floor(m * CANDIDATE_SHARE),
    sinceRefresh: 0,
    spectral,
    step: new Float64Array(spectral ? k * d : 0),
    gathered: set.samples instanceof Float64Array ? new Float64Array(cap * d) : new Float32Array(cap * d),
    projected: new Float64Array(cap * k),
  };
}

/**
 * The triplets W may have turned active (radius ≤ ‖W − Wc‖) and, while they fit the partial share,
 * their distinct samples. count is −1 when over the candidate limit; samples −1 when over the cap.
 */
function candidates(set: IndexedTripletSet, bd: Bound, W: Float64Array, d: number): { count: number; samples: number } {
  const delta = stepBound(bd, W, d);
  const g = ++bd.generation;
  let count = 0;
  let samples = 0;
  for (let i = 0; i < set.m; i++) {
    if (bd.radius[i] > delta) continue;
    if (count === bd.limit) return { count: -1, samples: -1 };
    bd.candidates[count++] = i;
    if (samples >= 0) samples = addSamples(set, bd, i, g, samples);
  }
  return { count, samples };
}

/**
 * An upper bound on ‖W − Wc‖₂: the Frobenius norm, or the tighter spectral bound where it costs
 * little next to the brackets it may save (SPECTRAL_COST_SHARE of a full pass's m·k).
 */
function stepBound(bd: Bound, W: Float64Array, d: number): number {
  if (!bd.spectral) return frobeniusDistance(W, bd.Wc!, bd.k * d);
  const D = bd.step;
  let squares = 0;
  for (let i = 0; i < D.length; i++) {
    D[i] = W[i] - bd.Wc![i];
    squares += D[i] * D[i];
  }
  return Math.min(Math.sqrt(squares), spectralNormBound(D, bd.k, d));
}

/** Stamps triplet i's samples into `used`; the new count, or −1 once past the cap. */
function addSamples(set: IndexedTripletSet, bd: Bound, i: number, g: number, samples: number): number {
  for (let s = 0; s < 3; s++) {
    const j = set.refs[3 * i + s];
    if (bd.stamp[j] === g) continue;
    bd.stamp[j] = g;
    if (samples === bd.cap) return -1;
    bd.used[samples++] = j;
  }
  return samples;
}

/** Projects only the listed samples, into their rows of Z (the other rows are not read). */
function projectSome(
  set: IndexedTripletSet,
  bd: Bound,
  projections: Projections,
  W: Float64Array,
  kernels: Kernels,
  count: number,
): void {
  const { d, samples } = set;
  const k = bd.k;
  for (let t = 0; t < count; t++) {
    const j = bd.used[t];
    bd.gathered.set(samples.subarray(j * d, (j + 1) * d), t * d);
  }
  kernels.project(W, k, d, bd.gathered, count, bd.projected);
  // Z's rows after the product, which may have grown the backend's memory
  const Zr = projections.rows();
  for (let t = 0; t < count; t++) Zr.Z.set(bd.projected.subarray(t * k, (t + 1) * k), bd.used[t] * Zr.ld);
}

/**
 * Adopts the pending radii of a full evaluation at W. Only an evaluation that lowers the objective
 * moves Wc: a line search's overshooting trial, far from where the next trials fall, would leave
 * radii that prove nothing about them.
 */
function adopt(bd: Bound, W: Float64Array, loss: number): void {
  [bd.radius, bd.pending] = [bd.pending, bd.radius];
  if (bd.Wc === null) bd.Wc = Float64Array.from(W);
  else bd.Wc.set(W);
  bd.loss = loss;
  bd.sinceRefresh = 0;
}

export interface IndexedObjective extends TripletObjective {
  /** triplets the last evaluation skipped as provably inactive (0 after a full evaluation) */
  readonly lastSkipped: number;
}

/**
 * `kernels` does the two products over the samples (sample-products.ts: float32 in WebAssembly,
 * with the samples resident); the brackets run here in float64. Dispose it when done.
 */
export function createIndexedObjective(
  set: IndexedTripletSet,
  opts: LossOptions,
  kernels: Kernels = jsKernels,
): IndexedObjective {
  assertIndexedSet(set);
  const { m, d, n, samples } = set;
  const hinged = (opts.hinge ?? 'relu') === 'relu';
  // the bound holds for the hinged squared distances; normalised embeddings move non-linearly
  const bounded = hinged && !opts.normalize && opts.inactiveSkip !== false;
  let b: Buffers | null = null;
  let bd: Bound | null = null;
  let norms: { nx: Float64Array; ny: Float64Array } | null = null;
  let lastSkipped = 0;
  const products = sampleProducts(samples, n, d, kernels);
  // the unit rows of normalised embeddings and their back-propagation stay in float64 JS
  const projections =
    !opts.normalize && products.projectTo && kernels.residentTriplets
      ? residentProjections(products.projectTo, kernels.residentTriplets(set.refs, m, n))
      : jsProjections(set, products, opts.normalize);

  /** Projects what this evaluation needs; the pass over the triplets it then makes. */
  const prepare = (W: Float64Array, k: number): Pass => {
    if (bounded) {
      norms ??= tripletNorms(set);
      if (bd === null || bd.k !== k) bd = newBound(set, k, norms);
      if (bd.Wc !== null && bd.sinceRefresh < REFRESH_EVERY) {
        const c = candidates(set, bd, W, d);
        if (c.count >= 0) {
          bd.sinceRefresh++;
          if (c.samples >= 0) projectSome(set, bd, projections, W, kernels, c.samples);
          else projections.all(W, k);
          return { list: bd.candidates, count: c.count, radii: null };
        }
      }
    }
    projections.all(W, k);
    return { list: null, count: m, radii: bd };
  };

  return {
    m,
    d,
    get lastSkipped() {
      return lastSkipped;
    },
    evaluate(W: Float64Array, k: number, grad: Float64Array | null): LossValue {
      if (b === null || b.k !== k) b = buffers(n, m, k, projections.coefficients !== undefined);
      const wantGrad = grad !== null;
      if (wantGrad) {
        b.C?.fill(0);
        b.touched.fill(0);
      }
      const pass = prepare(W, k);
      const dd = projections.distances(pass);
      const r = brackets(set, dd, projections.rows(), b, opts.margin, hinged, wantGrad, pass);
      // skipped triplets are inactive and correct (their bracket, hence d(a,p) − d(a,n), is < 0)
      lastSkipped = m - pass.count;
      const correct = r.correct + lastSkipped;
      const loss = r.sum / m + 0.5 * opts.weightDecay * squaredNorm(W, k, d);
      if (pass.radii !== null && loss <= pass.radii.loss) adopt(pass.radii, W, loss);
      if (grad !== null) {
        const count = touchedRows(b, n, projections.normalized);
        startGradient(grad, W, k * d, opts.weightDecay);
        const C = b.C ?? projections.coefficients!(b.counted, r.counted, 2 / m);
        products.accumulate(grad, k, C, b.rows, count);
      }
      return { loss, activeCount: r.active, correctCount: correct };
    },
    dispose: () => {
      projections.dispose();
      products.dispose();
    },
  };
}

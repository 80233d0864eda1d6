// Hinged triplet loss and its gradient for f(x) = Wx.
//   L(W) = (1/m) Σ max(0, ‖e(a)−e(p)‖² − ‖e(a)−e(n)‖² + margin) + ½·λ·‖W‖²_F
// with e(x) = Wx, or Wx/‖Wx‖ when normalize is on.
// The gradient reuses the forward projections; no d×d matrix is ever formed.
import { jsKernels } from './kernels/js.js';
import type { Kernels } from './kernels/types.js';
import type { DataArray, LossOptions, LossValue, TripletSet } from './types.js';

/** Norms below this are clamped (e = z / max(‖z‖, ε)), as the evaluation tools do. */
export const NORM_EPSILON = 1e-12;

export interface TripletObjective {
  readonly m: number;
  readonly d: number;
  /** Loss (and gradient into `grad` when non-null) at W (k×d row-major). Allocates nothing once warmed up for k. */
  evaluate(W: Float64Array, k: number, grad: Float64Array | null): LossValue;
  /** Releases what the objective holds outside the JS heap (WebAssembly memory); optional. */
  dispose?(): void;
}

/** Throws on malformed sets; the server validates earlier, this guards the math. */
export function assertTripletSet(set: TripletSet): void {
  const { m, d } = set;
  if (!(Number.isInteger(m) && m > 0 && Number.isInteger(d) && d > 0)) {
    throw new RangeError(`triplet set needs positive integer m and d (got m=${m}, d=${d})`);
  }
  for (const key of ['anchors', 'positives', 'negatives'] as const) {
    if (set[key].length !== m * d) {
      throw new RangeError(`${key} has ${set[key].length} values, expected m·d = ${m * d}`);
    }
  }
}

/** Stores differences in float64 only when the inputs are float64, so fixtures stay exact and float32 data keeps half the bandwidth. */
function difference(a: DataArray, b: DataArray, allF64: boolean): DataArray {
  const out = allF64 ? new Float64Array(a.length) : new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] - b[i];
  return out;
}

export function squaredNorm(W: Float64Array, k: number, d: number): number {
  let s = 0;
  const n = k * d;
  for (let i = 0; i < n; i++) s += W[i] * W[i];
  return s;
}

/** grad = λW (or 0): the weight-decay part, onto which the data term is accumulated. */
export function startGradient(grad: Float64Array, W: Float64Array, n: number, weightDecay: number): void {
  if (weightDecay === 0) grad.fill(0, 0, n);
  else for (let i = 0; i < n; i++) grad[i] = weightDecay * W[i];
}

interface Workspace {
  k: number;
  bufs: Float64Array[];
  scratch: Float64Array[];
}

/** Reallocates only when k changes (never during a training run). */
function ensureWorkspace(ws: Workspace, k: number, m: number, nBufs: number): void {
  if (ws.k === k) return;
  ws.k = k;
  ws.bufs = Array.from({ length: nBufs }, () => new Float64Array(m * k));
  ws.scratch = Array.from({ length: 3 }, () => new Float64Array(k));
}

export function createTripletObjective(
  set: TripletSet,
  opts: LossOptions,
  kernels: Kernels = jsKernels,
): TripletObjective {
  assertTripletSet(set);
  // a backend with a fused objective (WebAssembly SIMD) takes the whole evaluation
  if (kernels.createObjective) return kernels.createObjective(set, opts);
  const { m, d } = set;
  const margin = opts.margin;
  const weightDecay = opts.weightDecay;
  const hinged = (opts.hinge ?? 'relu') === 'relu';
  const rows = new Int32Array(m);
  const ws: Workspace = { k: -1, bufs: [], scratch: [] };

  if (opts.normalize) {
    return {
      m,
      d,
      evaluate(W, k, grad) {
        ensureWorkspace(ws, k, m, 3);
        const [ZA, ZP, ZN] = ws.bufs;
        kernels.project(W, k, d, set.anchors, m, ZA);
        kernels.project(W, k, d, set.positives, m, ZP);
        kernels.project(W, k, d, set.negatives, m, ZN);
        const r = normalizedBrackets(ZA, ZP, ZN, m, k, margin, hinged, grad !== null, rows, ws.scratch);
        const wn = squaredNorm(W, k, d);
        if (grad !== null) {
          startGradient(grad, W, k * d, weightDecay);
          kernels.accumulate(grad, k, d, ZA, set.anchors, rows, r.used);
          kernels.accumulate(grad, k, d, ZP, set.positives, rows, r.used);
          kernels.accumulate(grad, k, d, ZN, set.negatives, rows, r.used);
        }
        return finish(r, m, weightDecay, wn);
      },
    };
  }

  // Squared distances are linear in the differences: precompute A−P, A−N once.
  const allF64 =
    set.anchors instanceof Float64Array &&
    set.positives instanceof Float64Array &&
    set.negatives instanceof Float64Array;
  const DP = difference(set.anchors, set.positives, allF64);
  const DN = difference(set.anchors, set.negatives, allF64);
  return {
    m,
    d,
    evaluate(W, k, grad) {
      ensureWorkspace(ws, k, m, 2);
      const [U, V] = ws.bufs;
      kernels.project(W, k, d, DP, m, U);
      kernels.project(W, k, d, DN, m, V);
      const r = squaredBrackets(U, V, m, k, margin, hinged, grad !== null, rows);
      const wn = squaredNorm(W, k, d);
      if (grad !== null) {
        startGradient(grad, W, k * d, weightDecay);
        kernels.accumulate(grad, k, d, U, DP, rows, r.used);
        kernels.accumulate(grad, k, d, V, DN, rows, r.used);
      }
      return finish(r, m, weightDecay, wn);
    },
  };
}

interface BracketSums {
  /** Σ of the counted brackets (hinged: positive ones only) */
  sum: number;
  active: number;
  correct: number;
  /** rows[0..used) hold the triplets that contribute to the gradient */
  used: number;
}

function finish(r: BracketSums, m: number, weightDecay: number, wn: number): LossValue {
  return {
    loss: r.sum / m + 0.5 * weightDecay * wn,
    activeCount: r.active,
    correctCount: r.correct,
  };
}

/**
 * Brackets for squared loss from U = W(A−P), V = W(A−N). For contributing rows,
 * U and V are overwritten in place with the gradient coefficients 2U/m and −2V/m,
 * so the gradient is two accumulate calls.
 */
function squaredBrackets(
  U: Float64Array,
  V: Float64Array,
  m: number,
  k: number,
  margin: number,
  hinged: boolean,
  wantGrad: boolean,
  rows: Int32Array,
): BracketSums {
  const cu = 2 / m;
  const cv = -2 / m;
  let sum = 0;
  let active = 0;
  let correct = 0;
  let used = 0;
  for (let i = 0; i < m; i++) {
    const o = i * k;
    let dp = 0;
    let dn = 0;
    for (let r = 0; r < k; r++) {
      dp += U[o + r] * U[o + r];
      dn += V[o + r] * V[o + r];
    }
    const diff = dp - dn;
    const bracket = diff + margin;
    if (diff < 0) correct++;
    if (bracket > 0) active++;
    // NaN (∞ − ∞: embeddings past float32) is no inactive triplet: it carries into the loss
    if (hinged && bracket <= 0) continue;
    sum += bracket;
    if (!wantGrad) continue;
    rows[used++] = i;
    for (let r = 0; r < k; r++) {
      U[o + r] *= cu;
      V[o + r] *= cv;
    }
  }
  return { sum, active, correct, used };
}

/** Scales row o..o+k of Z to unit length in place and returns the (clamped) norm it divided by. */
export function normalizeRow(Z: Float64Array, o: number, k: number): number {
  let s = 0;
  for (let r = 0; r < k; r++) s += Z[o + r] * Z[o + r];
  const n = Math.max(Math.sqrt(s), NORM_EPSILON);
  const inv = 1 / n;
  for (let r = 0; r < k; r++) Z[o + r] *= inv;
  return n;
}

/**
 * Back-propagates ∂L/∂e (in ge) through e = z/max(‖z‖, ε) and writes ∂L/∂z over row o of E:
 * ∂z = (ge − e·(eᵀge))/‖z‖; when the norm is clamped the map is linear, ∂z = ge/ε.
 */
function backpropNorm(E: Float64Array, o: number, k: number, ge: Float64Array, norm: number, clamped: boolean): void {
  let dot = 0;
  if (!clamped) for (let r = 0; r < k; r++) dot += E[o + r] * ge[r];
  const inv = 1 / norm;
  for (let r = 0; r < k; r++) E[o + r] = (ge[r] - E[o + r] * dot) * inv;
}

/**
 * Brackets for the L2-normalised embeddings. Projections ZA, ZP, ZN are normalised in place;
 * for contributing rows they are then overwritten with ∂L/∂z for a, p, n.
 */
function normalizedBrackets(
  ZA: Float64Array,
  ZP: Float64Array,
  ZN: Float64Array,
  m: number,
  k: number,
  margin: number,
  hinged: boolean,
  wantGrad: boolean,
  rows: Int32Array,
  scratch: Float64Array[],
): BracketSums {
  const [ga, gp, gn] = scratch;
  const s = 2 / m;
  let sum = 0;
  let active = 0;
  let correct = 0;
  let used = 0;
  for (let i = 0; i < m; i++) {
    const o = i * k;
    const na = normalizeRow(ZA, o, k);
    const np = normalizeRow(ZP, o, k);
    const nn = normalizeRow(ZN, o, k);
    let dp = 0;
    let dn = 0;
    for (let r = 0; r < k; r++) {
      const u = ZA[o + r] - ZP[o + r];
      const v = ZA[o + r] - ZN[o + r];
      dp += u * u;
      dn += v * v;
    }
    const diff = dp - dn;
    const bracket = diff + margin;
    if (diff < 0) correct++;
    if (bracket > 0) active++;
    // NaN (∞ − ∞: embeddings past float32) is no inactive triplet: it carries into the loss
    if (hinged && bracket <= 0) continue;
    sum += bracket;
    if (!wantGrad) continue;
    rows[used++] = i;
    // ∂/∂ea = 2(en − ep), ∂/∂ep = 2(ep − ea), ∂/∂en = 2(ea − en), each /m
    for (let r = 0; r < k; r++) {
      const ea = ZA[o + r];
      const ep = ZP[o + r];
      const en = ZN[o + r];
      ga[r] = s * (en - ep);
      gp[r] = s * (ep - ea);
      gn[r] = s * (ea - en);
    }
    backpropNorm(ZA, o, k, ga, na, na === NORM_EPSILON);
    backpropNorm(ZP, o, k, gp, np, np === NORM_EPSILON);
    backpropNorm(ZN, o, k, gn, nn, nn === NORM_EPSILON);
  }
  return { sum, active, correct, used };
}

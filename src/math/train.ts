// train(): init → objective → optimiser, with progress, cancellation and diagnostics.
import { embed, meanPairwiseDistance } from './distances.js';
import { initW } from './init.js';
import { createTripletObjective, type TripletObjective } from './losses.js';
import { minimizeCg } from './optim/cg.js';
import { minimizeLbfgs } from './optim/lbfgs.js';
import type { MinimizeOptions, MinimizeResult } from './optim/types.js';
import type { Kernels } from './kernels/types.js';
import { createRng } from './rng.js';
import type { TrainHooks, TrainMetrics, TrainParams, TrainResult, TripletSet } from './types.js';

/**
 * Defaults (the caller supplies outputDimension).
 * init 'pca': on real data the top principal directions already carry most of the
 * neighbourhood structure, so the optimiser starts near a good basin and the hinge
 * (a non-convex function of W) is less likely to settle in a poor local minimum than
 * from the write-up's random U(−r, r); the reference learner also starts from PCA.
 * Uniform stays available for reproducing the write-up.
 */
export const DEFAULT_TRAIN_PARAMS: Readonly<Omit<TrainParams, 'outputDimension'>> = Object.freeze({
  margin: 0.2,
  optimizer: 'lbfgs',
  maxIterations: 400,
  normalize: false,
  weightDecay: 0,
  init: 'pca',
  seed: 0,
  gradientTolerance: 1e-8,
  historySize: 10,
});

const DEFAULT_PROGRESS_MS = 250;
/** anchors sampled for meanEmbeddingDistance */
const DISTANCE_SAMPLE = 256;

function l2(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

function validate(set: TripletSet, p: TrainParams): void {
  const k = p.outputDimension;
  if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`outputDimension must be a positive integer (got ${k})`);
  if (!(Number.isFinite(p.margin) && p.margin >= 0)) throw new RangeError(`margin must be ≥ 0 (got ${p.margin})`);
  if (!(Number.isFinite(p.weightDecay) && p.weightDecay >= 0)) throw new RangeError(`weightDecay must be ≥ 0 (got ${p.weightDecay})`);
  if (!(Number.isInteger(p.maxIterations) && p.maxIterations >= 0)) throw new RangeError(`maxIterations must be an integer ≥ 0`);
  if (set.m <= 0) throw new RangeError('the triplet set is empty');
}

/**
 * Mean euclidean distance between all pairs of a fixed seeded sample of anchor embeddings.
 * The sample is drawn from seed 0 regardless of params.seed, so runs are comparable.
 */
export function meanEmbeddingDistance(W: Float64Array, k: number, set: TripletSet, normalize: boolean, kernels?: Kernels): number {
  const n = Math.min(DISTANCE_SAMPLE, set.m);
  const rng = createRng(0x5eed);
  const X = new Float64Array(n * set.d);
  for (let i = 0; i < n; i++) {
    const row = n === set.m ? i : rng.int(set.m);
    for (let j = 0; j < set.d; j++) X[i * set.d + j] = set.anchors[row * set.d + j];
  }
  const E = new Float64Array(n * k);
  embed(W, k, set.d, X, n, normalize, E, kernels);
  return meanPairwiseDistance(E, n, k);
}

function warningsFor(m: Omit<TrainMetrics, 'warnings'>, p: TrainParams, initNorm: number): string[] {
  const w: string[] = [];
  // typical squared distance a tiny fraction of the margin: every bracket ≈ margin
  if (m.meanEmbeddingDistance ** 2 < 1e-3 * Math.max(p.margin, 1e-6)) {
    w.push('collapse: mean embedding distance ~0; embeddings barely separate any points');
  }
  if (m.activeFraction === 1) w.push('every triplet active: the margin may be too large for the data, or training did not progress');
  if (!p.normalize && p.weightDecay === 0 && m.weightNorm > Math.max(1e3, 100 * initNorm)) {
    w.push('weights grew large; consider weightDecay or normalize');
  }
  if (m.stopReason === 'line_search_failed') w.push('line search failed twice; the result is the last accepted point');
  return w;
}

interface Clock { now(): number }
const clock: Clock = typeof performance !== 'undefined' ? performance : Date;

/**
 * `kernels` (default: the pure-TypeScript ones) does the objective's and the diagnostics' products;
 * pass a WebAssembly backend, with or without a worker pool, from outside the core (src/compute).
 */
export function train(set: TripletSet, params: TrainParams, hooks: TrainHooks = {}, kernels?: Kernels): TrainResult {
  validate(set, params);
  const k = params.outputDimension;
  const d = set.d;
  const start = clock.now();
  const W0 = initW({ init: params.init, k, d, seed: params.seed }, set);
  const objective: TripletObjective = createTripletObjective(set, {
    margin: params.margin,
    normalize: params.normalize,
    weightDecay: params.weightDecay,
  }, kernels);
  try {
    return runTraining(set, params, hooks, kernels, objective, W0, start);
  } finally {
    objective.dispose?.();
  }
}

function runTraining(
  set: TripletSet,
  params: TrainParams,
  hooks: TrainHooks,
  kernels: Kernels | undefined,
  objective: TripletObjective,
  W0: Float64Array,
  start: number,
): TrainResult {
  const k = params.outputDimension;
  const d = set.d;
  let lastActive = 0;
  const fg = (x: Float64Array, g: Float64Array): number => {
    const v = objective.evaluate(x, k, g);
    lastActive = v.activeCount;
    return v.loss;
  };
  const interval = hooks.progressIntervalMs ?? DEFAULT_PROGRESS_MS;
  let lastReport = -Infinity;
  const report = (iteration: number, loss: number, g: Float64Array, force: boolean) => {
    if (!hooks.onProgress) return;
    const now = clock.now();
    if (!force && now - lastReport < interval) return;
    lastReport = now;
    hooks.onProgress({
      iteration,
      maxIterations: params.maxIterations,
      loss,
      gradientNorm: l2(g),
      // active fraction of the most recent evaluation (the accepted point unless the line search fell back)
      activeFraction: lastActive / set.m,
      elapsedMs: now - start,
    });
  };
  const opts: MinimizeOptions = {
    maxIterations: params.maxIterations,
    gradientTolerance: params.gradientTolerance,
    historySize: params.historySize,
    shouldStop: hooks.shouldStop,
    onIteration: (info) => report(info.iteration, info.f, info.g, false),
  };
  const minimize = params.optimizer === 'cg' ? minimizeCg : minimizeLbfgs;
  const res: MinimizeResult = minimize(fg, W0, opts);
  // one bookkeeping evaluation at the returned point, so the reported numbers are exact
  const final = objective.evaluate(res.x, k, res.g);
  report(res.iterations, final.loss, res.g, true);
  const base = {
    trainLoss: final.loss,
    iterations: res.iterations,
    functionEvaluations: res.evaluations,
    activeFraction: final.activeCount / set.m,
    gradientNorm: l2(res.g),
    stopReason: res.reason,
    meanEmbeddingDistance: meanEmbeddingDistance(res.x, k, set, params.normalize, kernels),
    weightNorm: l2(res.x),
  };
  return { W: res.x, k, d, metrics: { ...base, warnings: warningsFor(base, params, l2(W0)) } };
}

// train(): init → objective → optimiser (full-batch L-BFGS or CG on triplets), with progress,
// cancellation and diagnostics from the shared training skeleton (./training/).
import { checkpointRule, checkTrainCheckpoint, trainCheckpoint } from './checkpoint.js';
import { initW, initWithSpectrum } from './init.js';
import type { Kernels } from './kernels/types.js';
import { createIndexedObjective } from './indexed-objective.js';
import { assertTripletSet, createTripletObjective, type TripletObjective } from './losses.js';
import { minimizeCg } from './optim/cg.js';
import { minimizeLbfgs } from './optim/lbfgs.js';
import { normInf, type MinimizeOptions, type MinimizeResult } from './optim/types.js';
import { checkCommonParams } from './training/checks.js';
import { l2, meanEmbeddingDistance, meanTripletSquaredDistance, tripletRunWarnings } from './training/diagnostics.js';
import { createProgressReporter, type ProgressReporter } from './training/progress.js';
import { optimiserScale } from './training/scale.js';
import { assertIndexedSet, isIndexed } from './triplet-rows.js';
import { createWhitening, type Whitening } from './whitening.js';
import type { LossOptions, Progress, TrainHooks, TrainParams, TrainResult, Triplets } from './types.js';

function validate(set: Triplets, p: TrainParams): void {
  checkCommonParams(p);
  if (set.m <= 0) throw new RangeError('the triplet set is empty');
  if (isIndexed(set)) assertIndexedSet(set);
  else assertTripletSet(set);
}

/** The objective for either shape of set: indexed triplets project each sample once. */
export function createTrainingObjective(set: Triplets, opts: LossOptions, kernels?: Kernels): TripletObjective {
  return isIndexed(set) ? createIndexedObjective(set, opts, kernels) : createTripletObjective(set, opts, kernels);
}

/**
 * `kernels` (default: the pure-TypeScript ones) does the objective's and the diagnostics' products;
 * pass a WebAssembly backend, with or without a worker pool, from outside the core (src/compute).
 */
export function train(set: Triplets, params: TrainParams, hooks: TrainHooks = {}, kernels?: Kernels): TrainResult {
  validate(set, params);
  const k = params.outputDimension;
  const d = set.d;
  const resume = hooks.resumeFrom;
  if (resume) checkTrainCheckpoint(resume, set, params);
  const progress = createProgressReporter<Progress>(hooks);
  const init = { init: params.init, k, d, seed: params.seed };
  const whiten = params.preconditioner === 'whiten';
  // a resumed run skips the start (the optimiser takes its state from the checkpoint), but a
  // whitened one needs the spectrum again: the same rows and seed give the same R
  const start = whiten ? initWithSpectrum(init, set, kernels) : null;
  const W0 = start ? start.W : resume ? null : initW(init, set, kernels);
  const inner = start ? whitenedCoordinates(createWhitening(start.spectrum, kernels), k, d) : plain;
  // a checkpoint written before the scale existed moved W itself (σ = 1)
  const scale = resume ? (resume.scale ?? 1) : optimiserScale(set);
  const coords = scale === 1 ? inner : scaledCoordinates(inner, scale);
  const objective: TripletObjective = createTrainingObjective(
    set,
    {
      margin: params.margin,
      normalize: params.normalize,
      weightDecay: params.weightDecay,
    },
    kernels,
  );
  try {
    const x0 = resume ? resume.x : coords.fromW(W0!);
    const initNorm = resume ? resume.initialWeightNorm : l2(W0!);
    return runTraining(set, params, hooks, kernels, objective, { coords, inner, scale }, x0, initNorm, progress);
  } finally {
    objective.dispose?.();
  }
}

/** The optimiser's coordinates x and W: the same (plain) or W = x·R (whitened). */
interface Coordinates {
  fromW(W: Float64Array): Float64Array;
  toW(x: Float64Array): Float64Array;
  /** W of x into a buffer of the caller's (the objective keeps no reference to it) */
  toWInto(x: Float64Array, W: Float64Array): Float64Array;
  /** ∇_W from ∇_x */
  gradientToW(gx: Float64Array): Float64Array;
  /** writes ∇_x from ∇_W */
  gradientFromW(gW: Float64Array, gx: Float64Array): void;
}

const plain: Coordinates = {
  fromW: (W) => W,
  toW: (x) => x,
  toWInto: (x) => x,
  gradientToW: (g) => g,
  gradientFromW: (gW, gx) => {
    if (gW !== gx) gx.set(gW);
  },
};

/**
 * x = σ·inner(W) for σ a power of two (training/scale.ts): every map is the inner one times or
 * divided by σ, exact in floating point.
 */
function scaledCoordinates(inner: Coordinates, scale: number): Coordinates {
  const times = (A: Float64Array, c: number) => {
    for (let i = 0; i < A.length; i++) A[i] *= c;
    return A;
  };
  return {
    fromW: (W) => times(Float64Array.from(inner.fromW(W)), scale),
    toW: (x) => times(Float64Array.from(inner.toW(x)), 1 / scale),
    toWInto: (x, W) => {
      const out = inner.toWInto(x, W);
      if (out === x) {
        for (let i = 0; i < x.length; i++) W[i] = x[i] / scale;
        return W;
      }
      return times(out, 1 / scale);
    },
    gradientToW: (g) => times(Float64Array.from(inner.gradientToW(g)), scale),
    gradientFromW: (gW, gx) => {
      inner.gradientFromW(gW, gx);
      times(gx, 1 / scale);
    },
  };
}

/** x = W·R⁻¹, W = x·R, ∇_x = ∇_W·R, ∇_W = ∇_x·R⁻¹ (R symmetric). */
function whitenedCoordinates(wh: Whitening, k: number, d: number): Coordinates {
  const map = (f: Whitening['apply'], A: Float64Array) => {
    const out = new Float64Array(k * d);
    f(A, k, out);
    return out;
  };
  return {
    fromW: (W) => map(wh.applyInverse, W),
    toW: (x) => map(wh.apply, x),
    toWInto: (x, W) => {
      wh.apply(x, k, W);
      return W;
    },
    gradientToW: (g) => map(wh.applyInverse, g),
    gradientFromW: (gW, gx) => wh.apply(gW, k, gx),
  };
}

/** The optimiser's coordinates, the whitening's alone (σ = 1), and σ. */
interface TrainingCoordinates {
  coords: Coordinates;
  inner: Coordinates;
  scale: number;
}

function runTraining(
  set: Triplets,
  params: TrainParams,
  hooks: TrainHooks,
  kernels: Kernels | undefined,
  objective: TripletObjective,
  { coords, inner, scale }: TrainingCoordinates,
  x0: Float64Array,
  initNorm: number,
  progress: ProgressReporter<Progress>,
): TrainResult {
  const k = params.outputDimension;
  const resume = hooks.resumeFrom;
  let lastActive = resume ? resume.lastActive : 0;
  const gW = coords === plain ? null : new Float64Array(x0.length);
  const Wbuf = new Float64Array(x0.length);
  const fg = (x: Float64Array, g: Float64Array): number => {
    const v = objective.evaluate(coords.toWInto(x, Wbuf), k, gW ?? g);
    if (gW) coords.gradientFromW(gW, g);
    lastActive = v.activeCount;
    return v.loss;
  };
  // gW in W's coordinates; `active` of the most recent evaluation (the accepted point unless the
  // line search fell back)
  const report = (iteration: number, loss: number, gW: () => Float64Array, active: number, force: boolean) =>
    progress.report(force, (elapsedMs) => ({
      iteration,
      maxIterations: params.maxIterations,
      loss,
      gradientNorm: l2(gW()),
      activeFraction: active / set.m,
      elapsedMs,
    }));
  const opts: MinimizeOptions = {
    maxIterations: params.maxIterations,
    gradientTolerance: params.gradientTolerance,
    historySize: params.historySize,
    shouldStop: hooks.shouldStop,
    onIteration: (info) => report(info.iteration, info.f, () => coords.gradientToW(info.g), lastActive, false),
    resumeFrom: resume,
  };
  // the tolerance is on ∇_W whatever coordinates the optimiser moves in, in the features' units
  // brought into the optimiser's range (∇_W/σ; σ = 1 for most data)
  if (coords !== plain) opts.gradientNorm = (g) => normInf(inner.gradientToW(g));
  const emit = hooks.onCheckpoint;
  if (emit) {
    opts.checkpointDue = checkpointRule(hooks);
    opts.onCheckpoint = (s) => emit(trainCheckpoint(s, set, params, lastActive, initNorm, scale));
  }
  const minimize = params.optimizer === 'cg' ? minimizeCg : minimizeLbfgs;
  const res: MinimizeResult = minimize(fg, x0, opts);
  // one bookkeeping evaluation at the returned point, so the reported numbers are exact
  const W = coords.toW(res.x);
  const g = new Float64Array(W.length);
  const final = objective.evaluate(W, k, g);
  report(res.iterations, final.loss, () => g, final.activeCount, true);
  const base = {
    trainLoss: final.loss,
    iterations: res.iterations,
    functionEvaluations: res.evaluations,
    activeFraction: final.activeCount / set.m,
    gradientNorm: l2(g),
    stopReason: res.reason,
    meanEmbeddingDistance: meanEmbeddingDistance(W, k, set, params.normalize, kernels),
    weightNorm: l2(W),
  };
  const spread = meanTripletSquaredDistance(W, k, set, params.normalize, kernels);
  return { W, k, d: set.d, metrics: { ...base, warnings: tripletRunWarnings(base, params, initNorm, spread) } };
}

// train(): init → objective → optimiser (full-batch L-BFGS or CG on triplets), with progress,
// cancellation and diagnostics from the shared training skeleton (./training/).
import { checkpointRule, checkTrainCheckpoint, trainCheckpoint } from './checkpoint.js';
import { initW } from './init.js';
import type { Kernels } from './kernels/types.js';
import { createIndexedObjective } from './indexed-objective.js';
import { assertTripletSet, createTripletObjective, type TripletObjective } from './losses.js';
import { minimizeCg } from './optim/cg.js';
import { minimizeLbfgs } from './optim/lbfgs.js';
import type { MinimizeOptions, MinimizeResult } from './optim/types.js';
import { checkCommonParams } from './training/checks.js';
import { l2, meanEmbeddingDistance, tripletRunWarnings } from './training/diagnostics.js';
import { createProgressReporter, type ProgressReporter } from './training/progress.js';
import { assertIndexedSet, isIndexed } from './triplet-rows.js';
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
  // a resumed run skips the start (the optimiser takes its state from the checkpoint)
  const W0 = resume ? resume.x : initW({ init: params.init, k, d, seed: params.seed }, set, kernels);
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
    return runTraining(set, params, hooks, kernels, objective, W0, progress);
  } finally {
    objective.dispose?.();
  }
}

function runTraining(
  set: Triplets,
  params: TrainParams,
  hooks: TrainHooks,
  kernels: Kernels | undefined,
  objective: TripletObjective,
  W0: Float64Array,
  progress: ProgressReporter<Progress>,
): TrainResult {
  const k = params.outputDimension;
  const d = set.d;
  const resume = hooks.resumeFrom;
  const initNorm = resume ? resume.initialWeightNorm : l2(W0);
  let lastActive = resume ? resume.lastActive : 0;
  const fg = (x: Float64Array, g: Float64Array): number => {
    const v = objective.evaluate(x, k, g);
    lastActive = v.activeCount;
    return v.loss;
  };
  const report = (iteration: number, loss: number, g: Float64Array, force: boolean) =>
    progress.report(force, (elapsedMs) => ({
      iteration,
      maxIterations: params.maxIterations,
      loss,
      gradientNorm: l2(g),
      // active fraction of the most recent evaluation (the accepted point unless the line search fell back)
      activeFraction: lastActive / set.m,
      elapsedMs,
    }));
  const opts: MinimizeOptions = {
    maxIterations: params.maxIterations,
    gradientTolerance: params.gradientTolerance,
    historySize: params.historySize,
    shouldStop: hooks.shouldStop,
    onIteration: (info) => report(info.iteration, info.f, info.g, false),
    resumeFrom: resume,
  };
  const emit = hooks.onCheckpoint;
  if (emit) {
    opts.checkpointDue = checkpointRule(hooks);
    opts.onCheckpoint = (s) => emit(trainCheckpoint(s, set, params, lastActive, initNorm));
  }
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
  return { W: res.x, k, d, metrics: { ...base, warnings: tripletRunWarnings(base, params, initNorm) } };
}

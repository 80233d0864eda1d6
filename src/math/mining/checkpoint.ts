// Checkpoints of trainMined: the run's state at a step boundary as plain structured-cloneable data.
// What is derived from the seed and the samples (validation split, scoring sets, miners, the batch
// objective) is rebuilt on resume rather than stored: it is deterministic and costs no bytes.
import { checkKind, checkSame, CHECKPOINT_VERSION } from '../checkpoint.js';
import type { AdamState } from '../optim/adam.js';
import type { EarlyStoppingState } from '../training/early-stopping.js';
import type { SamplerState } from './sampler.js';
import type { NormalizeChoice } from './normalize-choice.js';
import type { LabelledSamples, MinedTrainParams, ValidationFigures } from './types.js';

/** Losses of the steps since the last progress report, averaged into the next one. */
export interface LossWindow {
  sum: number;
  count: number;
  last: number;
  /** active fraction of the latest batch */
  active: number;
}

/** Checkpoint of `trainMined` after `iteration` Adam steps. */
export interface MinedCheckpoint {
  kind: 'mined';
  version: number;
  /** the run's params, compared field by field on resume */
  params: MinedTrainParams;
  d: number;
  n: number;
  iteration: number;
  /** k×d row-major, the current (not the kept best) W */
  W: Float64Array;
  /** moments and step count; the step count is the cosine schedule's position */
  adam: AdamState;
  sampler: SamplerState;
  /** best W and patience bookkeeping; null when the run has no validation */
  earlyStopping: EarlyStoppingState | null;
  samplesSeen: number;
  /** ‖gradient‖ of the latest step (reported in the metrics) */
  gradNorm: number;
  /** step of the latest evaluation */
  lastEvaluated: number;
  lastQueryCount: number;
  latest: (ValidationFigures & { iteration: number }) | null;
  latestWarning: string | null;
  /** the start's embedding spread, the collapse check's reference */
  startDistance: number;
  window: LossWindow;
  /**
   * what normalize `auto` chose, kept so that a resume on other kernels (whose start may round
   * differently) cannot choose otherwise; null when the request said, absent in older checkpoints
   */
  normalizeChoice?: NormalizeChoice | null;
  /** Adam's base rate that ran, kept for the same reason as normalizeChoice; absent in older checkpoints */
  learningRate?: number;
  /** σ of the features' unit (training/scale.ts), which scales Adam's ε; absent in older checkpoints: 1 */
  scale?: number;
}

/** What a checkpoint reads from and writes back into a run (train-mined.ts's MinedRun has it all). */
export interface MinedRunState {
  readonly p: MinedTrainParams;
  readonly samples: LabelledSamples;
  readonly W: Float64Array;
  readonly adam: { snapshot(): AdamState; restore(s: AdamState): void };
  readonly sampler: { snapshot(): SamplerState; restore(s: SamplerState): void };
  readonly stopper: { snapshot(): EarlyStoppingState; restore(s: EarlyStoppingState): void };
  readonly validating: boolean;
  readonly startDistance: number;
  readonly window: LossWindow;
  readonly normalizeChoice: NormalizeChoice | null;
  readonly learningRate: number;
  readonly scale: number;
  step: number;
  samplesSeen: number;
  gradNorm: number;
  lastEvaluated: number;
  lastQueryCount: number;
  latest: (ValidationFigures & { iteration: number }) | null;
  latestWarning: string | undefined;
}

/** Refuses a checkpoint of another run's shape or params, before anything is built. */
export function checkMinedCheckpoint(c: MinedCheckpoint, s: LabelledSamples, p: MinedTrainParams): void {
  checkKind(c, 'mined');
  checkSame('', { d: c.d, n: c.n }, { d: s.d, n: s.n });
  checkSame('params.', c.params, p);
  const kd = p.outputDimension * s.d;
  if (c.W.length !== kd) throw new RangeError(`checkpoint: W needs ${kd} values (got ${c.W.length})`);
}

export function minedCheckpoint(run: MinedRunState): MinedCheckpoint {
  const latest = run.latest && { ...run.latest };
  return {
    kind: 'mined',
    version: CHECKPOINT_VERSION,
    params: { ...run.p },
    d: run.samples.d,
    n: run.samples.n,
    iteration: run.step,
    W: Float64Array.from(run.W),
    adam: run.adam.snapshot(),
    sampler: run.sampler.snapshot(),
    earlyStopping: run.validating ? run.stopper.snapshot() : null,
    samplesSeen: run.samplesSeen,
    gradNorm: run.gradNorm,
    lastEvaluated: run.lastEvaluated,
    lastQueryCount: run.lastQueryCount,
    latest,
    latestWarning: run.latestWarning ?? null,
    startDistance: run.startDistance,
    window: { ...run.window },
    normalizeChoice: run.normalizeChoice && { ...run.normalizeChoice },
    learningRate: run.learningRate,
    scale: run.scale,
  };
}

/** Puts a checked checkpoint's state into a freshly set-up run (W and startDistance are set by the caller). */
export function restoreMinedRun(run: MinedRunState, c: MinedCheckpoint): void {
  if ((c.earlyStopping !== null) !== run.validating)
    throw new RangeError(`checkpoint mismatch: validation is ${c.earlyStopping ? 'on' : 'off'} in the checkpoint`);
  run.adam.restore(c.adam);
  run.sampler.restore(c.sampler);
  if (c.earlyStopping) run.stopper.restore(c.earlyStopping);
  Object.assign(run.window, c.window);
  run.step = c.iteration;
  run.samplesSeen = c.samplesSeen;
  run.gradNorm = c.gradNorm;
  run.lastEvaluated = c.lastEvaluated;
  run.lastQueryCount = c.lastQueryCount;
  run.latest = c.latest && { ...c.latest };
  run.latestWarning = c.latestWarning ?? undefined;
}

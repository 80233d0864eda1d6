// trainMined(): learn W from labelled samples with online triplet mining on P×K batches and Adam.
//   split (validation) → init → for each step: sample P×K batch → mine → loss/gradient → Adam
//   → every evaluationInterval steps: validation figures, best-W bookkeeping, early stopping.
// normalize `auto` with validation on held-out labels runs two of these side by side for the trial's
// steps and goes on with the one the held-out figures prefer (normalize-choice.ts).
// The run's state lives in one MinedRun; each phase is a short function over it.
import { distanceByName, type Distance } from '../distance.js';
import { embed } from '../embed.js';
import { initW } from '../init.js';
import { jsKernels } from '../kernels/js.js';
import type { Kernels } from '../kernels/types.js';
import { retrievalMetrics, type QueryScore } from '../metrics.js';
import { createAdam, type Adam } from '../optim/adam.js';
import { createRng } from '../rng.js';
import { impostorsNeeded, pairCounts, verificationMetrics } from '../verification/index.js';
import { collapseWarning, l2, meanSampleDistance } from '../training/diagnostics.js';
import { createEarlyStopping, type EarlyStopping } from '../training/early-stopping.js';
import { createProgressReporter, type ProgressReporter } from '../training/progress.js';
import { sampleScale } from '../training/scale.js';
import type { DataArray, TripletSet } from '../types.js';
import { checkpointRule } from '../checkpoint.js';
import { batchShapeWarnings } from './batch-shape.js';
import { createBatchObjective, type BatchObjective } from './batch-loss.js';
import { MULTI_SIMILARITY_DEFAULTS } from './multi-similarity.js';
import {
  checkMinedCheckpoint,
  minedCheckpoint,
  restoreMinedRun,
  type LossWindow,
  type MinedCheckpoint,
  type MinedRunState,
} from './checkpoint.js';
import { validateMinedInputs } from './checks.js';
import { gatherLabels, gatherRows, makeEvalSet, rowsLike, scoreTriplets, type EvalSet } from './eval-set.js';
import { createPKSampler, type PKSampler } from './sampler.js';
import { chooseNormalize, normalizeTrialSteps, trialChoice, type NormalizeChoice } from './normalize-choice.js';
import { RELATIVE_LEARNING_RATE, startRelativeLearningRate } from './learning-rate.js';
import { pairedZ, START_KEEP_Z, START_MIN_LABELS, START_MIN_QUERIES } from './start-fallback.js';
import { gateRowLimit, startGate, type StartGate } from './start-gate.js';
import { createStartPull, pullPerLabel, type StartPull } from './start-pull.js';
import { tripletLossByName, type TripletLoss } from './triplet-loss.js';
import { splitSamples, subsampleRows, type SampleSplit } from './split.js';
import {
  tarMetricFar,
  type EarlyStoppingMetric,
  type LabelledSamples,
  type MinedProgress,
  type MinedTrainHooks,
  type MinedTrainMetrics,
  type MinedTrainParams,
  type MinedTrainResult,
  type ReportedValidationFigures,
  type RetrievalFigure,
  type TripletFigure,
  type ValidationFigures,
} from './types.js';

/** training rows scored for the final trainLoss and activeFraction */
const TRAIN_EVAL_ROWS = 1000;
/** rows copied for the PCA start: initW samples at most 8192 from 3·m stacked rows */
const INIT_ROWS = 2730;
/** MinedTrainHooks promise a report at least this often, whatever progressIntervalMs asks */
const MAX_PROGRESS_INTERVAL_MS = 1000;

interface MinedRun extends MinedRunState {
  readonly samples: LabelledSamples;
  readonly p: MinedTrainParams;
  /** p.normalize, or what `auto` chose (normalize-choice.ts) */
  readonly normalize: boolean;
  /** the evidence `auto` chose by; null when the request said, and during the trial */
  normalizeChoice: NormalizeChoice | null;
  readonly k: number;
  readonly kernels: Kernels;
  readonly distance: Distance;
  readonly loss: TripletLoss;
  /** the trial's second run reports nothing until it goes on (then it takes the first one's) */
  progress: ProgressReporter<MinedProgress>;
  /**
   * The normalize trial's length while both ways go on, else 0. Reports carry it (each of those steps
   * costs two runs' work, which an estimate of the time left must know), and the trial reports the
   * end of an evaluation once both ways have run it.
   */
  trialSteps: number;
  readonly warnings: string[];
  readonly split: SampleSplit;
  readonly sampler: PKSampler;
  readonly batch: { rows: Int32Array; labels: Int32Array; X: DataArray };
  readonly W: Float64Array;
  readonly grad: Float64Array;
  readonly objective: BatchObjective;
  readonly pull: StartPull;
  /** the start map W₀ (and its evidence rows): the last candidate of a validated run */
  readonly start: StartEvidence;
  /** the pull's gate and λ (startPull · gate / label pairs); null without a pull */
  readonly pullSettings: { gate: StartGate; lambda: number } | null;
  readonly adam: Adam;
  readonly trainEval: EvalSet;
  readonly valEval: EvalSet | null;
  /** valEval !== null */
  readonly validating: boolean;
  /** the early-stopping figure: p.earlyStoppingMetric, or mapAtR when the validation set cannot support its TAR */
  readonly metric: EarlyStoppingMetric;
  /** FAR and genuine pairs of the validation TAR, when `metric` is one */
  readonly tar: { far: number; genuine: number } | null;
  readonly stopper: EarlyStopping;
  /** hands a checkpoint to the hooks when one is due at this step */
  checkpoint: (step: number) => void;
  /** mean pairwise embedding distance of the training sample at the start (collapse reference) */
  readonly startDistance: number;
  readonly window: LossWindow;
  step: number;
  samplesSeen: number;
  gradNorm: number;
  lastEvaluated: number;
  lastQueryCount: number;
  latest: (ValidationFigures & { iteration: number }) | null;
  latestWarning: string | undefined;
  /** set by finish when the start is returned (start-fallback.ts): the last report's kept step is 0 */
  startReturned: boolean;
  stopReason: MinedTrainMetrics['stopReason'];
  earlyStopped: boolean;
}

/**
 * PCA (or other) start from a seeded subsample of the training rows, via initW's TripletSet
 * interface; the randomized PCA (d > 256) takes its first products from `kernels`.
 */
function initialW(s: LabelledSamples, rows: Int32Array, p: MinedTrainParams, kernels: Kernels): Float64Array {
  const pick = subsampleRows(rows, INIT_ROWS, createRng(p.seed ^ 0x1a17));
  const Xi = rowsLike(s, pick.length);
  gatherRows(s.X, s.d, pick, Xi);
  const set: TripletSet = { d: s.d, m: pick.length, anchors: Xi, positives: Xi, negatives: Xi };
  return initW({ init: p.init, k: p.outputDimension, d: s.d, seed: p.seed }, set, kernels);
}

/**
 * The start map W₀ and the seeded training rows its evidence is measured on (the start gate's,
 * within its budget), each made once when first asked for: the normalize choice and the start pull
 * share them. A resumed run recomputes W₀ (initialW is deterministic for the seed).
 */
interface StartEvidence {
  W0(): Float64Array;
  rows(): { X: DataArray; labels: Int32Array };
}

function startEvidence(
  s: LabelledSamples,
  train: Int32Array,
  p: MinedTrainParams,
  kernels: Kernels,
  W0: Float64Array | null,
): StartEvidence {
  let rows: { X: DataArray; labels: Int32Array } | null = null;
  return {
    W0: () => (W0 ??= initialW(s, train, p, kernels)),
    rows() {
      if (rows) return rows;
      const pick = subsampleRows(train, gateRowLimit(s.d, p.outputDimension), createRng(p.seed ^ 0x6a7e));
      const X = rowsLike(s, pick.length);
      gatherRows(s.X, s.d, pick, X);
      return (rows = { X, labels: gatherLabels(s.labels, pick) });
    },
  };
}

/**
 * The start pull and its settings: λ = startPull · gate / label pairs, the gate measured on the
 * start's evidence rows (start-gate.ts), with the run's normalisation.
 */
function startPullFor(
  d: number,
  p: MinedTrainParams,
  normalize: boolean,
  labels: number,
  start: StartEvidence,
): { pull: StartPull; pullSettings: MinedRun['pullSettings'] } {
  if (!(p.startPull > 0)) return { pull: createStartPull(new Float64Array(0), 0), pullSettings: null };
  const W0 = start.W0();
  const { X, labels: y } = start.rows();
  const k = p.outputDimension;
  const E = new Float64Array(y.length * k);
  embed(W0, k, d, X, y.length, normalize, E);
  const gate = startGate(X, d, E, k, y);
  const lambda = pullPerLabel(p.startPull * gate.gate, labels);
  return { pull: createStartPull(W0, lambda, normalize), pullSettings: { gate, lambda } };
}

/**
 * The run's normalisation: the request's, or for `auto` the start's evidence (normalize-choice.ts),
 * or the choice a checkpoint kept.
 */
function normalizationFor(
  d: number,
  p: MinedTrainParams,
  start: StartEvidence,
  resume: MinedCheckpoint | undefined,
  trialWay: boolean | undefined,
): { normalize: boolean; normalizeChoice: NormalizeChoice | null } {
  if (p.normalize !== 'auto') return { normalize: p.normalize, normalizeChoice: null };
  if (trialWay !== undefined) return { normalize: trialWay, normalizeChoice: null };
  const kept = resume?.normalizeChoice;
  if (kept) return { normalize: kept.normalize, normalizeChoice: { ...kept } };
  const { X, labels } = start.rows();
  const choice = chooseNormalize(X, d, start.W0(), p.outputDimension, labels);
  return { normalize: choice.normalize, normalizeChoice: choice };
}

/** Whether two of the rows share a label (else no triplet can ever be formed). */
function hasPositivePair(labels: Int32Array, rows: Int32Array): boolean {
  const seen = new Set<number>();
  for (let t = 0; t < rows.length; t++) {
    const y = labels[rows[t]];
    if (seen.has(y)) return true;
    seen.add(y);
  }
  return false;
}

/** The run's base rate: the request's, the one a checkpoint kept, or `auto`'s from W₀ (learning-rate.ts). */
function learningRateFor(p: MinedTrainParams, start: StartEvidence, resume: MinedCheckpoint | undefined): number {
  if (p.learningRate !== 'auto') return p.learningRate;
  return resume?.learningRate ?? startRelativeLearningRate(start.W0());
}

/**
 * Adam on W, as if it moved x = σ·W (training/scale.ts): its ε, added to √v̂ of a gradient in the
 * features' units, is then σ·ε in W's. Bit for bit the same steps as Adam on σ·W at the rate
 * σ·learningRate (every quantity scales by a power of two), so the rate and the weight decay keep
 * their meaning in W's units; σ = 1 for most data.
 */
function createAdamFor(p: MinedTrainParams, size: number, learningRate: number, scale: number): Adam {
  return createAdam(size, {
    learningRate,
    beta1: p.beta1,
    beta2: p.beta2,
    epsilon: p.adamEpsilon * scale,
    // AdamW shrinks W by lr_t·weightDecay a step: under `auto` the shrink is RELATIVE_LEARNING_RATE·weightDecay
    // at the peak, whatever the features' units, rather than weakening with the start's scale
    weightDecay: p.learningRate === 'auto' ? (p.weightDecay * RELATIVE_LEARNING_RATE) / learningRate : p.weightDecay,
    decoupledWeightDecay: true,
    schedule: { kind: 'cosine', totalSteps: p.maxIterations, floor: learningRate * p.learningRateFloor },
  });
}

/** Embeds the training sample with the start's W: the spread the collapse check compares against. */
function startSpread(W: Float64Array, k: number, d: number, normalize: boolean, trainEval: EvalSet): number {
  embed(W, k, d, trainEval.X, trainEval.n, normalize, trainEval.E);
  return meanSampleDistance(trainEval.E, trainEval.n, k);
}

/** Checkpoints at the boundaries the hooks select; a no-op without onCheckpoint. */
function checkpointer(hooks: MinedTrainHooks, run: () => MinedRun): (step: number) => void {
  const emit = hooks.onCheckpoint;
  if (!emit) return () => {};
  const due = checkpointRule(hooks);
  return (step) => {
    if (due(step)) emit(minedCheckpoint(run()));
  };
}

/** The seeded validation split (split.ts); the same for every run of these params. */
export function splitFor(samples: LabelledSamples, p: MinedTrainParams): SampleSplit {
  return splitSamples(samples.labels, samples.n, p.validationFraction, p.validationSplit, p.seed ^ 0x5b1d);
}

/** One way of the normalize trial: its normalisation, and the split, start (W₀, its rows) and scoring sets both share. */
interface TrialWay {
  normalize: boolean;
  split: SampleSplit;
  start: StartEvidence;
  evalSets: EvalSets;
}

/** A run's fixed scoring sets. Their embedding buffers are only scratch, so runs taking turns can share them. */
interface EvalSets {
  trainEval: EvalSet;
  valEval: EvalSet | null;
}

function evalSetsFor(samples: LabelledSamples, split: SampleSplit, p: MinedTrainParams): EvalSets {
  const k = p.outputDimension;
  const trainRows = subsampleRows(split.train, TRAIN_EVAL_ROWS, createRng(p.seed ^ 0x7e57));
  const trainEval = makeEvalSet(samples, trainRows, k, p.seed ^ 0x7a1);
  if (split.kind === 'none') return { trainEval, valEval: null };
  const valRows = subsampleRows(split.validation, p.validationMaxSamples, createRng(p.seed ^ 0x7a15));
  return { trainEval, valEval: makeEvalSet(samples, valRows, k, p.seed ^ 0x7a2) };
}

function setUp(
  samples: LabelledSamples,
  p: MinedTrainParams,
  hooks: MinedTrainHooks,
  kernels: Kernels,
  way?: TrialWay,
): MinedRun {
  const resume: MinedCheckpoint | undefined = hooks.resumeFrom;
  const progress = createProgressReporter<MinedProgress>(hooks, { maxIntervalMs: MAX_PROGRESS_INTERVAL_MS });
  const k = p.outputDimension;
  const { d } = samples;
  const warnings: string[] = [];
  const split = way?.split ?? splitFor(samples, p);
  if (p.validationFraction > 0 && split.kind === 'none') {
    warnings.push('validation disabled: the held-out part would have no label with two samples');
  }
  const K = p.samplesPerLabel;
  const P = Math.floor(p.batchSize / K);
  warnings.push(...batchShapeWarnings(samples.labels, split.train, p.batchSize, K, split.kind));
  if (p.validationSplit === 'labels' && split.kind === 'samples')
    warnings.push('validationSplit labels needs 4 labels with 2 or more samples; validation holds out samples instead');
  const sampler = createPKSampler(samples.labels, split.train, P, K, createRng(p.seed ^ 0xba7c));
  // a resumed run skips the start: its W, and everything else that changes, come from the checkpoint
  const W = resume
    ? Float64Array.from(resume.W)
    : way
      ? Float64Array.from(way.start.W0())
      : initialW(samples, split.train, p, kernels);
  // W is still the start here: no step has run yet
  // its own copy of W₀: W itself moves with every step, and the start is the run's last candidate
  const start = way?.start ?? startEvidence(samples, split.train, p, kernels, resume ? null : Float64Array.from(W));
  const { normalize, normalizeChoice } = normalizationFor(d, p, start, resume, way?.normalize);
  const learningRate = learningRateFor(p, start, resume);
  // a checkpoint written before the scale existed ran with σ = 1
  const scale = resume ? (resume.scale ?? 1) : sampleScale(samples.X, samples.n, d);
  const distance = distanceByName(p.distance, { smooth: true });
  const objective = createBatchObjective(
    k,
    d,
    P * K,
    {
      margin: p.margin,
      loss: p.loss,
      distance,
      normalize,
      mining: p.mining,
      reduction: p.reduction,
      tripletWeight: p.tripletWeight,
      softNeighbour: { weight: p.softNeighbourWeight, temperature: p.softNeighbourTemperature },
      multiSimilarity: { ...MULTI_SIMILARITY_DEFAULTS, weight: p.multiSimilarityWeight ?? 0 },
    },
    kernels,
  );
  const { pull, pullSettings } = startPullFor(d, p, normalize, sampler.labelCount, start);
  const { trainEval, valEval } = way?.evalSets ?? evalSetsFor(samples, split, p);
  const { metric, tar } = stoppingMetric(p, valEval, warnings);
  if (!hasPositivePair(samples.labels, split.train))
    warnings.push('no positive pairs: every training label has a single sample, so no triplet can be formed');
  const run: MinedRun = {
    samples,
    p,
    normalize,
    normalizeChoice,
    k,
    kernels,
    distance,
    loss: tripletLossByName(p.loss, p.margin),
    progress,
    trialSteps: 0,
    warnings,
    split,
    sampler,
    batch: { rows: new Int32Array(P * K), labels: new Int32Array(P * K), X: rowsLike(samples, P * K) },
    W,
    grad: new Float64Array(k * d),
    objective,
    pull,
    start,
    pullSettings,
    learningRate,
    scale,
    adam: createAdamFor(p, k * d, learningRate, scale),
    trainEval,
    valEval,
    validating: valEval !== null,
    metric,
    tar,
    stopper: createEarlyStopping({ ...p, earlyStoppingMetric: metric }, W),
    checkpoint: checkpointer(hooks, () => run),
    startDistance: resume ? resume.startDistance : startSpread(W, k, d, normalize, trainEval),
    window: { sum: 0, count: 0, last: 0, active: 0 },
    step: 0,
    samplesSeen: 0,
    gradNorm: 0,
    lastEvaluated: 0,
    lastQueryCount: 0,
    latest: null,
    latestWarning: undefined,
    startReturned: false,
    stopReason: 'max_iterations',
    earlyStopped: false,
  };
  if (resume) restoreMinedRun(run, resume);
  return run;
}

/**
 * The early-stopping metric a run follows. A tar@far=f metric needs ⌈1/f⌉ impostor pairs and a
 * genuine pair among the validation samples (the set is fixed, so this is known at the start);
 * without them the run follows mapAtR and says so.
 */
function stoppingMetric(
  p: MinedTrainParams,
  valEval: EvalSet | null,
  warnings: string[],
): { metric: EarlyStoppingMetric; tar: { far: number; genuine: number } | null } {
  const far = tarMetricFar(p.earlyStoppingMetric);
  if (far === null || !valEval) return { metric: p.earlyStoppingMetric, tar: null };
  const c = pairCounts(valEval.labels, valEval.n);
  if (c.genuine > 0 && c.impostors >= impostorsNeeded(far))
    return { metric: p.earlyStoppingMetric, tar: { far, genuine: c.genuine } };
  warnings.push(
    `validationMetric ${p.earlyStoppingMetric} needs at least ${impostorsNeeded(far)} impostor pairs and a genuine pair ` +
      `among the ${valEval.n} validation samples (has ${c.impostors} and ${c.genuine}); early stopping follows mapAtR`,
  );
  return { metric: 'mapAtR', tar: null };
}

/** Embeds the rows of `es` with Wc (float64, here: the figures must not depend on the kernels' precision). */
function embedInto(run: MinedRun, es: EvalSet, Wc: Float64Array, normalize = run.normalize): void {
  embed(Wc, run.k, run.samples.d, es.X, es.n, normalize, es.E);
}

/** One optimiser step on the next P×K batch; false (with a warning) when the loss or gradient is not finite. */
function trainStep(run: MinedRun): boolean {
  const { batch, W, grad } = run;
  const B = run.sampler.next(batch.rows, batch.labels);
  gatherRows(run.samples.X, run.samples.d, batch.rows.subarray(0, B), batch.X);
  const v = run.objective.evaluate(W, batch.X, batch.labels, B, grad);
  v.loss += run.pull.apply(W, grad);
  run.gradNorm = l2(grad);
  if (!(Number.isFinite(v.loss) && Number.isFinite(run.gradNorm))) {
    run.warnings.push(`non-finite loss or gradient at step ${run.step + 1}; stopped and kept the last finite W`);
    run.stopReason = 'no_progress';
    return false;
  }
  run.adam.update(W, grad);
  run.step++;
  run.samplesSeen += B;
  const w = run.window;
  w.last = v.loss;
  w.sum += v.loss;
  w.count++;
  w.active = v.tripletCount > 0 ? v.activeCount / v.tripletCount : 0;
  return true;
}

/** Validation figures of W with the given normalisation. */
function validationFigures(
  run: MinedRun,
  valEval: EvalSet,
  W: Float64Array,
  normalize = run.normalize,
): ValidationFigures {
  const { k, p } = run;
  embedInto(run, valEval, W, normalize);
  const r = retrievalMetrics(valEval.E, valEval.n, k, valEval.labels, run.kernels);
  run.lastQueryCount = r.queryCount;
  const t = scoreTriplets(valEval, k, run.distance, run.loss, p.margin);
  // No query (no validation label twice) has no figure; early stopping, the normalize trial and the
  // checkpoints go on comparing the 0 they always did (as for no triplet), so training stays as it
  // was: only the reports (reportedFigures, reportProgress) say null (docs/decisions/0071).
  const fig: ValidationFigures = {
    validationLoss: t.loss,
    validationTripletAccuracy: t.accuracy,
    precisionAt1: r.precisionAt1 ?? 0,
    rPrecision: r.rPrecision ?? 0,
    mapAtR: r.mapAtR ?? 0,
  };
  if (run.tar) {
    // every pair of the (≤ validationMaxSamples) validation rows, streamed: no n×n matrix
    const v = verificationMetrics(valEval.E, valEval.n, k, valEval.labels, { fars: [run.tar.far] });
    fig.validationTarAtFar = v.tarAtFar[0].tar ?? 0;
  }
  return fig;
}

const RETRIEVAL_FIGURES: readonly RetrievalFigure[] = ['precisionAt1', 'rPrecision', 'mapAtR'];
const TRIPLET_FIGURES: readonly TripletFigure[] = ['validationLoss', 'validationTripletAccuracy'];

/** The figures a run's validation set has nothing to average for: no query, or no triplet (0071). */
function unmeasuredFigures(run: MinedRun): Set<string> {
  const none = new Set<string>();
  if (!(run.lastQueryCount > 0)) RETRIEVAL_FIGURES.forEach((f) => none.add(f));
  if ((run.valEval?.triplets.length ?? 0) === 0) TRIPLET_FIGURES.forEach((f) => none.add(f));
  return none;
}

/** Figures as reported: null for those with nothing to average over (0071). */
function reportedFigures(run: MinedRun, fig: ValidationFigures): ReportedValidationFigures {
  const out: ReportedValidationFigures = { ...fig };
  for (const f of unmeasuredFigures(run)) out[f as RetrievalFigure | TripletFigure] = null;
  return out;
}

/** Validation figures of the current W (null without validation); refreshes the collapse check on the training sample. */
function evaluate(run: MinedRun, step: number): ValidationFigures | null {
  const { valEval, trainEval, k, p } = run;
  if (!valEval) return null;
  const fig = validationFigures(run, valEval, run.W);
  run.latest = { ...fig, iteration: step };
  embedInto(run, trainEval, run.W);
  const spread = meanSampleDistance(trainEval.E, trainEval.n, k);
  run.latestWarning = collapseWarning(
    spread,
    run.startDistance,
    scoreTriplets(trainEval, k, run.distance, run.loss, p.margin),
    p,
  );
  return fig;
}

/** Early-stopping bookkeeping of one evaluation at step `at`; true when patience has run out. */
function afterEvaluation(run: MinedRun, fig: ValidationFigures | null, at: number): boolean {
  run.lastEvaluated = at;
  if (!fig || !run.valEval) return false;
  return run.stopper.observe(fig, at, run.W);
}

function reportProgress(run: MinedRun, force: boolean, phase: 'training' | 'validating' = 'training'): void {
  const w = run.window;
  const reported = run.progress.report(force, (elapsedMs) => {
    const pr: MinedProgress = {
      iteration: run.step,
      maxIterations: run.p.maxIterations,
      loss: w.count > 0 ? w.sum / w.count : w.last,
      gradientNorm: run.gradNorm,
      activeFraction: w.active,
      elapsedMs,
      learningRate: run.adam.learningRate(),
      phase,
    };
    const lv = run.latest;
    if (lv) {
      // absent, as a progress figure that is not a number is, when there is nothing to average (0071)
      const none = unmeasuredFigures(run);
      for (const f of [...TRIPLET_FIGURES, ...RETRIEVAL_FIGURES]) if (!none.has(f)) pr[f] = lv[f];
      if (lv.validationTarAtFar !== undefined) pr.validationTarAtFar = lv.validationTarAtFar;
      pr.validationIteration = lv.iteration;
      pr.bestIteration = run.startReturned ? 0 : run.stopper.bestIteration;
    }
    if (run.latestWarning) pr.warning = run.latestWarning;
    if (run.trialSteps > 0) pr.normalizeTrialSteps = run.trialSteps;
    return pr;
  });
  if (reported) {
    w.sum = 0;
    w.count = 0;
  }
}

/** Whether the run evaluates after `step`: every evaluationInterval steps, and at the last one. */
function evaluationDue(run: MinedRun, step: number): boolean {
  return step % run.p.evaluationInterval === 0 || step === run.p.maxIterations;
}

/** One step, and its evaluation when due; false when the run ends with it (non-finite step, early stop). */
function advance(run: MinedRun): boolean {
  const p = run.p;
  if (!trainStep(run)) return false;
  const step = run.step;
  if (!evaluationDue(run, step)) {
    reportProgress(run, false);
    return true;
  }
  // the evaluation of a large validation set takes a while: say so before it starts
  if (run.validating) reportProgress(run, true, 'validating');
  const stop = afterEvaluation(run, evaluate(run, step), step);
  if (!run.trialSteps) reportProgress(run, true);
  if (stop && step < p.maxIterations) {
    run.stopReason = 'no_progress';
    run.earlyStopped = true;
    return false;
  }
  return true;
}

/**
 * Steps until maxIterations, cancellation, a non-finite step or early stopping; then a last evaluation
 * if due. A resumed run's step-0 evaluation is already in its checkpoint.
 */
function runSteps(run: MinedRun, resumed: boolean): void {
  if (!resumed) afterEvaluation(run, evaluate(run, 0), 0);
  reportProgress(run, true);
  if (!resumed) run.checkpoint(0);
  stepToEnd(run);
}

/** runSteps from the run's current step on; with `going` false, only the last evaluation if due. */
function stepToEnd(run: MinedRun, going = true): void {
  while (going && run.step < run.p.maxIterations) {
    if (run.progress.cancelled()) {
      run.stopReason = 'cancelled';
      break;
    }
    if (!advance(run)) break;
    run.checkpoint(run.step);
  }
  if (run.valEval && run.lastEvaluated !== run.step) afterEvaluation(run, evaluate(run, run.step), run.step);
}

/**
 * normalize `auto` with validation on held-out labels: unit-norm and plain runs from the same start
 * and split take the trial's steps in turn (one reports progress, neither checkpoints, so a resume
 * never lands inside the trial), then the one with the better validation figure is returned to go on
 * alone (the loser is dropped here). Each way is set up exactly as the explicit choice would be, so
 * the model equals `normalize: true` or `false` given. Null unless validation holds out labels: the
 * start chooses then.
 */
function trialRun(
  samples: LabelledSamples,
  p: MinedTrainParams,
  hooks: MinedTrainHooks,
  kernels: Kernels,
): { run: MinedRun; going: boolean } | null {
  const split = splitFor(samples, p);
  // held-out samples of the training labels reward fitting those labels, not new ones (0065)
  if (split.kind !== 'labels') return null;
  const start = startEvidence(samples, split.train, p, kernels, null);
  const evalSets = evalSetsFor(samples, split, p);
  const unit = setUp(samples, p, hooks, kernels, { normalize: true, split, start, evalSets });
  const plain = setUp(samples, p, {}, kernels, { normalize: false, split, start, evalSets });
  const live = unit.progress;
  const steps = normalizeTrialSteps(p.maxIterations, p.evaluationInterval);
  const going = stepTogether(unit, plain, steps);
  // each way's figures of the W it would keep (the latest before early stopping's candidates begin)
  const kept = (r: MinedRun) => r.stopper.bestFigures ?? r.latest!;
  const choice = trialChoice(
    { unit: kept(unit), plain: kept(plain) },
    { metric: unit.metric, minDelta: p.minDelta, steps, queries: unit.lastQueryCount },
  );
  // a way whose step went non-finite cannot win (its figures are from before it stopped)
  const broken = (r: MinedRun) => r.stopReason === 'no_progress' && !r.earlyStopped;
  const keepPlain = broken(unit) !== broken(plain) ? broken(unit) : !choice.normalize;
  const won = keepPlain ? plain : unit;
  won.normalizeChoice = { ...choice, normalize: !keepPlain };
  // a winner that stopped inside the trial has fewer steps than the other way's reports showed
  const reached = Math.max(unit.step, plain.step);
  takeReporter(won, won.step < reached ? notBelow(live, reached) : live);
  won.checkpoint = checkpointer(hooks, () => won);
  won.trialSteps = 0;
  return { run: won, going: going.get(won)! };
}

/**
 * Both runs from step 0 to `steps`, one step of each in turn, while either can go on (no early stop,
 * no non-finite step). The first reports progress; when it stops, the other takes its reporter, so
 * reports go on. A step that evaluates is `validating` until both ways have evaluated. Cancellation,
 * polled on that reporter, stops the runs still going.
 */
function stepTogether(first: MinedRun, second: MinedRun, steps: number): Map<MinedRun, boolean> {
  const going = new Map([
    [first, true],
    [second, true],
  ]);
  for (const r of going.keys()) r.trialSteps = steps;
  for (const r of going.keys()) afterEvaluation(r, evaluate(r, 0), 0);
  reportProgress(first, true);
  const live = first.progress;
  let reporter = first;
  while ([...going].some(([r, on]) => on && r.step < steps)) {
    if (live.cancelled()) {
      for (const [r, on] of going) if (on) r.stopReason = 'cancelled';
      for (const r of going.keys()) going.set(r, false);
      break;
    }
    // the reporting way says `validating` before its evaluation; `training` waits until both have evaluated
    const evaluating = reporter.trialSteps > 0 && evaluationDue(reporter, reporter.step + 1);
    for (const [r, on] of going) if (on && r.step < steps) going.set(r, advance(r));
    if (!going.get(first) || !going.get(second)) {
      // one way left: it reports as a run of its own would (one way's work a step)
      for (const r of going.keys()) r.trialSteps = 0;
      if (!going.get(first) && going.get(second) && second.progress !== live) {
        first.progress = second.progress;
        takeReporter(second, live);
      }
      reporter = first.progress === live ? first : second;
    }
    if (evaluating) reportProgress(reporter, true);
  }
  return going;
}

/** Whether the validation queries can overrule training: START_MIN_QUERIES of them, from START_MIN_LABELS labels. */
function enoughToJudge(queries: number, valEval: EvalSet): boolean {
  return queries >= START_MIN_QUERIES && new Set(valEval.labels).size >= START_MIN_LABELS;
}

/**
 * Each scored validation query's own figure of W: the run's metric's (average precision for a loss or
 * TAR metric, which have none per query).
 */
function queryFigures(run: MinedRun, valEval: EvalSet, W: Float64Array, normalize: boolean): number[] {
  const pick: keyof QueryScore = run.metric === 'precisionAt1' ? 'p1' : run.metric === 'rPrecision' ? 'rPrec' : 'ap';
  const out: number[] = [];
  embedInto(run, valEval, W, normalize);
  retrievalMetrics(valEval.E, valEval.n, run.k, valEval.labels, run.kernels, undefined, (_row, s) => out.push(s[pick]));
  return out;
}

/** The start as the last candidate (start-fallback.ts), and how it compared with the kept W. */
interface StartCandidate {
  /** paired z of its per-query validation figure over the kept W's */
  z: number;
  queries: number;
  /** whether it is returned instead of the kept W */
  returned: boolean;
  /** its normalisation: the run's, or under `auto` the better of the two on validation */
  normalize: boolean;
}

/**
 * The start map W₀ against the kept W on the validation queries (queryFigures): the paired z of the
 * start's figures over the kept W's, and whether the start is returned. Under `auto` with held-out
 * labels the start counts with the normalisation that scores it higher, since either would be the
 * run's. Null without validation or a kept W.
 */
function startAgainstKept(run: MinedRun): StartCandidate | null {
  const { valEval, stopper } = run;
  if (!valEval || !stopper.bestFigures) return null;
  const W0 = run.start.W0();
  // held-out samples of the training labels do not choose the normalisation (0065): only held-out labels
  const either = run.p.normalize === 'auto' && run.split.kind === 'labels';
  const ways = either ? [run.normalize, !run.normalize] : [run.normalize];
  const starts = ways.map((normalize) => {
    const figures = queryFigures(run, valEval, W0, normalize);
    return { normalize, figures, total: figures.reduce((a, b) => a + b, 0) };
  });
  // the run's own normalisation first: the other must score strictly higher to replace it
  const start = starts.reduce((a, b) => (b.total > a.total ? b : a));
  const z = pairedZ(start.figures, queryFigures(run, valEval, stopper.bestW, run.normalize));
  const queries = start.figures.length;
  return { z, queries, returned: z >= START_KEEP_Z && enoughToJudge(queries, valEval), normalize: start.normalize };
}

/** Hands `reporter` to `run`; its loss window restarts, so its first report averages only its own steps from here. */
function takeReporter(run: MinedRun, reporter: ProgressReporter<MinedProgress>): void {
  run.progress = reporter;
  run.window.sum = 0;
  run.window.count = 0;
}

/** `r`, with every report's iteration raised to at least `step`, so the job's reports never step back. */
function notBelow(r: ProgressReporter<MinedProgress>, step: number): ProgressReporter<MinedProgress> {
  return {
    start: r.start,
    cancelled: () => r.cancelled(),
    report: (force, make) =>
      r.report(force, (elapsedMs) => {
        const pr = make(elapsedMs);
        pr.iteration = Math.max(pr.iteration, step);
        return pr;
      }),
  };
}

/** The returned W (the kept one when validating, else the last), its figures, warnings and the final report. */
function finish(run: MinedRun): MinedTrainResult {
  const { k, p, split, samples, stopper, trainEval, valEval, step } = run;
  const start = startAgainstKept(run);
  const returned = start?.returned ? start : null;
  const Wout = returned ? run.start.W0() : valEval ? stopper.bestW : Float64Array.from(run.W);
  const bestIteration = returned ? 0 : valEval ? stopper.bestIteration : step;
  const normalized = returned ? returned.normalize : run.normalize;
  embedInto(run, trainEval, Wout, normalized);
  const tr = scoreTriplets(trainEval, k, run.distance, run.loss, p.margin);
  const meanDist = meanSampleDistance(trainEval.E, trainEval.n, k);
  // the start returned cannot have collapsed from itself
  const collapse = returned ? undefined : collapseWarning(meanDist, run.startDistance, tr, p);
  if (collapse) run.warnings.push(collapse);
  if (run.stopReason === 'cancelled')
    run.warnings.push(
      `cancelled after ${step} steps; the result is the ${valEval ? 'best W evaluated so far' : 'W at that step'}`,
    );
  const validationLabels =
    split.validation.length > 0 ? new Set(gatherLabels(samples.labels, split.validation)).size : 0;
  const metrics: MinedTrainMetrics = {
    trainLoss: tr.loss,
    iterations: step,
    functionEvaluations: step,
    activeFraction: tr.activeFraction,
    gradientNorm: run.gradNorm,
    stopReason: run.stopReason,
    meanEmbeddingDistance: meanDist,
    weightNorm: l2(Wout),
    warnings: run.warnings,
    validationSplit: split.kind,
    trainSamples: split.train.length,
    trainLabels: run.sampler.labelCount,
    validationSamples: split.validation.length,
    validationLabels,
    bestIteration,
    earlyStopped: run.earlyStopped,
    samplesSeen: run.samplesSeen,
    normalized,
    learningRate: run.learningRate,
  };
  if (run.normalizeChoice) {
    // what `auto` chose by: the choice's fields, as far as it has them, but the choice and its query count
    const { normalize: _chosen, queries, ...evidence } = run.normalizeChoice;
    // a figure with nothing to average is none: the 0 against 0 compared (by the start's queries or
    // the trial's validation figure) kept unit norm
    const none =
      evidence.by === 'validation'
        ? evidence.metric !== undefined && unmeasuredFigures(run).has(evidence.metric)
        : queries === 0;
    metrics.normalizeEvidence = none ? { ...evidence, plain: null, unit: null } : evidence;
  }
  if (run.pullSettings) {
    metrics.startPullGate = run.pullSettings.gate.gate;
    metrics.startPullLambda = run.pullSettings.lambda;
  }
  if (start) metrics.startZ = start.z;
  if (returned) {
    run.startReturned = true;
    // the latest evaluation's warning (a collapse) was about a trained W, not the one returned
    run.latestWarning = undefined;
    const embeddings =
      returned.normalize === run.normalize ? '' : ` with ${returned.normalize ? 'unit-norm' : 'plain'} embeddings`;
    run.warnings.push(
      `validation scored the start map${embeddings} above the best trained W (paired z ${returned.z.toFixed(1)} ` +
        `over ${returned.queries} queries): the start is returned; more labels, or fewer steps, may train one that generalises`,
    );
  }
  const best = returned && valEval ? validationFigures(run, valEval, Wout, normalized) : stopper.bestFigures;
  if (valEval) metrics.validationQueryCount = run.lastQueryCount;
  if (best) {
    metrics.validation = reportedFigures(run, best);
    // the final report carries the returned W's figures
    run.latest = { ...best, iteration: bestIteration };
  }
  reportProgress(run, true);
  return { W: Wout, k, d: samples.d, metrics };
}

export function trainMined(
  samples: LabelledSamples,
  params: MinedTrainParams,
  hooks: MinedTrainHooks = {},
  kernels: Kernels = jsKernels,
): MinedTrainResult {
  validateMinedInputs(samples, params);
  if (hooks.resumeFrom) checkMinedCheckpoint(hooks.resumeFrom, samples, params);
  const trial = params.normalize === 'auto' && !hooks.resumeFrom ? trialRun(samples, params, hooks, kernels) : null;
  if (trial) {
    // the winner's first checkpoint is due from here; one that stopped inside the trial only finishes
    if (trial.going) trial.run.checkpoint(trial.run.step);
    stepToEnd(trial.run, trial.going);
    return finish(trial.run);
  }
  const run = setUp(samples, params, hooks, kernels);
  runSteps(run, hooks.resumeFrom !== undefined);
  return finish(run);
}

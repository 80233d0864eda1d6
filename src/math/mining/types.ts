// Shapes shared by the online-mining modules (P×K sampling, miners, batch losses, trainMined).
import type { DistanceKind } from '../distance.js';
import type { CheckpointHooks } from '../checkpoint.js';
import type { InitName, Progress, TrainHooks, TrainMetrics, TrainResult } from '../types.js';
import type { MinedCheckpoint } from './checkpoint.js';

/**
 * Which triplets of a P×K batch train the map.
 * - `semihard`: FaceNet's semi-hard negatives, one triplet per positive pair (a, p):
 *   the closest negative with d(a,n) > d(a,p); when the pair has none, the anchor's
 *   farthest negative (TF-Addons' `triplet_semihard_loss` fallback).
 * - `batchhard`: Hermans et al.: one triplet per anchor, its farthest positive and closest negative.
 * - `semihard+batchhard`: the sum of both losses (each reduced on its own).
 * - `none`: every valid triplet of the batch (a, p same label, a ≠ p, n another label).
 */
export type MiningName = 'semihard' | 'batchhard' | 'semihard+batchhard' | 'none';

/**
 * `hinge`: max(0, d(a,p) − d(a,n) + margin).
 * `softplus`: log(1 + exp(d(a,p) − d(a,n))), Hermans et al.'s soft margin; it has no margin
 * (the margin still defines the semi-hard window when mining).
 */
export type MinedLossName = 'hinge' | 'softplus';

/**
 * The distances trainMined offers (of DistanceKind, distance.ts): the distance d the loss, the margin
 * and the miners use, between embeddings e (Wx, or Wx/‖Wx‖ with normalize): `squared` = ‖eᵢ − eⱼ‖²,
 * `euclidean` = √max(‖eᵢ − eⱼ‖², ε) with ε = EUCLIDEAN_EPSILON and zero gradient below ε.
 * The margin is in units of this distance.
 */
export type DistanceName = Extract<DistanceKind, 'squared' | 'euclidean'>;

/**
 * How the per-triplet losses of one miner are averaged.
 * `nonzero` (default, pytorch-metric-learning's AvgNonZeroReducer for TripletMarginLoss): mean over the
 * triplets whose loss is > 0; 0 when there are none.
 * `all`: mean over every mined triplet (TF-Addons / Hermans et al.); 0 when no triplet was mined.
 */
export type ReductionName = 'nonzero' | 'all';

export type ValidationSplit = 'auto' | 'labels' | 'samples';
/**
 * TAR at a fixed FAR over the validation samples' genuine and impostor pairs (euclidean distance,
 * src/math/verification): a face team's operating point as the early-stopping figure.
 */
export const TAR_METRICS = ['tar@far=1e-2', 'tar@far=1e-3', 'tar@far=1e-4'] as const;
export type TarMetric = (typeof TAR_METRICS)[number];
export type EarlyStoppingMetric =
  'mapAtR' | 'precisionAt1' | 'rPrecision' | 'validationLoss' | 'validationTripletAccuracy' | TarMetric;

/** The FAR of a TAR metric, null for the others. */
export function tarMetricFar(metric: EarlyStoppingMetric): number | null {
  return metric.startsWith('tar@far=') ? Number(metric.slice('tar@far='.length)) : null;
}

export interface LabelledSamples {
  d: number;
  n: number;
  /** n×d row-major */
  X: Float32Array | Float64Array;
  /** n labels (any integers; only equality matters) */
  labels: Int32Array;
}

export interface MinedTrainParams {
  outputDimension: number;
  /** in units of `distance` (plain euclidean by default); ignored by the softplus loss except for the semi-hard window */
  margin: number;
  /** unit-norm embeddings; `auto`: unit norm unless the start's plain embeddings find more true nearest neighbours (normalize-choice.ts) */
  normalize: boolean | 'auto';
  /** decoupled (AdamW) weight decay: each step W ← W − lr_t·weightDecay·W */
  weightDecay: number;
  init: InitName;
  seed: number;
  mining: MiningName;
  loss: MinedLossName;
  distance: DistanceName;
  reduction: ReductionName;
  /**
   * Adam base learning rate, decayed by a cosine over maxIterations down to learningRate·learningRateFloor;
   * `auto`: RELATIVE_LEARNING_RATE times the start map's RMS entry (learning-rate.ts)
   */
  learningRate: number | 'auto';
  /** end of the cosine schedule as a fraction of learningRate (0 = decay to 0) */
  learningRateFloor: number;
  beta1: number;
  beta2: number;
  adamEpsilon: number;
  /** P·K; P = floor(batchSize / samplesPerLabel) labels per batch */
  batchSize: number;
  /** K */
  samplesPerLabel: number;
  /** optimiser steps (one P×K batch each) */
  maxIterations: number;
  /** fraction of labels (or of each label's samples) held out; 0 disables validation and early stopping */
  validationFraction: number;
  /** `auto`: whole labels when there are at least LABEL_SPLIT_MIN_LABELS labels with ≥ 2 samples, else samples */
  validationSplit: ValidationSplit;
  /** cap on the validation samples scored (seeded subsample), bounds the cost of each evaluation */
  validationMaxSamples: number;
  /** evaluate every this many steps (and after the last) */
  evaluationInterval: number;
  /** stop after this many evaluations without improvement of earlyStoppingMetric; 0 never stops early */
  patience: number;
  /**
   * fraction of maxIterations before which evaluations do not count towards patience (the best W is still
   * tracked): early in a cosine schedule the learning rate is high and a flat validation figure is not a plateau
   */
  earlyStoppingStart: number;
  earlyStoppingMetric: EarlyStoppingMetric;
  /** improvement smaller than this does not reset the patience counter */
  minDelta: number;
  /** weight of the mined triplet losses in the batch objective; 0 trains on the soft-neighbour term alone */
  tripletWeight: number;
  /** weight of the soft-neighbour (NCA-style) batch loss (soft-neighbour.ts); 0 leaves it out */
  softNeighbourWeight: number;
  /** its temperature τ, in units of `distance` */
  softNeighbourTemperature: number;
  /**
   * weight of the multi-similarity batch loss (multi-similarity.ts); 0 or absent leaves it out. The core's
   * own lever, measured and not adopted (docs/decisions/0073): the API does not take it, and it is absent
   * from the defaults so that checkpoints, which compare params key by key, are unchanged
   */
  multiSimilarityWeight?: number;
  /**
   * pull towards the start W₀ (start-pull.ts): (startPull / pairs of training labels)·‖W − W₀‖²/‖W₀‖²,
   * strong when few labels train, vanishing when many do; on W's direction only when `normalize`; 0 leaves it out
   */
  startPull: number;
}

export interface ValidationFigures {
  /** mean loss (hinge with margin, or softplus) over fixed random validation triplets, reduction `all` */
  validationLoss: number;
  /** fraction of those triplets with d(a,p) < d(a,n) strictly */
  validationTripletAccuracy: number;
  precisionAt1: number;
  rPrecision: number;
  mapAtR: number;
  /** TAR at the FAR of a tar@far metric, when that is the early-stopping metric (0 when no pair can be accepted) */
  validationTarAtFar?: number;
}

/** The retrieval figures of ValidationFigures: each averages over the validation queries. */
export type RetrievalFigure = 'precisionAt1' | 'rPrecision' | 'mapAtR';
/** The triplet figures of ValidationFigures: each averages over the validation triplets. */
export type TripletFigure = 'validationLoss' | 'validationTripletAccuracy';

/**
 * ValidationFigures as a run reports them: the retrieval figures are null when the validation
 * samples have no query (no label twice), the triplet figures when they have no triplet; early
 * stopping compares the 0 scored for them (docs/decisions/0071).
 */
export type ReportedValidationFigures = Omit<ValidationFigures, RetrievalFigure | TripletFigure> &
  Record<RetrievalFigure | TripletFigure, number | null>;

/**
 * Progress plus the optional validation figures of the latest evaluation (absent when there was
 * nothing to average: no query, or no triplet).
 */
export interface MinedProgress extends Progress, Partial<ValidationFigures> {
  learningRate?: number;
  /** step of the latest evaluation whose figures are attached */
  validationIteration?: number;
  bestIteration?: number;
  /** set when the latest evaluation looks like a collapse */
  warning?: string;
  /** `validating` in the report forced just before an evaluation runs */
  phase?: 'training' | 'validating';
  /** normalize `auto`: steps up to this one train both ways side by side (present while both go on) */
  normalizeTrialSteps?: number;
}

export interface MinedTrainHooks
  extends Omit<TrainHooks, 'onProgress' | keyof CheckpointHooks<never>>, CheckpointHooks<MinedCheckpoint> {
  onProgress?: (p: MinedProgress) => void;
}

export interface MinedTrainMetrics extends TrainMetrics {
  /** `labels`, `samples`, or `none` when there is no validation */
  validationSplit: 'labels' | 'samples' | 'none';
  trainSamples: number;
  trainLabels: number;
  validationSamples: number;
  validationLabels: number;
  /** step whose W is returned (the best evaluation when validating, else the last step) */
  bestIteration: number;
  earlyStopped: boolean;
  /** figures of the returned W on the validation set, when there is one */
  validation?: ReportedValidationFigures;
  /** with validation: its samples with another of their label, the queries of the retrieval figures */
  validationQueryCount?: number;
  /** sample visits, Σ batch sizes */
  samplesSeen: number;
  /** whether the embeddings are unit-norm: the request's normalize, or what `auto` chose */
  normalized: boolean;
  /**
   * with normalize `auto`, by `validation` (the trial): each way's validation `metric` after `steps` steps;
   * by `start`: the start's leave-one-out precision@1 on the training samples, plain and unit-norm, and
   * McNemar's z of plain over unit (plain when z ≥ AUTO_PLAIN_Z). `by` and `z` are absent for choices a
   * checkpoint kept from before them.
   */
  normalizeEvidence?: {
    by?: 'start' | 'validation';
    /** null: by a figure the validation set has nothing to average for, no query or triplet (the tie kept unit norm) */
    plain: number | null;
    unit: number | null;
    z?: number;
    metric?: EarlyStoppingMetric;
    steps?: number;
  };
  /** Adam's base learning rate that ran: the request's, or what `auto` made of the start */
  learningRate?: number;
  /** with a start pull: its gate in [0, 1], the start's evidence on the training samples (start-gate.ts) */
  startPullGate?: number;
  /** with a start pull: the λ it trained with, startPull · gate / pairs of training labels */
  startPullLambda?: number;
  /**
   * with validation: the paired z of the start map's per-query validation figure over the kept W's
   * (start-fallback.ts); at ≥ START_KEEP_Z the start is returned (bestIteration 0)
   */
  startZ?: number;
}

export interface MinedTrainResult extends TrainResult {
  metrics: MinedTrainMetrics;
}

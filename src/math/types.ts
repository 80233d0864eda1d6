// Shared shapes of the pure math core. Everything is row-major typed arrays;
// the core never sees requests, rows or worker messages.
import type { CheckpointHooks, TrainCheckpoint } from './checkpoint.js';

/**
 * Row-major input vectors. Float32 is what storage holds and what the server
 * passes; Float64 is accepted so fixtures whose values are not exactly
 * representable in float32 (6-significant-digit CSV values) can be reproduced
 * bit-for-bit. All accumulation is float64 either way.
 */
export type DataArray = Float32Array | Float64Array;

/** m triplets of dimension d, each matrix m×d row-major (float32 as stored). */
export interface TripletSet {
  d: number;
  m: number;
  anchors: DataArray;
  positives: DataArray;
  negatives: DataArray;
}

/**
 * m triplets as indices into n sample rows (n×d row-major): triplet i is
 * (samples[refs[3i]], samples[refs[3i+1]], samples[refs[3i+2]]).
 */
export interface IndexedTripletSet {
  d: number;
  m: number;
  n: number;
  samples: DataArray;
  refs: Int32Array;
}

/** A full-batch triplet set in either shape (src/math/triplet-rows.ts). */
export type Triplets = TripletSet | IndexedTripletSet;

/**
 * `relu` is the hinge max(0, ·) we always train with. `none` is the write-up's
 * published cost without the hinge (unbounded below); it exists only so tests
 * can reproduce the write-up's numbers and is never reachable from the API.
 */
export type Hinge = 'relu' | 'none';

export interface LossOptions {
  margin: number;
  normalize: boolean;
  weightDecay: number;
  hinge?: Hinge;
  /**
   * Indexed triplets, hinged squared loss: skip triplets proved inactive (inactive-bound.ts).
   * Default true; the same figures either way, off only to measure what it saves.
   */
  inactiveSkip?: boolean;
}

export interface LossValue {
  /** mean over all m triplets, plus ½·weightDecay·‖W‖²_F */
  loss: number;
  /** number of triplets whose bracket is > 0 */
  activeCount: number;
  /** number of triplets with d(a,p) < d(a,n) strictly (bracket without the margin < 0) */
  correctCount: number;
}

export type OptimizerName = 'lbfgs' | 'cg';
export type InitName = 'uniform' | 'pca' | 'identity';

export interface TrainParams {
  outputDimension: number;
  margin: number;
  optimizer: OptimizerName;
  maxIterations: number;
  normalize: boolean;
  weightDecay: number;
  init: InitName;
  seed: number;
  /** stop when ‖∇‖∞ falls below this */
  gradientTolerance: number;
  /** L-BFGS history length */
  historySize: number;
  /**
   * `whiten`: optimise in coordinates where the training vectors' covariance is (nearly) the
   * identity (whitening.ts); `none` (and absent, as in jobs stored before it): the plain problem.
   */
  preconditioner?: Preconditioner;
}

export type Preconditioner = 'whiten' | 'none';

export interface Progress {
  iteration: number;
  maxIterations: number;
  loss: number;
  gradientNorm: number;
  activeFraction: number;
  elapsedMs: number;
}

export type StopReason =
  'max_iterations' | 'gradient_tolerance' | 'no_progress' | 'line_search_failed' | 'zero_loss' | 'cancelled';

export interface TrainMetrics {
  trainLoss: number;
  iterations: number;
  functionEvaluations: number;
  activeFraction: number;
  gradientNorm: number;
  stopReason: StopReason;
  /** mean pairwise distance of a sample of training embeddings; near 0 means collapse */
  meanEmbeddingDistance: number;
  /** ‖W‖_F, reported because unnormalised squared distances reward growing W */
  weightNorm: number;
  warnings: string[];
}

export interface TrainResult {
  /** k×d row-major */
  W: Float64Array;
  k: number;
  d: number;
  metrics: TrainMetrics;
}

export interface TrainHooks extends CheckpointHooks<TrainCheckpoint> {
  /** called at least once a second while training, and once at the end */
  onProgress?: (p: Progress) => void;
  /** polled between function evaluations; true stops with reason `cancelled` */
  shouldStop?: () => boolean;
  /** minimum ms between onProgress calls (default DEFAULT_PROGRESS_INTERVAL_MS) */
  progressIntervalMs?: number;
}

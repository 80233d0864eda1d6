// Public API of the pure math core.
export * from './types.js';
export { createRng, seededRandom, type Rng, type RngState } from './rng.js';
export { CHECKPOINT_VERSION, type CheckpointHooks, type TrainCheckpoint } from './checkpoint.js';
export { createTripletObjective, assertTripletSet, NORM_EPSILON, type TripletObjective } from './losses.js';
export {
  DEFAULT_MARGIN,
  DEFAULT_PROGRESS_INTERVAL_MS,
  DEFAULT_TRAIN_PARAMS,
  DEFAULT_MINED_PARAMS,
  LEGACY_LOSS_MIX,
} from './defaults.js';
export {
  distanceByName,
  createEuclideanDistance,
  squaredDistance,
  euclideanDistance,
  smoothEuclideanDistance,
  cosineDistance,
  type Distance,
  type DistanceKind,
  type Metric,
} from './distance.js';
export { embed } from './embed.js';
export {
  pairwiseDistances,
  batchDistances,
  meanPairwiseDistance,
  rowSquaredNorms,
  GRAM_MIN_WORK,
} from './distances.js';
export { evaluateTriplets, retrievalMetrics, type TripletEvaluation, type RetrievalMetrics } from './metrics.js';
export { initW, type InitParams } from './init.js';
export {
  wolfeLineSearch,
  cubicMinimizer,
  createLineSearchWork,
  type LineSearchOptions,
  type LineSearchResult,
  type LineSearchStatus,
} from './optim/linesearch.js';
export { minimizeLbfgs, DEFAULT_HISTORY_SIZE } from './optim/lbfgs.js';
export { minimizeCg } from './optim/cg.js';
export type {
  FG,
  MinimizeOptions,
  MinimizeResult,
  IterationInfo,
  DescentState,
  DirectionState,
  LbfgsState,
  CgState,
} from './optim/types.js';
export { train } from './train.js';
export { meanEmbeddingDistance } from './training/diagnostics.js';
export { jsKernels } from './kernels/js.js';
export type { Kernels } from './kernels/types.js';
export * from './mining/index.js';
export {
  createAdam,
  scheduledLearningRate,
  type Adam,
  type AdamOptions,
  type AdamState,
  type LearningRateSchedule,
} from './optim/adam.js';
export * from './verification/index.js';

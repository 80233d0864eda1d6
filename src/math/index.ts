// Public API of the pure math core.
export * from './types.js';
export { createRng, seededRandom, type Rng } from './rng.js';
export { createTripletObjective, assertTripletSet, NORM_EPSILON, type TripletObjective } from './losses.js';
export { embed, pairwiseDistances, type Metric } from './distances.js';
export { evaluateTriplets, retrievalMetrics, type TripletEvaluation, type RetrievalMetrics } from './metrics.js';
export { initW, type InitParams } from './init.js';
export { wolfeLineSearch, cubicMinimizer, createLineSearchWork, type LineSearchOptions, type LineSearchResult, type LineSearchStatus } from './optim/linesearch.js';
export { minimizeLbfgs, DEFAULT_HISTORY_SIZE } from './optim/lbfgs.js';
export { minimizeCg } from './optim/cg.js';
export type { FG, MinimizeOptions, MinimizeResult, IterationInfo } from './optim/types.js';
export { train, DEFAULT_TRAIN_PARAMS, meanEmbeddingDistance } from './train.js';
export { jsKernels } from './kernels/js.js';
export type { Kernels } from './kernels/types.js';
export * from './mining/index.js';
export { createAdam, scheduledLearningRate, type Adam, type AdamOptions, type LearningRateSchedule } from './optim/adam.js';

// What the runner and its workers say to each other. Plain data, structured-cloneable.
import type { Progress, TrainMetrics } from '../math/types.js';

export interface TrainTask {
  kind: 'train';
  dbPath: string;
  jobId: string;
  datasetId: string;
  params: TrainJobParams;
  /** Int32Array over a SharedArrayBuffer: [0] = 1 asks the worker to stop */
  control: SharedArrayBuffer;
}

export interface EvaluateTask {
  kind: 'evaluate';
  dbPath: string;
  datasetId: string;
  modelId: string;
  margin: number;
}

export type Task = TrainTask | EvaluateTask;

/** Training on the stored triplets with a full-batch optimiser. */
export interface TripletJobParams {
  source: 'triplets';
  outputDimension: number;
  margin: number;
  optimizer: 'lbfgs' | 'cg';
  maxIterations: number;
  normalize: boolean;
  weightDecay: number;
  init: 'uniform' | 'pca' | 'identity';
  validationFraction: number;
  mining: 'none';
  seed: number;
  gradientTolerance: number;
  historySize: number;
}

/** Online mining from the labelled samples in P×K batches, with Adam. */
export interface MinedJobParams {
  source: 'samples';
  outputDimension: number;
  margin: number;
  optimizer: 'adam';
  maxIterations: number;
  normalize: boolean;
  weightDecay: number;
  init: 'uniform' | 'pca' | 'identity';
  validationFraction: number;
  mining: 'none' | 'semihard' | 'batchhard' | 'semihard+batchhard';
  loss: 'hinge' | 'softplus';
  distance: 'euclidean' | 'squared';
  learningRate: number;
  batchSize: number;
  samplesPerLabel: number;
  evaluationInterval: number;
  patience: number;
  seed: number;
}

/** The defaulted, stored parameters of a training job. */
export type TrainJobParams = TripletJobParams | MinedJobParams;

export type WorkerMessage =
  | { type: 'progress'; progress: Progress & Record<string, unknown> }
  | { type: 'trained'; W: Float64Array; k: number; d: number; metrics: TrainMetrics & Record<string, unknown> }
  | { type: 'evaluated'; result: EvaluateResult }
  | { type: 'failed'; code: string; message: string };

export interface EvaluateResult {
  /** figures over the dataset's triplets; null when it has none */
  loss: number | null;
  tripletAccuracy: number | null;
  activeFraction: number | null;
  count: number;
  margin: number;
  /** retrieval figures over the labelled samples (leave-one-out), when the dataset has them */
  precisionAt1?: number;
  rPrecision?: number;
  mapAtR?: number;
  sampleCount?: number;
}

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

/** The defaulted, stored parameters of a training job. */
export interface TrainJobParams {
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

export type WorkerMessage =
  | { type: 'progress'; progress: Progress }
  | { type: 'trained'; W: Float64Array; k: number; d: number; metrics: TrainMetrics & Record<string, unknown> }
  | { type: 'evaluated'; result: EvaluateResult }
  | { type: 'failed'; code: string; message: string };

export interface EvaluateResult {
  loss: number;
  tripletAccuracy: number;
  activeFraction: number;
  count: number;
  margin: number;
}

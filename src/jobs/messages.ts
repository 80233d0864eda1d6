// What the runner and its workers say to each other. Plain data, structured-cloneable: the
// worker gets its data and parameters here and never opens the database or reads the environment.
import type { ComputeSettings } from '../compute/index.js';
import type { MinedTrainingParams, TrainingParams, TripletTrainingParams } from '../domain/training.js';
import type { Progress, TrainMetrics } from '../math/types.js';
import type { IdentificationMetrics, VerificationMetrics } from '../math/verification/index.js';

export type { MinedTrainingParams, TrainingParams, TripletTrainingParams };

/** Triplets as stored: count × (anchor, positive, negative) × dimension float32, row-major. */
export interface TripletData {
  count: number;
  dimension: number;
  data: Float32Array;
}

/**
 * Triplets given by sample index (indexTriplets): count × 3 indices into the samples' rows; each
 * sample travels once however many triplets use it.
 */
export interface IndexedTripletData {
  count: number;
  dimension: number;
  refs: Int32Array;
  samples: { count: number; data: Float32Array };
}

/** Labelled samples: count × dimension float32 and one dense integer label id each. */
export interface SampleData {
  count: number;
  dimension: number;
  data: Float32Array;
  labels: Int32Array;
}

export interface TrainTask {
  kind: 'train';
  jobId: string;
  params: TrainingParams;
  /** the training data: triplets (as vectors or by sample index) for a triplet job, samples for a mined one */
  triplets?: TripletData;
  indexedTriplets?: IndexedTripletData;
  samples?: SampleData;
  compute: ComputeSettings;
  /** Int32Array over a SharedArrayBuffer: [0] = 1 asks the worker to stop */
  control: SharedArrayBuffer;
  /**
   * The job's memory allowance (its estimate plus slack, src/domain/costs.ts): the runner does not
   * start a worker for data that needs more, and the worker's WebAssembly memory cannot grow past it.
   */
  memoryBytes?: number;
  /**
   * CHECKPOINT_INTERVAL_MS: a checkpoint is posted at the first iteration boundary this long (on
   * the worker's clock) after the start or the previous checkpoint; 0 = none
   */
  checkpointIntervalMs?: number;
  /** the job's latest checkpoint (v8.serialize of the core's checkpoint), to resume from */
  resumeFrom?: Uint8Array;
}

export interface EvaluateTask {
  kind: 'evaluate';
  /** k×d row-major */
  W: Float64Array;
  k: number;
  normalize: boolean;
  margin: number;
  triplets: TripletData;
  samples: SampleData;
  compute: ComputeSettings;
  /** the distance verification and identification score pairs in: the model's search default */
  metric: EvaluateMetric;
  /** verification and identification over the samples (n ≥ 2), defaults filled in */
  verification: EvaluateVerificationOptions;
  identification: EvaluateIdentificationOptions;
}

/**
 * A gallery search's default metrics: an evaluation's pairs are scored in the one its model's
 * searches use, so that a threshold it reports is a distance the search computes, bit for bit.
 */
export type EvaluateMetric = 'euclidean' | 'squared_euclidean';

export interface EvaluateVerificationOptions {
  fars: number[];
  /** ROC points to add (0: none) */
  curvePoints: number;
  maxImpostorPairs: number;
  maxGenuinePairs: number;
  seed: number;
}

export interface EvaluateIdentificationOptions {
  unknownFraction: number;
  ranks: number[];
  fars: number[];
  seed: number;
}

/**
 * POST /models/:id/evaluate with a gallery: the probes (raw samples, embedded by W here) against
 * the gallery's stored embeddings; label ids shared by both sets, −1 for an item without a label.
 */
export interface EvaluateGalleryTask {
  kind: 'evaluateGallery';
  /** k×d row-major */
  W: Float64Array;
  k: number;
  normalize: boolean;
  probes: SampleData;
  enrolled: { count: number; embeddings: Float32Array; labels: Int32Array };
  compute: ComputeSettings;
  /** as EvaluateTask's */
  metric: EvaluateMetric;
  verification: EvaluateVerificationOptions;
  identification: Pick<EvaluateIdentificationOptions, 'ranks' | 'fars'>;
}

/** indexTriplets resolution: rows of `samples` gathered into triplets, off the main thread. */
export interface GatherTripletsTask {
  kind: 'gatherTriplets';
  /** count × dimension float32 (labels are not needed) */
  samples: { count: number; dimension: number; data: Float32Array };
  /** m × 3 sample indices (anchor, positive, negative), each checked against samples.count */
  indices: Int32Array;
}

export type Task = TrainTask | EvaluateTask | EvaluateGalleryTask | GatherTripletsTask;

/**
 * What a worker started ahead of its task (SpareWorker) receives: the task, its buffers
 * transferred, or the request to end without one.
 */
export type TaskMessage = { task: Task } | { stop: true };

/**
 * What a waiting worker prepares before its task arrives. With the memory allowance (a job's own
 * waiting worker), the whole compute backend: a training task with the same settings and allowance
 * uses it. Without (a spare, whose job is not known yet), the pool's helper threads, which a task
 * with the same settings gets its backend built on.
 */
export interface ComputePlan {
  compute: ComputeSettings;
  memoryBytes?: number;
}

/** A worker's workerData: its task, a waiting worker's compute plan, or nothing (a spare). */
export type WorkerStart = Task | { plan: ComputePlan } | null;

export type WorkerMessage =
  | { type: 'progress'; progress: Progress & Record<string, unknown> }
  | { type: 'trained'; W: Float64Array; k: number; d: number; metrics: TrainMetrics & Record<string, unknown> }
  | { type: 'evaluated'; result: EvaluateResult }
  | { type: 'gathered'; triplets: TripletData }
  | { type: 'failed'; code: string; message: string }
  /**
   * a training task's backend is ready: `backend` when its waiting worker built it, `threads` when
   * it was built on the helper threads the worker started, `none` otherwise
   */
  | { type: 'computeReady'; planned: 'backend' | 'threads' | 'none' }
  /** v8.serialize of the core's checkpoint after `iteration` steps; its buffer is transferred */
  | { type: 'checkpoint'; iteration: number; data: Uint8Array }
  /** the run continues from the task's checkpoint, taken after `iteration` steps */
  | { type: 'resumed'; iteration: number }
  /** the task's checkpoint did not match the run (or could not be read): it starts from zero */
  | { type: 'resumeRejected'; message: string };

export interface EvaluateResult {
  /** figures over the dataset's triplets; null when it has none */
  loss: number | null;
  tripletAccuracy: number | null;
  activeFraction: number | null;
  count: number;
  margin: number;
  /** retrieval figures over the labelled samples (leave-one-out), when the dataset has them; null with no query */
  precisionAt1?: number | null;
  rPrecision?: number | null;
  mapAtR?: number | null;
  /** samples with another of their label: the queries the figures average over */
  queryCount?: number;
  sampleCount?: number;
  /** verification over the samples' pairs (n ≥ 2) */
  verification?: VerificationMetrics;
  /** identification on a gallery/probe split; unknownLabels are label ids (SampleData.labels) */
  identification?: IdentificationMetrics;
}

/** The buffers a task carries, to transfer rather than copy. */
export function taskTransfers(task: Task): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const add = (a: { buffer: ArrayBufferLike } | undefined) => {
    if (a && a.buffer instanceof ArrayBuffer) out.add(a.buffer);
  };
  if (task.kind === 'gatherTriplets') {
    add(task.samples.data);
    add(task.indices);
    return [...out];
  }
  if (task.kind === 'evaluateGallery') {
    for (const a of [task.W, task.probes.data, task.probes.labels, task.enrolled.embeddings, task.enrolled.labels])
      add(a);
    return [...out];
  }
  add(task.triplets?.data);
  if (task.kind === 'train') {
    add(task.indexedTriplets?.refs);
    add(task.indexedTriplets?.samples.data);
  }
  add(task.samples?.data);
  add(task.samples?.labels);
  if (task.kind === 'evaluate') add(task.W);
  else add(task.resumeFrom);
  return [...out];
}

// The storage interface: the one seam between services and persistence.
export interface DatasetRecord {
  id: string;
  name: string | null;
  dimension: number;
  tripletCount: number;
  sampleCount: number;
  createdAt: string;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const FINISHED_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isFinished = (s: JobStatus) => FINISHED_STATUSES.includes(s);

export interface JobError {
  code: string;
  message: string;
}

export interface JobProgress {
  iteration: number;
  maxIterations: number;
  loss: number;
  gradientNorm: number;
  activeFraction: number;
  elapsedMs: number;
  [extra: string]: unknown;
}

export interface JobRecord {
  id: string;
  status: JobStatus;
  datasetId: string;
  params: Record<string, unknown>;
  progress: JobProgress | null;
  metrics: Record<string, unknown> | null;
  modelId: string | null;
  error: JobError | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface ModelRecord {
  id: string;
  jobId: string | null;
  name: string | null;
  inputDimension: number;
  outputDimension: number;
  normalize: boolean;
  metrics: Record<string, unknown>;
  createdAt: string;
}

export interface NewModel {
  jobId: string | null;
  name: string | null;
  inputDimension: number;
  outputDimension: number;
  normalize: boolean;
  metrics: Record<string, unknown>;
  /** k×d row-major */
  weights: Float64Array;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

/** Triplets as stored: count × (anchor, positive, negative) × dimension float32, row-major. */
export interface StoredTriplets {
  count: number;
  dimension: number;
  data: Float32Array;
}

export type Label = string | number;
export type ChunkKind = 'triplets' | 'samples';

/** Labelled samples as stored: count × dimension float32, row-major, with one label each. */
export interface StoredSamples {
  count: number;
  dimension: number;
  data: Float32Array;
  labels: Label[];
}

export interface Store {
  readonly path: string;
  close(): void;
  isOpen(): boolean;

  createDataset(input: { name: string | null; dimension: number }): DatasetRecord;
  getDataset(id: string): DatasetRecord | undefined;
  listDatasets(page: PageRequest): Page<DatasetRecord>;
  /** Deletes the dataset and its vectors; false when unknown. */
  deleteDataset(id: string): boolean;
  /** Appends one chunk of triplets and bumps the count, in one transaction. */
  appendTriplets(datasetId: string, data: Float32Array, count: number): DatasetRecord;
  /** Appends one chunk of labelled samples and bumps the count, in one transaction. */
  appendSamples(datasetId: string, data: Float32Array, labels: Label[]): DatasetRecord;
  /** Staged uploads: chunks are written as they stream in, invisible until commit. */
  stageChunk(uploadId: string, datasetId: string, kind: ChunkKind, data: Float32Array, count: number, labels?: Label[]): void;
  commitStaged(uploadId: string, datasetId: string, kind: ChunkKind, count: number): DatasetRecord;
  discardStaged(uploadId: string): void;
  readTriplets(datasetId: string): StoredTriplets;
  readSamples(datasetId: string): StoredSamples;

  createJob(input: { datasetId: string; params: Record<string, unknown> }): JobRecord;
  getJob(id: string): JobRecord | undefined;
  listJobs(page: PageRequest & { status?: JobStatus }): Page<JobRecord>;
  countJobs(status: JobStatus): number;
  /** Oldest queued job, or undefined. */
  nextQueuedJob(): JobRecord | undefined;
  markJobRunning(id: string): JobRecord;
  updateJobProgress(id: string, progress: JobProgress): void;
  /** Ends a job that produced no model (failed or cancelled). Ignored if already finished. */
  finishJob(id: string, status: 'failed' | 'cancelled', error: JobError | null, metrics?: Record<string, unknown> | null): JobRecord;
  /** Writes the model and marks the job succeeded, in one transaction. */
  succeedJob(id: string, model: NewModel, metrics: Record<string, unknown>): { job: JobRecord; model: ModelRecord };
  /** Jobs left running by a crash go back to the queue. Returns how many. */
  requeueRunningJobs(): number;
  activeJobsForDataset(datasetId: string): number;

  createModel(model: NewModel): ModelRecord;
  getModel(id: string): ModelRecord | undefined;
  /** The weights, verified against their checksum. */
  getModelWeights(id: string): Float64Array | undefined;
  listModels(page: PageRequest): Page<ModelRecord>;
  newestModel(): ModelRecord | undefined;
  deleteModel(id: string): boolean;
}

// The storage interface: the one seam between services and persistence. Every method is
// asynchronous, so a backend may run on another thread or another machine; errors are the
// domain's (src/domain/errors.ts), never HTTP's. test/store/contract.ts is the suite every
// backend passes.
import type {
  AliasRecord,
  DatasetRecord,
  JobError,
  JobEvent,
  JobProgress,
  ReportedProgress,
  JobRecord,
  JobStatus,
  ModelRecord,
  ReindexTarget,
} from '../domain/records.js';
import type { JobModelOptions, TrainingParams } from '../domain/training.js';
import type {
  GalleryRecord,
  LabelType,
  NewGallery,
  ReindexBatch,
  ReindexCommit,
  StoredGalleryEmbeddings,
  UnindexedItems,
} from '../domain/galleries.js';

export type {
  AliasRecord,
  DatasetRecord,
  JobError,
  JobEvent,
  JobProgress,
  ReportedProgress,
  JobRecord,
  JobStatus,
  ModelRecord,
  ReindexTarget,
};
export type {
  GalleryRecord,
  LabelType,
  NewGallery,
  ReindexBatch,
  ReindexCommit,
  StoredGalleryEmbeddings,
  UnindexedItems,
};
export { FINISHED_STATUSES, isFinished } from '../domain/records.js';

export interface NewModel {
  jobId: string | null;
  name: string | null;
  inputDimension: number;
  outputDimension: number;
  normalize: boolean;
  trainingParams: TrainingParams | null;
  metrics: Record<string, unknown>;
  /** k×d row-major */
  weights: Float64Array;
}

/**
 * A job to queue: a training job on a dataset (`kind` may be left out), or a reindex job moving a
 * gallery to a model (the model it moves from is the gallery's as the queueing transaction reads it).
 */
export type NewJob =
  | ({ kind?: 'train'; datasetId: string; params: TrainingParams } & Partial<JobModelOptions>)
  | { kind: 'reindex'; reindex: Omit<ReindexTarget, 'fromModelId'> };

/** succeedReindexJob's answer: the job and gallery as committed, or how many items remain. */
export type ReindexJobCommit =
  { committed: true; job: JobRecord; gallery: GalleryRecord } | { committed: false; remaining: number };

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

/**
 * A dataset's triplets as the sample indices they were given by (indexTriplets), with the samples
 * they index, read together: count × 3 int32 (anchor, positive, negative) into samples' rows.
 */
export interface StoredIndexedTriplets {
  count: number;
  dimension: number;
  refs: Int32Array;
  samples: { count: number; data: Float32Array };
}

/** Labelled samples as stored: count × dimension float32, row-major, with one label each. */
export interface StoredSamples {
  count: number;
  dimension: number;
  data: Float32Array;
  labels: Label[];
  /** bumped by every erasure of samples: rows built from these indices hold while it is unchanged */
  epoch?: number;
}

/** Per-kind caps a commit checks inside its own transaction. */
export interface CapacityLimit {
  /** the most rows of this kind the dataset may hold after the commit */
  max: number;
  /** the setting that sets it, for the error message */
  setting: string;
}

/** Whether the store can take writes now; the reason says why not, for /readyz and the log. */
export interface StoreHealth {
  ok: boolean;
  reason?: string;
}

/**
 * The tables the change feed reports on. `galleries`: a gallery whose items changed (its version
 * moved: an upload, an erasure, a reindex's commit) or that was deleted; replicas drop their
 * cached copy of it, so erased items do not stay in their memory.
 */
export type ChangeTable = 'jobs' | 'models' | 'datasets' | 'aliases' | 'galleries';

/**
 * One event of the store's change feed (Store.watch): ids only, never the row (PostgreSQL's
 * NOTIFY payload is capped at 8000 bytes), so a listener reads what it needs. `resync`: events
 * may have been missed (the feed reconnected), so re-read everything watched; `lost`: the feed is
 * down and events will be missed until the next `resync`. docs/decisions/0022-change-feed-listen-notify.md.
 */
export type StoreChange =
  /** `id` is the row's id; an alias's is its name */
  | { kind: 'change'; table: ChangeTable; id: string; op: 'insert' | 'update' | 'delete' }
  | { kind: 'resync'; reason: string }
  | { kind: 'lost'; reason: string };

/** A runner's hold on a job: who holds it, and for how long from now (then another may take it). */
export interface JobLease {
  /** the runner's id (hostname:pid:random), unique per running app */
  owner: string;
  /** the lease's length, in milliseconds, from the store's clock (PostgreSQL: the database's) */
  ms: number;
}

/**
 * The answer to a lease renewal: held, or why not. `finished`: the job ended (status says how:
 * cancelled from another replica, say); `requeued`: its lease expired and a sweep put it back in the
 * queue; `taken`: another owner runs it now; `missing`: no such job.
 */
export type LeaseRenewal =
  { held: true } | { held: false; reason: 'finished' | 'requeued' | 'taken' | 'missing'; status: JobStatus | null };

/** A job's latest checkpoint: the iteration it was taken at and its bytes (opaque to the store). */
export interface StoredCheckpoint {
  iteration: number;
  data: Uint8Array;
}

// ---- identity-level data (docs/decisions/0034-identity-level-data.md) ----------------------

/** One label of a dataset and how many committed samples carry it. */
export interface LabelCount {
  label: Label;
  sampleCount: number;
}

/** What erasing one label removed, and the dataset after it. */
export interface LabelErasure {
  label: Label;
  samplesErased: number;
  tripletsErased: number;
  dataset: DatasetRecord;
}

/**
 * An upload's Idempotency-Key, written in the same transaction as the rows the upload appends,
 * so the key and the rows are stored together or not at all.
 */
/** What a delete of gallery items removed, and the gallery as that delete's transaction left it. */
export interface GalleryDeletion {
  deleted: number;
  gallery: GalleryRecord;
}

export interface IdempotentWrite {
  /** route, target (a dataset, a gallery) and caller the key belongs to */
  scope: string;
  key: string;
  /** SHA-256 (hex) of the raw request body */
  bodyHash: string;
  /** the reply's HTTP status */
  status: number;
  /** the reply body; each field named in `counts` is set from the record (dataset, gallery) as the commit leaves it */
  reply: Record<string, unknown>;
  counts?: Record<string, CommitCount>;
  /** how long the key is kept, from the commit */
  ttlMs: number;
}

/** A count of the record a commit leaves that an idempotent reply copies: a dataset's, or a gallery's. */
export type CommitCount = 'tripletCount' | 'sampleCount' | 'labelCount' | 'itemCount' | 'version';

/** A recorded Idempotency-Key with the reply its first request got. */
export interface StoredIdempotencyKey {
  scope: string;
  key: string;
  bodyHash: string;
  status: number;
  reply: Record<string, unknown>;
  createdAt: string;
  expiresAt: string;
}

/** Options of a commit: the idempotency key to record with it; the samples epoch its rows were built from. */
export interface CommitOptions {
  idempotency?: IdempotentWrite;
  /**
   * Rows derived from the samples (indexTriplets) as read at this epoch (StoredSamples.epoch):
   * DATASET_CHANGED (conflict) when samples were erased since, as their indices no longer hold.
   */
  samplesEpoch?: number;
}

export interface Store {
  /** a description of where the data lives (a file path, a database URL without credentials) */
  readonly location: string;
  close(): Promise<void>;
  /** false once closed, or once the store knows its database is lost (SQLite: the file deleted) */
  isOpen(): boolean;
  /**
   * Checks the storage itself: the database file is still the one opened (SQLite), the last write
   * did not fail or a probe write now succeeds, the connection answers (PostgreSQL).
   */
  health(): Promise<StoreHealth>;
  /**
   * The change feed: the listener hears of every committed write to jobs, models and datasets
   * (PostgreSQL: any replica's, by LISTEN/NOTIFY; SQLite: this store's own). Returns the unsubscribe.
   */
  watch(listener: (change: StoreChange) => void): () => void;

  createDataset(input: { name: string | null; dimension: number }): Promise<DatasetRecord>;
  getDataset(id: string): Promise<DatasetRecord | undefined>;
  listDatasets(page: PageRequest): Promise<Page<DatasetRecord>>;
  /**
   * Deletes the dataset, its vectors and its labels; false when unknown. DATASET_IN_USE (conflict)
   * while a queued or running job uses it: the check and the delete are one transaction. Then, as
   * eraseLabel, makes the bytes unreadable from the database files (when rows went).
   */
  deleteDataset(id: string): Promise<boolean>;
  /** Appends one chunk of triplets and bumps the count, in one transaction. DATASET_NOT_FOUND when gone. */
  appendTriplets(
    datasetId: string,
    data: Float32Array,
    count: number,
    limit?: CapacityLimit,
    options?: CommitOptions,
  ): Promise<DatasetRecord>;
  /** Appends one chunk of labelled samples and bumps the count and the label counts, in one transaction. */
  appendSamples(
    datasetId: string,
    data: Float32Array,
    labels: Label[],
    limit?: CapacityLimit,
    options?: CommitOptions,
  ): Promise<DatasetRecord>;
  /** Staged uploads: chunks are written as they stream in, invisible until commit. */
  stageChunk(
    uploadId: string,
    datasetId: string,
    kind: ChunkKind,
    data: Float32Array,
    count: number,
    labels?: Label[],
  ): Promise<void>;
  /** Makes every staged chunk of the upload visible and bumps the count, in one transaction. */
  commitStaged(
    uploadId: string,
    datasetId: string,
    kind: ChunkKind,
    count: number,
    limit?: CapacityLimit,
    options?: CommitOptions,
  ): Promise<DatasetRecord>;
  discardStaged(uploadId: string): Promise<void>;
  readTriplets(datasetId: string): Promise<StoredTriplets>;
  readSamples(datasetId: string): Promise<StoredSamples>;
  /**
   * The triplets as sample indices with the samples they index, from one consistent read; null
   * when the dataset has no triplets or any was uploaded as vectors. DATASET_NOT_FOUND when unknown.
   */
  readIndexedTriplets(datasetId: string): Promise<StoredIndexedTriplets | null>;

  /**
   * Queues a job. With `queueLimit`, the queued jobs are counted in the same transaction as the
   * insert, so concurrent callers cannot together pass it: QUEUE_FULL (kind busy) when full.
   * A training job's dataset is checked in the same transaction: DATASET_NOT_FOUND when it is gone,
   * so a job never waits in the queue for a dataset deleteDataset removed.
   * A reindex job marks its gallery moving to the model under the new job's id in the same
   * transaction, so a gallery is never held by a job that is not stored, and of two concurrent
   * reindexes (any replica) one is queued and the other refused: REINDEX_PENDING (conflict) while
   * a queued or running job holds the gallery (a holder that is over, or that no job row backs, is
   * let go and its pending embeddings dropped); GALLERY_NOT_FOUND; MODEL_NOT_FOUND;
   * DIMENSION_MISMATCH; MODEL_UNCHANGED (conflict) when the gallery is already on the model. Every
   * pending embedding of the gallery is cleared.
   */
  createJob(input: NewJob, queueLimit?: CapacityLimit): Promise<JobRecord>;
  getJob(id: string): Promise<JobRecord | undefined>;
  listJobs(page: PageRequest & { status?: JobStatus }): Promise<Page<JobRecord>>;
  countJobs(status: JobStatus): Promise<number>;
  /** The oldest queued job, left queued (the runner checks its budget before claiming it). */
  nextQueuedJob(): Promise<JobRecord | undefined>;
  /**
   * Takes the oldest queued job (or, with `id`, that job) and marks it running under `lease`,
   * atomically: attempts + 1, resumedFromIteration = the iteration of its checkpoint (null without
   * one). Undefined when none is queued (or that job no longer is). PostgreSQL: FOR UPDATE SKIP
   * LOCKED, so concurrent claims from any replica never get one job twice nor wait on each other.
   */
  claimNextJob(lease: JobLease, id?: string): Promise<JobRecord | undefined>;
  /**
   * Extends the lease by lease.ms from now while the job runs under lease.owner (also when it has
   * expired but no sweep requeued it yet); otherwise says why not and changes nothing.
   */
  renewJobLease(id: string, lease: JobLease): Promise<LeaseRenewal>;
  /** Running jobs whose lease expired (or that have none) go back to the queue, keeping their checkpoint. Returns how many. */
  requeueExpiredJobs(): Promise<number>;
  /**
   * At a runner's start: the running jobs no live runner can hold go back to the queue. SQLite
   * (one process trains on the file): every running job. PostgreSQL (replicas share it): only those
   * whose lease expired; the others belong to live replicas.
   */
  requeueOrphanedJobs(): Promise<number>;
  /** Graceful shutdown: the owner's running jobs go back to the queue now, keeping their checkpoint. */
  releaseJobs(owner: string): Promise<number>;
  /** Writes progress while the job runs under `owner`; otherwise nothing (a lost lease writes nothing). */
  updateJobProgress(id: string, progress: ReportedProgress, owner: string): Promise<void>;
  /**
   * The job's stored progress points (written by updateJobProgress, in the same transaction and
   * under the same fencing) with seq > after, oldest first; at most JOB_EVENTS_KEPT per job: when
   * full, every second point but the newest is dropped. nextCursor: the last seq when more follow.
   */
  listJobEvents(jobId: string, after: number, limit: number): Promise<Page<JobEvent>>;
  /** The seq of the job's newest stored progress point; 0 without one. */
  newestJobEventSeq(jobId: string): Promise<number>;
  /**
   * Ends a job that produced no model (failed or cancelled) and deletes its checkpoint. Without
   * `owner` (a cancel, or a queued job refused): while queued or running. With `owner`: only while
   * it runs under that owner. Otherwise ignored; the job as it is comes back.
   */
  finishJob(
    id: string,
    status: 'failed' | 'cancelled',
    error: JobError | null,
    metrics?: Record<string, unknown> | null,
    owner?: string,
  ): Promise<JobRecord>;
  /**
   * Writes the model, marks the job succeeded and deletes its checkpoint, in one transaction, only
   * while the job runs under `owner`: JOB_FINISHED (conflict) when it has ended, LEASE_LOST
   * (conflict) when it was requeued or another owner runs it; no model is stored then. In the
   * same transaction, the alias `default` moves to the model when the job says `promote`, or is
   * set when it is unset and this is the only model (as createModel does); `alias` is then the
   * alias as it now is (previousModel: where it pointed before), else null.
   */
  succeedJob(
    id: string,
    model: NewModel,
    metrics: Record<string, unknown>,
    owner: string,
  ): Promise<{ job: JobRecord; model: ModelRecord; alias: AliasRecord | null }>;
  /** Every running job goes back to the queue, whoever holds it. Returns how many. */
  requeueRunningJobs(): Promise<number>;
  /**
   * Replaces the job's checkpoint while the job runs under `owner`; false (nothing written) when it
   * does not. Large checkpoints are stored in parts (PostgreSQL).
   */
  saveCheckpoint(id: string, owner: string, iteration: number, data: Uint8Array): Promise<boolean>;
  /** The job's latest checkpoint, verified against its checksum; undefined without one. */
  readCheckpoint(id: string): Promise<StoredCheckpoint | undefined>;
  /** Deletes the job's checkpoint (it did not match the run) and clears resumedFromIteration, while `owner` runs it. */
  discardCheckpoint(id: string, owner: string): Promise<void>;
  activeJobsForDataset(datasetId: string): Promise<number>;

  /** Stores a model; the first (no other model exists) also sets the alias `default` if unset, in the same transaction. */
  createModel(model: NewModel): Promise<ModelRecord>;
  getModel(id: string): Promise<ModelRecord | undefined>;
  /** The weights, verified against their checksum. */
  getModelWeights(id: string): Promise<Float64Array | undefined>;
  listModels(page: PageRequest): Promise<Page<ModelRecord>>;
  newestModel(): Promise<ModelRecord | undefined>;
  /**
   * Deletes the model; false when unknown. MODEL_IN_USE (conflict) when something points to it:
   * an alias (the message names them). The check and the delete are one transaction.
   */
  deleteModel(id: string): Promise<boolean>;

  // ---- galleries (docs/decisions/0031-galleries.md) ----
  /** Creates a gallery pinned to input.modelId: MODEL_NOT_FOUND when that model does not exist. */
  createGallery(input: NewGallery): Promise<GalleryRecord>;
  getGallery(id: string): Promise<GalleryRecord | undefined>;
  /** Newest first. */
  listGalleries(page: PageRequest): Promise<Page<GalleryRecord>>;
  /**
   * Deletes the gallery and every item (features and embeddings); false when unknown. As item
   * erasure, the bytes of the items removed leave the database files.
   */
  deleteGallery(id: string): Promise<boolean>;
  /** Distinct labels among the gallery's items (items without a label not counted). */
  countGalleryLabels(id: string): Promise<number>;
  /** Stages items of an upload (invisible until commitGalleryItems): features n×d, embeddings n×k. */
  stageGalleryItems(
    uploadId: string,
    galleryId: string,
    ids: string[],
    labels: (Label | null)[],
    features: Float32Array,
    embeddings: Float32Array,
  ): Promise<void>;
  /**
   * Upserts every staged item of the upload (an existing id is replaced, its pending embedding
   * cleared), bumps the version, in one transaction; the staged rows go. Refused (nothing written):
   * GALLERY_NOT_FOUND; GALLERY_MODEL_CHANGED (conflict) when the gallery's model is no longer
   * `modelId`, the one the embeddings were computed with; LIMIT_EXCEEDED past `limit` items;
   * an error when `count` items are not staged. `options.idempotency` is recorded in the same
   * transaction (IDEMPOTENCY_KEY_IN_FLIGHT, nothing written, when another commit recorded it first).
   */
  commitGalleryItems(
    uploadId: string,
    galleryId: string,
    modelId: string,
    count: number,
    limit: CapacityLimit,
    options?: Pick<CommitOptions, 'idempotency'>,
  ): Promise<GalleryRecord>;
  discardGalleryItems(uploadId: string): Promise<void>;
  /** Deletes one item (version + 1 when it existed); how many went (0 or 1). GALLERY_NOT_FOUND. */
  deleteGalleryItem(galleryId: string, itemId: string): Promise<GalleryDeletion>;
  /**
   * Deletes every item of one identity: labelled `label` as a string, or as an integer when
   * `label` is an integer's decimal form, or only the one `type` says; how many went (version + 1
   * when any). Unsaid, VALIDATION_ERROR when the gallery holds both (two identities), nothing
   * deleted; with type integer, VALIDATION_ERROR for a label that is not one. GALLERY_NOT_FOUND.
   */
  deleteGalleryLabel(galleryId: string, label: string, type?: LabelType): Promise<GalleryDeletion>;
  /** The committed embeddings and the record they belong to, read together. GALLERY_NOT_FOUND. */
  readGalleryEmbeddings(galleryId: string): Promise<StoredGalleryEmbeddings>;
  /**
   * Up to `limit` items (by id) whose pending embedding is still null, their features, and how many
   * such items remain in all. REINDEX_NOT_HELD (conflict) when jobId no longer holds the reindex.
   */
  readUnindexed(galleryId: string, jobId: string, limit: number): Promise<UnindexedItems>;
  /**
   * Sets the batch's items' pending embeddings while jobId holds the reindex; else false. Items
   * deleted since the read are skipped, and so are items whose features are no longer the ones
   * read (replaced by an upsert): they stay unindexed, for the job to read and embed again.
   */
  writeReindexBatch(galleryId: string, jobId: string, batch: ReindexBatch): Promise<boolean>;
  /**
   * In one transaction: with every pending embedding set, embedding := pending for every item, the
   * model := the pending model, version + 1, pending state cleared; otherwise nothing, and how many
   * remain. REINDEX_NOT_HELD (conflict) when jobId no longer holds the reindex.
   */
  commitReindex(galleryId: string, jobId: string): Promise<ReindexCommit>;
  /** Clears the pending state (and pending embeddings) if jobId holds the reindex; otherwise nothing. */
  abortReindex(galleryId: string, jobId: string): Promise<void>;

  // ---- model names and aliases (docs/decisions/0030-model-aliases.md) ----
  /** Sets a model's name (null: none); undefined when the model does not exist. */
  renameModel(id: string, name: string | null): Promise<ModelRecord | undefined>;
  /**
   * Points the alias at the model, creating it if new, in one transaction with the check that the
   * model exists (MODEL_NOT_FOUND otherwise): an alias never points to a missing model. Pointing it
   * where it already points changes nothing. previousModel: where it pointed before this change.
   */
  setAlias(name: string, modelId: string): Promise<AliasRecord>;
  getAlias(name: string): Promise<AliasRecord | undefined>;
  /** Newest first, as every list. */
  listAliases(page: PageRequest): Promise<Page<AliasRecord>>;
  /** false when unknown. */
  deleteAlias(name: string): Promise<boolean>;
  // ---- identity-level data (docs/decisions/0034-identity-level-data.md) ----
  /**
   * The dataset's labels with their committed sample counts: integers first (ascending), then
   * strings (in byte order). DATASET_NOT_FOUND when unknown; INVALID_CURSOR for a foreign cursor.
   */
  listLabels(datasetId: string, page: PageRequest): Promise<Page<LabelCount>>;
  /**
   * Stages triplets gathered from samples (indexTriplets) with the sample indices of each row
   * (count × 3 int32), so an erasure can find and renumber them.
   */
  stageIndexTriplets(uploadId: string, datasetId: string, data: Float32Array, refs: Int32Array): Promise<void>;
  /**
   * Erases every committed sample with this label (1 and "1" are different labels) and every
   * triplet that holds one of them (by index, or a byte-equal copy of its vector), renumbers the
   * index triplets left, in one transaction; then makes the bytes unreadable from the database
   * files (SQLite: secure_delete and a WAL truncation; PostgreSQL: VACUUM). LABEL_NOT_FOUND,
   * DATASET_NOT_FOUND, DATASET_IN_USE (a queued or running job uses the dataset).
   */
  eraseLabel(datasetId: string, label: Label): Promise<LabelErasure>;
  /** The unexpired record of an Idempotency-Key, if any. */
  getIdempotencyKey(scope: string, key: string): Promise<StoredIdempotencyKey | undefined>;
  /** Deletes expired Idempotency-Keys (commits also purge a few); returns how many. */
  purgeIdempotencyKeys(): Promise<number>;
  /**
   * The end of a reindex job, in one transaction: commitReindex, and when it commits, the job
   * succeeded with its metrics and final progress; only while the job runs under `owner`
   * (JOB_FINISHED, LEASE_LOST otherwise, and nothing changes). A cancel and this are thus ordered:
   * a cancelled job never moves its gallery. Not committed (items remain): the job runs on.
   */
  succeedReindexJob(
    id: string,
    galleryId: string,
    owner: string,
    metrics: Record<string, unknown>,
    progress: ReportedProgress,
  ): Promise<ReindexJobCommit>;
}

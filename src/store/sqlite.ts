// Store on one SQLite file (better-sqlite3). WAL lets readers run beside the writer;
// synchronous=FULL makes every acknowledged commit survive power loss, not just a crash.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_ALIAS } from '../domain/aliases.js';
import { finiteProgress } from '../domain/records.js';
import { datasetInUseError, limitError, notFoundError, unavailableError, type DomainError } from '../domain/errors.js';
import type { TrainingParams } from '../domain/training.js';
import { newId } from './ids.js';
import { sqliteNewestFirst } from './newest-first.js';
import {
  bytesOf,
  checkCheckpoint,
  checksum,
  decodeCursor,
  eventPage,
  JOB_EVENTS_KEPT,
  jobRecord,
  json,
  newJobColumns,
  page,
  refusedRenewal,
  refuseModelInUse,
  refuseUnlessHeld,
  type Row,
} from './rows.js';
import { checkQueue } from './queue-limit.js';
import { concatRefs } from './index-refs.js';
import { MIGRATIONS } from './migrations.js';
import { SqliteGalleries } from './sqlite-galleries.js';
import { SqliteIdentity } from './sqlite-identity.js';
import { asyncStore, type SyncStore } from './async.js';
import { WalScrub } from './sqlite-scrub.js';
import {
  RECOVERY_BYTES,
  freeBytes,
  identityLost,
  isStorageFailure,
  recordIdentity,
  storageError,
} from './sqlite-health.js';
import type {
  AliasRecord,
  CapacityLimit,
  ChunkKind,
  CommitOptions,
  DatasetRecord,
  GalleryDeletion,
  GalleryRecord,
  JobError,
  JobEvent,
  JobLease,
  ReportedProgress,
  JobRecord,
  JobStatus,
  Label,
  LabelCount,
  LabelErasure,
  LeaseRenewal,
  ModelRecord,
  NewGallery,
  NewJob,
  ReindexJobCommit,
  NewModel,
  Page,
  PageRequest,
  ReindexCommit,
  Store,
  StoreHealth,
  StoredGalleryEmbeddings,
  StoredCheckpoint,
  StoredIdempotencyKey,
  StoredIndexedTriplets,
  StoredSamples,
  StoredTriplets,
  UnindexedItems,
  ReindexBatch,
  LabelType,
} from './types.js';

const now = () => new Date().toISOString();
const parse = <T>(v: unknown): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : null);

/** SQLite compares seq with a number. */
const seqBelow = (cursor: string | undefined): number => Number(decodeCursor(cursor));

function datasetFromRow(r: Row): DatasetRecord {
  return {
    id: r.id as string,
    name: (r.name as string | null) ?? null,
    dimension: r.dimension as number,
    tripletCount: r.triplet_count as number,
    sampleCount: r.sample_count as number,
    labelCount: r.label_count as number,
    createdAt: r.created_at as string,
  };
}

function jobFromRow(r: Row): JobRecord {
  return jobRecord(
    r,
    { params: parse(r.params), progress: parse(r.progress), metrics: parse(r.metrics), error: parse(r.error) },
    {
      createdAt: r.created_at as string,
      startedAt: (r.started_at as string | null) ?? null,
      finishedAt: (r.finished_at as string | null) ?? null,
    },
  );
}

function modelFromRow(r: Row): ModelRecord {
  return {
    id: r.id as string,
    jobId: (r.job_id as string | null) ?? null,
    name: (r.name as string | null) ?? null,
    inputDimension: r.input_dimension as number,
    outputDimension: r.output_dimension as number,
    normalize: r.normalize === 1,
    trainingParams: parse<TrainingParams>(r.training_params),
    metrics: parse<Record<string, unknown>>(r.metrics) ?? {},
    createdAt: r.created_at as string,
  };
}

function aliasFromRow(r: Row): AliasRecord {
  return {
    name: r.name as string,
    model: r.model_id as string,
    previousModel: (r.previous_model_id as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

const MODEL_COLUMNS =
  'seq, id, job_id, name, input_dimension, output_dimension, normalize, training_params, metrics, created_at';

/**
 * The SQLite database behind SqliteStore, synchronous as better-sqlite3 is. Transactions are
 * synchronous functions, so everything inside one stays on this class's own sync methods.
 */
export class SqliteDatabase implements SyncStore {
  readonly path: string;
  readonly location: string;
  private db: Database.Database;
  /** the database file and its WAL as opened; a write checks they are still what the paths name */
  private files: ReturnType<typeof recordIdentity> = [];
  /** why the files no longer are the ones opened; sticky, as the data written since is lost */
  private lost: string | undefined;
  /** the last write's storage failure (disk full, I/O error), until a write succeeds again */
  private failure: { message: string; full: boolean; freeAtFailure: number } | undefined;
  private readonly galleries: SqliteGalleries;
  /** the checkpoint after an erasure, and one an earlier erasure still owes */
  private readonly scrub: WalScrub;
  private readonly identity: SqliteIdentity;

  constructor(file: string, options: { readonly?: boolean } = {}) {
    this.path = file;
    this.location = file;
    let opened: Database.Database | undefined;
    try {
      if (!options.readonly) fs.mkdirSync(path.dirname(file), { recursive: true });
      this.db = opened = new Database(file, { readonly: options.readonly ?? false, timeout: 10_000 });
      if (!options.readonly) {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = FULL');
        this.db.pragma('foreign_keys = ON');
        // Freed pages and deleted cells are overwritten with zeros, so an erased sample's or gallery
        // item's bytes leave the file (docs/decisions/0034-identity-level-data.md, 0031-galleries.md).
        this.db.pragma('secure_delete = ON');
        this.migrate();
        // Staged chunks of uploads that never committed (the process died mid-stream) are garbage.
        this.db.prepare('DELETE FROM chunks WHERE upload_id IS NOT NULL').run();
        this.db.prepare('DELETE FROM gallery_staged_items').run();
        // An erasure whose process died before its checkpoint left its old bytes in the file and
        // the WAL: they go now (src/store/sqlite-scrub.ts).
        this.db.pragma('wal_checkpoint(TRUNCATE)');
        this.files = recordIdentity([file, `${file}-wal`]);
      }
    } catch (err) {
      // A start-up on an unreadable or read-only DATA_DIR: one clear sentence, not a stack.
      const why = err instanceof Error ? err.message : String(err);
      opened?.close();
      throw unavailableError(`cannot open the database ${file} (DATA_DIR): ${why}`);
    }
    this.galleries = new SqliteGalleries(this.db);
    this.scrub = new WalScrub(this.db);
    this.identity = new SqliteIdentity(this.db);
  }

  /** Runs a write: refused once the files are lost, checked again after it committed. */
  private write<T>(fn: () => T): T {
    this.checkFiles();
    let out: T;
    try {
      out = fn();
    } catch (err) {
      const mapped = storageError(err, this.path);
      if (isStorageFailure(mapped, err)) {
        const full = (mapped as DomainError).kind === 'storage_full';
        const freeAtFailure = full ? freeBytes(path.dirname(this.path)) : 0;
        this.failure = { message: (mapped as Error).message, full, freeAtFailure };
      }
      throw mapped;
    }
    this.failure = undefined;
    // A delete between the check and the commit put this write in the unlinked file: not durable.
    this.checkFiles();
    return out;
  }

  private checkFiles(): void {
    this.lost ??= identityLost(this.files);
    if (this.lost) throw unavailableError(`${this.lost}; writes stop until it is restored and the service restarts`);
  }

  health(): StoreHealth {
    if (!this.db.open) return { ok: false, reason: 'the database is closed' };
    try {
      this.checkFiles();
      if (this.failure) this.recovered(this.failure);
      this.db.prepare('SELECT 1').get();
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /**
   * Whether the storage came back after a failed write; throws while not. Out of space: when space
   * was freed (a one-page probe would pass while larger writes still fail). Otherwise: when a
   * probe write succeeds. A successful write of any size clears the failure.
   */
  private recovered(failure: { message: string; full: boolean; freeAtFailure: number }): void {
    if (!failure.full) return this.write(() => this.probeWrite());
    if (freeBytes(path.dirname(this.path)) < failure.freeAtFailure + RECOVERY_BYTES) throw new Error(failure.message);
  }

  /** Rewrites the header's user_version with its own value: a one-page commit, durable like any. */
  private probeWrite(): void {
    const v = this.db.pragma('user_version', { simple: true }) as number;
    this.db.pragma(`user_version = ${v}`);
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /** false once closed, and once its file is known lost: nothing written now could last */
  isOpen(): boolean {
    return this.db.open && this.lost === undefined;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- datasets -------------------------------------------------------------

  createDataset(input: { name: string | null; dimension: number }): DatasetRecord {
    return this.write(() => {
      const id = newId('ds');
      this.db
        .prepare('INSERT INTO datasets (id, name, dimension, created_at) VALUES (?, ?, ?, ?)')
        .run(id, input.name, input.dimension, now());
      return this.getDataset(id)!;
    });
  }

  getDataset(id: string): DatasetRecord | undefined {
    const r = this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as Row | undefined;
    return r ? datasetFromRow(r) : undefined;
  }

  listDatasets(req: PageRequest): Page<DatasetRecord> {
    return sqliteNewestFirst(this.db, 'datasets', req, datasetFromRow);
  }

  deleteDataset(id: string): boolean {
    // As after an erasure: the WAL still holds the dataset's pages as they were written.
    return this.erasing(
      () =>
        this.db
          .transaction(() => {
            // IMMEDIATE: the job check and the delete are one step; createJob checks the dataset
            // inside its own IMMEDIATE transaction, so no job gets in between them.
            if (!this.getDataset(id)) return false;
            this.refuseDatasetInUse(id);
            this.db.prepare('DELETE FROM chunks WHERE dataset_id = ?').run(id);
            // the labels are identity data as much as the vectors: they go with the dataset
            this.db.prepare('DELETE FROM dataset_labels WHERE dataset_id = ?').run(id);
            this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
            return true;
          })
          .immediate(),
      (deleted) => deleted,
    );
  }

  /**
   * An erasure (or a delete) as one write, followed by a checkpoint when `changed` says it removed
   * anything or an earlier one still owes it: the WAL still holds the pages as they were, the
   * checkpoint copies the zeroed ones into the file and cuts the WAL to nothing
   * (src/store/sqlite-scrub.ts). The write comes first, so a debt never holds an erasure back.
   */
  private erasing<T>(erase: () => T, changed: (out: T) => boolean): T {
    let out: T;
    try {
      out = this.write(erase);
    } catch (e) {
      this.scrub.payOwedQuietly();
      throw e;
    }
    if (changed(out)) this.scrub.run();
    else this.scrub.payOwed();
    return out;
  }

  /** DATASET_IN_USE while a queued or running job uses the dataset; run inside the write transaction. */
  private refuseDatasetInUse(datasetId: string): void {
    if (this.activeJobsForDataset(datasetId) > 0) throw datasetInUseError(datasetId);
  }

  appendTriplets(
    datasetId: string,
    data: Float32Array,
    count: number,
    limit?: CapacityLimit,
    options: CommitOptions = {},
  ): DatasetRecord {
    return this.write(() => {
      return this.db.transaction(() => {
        this.insertChunk(datasetId, 'triplets', data, count, null, null);
        const after = this.bump(datasetId, 'triplets', count, limit);
        this.identity.recordKey(options.idempotency, after);
        return after;
      })();
    });
  }

  appendSamples(
    datasetId: string,
    data: Float32Array,
    labels: Label[],
    limit?: CapacityLimit,
    options: CommitOptions = {},
  ): DatasetRecord {
    return this.write(() => {
      return this.db.transaction(() => {
        const seq = this.insertChunk(datasetId, 'samples', data, labels.length, labels, null);
        this.identity.addLabels(datasetId, { seq });
        const after = this.bump(datasetId, 'samples', labels.length, limit);
        this.identity.recordKey(options.idempotency, after);
        return after;
      })();
    });
  }

  stageChunk(
    uploadId: string,
    datasetId: string,
    kind: ChunkKind,
    data: Float32Array,
    count: number,
    labels?: Label[],
  ): void {
    return this.write(() => {
      this.insertChunk(datasetId, kind, data, count, labels ?? null, uploadId);
    });
  }

  commitStaged(
    uploadId: string,
    datasetId: string,
    kind: ChunkKind,
    count: number,
    limit?: CapacityLimit,
    options: CommitOptions = {},
  ): DatasetRecord {
    return this.write(() => {
      return this.db.transaction(() => {
        this.identity.checkEpoch(datasetId, options.samplesEpoch);
        if (kind === 'samples') this.identity.addLabels(datasetId, { uploadId });
        this.db.prepare('UPDATE chunks SET upload_id = NULL WHERE upload_id = ?').run(uploadId);
        const after = this.bump(datasetId, kind, count, limit);
        this.identity.recordKey(options.idempotency, after);
        return after;
      })();
    });
  }

  discardStaged(uploadId: string): void {
    return this.write(() => {
      this.db.prepare('DELETE FROM chunks WHERE upload_id = ?').run(uploadId);
    });
  }

  private insertChunk(
    datasetId: string,
    kind: ChunkKind,
    data: Float32Array,
    count: number,
    labels: Label[] | null,
    uploadId: string | null,
    refs: Int32Array | null = null,
  ): number | bigint {
    // one transaction (a savepoint inside the caller's): a chunk and its indices land together
    return this.db.transaction(() => {
      const seq = this.db
        .prepare('INSERT INTO chunks (dataset_id, kind, count, data, labels, upload_id) VALUES (?, ?, ?, ?, ?, ?)')
        .run(datasetId, kind, count, bytesOf(data), labels ? JSON.stringify(labels) : null, uploadId).lastInsertRowid;
      if (refs)
        this.db
          .prepare('INSERT INTO chunk_refs (seq, refs) VALUES (?, ?)')
          .run(seq, Buffer.from(refs.buffer, refs.byteOffset, refs.byteLength));
      return seq;
    })();
  }

  /**
   * Adds to a dataset's count inside the caller's transaction. The limit is checked against the
   * count this transaction sees, so concurrent uploads cannot together pass it.
   */
  private bump(datasetId: string, kind: ChunkKind, count: number, limit?: CapacityLimit): DatasetRecord {
    const column = kind === 'triplets' ? 'triplet_count' : 'sample_count';
    const changed = this.db
      .prepare(`UPDATE datasets SET ${column} = ${column} + ? WHERE id = ?`)
      .run(count, datasetId).changes;
    // The dataset was deleted mid-upload: throwing rolls the whole transaction back.
    if (changed === 0) throw notFoundError('DATASET_NOT_FOUND', `dataset ${datasetId} does not exist`);
    const after = this.getDataset(datasetId)!;
    const have = kind === 'triplets' ? after.tripletCount : after.sampleCount;
    if (limit && have > limit.max) {
      throw limitError(`dataset ${datasetId} would hold ${have} ${kind}; the limit is ${limit.max} (${limit.setting})`);
    }
    return after;
  }

  /** Committed chunks of one kind, concatenated in upload order. */
  private readChunks(
    datasetId: string,
    kind: ChunkKind,
    rowFloats: number,
  ): { count: number; data: Float32Array; labels: Label[] } {
    const rows = this.db
      .prepare(
        'SELECT count, data, labels FROM chunks WHERE dataset_id = ? AND kind = ? AND upload_id IS NULL ORDER BY seq',
      )
      .all(datasetId, kind) as { count: number; data: Buffer; labels: string | null }[];
    const total = rows.reduce((s, r) => s + r.count, 0);
    const out = new Float32Array(total * rowFloats);
    const labels: Label[] = [];
    let offset = 0;
    for (const r of rows) {
      if (r.data.byteLength !== r.count * rowFloats * 4)
        throw new Error(`corrupt ${kind} chunk in dataset ${datasetId}`);
      // Copy through a byte view: blobs are not guaranteed to be 4-byte aligned.
      new Uint8Array(out.buffer, offset * 4, r.data.byteLength).set(r.data);
      offset += r.count * rowFloats;
      if (r.labels !== null) for (const l of JSON.parse(r.labels) as Label[]) labels.push(l);
    }
    return { count: total, data: out, labels };
  }

  readTriplets(datasetId: string): StoredTriplets {
    const ds = this.requireDataset(datasetId);
    const { count, data } = this.readChunks(datasetId, 'triplets', 3 * ds.dimension);
    return { count, dimension: ds.dimension, data };
  }

  readSamples(datasetId: string): StoredSamples {
    // one read transaction: the epoch is the one of the rows read
    return this.db.transaction(() => {
      const ds = this.requireDataset(datasetId);
      const { count, data, labels } = this.readChunks(datasetId, 'samples', ds.dimension);
      if (labels.length !== count)
        throw new Error(`dataset ${datasetId}: ${count} samples but ${labels.length} labels`);
      return { count, dimension: ds.dimension, data, labels, epoch: this.identity.epochOf(datasetId) };
    })();
  }

  readIndexedTriplets(datasetId: string): StoredIndexedTriplets | null {
    // one read transaction: the indices are those of the samples read with them
    return this.db.transaction(() => {
      const ds = this.requireDataset(datasetId);
      // the refs' own table: a column after `data` would walk its overflow pages (migration 0056)
      const chunks = this.db
        .prepare(
          `SELECT c.count, r.refs FROM chunks c LEFT JOIN chunk_refs r ON r.seq = c.seq
           WHERE c.dataset_id = ? AND c.kind = 'triplets' AND c.upload_id IS NULL ORDER BY c.seq`,
        )
        .all(datasetId) as { count: number; refs: Buffer | null }[];
      const refs = concatRefs(chunks);
      if (!refs) return null;
      const { count, data } = this.readChunks(datasetId, 'samples', ds.dimension);
      return { count: refs.length / 3, dimension: ds.dimension, refs, samples: { count, data } };
    })();
  }

  private requireDataset(id: string): DatasetRecord {
    const ds = this.getDataset(id);
    if (!ds) throw notFoundError('DATASET_NOT_FOUND', `dataset ${id} does not exist`);
    return ds;
  }

  // ---- jobs -----------------------------------------------------------------

  createJob(input: NewJob, queueLimit?: CapacityLimit): JobRecord {
    return this.write(() => {
      const id = newId('job');
      // IMMEDIATE: the write lock is taken before the count, so another process cannot slip in between.
      this.db
        .transaction(() => {
          // In this transaction, so a deleteDataset (which refuses while a job is queued) cannot
          // delete the dataset between the check and the insert. No foreign key: finished jobs
          // outlive their dataset. A reindex job's gallery is marked here too: the holder check,
          // the mark and the insert are one step, so no other reindex can take the gallery over.
          const from =
            input.kind === 'reindex'
              ? this.galleries.holdForJob(input.reindex.galleryId, id, input.reindex.modelId)
              : null;
          const job = newJobColumns(id, input, from);
          if (job.datasetId !== null) this.requireDataset(job.datasetId);
          if (queueLimit) checkQueue(this.countJobs('queued'), queueLimit);
          this.db
            .prepare(
              `INSERT INTO jobs (id, status, kind, dataset_id, gallery_id, params, created_at, model_name, promote)
               VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(job.id, job.kind, job.datasetId, job.galleryId, job.params, now(), job.modelName, job.promote ? 1 : 0);
        })
        .immediate();
      return this.getJob(id)!;
    });
  }

  getJob(id: string): JobRecord | undefined {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return r ? jobFromRow(r) : undefined;
  }

  listJobs(req: PageRequest & { status?: JobStatus }): Page<JobRecord> {
    const cursor = seqBelow(req.cursor);
    const rows = (
      req.status
        ? this.db
            .prepare('SELECT * FROM jobs WHERE seq < ? AND status = ? ORDER BY seq DESC LIMIT ?')
            .all(cursor, req.status, req.limit + 1)
        : this.db.prepare('SELECT * FROM jobs WHERE seq < ? ORDER BY seq DESC LIMIT ?').all(cursor, req.limit + 1)
    ) as Row[];
    return page(rows, req.limit, jobFromRow);
  }

  countJobs(status: JobStatus): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM jobs WHERE status = ?').get(status) as { n: number }).n;
  }

  nextQueuedJob(): JobRecord | undefined {
    const r = this.db.prepare("SELECT * FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1").get() as
      Row | undefined;
    return r ? jobFromRow(r) : undefined;
  }

  claimNextJob(lease: JobLease, id?: string): JobRecord | undefined {
    return this.write(() =>
      this.db
        .transaction(() => {
          const r =
            id !== undefined
              ? { id }
              : (this.db.prepare("SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1").get() as
                  { id: string } | undefined);
          if (!r) return undefined;
          const changed = this.db
            .prepare(
              `UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, ?), lease_owner = ?,
                 lease_expires_at = ?, attempts = attempts + 1,
                 resumed_from_iteration = (SELECT iteration FROM job_checkpoints WHERE job_id = jobs.id)
               WHERE id = ? AND status = 'queued'`,
            )
            .run(now(), lease.owner, Date.now() + lease.ms, r.id).changes;
          return changed > 0 ? this.getJob(r.id) : undefined;
        })
        .immediate(),
    );
  }

  renewJobLease(id: string, lease: JobLease): LeaseRenewal {
    return this.write(() => {
      const changed = this.db
        .prepare("UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND status = 'running' AND lease_owner = ?")
        .run(Date.now() + lease.ms, id, lease.owner).changes;
      if (changed > 0) return { held: true };
      return refusedRenewal(
        this.db.prepare('SELECT status, lease_owner FROM jobs WHERE id = ?').get(id) as
          { status: string; lease_owner: string | null } | undefined,
      );
    });
  }

  requeueExpiredJobs(): number {
    return this.write(
      () =>
        this.db
          .prepare(
            `UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL
             WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)`,
          )
          .run(Date.now()).changes,
    );
  }

  /** One process trains on a SQLite file: at its start, no other runner can hold a running job. */
  requeueOrphanedJobs(): number {
    return this.requeueRunningJobs();
  }

  releaseJobs(owner: string): number {
    return this.write(
      () =>
        this.db
          .prepare(
            "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL WHERE status = 'running' AND lease_owner = ?",
          )
          .run(owner).changes,
    );
  }

  updateJobProgress(id: string, progress: ReportedProgress, owner: string): void {
    return this.write(() => {
      this.db.transaction(() => {
        const text = JSON.stringify(progress);
        const changed = this.db
          .prepare("UPDATE jobs SET progress = ? WHERE id = ? AND status = 'running' AND lease_owner = ?")
          .run(text, id, owner).changes;
        if (changed > 0) this.appendJobEvent(id, text);
      })();
    });
  }

  /** Stores one progress point; past JOB_EVENTS_KEPT, every second one but the newest goes. */
  private appendJobEvent(jobId: string, payload: string): void {
    const { seq, count } = this.db
      .prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS seq, COUNT(*) + 1 AS count FROM job_events WHERE job_id = ?')
      .get(jobId) as { seq: number; count: number };
    this.db
      .prepare('INSERT INTO job_events (job_id, seq, payload, created_at) VALUES (?, ?, ?, ?)')
      .run(jobId, seq, payload, now());
    if (count <= JOB_EVENTS_KEPT) return;
    this.db
      .prepare(
        `DELETE FROM job_events WHERE job_id = ? AND seq IN (
           SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS n FROM job_events WHERE job_id = ?)
           WHERE n % 2 = 0 AND seq < ?)`,
      )
      .run(jobId, jobId, seq);
  }

  newestJobEventSeq(jobId: string): number {
    const r = this.db.prepare('SELECT MAX(seq) AS seq FROM job_events WHERE job_id = ?').get(jobId) as Row;
    return (r.seq as number | null) ?? 0;
  }

  listJobEvents(jobId: string, after: number, limit: number): Page<JobEvent> {
    const rows = this.db
      .prepare('SELECT seq, payload, created_at FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?')
      .all(jobId, after, limit + 1) as Row[];
    return eventPage(rows, limit, (r) => ({
      seq: r.seq as number,
      createdAt: r.created_at as string,
      progress: finiteProgress(JSON.parse(r.payload as string))!,
    }));
  }

  finishJob(
    id: string,
    status: 'failed' | 'cancelled',
    error: JobError | null,
    metrics: Record<string, unknown> | null = null,
    owner?: string,
  ): JobRecord {
    return this.write(() =>
      this.db
        .transaction(() => {
          const changed = this.db
            .prepare(
              `UPDATE jobs SET status = ?, error = ?, metrics = COALESCE(?, metrics), finished_at = ?,
                 lease_owner = NULL, lease_expires_at = NULL
               WHERE id = ? AND (CASE WHEN ? IS NULL THEN status IN ('queued', 'running')
                                      ELSE status = 'running' AND lease_owner = ? END)`,
            )
            .run(status, json(error), json(metrics), now(), id, owner ?? null, owner ?? null).changes;
          if (changed > 0) this.db.prepare('DELETE FROM job_checkpoints WHERE job_id = ?').run(id);
          return this.getJob(id)!;
        })
        .immediate(),
    );
  }

  succeedJob(
    id: string,
    model: NewModel,
    metrics: Record<string, unknown>,
    owner: string,
  ): { job: JobRecord; model: ModelRecord; alias: AliasRecord | null } {
    return this.write(() => {
      return this.db
        .transaction(() => {
          // A job cancelled while its last iteration ran keeps its cancellation; one whose lease passed
          // to another runner is that runner's to finish: no model either way.
          const row = this.db.prepare('SELECT status, lease_owner, promote FROM jobs WHERE id = ?').get(id) as
            Row | undefined;
          refuseUnlessHeld(id, owner, row);
          const rec = this.insertModel(model);
          const first = this.defaultIfFirst(rec.id);
          const alias = row!.promote === 1 ? this.pointAlias(DEFAULT_ALIAS, rec.id) : first;
          this.db
            .prepare(
              `UPDATE jobs SET status = 'succeeded', metrics = ?, model_id = ?, error = NULL, finished_at = ?,
                 lease_owner = NULL, lease_expires_at = NULL WHERE id = ?`,
            )
            .run(JSON.stringify(metrics), rec.id, now(), id);
          this.db.prepare('DELETE FROM job_checkpoints WHERE job_id = ?').run(id);
          return { job: this.getJob(id)!, model: rec, alias };
        })
        .immediate();
    });
  }

  requeueRunningJobs(): number {
    return this.write(() => {
      return this.db
        .prepare(
          "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL WHERE status = 'running'",
        )
        .run().changes;
    });
  }

  private holds(id: string, owner: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM jobs WHERE id = ? AND status = 'running' AND lease_owner = ?").get(id, owner) !==
      undefined
    );
  }

  saveCheckpoint(id: string, owner: string, iteration: number, data: Uint8Array): boolean {
    return this.write(() =>
      this.db
        .transaction(() => {
          if (!this.holds(id, owner)) return false;
          this.db
            .prepare(
              `INSERT INTO job_checkpoints (job_id, iteration, data, checksum, created_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (job_id) DO UPDATE SET iteration = excluded.iteration, data = excluded.data,
                 checksum = excluded.checksum, created_at = excluded.created_at`,
            )
            .run(id, iteration, data, checksum(data), now());
          return true;
        })
        .immediate(),
    );
  }

  readCheckpoint(id: string): StoredCheckpoint | undefined {
    const r = this.db.prepare('SELECT iteration, data, checksum FROM job_checkpoints WHERE job_id = ?').get(id) as
      { iteration: number; data: Buffer; checksum: string } | undefined;
    if (!r) return undefined;
    checkCheckpoint(id, r.data, r.checksum);
    return { iteration: r.iteration, data: new Uint8Array(r.data) };
  }

  discardCheckpoint(id: string, owner: string): void {
    return this.write(() =>
      this.db
        .transaction(() => {
          if (!this.holds(id, owner)) return;
          this.db.prepare('DELETE FROM job_checkpoints WHERE job_id = ?').run(id);
          this.db.prepare('UPDATE jobs SET resumed_from_iteration = NULL WHERE id = ?').run(id);
        })
        .immediate(),
    );
  }

  activeJobsForDataset(datasetId: string): number {
    const r = this.db
      .prepare("SELECT COUNT(*) AS n FROM jobs WHERE dataset_id = ? AND status IN ('queued', 'running')")
      .get(datasetId) as { n: number };
    return r.n;
  }

  // ---- models ---------------------------------------------------------------

  createModel(model: NewModel): ModelRecord {
    return this.write(() =>
      this.db
        .transaction(() => {
          const rec = this.insertModel(model);
          this.defaultIfFirst(rec.id);
          return rec;
        })
        .immediate(),
    );
  }

  private insertModel(model: NewModel): ModelRecord {
    const id = newId('mdl');
    const blob = bytesOf(model.weights);
    this.db
      .prepare(
        `INSERT INTO models (id, job_id, name, input_dimension, output_dimension, normalize, training_params, metrics, weights, checksum, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        model.jobId,
        model.name,
        model.inputDimension,
        model.outputDimension,
        model.normalize ? 1 : 0,
        json(model.trainingParams),
        JSON.stringify(model.metrics),
        blob,
        checksum(blob),
        now(),
      );
    return this.getModel(id)!;
  }

  /** The first model (no other exists) sets `default` when it is unset; the alias as set, else null. */
  private defaultIfFirst(modelId: string): AliasRecord | null {
    if (this.getAlias(DEFAULT_ALIAS)) return null;
    if (this.db.prepare('SELECT 1 FROM models WHERE id <> ? LIMIT 1').get(modelId)) return null;
    return this.pointAlias(DEFAULT_ALIAS, modelId);
  }

  getModel(id: string): ModelRecord | undefined {
    const r = this.db.prepare(`SELECT ${MODEL_COLUMNS} FROM models WHERE id = ?`).get(id) as Row | undefined;
    return r ? modelFromRow(r) : undefined;
  }

  getModelWeights(id: string): Float64Array | undefined {
    const r = this.db
      .prepare('SELECT weights, checksum, input_dimension AS d, output_dimension AS k FROM models WHERE id = ?')
      .get(id) as { weights: Buffer; checksum: string; d: number; k: number } | undefined;
    if (!r) return undefined;
    if (r.weights.byteLength !== r.k * r.d * 8 || checksum(r.weights) !== r.checksum) {
      throw new Error(`model ${id} failed its integrity check (length or checksum)`);
    }
    const out = new Float64Array(r.k * r.d);
    new Uint8Array(out.buffer).set(r.weights);
    return out;
  }

  listModels(req: PageRequest): Page<ModelRecord> {
    return sqliteNewestFirst(this.db, 'models', req, modelFromRow, MODEL_COLUMNS);
  }

  newestModel(): ModelRecord | undefined {
    const r = this.db.prepare(`SELECT ${MODEL_COLUMNS} FROM models ORDER BY seq DESC LIMIT 1`).get() as Row | undefined;
    return r ? modelFromRow(r) : undefined;
  }

  deleteModel(id: string): boolean {
    return this.write(() =>
      this.db
        .transaction(() => {
          // What points to a model keeps it: an alias, or a gallery pinned (or reindexing) to it.
          const aliases = this.db.prepare('SELECT name FROM aliases WHERE model_id = ? ORDER BY name').all(id) as {
            name: string;
          }[];
          refuseModelInUse(
            id,
            aliases.map((a) => a.name),
          );
          this.galleries.refuseIfModelUsed(id);
          return this.db.prepare('DELETE FROM models WHERE id = ?').run(id).changes > 0;
        })
        .immediate(),
    );
  }

  // ---- model names and aliases ------------------------------------------------

  renameModel(id: string, name: string | null): ModelRecord | undefined {
    return this.write(() => {
      const changed = this.db.prepare('UPDATE models SET name = ? WHERE id = ?').run(name, id).changes;
      return changed > 0 ? this.getModel(id) : undefined;
    });
  }

  setAlias(name: string, modelId: string): AliasRecord {
    return this.write(() => this.db.transaction(() => this.pointAlias(name, modelId)).immediate());
  }

  /** Inside the caller's transaction: the model must exist; pointing where it points changes nothing. */
  private pointAlias(name: string, modelId: string): AliasRecord {
    if (!this.db.prepare('SELECT 1 FROM models WHERE id = ?').get(modelId))
      throw notFoundError('MODEL_NOT_FOUND', `model ${modelId} does not exist`);
    const current = this.getAlias(name);
    if (current?.model === modelId) return current;
    const at = now();
    if (current) {
      this.db
        .prepare('UPDATE aliases SET model_id = ?, previous_model_id = ?, updated_at = ? WHERE name = ?')
        .run(modelId, current.model, at, name);
    } else {
      this.db
        .prepare('INSERT INTO aliases (name, model_id, created_at, updated_at) VALUES (?, ?, ?, ?)')
        .run(name, modelId, at, at);
    }
    return this.getAlias(name)!;
  }

  getAlias(name: string): AliasRecord | undefined {
    const r = this.db.prepare('SELECT * FROM aliases WHERE name = ?').get(name) as Row | undefined;
    return r ? aliasFromRow(r) : undefined;
  }

  listAliases(req: PageRequest): Page<AliasRecord> {
    return sqliteNewestFirst(this.db, 'aliases', req, aliasFromRow);
  }

  deleteAlias(name: string): boolean {
    return this.write(() => this.db.prepare('DELETE FROM aliases WHERE name = ?').run(name).changes > 0);
  }

  // ---- galleries (src/store/sqlite-galleries.ts) ------------------------------

  createGallery(input: NewGallery): GalleryRecord {
    return this.write(() => this.galleries.create(input));
  }

  getGallery(id: string): GalleryRecord | undefined {
    return this.galleries.get(id);
  }

  listGalleries(req: PageRequest): Page<GalleryRecord> {
    return this.galleries.list(req);
  }

  deleteGallery(id: string): boolean {
    return this.erasing(
      () => this.galleries.delete(id),
      () => true,
    );
  }

  countGalleryLabels(id: string): number {
    return this.galleries.countLabels(id);
  }

  stageGalleryItems(
    uploadId: string,
    galleryId: string,
    ids: string[],
    labels: (Label | null)[],
    features: Float32Array,
    embeddings: Float32Array,
  ): void {
    return this.write(() => this.galleries.stage(uploadId, galleryId, ids, labels, features, embeddings));
  }

  commitGalleryItems(
    uploadId: string,
    galleryId: string,
    modelId: string,
    count: number,
    limit: CapacityLimit,
    options: Pick<CommitOptions, 'idempotency'> = {},
  ): GalleryRecord {
    return this.write(() =>
      this.galleries.commit(uploadId, galleryId, modelId, count, limit, (after) =>
        this.identity.recordKey(options.idempotency, after),
      ),
    );
  }

  discardGalleryItems(uploadId: string): void {
    return this.write(() => this.galleries.discard(uploadId));
  }

  deleteGalleryItem(galleryId: string, itemId: string): GalleryDeletion {
    return this.erasing(
      () => this.galleries.deleteItem(galleryId, itemId),
      (r) => r.deleted > 0,
    );
  }

  deleteGalleryLabel(galleryId: string, label: string, type?: LabelType): GalleryDeletion {
    return this.erasing(
      () => this.galleries.deleteLabel(galleryId, label, type),
      (r) => r.deleted > 0,
    );
  }

  readGalleryEmbeddings(galleryId: string): StoredGalleryEmbeddings {
    return this.galleries.readEmbeddings(galleryId);
  }

  readUnindexed(galleryId: string, jobId: string, limit: number): UnindexedItems {
    return this.galleries.readUnindexed(galleryId, jobId, limit);
  }

  writeReindexBatch(galleryId: string, jobId: string, batch: ReindexBatch): boolean {
    return this.write(() => this.galleries.writeReindexBatch(galleryId, jobId, batch));
  }

  commitReindex(galleryId: string, jobId: string): ReindexCommit {
    return this.write(() => this.galleries.commitReindex(galleryId, jobId));
  }

  abortReindex(galleryId: string, jobId: string): void {
    return this.write(() => this.galleries.abortReindex(galleryId, jobId));
  }

  // ---- identity-level data (sqlite-identity.ts) ---------------------------------

  listLabels(datasetId: string, req: PageRequest): Page<LabelCount> {
    this.requireDataset(datasetId);
    return this.identity.listLabels(datasetId, req);
  }

  stageIndexTriplets(uploadId: string, datasetId: string, data: Float32Array, refs: Int32Array): void {
    return this.write(() => {
      this.insertChunk(datasetId, 'triplets', data, refs.length / 3, null, uploadId, refs);
    });
  }

  eraseLabel(datasetId: string, label: Label): LabelErasure {
    return this.erasing(
      () =>
        this.db
          .transaction(() => {
            const ds = this.requireDataset(datasetId);
            this.refuseDatasetInUse(datasetId);
            const erased = this.identity.erase(ds, label);
            return { label, ...erased, dataset: this.getDataset(datasetId)! };
          })
          .immediate(),
      () => true,
    );
  }

  getIdempotencyKey(scope: string, key: string): StoredIdempotencyKey | undefined {
    return this.identity.getKey(scope, key);
  }

  purgeIdempotencyKeys(): number {
    return this.write(() => this.identity.purgeKeys());
  }

  succeedReindexJob(
    id: string,
    galleryId: string,
    owner: string,
    metrics: Record<string, unknown>,
    progress: ReportedProgress,
  ): ReindexJobCommit {
    return this.write(() =>
      this.db
        .transaction((): ReindexJobCommit => {
          refuseUnlessHeld(
            id,
            owner,
            this.db.prepare('SELECT status, lease_owner FROM jobs WHERE id = ?').get(id) as Row | undefined,
          );
          // nested: a savepoint inside this transaction
          const done = this.galleries.commitReindex(galleryId, id);
          if (!done.committed) return done;
          this.db
            .prepare(
              `UPDATE jobs SET status = 'succeeded', metrics = ?, progress = ?, error = NULL, finished_at = ?,
                 lease_owner = NULL, lease_expires_at = NULL WHERE id = ?`,
            )
            .run(JSON.stringify(metrics), JSON.stringify(progress), now(), id);
          this.db.prepare('DELETE FROM job_checkpoints WHERE job_id = ?').run(id);
          return { committed: true, job: this.getJob(id)!, gallery: done.gallery };
        })
        .immediate(),
    );
  }
}

/** A Store on one SQLite file; `path` is the file. */
export type SqliteStore = Store & { readonly path: string };

/** Opens (creating and migrating) the database file as a Store. */
export function openSqliteStore(file: string): SqliteStore {
  const db = new SqliteDatabase(file);
  return Object.assign(asyncStore(db), { path: db.path });
}

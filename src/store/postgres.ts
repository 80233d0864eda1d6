// Store on PostgreSQL (pg with a pool), for replicas that share one database. Same semantics as
// the SQLite store (test/store/contract.ts); what differs is concurrency: several processes write
// at once, so every check that guards a write runs inside the transaction that makes it, on rows
// that transaction has locked. docs/decisions/0015-postgresql-store.md says why it is built so.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { DEFAULT_ALIAS } from '../domain/aliases.js';
import { finiteProgress } from '../domain/records.js';
import { datasetInUseError, limitError, notFoundError } from '../domain/errors.js';
import { newId } from './ids.js';
import { postgresNewestFirst } from './newest-first.js';
import { concatRefs } from './index-refs.js';
import { checkQueue } from './queue-limit.js';
import { ASYNC_METHODS } from './async.js';
import { ChangeHub } from './change-feed.js';
import { pgStorageError } from './postgres-errors.js';
import { PostgresGalleries } from './postgres-galleries.js';
import { oweScrub, payScrubs } from './postgres-scrubs.js';
import { migrate } from './postgres-migrations.js';
import { PgChangeListener, type ChangeFeedOptions } from './postgres-notify.js';
import { MODEL_COLUMNS, aliasFromRow, datasetFromRow, jobFromRow, modelFromRow } from './postgres-rows.js';
import * as identity from './postgres-identity.js';
import {
  bytesOf,
  checkCheckpoint,
  checksum,
  decodeCursor,
  eventPage,
  JOB_EVENTS_KEPT,
  json,
  newJobColumns,
  page,
  refusedRenewal,
  refuseModelInUse,
  refuseUnlessHeld,
  type Row,
} from './rows.js';
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
  StoreChange,
  StoredGalleryEmbeddings,
  StoreHealth,
  StoredCheckpoint,
  StoredIdempotencyKey,
  StoredIndexedTriplets,
  StoredSamples,
  StoredTriplets,
  UnindexedItems,
  ReindexBatch,
  LabelType,
} from './types.js';

export interface PostgresStoreOptions {
  /** how long to wait for a new connection before the request fails with 503 (default 5000) */
  connectTimeoutMs?: number;
  /** most connections this store's pool opens (default 10) */
  maxConnections?: number;
  /**
   * Staged chunks older than this are swept when a store opens, and every `stagedSweepMs` after
   * (default 1 hour). Younger ones may belong to another replica's upload in flight, so they stay;
   * an upload must finish within it.
   */
  stagedGraceMs?: number;
  /**
   * How often an open store sweeps stale staged chunks (default 5 minutes). Without it, the chunks
   * of an upload whose process died stayed until some replica started again, which a fleet that
   * never restarts never does.
   */
  stagedSweepMs?: number;
  /** errors of idle pooled connections (the server restarted, say); the next query reports its own */
  onPoolError?: (err: Error) => void;
  /** the change feed's reconnect and ping timing (src/store/postgres-notify.ts) */
  changeFeed?: ChangeFeedOptions;
  /**
   * After an erasure: `full` (default) rewrites the tables, so the bytes are gone from the files,
   * under an exclusive lock on every dataset's chunks while it runs; `plain` VACUUM removes the old
   * row versions without that lock but may leave their bytes in free page space
   * (docs/decisions/0034-identity-level-data.md).
   */
  eraseVacuum?: 'full' | 'plain';
  /**
   * How long an erasure's vacuum waits for transactions older than the erasure (which still see its
   * rows, so the vacuum would keep them) to end; past it the vacuum runs anyway (default 30 s).
   */
  eraseSnapshotWaitMs?: number;
}

const DEFAULT_STAGED_GRACE_MS = 60 * 60 * 1000;
const DEFAULT_STAGED_SWEEP_MS = 5 * 60 * 1000;
const DEFAULT_ERASE_SNAPSHOT_WAIT_MS = 30_000;
const ERASE_SNAPSHOT_POLL_MS = 50;

/** Anything that runs a query: the pool, or one client inside a transaction. */
interface Queryable {
  query<R extends pg.QueryResultRow = Row>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** The URL for messages and logs: everything but the password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/** Runs fn in one transaction on one pooled connection; a throw rolls everything back. */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out connection that dies (PostgreSQL restarted, the network cut) emits 'error' as well
  // as failing its query, and the pool listens only to idle ones: without this listener the emit
  // would end the process. The failed query rejects fn; the connection is dropped, not pooled.
  const onError = (e: Error) => (broken ??= e);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    // A connection whose ROLLBACK fails is in an unknown state: drop it instead of pooling it.
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

/** A checkpoint is stored in parts of at most this many bytes (bytea values are sent whole). */
const CHECKPOINT_PART_BYTES = 8 * 1024 * 1024;

/** pg_advisory_xact_lock key of the job queue (any fixed number no other lock uses). */
const QUEUE_LOCK = 0x71e0e;
/** The largest value of an int4 column. */
const INT4_MAX = 2 ** 31 - 1;

const countColumn = (kind: ChunkKind) => (kind === 'triplets' ? 'triplet_count' : 'sample_count');

export class PostgresStore implements Store {
  readonly location: string;
  private readonly pool: pg.Pool;
  /** This open store's name on the chunks it stages: only it may commit them. */
  private readonly instance = `st_${randomBytes(9).toString('base64url')}`;
  private closed = false;
  private readonly changes = new ChangeHub();
  /** the LISTEN connection, from start() on */
  private feed: PgChangeListener | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly galleries: PostgresGalleries;

  constructor(
    private readonly url: string,
    private readonly options: PostgresStoreOptions = {},
  ) {
    this.location = redactUrl(url);
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      application_name: 'triplet-embed',
      // A server that drops packets silently must not hold requests forever: a connection that
      // cannot be made in time is 503 STORAGE_UNAVAILABLE, and keep-alive finds dead idle ones.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      keepAlive: true,
    });
    // Without a listener an idle connection's error would end the process.
    this.pool.on('error', options.onPoolError ?? (() => {}));
    this.galleries = new PostgresGalleries(this.pool, (fn) => inTransaction(this.pool, fn));
    this.translateErrors();
  }

  /** Every method's storage failures (a lost connection, a full disk) become domain errors. */
  private translateErrors(): void {
    const self = this as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const name of Object.keys(ASYNC_METHODS)) {
      if (name === 'close' || name === 'health') continue;
      const method = self[name].bind(this);
      self[name] = (...args) =>
        method(...args).catch((err: unknown) => {
          throw pgStorageError(err, this.location);
        });
    }
  }

  /** Ready while the pool can run a query; the caller bounds the wait (a black-holed network). */
  async health(): Promise<StoreHealth> {
    if (this.closed) return { ok: false, reason: 'the store is closed' };
    try {
      await this.pool.query('SELECT 1');
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `PostgreSQL at ${this.location} does not answer: ${(err as Error).message}` };
    }
  }

  /**
   * Migrates under the lock, sweeps staged chunks that outlived the grace period, and starts the
   * change feed (which never fails the start: without its connection it says `lost` and retries).
   */
  async start(stagedGraceMs = DEFAULT_STAGED_GRACE_MS): Promise<void> {
    await inTransaction(this.pool, (c) => migrate(c));
    await this.sweepStaged(stagedGraceMs);
    if (this.closed || this.feed) return;
    this.startSweeper(stagedGraceMs);
    this.feed = new PgChangeListener(this.url, this.changes, this.options.changeFeed);
    await this.feed.start();
  }

  private async sweepStaged(graceMs: number): Promise<void> {
    await this.pool.query(
      'DELETE FROM chunks WHERE upload_id IS NOT NULL AND staged_at < now() - make_interval(secs => $1)',
      [graceMs / 1000],
    );
    await this.galleries.sweepStaged(graceMs);
  }

  // A failed sweep (the database away) is simply tried again on the next tick; nothing waits on it.
  private startSweeper(graceMs: number): void {
    const every = this.options.stagedSweepMs ?? DEFAULT_STAGED_SWEEP_MS;
    this.sweeper = setInterval(() => void this.sweepStaged(graceMs).catch(() => undefined), every);
    this.sweeper.unref();
  }

  /** Every replica's committed writes to jobs, models and datasets, by LISTEN/NOTIFY. */
  watch(listener: (change: StoreChange) => void): () => void {
    return this.changes.watch(listener);
  }

  isOpen(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    await this.feed?.close();
    await this.pool.end();
  }

  private async one(db: Queryable, sql: string, values: unknown[]): Promise<Row | undefined> {
    return (await db.query(sql, values)).rows[0];
  }

  // ---- datasets -------------------------------------------------------------

  async createDataset(input: { name: string | null; dimension: number }): Promise<DatasetRecord> {
    const r = await this.one(this.pool, 'INSERT INTO datasets (id, name, dimension) VALUES ($1, $2, $3) RETURNING *', [
      newId('ds'),
      input.name,
      input.dimension,
    ]);
    return datasetFromRow(r!);
  }

  getDataset(id: string): Promise<DatasetRecord | undefined> {
    return this.datasetIn(this.pool, id);
  }

  /** The dataset as `db` sees it (a transaction's snapshot, or the pool). */
  private async datasetIn(db: Queryable, id: string): Promise<DatasetRecord | undefined> {
    const r = await this.one(db, 'SELECT * FROM datasets WHERE id = $1', [id]);
    return r ? datasetFromRow(r) : undefined;
  }

  async listDatasets(req: PageRequest): Promise<Page<DatasetRecord>> {
    return postgresNewestFirst(this.pool, 'datasets', req, datasetFromRow);
  }

  async deleteDataset(id: string): Promise<boolean> {
    await this.payScrubs();
    const removed = await inTransaction(this.pool, async (c) => {
      // The dataset row is locked first: commits lock it first too, and createJob holds it FOR KEY
      // SHARE until its job is inserted. So the job count below sees every job that got in before
      // this lock, and no job gets in after it (createJob then finds no row): the check and the
      // delete are one step, in every replica.
      const row = await this.one(c, 'SELECT name FROM datasets WHERE id = $1 FOR UPDATE', [id]);
      if (!row) return undefined;
      await this.refuseDatasetInUse(c, id);
      const rows = async (sql: string) => (await c.query(sql, [id])).rowCount ?? 0;
      // the labels are identity data as much as the vectors: they go with the dataset
      const gone =
        (await rows('DELETE FROM chunks WHERE dataset_id = $1')) +
        (await rows('DELETE FROM dataset_labels WHERE dataset_id = $1'));
      await c.query('DELETE FROM datasets WHERE id = $1', [id]);
      // The deleted rows' bytes stay in the table files until a rewrite, as an erased label's do.
      // Bounded as erasure is: only a delete that removed rows pays for the rewrite, and the small
      // table of records only when the record had a name (user text, which may name a person).
      const tables = gone > 0 ? ['chunks', 'dataset_labels'] : [];
      if (row.name !== null) tables.push('datasets');
      await oweScrub(c, tables);
      return true;
    });
    if (removed === undefined) return false;
    await this.payScrubs();
    return true;
  }

  /** DATASET_IN_USE while a queued or running job uses the dataset; run with its row locked. */
  private async refuseDatasetInUse(c: Queryable, datasetId: string): Promise<void> {
    const active = await this.one(
      c,
      "SELECT COUNT(*) AS n FROM jobs WHERE dataset_id = $1 AND status IN ('queued', 'running')",
      [datasetId],
    );
    if (Number(active!.n) > 0) throw datasetInUseError(datasetId);
  }

  async appendTriplets(
    datasetId: string,
    data: Float32Array,
    count: number,
    limit?: CapacityLimit,
    options: CommitOptions = {},
  ): Promise<DatasetRecord> {
    return inTransaction(this.pool, async (c) => {
      const after = await this.bump(c, datasetId, 'triplets', count, limit);
      await this.insertChunk(c, datasetId, 'triplets', data, count, null, null);
      await identity.recordKey(c, options.idempotency, after);
      return after;
    });
  }

  async appendSamples(
    datasetId: string,
    data: Float32Array,
    labels: Label[],
    limit?: CapacityLimit,
    options: CommitOptions = {},
  ): Promise<DatasetRecord> {
    return inTransaction(this.pool, async (c) => {
      await this.bump(c, datasetId, 'samples', labels.length, limit);
      await this.insertChunk(c, datasetId, 'samples', data, labels.length, labels, null);
      await identity.addLabels(c, datasetId, labels);
      const after = datasetFromRow((await identity.refreshLabelCount(c, datasetId))!);
      await identity.recordKey(c, options.idempotency, after);
      return after;
    });
  }

  async stageChunk(
    uploadId: string,
    datasetId: string,
    kind: ChunkKind,
    data: Float32Array,
    count: number,
    labels?: Label[],
  ): Promise<void> {
    await this.insertChunk(this.pool, datasetId, kind, data, count, labels ?? null, uploadId);
  }

  async commitStaged(
    uploadId: string,
    datasetId: string,
    kind: ChunkKind,
    count: number,
    limit?: CapacityLimit,
    options: CommitOptions = {},
  ): Promise<DatasetRecord> {
    return inTransaction(this.pool, async (c) => {
      let after = await this.bump(c, datasetId, kind, count, limit);
      await identity.checkEpoch(c, datasetId, options.samplesEpoch);
      if (kind === 'samples') {
        await identity.addStagedLabels(c, datasetId, uploadId, this.instance);
        after = datasetFromRow((await identity.refreshLabelCount(c, datasetId))!);
      }
      // Only this store's own staged chunks: another's belong to a live replica or to a dead process.
      const { rows } = await c.query<{ count: number }>(
        `UPDATE chunks SET upload_id = NULL, staged_by = NULL, staged_at = NULL
         WHERE upload_id = $1 AND staged_by = $2 AND dataset_id = $3 AND kind = $4 RETURNING count`,
        [uploadId, this.instance, datasetId, kind],
      );
      // Chunks swept at another replica's start-up (the upload outlived the grace period) would
      // leave the count above the rows stored: refuse, and the whole commit rolls back.
      const stored = rows.reduce((s, r) => s + r.count, 0);
      if (stored !== count) throw new Error(`upload ${uploadId}: committing ${count} ${kind} but ${stored} are staged`);
      await identity.recordKey(c, options.idempotency, after);
      return after;
    });
  }

  async discardStaged(uploadId: string): Promise<void> {
    await this.pool.query('DELETE FROM chunks WHERE upload_id = $1', [uploadId]);
  }

  private async insertChunk(
    db: Queryable,
    datasetId: string,
    kind: ChunkKind,
    data: Float32Array,
    count: number,
    labels: Label[] | null,
    uploadId: string | null,
    refs: Int32Array | null = null,
  ): Promise<void> {
    const staged = uploadId !== null;
    await db.query(
      `INSERT INTO chunks (dataset_id, kind, count, data, labels, upload_id, staged_by, staged_at, sample_refs)
       VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::boolean THEN now() END, $9)`,
      [
        datasetId,
        kind,
        count,
        bytesOf(data),
        json(labels),
        uploadId,
        staged ? this.instance : null,
        staged,
        refs ? Buffer.from(refs.buffer, refs.byteOffset, refs.byteLength) : null,
      ],
    );
  }

  /**
   * Adds to a dataset's count inside the caller's transaction. The UPDATE locks the row, and a
   * concurrent commit waits for it and then sees this one's count, so together they cannot pass
   * the limit: a commit that would is refused by throwing, which rolls its transaction back.
   */
  private async bump(
    c: pg.PoolClient,
    datasetId: string,
    kind: ChunkKind,
    count: number,
    limit?: CapacityLimit,
  ): Promise<DatasetRecord> {
    const column = countColumn(kind);
    const r = await this.one(c, `UPDATE datasets SET ${column} = ${column} + $1 WHERE id = $2 RETURNING *`, [
      count,
      datasetId,
    ]);
    // The dataset was deleted mid-upload.
    if (!r) throw notFoundError('DATASET_NOT_FOUND', `dataset ${datasetId} does not exist`);
    const have = r[column] as number;
    if (limit && have > limit.max) {
      throw limitError(`dataset ${datasetId} would hold ${have} ${kind}; the limit is ${limit.max} (${limit.setting})`);
    }
    return datasetFromRow(r);
  }

  /** Committed chunks of one kind, concatenated in upload order. */
  private async readChunks(
    datasetId: string,
    kind: ChunkKind,
    rowFloats: number,
    db: Queryable = this.pool,
  ): Promise<{ count: number; data: Float32Array; labels: Label[] }> {
    const { rows } = await db.query<{ count: number; data: Buffer; labels: Label[] | null }>(
      'SELECT count, data, labels FROM chunks WHERE dataset_id = $1 AND kind = $2 AND upload_id IS NULL ORDER BY seq',
      [datasetId, kind],
    );
    const total = rows.reduce((s, r) => s + r.count, 0);
    const out = new Float32Array(total * rowFloats);
    const labels: Label[] = [];
    let offset = 0;
    for (const r of rows) {
      if (r.data.byteLength !== r.count * rowFloats * 4)
        throw new Error(`corrupt ${kind} chunk in dataset ${datasetId}`);
      // Copy through a byte view: a bytea Buffer sits at any offset of a shared pool, unaligned.
      new Uint8Array(out.buffer, offset * 4, r.data.byteLength).set(r.data);
      offset += r.count * rowFloats;
      if (r.labels !== null) for (const l of r.labels) labels.push(l);
    }
    return { count: total, data: out, labels };
  }

  async readTriplets(datasetId: string): Promise<StoredTriplets> {
    const ds = await this.requireDataset(datasetId);
    const { count, data } = await this.readChunks(datasetId, 'triplets', 3 * ds.dimension);
    return { count, dimension: ds.dimension, data };
  }

  async readSamples(datasetId: string): Promise<StoredSamples> {
    // The epoch is read before the rows: rows newer than it can only make a commit refuse, never pass.
    const r = await this.one(this.pool, 'SELECT samples_epoch FROM datasets WHERE id = $1', [datasetId]);
    const ds = await this.requireDataset(datasetId);
    const { count, data, labels } = await this.readChunks(datasetId, 'samples', ds.dimension);
    if (labels.length !== count) throw new Error(`dataset ${datasetId}: ${count} samples but ${labels.length} labels`);
    return { count, dimension: ds.dimension, data, labels, epoch: r?.samples_epoch as number | undefined };
  }

  async readIndexedTriplets(datasetId: string): Promise<StoredIndexedTriplets | null> {
    // one snapshot: the indices are those of the samples read with them, whatever commits meanwhile
    return inTransaction(this.pool, async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const ds = await this.requireDataset(datasetId, c);
      const { rows } = await c.query<{ count: number; sample_refs: Buffer | null }>(
        "SELECT count, sample_refs FROM chunks WHERE dataset_id = $1 AND kind = 'triplets' AND upload_id IS NULL ORDER BY seq",
        [datasetId],
      );
      const refs = concatRefs(rows.map((r) => ({ count: r.count, refs: r.sample_refs })));
      if (!refs) return null;
      const { count, data } = await this.readChunks(datasetId, 'samples', ds.dimension, c);
      return { count: refs.length / 3, dimension: ds.dimension, refs, samples: { count, data } };
    });
  }

  private async requireDataset(id: string, db: Queryable = this.pool): Promise<DatasetRecord> {
    const ds = await this.datasetIn(db, id);
    if (!ds) throw notFoundError('DATASET_NOT_FOUND', `dataset ${id} does not exist`);
    return ds;
  }

  // ---- jobs -----------------------------------------------------------------

  async createJob(input: NewJob, queueLimit?: CapacityLimit): Promise<JobRecord> {
    const id = newId('job');
    return inTransaction(this.pool, async (c) => {
      // A reindex job's gallery is marked in this transaction, its row locked first: the holder
      // check, the mark and the insert are one step, so a concurrent reindex (any replica) waits for
      // the lock and then finds this job holding the gallery, or finds it free if this one rolled back.
      const from =
        input.kind === 'reindex'
          ? await this.galleries.holdForJob(c, input.reindex.galleryId, id, input.reindex.modelId)
          : null;
      const job = newJobColumns(id, input, from);
      // A training job holds its dataset's row FOR KEY SHARE until it is inserted: deleteDataset
      // (FOR UPDATE) waits and then counts it, or deleted first and this finds no row. There is no
      // foreign key, as finished jobs outlive their dataset. KEY SHARE does not wait for uploads.
      if (
        job.datasetId !== null &&
        !(await this.one(c, 'SELECT 1 FROM datasets WHERE id = $1 FOR KEY SHARE', [job.datasetId]))
      )
        throw notFoundError('DATASET_NOT_FOUND', `dataset ${job.datasetId} does not exist`);
      if (queueLimit) {
        // One queue-wide lock for the count and the insert: concurrent callers (any replica) queue
        // behind it and each sees the jobs the others added.
        await c.query('SELECT pg_advisory_xact_lock($1)', [QUEUE_LOCK]);
        const { rows } = await c.query<{ n: string }>("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'");
        checkQueue(Number(rows[0].n), queueLimit);
      }
      const r = await this.one(
        c,
        `INSERT INTO jobs (id, status, kind, dataset_id, gallery_id, params, model_name, promote)
         VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7) RETURNING *`,
        [job.id, job.kind, job.datasetId, job.galleryId, job.params, job.modelName, job.promote],
      );
      return jobFromRow(r!);
    });
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const r = await this.one(this.pool, 'SELECT * FROM jobs WHERE id = $1', [id]);
    return r ? jobFromRow(r) : undefined;
  }

  async listJobs(req: PageRequest & { status?: JobStatus }): Promise<Page<JobRecord>> {
    const { rows } = await this.pool.query(
      'SELECT * FROM jobs WHERE seq < $1 AND ($2::text IS NULL OR status = $2) ORDER BY seq DESC LIMIT $3',
      [decodeCursor(req.cursor), req.status ?? null, req.limit + 1],
    );
    return page(rows, req.limit, jobFromRow);
  }

  async countJobs(status: JobStatus): Promise<number> {
    const r = await this.one(this.pool, 'SELECT COUNT(*) AS n FROM jobs WHERE status = $1', [status]);
    return Number(r!.n);
  }

  async nextQueuedJob(): Promise<JobRecord | undefined> {
    const r = await this.one(this.pool, "SELECT * FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1", []);
    return r ? jobFromRow(r) : undefined;
  }

  /**
   * The queue pattern of pg-boss and graphile-worker: the subquery locks the oldest queued row and
   * skips rows other claims hold, so concurrent claims (in any replica) never get one job twice
   * and never wait on each other. The lease runs on the database's clock, which every replica shares.
   */
  async claimNextJob(lease: JobLease, id?: string): Promise<JobRecord | undefined> {
    const r = await this.one(
      this.pool,
      `UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, now()), lease_owner = $2,
         lease_expires_at = now() + make_interval(secs => $3), attempts = attempts + 1,
         resumed_from_iteration = (SELECT iteration FROM job_checkpoints WHERE job_id = jobs.id AND part = 0)
       WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND ($1::text IS NULL OR id = $1)
                   ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
         AND status = 'queued'
       RETURNING *`,
      [id ?? null, lease.owner, lease.ms / 1000],
    );
    return r ? jobFromRow(r) : undefined;
  }

  async renewJobLease(id: string, lease: JobLease): Promise<LeaseRenewal> {
    const { rowCount } = await this.pool.query(
      `UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3)
       WHERE id = $1 AND status = 'running' AND lease_owner = $2`,
      [id, lease.owner, lease.ms / 1000],
    );
    if ((rowCount ?? 0) > 0) return { held: true };
    const r = await this.one(this.pool, 'SELECT status, lease_owner FROM jobs WHERE id = $1', [id]);
    return refusedRenewal(r as { status: string; lease_owner: string | null } | undefined);
  }

  async requeueExpiredJobs(): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL
       WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= now())`,
    );
    return rowCount ?? 0;
  }

  /** Replicas share the database: a running job with a live lease belongs to one of them. */
  async requeueOrphanedJobs(): Promise<number> {
    return this.requeueExpiredJobs();
  }

  async releaseJobs(owner: string): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL
       WHERE status = 'running' AND lease_owner = $1`,
      [owner],
    );
    return rowCount ?? 0;
  }

  async updateJobProgress(id: string, progress: ReportedProgress, owner: string): Promise<void> {
    const text = JSON.stringify(progress);
    await inTransaction(this.pool, async (c) => {
      // The row lock taken here orders the job's points: one writer at a time picks the next seq.
      const r = await c.query(
        "UPDATE jobs SET progress = $1 WHERE id = $2 AND status = 'running' AND lease_owner = $3",
        [text, id, owner],
      );
      if (!r.rowCount) return;
      const { rows } = await c.query<{ seq: number; count: string }>(
        `INSERT INTO job_events (job_id, seq, payload)
           SELECT $1, COALESCE(MAX(seq), 0) + 1, $2 FROM job_events WHERE job_id = $1
         RETURNING seq, (SELECT COUNT(*) + 1 FROM job_events WHERE job_id = $1) AS count`,
        [id, text],
      );
      if (Number(rows[0].count) <= JOB_EVENTS_KEPT) return;
      await c.query(
        `DELETE FROM job_events WHERE job_id = $1 AND seq IN (
           SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS n FROM job_events WHERE job_id = $1) t
           WHERE n % 2 = 0 AND seq < $2)`,
        [id, rows[0].seq],
      );
    });
  }

  async newestJobEventSeq(jobId: string): Promise<number> {
    const { rows } = await this.pool.query('SELECT MAX(seq) AS seq FROM job_events WHERE job_id = $1', [jobId]);
    return (rows[0].seq as number | null) ?? 0;
  }

  async listJobEvents(jobId: string, after: number, limit: number): Promise<Page<JobEvent>> {
    // seq is an int4: a client's cursor past it (an `after`, a Last-Event-ID) would fail the cast,
    // and no stored seq can be above it anyway
    const { rows } = await this.pool.query(
      'SELECT seq, payload, created_at FROM job_events WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [jobId, Math.min(after, INT4_MAX), limit + 1],
    );
    return eventPage(rows as Row[], limit, (r) => ({
      seq: r.seq as number,
      createdAt: (r.created_at as Date).toISOString(),
      progress: finiteProgress(r.payload)!,
    }));
  }

  async finishJob(
    id: string,
    status: 'failed' | 'cancelled',
    error: JobError | null,
    metrics: Record<string, unknown> | null = null,
    owner?: string,
  ): Promise<JobRecord> {
    // Two statements in one transaction, not one with a CTE: a checkpoint write holding the row
    // lock commits first, and only a statement begun after it (READ COMMITTED) sees its rows.
    const r = await inTransaction(this.pool, async (c) => {
      const done = await this.one(
        c,
        `UPDATE jobs SET status = $1, error = $2, metrics = COALESCE($3, metrics), finished_at = now(),
           lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $4 AND (CASE WHEN $5::text IS NULL THEN status IN ('queued', 'running')
                                 ELSE status = 'running' AND lease_owner = $5 END)
         RETURNING *`,
        [status, json(error), json(metrics), id, owner ?? null],
      );
      if (done) await c.query('DELETE FROM job_checkpoints WHERE job_id = $1', [id]);
      return done;
    });
    // Already finished, or not this owner's: it keeps its state, which is what the caller gets back.
    return r ? jobFromRow(r) : (await this.getJob(id))!;
  }

  async succeedJob(
    id: string,
    model: NewModel,
    metrics: Record<string, unknown>,
    owner: string,
  ): Promise<{ job: JobRecord; model: ModelRecord; alias: AliasRecord | null }> {
    return inTransaction(this.pool, async (c) => {
      // The row lock orders this against a cancel, a sweep or a renewal in any replica: a job
      // cancelled meanwhile keeps its cancellation, one whose lease passed to another runner is
      // that runner's to finish. No model is written either way.
      const row = await this.one(c, 'SELECT status, lease_owner, promote FROM jobs WHERE id = $1 FOR UPDATE', [id]);
      refuseUnlessHeld(id, owner, row);
      const rec = await this.insertModel(c, model);
      const first = await this.defaultIfFirst(c, rec.id);
      const alias = row!.promote === true ? await this.pointAlias(c, DEFAULT_ALIAS, rec.id) : first;
      const r = await this.one(
        c,
        `UPDATE jobs SET status = 'succeeded', metrics = $1, model_id = $2, error = NULL, finished_at = now(),
           lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $3 RETURNING *`,
        [JSON.stringify(metrics), rec.id, id],
      );
      await c.query('DELETE FROM job_checkpoints WHERE job_id = $1', [id]);
      return { job: jobFromRow(r!), model: rec, alias };
    });
  }

  async requeueRunningJobs(): Promise<number> {
    const { rowCount } = await this.pool.query(
      "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL WHERE status = 'running'",
    );
    return rowCount ?? 0;
  }

  /** Locks the job's row while it runs under `owner` (a sweep or a cancel then waits); false when it does not. */
  private async lockHeld(c: pg.PoolClient, id: string, owner: string): Promise<boolean> {
    const r = await this.one(
      c,
      "SELECT 1 FROM jobs WHERE id = $1 AND status = 'running' AND lease_owner = $2 FOR UPDATE",
      [id, owner],
    );
    return r !== undefined;
  }

  async saveCheckpoint(id: string, owner: string, iteration: number, data: Uint8Array): Promise<boolean> {
    const sum = checksum(data);
    const parts = Math.max(1, Math.ceil(data.byteLength / CHECKPOINT_PART_BYTES));
    return inTransaction(this.pool, async (c) => {
      if (!(await this.lockHeld(c, id, owner))) return false;
      await c.query('DELETE FROM job_checkpoints WHERE job_id = $1', [id]);
      for (let part = 0; part < parts; part++) {
        const bytes = data.subarray(part * CHECKPOINT_PART_BYTES, (part + 1) * CHECKPOINT_PART_BYTES);
        await c.query(
          'INSERT INTO job_checkpoints (job_id, part, parts, iteration, data, checksum) VALUES ($1, $2, $3, $4, $5, $6)',
          [id, part, parts, iteration, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), sum],
        );
      }
      return true;
    });
  }

  async readCheckpoint(id: string): Promise<StoredCheckpoint | undefined> {
    const { rows } = await this.pool.query<{
      part: number;
      parts: number;
      iteration: number;
      data: Buffer;
      checksum: string;
    }>('SELECT part, parts, iteration, data, checksum FROM job_checkpoints WHERE job_id = $1 ORDER BY part', [id]);
    if (rows.length === 0) return undefined;
    if (rows.length !== rows[0].parts || rows.some((r, i) => r.part !== i))
      throw new Error(`the checkpoint of job ${id} has ${rows.length} of its ${rows[0].parts} parts`);
    const data = new Uint8Array(rows.reduce((s, r) => s + r.data.byteLength, 0));
    let at = 0;
    for (const r of rows) {
      data.set(r.data, at);
      at += r.data.byteLength;
    }
    checkCheckpoint(id, data, rows[0].checksum);
    return { iteration: rows[0].iteration, data };
  }

  async discardCheckpoint(id: string, owner: string): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      if (!(await this.lockHeld(c, id, owner))) return;
      await c.query('DELETE FROM job_checkpoints WHERE job_id = $1', [id]);
      await c.query('UPDATE jobs SET resumed_from_iteration = NULL WHERE id = $1', [id]);
    });
  }

  async activeJobsForDataset(datasetId: string): Promise<number> {
    const r = await this.one(
      this.pool,
      "SELECT COUNT(*) AS n FROM jobs WHERE dataset_id = $1 AND status IN ('queued', 'running')",
      [datasetId],
    );
    return Number(r!.n);
  }

  // ---- models ---------------------------------------------------------------

  private async insertModel(db: Queryable, model: NewModel): Promise<ModelRecord> {
    const blob = bytesOf(model.weights);
    const r = await this.one(
      db,
      `INSERT INTO models (id, job_id, name, input_dimension, output_dimension, normalize, training_params, metrics, weights, checksum)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${MODEL_COLUMNS}`,
      [
        newId('mdl'),
        model.jobId,
        model.name,
        model.inputDimension,
        model.outputDimension,
        model.normalize,
        json(model.trainingParams),
        JSON.stringify(model.metrics),
        blob,
        checksum(blob),
      ],
    );
    return modelFromRow(r!);
  }

  async createModel(model: NewModel): Promise<ModelRecord> {
    return inTransaction(this.pool, async (c) => {
      const rec = await this.insertModel(c, model);
      await this.defaultIfFirst(c, rec.id);
      return rec;
    });
  }

  /**
   * The first model (no other committed one) sets `default` when it is unset; the alias as set, else
   * null. Two first models at once: the unique name makes the second wait, then leave it as set.
   */
  private async defaultIfFirst(c: pg.PoolClient, modelId: string): Promise<AliasRecord | null> {
    const r = await this.one(
      c,
      `INSERT INTO aliases (name, model_id) SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM models WHERE id <> $2)
       ON CONFLICT (name) DO NOTHING RETURNING *`,
      [DEFAULT_ALIAS, modelId],
    );
    return r ? aliasFromRow(r) : null;
  }

  async getModel(id: string): Promise<ModelRecord | undefined> {
    const r = await this.one(this.pool, `SELECT ${MODEL_COLUMNS} FROM models WHERE id = $1`, [id]);
    return r ? modelFromRow(r) : undefined;
  }

  async getModelWeights(id: string): Promise<Float64Array | undefined> {
    const r = await this.one(
      this.pool,
      'SELECT weights, checksum, input_dimension AS d, output_dimension AS k FROM models WHERE id = $1',
      [id],
    );
    if (!r) return undefined;
    const weights = r.weights as Buffer;
    const size = (r.k as number) * (r.d as number);
    if (weights.byteLength !== size * 8 || checksum(weights) !== r.checksum) {
      throw new Error(`model ${id} failed its integrity check (length or checksum)`);
    }
    const out = new Float64Array(size);
    new Uint8Array(out.buffer).set(weights);
    return out;
  }

  async listModels(req: PageRequest): Promise<Page<ModelRecord>> {
    return postgresNewestFirst(this.pool, 'models', req, modelFromRow, MODEL_COLUMNS);
  }

  async newestModel(): Promise<ModelRecord | undefined> {
    const r = await this.one(this.pool, `SELECT ${MODEL_COLUMNS} FROM models ORDER BY seq DESC LIMIT 1`, []);
    return r ? modelFromRow(r) : undefined;
  }

  async deleteModel(id: string): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      // The model's row lock first: an alias being pointed at it (which locks it FOR KEY SHARE)
      // either committed before, and is seen below, or waits and then finds the model gone.
      if (!(await this.one(c, 'SELECT 1 FROM models WHERE id = $1 FOR UPDATE', [id]))) return false;
      // What points to a model keeps it: an alias, or a gallery pinned (or reindexing) to it.
      const { rows } = await c.query<{ name: string }>('SELECT name FROM aliases WHERE model_id = $1 ORDER BY name', [
        id,
      ]);
      refuseModelInUse(
        id,
        rows.map((r) => r.name),
      );
      const deleted = ((await c.query('DELETE FROM models WHERE id = $1', [id])).rowCount ?? 0) > 0;
      // After the delete, which waited for any gallery holding the model FOR SHARE: one made meanwhile is seen.
      await this.galleries.refuseIfModelUsed(c, id);
      return deleted;
    });
  }

  // ---- model names and aliases ------------------------------------------------

  async renameModel(id: string, name: string | null): Promise<ModelRecord | undefined> {
    const r = await this.one(this.pool, `UPDATE models SET name = $2 WHERE id = $1 RETURNING ${MODEL_COLUMNS}`, [
      id,
      name,
    ]);
    return r ? modelFromRow(r) : undefined;
  }

  async setAlias(name: string, modelId: string): Promise<AliasRecord> {
    return inTransaction(this.pool, (c) => this.pointAlias(c, name, modelId));
  }

  /**
   * Inside the caller's transaction. The model's row is locked FOR KEY SHARE, so a concurrent delete
   * of it either finished first (MODEL_NOT_FOUND here) or waits and then sees this alias. The
   * upsert is one statement: concurrent moves of one alias queue on its row, and each records the
   * model the one before it left. Pointing it where it points changes nothing.
   */
  private async pointAlias(c: pg.PoolClient, name: string, modelId: string): Promise<AliasRecord> {
    if (!(await this.one(c, 'SELECT 1 FROM models WHERE id = $1 FOR KEY SHARE', [modelId])))
      throw notFoundError('MODEL_NOT_FOUND', `model ${modelId} does not exist`);
    const r = await this.one(
      c,
      `INSERT INTO aliases (name, model_id) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET model_id = EXCLUDED.model_id, previous_model_id = aliases.model_id,
         updated_at = now()
       WHERE aliases.model_id <> EXCLUDED.model_id
       RETURNING *`,
      [name, modelId],
    );
    return aliasFromRow(r ?? (await this.one(c, 'SELECT * FROM aliases WHERE name = $1', [name]))!);
  }

  async getAlias(name: string): Promise<AliasRecord | undefined> {
    const r = await this.one(this.pool, 'SELECT * FROM aliases WHERE name = $1', [name]);
    return r ? aliasFromRow(r) : undefined;
  }

  async listAliases(req: PageRequest): Promise<Page<AliasRecord>> {
    return postgresNewestFirst(this.pool, 'aliases', req, aliasFromRow);
  }

  async deleteAlias(name: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM aliases WHERE name = $1', [name])).rowCount ?? 0) > 0;
  }

  // ---- galleries (src/store/postgres-galleries.ts) ----------------------------

  createGallery(input: NewGallery): Promise<GalleryRecord> {
    return this.galleries.create(input);
  }

  getGallery(id: string): Promise<GalleryRecord | undefined> {
    return this.galleries.get(id);
  }

  listGalleries(req: PageRequest): Promise<Page<GalleryRecord>> {
    return this.galleries.list(req);
  }

  async deleteGallery(id: string): Promise<boolean> {
    return this.erasing(() => this.galleries.delete(id));
  }

  countGalleryLabels(id: string): Promise<number> {
    return this.galleries.countLabels(id);
  }

  stageGalleryItems(
    uploadId: string,
    galleryId: string,
    ids: string[],
    labels: (Label | null)[],
    features: Float32Array,
    embeddings: Float32Array,
  ): Promise<void> {
    return this.galleries.stage(uploadId, galleryId, ids, labels, features, embeddings);
  }

  commitGalleryItems(
    uploadId: string,
    galleryId: string,
    modelId: string,
    count: number,
    limit: CapacityLimit,
    options: Pick<CommitOptions, 'idempotency'> = {},
  ): Promise<GalleryRecord> {
    return this.galleries.commit(uploadId, galleryId, modelId, count, limit, (c, after) =>
      identity.recordKey(c, options.idempotency, after),
    );
  }

  discardGalleryItems(uploadId: string): Promise<void> {
    return this.galleries.discard(uploadId);
  }

  async deleteGalleryItem(galleryId: string, itemId: string): Promise<GalleryDeletion> {
    return this.erasing(() => this.galleries.deleteItem(galleryId, itemId));
  }

  async deleteGalleryLabel(galleryId: string, label: string, type?: LabelType): Promise<GalleryDeletion> {
    return this.erasing(() => this.galleries.deleteLabel(galleryId, label, type));
  }

  readGalleryEmbeddings(galleryId: string): Promise<StoredGalleryEmbeddings> {
    return this.galleries.readEmbeddings(galleryId);
  }

  readUnindexed(galleryId: string, jobId: string, limit: number): Promise<UnindexedItems> {
    return this.galleries.readUnindexed(galleryId, jobId, limit);
  }

  writeReindexBatch(galleryId: string, jobId: string, batch: ReindexBatch): Promise<boolean> {
    return this.galleries.writeReindexBatch(galleryId, jobId, batch);
  }

  commitReindex(galleryId: string, jobId: string): Promise<ReindexCommit> {
    return this.galleries.commitReindex(galleryId, jobId);
  }

  abortReindex(galleryId: string, jobId: string): Promise<void> {
    return this.galleries.abortReindex(galleryId, jobId);
  }

  // ---- identity-level data (postgres-identity.ts) -------------------------------

  async listLabels(datasetId: string, req: PageRequest): Promise<Page<LabelCount>> {
    await this.requireDataset(datasetId);
    return identity.listLabels(this.pool, datasetId, req);
  }

  async stageIndexTriplets(uploadId: string, datasetId: string, data: Float32Array, refs: Int32Array): Promise<void> {
    await this.insertChunk(this.pool, datasetId, 'triplets', data, refs.length / 3, null, uploadId, refs);
  }

  async eraseLabel(datasetId: string, label: Label): Promise<LabelErasure> {
    return this.erasing(() => this.eraseInTransaction(datasetId, label));
  }

  private async eraseInTransaction(datasetId: string, label: Label): Promise<LabelErasure> {
    return inTransaction(this.pool, async (c) => {
      // The row lock orders this against commits (which lock it first) in every replica.
      const locked = await this.one(c, 'SELECT * FROM datasets WHERE id = $1 FOR UPDATE', [datasetId]);
      if (!locked) throw notFoundError('DATASET_NOT_FOUND', `dataset ${datasetId} does not exist`);
      await this.refuseDatasetInUse(c, datasetId);
      const erased = await identity.erase(c, datasetFromRow(locked), label);
      const after = datasetFromRow((await identity.refreshLabelCount(c, datasetId))!);
      await oweScrub(c, ['chunks', 'dataset_labels']);
      return { label, ...erased, dataset: after };
    });
  }

  /**
   * An erasure (or a delete) whose transaction records the rewrites it owes (oweScrub), then the
   * rewrites: its own and any owed before it (src/store/postgres-scrubs.ts). The deletes come
   * first, so a debt never holds an erasure back; a delete that failed tries the debts quietly.
   */
  private async erasing<T>(erase: () => Promise<T>): Promise<T> {
    let out: T;
    try {
      out = await erase();
    } catch (e) {
      await this.payScrubs().catch(() => undefined);
      throw e;
    }
    await this.payScrubs();
    return out;
  }

  /**
   * The rewrites erasures owe, this one's and any cut off before (src/store/postgres-scrubs.ts).
   * Outside the transaction (VACUUM cannot run in one): plain VACUUM removes the old row versions
   * from the heap and TOAST pages, but their bytes may stay in free page space until it is reused;
   * VACUUM FULL writes new files without them (docs/decisions/0034-identity-level-data.md).
   */
  private async payScrubs(): Promise<void> {
    await payScrubs(this.pool, this.options.eraseVacuum === 'plain' ? 'VACUUM' : 'VACUUM (FULL)', () =>
      this.awaitOlderSnapshots(),
    );
  }

  /**
   * Waits until no other session of this database holds a snapshot (or a transaction) from before
   * now, which the erasure's commit precedes. Either VACUUM keeps the row versions such a snapshot
   * may still see, and VACUUM (FULL) copies them into its new files: one training read, evaluation
   * or search load running on any replica at the erasure kept the erased bytes in the table.
   * Bounded (eraseSnapshotWaitMs): false when such a snapshot outlived the wait.
   */
  private async awaitOlderSnapshots(): Promise<boolean> {
    const { rows } = await this.pool.query<{ xmax: string }>(
      'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax',
    );
    const end = Date.now() + (this.options.eraseSnapshotWaitMs ?? DEFAULT_ERASE_SNAPSHOT_WAIT_MS);
    for (;;) {
      // Older than this snapshot (age counts back from the next xid): a snapshot in this database
      // (any backend: an autovacuum ANALYZE holds one too), or a transaction in any database, since
      // every snapshot taken meanwhile, the VACUUM's own included, has the oldest running xid as xmin.
      const older = await this.one(
        this.pool,
        `SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid()
           AND ((datname = current_database() AND age(backend_xmin) > age($1::xid8::xid))
             OR age(backend_xid) > age($1::xid8::xid)) LIMIT 1`,
        [rows[0].xmax],
      );
      if (!older) return true;
      if (Date.now() >= end) return false;
      await new Promise((resolve) => setTimeout(resolve, ERASE_SNAPSHOT_POLL_MS));
    }
  }

  async getIdempotencyKey(scope: string, key: string): Promise<StoredIdempotencyKey | undefined> {
    return identity.getKey(this.pool, scope, key);
  }

  async purgeIdempotencyKeys(): Promise<number> {
    return identity.purgeKeys(this.pool);
  }

  async succeedReindexJob(
    id: string,
    galleryId: string,
    owner: string,
    metrics: Record<string, unknown>,
    progress: ReportedProgress,
  ): Promise<ReindexJobCommit> {
    return inTransaction(this.pool, async (c): Promise<ReindexJobCommit> => {
      // The job's row lock first, as succeedJob takes it: a cancel or a sweep in any replica waits.
      refuseUnlessHeld(
        id,
        owner,
        await this.one(c, 'SELECT status, lease_owner FROM jobs WHERE id = $1 FOR UPDATE', [id]),
      );
      const done = await this.galleries.commitReindexIn(c, galleryId, id);
      if (!done.committed) return done;
      const r = await this.one(
        c,
        `UPDATE jobs SET status = 'succeeded', metrics = $1, progress = $2, error = NULL, finished_at = now(),
           lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $3 RETURNING *`,
        [JSON.stringify(metrics), JSON.stringify(progress), id],
      );
      await c.query('DELETE FROM job_checkpoints WHERE job_id = $1', [id]);
      return { committed: true, job: jobFromRow(r!), gallery: done.gallery };
    });
  }
}

/**
 * Opens a store on the database at `url` (postgres://…): connects, migrates under the advisory
 * lock and sweeps stale staged chunks. A failure closes the pool before it is reported.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const store = new PostgresStore(url, options);
  try {
    await store.start(options.stagedGraceMs);
  } catch (err) {
    await store.close();
    throw pgStorageError(err, store.location);
  }
  return store;
}

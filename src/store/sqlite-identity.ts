// Identity-level data on SQLite: label counts kept with every commit, erasure of one label's
// samples, and Idempotency-Keys recorded in the upload's transaction. The SqliteDatabase calls
// these inside its own transactions (docs/decisions/0034-identity-level-data.md).
import type Database from 'better-sqlite3';
import { conflictError, notFoundError } from '../domain/errors.js';
import { ErasedSamples, pruneSamples, pruneTriplets, type KeptChunk } from './erase.js';
import { decodeLabelCursor, labelPage, replyOf } from './identity-rows.js';
import type {
  DatasetRecord,
  GalleryRecord,
  IdempotentWrite,
  Label,
  LabelCount,
  Page,
  PageRequest,
  StoredIdempotencyKey,
} from './types.js';

/** Expired keys a commit purges at most, so one commit never pays for a long backlog. */
const PURGE_PER_COMMIT = 100;

/** A label as bound: integers as BigInt, so SQLite stores an INTEGER (a Number binds as REAL). */
const bindLabel = (label: Label): string | bigint => (typeof label === 'number' ? BigInt(label) : label);
/** json_each's type of a label's value. */
const jsonType = (label: Label) => (typeof label === 'number' ? 'integer' : 'text');

export class SqliteIdentity {
  constructor(private readonly db: Database.Database) {}

  /** Adds the labels of committed-to-be chunks (one by seq, or an upload's) to the dataset's counts. */
  addLabels(datasetId: string, where: { seq: number | bigint } | { uploadId: string }): void {
    const [cond, arg] = 'seq' in where ? ['c.seq = ?', where.seq] : ['c.upload_id = ?', where.uploadId];
    this.db
      .prepare(
        `INSERT INTO dataset_labels (dataset_id, label, sample_count)
         SELECT ?, j.value, COUNT(*) FROM chunks c, json_each(c.labels) j
         WHERE ${cond} AND c.kind = 'samples' GROUP BY j.value
         ON CONFLICT (dataset_id, label) DO UPDATE SET sample_count = sample_count + excluded.sample_count`,
      )
      .run(datasetId, arg);
    this.refreshLabelCount(datasetId);
  }

  private refreshLabelCount(datasetId: string): void {
    this.db
      .prepare(
        'UPDATE datasets SET label_count = (SELECT COUNT(*) FROM dataset_labels WHERE dataset_id = ?) WHERE id = ?',
      )
      .run(datasetId, datasetId);
  }

  /** DATASET_CHANGED when samples were erased since rows were gathered from them at `epoch`. */
  checkEpoch(datasetId: string, epoch: number | undefined): void {
    if (epoch === undefined) return;
    if (this.epochOf(datasetId) !== epoch)
      throw conflictError(
        'DATASET_CHANGED',
        `samples of dataset ${datasetId} were erased while the indexTriplets were resolved; send them again`,
      );
  }

  epochOf(datasetId: string): number | undefined {
    const r = this.db.prepare('SELECT samples_epoch AS e FROM datasets WHERE id = ?').get(datasetId) as
      { e: number } | undefined;
    return r?.e;
  }

  /**
   * Records the key with the reply, purging a few expired keys first. Another request that
   * committed the same key first makes this throw, which rolls the whole commit back.
   */
  recordKey(once: IdempotentWrite | undefined, after: DatasetRecord | GalleryRecord): void {
    if (!once) return;
    const now = Date.now();
    this.db
      .prepare(
        `DELETE FROM idempotency_keys WHERE (scope, key) IN
           (SELECT scope, key FROM idempotency_keys WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
      )
      .run(now, PURGE_PER_COMMIT);
    const inserted = this.db
      .prepare(
        `INSERT INTO idempotency_keys (scope, key, body_hash, status, reply, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING`,
      )
      .run(
        once.scope,
        once.key,
        once.bodyHash,
        once.status,
        JSON.stringify(replyOf(once, after)),
        new Date(now).toISOString(),
        now + once.ttlMs,
      ).changes;
    if (inserted === 0)
      throw conflictError(
        'IDEMPOTENCY_KEY_IN_FLIGHT',
        `another request with Idempotency-Key ${once.key} committed first`,
      );
  }

  getKey(scope: string, key: string): StoredIdempotencyKey | undefined {
    const r = this.db
      .prepare('SELECT * FROM idempotency_keys WHERE scope = ? AND key = ? AND expires_at > ?')
      .get(scope, key, Date.now()) as
      | {
          scope: string;
          key: string;
          body_hash: string;
          status: number;
          reply: string;
          created_at: string;
          expires_at: number;
        }
      | undefined;
    if (!r) return undefined;
    return {
      scope: r.scope,
      key: r.key,
      bodyHash: r.body_hash,
      status: r.status,
      reply: JSON.parse(r.reply) as Record<string, unknown>,
      createdAt: r.created_at,
      expiresAt: new Date(r.expires_at).toISOString(),
    };
  }

  purgeKeys(): number {
    return this.db.prepare('DELETE FROM idempotency_keys WHERE expires_at <= ?').run(Date.now()).changes;
  }

  listLabels(datasetId: string, req: PageRequest): Page<LabelCount> {
    const after = decodeLabelCursor(req.cursor);
    const rows = (
      after === undefined
        ? this.db
            .prepare('SELECT label, sample_count FROM dataset_labels WHERE dataset_id = ? ORDER BY label LIMIT ?')
            .all(datasetId, req.limit + 1)
        : this.db
            .prepare(
              'SELECT label, sample_count FROM dataset_labels WHERE dataset_id = ? AND label > ? ORDER BY label LIMIT ?',
            )
            .all(datasetId, bindLabel(after), req.limit + 1)
    ) as { label: Label; sample_count: number }[];
    return labelPage(
      rows.map((r) => ({ label: r.label, sampleCount: r.sample_count })),
      req.limit,
    );
  }

  /** Stored count of a label's samples; LABEL_NOT_FOUND without any. */
  private labelCount(datasetId: string, label: Label): number {
    const r = this.db
      .prepare('SELECT sample_count AS n FROM dataset_labels WHERE dataset_id = ? AND label = ?')
      .get(datasetId, bindLabel(label)) as { n: number } | undefined;
    if (!r)
      throw notFoundError(
        'LABEL_NOT_FOUND',
        `dataset ${datasetId} has no samples labelled ${JSON.stringify(label)} (a ${typeof label === 'number' ? 'integer' : 'string'})`,
      );
    return r.n;
  }

  /**
   * Inside the caller's transaction: rewrites the chunks without the label's samples and the
   * triplets that use them, and updates the counts. Staged index triplets of the dataset go too
   * (their indices were taken before the erasure; their upload fails with DATASET_CHANGED).
   */
  erase(ds: DatasetRecord, label: Label): { samplesErased: number; tripletsErased: number } {
    const expected = this.labelCount(ds.id, label);
    const erased = new ErasedSamples(expected, this.holdsVectorTriplets(ds.id));
    const hits = this.db
      .prepare(
        `SELECT seq, start FROM (
           SELECT seq, labels, SUM(count) OVER (ORDER BY seq) - count AS start FROM chunks
           WHERE dataset_id = ? AND kind = 'samples' AND upload_id IS NULL)
         WHERE EXISTS (SELECT 1 FROM json_each(labels) j WHERE j.type = ? AND j.value = ?)`,
      )
      .all(ds.id, jsonType(label), bindLabel(label)) as { seq: number; start: number }[];
    for (const { seq, start } of hits) {
      const c = this.db.prepare('SELECT count, data, labels FROM chunks WHERE seq = ?').get(seq) as {
        count: number;
        data: Buffer;
        labels: string;
      };
      const kept = pruneSamples(
        { count: c.count, data: c.data, labels: JSON.parse(c.labels) as Label[] },
        ds.dimension,
        label,
        start,
        erased,
      );
      if (kept) this.rewrite(seq, kept);
    }
    if (erased.count !== expected)
      throw new Error(
        `dataset ${ds.id}: ${erased.count} samples labelled ${JSON.stringify(label)}, ${expected} counted`,
      );
    let tripletsErased = 0;
    const triplets = this.db
      .prepare("SELECT seq FROM chunks WHERE dataset_id = ? AND kind = 'triplets' AND upload_id IS NULL ORDER BY seq")
      .all(ds.id) as { seq: number }[];
    for (const { seq } of triplets) {
      const c = this.db
        .prepare('SELECT c.count, c.data, r.refs FROM chunks c LEFT JOIN chunk_refs r ON r.seq = c.seq WHERE c.seq = ?')
        .get(seq) as { count: number; data: Buffer; refs: Buffer | null };
      const kept = pruneTriplets(c, ds.dimension, erased);
      if (!kept) continue;
      tripletsErased += c.count - kept.count;
      this.rewrite(seq, kept);
    }
    this.db
      .prepare(
        "DELETE FROM chunks WHERE dataset_id = ? AND kind = 'triplets' AND upload_id IS NOT NULL AND seq IN (SELECT seq FROM chunk_refs)",
      )
      .run(ds.id);
    this.db.prepare('DELETE FROM dataset_labels WHERE dataset_id = ? AND label = ?').run(ds.id, bindLabel(label));
    this.db
      .prepare(
        `UPDATE datasets SET sample_count = sample_count - ?, triplet_count = triplet_count - ?,
           samples_epoch = samples_epoch + 1 WHERE id = ?`,
      )
      .run(erased.count, tripletsErased, ds.id);
    this.refreshLabelCount(ds.id);
    return { samplesErased: erased.count, tripletsErased };
  }

  /** Whether a committed triplet chunk of the dataset has no sample indices: rows matched by their bytes. */
  private holdsVectorTriplets(datasetId: string): boolean {
    return (
      this.db
        .prepare(
          `SELECT 1 FROM chunks c WHERE c.dataset_id = ? AND c.kind = 'triplets' AND c.upload_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM chunk_refs r WHERE r.seq = c.seq) LIMIT 1`,
        )
        .get(datasetId) !== undefined
    );
  }

  /** A chunk's new content in place (its seq keeps its order), or no chunk when no row is left. */
  private rewrite(seq: number, kept: KeptChunk): void {
    if (kept.count === 0) {
      this.db.prepare('DELETE FROM chunks WHERE seq = ?').run(seq);
      return;
    }
    // sample_refs: a copy from before chunk_refs (schema version 9, decision 0056), cleared with the rows it named
    this.db
      .prepare('UPDATE chunks SET count = ?, data = ?, labels = ?, sample_refs = NULL WHERE seq = ?')
      .run(kept.count, kept.data, kept.labels ? JSON.stringify(kept.labels) : null, seq);
    if (kept.refs) this.db.prepare('UPDATE chunk_refs SET refs = ? WHERE seq = ?').run(kept.refs, seq);
  }
}

// The gallery methods of the SQLite store (SqliteDatabase calls these inside its write guard).
// Synchronous, as better-sqlite3 is; each write is one IMMEDIATE transaction. Deleted features
// and embeddings are zeroed on the page (PRAGMA secure_delete, set at open), and the store ends an
// erase with a WAL checkpoint (src/store/sqlite-scrub.ts), so their bytes are not left in the files
// (docs/decisions/0031-galleries.md).
import type Database from 'better-sqlite3';
import { limitError, notFoundError } from '../domain/errors.js';
import type {
  GalleryRecord,
  NewGallery,
  LabelType,
  ReindexBatch,
  ReindexCommit,
  StoredGalleryEmbeddings,
  UnindexedItems,
} from '../domain/galleries.js';
import {
  dimensionMismatch,
  galleryFromRow,
  galleryNotFound,
  labelKeys,
  refuseAmbiguousLabel,
  labelOf,
  labelText,
  modelChanged,
  modelInUse,
  modelUnchanged,
  packBlobs,
  refuseUnlessReindexHeld,
  reindexPending,
  rowBytes,
} from './gallery-rows.js';
import { newId } from './ids.js';
import { sqliteNewestFirst } from './newest-first.js';
import type { Row } from './rows.js';
import {
  isFinished,
  type CapacityLimit,
  type GalleryDeletion,
  type JobStatus,
  type Label,
  type Page,
  type PageRequest,
} from './types.js';

const now = () => new Date().toISOString();

export class SqliteGalleries {
  constructor(private readonly db: Database.Database) {}

  private row(id: string): Row | undefined {
    return this.db.prepare('SELECT * FROM galleries WHERE id = ?').get(id) as Row | undefined;
  }

  private require(id: string): Row {
    const r = this.row(id);
    if (!r) throw galleryNotFound(id);
    return r;
  }

  /** A gallery's items changed: count, version + 1, updated_at, in the caller's transaction. */
  private touched(id: string): GalleryRecord {
    this.db
      .prepare(
        `UPDATE galleries SET version = version + 1, updated_at = ?,
           item_count = (SELECT COUNT(*) FROM gallery_items WHERE gallery_id = galleries.id) WHERE id = ?`,
      )
      .run(now(), id);
    return galleryFromRow(this.require(id));
  }

  create(input: NewGallery): GalleryRecord {
    const id = newId('gal');
    this.db
      .transaction(() => {
        if (!this.db.prepare('SELECT 1 FROM models WHERE id = ?').get(input.modelId))
          throw notFoundError('MODEL_NOT_FOUND', `model ${input.modelId} does not exist`);
        const at = now();
        this.db
          .prepare(
            `INSERT INTO galleries (id, name, model_id, dimension, embedding_dimension, index_kind, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(id, input.name, input.modelId, input.dimension, input.embeddingDimension, input.index, at, at);
      })
      .immediate();
    return this.get(id)!;
  }

  get(id: string): GalleryRecord | undefined {
    const r = this.row(id);
    return r ? galleryFromRow(r) : undefined;
  }

  list(req: PageRequest): Page<GalleryRecord> {
    return sqliteNewestFirst(this.db, 'galleries', req, galleryFromRow);
  }

  delete(id: string): boolean {
    const deleted = this.db
      .transaction(() => {
        this.db.prepare('DELETE FROM gallery_items WHERE gallery_id = ?').run(id);
        this.db.prepare('DELETE FROM gallery_staged_items WHERE gallery_id = ?').run(id);
        return this.db.prepare('DELETE FROM galleries WHERE id = ?').run(id).changes > 0;
      })
      .immediate();
    return deleted;
  }

  countLabels(id: string): number {
    return (
      this.db
        .prepare('SELECT COUNT(DISTINCT label) AS n FROM gallery_items WHERE gallery_id = ? AND label IS NOT NULL')
        .get(id) as { n: number }
    ).n;
  }

  stage(
    uploadId: string,
    galleryId: string,
    ids: string[],
    labels: (Label | null)[],
    features: Float32Array,
    embeddings: Float32Array,
  ): void {
    const n = ids.length;
    const d = features.length / n;
    const k = embeddings.length / n;
    const insert = this.db.prepare(
      `INSERT INTO gallery_staged_items (upload_id, gallery_id, item_id, label, features, embedding)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (let i = 0; i < n; i++)
        insert.run(
          uploadId,
          galleryId,
          ids[i],
          labelText(labels[i]),
          rowBytes(features, i, d),
          rowBytes(embeddings, i, k),
        );
    })();
  }

  /** `record` runs inside the commit's transaction with the record it leaves (an Idempotency-Key). */
  commit(
    uploadId: string,
    galleryId: string,
    modelId: string,
    count: number,
    limit: CapacityLimit,
    record: (after: GalleryRecord) => void = () => {},
  ): GalleryRecord {
    const out = this.db
      .transaction(() => {
        const g = this.require(galleryId);
        if (g.model_id !== modelId) throw modelChanged(galleryId, modelId, g.model_id);
        const staged = (
          this.db
            .prepare('SELECT COUNT(*) AS n FROM gallery_staged_items WHERE upload_id = ? AND gallery_id = ?')
            .get(uploadId, galleryId) as { n: number }
        ).n;
        if (staged !== count) throw new Error(`upload ${uploadId}: committing ${count} items but ${staged} are staged`);
        // An upsert clears the pending embedding: a reindex in progress embeds the item again.
        this.db
          .prepare(
            `INSERT INTO gallery_items (gallery_id, item_id, label, features, embedding, pending_embedding)
             SELECT gallery_id, item_id, label, features, embedding, NULL FROM gallery_staged_items
             WHERE upload_id = ? AND gallery_id = ? ORDER BY seq
             ON CONFLICT (gallery_id, item_id) DO UPDATE SET label = excluded.label,
               features = excluded.features, embedding = excluded.embedding, pending_embedding = NULL`,
          )
          .run(uploadId, galleryId);
        this.db.prepare('DELETE FROM gallery_staged_items WHERE upload_id = ?').run(uploadId);
        const after = this.touched(galleryId);
        if (after.itemCount > limit.max)
          throw limitError(
            `gallery ${galleryId} would hold ${after.itemCount} items; the limit is ${limit.max} (${limit.setting})`,
          );
        record(after);
        return after;
      })
      .immediate();
    return out;
  }

  discard(uploadId: string): void {
    this.db.prepare('DELETE FROM gallery_staged_items WHERE upload_id = ?').run(uploadId);
  }

  deleteItem(galleryId: string, itemId: string): GalleryDeletion {
    return this.db
      .transaction(() => {
        const g = this.require(galleryId);
        const deleted = this.db
          .prepare('DELETE FROM gallery_items WHERE gallery_id = ? AND item_id = ?')
          .run(galleryId, itemId).changes;
        return { deleted, gallery: deleted > 0 ? this.touched(galleryId) : galleryFromRow(g) };
      })
      .immediate();
  }

  deleteLabel(galleryId: string, label: string, type?: LabelType): GalleryDeletion {
    const keys = labelKeys(label, type);
    const inKeys = `label IN (${keys.map(() => '?').join(', ')})`;
    return this.db
      .transaction(() => {
        const g = this.require(galleryId);
        if (type === undefined && keys.length > 1) {
          const found = this.db
            .prepare(`SELECT COUNT(DISTINCT label) AS n FROM gallery_items WHERE gallery_id = ? AND ${inKeys}`)
            .get(galleryId, ...keys) as { n: number };
          refuseAmbiguousLabel(label, found.n);
        }
        const deleted = this.db
          .prepare(`DELETE FROM gallery_items WHERE gallery_id = ? AND ${inKeys}`)
          .run(galleryId, ...keys).changes;
        return { deleted, gallery: deleted > 0 ? this.touched(galleryId) : galleryFromRow(g) };
      })
      .immediate();
  }

  /** One read transaction: the record and its items agree on the version. */
  readEmbeddings(galleryId: string): StoredGalleryEmbeddings {
    return this.db.transaction(() => {
      const gallery = galleryFromRow(this.require(galleryId));
      const ids: string[] = [];
      const labels: (Label | null)[] = [];
      const blobs: Buffer[] = [];
      const rows = this.db
        .prepare('SELECT item_id, label, embedding FROM gallery_items WHERE gallery_id = ? ORDER BY item_id')
        .iterate(galleryId) as Iterable<{ item_id: string; label: string | null; embedding: Buffer }>;
      for (const r of rows) {
        ids.push(r.item_id);
        labels.push(labelOf(r.label));
        blobs.push(r.embedding);
      }
      const embeddings = packBlobs(blobs, gallery.embeddingDimension, `embedding in gallery ${galleryId}`);
      return { gallery, ids, labels, embeddings };
    })();
  }

  // ---- reindex ------------------------------------------------------------

  /**
   * Marks the gallery moving to modelId under jobId, inside createJob's transaction (so the mark and
   * the job's row are stored together or not at all); returns the model it moves from. A holder
   * that is over (its job ended, or was never stored by a version that marked before queueing) is
   * let go; a live one is REINDEX_PENDING. Every pending embedding is cleared.
   */
  holdForJob(galleryId: string, jobId: string, modelId: string): string {
    const g = this.require(galleryId);
    const holder = g.reindex_job_id as string | null;
    if (holder !== null) {
      const job = this.db.prepare('SELECT status FROM jobs WHERE id = ?').get(holder) as { status: string } | undefined;
      if (job && !isFinished(job.status as JobStatus)) throw reindexPending(galleryId, holder);
    }
    const m = this.db.prepare('SELECT input_dimension AS d FROM models WHERE id = ?').get(modelId) as
      { d: number } | undefined;
    if (!m) throw notFoundError('MODEL_NOT_FOUND', `model ${modelId} does not exist`);
    if (m.d !== Number(g.dimension)) throw dimensionMismatch(galleryId, Number(g.dimension), modelId, m.d);
    if (g.model_id === modelId) throw modelUnchanged(galleryId, modelId);
    this.db.prepare('UPDATE gallery_items SET pending_embedding = NULL WHERE gallery_id = ?').run(galleryId);
    this.db
      .prepare('UPDATE galleries SET pending_model_id = ?, reindex_job_id = ?, updated_at = ? WHERE id = ?')
      .run(modelId, jobId, now(), galleryId);
    return g.model_id as string;
  }

  private remaining(galleryId: string): number {
    return (
      this.db
        .prepare('SELECT COUNT(*) AS n FROM gallery_items WHERE gallery_id = ? AND pending_embedding IS NULL')
        .get(galleryId) as { n: number }
    ).n;
  }

  readUnindexed(galleryId: string, jobId: string, limit: number): UnindexedItems {
    return this.db.transaction(() => {
      const g = this.row(galleryId);
      refuseUnlessReindexHeld(galleryId, jobId, g);
      const dimension = Number(g!.dimension);
      const rows = this.db
        .prepare(
          `SELECT item_id, features FROM gallery_items WHERE gallery_id = ? AND pending_embedding IS NULL
           ORDER BY item_id LIMIT ?`,
        )
        .all(galleryId, limit) as { item_id: string; features: Buffer }[];
      const features = packBlobs(
        rows.map((r) => r.features),
        dimension,
        `features in gallery ${galleryId}`,
      );
      return { ids: rows.map((r) => r.item_id), features, dimension, remaining: this.remaining(galleryId) };
    })();
  }

  writeReindexBatch(galleryId: string, jobId: string, batch: ReindexBatch): boolean {
    const { ids, features, embeddings } = batch;
    return this.db
      .transaction(() => {
        const g = this.row(galleryId);
        if (!g || g.reindex_job_id !== jobId) return false;
        const k = ids.length > 0 ? embeddings.length / ids.length : 0;
        const d = ids.length > 0 ? features.length / ids.length : 0;
        // only while the item still has the features read: an upsert since then waits for the next read
        const update = this.db.prepare(
          'UPDATE gallery_items SET pending_embedding = ? WHERE gallery_id = ? AND item_id = ? AND features = ?',
        );
        for (let i = 0; i < ids.length; i++)
          update.run(rowBytes(embeddings, i, k), galleryId, ids[i], rowBytes(features, i, d));
        return true;
      })
      .immediate();
  }

  commitReindex(galleryId: string, jobId: string): ReindexCommit {
    return this.db
      .transaction((): ReindexCommit => {
        const g = this.row(galleryId);
        refuseUnlessReindexHeld(galleryId, jobId, g);
        const remaining = this.remaining(galleryId);
        if (remaining > 0) return { committed: false, remaining };
        const model = this.db
          .prepare('SELECT output_dimension AS k FROM models WHERE id = ?')
          .get(g!.pending_model_id) as { k: number } | undefined;
        if (!model) throw notFoundError('MODEL_NOT_FOUND', `model ${String(g!.pending_model_id)} does not exist`);
        this.db
          .prepare(
            'UPDATE gallery_items SET embedding = pending_embedding, pending_embedding = NULL WHERE gallery_id = ?',
          )
          .run(galleryId);
        this.db
          .prepare(
            `UPDATE galleries SET model_id = pending_model_id, embedding_dimension = ?, pending_model_id = NULL,
               reindex_job_id = NULL WHERE id = ?`,
          )
          .run(model.k, galleryId);
        return { committed: true, gallery: this.touched(galleryId) };
      })
      .immediate();
  }

  abortReindex(galleryId: string, jobId: string): void {
    this.db
      .transaction(() => {
        const g = this.row(galleryId);
        if (!g || g.reindex_job_id !== jobId) return;
        this.db.prepare('UPDATE gallery_items SET pending_embedding = NULL WHERE gallery_id = ?').run(galleryId);
        this.db
          .prepare('UPDATE galleries SET pending_model_id = NULL, reindex_job_id = NULL, updated_at = ? WHERE id = ?')
          .run(now(), galleryId);
      })
      .immediate();
  }

  /** MODEL_IN_USE when a gallery is pinned to the model or moving to it (deleteModel's check). */
  refuseIfModelUsed(modelId: string): void {
    const g = this.db
      .prepare('SELECT id FROM galleries WHERE model_id = ? OR pending_model_id = ? LIMIT 1')
      .get(modelId, modelId) as { id: string } | undefined;
    if (g) throw modelInUse(modelId, g.id);
  }
}

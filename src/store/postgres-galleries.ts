// The gallery methods of the PostgreSQL store. Every write locks the gallery's row first (FOR
// UPDATE), so writes to one gallery from any replica run one after the other and each sees the
// last one's version; a search's read is one REPEATABLE READ snapshot. Creating a gallery or
// starting a reindex holds the model's row FOR SHARE, so a concurrent deleteModel (which deletes,
// then looks for galleries) waits and then sees the gallery. docs/decisions/0031-galleries.md.
import type pg from 'pg';
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
import { oweScrub } from './postgres-scrubs.js';
import { postgresNewestFirst } from './newest-first.js';
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

/** Anything that runs a query: the pool, or one client inside a transaction. */
interface Queryable {
  query<R extends pg.QueryResultRow = Row>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

type Transaction = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;

/** Items read per query when loading a gallery's embeddings (keyset pages, one snapshot). */
const READ_PAGE = 10_000;

async function one(db: Queryable, sql: string, values: unknown[]): Promise<Row | undefined> {
  return (await db.query(sql, values)).rows[0];
}

async function lockGallery(c: Queryable, id: string): Promise<Row> {
  const g = await one(c, 'SELECT * FROM galleries WHERE id = $1 FOR UPDATE', [id]);
  if (!g) throw galleryNotFound(id);
  return g;
}

/**
 * The gallery after a delete of `deleted` items from its locked row `g`: touched, and the rewrite
 * owed, when any went (an erased item's bytes also sit in its replaced versions and in its staged
 * upload rows), else as it was.
 */
async function afterDeletion(c: Queryable, g: Row, deleted: number): Promise<GalleryRecord> {
  if (deleted === 0) return galleryFromRow(g);
  await oweScrub(c, ['gallery_items', 'gallery_staged_items']);
  return touched(c, String(g.id));
}

/** The gallery's items changed: count, version + 1, updated_at, in the caller's transaction. */
async function touched(c: Queryable, id: string): Promise<GalleryRecord> {
  const r = await one(
    c,
    `UPDATE galleries SET version = version + 1, updated_at = now(),
       item_count = (SELECT COUNT(*) FROM gallery_items WHERE gallery_id = $1) WHERE id = $1 RETURNING *`,
    [id],
  );
  return galleryFromRow(r!);
}

async function remaining(c: Queryable, galleryId: string): Promise<number> {
  const r = await one(
    c,
    'SELECT COUNT(*)::int AS n FROM gallery_items WHERE gallery_id = $1 AND pending_embedding IS NULL',
    [galleryId],
  );
  return r!.n as number;
}

export class PostgresGalleries {
  constructor(
    private readonly pool: pg.Pool,
    private readonly tx: Transaction,
  ) {}

  async create(input: NewGallery): Promise<GalleryRecord> {
    return this.tx(async (c) => {
      if (!(await one(c, 'SELECT 1 FROM models WHERE id = $1 FOR SHARE', [input.modelId])))
        throw notFoundError('MODEL_NOT_FOUND', `model ${input.modelId} does not exist`);
      const r = await one(
        c,
        `INSERT INTO galleries (id, name, model_id, dimension, embedding_dimension, index_kind)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
        [newId('gal'), input.name, input.modelId, input.dimension, input.embeddingDimension, input.index],
      );
      return galleryFromRow(r!);
    });
  }

  async get(id: string): Promise<GalleryRecord | undefined> {
    const r = await one(this.pool, 'SELECT * FROM galleries WHERE id = $1', [id]);
    return r ? galleryFromRow(r) : undefined;
  }

  list(req: PageRequest): Promise<Page<GalleryRecord>> {
    return postgresNewestFirst(this.pool, 'galleries', req, galleryFromRow);
  }

  /**
   * Deletes the gallery, its items and staged items; false when unknown. A deleted gallery's items
   * are erased as one item is: the rewrite of their tables is owed when rows went, and of the
   * galleries table when it had a name (src/store/postgres-scrubs.ts).
   */
  async delete(id: string): Promise<boolean> {
    return this.tx(async (c) => {
      const gone = await c.query<{ name: string | null }>('DELETE FROM galleries WHERE id = $1 RETURNING name', [id]);
      const items = (await c.query('DELETE FROM gallery_items WHERE gallery_id = $1', [id])).rowCount ?? 0;
      const staged = (await c.query('DELETE FROM gallery_staged_items WHERE gallery_id = $1', [id])).rowCount ?? 0;
      const deleted = gone.rows.length > 0;
      const tables = items + staged > 0 ? ['gallery_items', 'gallery_staged_items'] : [];
      if (deleted && gone.rows[0].name !== null) tables.push('galleries');
      await oweScrub(c, tables);
      return deleted;
    });
  }

  async countLabels(id: string): Promise<number> {
    const r = await one(
      this.pool,
      'SELECT COUNT(DISTINCT label)::int AS n FROM gallery_items WHERE gallery_id = $1 AND label IS NOT NULL',
      [id],
    );
    return r!.n as number;
  }

  async stage(
    uploadId: string,
    galleryId: string,
    ids: string[],
    labels: (Label | null)[],
    features: Float32Array,
    embeddings: Float32Array,
  ): Promise<void> {
    const n = ids.length;
    if (n === 0) return;
    const d = features.length / n;
    const k = embeddings.length / n;
    await this.pool.query(
      `INSERT INTO gallery_staged_items (upload_id, gallery_id, item_id, label, features, embedding)
       SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::bytea[], $6::bytea[])`,
      [
        uploadId,
        galleryId,
        ids,
        labels.map(labelText),
        ids.map((_, i) => rowBytes(features, i, d)),
        ids.map((_, i) => rowBytes(embeddings, i, k)),
      ],
    );
  }

  /** `record` runs inside the commit's transaction with the record it leaves (an Idempotency-Key). */
  async commit(
    uploadId: string,
    galleryId: string,
    modelId: string,
    count: number,
    limit: CapacityLimit,
    record: (c: Queryable, after: GalleryRecord) => Promise<void> = async () => {},
  ): Promise<GalleryRecord> {
    return this.tx(async (c) => {
      const g = await lockGallery(c, galleryId);
      if (g.model_id !== modelId) throw modelChanged(galleryId, modelId, g.model_id);
      // An upsert clears the pending embedding: a reindex in progress embeds the item again.
      const { rowCount } = await c.query(
        `INSERT INTO gallery_items (gallery_id, item_id, label, features, embedding, pending_embedding)
         SELECT gallery_id, item_id, label, features, embedding, NULL FROM gallery_staged_items
         WHERE upload_id = $1 AND gallery_id = $2 ORDER BY seq
         ON CONFLICT (gallery_id, item_id) DO UPDATE SET label = excluded.label,
           features = excluded.features, embedding = excluded.embedding, pending_embedding = NULL`,
        [uploadId, galleryId],
      );
      // Staged rows swept at another replica's start-up (the upload outlived the grace period): refuse.
      if (rowCount !== count)
        throw new Error(`upload ${uploadId}: committing ${count} items but ${rowCount ?? 0} are staged`);
      await c.query('DELETE FROM gallery_staged_items WHERE upload_id = $1', [uploadId]);
      const after = await touched(c, galleryId);
      if (after.itemCount > limit.max)
        throw limitError(
          `gallery ${galleryId} would hold ${after.itemCount} items; the limit is ${limit.max} (${limit.setting})`,
        );
      await record(c, after);
      return after;
    });
  }

  async discard(uploadId: string): Promise<void> {
    await this.pool.query('DELETE FROM gallery_staged_items WHERE upload_id = $1', [uploadId]);
  }

  /** Staged items older than graceMs belong to uploads that died with their process. */
  async sweepStaged(graceMs: number): Promise<void> {
    await this.pool.query('DELETE FROM gallery_staged_items WHERE staged_at < now() - make_interval(secs => $1)', [
      graceMs / 1000,
    ]);
  }

  async deleteItem(galleryId: string, itemId: string): Promise<GalleryDeletion> {
    return this.tx(async (c) => {
      const g = await lockGallery(c, galleryId);
      const deleted =
        (await c.query('DELETE FROM gallery_items WHERE gallery_id = $1 AND item_id = $2', [galleryId, itemId]))
          .rowCount ?? 0;
      return { deleted, gallery: await afterDeletion(c, g, deleted) };
    });
  }

  async deleteLabel(galleryId: string, label: string, type?: LabelType): Promise<GalleryDeletion> {
    const keys = labelKeys(label, type);
    return this.tx(async (c) => {
      const g = await lockGallery(c, galleryId);
      if (type === undefined && keys.length > 1) {
        const found = await one(
          c,
          'SELECT COUNT(DISTINCT label)::int AS n FROM gallery_items WHERE gallery_id = $1 AND label = ANY($2::text[])',
          [galleryId, keys],
        );
        refuseAmbiguousLabel(label, Number(found!.n));
      }
      const deleted =
        (
          await c.query('DELETE FROM gallery_items WHERE gallery_id = $1 AND label = ANY($2::text[])', [
            galleryId,
            keys,
          ])
        ).rowCount ?? 0;
      return { deleted, gallery: await afterDeletion(c, g, deleted) };
    });
  }

  async readEmbeddings(galleryId: string): Promise<StoredGalleryEmbeddings> {
    return this.tx(async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const r = await one(c, 'SELECT * FROM galleries WHERE id = $1', [galleryId]);
      if (!r) throw galleryNotFound(galleryId);
      const gallery = galleryFromRow(r);
      const ids: string[] = [];
      const labels: (Label | null)[] = [];
      const blobs: Buffer[] = [];
      for (;;) {
        const { rows } = await c.query<{ item_id: string; label: string | null; embedding: Buffer }>(
          `SELECT item_id, label, embedding FROM gallery_items WHERE gallery_id = $1 AND item_id > $2
           ORDER BY item_id LIMIT $3`,
          [galleryId, ids.length ? ids[ids.length - 1] : '', READ_PAGE],
        );
        for (const row of rows) {
          ids.push(row.item_id);
          labels.push(labelOf(row.label));
          blobs.push(row.embedding);
        }
        if (rows.length < READ_PAGE) break;
      }
      const embeddings = packBlobs(blobs, gallery.embeddingDimension, `embedding in gallery ${galleryId}`);
      return { gallery, ids, labels, embeddings };
    });
  }

  // ---- reindex ------------------------------------------------------------

  /**
   * Marks the gallery moving to modelId under jobId, inside createJob's transaction (so the mark and
   * the job's row are stored together or not at all); returns the model it moves from. The
   * gallery's row lock orders it against any other reindex, commit or delete of the gallery in any
   * replica. A holder that is over (its job ended, or was never stored by a version that marked
   * before queueing) is let go; a live one is REINDEX_PENDING. The holder's job row is read, not
   * locked: succeedReindexJob locks the job and then the gallery, and a finished job stays finished.
   */
  async holdForJob(c: Queryable, galleryId: string, jobId: string, modelId: string): Promise<string> {
    const g = await lockGallery(c, galleryId);
    const holder = g.reindex_job_id as string | null;
    if (holder !== null) {
      const job = await one(c, 'SELECT status FROM jobs WHERE id = $1', [holder]);
      if (job && !isFinished(job.status as JobStatus)) throw reindexPending(galleryId, holder);
    }
    const m = await one(c, 'SELECT input_dimension AS d FROM models WHERE id = $1 FOR SHARE', [modelId]);
    if (!m) throw notFoundError('MODEL_NOT_FOUND', `model ${modelId} does not exist`);
    if (m.d !== g.dimension) throw dimensionMismatch(galleryId, Number(g.dimension), modelId, Number(m.d));
    if (g.model_id === modelId) throw modelUnchanged(galleryId, modelId);
    await c.query('UPDATE gallery_items SET pending_embedding = NULL WHERE gallery_id = $1', [galleryId]);
    await c.query('UPDATE galleries SET pending_model_id = $2, reindex_job_id = $3, updated_at = now() WHERE id = $1', [
      galleryId,
      modelId,
      jobId,
    ]);
    return g.model_id as string;
  }

  async readUnindexed(galleryId: string, jobId: string, limit: number): Promise<UnindexedItems> {
    return this.tx(async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const g = await one(c, 'SELECT * FROM galleries WHERE id = $1', [galleryId]);
      refuseUnlessReindexHeld(galleryId, jobId, g);
      const dimension = Number(g!.dimension);
      const { rows } = await c.query<{ item_id: string; features: Buffer }>(
        `SELECT item_id, features FROM gallery_items WHERE gallery_id = $1 AND pending_embedding IS NULL
         ORDER BY item_id LIMIT $2`,
        [galleryId, limit],
      );
      const features = packBlobs(
        rows.map((r) => r.features),
        dimension,
        `features in gallery ${galleryId}`,
      );
      return { ids: rows.map((r) => r.item_id), features, dimension, remaining: await remaining(c, galleryId) };
    });
  }

  async writeReindexBatch(galleryId: string, jobId: string, batch: ReindexBatch): Promise<boolean> {
    const { ids, features, embeddings } = batch;
    return this.tx(async (c) => {
      const g = await one(c, 'SELECT reindex_job_id FROM galleries WHERE id = $1 FOR UPDATE', [galleryId]);
      if (!g || g.reindex_job_id !== jobId) return false;
      if (ids.length === 0) return true;
      const k = embeddings.length / ids.length;
      const d = features.length / ids.length;
      // only while the item still has the features read: an upsert since then waits for the next read
      await c.query(
        `UPDATE gallery_items SET pending_embedding = u.e
         FROM unnest($2::text[], $3::bytea[], $4::bytea[]) AS u(id, e, f)
         WHERE gallery_id = $1 AND item_id = u.id AND features = u.f`,
        [galleryId, ids, ids.map((_, i) => rowBytes(embeddings, i, k)), ids.map((_, i) => rowBytes(features, i, d))],
      );
      return true;
    });
  }

  async commitReindex(galleryId: string, jobId: string): Promise<ReindexCommit> {
    return this.tx((c) => this.commitReindexIn(c, galleryId, jobId));
  }

  /** commitReindex inside the caller's transaction (a reindex job's success joins it). */
  async commitReindexIn(c: Queryable, galleryId: string, jobId: string): Promise<ReindexCommit> {
    {
      const g = await one(c, 'SELECT * FROM galleries WHERE id = $1 FOR UPDATE', [galleryId]);
      refuseUnlessReindexHeld(galleryId, jobId, g);
      const left = await remaining(c, galleryId);
      if (left > 0) return { committed: false, remaining: left };
      const m = await one(c, 'SELECT output_dimension AS k FROM models WHERE id = $1 FOR SHARE', [g!.pending_model_id]);
      if (!m) throw notFoundError('MODEL_NOT_FOUND', `model ${String(g!.pending_model_id)} does not exist`);
      await c.query(
        'UPDATE gallery_items SET embedding = pending_embedding, pending_embedding = NULL WHERE gallery_id = $1',
        [galleryId],
      );
      await c.query(
        `UPDATE galleries SET model_id = pending_model_id, embedding_dimension = $2, pending_model_id = NULL,
           reindex_job_id = NULL WHERE id = $1`,
        [galleryId, m.k],
      );
      return { committed: true, gallery: await touched(c, galleryId) };
    }
  }

  async abortReindex(galleryId: string, jobId: string): Promise<void> {
    await this.tx(async (c) => {
      const g = await one(c, 'SELECT reindex_job_id FROM galleries WHERE id = $1 FOR UPDATE', [galleryId]);
      if (!g || g.reindex_job_id !== jobId) return;
      await c.query('UPDATE gallery_items SET pending_embedding = NULL WHERE gallery_id = $1', [galleryId]);
      await c.query(
        'UPDATE galleries SET pending_model_id = NULL, reindex_job_id = NULL, updated_at = now() WHERE id = $1',
        [galleryId],
      );
    });
  }

  /** MODEL_IN_USE when a gallery is pinned to the model or moving to it (deleteModel's check). */
  async refuseIfModelUsed(c: Queryable, modelId: string): Promise<void> {
    const g = await one(c, 'SELECT id FROM galleries WHERE model_id = $1 OR pending_model_id = $1 LIMIT 1', [modelId]);
    if (g) throw modelInUse(modelId, g.id);
  }
}

// Identity-level data on PostgreSQL: label counts kept with every commit, erasure of one label's
// samples, and Idempotency-Keys recorded in the upload's transaction. PostgresStore calls these
// with the client of its own transaction (docs/decisions/0034-identity-level-data.md).
import type pg from 'pg';
import { conflictError, notFoundError } from '../domain/errors.js';
import { ErasedSamples, pruneSamples, pruneTriplets, type KeptChunk } from './erase.js';
import { countLabels, decodeLabelCursor, labelPage, replyOf } from './identity-rows.js';
import type { Row } from './rows.js';
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

interface Queryable {
  query<R extends pg.QueryResultRow = Row>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

const PURGE_PER_COMMIT = 100;

/** A label's key columns: kind (0 integer, 1 string), integer value (0 for strings), JSON text. */
const keyOf = (label: Label): [number, number, string] =>
  typeof label === 'number' ? [0, label, JSON.stringify(label)] : [1, 0, JSON.stringify(label)];

const UPSERT = `ON CONFLICT (dataset_id, label_kind, label_int, label_json)
  DO UPDATE SET sample_count = dataset_labels.sample_count + excluded.sample_count`;

/** Adds a batch's labels to the dataset's counts. */
export async function addLabels(c: Queryable, datasetId: string, labels: readonly Label[]): Promise<void> {
  const counts = countLabels(labels);
  const keys = counts.map((l) => keyOf(l.label));
  await c.query(
    `INSERT INTO dataset_labels (dataset_id, label_kind, label_int, label_json, sample_count)
     SELECT $1, k, i, j, n FROM unnest($2::smallint[], $3::bigint[], $4::text[], $5::integer[]) AS u(k, i, j, n)
     ${UPSERT}`,
    [datasetId, keys.map((k) => k[0]), keys.map((k) => k[1]), keys.map((k) => k[2]), counts.map((l) => l.sampleCount)],
  );
}

/**
 * Adds the labels of an upload's staged chunks to the dataset's counts. Their elements' text is
 * what the store wrote (JSON.stringify), which `json` keeps as it is: the key a batch gets.
 */
export async function addStagedLabels(c: Queryable, datasetId: string, uploadId: string, by: string): Promise<void> {
  await c.query(
    `INSERT INTO dataset_labels (dataset_id, label_kind, label_int, label_json, sample_count)
     SELECT $1, CASE WHEN json_typeof(e) = 'number' THEN 0 ELSE 1 END,
       CASE WHEN json_typeof(e) = 'number' THEN (e::text)::bigint ELSE 0 END, e::text, COUNT(*)
     FROM chunks c CROSS JOIN LATERAL json_array_elements(c.labels) e
     WHERE c.upload_id = $2 AND c.staged_by = $3 AND c.kind = 'samples'
     GROUP BY 2, 3, 4
     ${UPSERT}`,
    [datasetId, uploadId, by],
  );
}

/**
 * Counts every dataset's labels again from its committed chunks (as migration 4 did): for data
 * written behind the store's back, such as a copy from SQLite (src/tools/sqlite-to-postgres.ts).
 */
export async function rebuildLabelCounts(c: Queryable): Promise<void> {
  await c.query('DELETE FROM dataset_labels');
  await c.query(
    `INSERT INTO dataset_labels (dataset_id, label_kind, label_int, label_json, sample_count)
     SELECT c.dataset_id, CASE WHEN json_typeof(e) = 'number' THEN 0 ELSE 1 END,
       CASE WHEN json_typeof(e) = 'number' THEN (e::text)::bigint ELSE 0 END, e::text, COUNT(*)
     FROM chunks c CROSS JOIN LATERAL json_array_elements(c.labels) e
     WHERE c.kind = 'samples' AND c.upload_id IS NULL AND c.labels IS NOT NULL
     GROUP BY 1, 2, 3, 4`,
  );
  await c.query(
    'UPDATE datasets SET label_count = (SELECT COUNT(*) FROM dataset_labels l WHERE l.dataset_id = datasets.id)',
  );
}

/** Sets label_count from the label table; returns the dataset row as it is now. */
export async function refreshLabelCount(c: Queryable, datasetId: string): Promise<Row | undefined> {
  const { rows } = await c.query(
    `UPDATE datasets SET label_count = (SELECT COUNT(*) FROM dataset_labels WHERE dataset_id = $1)
     WHERE id = $1 RETURNING *`,
    [datasetId],
  );
  return rows[0];
}

/** DATASET_CHANGED when samples were erased since rows were gathered from them at `epoch`. */
export async function checkEpoch(c: Queryable, datasetId: string, epoch: number | undefined): Promise<void> {
  if (epoch === undefined) return;
  const { rows } = await c.query<{ e: number }>('SELECT samples_epoch AS e FROM datasets WHERE id = $1', [datasetId]);
  if (rows[0] && rows[0].e !== epoch)
    throw conflictError(
      'DATASET_CHANGED',
      `samples of dataset ${datasetId} were erased while the indexTriplets were resolved; send them again`,
    );
}

/**
 * Records the key with the reply, purging a few expired keys first. A concurrent commit of the
 * same key makes this one wait for it, then insert nothing: this throws and everything rolls back.
 */
export async function recordKey(
  c: Queryable,
  once: IdempotentWrite | undefined,
  after: DatasetRecord | GalleryRecord,
): Promise<void> {
  if (!once) return;
  await c.query(
    `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT $1))`,
    [PURGE_PER_COMMIT],
  );
  const { rowCount } = await c.query(
    `INSERT INTO idempotency_keys (scope, key, body_hash, status, reply, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) ON CONFLICT (scope, key) DO NOTHING`,
    [once.scope, once.key, once.bodyHash, once.status, JSON.stringify(replyOf(once, after)), once.ttlMs / 1000],
  );
  if ((rowCount ?? 0) === 0)
    throw conflictError(
      'IDEMPOTENCY_KEY_IN_FLIGHT',
      `another request with Idempotency-Key ${once.key} committed first`,
    );
}

export async function getKey(c: Queryable, scope: string, key: string): Promise<StoredIdempotencyKey | undefined> {
  const { rows } = await c.query(
    'SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at > now()',
    [scope, key],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    scope: r.scope as string,
    key: r.key as string,
    bodyHash: r.body_hash as string,
    status: r.status as number,
    reply: r.reply as Record<string, unknown>,
    createdAt: (r.created_at as Date).toISOString(),
    expiresAt: (r.expires_at as Date).toISOString(),
  };
}

export async function purgeKeys(c: Queryable): Promise<number> {
  return (await c.query('DELETE FROM idempotency_keys WHERE expires_at <= now()')).rowCount ?? 0;
}

export async function listLabels(c: Queryable, datasetId: string, req: PageRequest): Promise<Page<LabelCount>> {
  const after = decodeLabelCursor(req.cursor);
  const [k, i, j] = after === undefined ? [-1, 0, ''] : keyOf(after);
  const { rows } = await c.query<{ label_kind: number; label_int: string; label_json: string; sample_count: number }>(
    `SELECT label_kind, label_int, label_json, sample_count FROM dataset_labels
     WHERE dataset_id = $1 AND (label_kind, label_int, label_json) > ($2, $3, $4)
     ORDER BY label_kind, label_int, label_json LIMIT $5`,
    [datasetId, k, i, j, req.limit + 1],
  );
  return labelPage(
    rows.map((r) => ({ label: JSON.parse(r.label_json) as Label, sampleCount: r.sample_count })),
    req.limit,
  );
}

/**
 * Inside the caller's transaction, with the dataset row locked: rewrites the chunks without the
 * label's samples and the triplets that use them, and updates the counts. Staged index triplets
 * of the dataset go too (their indices were taken before; their upload fails with DATASET_CHANGED).
 */
export async function erase(
  c: Queryable,
  ds: DatasetRecord,
  label: Label,
): Promise<{ samplesErased: number; tripletsErased: number }> {
  const [kind, int, json] = keyOf(label);
  const { rows: counted } = await c.query<{ n: number }>(
    `SELECT sample_count AS n FROM dataset_labels
     WHERE dataset_id = $1 AND label_kind = $2 AND label_int = $3 AND label_json = $4`,
    [ds.id, kind, int, json],
  );
  if (!counted[0])
    throw notFoundError(
      'LABEL_NOT_FOUND',
      `dataset ${ds.id} has no samples labelled ${json} (a ${kind === 0 ? 'integer' : 'string'})`,
    );
  const { rows: vectorTriplets } = await c.query(
    `SELECT 1 FROM chunks WHERE dataset_id = $1 AND kind = 'triplets' AND upload_id IS NULL
     AND sample_refs IS NULL LIMIT 1`,
    [ds.id],
  );
  const erased = new ErasedSamples(counted[0].n, vectorTriplets.length > 0);
  const { rows: hits } = await c.query<{ seq: string; start: string }>(
    `SELECT seq, start FROM (
       SELECT seq, labels, SUM(count) OVER (ORDER BY seq) - count AS start FROM chunks
       WHERE dataset_id = $1 AND kind = 'samples' AND upload_id IS NULL) s
     WHERE EXISTS (SELECT 1 FROM json_array_elements(s.labels) e WHERE e::text = $2)
     ORDER BY seq`,
    [ds.id, json],
  );
  for (const { seq, start } of hits) {
    const { rows } = await c.query<{ count: number; data: Buffer; labels: Label[] }>(
      'SELECT count, data, labels FROM chunks WHERE seq = $1',
      [seq],
    );
    const kept = pruneSamples(rows[0], ds.dimension, label, Number(start), erased);
    if (kept) await rewrite(c, seq, kept);
  }
  if (erased.count !== counted[0].n)
    throw new Error(`dataset ${ds.id}: ${erased.count} samples labelled ${json}, ${counted[0].n} counted`);
  let tripletsErased = 0;
  const { rows: triplets } = await c.query<{ seq: string }>(
    "SELECT seq FROM chunks WHERE dataset_id = $1 AND kind = 'triplets' AND upload_id IS NULL ORDER BY seq",
    [ds.id],
  );
  for (const { seq } of triplets) {
    const { rows } = await c.query<{ count: number; data: Buffer; sample_refs: Buffer | null }>(
      'SELECT count, data, sample_refs FROM chunks WHERE seq = $1',
      [seq],
    );
    const kept = pruneTriplets(
      { count: rows[0].count, data: rows[0].data, refs: rows[0].sample_refs },
      ds.dimension,
      erased,
    );
    if (!kept) continue;
    tripletsErased += rows[0].count - kept.count;
    await rewrite(c, seq, kept);
  }
  await c.query(
    "DELETE FROM chunks WHERE dataset_id = $1 AND kind = 'triplets' AND upload_id IS NOT NULL AND sample_refs IS NOT NULL",
    [ds.id],
  );
  await c.query(
    'DELETE FROM dataset_labels WHERE dataset_id = $1 AND label_kind = $2 AND label_int = $3 AND label_json = $4',
    [ds.id, kind, int, json],
  );
  await c.query(
    `UPDATE datasets SET sample_count = sample_count - $1, triplet_count = triplet_count - $2,
       samples_epoch = samples_epoch + 1 WHERE id = $3`,
    [erased.count, tripletsErased, ds.id],
  );
  return { samplesErased: erased.count, tripletsErased };
}

async function rewrite(c: Queryable, seq: string, kept: KeptChunk): Promise<void> {
  if (kept.count === 0) {
    await c.query('DELETE FROM chunks WHERE seq = $1', [seq]);
    return;
  }
  await c.query('UPDATE chunks SET count = $1, data = $2, labels = $3, sample_refs = $4 WHERE seq = $5', [
    kept.count,
    kept.data,
    kept.labels ? JSON.stringify(kept.labels) : null,
    kept.refs,
    seq,
  ]);
}

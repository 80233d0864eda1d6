// The copy behind scripts/sqlite-to-postgres.ts. It reads SQLite's tables directly and writes
// PostgreSQL's (the two schemas mirror each other, see src/store/migrations.ts and
// postgres-migrations.ts): the Store interface hands out new ids, and a migration must keep them.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { checksum } from '../store/rows.js';
import { openPostgresStore } from '../store/postgres.js';
import { rebuildLabelCounts } from '../store/postgres-identity.js';

type Row = Record<string, unknown>;

export interface CopyReport {
  datasets: number;
  chunks: number;
  jobs: number;
  models: number;
  aliases: number;
  galleries: number;
  galleryItems: number;
  /** every check that was made passed (a failure throws and rolls the copy back) */
  verified: true;
}

const TABLES: Record<string, string[]> = {
  datasets: ['id', 'name', 'dimension', 'triplet_count', 'sample_count', 'created_at'],
  chunks: ['dataset_id', 'kind', 'count', 'data', 'labels', 'sample_refs'],
  jobs: [
    'id',
    'status',
    'kind',
    'dataset_id',
    'gallery_id',
    'params',
    'progress',
    'metrics',
    'model_id',
    'error',
    'created_at',
    'started_at',
    'finished_at',
    'attempts',
    'resumed_from_iteration',
    'model_name',
    'promote',
  ],
  models: [
    'id',
    'job_id',
    'name',
    'input_dimension',
    'output_dimension',
    'normalize',
    'training_params',
    'metrics',
    'weights',
    'checksum',
    'created_at',
  ],
  // after models: an alias points to one (a foreign key)
  aliases: ['name', 'model_id', 'previous_model_id', 'created_at', 'updated_at'],
  galleries: [
    'id',
    'name',
    'model_id',
    'dimension',
    'embedding_dimension',
    'index_kind',
    'version',
    'item_count',
    'pending_model_id',
    'reindex_job_id',
    'created_at',
    'updated_at',
  ],
  gallery_items: ['gallery_id', 'item_id', 'label', 'features', 'embedding', 'pending_embedding'],
};

/** Tables without a seq column, copied in their rows' order of insertion. */
const NO_SEQ = new Set(['gallery_items']);

/** SQLite's value as PostgreSQL takes it: 0/1 → boolean for `normalize` and `promote`, JSON text as is. */
function value(column: string, v: unknown): unknown {
  if (column === 'normalize' || column === 'promote') return v === 1;
  return v;
}

/**
 * A file from before leases (schema version 2) has no attempts column: a job that started counts
 * one, as the migration counts it. Leases and checkpoints are not copied: a job copied running has
 * no lease, so the first replica to start requeues it and it runs again from zero.
 */
const OLD_JOB_COLUMNS: Record<string, string> = {
  attempts: 'CASE WHEN started_at IS NULL THEN 0 ELSE 1 END AS attempts',
  resumed_from_iteration: 'NULL AS resumed_from_iteration',
  // before aliases (schema version 3): no name for the model, no promotion
  model_name: 'NULL AS model_name',
  promote: '0 AS promote',
  // a file from before identity-level data (schema version 3): no index triplet kept its indices
  sample_refs: 'NULL AS sample_refs',
  // before job kinds: every job trained
  kind: "'train' AS kind",
  gallery_id: 'NULL AS gallery_id',
};

/** A file from before aliases has no aliases table: `default` is its newest model, as the migration sets it. */
const OLD_ALIASES = `SELECT 'default' AS name, id AS model_id, NULL AS previous_model_id, created_at, created_at AS updated_at
  FROM models ORDER BY seq DESC LIMIT 1`;

function sourceRows(db: Database.Database, table: string): Row[] {
  const where = table === 'chunks' ? 'WHERE upload_id IS NULL' : '';
  const have = new Set((db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
  if (table === 'aliases' && have.size === 0) return db.prepare(OLD_ALIASES).all() as Row[];
  // a file from before galleries has none
  if (have.size === 0) return [];
  const refsTable = table === 'chunks' && (db.pragma('table_info(chunk_refs)') as unknown[]).length > 0;
  const columns = TABLES[table].map((c) =>
    // since schema version 0056 the indices live in chunk_refs (chunks.sample_refs may hold a stale copy)
    c === 'sample_refs' && refsTable
      ? '(SELECT refs FROM chunk_refs r WHERE r.seq = chunks.seq) AS sample_refs'
      : have.has(c)
        ? c
        : (OLD_JOB_COLUMNS[c] ?? c),
  );
  const order = NO_SEQ.has(table) ? 'rowid' : 'seq';
  return db.prepare(`SELECT ${columns.join(', ')} FROM ${table} ${where} ORDER BY ${order}`).all() as Row[];
}

async function insertAll(client: pg.ClientBase, table: string, rows: Row[]): Promise<void> {
  const cols = TABLES[table];
  const sql = `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`;
  for (const r of rows)
    await client.query(
      sql,
      cols.map((c) => value(c, r[c])),
    );
}

/** SHA-256 of each dataset's chunk bytes, in order, per kind. */
function digests(rows: { dataset_id: string; kind: string; data: Uint8Array }[]): Map<string, string> {
  const h = new Map<string, ReturnType<typeof createHash>>();
  for (const r of rows) {
    const key = `${r.dataset_id}/${r.kind}`;
    if (!h.has(key)) h.set(key, createHash('sha256'));
    h.get(key)!.update(r.data);
  }
  return new Map([...h].map(([k, v]) => [k, v.digest('hex')]));
}

async function verify(client: pg.ClientBase, db: Database.Database, counts: Record<string, number>): Promise<void> {
  for (const table of Object.keys(TABLES)) {
    const { rows } = await client.query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM ${table} WHERE ${table === 'chunks' ? 'upload_id IS NULL' : 'true'}`,
    );
    if (Number(rows[0].n) !== counts[table])
      throw new Error(`${table}: ${rows[0].n} rows in PostgreSQL, ${counts[table]} in SQLite`);
  }
  const src = digests(
    db.prepare('SELECT dataset_id, kind, data FROM chunks WHERE upload_id IS NULL ORDER BY seq').all() as never,
  );
  const dst = digests(
    (await client.query('SELECT dataset_id, kind, data FROM chunks WHERE upload_id IS NULL ORDER BY seq')).rows,
  );
  for (const [key, digest] of src)
    if (dst.get(key) !== digest) throw new Error(`dataset ${key}: the vectors differ after the copy`);
  const models = await client.query<{ id: string; weights: Buffer; checksum: string }>(
    'SELECT id, weights, checksum FROM models',
  );
  for (const m of models.rows)
    if (checksum(m.weights) !== m.checksum) throw new Error(`model ${m.id}: its weights fail their checksum`);
}

export async function copySqliteToPostgres(file: string, url: string): Promise<CopyReport> {
  // Opening the store creates or updates PostgreSQL's schema (under the migration lock).
  await (await openPostgresStore(url)).close();
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ n: string }>(
      'SELECT (SELECT COUNT(*) FROM datasets) + (SELECT COUNT(*) FROM jobs) + (SELECT COUNT(*) FROM models) AS n',
    );
    if (Number(rows[0].n) > 0)
      throw new Error('the PostgreSQL database already holds datasets, jobs or models; copy into an empty one');
    // One read transaction on SQLite: every table from the same snapshot.
    const read = db.transaction(() => Object.fromEntries(Object.keys(TABLES).map((t) => [t, sourceRows(db, t)])));
    const source = read() as Record<string, Row[]>;
    for (const table of Object.keys(TABLES)) await insertAll(client, table, source[table]);
    // label counts are derived: counted from the copied chunks, as a migration counts them
    await rebuildLabelCounts(client);
    const counts = Object.fromEntries(Object.entries(source).map(([t, r]) => [t, r.length]));
    await verify(client, db, counts);
    await client.query('COMMIT');
    return {
      datasets: counts.datasets,
      chunks: counts.chunks,
      jobs: counts.jobs,
      models: counts.models,
      aliases: counts.aliases,
      galleries: counts.galleries,
      galleryItems: counts.gallery_items,
      verified: true,
    };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    await client.end();
    db.close();
  }
}

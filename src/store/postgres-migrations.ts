// PostgreSQL schema versions, applied in order at start-up. Never edit a shipped step: add one.
// Every replica runs migrate() when it opens; the advisory lock makes the others wait for the
// first, and they then find nothing left to do, so replicas starting together migrate once.
import type pg from 'pg';

/**
 * The key of the transaction-scoped advisory lock held while migrating ("triple" in ASCII).
 * Advisory locks are per database, so databases on one server do not wait for each other.
 */
export const MIGRATION_LOCK = 0x747269706c65;

// JSON columns are `json`, not `jsonb`: `json` keeps the text as written, so objects come back with
// their keys in the order they were stored (as SQLite's TEXT does) and labels keep their JS type.
// The store never queries inside them. Vectors are little-endian float32 in append-only `bytea`
// chunks; a chunk with a non-null upload_id belongs to a streamed upload that has not committed.
export const PG_MIGRATIONS: string[] = [
  `
  CREATE TABLE datasets (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    name text,
    dimension integer NOT NULL,
    triplet_count integer NOT NULL DEFAULT 0,
    sample_count integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE chunks (
    seq bigserial PRIMARY KEY,
    dataset_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('triplets', 'samples')),
    count integer NOT NULL,
    data bytea NOT NULL,
    labels json,
    upload_id text,
    -- which open store staged it, and when: only that store commits it; start-up sweeps old ones
    staged_by text,
    staged_at timestamptz
  );
  CREATE INDEX chunks_by_dataset ON chunks (dataset_id, kind, seq);
  CREATE INDEX chunks_by_upload ON chunks (upload_id) WHERE upload_id IS NOT NULL;
  CREATE INDEX chunks_by_staged_at ON chunks (staged_at) WHERE upload_id IS NOT NULL;
  CREATE TABLE jobs (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    dataset_id text NOT NULL,
    params json NOT NULL,
    progress json,
    metrics json,
    model_id text,
    error json,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
  );
  CREATE INDEX jobs_by_status ON jobs (status, seq);
  CREATE INDEX jobs_by_dataset ON jobs (dataset_id, status);
  CREATE TABLE models (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    job_id text,
    name text,
    input_dimension integer NOT NULL,
    output_dimension integer NOT NULL,
    normalize boolean NOT NULL,
    training_params json,
    metrics json NOT NULL,
    weights bytea NOT NULL,
    checksum text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  `,
  // 2: the change feed (src/store/postgres-notify.ts, docs/decisions/0022-change-feed-listen-notify.md).
  // Every committed insert, update or delete of a dataset, job or model is announced on the channel
  // triplet_embed_changes with its table, id and operation only: NOTIFY payloads are capped at 8000
  // bytes, and a row (a job's params, a model's weights) may be larger. Sent at commit, so a rolled
  // back write is never announced. The channel name is fixed here; postgres-notify.ts LISTENs on it.
  `
  CREATE FUNCTION triplet_embed_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE
    row_id text;
  BEGIN
    IF TG_OP = 'DELETE' THEN row_id := OLD.id; ELSE row_id := NEW.id; END IF;
    PERFORM pg_notify('triplet_embed_changes',
      json_build_object('table', TG_TABLE_NAME, 'id', row_id, 'op', lower(TG_OP))::text);
    RETURN NULL;
  END
  $$;
  CREATE TRIGGER datasets_notify_change AFTER INSERT OR UPDATE OR DELETE ON datasets
    FOR EACH ROW EXECUTE FUNCTION triplet_embed_notify_change();
  CREATE TRIGGER jobs_notify_change AFTER INSERT OR UPDATE OR DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION triplet_embed_notify_change();
  CREATE TRIGGER models_notify_change AFTER INSERT OR UPDATE OR DELETE ON models
    FOR EACH ROW EXECUTE FUNCTION triplet_embed_notify_change();
  `,
  // 3: leases and checkpoints (docs/decisions/0021-job-leases-checkpoints.md): a
  // running job is held by lease_owner until lease_expires_at (the database's clock); its latest
  // checkpoint is kept in parts of at most 8 MiB, replaced whole, kept across a requeue, deleted
  // when the job finishes. Jobs that already ran count one attempt.
  `
  ALTER TABLE jobs ADD COLUMN lease_owner text;
  ALTER TABLE jobs ADD COLUMN lease_expires_at timestamptz;
  ALTER TABLE jobs ADD COLUMN attempts integer NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN resumed_from_iteration integer;
  UPDATE jobs SET attempts = 1 WHERE started_at IS NOT NULL;
  CREATE INDEX jobs_by_lease ON jobs (lease_expires_at) WHERE status = 'running';
  CREATE TABLE job_checkpoints (
    job_id text NOT NULL,
    part integer NOT NULL,
    parts integer NOT NULL,
    iteration integer NOT NULL,
    data bytea NOT NULL,
    -- SHA-256 of the whole checkpoint (all parts in order), on every part
    checksum text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, part)
  );
  -- A lease renewal changes lease_expires_at alone: no event for it (followers would re-read the job
  -- every renewal for nothing). Every other change of a job is still announced.
  DROP TRIGGER jobs_notify_change ON jobs;
  CREATE TRIGGER jobs_notify_change AFTER INSERT OR DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION triplet_embed_notify_change();
  CREATE TRIGGER jobs_notify_update AFTER UPDATE ON jobs
    FOR EACH ROW WHEN (
      OLD.lease_expires_at IS NOT DISTINCT FROM NEW.lease_expires_at
      OR OLD.status IS DISTINCT FROM NEW.status
      OR OLD.lease_owner IS DISTINCT FROM NEW.lease_owner
    ) EXECUTE FUNCTION triplet_embed_notify_change();
  `,
  // 4: galleries (docs/decisions/0031-galleries.md). Items keep their input features (to re-embed)
  // and their embedding (searched) as little-endian float32 bytea, one row per item; labels are
  // JSON text (a string or an integer, compared as text). Item ids are COLLATE "C" (byte order of
  // their UTF-8), the order searches break ties in, as on SQLite. pending_* belong to a reindex in
  // progress. Staged items of uploads not yet committed live in gallery_staged_items; not on the
  // change feed (a search reads the gallery's version each time).
  `
  CREATE TABLE galleries (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    name text,
    model_id text NOT NULL,
    dimension integer NOT NULL,
    embedding_dimension integer NOT NULL,
    index_kind text NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    item_count integer NOT NULL DEFAULT 0,
    pending_model_id text,
    reindex_job_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX galleries_by_model ON galleries (model_id);
  CREATE INDEX galleries_by_pending_model ON galleries (pending_model_id) WHERE pending_model_id IS NOT NULL;
  CREATE TABLE gallery_items (
    gallery_id text NOT NULL,
    item_id text COLLATE "C" NOT NULL,
    label text,
    features bytea NOT NULL,
    embedding bytea NOT NULL,
    pending_embedding bytea,
    PRIMARY KEY (gallery_id, item_id)
  );
  CREATE INDEX gallery_items_by_label ON gallery_items (gallery_id, label) WHERE label IS NOT NULL;
  CREATE TABLE gallery_staged_items (
    seq bigserial PRIMARY KEY,
    upload_id text NOT NULL,
    gallery_id text NOT NULL,
    item_id text COLLATE "C" NOT NULL,
    label text,
    features bytea NOT NULL,
    embedding bytea NOT NULL,
    staged_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX gallery_staged_by_upload ON gallery_staged_items (upload_id);
  CREATE INDEX gallery_staged_by_time ON gallery_staged_items (staged_at);
  `,
  // 5: model aliases (docs/decisions/0030-model-aliases.md): a name points to one model, which cannot
  // be deleted while it does (the foreign key backs the store's own check). `default` serves
  // requests that name no model; it starts at the newest model, which served them before. Alias
  // changes reach every replica on the change feed, with the alias's name as the id (the shipped
  // trigger function reads an id column, which aliases do not have). Jobs keep the name their model
  // gets and whether its success moves `default` to it.
  `
  CREATE TABLE aliases (
    seq bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    model_id text NOT NULL REFERENCES models (id),
    previous_model_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX aliases_by_model ON aliases (model_id);
  INSERT INTO aliases (name, model_id) SELECT 'default', id FROM models ORDER BY seq DESC LIMIT 1;
  CREATE FUNCTION triplet_embed_notify_alias_change() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE
    alias_name text;
  BEGIN
    IF TG_OP = 'DELETE' THEN alias_name := OLD.name; ELSE alias_name := NEW.name; END IF;
    PERFORM pg_notify('triplet_embed_changes',
      json_build_object('table', TG_TABLE_NAME, 'id', alias_name, 'op', lower(TG_OP))::text);
    RETURN NULL;
  END
  $$;
  CREATE TRIGGER aliases_notify_change AFTER INSERT OR UPDATE OR DELETE ON aliases
    FOR EACH ROW EXECUTE FUNCTION triplet_embed_notify_alias_change();
  ALTER TABLE jobs ADD COLUMN model_name text;
  ALTER TABLE jobs ADD COLUMN promote boolean NOT NULL DEFAULT false;
  `,
  // 6: identity-level data (docs/decisions/0034-identity-level-data.md). dataset_labels: committed
  // samples per label, kept by every commit. A label is keyed by its JSON text (label_json: 1 and
  // "1" differ; JSON escapes keep NUL out of text), ordered integers first (label_int), then
  // strings by the bytes of their JSON text (COLLATE "C"). Backfilled from the chunks' label arrays,
  // whose elements are the JSON text the store wrote. chunks.sample_refs: sample indices (count × 3
  // int32) of indexTriplets rows. datasets.samples_epoch: bumped by each erasure. idempotency_keys:
  // an upload's key with its first reply, written in the upload's transaction.
  `
  CREATE TABLE dataset_labels (
    dataset_id text NOT NULL,
    label_kind smallint NOT NULL CHECK (label_kind IN (0, 1)),
    label_int bigint NOT NULL,
    label_json text COLLATE "C" NOT NULL,
    sample_count integer NOT NULL,
    PRIMARY KEY (dataset_id, label_kind, label_int, label_json)
  );
  INSERT INTO dataset_labels (dataset_id, label_kind, label_int, label_json, sample_count)
    SELECT c.dataset_id,
      CASE WHEN json_typeof(e) = 'number' THEN 0 ELSE 1 END,
      CASE WHEN json_typeof(e) = 'number' THEN (e::text)::bigint ELSE 0 END,
      e::text, COUNT(*)
    FROM chunks c CROSS JOIN LATERAL json_array_elements(c.labels) e
    WHERE c.kind = 'samples' AND c.upload_id IS NULL AND c.labels IS NOT NULL
    GROUP BY 1, 2, 3, 4;
  ALTER TABLE datasets ADD COLUMN label_count integer NOT NULL DEFAULT 0;
  ALTER TABLE datasets ADD COLUMN samples_epoch integer NOT NULL DEFAULT 0;
  UPDATE datasets SET label_count = (SELECT COUNT(*) FROM dataset_labels l WHERE l.dataset_id = datasets.id);
  ALTER TABLE chunks ADD COLUMN sample_refs bytea;
  CREATE TABLE idempotency_keys (
    scope text NOT NULL,
    key text NOT NULL,
    body_hash text NOT NULL,
    status integer NOT NULL,
    reply json NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
  );
  CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
  `,
  // 7: jobs of two kinds (docs/decisions/0033-reindex-jobs.md): `train` (a dataset and training
  // parameters) and `reindex` (a gallery; `params` holds its target), which has no dataset.
  `
  ALTER TABLE jobs ALTER COLUMN dataset_id DROP NOT NULL;
  ALTER TABLE jobs ADD COLUMN kind text NOT NULL DEFAULT 'train' CHECK (kind IN ('train', 'reindex'));
  ALTER TABLE jobs ADD COLUMN gallery_id text;
  ALTER TABLE jobs ADD CONSTRAINT jobs_kind_target
    CHECK ((kind = 'train') = (dataset_id IS NOT NULL) AND (kind = 'reindex') = (gallery_id IS NOT NULL));
  CREATE INDEX jobs_by_gallery ON jobs (gallery_id, status) WHERE gallery_id IS NOT NULL;
  `,
  // 8: training history (docs/decisions/0037-training-history.md): the progress points of every
  // job, bounded per job by the store (thinned when full). Jobs are never deleted, nor are these.
  `
  CREATE TABLE job_events (
    job_id text NOT NULL,
    seq integer NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, seq)
  );
  `,
  // 9: galleries on the change feed (docs/decisions/0031-galleries.md, "Erasure"): a gallery whose
  // version moved (its items changed: an upload, an erasure, a reindex's commit) or that was deleted
  // is announced, so every replica drops its cached embeddings of it (and its HNSW index) at once
  // instead of keeping erased items in memory until its next search there. A reindex's hold and
  // release leave the version alone and are not announced.
  `
  CREATE TRIGGER galleries_notify_delete AFTER DELETE ON galleries
    FOR EACH ROW EXECUTE FUNCTION triplet_embed_notify_change();
  CREATE TRIGGER galleries_notify_update AFTER UPDATE ON galleries
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION triplet_embed_notify_change();
  `,
  // 10: an erasure's owed rewrite of the table files (src/store/postgres-scrubs.ts): written with its
  // deletes, cleared once the VACUUM is done, so a rewrite cut off is paid by the next erasure.
  `
  CREATE TABLE erase_scrubs (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  `,
];

/**
 * Brings the schema up to date in one transaction under the migration lock. A replica that waited
 * for the lock reads the versions after the first one committed, and applies none.
 */
export async function migrate(client: pg.ClientBase, migrations: readonly string[] = PG_MIGRATIONS): Promise<number[]> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
  await client.query(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
  const have = new Set(rows.map((r) => r.version));
  const applied: number[] = [];
  for (let i = 0; i < migrations.length; i++) {
    const version = i + 1;
    if (have.has(version)) continue;
    await client.query(migrations[i]);
    await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
    applied.push(version);
  }
  return applied;
}

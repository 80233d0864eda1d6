// Schema versions, applied in order by PRAGMA user_version. Never edit a shipped step: add one.
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE datasets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT,
    dimension INTEGER NOT NULL,
    triplet_count INTEGER NOT NULL DEFAULT 0,
    sample_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  -- Vectors live in append-only chunks of little-endian float32. A chunk with a
  -- non-null upload_id belongs to a streamed upload that has not committed yet.
  CREATE TABLE chunks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('triplets', 'samples')),
    count INTEGER NOT NULL,
    data BLOB NOT NULL,
    labels TEXT,
    upload_id TEXT
  );
  CREATE INDEX chunks_by_dataset ON chunks (dataset_id, kind, seq);
  CREATE INDEX chunks_by_upload ON chunks (upload_id) WHERE upload_id IS NOT NULL;
  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    params TEXT NOT NULL,
    progress TEXT,
    metrics TEXT,
    model_id TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
  );
  CREATE INDEX jobs_by_status ON jobs (status, seq);
  CREATE INDEX jobs_by_dataset ON jobs (dataset_id, status);
  CREATE TABLE models (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    job_id TEXT,
    name TEXT,
    input_dimension INTEGER NOT NULL,
    output_dimension INTEGER NOT NULL,
    normalize INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    weights BLOB NOT NULL,
    checksum TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  `,
  // Models keep the parameters they were trained with in their own column (they were only
  // inside the job's params, and the margin was copied into the model's metrics). Backfilled from
  // the job that trained each model; imported models have none.
  `
  ALTER TABLE models ADD COLUMN training_params TEXT;
  UPDATE models SET training_params = (SELECT jobs.params FROM jobs WHERE jobs.id = models.job_id) WHERE job_id IS NOT NULL;
  `,
  // Leases and checkpoints (docs/decisions/0021-job-leases-checkpoints.md): a running job is held by
  // one runner (lease_owner) until lease_expires_at (ms since the epoch, the process's clock), and
  // keeps its latest checkpoint, which outlives a requeue and goes when the job finishes. Jobs that
  // already ran count one attempt.
  `
  ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
  ALTER TABLE jobs ADD COLUMN lease_expires_at INTEGER;
  ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN resumed_from_iteration INTEGER;
  UPDATE jobs SET attempts = 1 WHERE started_at IS NOT NULL;
  CREATE INDEX jobs_by_lease ON jobs (lease_expires_at) WHERE status = 'running';
  CREATE TABLE job_checkpoints (
    job_id TEXT PRIMARY KEY,
    iteration INTEGER NOT NULL,
    data BLOB NOT NULL,
    checksum TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  `,
  // Galleries (docs/decisions/0031-galleries.md): items keep their input features (to re-embed)
  // and their embedding (searched) as little-endian float32 blobs, one row per item; labels are
  // JSON (a string or an integer). pending_* belong to a reindex in progress. Staged items of
  // uploads that have not committed live in gallery_staged_items. Item ids compare as BINARY
  // (UTF-8 bytes), the order searches break ties in.
  `
  CREATE TABLE galleries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT,
    model_id TEXT NOT NULL,
    dimension INTEGER NOT NULL,
    embedding_dimension INTEGER NOT NULL,
    index_kind TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    item_count INTEGER NOT NULL DEFAULT 0,
    pending_model_id TEXT,
    reindex_job_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX galleries_by_model ON galleries (model_id);
  CREATE INDEX galleries_by_pending_model ON galleries (pending_model_id) WHERE pending_model_id IS NOT NULL;
  CREATE TABLE gallery_items (
    gallery_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    label TEXT,
    features BLOB NOT NULL,
    embedding BLOB NOT NULL,
    pending_embedding BLOB,
    PRIMARY KEY (gallery_id, item_id)
  );
  CREATE INDEX gallery_items_by_label ON gallery_items (gallery_id, label) WHERE label IS NOT NULL;
  CREATE TABLE gallery_staged_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id TEXT NOT NULL,
    gallery_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    label TEXT,
    features BLOB NOT NULL,
    embedding BLOB NOT NULL
  );
  CREATE INDEX gallery_staged_by_upload ON gallery_staged_items (upload_id);
  `,
  // Model aliases (docs/decisions/0030-model-aliases.md): a name points to one model, which cannot
  // be deleted while it does (the foreign key backs the store's own check). `default` serves
  // requests that name no model; it starts at the newest model, which served them before. Jobs keep
  // the name their model gets and whether its success moves `default` to it.
  `
  CREATE TABLE aliases (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    model_id TEXT NOT NULL REFERENCES models (id),
    previous_model_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX aliases_by_model ON aliases (model_id);
  INSERT INTO aliases (name, model_id, created_at, updated_at)
    SELECT 'default', id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    FROM models ORDER BY seq DESC LIMIT 1;
  ALTER TABLE jobs ADD COLUMN model_name TEXT;
  ALTER TABLE jobs ADD COLUMN promote INTEGER NOT NULL DEFAULT 0;
  `,
  // Identity-level data (docs/decisions/0034-identity-level-data.md). dataset_labels: committed
  // samples per label, kept by every commit, so labelCount and the label list cost no chunk reads.
  // `label` has no declared type, so SQLite keeps 1 (INTEGER) and '1' (TEXT) apart, and orders
  // integers before text (text by its bytes). Backfilled from the chunks' label arrays.
  // chunks.sample_refs: the sample indices (count × 3 int32) of triplets given as indexTriplets.
  // datasets.samples_epoch: bumped by each erasure; rows gathered before it are refused.
  // idempotency_keys: an upload's key with its first reply, written in the upload's transaction.
  `
  CREATE TABLE dataset_labels (
    dataset_id TEXT NOT NULL,
    label NOT NULL,
    sample_count INTEGER NOT NULL,
    PRIMARY KEY (dataset_id, label)
  ) WITHOUT ROWID;
  INSERT INTO dataset_labels (dataset_id, label, sample_count)
    SELECT c.dataset_id, j.value, COUNT(*) FROM chunks c, json_each(c.labels) j
    WHERE c.kind = 'samples' AND c.upload_id IS NULL
    GROUP BY c.dataset_id, j.value;
  ALTER TABLE datasets ADD COLUMN label_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE datasets ADD COLUMN samples_epoch INTEGER NOT NULL DEFAULT 0;
  UPDATE datasets SET label_count = (SELECT COUNT(*) FROM dataset_labels l WHERE l.dataset_id = datasets.id);
  ALTER TABLE chunks ADD COLUMN sample_refs BLOB;
  CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    reply TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
  ) WITHOUT ROWID;
  CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
  `,
  // Jobs of two kinds (docs/decisions/0033-reindex-jobs.md): `train` (a dataset and training
  // parameters) and `reindex` (a gallery; `params` holds its target). A reindex job has no dataset,
  // and SQLite cannot drop a NOT NULL: the table is rebuilt (https://sqlite.org/lang_altertable.html,
  // "making other kinds of table schema changes"), every row, seq and the seq high-water mark kept.
  // Nothing references jobs.
  `
  CREATE TABLE jobs_new (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'train' CHECK (kind IN ('train', 'reindex')),
    dataset_id TEXT,
    gallery_id TEXT,
    params TEXT NOT NULL,
    progress TEXT,
    metrics TEXT,
    model_id TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    resumed_from_iteration INTEGER,
    model_name TEXT,
    promote INTEGER NOT NULL DEFAULT 0,
    CHECK ((kind = 'train') = (dataset_id IS NOT NULL) AND (kind = 'reindex') = (gallery_id IS NOT NULL))
  );
  INSERT INTO jobs_new (seq, id, status, dataset_id, params, progress, metrics, model_id, error, created_at,
      started_at, finished_at, lease_owner, lease_expires_at, attempts, resumed_from_iteration, model_name, promote)
    SELECT seq, id, status, dataset_id, params, progress, metrics, model_id, error, created_at,
      started_at, finished_at, lease_owner, lease_expires_at, attempts, resumed_from_iteration, model_name, promote
    FROM jobs;
  -- AUTOINCREMENT's high-water mark too, so a seq (a cursor) is never handed out twice
  DELETE FROM sqlite_sequence WHERE name = 'jobs_new';
  INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs_new', seq FROM sqlite_sequence WHERE name = 'jobs';
  DROP TABLE jobs;
  ALTER TABLE jobs_new RENAME TO jobs;
  CREATE INDEX jobs_by_status ON jobs (status, seq);
  CREATE INDEX jobs_by_dataset ON jobs (dataset_id, status);
  CREATE INDEX jobs_by_gallery ON jobs (gallery_id, status) WHERE gallery_id IS NOT NULL;
  CREATE INDEX jobs_by_lease ON jobs (lease_expires_at) WHERE status = 'running';
  `,
  // Training history (docs/decisions/0037-training-history.md): the progress points of every job,
  // bounded per job by the store (thinned when full). Jobs are never deleted, so neither are these;
  // no foreign key, as a later rebuild of jobs (DROP TABLE) would cascade into it.
  `
  CREATE TABLE job_events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
  ) WITHOUT ROWID;
  `,
  // Index triplets' sample indices in a table of their own (docs/decisions/0056-start-up-reads.md):
  // SQLite keeps a row's columns in order, so reading chunks.sample_refs, declared after the 4 MiB
  // of gathered vectors in `data`, walked every overflow page of them. Rows written before keep
  // their old copy in chunks.sample_refs (identical, never read again); rewriting them here would
  // copy every triplet chunk once at start-up.
  `
  CREATE TABLE chunk_refs (
    seq INTEGER PRIMARY KEY REFERENCES chunks (seq) ON DELETE CASCADE,
    refs BLOB NOT NULL
  );
  INSERT INTO chunk_refs (seq, refs) SELECT seq, sample_refs FROM chunks WHERE sample_refs IS NOT NULL;
  `,
];

// The SQLite store: the contract suite on real temp files, plus what only SQLite has — its file,
// its migrations, and integrity checks on bytes changed behind its back.
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { SqliteDatabase, openSqliteStore, type SqliteStore } from '../../src/store/sqlite.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openThreadedSqliteStore } from '../../src/store/sqlite-thread.js';
import { ROOT } from '../../scripts/server-process.js';
import { tempDir } from '../helpers.js';
import {
  exactGallery,
  indexedDataset,
  LEASE,
  model,
  params,
  reindexSetting,
  seqF32,
  storeContract,
} from './contract.js';

function rawCount(file: string, sql: string, ...args: unknown[]): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(sql).get(...args) as { n: number }).n;
  } finally {
    db.close();
  }
}

function open(t: Test, file?: string): SqliteStore {
  const store = openSqliteStore(file ?? path.join(tempDir(t), 'store.sqlite'));
  t.teardown(() => store.close());
  return store;
}

async function openThreaded(t: Test, file?: string): Promise<SqliteStore> {
  const store = await openThreadedSqliteStore(file ?? path.join(tempDir(t), 'store.sqlite'));
  t.teardown(() => store.close());
  return store;
}

t.test('contract, on the main thread', async (t) => {
  storeContract(t, {
    open: async (t) => open(t),
    reopen: async (t, store) => open(t, (store as SqliteStore).path),
  });
});

t.test('contract, in its own thread (as the app runs it)', async (t) => {
  storeContract(t, {
    open: async (t) => openThreaded(t),
    reopen: async (t, store) => openThreaded(t, (store as SqliteStore).path),
  });
});

const variants: [string, (t: Test, file?: string) => Promise<SqliteStore>][] = [
  ['main thread', async (t, file) => open(t, file)],
  ['own thread', openThreaded],
];

const removeDatabase = (file: string) => {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
};

for (const [where, openIt] of variants) {
  t.test(`deleted database files (${where}): unready, writes refused, nothing claimed`, async (t) => {
    const store = await openIt(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    await store.appendTriplets(ds.id, seqF32(3), 1);
    removeDatabase(store.path);
    const h = await store.health();
    t.equal(h.ok, false);
    t.match(h.reason, /deleted while open/);
    t.notOk(store.isOpen(), 'no longer open for the runner and /metrics');
    const refused = { code: 'STORAGE_UNAVAILABLE', kind: 'unavailable', message: /deleted while open/ };
    await t.rejects(store.appendTriplets(ds.id, seqF32(3), 1), refused);
    await t.rejects(store.createDataset({ name: 'late', dimension: 1 }), refused);
    await t.rejects(store.stageChunk('up_x', ds.id, 'triplets', seqF32(3), 1), refused);
    t.equal((await store.health()).ok, false, 'and stays so');
    await store.close();
    const again = await openIt(t, store.path);
    t.same((await again.listDatasets({ limit: 10 })).items, [], 'no refused write turns up after a restart');
  });

  t.test(`a replaced database file (${where}) is told apart from the one opened`, async (t) => {
    const store = await openIt(t);
    await store.createDataset({ name: null, dimension: 1 });
    const copy = `${store.path}.copy`;
    fs.copyFileSync(store.path, copy);
    fs.renameSync(copy, store.path);
    t.match(await store.health(), { ok: false, reason: /replaced while open/ });
    await t.rejects(store.createDataset({ name: null, dimension: 1 }), { code: 'STORAGE_UNAVAILABLE' });
  });

  t.test(`an unusable DATA_DIR (${where}) is one clear error at open`, async (t) => {
    const dir = tempDir(t);
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    const err = await openIt(t, path.join(dir, 'file', 'store.sqlite')).catch((e: unknown) => e);
    t.match(err, { code: 'STORAGE_UNAVAILABLE', message: /^cannot open the database .*store\.sqlite \(DATA_DIR\)/ });
  });

  t.test(`calls run in the order made (${where})`, async (t) => {
    const store = await openIt(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const chunks = Array.from({ length: 20 }, (_, i) => seqF32(3, i * 3));
    const slab = new Float32Array(3 * 40);
    // a view into a larger buffer, as the upload decoder hands out: stored by its own bytes
    const view = slab.subarray(6, 9).fill(7);
    await Promise.all([...chunks.map((c) => store.appendTriplets(ds.id, c, 1)), store.appendTriplets(ds.id, view, 1)]);
    t.same(Array.from((await store.readTriplets(ds.id)).data), [...chunks.flatMap((c) => [...c]), 7, 7, 7]);
    t.equal(slab.length, 120, "the caller's buffer is not detached");
  });
}

t.test('a full database (SQLITE_FULL): 507 kind, unready until a write succeeds', async (t) => {
  const file = path.join(tempDir(t), 'full.sqlite');
  const db = new SqliteDatabase(file);
  t.teardown(() => db.close());
  const raw = (db as unknown as { db: Database.Database }).db;
  const pages = raw.pragma('page_count', { simple: true }) as number;
  raw.pragma(`max_page_count = ${pages + 2}`);
  const ds = db.createDataset({ name: null, dimension: 1024 });
  t.throws(() => db.appendTriplets(ds.id, new Float32Array(3 * 1024 * 8), 8), {
    code: 'STORAGE_FULL',
    kind: 'storage_full',
  });
  t.match(db.health(), { ok: false, reason: /full/ });
  t.equal(db.getDataset(ds.id)!.tripletCount, 0, 'nothing of the refused write is stored');
  raw.pragma('max_page_count = 1073741823');
  db.appendTriplets(ds.id, new Float32Array(3 * 1024), 1);
  t.same(db.health(), { ok: true }, 'ready again once a write succeeds');
});

t.test('staged chunks are on disk until the store reopens', async (t) => {
  const store = open(t);
  const ds = await store.createDataset({ name: null, dimension: 1 });
  await store.stageChunk('up_d', ds.id, 'triplets', seqF32(3, 40), 1);
  await store.stageChunk('up_d', ds.id, 'triplets', seqF32(3, 50), 1);
  await store.stageChunk('up_e', ds.id, 'triplets', seqF32(3, 50), 1);
  await store.discardStaged('up_e');
  await store.close();
  t.equal(
    rawCount(store.path, 'SELECT COUNT(*) AS n FROM chunks WHERE upload_id IS NOT NULL'),
    2,
    'staged, not discarded',
  );
  open(t, store.path);
  t.equal(
    rawCount(store.path, 'SELECT COUNT(*) AS n FROM chunks WHERE upload_id IS NOT NULL'),
    0,
    'gone when the store reopens',
  );
});

t.test('a deleted dataset takes its chunks with it', async (t) => {
  const store = open(t);
  const ds = await store.createDataset({ name: null, dimension: 1 });
  await store.appendTriplets(ds.id, seqF32(9), 3);
  await store.deleteDataset(ds.id);
  t.equal(rawCount(store.path, 'SELECT COUNT(*) AS n FROM chunks WHERE dataset_id = ?', ds.id), 0);
  await t.rejects(store.appendTriplets('ds_nope', seqF32(3), 1), { code: 'DATASET_NOT_FOUND' });
  t.equal(rawCount(store.path, 'SELECT COUNT(*) AS n FROM chunks WHERE dataset_id = ?', 'ds_nope'), 0, 'rolled back');
});

t.test('weights are verified against their checksum', async (t) => {
  const store = open(t);
  const nm = model(3, 4);
  const rec = await store.createModel(nm);
  const other = await store.createModel(model(1, 1));
  const db = new Database(store.path);
  t.teardown(() => db.close());
  const blob = (db.prepare('SELECT weights FROM models WHERE id = ?').get(rec.id) as { weights: Buffer }).weights;
  const corrupt = Buffer.from(blob);
  corrupt[5] ^= 0x01;
  db.prepare('UPDATE models SET weights = ? WHERE id = ?').run(corrupt, rec.id);
  await t.rejects(store.getModelWeights(rec.id), /integrity/);
  db.prepare('UPDATE models SET weights = ? WHERE id = ?').run(blob.subarray(0, blob.byteLength - 8), rec.id);
  await t.rejects(store.getModelWeights(rec.id), /integrity/, 'a truncated blob too');
  db.prepare('UPDATE models SET weights = ? WHERE id = ?').run(blob, rec.id);
  t.same(Array.from((await store.getModelWeights(rec.id))!), Array.from(nm.weights), 'the original bytes verify again');
  t.ok(await store.getModelWeights(other.id), 'other models are unaffected');
});

t.test('the file and its folders are created; a read-only handle sees the data', async (t) => {
  const file = path.join(tempDir(t), 'nested', 'dir', 'store.sqlite');
  const store = open(t, file);
  const ds = await store.createDataset({ name: 'keep', dimension: 2 });
  await store.appendTriplets(ds.id, seqF32(12), 2);
  const ro = new SqliteDatabase(file, { readonly: true });
  t.teardown(() => ro.close());
  t.equal(ro.readTriplets(ds.id).count, 2);
});

t.test('migration 2 gives each trained model the params of its job', async (t) => {
  const file = path.join(tempDir(t), 'old.sqlite');
  const db = new Database(file);
  db.exec(MIGRATIONS[0]);
  db.pragma('user_version = 1');
  const p = params({ margin: 0.7 });
  db.prepare(
    "INSERT INTO jobs (id, status, dataset_id, params, created_at) VALUES ('job_a', 'succeeded', 'ds_a', ?, 'now')",
  ).run(JSON.stringify(p));
  const insert = db.prepare(
    `INSERT INTO models (id, job_id, name, input_dimension, output_dimension, normalize, metrics, weights, checksum, created_at)
     VALUES (?, ?, NULL, 1, 1, 0, '{"margin":0.7}', ?, 'x', 'now')`,
  );
  insert.run('mdl_trained', 'job_a', Buffer.alloc(8));
  insert.run('mdl_imported', null, Buffer.alloc(8));
  db.close();
  const store = open(t, file);
  t.same((await store.getModel('mdl_trained'))!.trainingParams, p);
  t.equal((await store.getModel('mdl_imported'))!.trainingParams, null);
});

t.test('migration 4 points the alias default at the newest model, which served by default before', async (t) => {
  const file = path.join(tempDir(t), 'old.sqlite');
  const db = new Database(file);
  for (const step of MIGRATIONS.slice(0, 3)) db.exec(step);
  db.pragma('user_version = 3');
  const insert = db.prepare(
    `INSERT INTO models (id, job_id, name, input_dimension, output_dimension, normalize, metrics, weights, checksum, created_at)
     VALUES (?, NULL, NULL, 1, 1, 0, '{}', ?, 'x', 'now')`,
  );
  insert.run('mdl_older', Buffer.alloc(8));
  insert.run('mdl_newer', Buffer.alloc(8));
  db.prepare(
    "INSERT INTO jobs (id, status, dataset_id, params, created_at) VALUES ('job_old', 'queued', 'ds_a', '{}', 'now')",
  ).run();
  db.close();
  const store = open(t, file);
  t.match(await store.getAlias('default'), { name: 'default', model: 'mdl_newer', previousModel: null });
  t.match(await store.getJob('job_old'), { modelName: null, promote: false });
  await t.rejects(store.deleteModel('mdl_newer'), { code: 'MODEL_IN_USE' });
  t.ok(await store.deleteModel('mdl_older'));
});

t.test('start-up: one process trains on the file, so every running job goes back to the queue', async (t) => {
  const store = open(t);
  const ds = await store.createDataset({ name: null, dimension: 1 });
  await store.createJob({ datasetId: ds.id, params: params() });
  await store.createJob({ datasetId: ds.id, params: params() });
  await store.claimNextJob(LEASE);
  await store.claimNextJob({ owner: 'other', ms: 0 });
  t.equal(await store.requeueOrphanedJobs(), 2, 'live leases too: their process is gone');
  t.equal(await store.countJobs('running'), 0);
});

t.test(
  'migration 3 counts one attempt for each job that started; a checkpoint that fails its checksum is refused',
  async (t) => {
    const file = path.join(tempDir(t), 'old.sqlite');
    const db = new Database(file);
    db.exec(MIGRATIONS[0]);
    db.exec(MIGRATIONS[1]);
    db.pragma('user_version = 2');
    const insert = db.prepare(
      "INSERT INTO jobs (id, status, dataset_id, params, created_at, started_at) VALUES (?, ?, 'ds_a', ?, 'now', ?)",
    );
    insert.run('job_ran', 'succeeded', JSON.stringify(params()), 'now');
    insert.run('job_waits', 'queued', JSON.stringify(params()), null);
    db.close();
    const store = open(t, file);
    t.match(await store.getJob('job_ran'), { attempts: 1, resumedFromIteration: null });
    t.match(await store.getJob('job_waits'), { attempts: 0, resumedFromIteration: null });
    const job = await store.claimNextJob(LEASE);
    await store.saveCheckpoint(job!.id, LEASE.owner, 4, new Uint8Array([1, 2, 3]));
    const raw = new Database(file);
    raw.prepare('UPDATE job_checkpoints SET data = ? WHERE job_id = ?').run(Buffer.from([1, 2, 4]), job!.id);
    raw.close();
    await t.rejects(store.readCheckpoint(job!.id), /failed its integrity check/);
  },
);

t.test('erased gallery items leave no bytes of their features or embeddings in the files', async (t) => {
  const file = path.join(tempDir(t), 'store.sqlite');
  const store = open(t, file);
  const d = 64;
  const { m, g } = await exactGallery(store, 2, d);
  // A distinctive pattern: float32 values whose bytes appear nowhere else in the file.
  const secret = Float32Array.from({ length: d }, (_, i) => 31337.125 + i * 0.0625);
  const keep = Float32Array.from({ length: d }, (_, i) => -271.5 - i);
  const secretEmb = Float32Array.from([8675309.5, -8675309.5]);
  const keepEmb = Float32Array.from([1.5, 2.5]);
  const needle = Buffer.from(secret.buffer, 0, 64);
  const embNeedle = Buffer.from(secretEmb.buffer);
  const files = () => [file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f));
  const found = (b: Buffer) => files().some((f) => f.includes(b));
  const features = new Float32Array(3 * d);
  features.set(secret, 0);
  features.set(secret, d);
  features.set(keep, 2 * d);
  const embeddings = new Float32Array(6);
  embeddings.set(secretEmb, 0);
  embeddings.set(secretEmb, 2);
  embeddings.set(keepEmb, 4);
  await store.stageGalleryItems('up_s', g.id, ['x1', 'x2', 'y'], ['victim', 'victim', 'other'], features, embeddings);
  await store.commitGalleryItems('up_s', g.id, m.id, 3, { max: 10, setting: 'GALLERY_MAX_ITEMS' });
  t.ok(found(needle), 'the features are in the files before the erase (the search can see them)');
  t.ok(found(embNeedle), 'and the embedding');
  t.match(await store.deleteGalleryLabel(g.id, 'victim'), { deleted: 2 });
  t.notOk(found(needle), 'no copy of the erased features is left, in the database or its WAL');
  t.notOk(found(embNeedle), 'nor of their embeddings');
  t.ok(found(Buffer.from(keep.buffer, 0, 64)), 'the item kept is still there');
  t.same((await store.readGalleryEmbeddings(g.id)).ids, ['y']);
});

/** A vector of d float32s whose bytes spell `text` ('.'-padded ASCII: finite, and findable in a file). */
function spelled(text: string, d: number): Float32Array {
  const bytes = Buffer.alloc(d * 4, '.');
  bytes.write(text, 'latin1');
  return new Float32Array(bytes.buffer, bytes.byteOffset, d);
}

for (const [where, openIt] of variants) {
  t.test(`deleted datasets and galleries leave no bytes in the file or its WAL (${where})`, async (t) => {
    const file = path.join(tempDir(t), 'store.sqlite');
    const store = await openIt(t, file);
    const onDisk = () =>
      Buffer.concat([file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
    const walBytes = () => (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
    const found = (needles: (Float32Array | string)[]) => {
      const bytes = onDisk();
      return needles.filter((n) =>
        bytes.includes(typeof n === 'string' ? Buffer.from(n) : Buffer.from(n.buffer, n.byteOffset, n.byteLength)),
      ).length;
    };
    const d = 16;

    // a dataset: samples (JSON and streamed), vector triplets, and a label naming the person
    const ds = await store.createDataset({ name: null, dimension: d });
    const alice = [0, 1, 2].map((i) => spelled(`ALICE-DS-SECRET-${i}-`, d));
    const triplet = new Float32Array(3 * d);
    alice.forEach((v, i) => triplet.set(v, i * d));
    await store.appendSamples(ds.id, triplet.slice(0, 2 * d), ['ALICE-LABEL-SECRET', 'ALICE-LABEL-SECRET']);
    await store.stageChunk('up_s', ds.id, 'samples', triplet.slice(2 * d), 1, ['ALICE-LABEL-SECRET']);
    await store.commitStaged('up_s', ds.id, 'samples', 1);
    await store.appendTriplets(ds.id, triplet, 1);
    const bob = spelled('BOB-KEPT-VECTOR-', d);
    const kept = await store.createDataset({ name: null, dimension: d });
    await store.appendSamples(kept.id, bob, ['BOB-LABEL-KEPT']);
    t.equal(found([...alice, 'ALICE-LABEL-SECRET']), 4, 'before: the vectors and the label are in the files');
    t.equal(await store.deleteDataset(ds.id), true);
    t.equal(found([...alice, 'ALICE-LABEL-SECRET']), 0, 'after: none of them in the file or the WAL');
    t.equal(walBytes(), 0, 'the WAL was truncated');
    t.equal(found([bob, 'BOB-LABEL-KEPT']), 2, "another dataset's bytes are still found (the search works)");

    // a gallery: items with ids and features naming the person, one upload replacing another
    const { m, g } = await exactGallery(store, 2, d);
    const face = spelled('ALICE-GALLERY-FACE-', d);
    for (const up of ['up_g1', 'up_g2']) {
      await store.stageGalleryItems(up, g.id, ['ALICE-ITEM-ID-77'], ['alice'], face, Float32Array.from([3.5, 4.5]));
      await store.commitGalleryItems(up, g.id, m.id, 1, { max: 10, setting: 'GALLERY_MAX_ITEMS' });
    }
    t.equal(found([face, 'ALICE-ITEM-ID-77']), 2, 'before: the features and the item id are in the files');
    t.equal(await store.deleteGallery(g.id), true);
    t.equal(found([face, 'ALICE-ITEM-ID-77']), 0, 'after: neither is in the file or the WAL');
    t.equal(walBytes(), 0, 'the WAL was truncated');
  });
}

t.test('an erasure a reader kept from its checkpoint answers 503; the retry scrubs the files', async (t) => {
  const file = path.join(tempDir(t), 'store.sqlite');
  const store = open(t, file);
  const d = 16;
  const onDisk = () =>
    Buffer.concat([file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
  const found = (v: Float32Array) => onDisk().includes(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  const ds = await store.createDataset({ name: null, dimension: d });
  const alice = spelled('ALICE-READER-SECRET-', d);
  const bob = spelled('BOB-READER-KEPT-', d);
  const carol = spelled('CAROL-READER-SECRET-', d);
  const data = new Float32Array(3 * d);
  data.set(alice);
  data.set(bob, d);
  data.set(carol, 2 * d);
  await store.appendSamples(ds.id, data, ['alice', 'bob', 'carol']);
  // An online backup (sqlite3 .backup, docs/operations.md) reads the file in one long transaction.
  const backup = new Database(file, { readonly: true });
  t.teardown(() => backup.close());
  backup.prepare('BEGIN').run();
  backup.prepare('SELECT COUNT(*) AS n FROM chunks').get();
  await t.rejects(
    store.eraseLabel(ds.id, 'alice'),
    { code: 'STORAGE_UNAVAILABLE', message: /reader/ },
    'while it reads, the erasure cannot scrub the files: 503, not a success',
  );
  t.ok(found(alice), 'her bytes are still in the file or the WAL');
  await t.rejects(
    store.eraseLabel(ds.id, 'carol'),
    { code: 'STORAGE_UNAVAILABLE' },
    'the debt does not hold the next erasure back: it is stored, and answers 503 too',
  );
  t.equal((await store.readSamples(ds.id)).count, 1, 'only bob is left');
  backup.prepare('COMMIT').run();
  await t.rejects(store.eraseLabel(ds.id, 'alice'), { code: 'LABEL_NOT_FOUND' }, 'the retry finds her rows gone');
  t.notOk(found(alice) || found(carol), 'and has scrubbed theirs from the file and the WAL');
  t.ok(found(bob), "bob's are still found (the search works)");
});

t.test('an erasure cut off by a crash before its checkpoint is scrubbed at the next open', async (t) => {
  const file = path.join(tempDir(t), 'store.sqlite');
  const d = 16;
  const alice = spelled('ALICE-CRASH-SECRET-', d);
  const needle = Buffer.from(alice.buffer, alice.byteOffset, alice.byteLength);
  const onDisk = () =>
    Buffer.concat([file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
  const first = openSqliteStore(file);
  const ds = await first.createDataset({ name: null, dimension: d });
  await first.appendSamples(ds.id, alice, ['alice']);
  await first.close();
  // A process that commits the erasure's delete (secure_delete on) and dies before its checkpoint.
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.pragma('secure_delete = ON');
    db.pragma('wal_autocheckpoint = 0');
    db.prepare('DELETE FROM chunks').run();
    process.kill(process.pid, 'SIGKILL');`;
  spawnSync(process.execPath, ['-e', script, file], { cwd: ROOT });
  t.ok(onDisk().includes(needle), 'after the crash her bytes are still in the file');
  const store = open(t, file);
  t.equal((await store.readSamples(ds.id)).count, 0, 'her rows were deleted');
  t.notOk(onDisk().includes(needle), 'the open scrubbed them from the file and the WAL');
});

t.test('migration 5 rebuilds jobs for kinds: every row and its seq kept, training by default', async (t) => {
  const file = path.join(tempDir(t), 'old.sqlite');
  const db = new Database(file);
  for (const m of MIGRATIONS.slice(0, 4)) db.exec(m);
  db.pragma('user_version = 4');
  const insert = db.prepare(
    "INSERT INTO jobs (id, status, dataset_id, params, created_at, attempts, lease_owner) VALUES (?, ?, 'ds_a', ?, 'now', ?, ?)",
  );
  insert.run('job_run', 'running', JSON.stringify(params()), 2, 'host:1:x');
  insert.run('job_new', 'queued', JSON.stringify(params()), 0, null);
  insert.run('job_gone', 'succeeded', JSON.stringify(params()), 1, null);
  db.prepare("DELETE FROM jobs WHERE id = 'job_gone'").run();
  const before = db.prepare('SELECT seq, id FROM jobs ORDER BY seq').all();
  db.close();
  const store = open(t, file);
  t.match(await store.getJob('job_run'), { kind: 'train', datasetId: 'ds_a', attempts: 2, reindex: null });
  t.same(await store.getJob('job_run').then((j) => j!.params), params());
  const raw = new Database(file, { readonly: true });
  t.same(raw.prepare('SELECT seq, id FROM jobs ORDER BY seq').all(), before, 'seqs kept');
  raw.close();
  const { to, g } = await reindexSetting(store);
  const next = await store.createJob({ kind: 'reindex', reindex: { galleryId: g.id, modelId: to.id } });
  const seqs = new Database(file, { readonly: true });
  const seq = (seqs.prepare('SELECT seq FROM jobs WHERE id = ?').get(next.id) as { seq: number }).seq;
  seqs.close();
  t.equal(seq, 4, 'AUTOINCREMENT carries on above every seq ever used (3 was deleted)');
  t.same(
    (await store.listJobs({ limit: 10 })).items.map((j) => j.id),
    [next.id, 'job_new', 'job_run'],
  );
});

t.test('the last migration moves index triplets to chunk_refs; reads, erasure and deletion follow', async (t) => {
  const file = path.join(tempDir(t), 'refs.sqlite');
  const first = openSqliteStore(file);
  const refs = [0, 2, 1, 2, 0, 3];
  const id = await indexedDataset(first, ['a', 'b', 'a', 'c'], refs);
  first.close();
  // the file as the version before wrote it: the indices in chunks.sample_refs, no chunk_refs
  const db = new Database(file);
  db.exec(`UPDATE chunks SET sample_refs = (SELECT refs FROM chunk_refs r WHERE r.seq = chunks.seq);
           DROP TABLE chunk_refs;`);
  db.pragma(`user_version = ${MIGRATIONS.length - 1}`);
  db.close();

  const store = open(t, file);
  t.same(Array.from((await store.readIndexedTriplets(id))!.refs), refs, 'read from chunk_refs');
  t.equal(rawCount(file, 'SELECT COUNT(*) AS n FROM chunk_refs'), 1);
  await store.eraseLabel(id, 'c'); // takes the triplet [2, 0, 3]
  t.same(Array.from((await store.readIndexedTriplets(id))!.refs), [0, 2, 1], 'erasure rewrites them');
  t.equal(rawCount(file, 'SELECT COUNT(*) AS n FROM chunks WHERE sample_refs IS NOT NULL'), 0, 'no old copy left');
  await store.deleteDataset(id);
  t.equal(rawCount(file, 'SELECT COUNT(*) AS n FROM chunk_refs'), 0, 'a deleted dataset takes them with it');
});

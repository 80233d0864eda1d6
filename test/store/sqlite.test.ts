// The SQLite store: the contract suite on real temp files, plus what only SQLite has — its file,
// its migrations, and integrity checks on bytes changed behind its back.
import Database from 'better-sqlite3';
import path from 'node:path';
import t, { type Test } from 'tap';
import { SqliteDatabase, openSqliteStore, type SqliteStore } from '../../src/store/sqlite.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { tempDir } from '../helpers.js';
import { model, params, seqF32, storeContract } from './contract.js';

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

t.test('contract', async (t) => {
  storeContract(t, {
    open: async (t) => open(t),
    reopen: async (t, store) => open(t, (store as SqliteStore).path),
  });
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

// SqliteStore on a real temp file: datasets, staged uploads, jobs, models, pagination, durability.
import Database from 'better-sqlite3';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AppError } from '../src/errors.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { NewModel } from '../src/store/types.js';
import { tempDir } from './helpers.js';

function openStore(t: Test, file?: string): { store: SqliteStore; file: string } {
  const f = file ?? path.join(tempDir(t), 'store.sqlite');
  const store = new SqliteStore(f);
  t.teardown(() => store.close());
  return { store, file: f };
}

const seqF32 = (n: number, start = 0) => Float32Array.from({ length: n }, (_, i) => (start + i) * 0.5 - 3);

function rawCount(file: string, sql: string, ...args: unknown[]): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(sql).get(...args) as { n: number }).n;
  } finally {
    db.close();
  }
}

function model(k: number, d: number, over: Partial<NewModel> = {}): NewModel {
  return {
    jobId: null,
    name: null,
    inputDimension: d,
    outputDimension: k,
    normalize: false,
    metrics: { note: 'x' },
    weights: Float64Array.from({ length: k * d }, (_, i) => i / 7 - 1),
    ...over,
  };
}

t.test('dataset CRUD', async (t) => {
  const { store } = openStore(t);
  const a = store.createDataset({ name: 'a', dimension: 3 });
  t.match(a, { name: 'a', dimension: 3, tripletCount: 0, sampleCount: 0 });
  t.match(a.id, /^ds_/);
  t.same(store.getDataset(a.id), a);
  t.equal(store.getDataset('ds_nope'), undefined);
  const b = store.createDataset({ name: null, dimension: 5 });
  t.equal(b.name, null);
  t.not(a.id, b.id);
  t.same(store.listDatasets({ limit: 10 }).items.map((d) => d.id), [b.id, a.id]);
  store.appendTriplets(a.id, seqF32(9), 1);
  t.ok(store.deleteDataset(a.id));
  t.notOk(store.deleteDataset(a.id), 'false when unknown');
  t.equal(store.getDataset(a.id), undefined);
  t.equal(rawCount(store.path, 'SELECT COUNT(*) AS n FROM chunks WHERE dataset_id = ?', a.id), 0, 'its chunks went with it');
  t.throws(() => store.readTriplets(a.id), { code: 'DATASET_NOT_FOUND' });
});

t.test('appendTriplets and readTriplets round trip', async (t) => {
  const { store } = openStore(t);
  const ds = store.createDataset({ name: null, dimension: 2 });
  const empty = store.readTriplets(ds.id);
  t.same({ count: empty.count, dimension: empty.dimension, length: empty.data.length }, { count: 0, dimension: 2, length: 0 });
  const first = seqF32(2 * 3 * 2); // 2 triplets
  const second = seqF32(3 * 3 * 2, 100); // 3 triplets
  t.equal(store.appendTriplets(ds.id, first, 2).tripletCount, 2);
  t.equal(store.appendTriplets(ds.id, second, 3).tripletCount, 5);
  const got = store.readTriplets(ds.id);
  t.equal(got.count, 5);
  t.equal(got.dimension, 2);
  t.same(Array.from(got.data), [...first, ...second], 'chunks in order, values exact');
  // a subarray at an odd offset is stored by its own bytes only
  const big = seqF32(20, 500);
  const sub = big.subarray(3, 3 + 6);
  store.appendTriplets(ds.id, sub, 1);
  t.same(Array.from(store.readTriplets(ds.id).data.slice(-6)), Array.from(sub));
  t.throws(() => store.appendTriplets('ds_nope', first, 2), { code: 'DATASET_NOT_FOUND' });
  t.equal(rawCount(store.path, 'SELECT COUNT(*) AS n FROM chunks WHERE dataset_id = ?', 'ds_nope'), 0, 'rolled back');
});

t.test('staged uploads: commit, discard, and a crash', async (t) => {
  const { store, file } = openStore(t);
  const ds = store.createDataset({ name: null, dimension: 1 });
  store.appendTriplets(ds.id, seqF32(3), 1);

  store.stageChunk('up_a', ds.id, 'triplets', seqF32(6, 10), 2);
  store.stageChunk('up_a', ds.id, 'triplets', seqF32(3, 20), 1);
  t.equal(store.getDataset(ds.id)!.tripletCount, 1, 'staged triplets do not count');
  t.equal(store.readTriplets(ds.id).count, 1, 'and are not read');
  const after = store.commitStaged('up_a', ds.id, 'triplets', 3);
  t.equal(after.tripletCount, 4);
  t.same(Array.from(store.readTriplets(ds.id).data), [...seqF32(3), ...seqF32(6, 10), ...seqF32(3, 20)]);

  store.stageChunk('up_b', ds.id, 'triplets', seqF32(3, 30), 1);
  store.discardStaged('up_b');
  t.equal(store.readTriplets(ds.id).count, 4);
  t.equal(rawCount(file, 'SELECT COUNT(*) AS n FROM chunks WHERE upload_id IS NOT NULL'), 0, 'discarded chunks are gone');

  // committing into a dataset deleted mid-upload rolls back
  const gone = store.createDataset({ name: null, dimension: 1 });
  store.stageChunk('up_c', gone.id, 'triplets', seqF32(3), 1);
  store.deleteDataset(gone.id);
  t.throws(() => store.commitStaged('up_c', gone.id, 'triplets', 1), { code: 'DATASET_NOT_FOUND' });

  // a "crash": chunks staged, the process dies without commit or discard
  store.stageChunk('up_d', ds.id, 'triplets', seqF32(3, 40), 1);
  store.stageChunk('up_d', ds.id, 'triplets', seqF32(3, 50), 1);
  store.close();
  t.ok(rawCount(file, 'SELECT COUNT(*) AS n FROM chunks WHERE upload_id IS NOT NULL') >= 2, 'staged chunks are on disk');
  const reopened = new SqliteStore(file);
  t.teardown(() => reopened.close());
  t.equal(rawCount(file, 'SELECT COUNT(*) AS n FROM chunks WHERE upload_id IS NOT NULL'), 0, 'gone when the store reopens');
  t.equal(reopened.readTriplets(ds.id).count, 4, 'committed data intact');
  t.same(Array.from(reopened.readTriplets(ds.id).data), [...seqF32(3), ...seqF32(6, 10), ...seqF32(3, 20)]);
});

t.test('job lifecycle', async (t) => {
  const { store } = openStore(t);
  const ds = store.createDataset({ name: null, dimension: 2 });
  const params = { outputDimension: 1, seed: 3 };
  const j1 = store.createJob({ datasetId: ds.id, params });
  t.match(j1, { status: 'queued', datasetId: ds.id, progress: null, metrics: null, modelId: null, error: null, startedAt: null, finishedAt: null });
  t.same(j1.params, params);
  t.match(j1.id, /^job_/);
  const j2 = store.createJob({ datasetId: ds.id, params });
  t.equal(store.countJobs('queued'), 2);
  t.equal(store.activeJobsForDataset(ds.id), 2);
  t.equal(store.nextQueuedJob()!.id, j1.id, 'oldest first');

  const running = store.markJobRunning(j1.id);
  t.equal(running.status, 'running');
  t.ok(running.startedAt);
  t.equal(store.nextQueuedJob()!.id, j2.id);
  const progress = { iteration: 3, maxIterations: 10, loss: 0.5, gradientNorm: 0.1, activeFraction: 0.25, elapsedMs: 12 };
  store.updateJobProgress(j1.id, progress);
  t.same(store.getJob(j1.id)!.progress, progress);
  store.updateJobProgress(j2.id, progress);
  t.equal(store.getJob(j2.id)!.progress, null, 'progress only for a running job');

  const { job, model: m } = store.succeedJob(j1.id, model(1, 2, { jobId: j1.id }), { trainLoss: 0.1 });
  t.equal(job.status, 'succeeded');
  t.equal(job.modelId, m.id);
  t.same(job.metrics, { trainLoss: 0.1 });
  t.ok(job.finishedAt);
  t.equal(store.getModel(m.id)!.jobId, j1.id);
  t.equal(store.activeJobsForDataset(ds.id), 1);

  // a job cancelled while its last iteration ran: no model is written
  store.markJobRunning(j2.id);
  t.equal(store.finishJob(j2.id, 'cancelled', null).status, 'cancelled');
  const models = store.listModels({ limit: 10 }).items.length;
  t.throws(() => store.succeedJob(j2.id, model(1, 2, { jobId: j2.id }), {}), AppError);
  t.equal(store.listModels({ limit: 10 }).items.length, models, 'the model was rolled back');
  t.equal(store.getJob(j2.id)!.status, 'cancelled');
  t.equal(store.getJob(j2.id)!.modelId, null);
  // finishing a finished job changes nothing
  t.equal(store.finishJob(j2.id, 'failed', { code: 'X', message: 'y' }).status, 'cancelled');
  t.equal(store.finishJob(j1.id, 'failed', { code: 'X', message: 'y' }).status, 'succeeded');

  const j3 = store.createJob({ datasetId: ds.id, params });
  store.markJobRunning(j3.id);
  const failed = store.finishJob(j3.id, 'failed', { code: 'TRAINING_FAILED', message: 'boom' }, { trainLoss: 1 });
  t.match(failed, { status: 'failed', error: { code: 'TRAINING_FAILED', message: 'boom' }, metrics: { trainLoss: 1 } });

  // requeueRunningJobs: what a crash left running goes back to the queue
  const j4 = store.createJob({ datasetId: ds.id, params });
  const j5 = store.createJob({ datasetId: ds.id, params });
  store.markJobRunning(j4.id);
  store.markJobRunning(j5.id);
  t.equal(store.requeueRunningJobs(), 2);
  t.equal(store.getJob(j4.id)!.status, 'queued');
  t.equal(store.countJobs('running'), 0);
  t.equal(store.requeueRunningJobs(), 0);
  t.equal(store.nextQueuedJob()!.id, j4.id);

  t.same(store.listJobs({ limit: 10, status: 'queued' }).items.map((j) => j.id), [j5.id, j4.id]);
  t.same(store.listJobs({ limit: 10, status: 'succeeded' }).items.map((j) => j.id), [j1.id]);
  t.equal(store.listJobs({ limit: 10 }).items.length, 5);
});

t.test('models: weights round trip and checksum verification', async (t) => {
  const { store, file } = openStore(t);
  const nm = model(3, 4, { name: 'm', normalize: true, metrics: { margin: 0.3 } });
  const rec = store.createModel(nm);
  t.match(rec, { name: 'm', inputDimension: 4, outputDimension: 3, normalize: true, metrics: { margin: 0.3 }, jobId: null });
  t.same(Array.from(store.getModelWeights(rec.id)!), Array.from(nm.weights));
  t.equal(store.getModelWeights('mdl_nope'), undefined);
  t.equal(store.newestModel()!.id, rec.id);

  const other = store.createModel(model(1, 1));
  // flip one byte of the stored weights behind the store's back
  const db = new Database(file);
  const blob = (db.prepare('SELECT weights FROM models WHERE id = ?').get(rec.id) as { weights: Buffer }).weights;
  const corrupt = Buffer.from(blob);
  corrupt[5] ^= 0x01;
  db.prepare('UPDATE models SET weights = ? WHERE id = ?').run(corrupt, rec.id);
  t.throws(() => store.getModelWeights(rec.id), /integrity/);
  // a truncated blob, too
  db.prepare('UPDATE models SET weights = ? WHERE id = ?').run(blob.subarray(0, blob.byteLength - 8), rec.id);
  t.throws(() => store.getModelWeights(rec.id), /integrity/);
  db.prepare('UPDATE models SET weights = ? WHERE id = ?').run(blob, rec.id);
  db.close();
  t.same(Array.from(store.getModelWeights(rec.id)!), Array.from(nm.weights), 'the original bytes verify again');
  t.ok(store.getModelWeights(other.id), 'other models are unaffected');

  t.equal(store.newestModel()!.id, other.id);
  t.ok(store.deleteModel(other.id));
  t.notOk(store.deleteModel(other.id));
  t.equal(store.newestModel()!.id, rec.id, 'the next newest');
  t.ok(store.deleteModel(rec.id));
  t.equal(store.newestModel(), undefined);
});

t.test('pagination', async (t) => {
  const { store } = openStore(t);
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) ids.push(store.createDataset({ name: `d${i}`, dimension: 1 }).id);
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const p = store.listDatasets({ limit: 3, cursor });
    seen.push(...p.items.map((d) => d.id));
    pages++;
    if (!p.nextCursor || pages > 5) break;
    cursor = p.nextCursor;
  }
  t.equal(pages, 3);
  t.same(seen, [...ids].reverse());
  const exact = store.listDatasets({ limit: 7 });
  t.equal(exact.items.length, 7);
  t.equal(exact.nextCursor, null, 'no next page when the page is exactly full');
  t.throws(() => store.listDatasets({ limit: 3, cursor: '!!' }), { code: 'INVALID_CURSOR' });
  t.throws(() => store.listModels({ limit: 3, cursor: Buffer.from('12a').toString('base64url') }), { code: 'INVALID_CURSOR' });
  t.throws(() => store.listJobs({ limit: 3, cursor: Buffer.from('-1').toString('base64url') }), { code: 'INVALID_CURSOR' });

  for (let i = 0; i < 4; i++) store.createModel(model(1, 1));
  const m1 = store.listModels({ limit: 2 });
  const m2 = store.listModels({ limit: 2, cursor: m1.nextCursor! });
  t.equal(m2.items.length, 2);
  t.equal(m2.nextCursor, null);
  t.equal(new Set([...m1.items, ...m2.items].map((m) => m.id)).size, 4);
});

t.test('data survive close and reopen', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'nested', 'dir', 'store.sqlite');
  const a = new SqliteStore(file);
  const ds = a.createDataset({ name: 'keep', dimension: 2 });
  a.appendTriplets(ds.id, seqF32(12), 2);
  const job = a.createJob({ datasetId: ds.id, params: { outputDimension: 1 } });
  a.markJobRunning(job.id);
  const m = a.createModel(model(2, 2));
  a.close();
  t.notOk(a.isOpen());
  a.close(); // twice is fine

  const b = new SqliteStore(file);
  t.teardown(() => b.close());
  t.ok(b.isOpen());
  t.same(b.getDataset(ds.id), { ...ds, tripletCount: 2 });
  t.same(Array.from(b.readTriplets(ds.id).data), Array.from(seqF32(12)));
  t.equal(b.getJob(job.id)!.status, 'running', 'the store itself does not requeue; the runner does');
  t.same(b.getModel(m.id), m);
  t.same(Array.from(b.getModelWeights(m.id)!), Array.from(model(2, 2).weights));

  // a read-only store (what workers open) sees the same data
  const ro = new SqliteStore(file, { readonly: true });
  t.teardown(() => ro.close());
  t.equal(ro.readTriplets(ds.id).count, 2);
});

// POST /galleries/:id/reindex: the gallery moves to another model in a background job. Until the
// job commits the gallery holds the old model's embeddings, after it exactly the new model's
// (bit for bit what /embed answers), never a mix; a cancel leaves it where it was.
// docs/decisions/0033-reindex-jobs.md. Items are enrolled through the store here, as the upload
// route would (tests of search through the routes join when they land).
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import { newId } from '../../src/store/ids.js';
import { expectError, testApp, waitForJob } from '../helpers.js';

const D = 6;

function rows(n: number, d: number, seed: number): number[][] {
  let s = seed >>> 0;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  return Array.from({ length: n }, () => Array.from({ length: d }, r));
}

async function importModel(app: App, k: number, d: number, seed: number): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/models', payload: { W: rows(k, d, seed) } });
  if (res.statusCode !== 201) throw new Error(res.body);
  return res.json().id;
}

/** features through the model, as /embed answers: n×k float32. */
async function embed(app: App, model: string, features: number[][]): Promise<Float32Array> {
  const res = await app.inject({
    method: 'POST',
    url: '/embed',
    headers: { accept: 'application/octet-stream' },
    payload: { model, inputs: features },
  });
  if (res.statusCode !== 200) throw new Error(res.body);
  const b = res.rawPayload;
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Enrols items (ids `${prefix}${i}`) as an upload does: embedded with the gallery's model, one commit. */
async function enrol(app: App, gallery: string, features: number[][], prefix = 'it'): Promise<void> {
  const { store } = app.services;
  const g = (await store.getGallery(gallery))!;
  const ids = features.map((_, i) => `${prefix}${String(i).padStart(4, '0')}`);
  const up = newId('up');
  await store.stageGalleryItems(
    up,
    gallery,
    ids,
    ids.map((_, i) => `p${i >> 1}`),
    Float32Array.from(features.flat()),
    await embed(app, g.model, features),
  );
  await store.commitGalleryItems(up, gallery, g.model, ids.length, { max: 1e6, setting: 'TEST' });
}

async function setUp(t: Test, n: number) {
  const app = await testApp(t, { config: { reindexBatchItems: 7 }, build: { runJobs: false } });
  const a = await importModel(app, 4, D, 1);
  const b = await importModel(app, 3, D, 2);
  const features = rows(n, D, 3);
  const { store } = app.services;
  const g = (await store.createGallery({ name: 'g', modelId: a, dimension: D, embeddingDimension: 4, index: 'exact' }))
    .id;
  await enrol(app, g, features);
  const onA = Array.from(await embed(app, a, features));
  const onB = Array.from(await embed(app, b, features));
  const stored = async () => Array.from((await store.readGalleryEmbeddings(g)).embeddings);
  return { app, a, b, g, features, onA, onB, stored };
}

/**
 * The gallery marked moving under a job that was never stored, as a version that marked the gallery
 * before queueing its job left it when its process died in between (through a connection of its own).
 */
function markWithoutJob(app: App, gallery: string, model: string): void {
  const db = new Database(app.services.store.location);
  try {
    db.prepare("UPDATE galleries SET pending_model_id = ?, reindex_job_id = 'job_lost' WHERE id = ?").run(
      model,
      gallery,
    );
  } finally {
    db.close();
  }
}

const reindex = (app: App, id: string, model: string) =>
  app.inject({ method: 'POST', url: `/galleries/${id}/reindex`, payload: { model } });

t.test('a reindex switches the gallery at its commit: the old embeddings until then, the new after', async (t) => {
  const { app, a, b, g, onA, onB, stored } = await setUp(t, 60);
  const res = await reindex(app, g, b);
  t.equal(res.statusCode, 202, res.body);
  t.equal(res.headers.location, `/jobs/${res.json().id}`);
  t.match(res.json(), {
    kind: 'reindex',
    status: 'queued',
    datasetId: null,
    params: null,
    reindex: { galleryId: g, modelId: b, fromModelId: a },
  });
  t.match(await app.services.store.getGallery(g), { model: a, pendingModel: b, reindexJob: res.json().id });
  t.same(await stored(), onA, 'queued: the old embeddings');

  // Reads while it runs see one model's embeddings or the other's, never a mix.
  void app.services.runner.start();
  const seen = new Set<string>();
  let job = res.json();
  while (['queued', 'running'].includes(job.status)) {
    const now = JSON.stringify(await stored());
    if (now === JSON.stringify(onA)) seen.add('old');
    else if (now === JSON.stringify(onB)) seen.add('new');
    else t.fail('a mix of two models');
    job = (await app.inject({ url: `/jobs/${job.id}` })).json();
  }
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  t.match(job, { kind: 'reindex', progress: { iteration: 60, maxIterations: 60 }, metrics: { itemsEmbedded: 60 } });
  t.same(await stored(), onB, 'committed: bit for bit what /embed answers with the new model');
  t.match(await app.services.store.getGallery(g), { model: b, pendingModel: null, reindexJob: null, itemCount: 60 });
  t.ok(seen.has('old') || seen.has('new'));
});

t.test('query embeddings read for one model are never searched against the next', async (t) => {
  const { app, a, g, features } = await setUp(t, 20);
  const c = await importModel(app, 4, D, 9);
  const { galleries } = app.services;
  // A search reads the gallery (on a) and checks its queries' width (k = 4) ...
  const before = await galleries.get(g);
  const queries = await embed(app, a, features.slice(0, 2));
  // ... and a reindex onto c (k = 4 as well) commits, and the cache loads it, before it searches.
  const job = (await reindex(app, g, c)).json();
  void app.services.runner.start();
  t.equal((await waitForJob(app, job.id)).status, 'succeeded');
  const search = (kind: 'inputs' | 'embeddings', data: Float32Array) =>
    galleries.search(before, { kind, data, count: 2 }, { k: 3 });
  t.equal((await search('inputs', Float32Array.from(features.slice(0, 2).flat()))).model, c, 'inputs: embedded with c');
  await t.rejects(search('embeddings', queries), { statusCode: 409, code: 'GALLERY_MODEL_CHANGED' });
  const res = await app.inject({
    method: 'POST',
    url: `/galleries/${g}/search`,
    payload: { embeddings: [Array.from(await embed(app, c, features.slice(0, 1)))], k: 1 },
  });
  t.equal(res.json().results[0][0].id, 'it0000', "queries of the gallery's model as read answer");
});

t.test('a gallery deleted under a queued reindex (a delete racing its start) ends the job cancelled', async (t) => {
  const { app, b, g } = await setUp(t, 20);
  const res = await reindex(app, g, b);
  t.equal(res.statusCode, 202);
  // the store's delete alone: what a DELETE that read the gallery before the job was stored leaves
  t.equal(await app.services.store.deleteGallery(g), true);
  void app.services.runner.start();
  const job = await waitForJob(app, res.json().id);
  t.match(job, { status: 'cancelled', error: null });
});

t.test('items upserted while the job runs are embedded with the new model before it commits', async (t) => {
  const { app, b, g, features } = await setUp(t, 20);
  const job = (await reindex(app, g, b)).json();
  const late = rows(9, D, 17);
  await enrol(app, g, late, 'late');
  // the job is claimed only now; on its first pass it finds the late items too
  void app.services.runner.start();
  t.equal((await waitForJob(app, job.id)).status, 'succeeded');
  const got = await app.services.store.readGalleryEmbeddings(g);
  const byId = new Map(got.ids.map((id, i) => [id, Array.from(got.embeddings.subarray(i * 3, i * 3 + 3))]));
  const want = await embed(app, b, [...features, ...late]);
  const ids = [
    ...features.map((_, i) => `it${String(i).padStart(4, '0')}`),
    ...late.map((_, i) => `late${String(i).padStart(4, '0')}`),
  ];
  t.same(
    ids.map((id) => byId.get(id)),
    ids.map((_, i) => Array.from(want.subarray(i * 3, i * 3 + 3))),
  );
});

t.test('a cancel leaves the gallery on its model, and lets it go for the next reindex', async (t) => {
  const { app, a, b, g, onA, onB, stored } = await setUp(t, 30);
  const job = (await reindex(app, g, b)).json();
  expectError(t, await reindex(app, g, b), 409, 'REINDEX_PENDING');
  const cancelled = await app.inject({ method: 'POST', url: `/jobs/${job.id}/cancel` });
  t.equal(cancelled.json().status, 'cancelled');
  t.match(await app.services.store.getGallery(g), { model: a, pendingModel: null, reindexJob: null });
  t.same(await stored(), onA);
  const again = await reindex(app, g, b);
  t.equal(again.statusCode, 202, 'the gallery is free again');
  void app.services.runner.start();
  t.equal((await waitForJob(app, again.json().id)).status, 'succeeded');
  t.same(await stored(), onB);
});

t.test('deleting a gallery cancels its reindex job: it ends cancelled, not failed', async (t) => {
  const { app, b, g } = await setUp(t, 30);
  const job = (await reindex(app, g, b)).json();
  const del = await app.inject({ method: 'DELETE', url: `/galleries/${g}` });
  t.equal(del.statusCode, 204, del.body);
  t.match((await app.inject({ url: `/jobs/${job.id}` })).json(), { status: 'cancelled', error: null });
  void app.services.runner.start();
  t.equal((await waitForJob(app, job.id)).status, 'cancelled', 'the runner does not take it up again');
  expectError(t, await app.inject({ url: `/galleries/${g}` }), 404, 'GALLERY_NOT_FOUND');

  // a holder that was never stored (left by a version that marked before queueing) does not block the delete
  const other = await setUp(t, 4);
  markWithoutJob(other.app, other.g, other.b);
  const r2 = await other.app.inject({ method: 'DELETE', url: `/galleries/${other.g}` });
  t.equal(r2.statusCode, 204, r2.body);
});

t.test('a gallery left held by a job that ended (a crash in between) is let go by the next reindex', async (t) => {
  const { app, b, g, onB, stored } = await setUp(t, 10);
  // a holder job that was never stored: an older version's process died between marking and queueing
  markWithoutJob(app, g, b);
  const res = await reindex(app, g, b);
  t.equal(res.statusCode, 202, res.body);
  void app.services.runner.start();
  t.equal((await waitForJob(app, res.json().id)).status, 'succeeded');
  t.same(await stored(), onB);
});

t.test('refused reindexes change nothing', async (t) => {
  const { app, a, g } = await setUp(t, 4);
  const other = await importModel(app, 2, D + 1, 5);
  expectError(t, await reindex(app, 'gal_nope', a), 404, 'GALLERY_NOT_FOUND');
  expectError(t, await reindex(app, g, 'mdl_nope'), 404, 'MODEL_NOT_FOUND');
  expectError(t, await reindex(app, g, other), 400, 'DIMENSION_MISMATCH');
  expectError(t, await reindex(app, g, a), 409, 'MODEL_UNCHANGED');
  const bad = await app.inject({ method: 'POST', url: `/galleries/${g}/reindex`, payload: { model: a, x: 1 } });
  t.equal(bad.statusCode, 400);
  t.equal((await app.inject({ url: '/jobs' })).json().items.length, 0, 'no job was queued');
  t.match(await app.services.store.getGallery(g), { model: a, pendingModel: null, reindexJob: null });
});

t.test('concurrent reindexes of one gallery: one job is queued, the others get 409 naming it', async (t) => {
  const { app, a, b, g } = await setUp(t, 10);
  const others = [b, await importModel(app, 3, D, 7), await importModel(app, 5, D, 8)];
  const tries = await Promise.all([...others, b].map((m) => reindex(app, g, m)));
  const queued = tries.filter((r) => r.statusCode === 202).map((r) => r.json());
  t.equal(queued.length, 1, tries.map((r) => r.statusCode).join(','));
  for (const r of tries.filter((x) => x.statusCode !== 202)) {
    expectError(t, r, 409, 'REINDEX_PENDING');
    t.match(r.json().message, queued[0].id, 'the 409 names the job that holds the gallery');
  }
  t.same(
    (await app.inject({ url: '/jobs' })).json().items.map((j: { id: string }) => j.id),
    [queued[0].id],
    'one job stored',
  );
  t.match(await app.services.store.getGallery(g), { model: a, reindexJob: queued[0].id });
  void app.services.runner.start();
  t.equal((await waitForJob(app, queued[0].id)).status, 'succeeded');
  t.match(await app.services.store.getGallery(g), { model: queued[0].reindex.modelId, reindexJob: null });
});

// The gallery part of the store contract (docs/decisions/0031-galleries.md): CRUD, staged upserts
// all or nothing, erasure by id and by label, one consistent read of the embeddings, the model a
// gallery pins, and the reindex methods a reindex job codes against.
import type { Test } from 'tap';
import type { CapacityLimit, IdempotentWrite, Store } from '../../src/store/types.js';
import { model, params, type StoreBackend } from './contract.js';

const LIMIT = { max: 1000, setting: 'GALLERY_MAX_ITEMS' };

/** n items of d features and k embedding values, values from `seed` (distinct per item). */
export function items(ids: string[], d: number, k: number, seed = 1) {
  const features = Float32Array.from({ length: ids.length * d }, (_, i) => seed * 1000 + i + 0.25);
  const embeddings = Float32Array.from({ length: ids.length * k }, (_, i) => seed * 100 + i * 0.5);
  return { features, embeddings };
}

/** Stages and commits one upload of items; returns the gallery record after it. */
export async function upsert(
  store: Store,
  galleryId: string,
  modelId: string,
  ids: string[],
  labels: (string | number | null)[],
  d: number,
  k: number,
  seed = 1,
) {
  const { features, embeddings } = items(ids, d, k, seed);
  const up = `up_${Math.random().toString(36).slice(2)}`;
  await store.stageGalleryItems(up, galleryId, ids, labels, features, embeddings);
  return store.commitGalleryItems(up, galleryId, modelId, ids.length, LIMIT);
}

/** Queues a reindex job moving the gallery to modelId (which marks the gallery); its id. */
export async function reindexJob(store: Store, galleryId: string, modelId: string, limit?: CapacityLimit) {
  return (await store.createJob({ kind: 'reindex', reindex: { galleryId, modelId } }, limit)).id;
}

async function setup(store: Store, d = 3, k = 2) {
  const m = await store.createModel(model(k, d));
  const g = await store.createGallery({
    name: 'faces',
    modelId: m.id,
    dimension: d,
    embeddingDimension: k,
    index: 'exact',
  });
  return { m, g };
}

export function galleryContract(t: Test, backend: StoreBackend): void {
  t.test('galleries: create, get, list, delete; pinned to an existing model', async (t) => {
    const store = await backend.open(t);
    const { m, g } = await setup(store);
    t.match(g, {
      name: 'faces',
      model: m.id,
      dimension: 3,
      embeddingDimension: 2,
      index: 'exact',
      version: 1,
      itemCount: 0,
      pendingModel: null,
      reindexJob: null,
    });
    t.match(g.id, /^gal_/);
    t.same(await store.getGallery(g.id), g);
    t.equal(await store.getGallery('gal_nope'), undefined);
    const g2 = await store.createGallery({
      name: null,
      modelId: m.id,
      dimension: 3,
      embeddingDimension: 2,
      index: 'exact',
    });
    const p1 = await store.listGalleries({ limit: 1 });
    t.same(
      p1.items.map((x) => x.id),
      [g2.id],
      'newest first',
    );
    const p2 = await store.listGalleries({ limit: 1, cursor: p1.nextCursor! });
    t.same(
      p2.items.map((x) => x.id),
      [g.id],
    );
    t.equal(p2.nextCursor, null);
    await t.rejects(
      store.createGallery({ name: null, modelId: 'mdl_nope', dimension: 3, embeddingDimension: 2, index: 'exact' }),
      { code: 'MODEL_NOT_FOUND', kind: 'not_found' },
    );
    await upsert(store, g.id, m.id, ['a'], [null], 3, 2);
    t.ok(await store.deleteGallery(g.id));
    t.notOk(await store.deleteGallery(g.id), 'false when unknown');
    t.equal(await store.getGallery(g.id), undefined);
    await t.rejects(store.readGalleryEmbeddings(g.id), { code: 'GALLERY_NOT_FOUND', kind: 'not_found' });
  });

  t.test('galleries: a model a gallery is pinned to cannot be deleted', async (t) => {
    const store = await backend.open(t);
    const { m, g } = await setup(store);
    // The first model is also the alias `default`, which holds it too: only the pin is tested here.
    await store.deleteAlias('default');
    await t.rejects(store.deleteModel(m.id), { code: 'MODEL_IN_USE', kind: 'conflict', message: /gallery/ });
    t.ok(await store.getModel(m.id), 'still there');
    const other = await store.createModel(model(4, 3));
    await reindexJob(store, g.id, other.id);
    await t.rejects(store.deleteModel(other.id), { code: 'MODEL_IN_USE' }, 'nor the one a reindex moves it to');
    await store.deleteGallery(g.id);
    t.ok(await store.deleteModel(m.id), 'deletable once no gallery uses it');
    t.ok(await store.deleteModel(other.id));
  });

  t.test('gallery items: upsert, read back by id order, version bumps', async (t) => {
    const store = await backend.open(t);
    const { m, g } = await setup(store);
    const a = await upsert(store, g.id, m.id, ['b', 'a', 'é', 'Z'], ['x', 7, null, 'x'], 3, 2, 1);
    t.equal(a.itemCount, 4);
    t.equal(a.version, 2);
    t.equal(await store.countGalleryLabels(g.id), 2, 'x and 7');
    const read = await store.readGalleryEmbeddings(g.id);
    t.same(read.ids, ['Z', 'a', 'b', 'é'], 'UTF-8 byte order');
    t.same(read.labels, ['x', 7, 'x', null]);
    t.equal(read.gallery.version, 2);
    const { embeddings } = items(['b', 'a', 'é', 'Z'], 3, 2, 1);
    // upload order b, a, é, Z → rows 0..3; read order Z, a, b, é → rows 3, 1, 0, 2
    t.same(
      Array.from(read.embeddings),
      [3, 1, 0, 2].flatMap((r) => Array.from(embeddings.subarray(r * 2, r * 2 + 2))),
    );
    // upsert: a replaced, c added
    const b = await upsert(store, g.id, m.id, ['a', 'c'], ['y', null], 3, 2, 9);
    t.equal(b.itemCount, 5);
    t.equal(b.version, 3);
    const again = await store.readGalleryEmbeddings(g.id);
    t.same(again.ids, ['Z', 'a', 'b', 'c', 'é']);
    t.same(again.labels, ['x', 'y', 'x', null, null]);
    t.same(
      Array.from(again.embeddings.subarray(2, 4)),
      Array.from(items(['a', 'c'], 3, 2, 9).embeddings.subarray(0, 2)),
    );
  });

  t.test('gallery items: a commit is all or nothing', async (t) => {
    const store = await backend.open(t);
    const { m, g } = await setup(store);
    await upsert(store, g.id, m.id, ['a'], [null], 3, 2);
    const { features, embeddings } = items(['p', 'q', 'r'], 3, 2);
    await store.stageGalleryItems('up_1', g.id, ['p', 'q', 'r'], [null, null, null], features, embeddings);
    t.same((await store.readGalleryEmbeddings(g.id)).ids, ['a'], 'staged items are invisible');
    await t.rejects(store.commitGalleryItems('up_1', g.id, m.id, 3, { max: 3, setting: 'GALLERY_MAX_ITEMS' }), {
      code: 'LIMIT_EXCEEDED',
    });
    t.same((await store.readGalleryEmbeddings(g.id)).ids, ['a'], 'past the cap: nothing written');
    await t.rejects(store.commitGalleryItems('up_1', g.id, 'mdl_other', 3, LIMIT), {
      code: 'GALLERY_MODEL_CHANGED',
      kind: 'conflict',
    });
    await t.rejects(store.commitGalleryItems('up_1', g.id, m.id, 4, LIMIT), /staged/);
    await store.discardGalleryItems('up_1');
    await t.rejects(store.commitGalleryItems('up_1', g.id, m.id, 3, LIMIT), /staged/, 'discarded');
    const after = await store.getGallery(g.id);
    t.equal(after!.itemCount, 1);
    t.equal(after!.version, 2, 'no refused commit bumped the version');
    await t.rejects(store.commitGalleryItems('up_2', 'gal_nope', m.id, 0, LIMIT), { code: 'GALLERY_NOT_FOUND' });
  });

  t.test('gallery items: erase one id, erase one identity', async (t) => {
    const store = await backend.open(t);
    const { m, g } = await setup(store);
    await upsert(store, g.id, m.id, ['a', 'b', 'c', 'd', 'e'], ['7', 7, 'x', null, 'y'], 3, 2);
    t.match(await store.deleteGalleryItem(g.id, 'e'), { deleted: 1, gallery: { itemCount: 4, version: 3 } });
    t.match(
      await store.deleteGalleryItem(g.id, 'e'),
      { deleted: 0, gallery: { itemCount: 4, version: 3 } },
      'already gone: the gallery as it stands',
    );
    t.equal((await store.getGallery(g.id))!.version, 3);
    // "7" and 7 are two identities: unsaid, the erase refuses to choose and deletes nothing
    await t.rejects(store.deleteGalleryLabel(g.id, '7'), { code: 'VALIDATION_ERROR', message: /labelType/ });
    await t.rejects(store.deleteGalleryLabel(g.id, 'x', 'integer'), { code: 'VALIDATION_ERROR' }, 'not an integer');
    t.equal((await store.getGallery(g.id))!.itemCount, 4, 'nothing deleted');
    t.match(
      await store.deleteGalleryLabel(g.id, '7', 'integer'),
      { deleted: 1, gallery: { id: g.id, itemCount: 3, version: 4 } },
      'the integer 7 only, and the gallery that delete left',
    );
    t.same((await store.readGalleryEmbeddings(g.id)).labels, ['7', 'x', null]);
    t.match(await store.deleteGalleryLabel(g.id, '7'), { deleted: 1 }, 'unsaid, the one identity left: the string "7"');
    t.match(await store.deleteGalleryLabel(g.id, 'nobody'), { deleted: 0, gallery: { itemCount: 2, version: 5 } });
    const after = await store.getGallery(g.id);
    t.equal(after!.version, 5, 'no bump for an erase that removed nothing');
    t.equal(after!.itemCount, 2);
    t.same((await store.readGalleryEmbeddings(g.id)).ids, ['c', 'd']);
    t.match(await store.deleteGalleryLabel(g.id, 'x'), { deleted: 1, gallery: { itemCount: 1, version: 6 } });
    await t.rejects(store.deleteGalleryItem('gal_nope', 'a'), { code: 'GALLERY_NOT_FOUND' });
    await t.rejects(store.deleteGalleryLabel('gal_nope', 'a'), { code: 'GALLERY_NOT_FOUND' });
  });

  t.test('reindex: start, read, write, commit switches model and embeddings at once', async (t) => {
    const store = await backend.open(t);
    const { m, g } = await setup(store, 3, 2);
    await upsert(store, g.id, m.id, ['a', 'b', 'c'], [1, 2, 3], 3, 2);
    const before = await store.readGalleryEmbeddings(g.id);
    const next = await store.createModel(model(4, 3));
    const job1 = await reindexJob(store, g.id, next.id);
    t.match(await store.getGallery(g.id), { pendingModel: next.id, reindexJob: job1, model: m.id, version: 2 });
    await t.rejects(reindexJob(store, g.id, next.id), { code: 'REINDEX_PENDING', kind: 'conflict' });
    const first = await store.readUnindexed(g.id, job1, 2);
    t.same(first.ids, ['a', 'b']);
    t.equal(first.dimension, 3);
    t.equal(first.remaining, 3);
    t.same(Array.from(first.features), Array.from(items(['a', 'b', 'c'], 3, 2).features.subarray(0, 6)));
    const e1 = Float32Array.from({ length: 8 }, (_, i) => i + 0.5);
    t.equal(await store.writeReindexBatch(g.id, job1, { ...first, embeddings: e1 }), true);
    t.same(await store.commitReindex(g.id, job1), { committed: false, remaining: 1 }, 'refused while items remain');
    const mid = await store.readGalleryEmbeddings(g.id);
    t.same(Array.from(mid.embeddings), Array.from(before.embeddings), 'search still sees the committed embeddings');
    t.equal(mid.gallery.version, 2);
    // an upsert while the reindex runs: its pending embedding is left null, so the job picks it up
    await upsert(store, g.id, m.id, ['a', 'd'], [1, 4], 3, 2, 5);
    const second = await store.readUnindexed(g.id, job1, 10);
    t.same(second.ids, ['a', 'c', 'd']);
    t.equal(second.remaining, 3);
    await store.deleteGalleryItem(g.id, 'c');
    const e2 = Float32Array.from({ length: 12 }, (_, i) => 100 + i);
    t.equal(await store.writeReindexBatch(g.id, job1, { ...second, embeddings: e2 }), true, 'the deleted c is skipped');
    await t.rejects(store.readUnindexed(g.id, 'job_2', 1), { code: 'REINDEX_NOT_HELD', kind: 'conflict' });
    t.equal(
      await store.writeReindexBatch(g.id, 'job_2', { ...second, embeddings: new Float32Array(12) }),
      false,
      'a stale job writes nothing',
    );
    await t.rejects(store.commitReindex(g.id, 'job_2'), { code: 'REINDEX_NOT_HELD' });
    const done = await store.commitReindex(g.id, job1);
    t.ok(done.committed);
    if (!done.committed) return;
    t.match(done.gallery, {
      model: next.id,
      embeddingDimension: 4,
      pendingModel: null,
      reindexJob: null,
      itemCount: 3,
    });
    t.ok(done.gallery.version > mid.gallery.version);
    const after = await store.readGalleryEmbeddings(g.id);
    t.same(after.ids, ['a', 'b', 'd']);
    t.same(Array.from(after.embeddings), [...e2.subarray(0, 4), ...e1.subarray(4, 8), ...e2.subarray(8, 12)]);
    await t.rejects(store.commitReindex(g.id, job1), { code: 'REINDEX_NOT_HELD' }, 'committed once');
    await store.deleteAlias('default'); // the first model is also `default`
    t.ok(await store.deleteModel(m.id), 'the old model is free once the gallery moved');
  });

  t.test('reindex: an item replaced between the read and the write is read again, not written', async (t) => {
    const store = await backend.open(t);
    const { m, g } = await setup(store, 3, 2);
    await upsert(store, g.id, m.id, ['a', 'b'], [1, 2], 3, 2);
    const next = await store.createModel(model(4, 3));
    const job1 = await reindexJob(store, g.id, next.id);
    const read = await store.readUnindexed(g.id, job1, 10);
    // a is enrolled again with other features while its embedding is being computed from the old
    await upsert(store, g.id, m.id, ['a'], [1], 3, 2, 9);
    const stale = Float32Array.from({ length: 8 }, (_, i) => i);
    t.equal(await store.writeReindexBatch(g.id, job1, { ...read, embeddings: stale }), true);
    const again = await store.readUnindexed(g.id, job1, 10);
    t.same(again.ids, ['a'], 'only a waits, for an embedding of its new features');
    t.same(Array.from(again.features), Array.from(items(['a'], 3, 2, 9).features));
    t.same(await store.commitReindex(g.id, job1), { committed: false, remaining: 1 });
    const fresh = Float32Array.from([10, 11, 12, 13]);
    t.equal(await store.writeReindexBatch(g.id, job1, { ...again, embeddings: fresh }), true);
    t.ok((await store.commitReindex(g.id, job1)).committed);
    const after = await store.readGalleryEmbeddings(g.id);
    t.same(after.ids, ['a', 'b']);
    t.same(Array.from(after.embeddings), [10, 11, 12, 13, 4, 5, 6, 7], "a's from its new features, b's as written");
  });

  t.test('reindex: abort clears the pending state; a holder that is over is let go by the next job', async (t) => {
    const store = await backend.open(t);
    const { m, g } = await setup(store);
    await upsert(store, g.id, m.id, ['a', 'b'], [null, null], 3, 2);
    const next = await store.createModel(model(2, 3));
    const wrongD = await store.createModel(model(2, 5));
    await t.rejects(reindexJob(store, g.id, wrongD.id), { code: 'DIMENSION_MISMATCH' });
    await t.rejects(reindexJob(store, g.id, 'mdl_nope'), { code: 'MODEL_NOT_FOUND' });
    await t.rejects(reindexJob(store, 'gal_nope', next.id), { code: 'GALLERY_NOT_FOUND' });
    await t.rejects(reindexJob(store, g.id, m.id), { code: 'MODEL_UNCHANGED', kind: 'conflict' });
    t.equal(await store.countJobs('queued'), 0, 'a refused reindex queues nothing');
    t.match(await store.getGallery(g.id), { reindexJob: null, pendingModel: null }, 'and holds nothing');
    const job1 = await reindexJob(store, g.id, next.id);
    const read = await store.readUnindexed(g.id, job1, 1);
    await store.writeReindexBatch(g.id, job1, { ...read, embeddings: new Float32Array(2) });
    t.equal((await store.readUnindexed(g.id, job1, 10)).remaining, 1);
    // cancelled, and the process died before it let the gallery go
    await store.finishJob(job1, 'cancelled', null);
    t.equal((await store.getGallery(g.id))!.reindexJob, job1);
    const job2 = await reindexJob(store, g.id, next.id);
    t.match(await store.getGallery(g.id), { reindexJob: job2, pendingModel: next.id });
    t.equal((await store.readUnindexed(g.id, job2, 10)).remaining, 2, "the over holder's pending embeddings dropped");
    await store.abortReindex(g.id, job1);
    t.equal((await store.getGallery(g.id))!.reindexJob, job2, 'another job cannot abort it');
    await store.abortReindex(g.id, job2);
    t.match(await store.getGallery(g.id), { reindexJob: null, pendingModel: null, model: m.id, version: 2 });
    await t.rejects(store.readUnindexed(g.id, job2, 1), { code: 'REINDEX_NOT_HELD' });
    t.ok(await reindexJob(store, g.id, next.id), 'free for another job');
  });

  t.test('reindex: the holder check, the mark and the job are one step; a refused job marks nothing', async (t) => {
    const store = await backend.open(t);
    const { m, g } = await setup(store);
    await upsert(store, g.id, m.id, ['a', 'b'], [null, null], 3, 2);
    const targets = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => store.createModel(model(i, 3))));
    const tries = await Promise.allSettled(targets.map((x) => reindexJob(store, g.id, x.id)));
    const queued = tries.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    t.equal(queued.length, 1, 'one of six concurrent reindexes is queued');
    for (const r of tries)
      if (r.status === 'rejected') t.match(r.reason, { code: 'REINDEX_PENDING', message: new RegExp(queued[0]) });
    t.equal(await store.countJobs('queued'), 1, 'and no job of the others is stored');
    const held = (await store.getGallery(g.id))!;
    t.equal(held.reindexJob, queued[0], 'the gallery is held by the job that was queued');
    t.equal(held.pendingModel, (await store.getJob(queued[0]))!.reindex!.modelId, 'moving to its model');
    // live while queued and while running
    await t.rejects(reindexJob(store, g.id, targets[0].id), { code: 'REINDEX_PENDING' }, 'queued holder');
    await store.claimNextJob({ owner: 'host-a:1:aaaa', ms: 600_000 });
    const read = await store.readUnindexed(g.id, queued[0], 10);
    const k = (await store.getModel(held.pendingModel!))!.outputDimension;
    await store.writeReindexBatch(g.id, queued[0], { ...read, embeddings: new Float32Array(2 * k) });
    await t.rejects(reindexJob(store, g.id, targets[0].id), { code: 'REINDEX_PENDING' }, 'running holder');
    t.equal(
      (await store.readUnindexed(g.id, queued[0], 10)).remaining,
      0,
      "a refused reindex leaves the holder's pending embeddings",
    );

    // a job the queue cannot take marks nothing: the mark is rolled back with the insert
    await store.finishJob(queued[0], 'cancelled', null);
    await store.abortReindex(g.id, queued[0]);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    await store.createJob({ datasetId: ds.id, params: params() });
    await t.rejects(reindexJob(store, g.id, targets[1].id, { max: 1, setting: 'MAX_QUEUED_JOBS' }), {
      code: 'QUEUE_FULL',
    });
    t.match(await store.getGallery(g.id), { reindexJob: null, pendingModel: null, model: m.id });
  });

  t.test('gallery items: an Idempotency-Key is recorded with the commit, or nothing is', async (t) => {
    const store = await backend.open(t);
    const { m, g } = await setup(store);
    const scope = `POST /galleries/:id/items ${g.id} -`;
    const once = (key: string): IdempotentWrite => ({
      scope,
      key,
      bodyHash: 'h1',
      status: 201,
      reply: { added: 2, model: m.id },
      counts: { itemCount: 'itemCount', version: 'version' },
      ttlMs: 3_600_000,
    });
    const { features, embeddings } = items(['a', 'b'], 3, 2);
    await store.stageGalleryItems('up_i1', g.id, ['a', 'b'], ['p', null], features, embeddings);
    const after = await store.commitGalleryItems('up_i1', g.id, m.id, 2, LIMIT, { idempotency: once('k1') });
    t.match(await store.getIdempotencyKey(scope, 'k1'), {
      key: 'k1',
      bodyHash: 'h1',
      status: 201,
      reply: { added: 2, model: m.id, itemCount: 2, version: after.version },
    });
    await store.stageGalleryItems('up_i2', g.id, ['c'], [null], features.subarray(0, 3), embeddings.subarray(0, 2));
    await t.rejects(store.commitGalleryItems('up_i2', g.id, m.id, 1, LIMIT, { idempotency: once('k1') }), {
      code: 'IDEMPOTENCY_KEY_IN_FLIGHT',
    });
    t.match(await store.getGallery(g.id), { itemCount: 2, version: after.version }, 'the commit rolled back');
    await store.discardGalleryItems('up_i2');
    // a refused commit records no key
    await store.stageGalleryItems('up_i3', g.id, ['c'], [null], features.subarray(0, 3), embeddings.subarray(0, 2));
    await t.rejects(
      store.commitGalleryItems(
        'up_i3',
        g.id,
        m.id,
        1,
        { max: 2, setting: 'GALLERY_MAX_ITEMS' },
        { idempotency: once('k2') },
      ),
      { code: 'LIMIT_EXCEEDED' },
    );
    t.equal(await store.getIdempotencyKey(scope, 'k2'), undefined);
    await store.discardGalleryItems('up_i3');
    await store.close();
    const again = await backend.reopen(t, store);
    t.match(await again.getIdempotencyKey(scope, 'k1'), { reply: { itemCount: 2, version: after.version } });
  });

  t.test('galleries survive a reopen', async (t) => {
    const a = await backend.open(t);
    const { m, g } = await setup(a);
    await upsert(a, g.id, m.id, ['a', 'b'], ['p', null], 3, 2);
    const before = await a.readGalleryEmbeddings(g.id);
    await a.close();
    const b = await backend.reopen(t, a);
    const after = await b.readGalleryEmbeddings(g.id);
    t.same(after.ids, before.ids);
    t.same(after.labels, before.labels);
    t.same(Array.from(after.embeddings), Array.from(before.embeddings));
    t.same(after.gallery, before.gallery);
  });
}

// The aliases' part of the store contract: an alias points to an existing model and records where
// it pointed before; the first model sets `default`, later ones do not; a promoted job moves it in
// the transaction of its success, a failed or cancelled one moves nothing; a model an alias points
// to cannot be deleted; renames; the change feed announces alias writes by name.
import type { Test } from 'tap';
import { changed, record } from './contract-changes.js';
import { LEASE, model, params, type StoreBackend } from './contract.js';

export function aliasContract(t: Test, backend: StoreBackend): void {
  t.test('aliases: the first model sets default; set, move, get, list, delete', async (t) => {
    const store = await backend.open(t);
    t.equal(await store.getAlias('default'), undefined, 'no default without a model');
    const first = await store.createModel(model(1, 2));
    t.match(await store.getAlias('default'), { name: 'default', model: first.id, previousModel: null });
    const second = await store.createModel(model(1, 2));
    t.equal((await store.getAlias('default'))!.model, first.id, 'a later model does not move it');

    const a = await store.setAlias('faces', second.id);
    t.match(a, { name: 'faces', model: second.id, previousModel: null });
    t.type(a.createdAt, 'string');
    t.equal(a.createdAt, a.updatedAt);
    t.same(await store.getAlias('faces'), a);
    t.same(await store.setAlias('faces', second.id), a, 'pointing it where it points changes nothing');
    const moved = await store.setAlias('faces', first.id);
    t.match(moved, { name: 'faces', model: first.id, previousModel: second.id, createdAt: a.createdAt });
    t.ok(moved.updatedAt >= a.updatedAt);
    await t.rejects(store.setAlias('faces', 'mdl_nope'), { code: 'MODEL_NOT_FOUND', kind: 'not_found' });
    await t.rejects(store.setAlias('other', 'mdl_nope'), { code: 'MODEL_NOT_FOUND' });
    t.same(await store.getAlias('faces'), moved, 'a refused move changes nothing');
    t.equal(await store.getAlias('other'), undefined, 'nor creates the alias');

    const names: string[] = [];
    for (let i = 0; i < 3; i++) names.push((await store.setAlias(`a${i}`, first.id)).name);
    const p1 = await store.listAliases({ limit: 3 });
    t.same(
      p1.items.map((x) => x.name),
      ['a2', 'a1', 'a0'],
      'newest first',
    );
    const p2 = await store.listAliases({ limit: 3, cursor: p1.nextCursor! });
    t.same(
      p2.items.map((x) => x.name),
      ['faces', 'default'],
    );
    t.equal(p2.nextCursor, null);
    await t.rejects(store.listAliases({ limit: 3, cursor: '!!' }), { code: 'INVALID_CURSOR' });

    t.ok(await store.deleteAlias('a1'));
    t.notOk(await store.deleteAlias('a1'), 'false when unknown');
    t.equal(await store.getAlias('a1'), undefined);
  });

  t.test('aliases: a model an alias points to cannot be deleted', async (t) => {
    const store = await backend.open(t);
    const m = await store.createModel(model(1, 2));
    const other = await store.createModel(model(1, 2));
    await store.setAlias('zeta', m.id);
    await store.setAlias('alpha', m.id);
    const err = await store.deleteModel(m.id).catch((e: unknown) => e);
    t.match(err, { kind: 'conflict', code: 'MODEL_IN_USE', message: /"alpha", "default", "zeta"/ });
    t.ok(await store.getModel(m.id), 'the model stays');
    await store.setAlias('default', other.id);
    await store.deleteAlias('alpha');
    await t.rejects(store.deleteModel(m.id), { code: 'MODEL_IN_USE', message: /the alias "zeta" points/ });
    await store.deleteAlias('zeta');
    t.ok(await store.deleteModel(m.id), 'deleted once nothing points to it');
    t.equal((await store.getAlias('default'))!.previousModel, m.id, 'previousModel may name a deleted model');
    t.notOk(await store.deleteModel(m.id));
  });

  t.test('aliases: a model is renamed; the name is kept apart from its weights', async (t) => {
    const store = await backend.open(t);
    const m = await store.createModel(model(2, 2, { name: 'old' }));
    const renamed = await store.renameModel(m.id, 'new name');
    t.same(renamed, { ...m, name: 'new name' });
    t.same(await store.getModel(m.id), renamed);
    t.equal((await store.renameModel(m.id, null))!.name, null, 'null removes it');
    t.equal(await store.renameModel('mdl_nope', 'x'), undefined);
    t.same(Array.from((await store.getModelWeights(m.id))!), Array.from(model(2, 2).weights));
  });

  t.test('aliases: a promoted job moves default when it succeeds, and only then', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    // trained first model, not promoted: sets default as the first model
    const j0 = await store.createJob({ datasetId: ds.id, params: params(), modelName: 'first' });
    t.match(j0, { modelName: 'first', promote: false });
    await store.claimNextJob(LEASE, j0.id);
    const r0 = await store.succeedJob(j0.id, model(1, 2, { jobId: j0.id, name: 'first' }), {}, LEASE.owner);
    t.match(r0.alias, { name: 'default', model: r0.model.id, previousModel: null }, 'the first model sets default');
    t.equal(r0.model.name, 'first');

    const plain = await store.createJob({ datasetId: ds.id, params: params() });
    t.match(plain, { modelName: null, promote: false });
    await store.claimNextJob(LEASE, plain.id);
    const r1 = await store.succeedJob(plain.id, model(1, 2, { jobId: plain.id }), {}, LEASE.owner);
    t.equal(r1.alias, null, 'a job that does not promote moves nothing');
    t.equal((await store.getAlias('default'))!.model, r0.model.id);

    const failed = await store.createJob({ datasetId: ds.id, params: params(), promote: true });
    await store.claimNextJob(LEASE, failed.id);
    await store.finishJob(failed.id, 'failed', { code: 'X', message: 'x' }, null, LEASE.owner);
    const cancelled = await store.createJob({ datasetId: ds.id, params: params(), promote: true });
    await store.claimNextJob(LEASE, cancelled.id);
    await store.finishJob(cancelled.id, 'cancelled', null);
    await t.rejects(store.succeedJob(cancelled.id, model(1, 2), {}, LEASE.owner), { code: 'JOB_FINISHED' });
    t.equal((await store.getAlias('default'))!.model, r0.model.id, 'failed and cancelled jobs move nothing');

    const promoted = await store.createJob({ datasetId: ds.id, params: params(), promote: true });
    t.match(promoted, { promote: true });
    t.same(await store.getJob(promoted.id), promoted);
    await store.claimNextJob(LEASE, promoted.id);
    const r2 = await store.succeedJob(promoted.id, model(1, 2, { jobId: promoted.id }), {}, LEASE.owner);
    t.match(r2.alias, { name: 'default', model: r2.model.id, previousModel: r0.model.id });
    t.same(await store.getAlias('default'), r2.alias);
    t.match(r2.job, { status: 'succeeded', modelId: r2.model.id, promote: true });
  });

  t.test('aliases: the change feed announces alias writes by name', async (t) => {
    const store = await backend.open(t);
    const feed = record(t, store);
    const m = await store.createModel(model(1, 2));
    await feed.expect('the model', changed('models', m.id, 'insert'));
    await store.setAlias('feed-a', m.id);
    await feed.expect('a new alias', changed('aliases', 'feed-a', 'insert'));
    const n = await store.createModel(model(1, 2));
    await store.setAlias('feed-a', n.id);
    await feed.expect('a move', changed('aliases', 'feed-a', 'update'));
    await store.renameModel(n.id, 'renamed');
    await feed.expect('a rename', changed('models', n.id, 'update'));
    await store.deleteAlias('feed-a');
    await feed.expect('a deletion', changed('aliases', 'feed-a', 'delete'));
    const ds = await store.createDataset({ name: null, dimension: 2 });
    const job = await store.createJob({ datasetId: ds.id, params: params(), promote: true });
    await store.claimNextJob(LEASE, job.id);
    await store.succeedJob(job.id, model(1, 2, { jobId: job.id }), {}, LEASE.owner);
    await feed.expect('a promotion', changed('aliases', 'default', 'update'));
  });

  if (backend.replica) {
    const replicaOf = backend.replica.bind(backend);
    t.test("aliases: a replica hears another's alias writes and reads them", async (t) => {
      const a = await backend.open(t);
      const b = await replicaOf(t, a);
      const feed = record(t, b);
      const m = await a.createModel(model(1, 2));
      await a.setAlias('shared', m.id);
      await feed.expect('the alias', changed('aliases', 'shared', 'insert'));
      t.equal((await b.getAlias('shared'))!.model, m.id);
      await t.rejects(b.deleteModel(m.id), { code: 'MODEL_IN_USE' }, 'and the other replica cannot delete its model');
    });
  }
}

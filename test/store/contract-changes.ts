// The change feed's part of the store contract (Store.watch): every committed write to datasets,
// jobs and models is announced with its table, id and operation; reads announce nothing; an
// unsubscribed listener hears nothing more; and where replicas share the data (backend.replica),
// a store hears the writes another store made. A feed on a connection of its own (PostgreSQL)
// announces a moment after the write returns, so each check waits for its event.
import type { Test } from 'tap';
import { TRAINING_DEFAULTS, type TrainingParams } from '../../src/domain/training.js';
import type { NewModel, Store, StoreChange } from '../../src/store/types.js';
import { LEASE, type StoreBackend } from './contract.js';

/** Long enough for a notification on a busy machine; a missing event fails the test instead of hanging it. */
const EVENT_WAIT_MS = 10_000;

const f32 = (n: number) => Float32Array.from({ length: n }, (_, i) => i * 0.25);
const params = () => ({ ...TRAINING_DEFAULTS.triplets, outputDimension: 1, seed: 3 }) as TrainingParams;
const aModel = (): NewModel => ({
  jobId: null,
  name: null,
  inputDimension: 2,
  outputDimension: 1,
  normalize: false,
  trainingParams: null,
  metrics: {},
  weights: Float64Array.from([0.5, -1]),
});

type Match = (c: StoreChange) => boolean;
export const changed =
  (table: string, id: string, op: string): Match =>
  (c) =>
    c.kind === 'change' && c.table === table && c.id === id && c.op === op;

/** Everything a store's feed says, and a way to wait for one event. */
export function record(t: Test, store: Store) {
  const seen: StoreChange[] = [];
  let wake = () => {};
  const stop = store.watch((c) => {
    seen.push(c);
    wake();
  });
  t.teardown(stop);
  return {
    seen,
    stop,
    /** Waits until an event matching `match` has been seen; fails the test if none comes. */
    async expect(what: string, match: Match): Promise<void> {
      const end = Date.now() + EVENT_WAIT_MS;
      while (!seen.some(match) && Date.now() < end) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      t.ok(seen.some(match), what);
    },
    clear: () => void seen.splice(0),
  };
}

export function changeFeedContract(t: Test, backend: StoreBackend): void {
  t.test('change feed: each committed write is announced, by table, id and operation, and nothing else', async (t) => {
    const store = await backend.open(t);
    const feed = record(t, store);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    await feed.expect('createDataset', changed('datasets', ds.id, 'insert'));
    feed.clear();
    await store.appendTriplets(ds.id, f32(6), 1);
    await feed.expect('appendTriplets', changed('datasets', ds.id, 'update'));
    feed.clear();
    await store.appendSamples(ds.id, f32(2), ['a']);
    await feed.expect('appendSamples', changed('datasets', ds.id, 'update'));
    feed.clear();
    await store.stageChunk('up_feed', ds.id, 'triplets', f32(6), 1);
    await store.commitStaged('up_feed', ds.id, 'triplets', 1);
    await feed.expect('commitStaged', changed('datasets', ds.id, 'update'));

    const job = await store.createJob({ datasetId: ds.id, params: params() });
    await feed.expect('createJob', changed('jobs', job.id, 'insert'));
    feed.clear();
    await store.claimNextJob(LEASE, job.id);
    await feed.expect('claimNextJob', changed('jobs', job.id, 'update'));
    feed.clear();
    const progress = { iteration: 1, maxIterations: 2, loss: 1, gradientNorm: 1, activeFraction: 1, elapsedMs: 1 };
    await store.updateJobProgress(job.id, progress, LEASE.owner);
    await feed.expect('updateJobProgress', changed('jobs', job.id, 'update'));
    feed.clear();
    // A renewal moves the lease's expiry alone: not announced. Events come in commit order, so once
    // a later write's event is in, any event of the renewal would be too.
    t.same(await store.renewJobLease(job.id, LEASE), { held: true });
    await store.appendTriplets(ds.id, f32(6), 1);
    await feed.expect('the write after the renewal', changed('datasets', ds.id, 'update'));
    t.notOk(feed.seen.some(changed('jobs', job.id, 'update')), 'a lease renewal is not announced');
    feed.clear();
    const { model } = await store.succeedJob(job.id, { ...aModel(), jobId: job.id }, {}, LEASE.owner);
    await feed.expect('succeedJob: the model', changed('models', model.id, 'insert'));
    await feed.expect('succeedJob: the job', changed('jobs', job.id, 'update'));
    const other = await store.createJob({ datasetId: ds.id, params: params() });
    feed.clear();
    await store.finishJob(other.id, 'cancelled', null);
    await feed.expect('finishJob', changed('jobs', other.id, 'update'));
    const again = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(LEASE, again.id);
    feed.clear();
    await store.requeueRunningJobs();
    await feed.expect(
      'requeueRunningJobs: the job, or a resync',
      (c) => changed('jobs', again.id, 'update')(c) || c.kind === 'resync',
    );

    const m = await store.createModel(aModel());
    await feed.expect('createModel', changed('models', m.id, 'insert'));
    feed.clear();
    t.ok(await store.deleteModel(m.id));
    await feed.expect('deleteModel', changed('models', m.id, 'delete'));
    // its last job ends first: a dataset a queued job uses is not deleted
    await store.finishJob(again.id, 'cancelled', null);
    feed.clear();
    t.ok(await store.deleteDataset(ds.id));
    await feed.expect('deleteDataset', changed('datasets', ds.id, 'delete'));

    // Reads and failed writes announce nothing; an unsubscribed listener hears nothing more.
    const gone = record(t, store);
    const kept = await store.createDataset({ name: null, dimension: 1 });
    await gone.expect('a write', changed('datasets', kept.id, 'insert'));
    feed.clear();
    gone.stop();
    await store.getDataset(kept.id);
    await store.listJobs({ limit: 5 });
    await store.newestModel();
    await store.countJobs('queued');
    t.notOk(await store.deleteModel('mdl_nope'), 'deleting nothing');
    await t.rejects(store.appendTriplets('ds_nope', f32(3), 1), { code: 'DATASET_NOT_FOUND' });
    // a marker write: once its event is here, any event of the calls above would be too
    const marker = await store.createDataset({ name: 'marker', dimension: 1 });
    await feed.expect('the marker', changed('datasets', marker.id, 'insert'));
    t.same(feed.seen, [{ kind: 'change', table: 'datasets', id: marker.id, op: 'insert' }], 'only the marker');
    t.same(
      gone.seen,
      [{ kind: 'change', table: 'datasets', id: kept.id, op: 'insert' }],
      'nothing after unsubscribing',
    );
  });

  t.test('change feed: a gallery whose items changed, or that was deleted, is announced', async (t) => {
    const store = await backend.open(t);
    const feed = record(t, store);
    const m = await store.createModel(aModel());
    const g = await store.createGallery({
      name: null,
      modelId: m.id,
      dimension: 2,
      embeddingDimension: 2,
      index: 'exact',
    });
    const limit = { max: 10, setting: 'GALLERY_MAX_ITEMS' };
    await store.stageGalleryItems('up_feed', g.id, ['a', 'b'], ['ann', 'bob'], f32(4), f32(4));
    await store.commitGalleryItems('up_feed', g.id, m.id, 2, limit);
    await feed.expect('an upload', changed('galleries', g.id, 'update'));
    feed.clear();
    t.match(await store.deleteGalleryItem(g.id, 'a'), { deleted: 1 });
    await feed.expect('an erased item', changed('galleries', g.id, 'update'));
    feed.clear();
    t.match(await store.deleteGalleryLabel(g.id, 'bob'), { deleted: 1 });
    await feed.expect('an erased identity', changed('galleries', g.id, 'update'));
    feed.clear();
    t.ok(await store.deleteGallery(g.id));
    await feed.expect('a deleted gallery', changed('galleries', g.id, 'delete'));
  });

  if (backend.replica) {
    const replicaOf = backend.replica.bind(backend);
    t.test("change feed: a store hears another replica's writes", async (t) => {
      const a = await backend.open(t);
      const b = await replicaOf(t, a);
      const feed = record(t, b);
      const ds = await a.createDataset({ name: null, dimension: 2 });
      await feed.expect('a dataset', changed('datasets', ds.id, 'insert'));
      const job = await a.createJob({ datasetId: ds.id, params: params() });
      await feed.expect('a job', changed('jobs', job.id, 'insert'));
      await a.claimNextJob(LEASE, job.id);
      await feed.expect('its claim', changed('jobs', job.id, 'update'));
      await a.createModel(aModel()); // the first model, which the alias `default` keeps
      const m = await a.createModel(aModel());
      await feed.expect('a model', changed('models', m.id, 'insert'));
      t.same(await b.getModel(m.id), m, 'and reads it');
      await a.deleteModel(m.id);
      await feed.expect('its deletion', changed('models', m.id, 'delete'));
      t.equal(await b.getModel(m.id), undefined);
    });
  }
}

// A job whose store read meets a passing outage (PostgreSQL's connections cut by a restart, a
// failover or pg_terminate_backend, decision 0023) is not failed for good: the read's refusal says
// nothing about the job, and the failure's own write lands as soon as the pool reconnects. The job
// is left to its lease, as after a crash (0021): the sweep puts it back in the queue and it ends
// succeeded. The real SQLite store is made to refuse one read with 503 STORAGE_UNAVAILABLE, as a
// store does while its database is away.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { unavailableError } from '../../src/domain/errors.js';
import type { Store } from '../../src/store/types.js';
import { createDataset, makeTriplets, testApp, waitForJob } from '../helpers.js';

/**
 * A lease the failure's write (before the fix) lands well within, short enough for the job left to
 * it to be swept back to the queue soon.
 */
const config = { jobLeaseMs: 5000 };

/** Makes the app's store refuse its next call of `method` as an unavailable storage does. */
function refuseOnce(app: App, method: 'readTriplets' | 'readUnindexed'): { refused: () => number } {
  const store = app.services.store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const real = store[method].bind(store);
  let refused = 0;
  store[method] = async (...args: unknown[]) => {
    if (refused === 0) {
      refused++;
      throw unavailableError('PostgreSQL at test is unavailable: terminating connection due to administrator command');
    }
    return real(...args);
  };
  return { refused: () => refused };
}

const post = async (app: App, url: string, payload: Record<string, unknown>) => {
  const r = await app.inject({ method: 'POST', url, payload });
  if (r.statusCode >= 300) throw new Error(`${url}: ${r.statusCode} ${r.body}`);
  return r.json();
};

t.test('a training job whose data read meets an outage trains once the storage answers', async (t) => {
  const app = await testApp(t, { config });
  const outage = refuseOnce(app, 'readTriplets');
  const datasetId = await createDataset(app, 4, makeTriplets(60, 4));
  const queued = await post(app, '/train', { datasetId, outputDimension: 2, maxIterations: 20 });
  const job = await waitForJob(app, queued.id);
  t.equal(outage.refused(), 1, 'the read was refused once');
  t.equal(job.status, 'succeeded', `succeeded (error ${JSON.stringify(job.error)})`);
  t.equal(job.attempts, 2, 'on its second claim');
  t.ok(job.modelId, 'with a model');
});

t.test('a reindex job whose read meets an outage moves the gallery once the storage answers', async (t) => {
  const app = await testApp(t, { config });
  const W = (s: number) => [
    [1, s],
    [s, 1],
  ];
  const from = (await post(app, '/models', { W: W(0) })).id as string;
  const to = (await post(app, '/models', { W: W(0.5) })).id as string;
  const gallery = (await post(app, '/galleries', { name: 'g', model: from })).id as string;
  const items = Array.from({ length: 10 }, (_, i) => ({ id: `i${i}`, label: `l${i % 3}`, input: [i, 1 - i] }));
  await post(app, `/galleries/${gallery}/items`, { items });
  const outage = refuseOnce(app, 'readUnindexed');
  const queued = await post(app, `/galleries/${gallery}/reindex`, { model: to });
  const job = await waitForJob(app, queued.id);
  t.equal(outage.refused(), 1, 'the read was refused once');
  t.equal(job.status, 'succeeded', `succeeded (error ${JSON.stringify(job.error)})`);
  t.equal(job.attempts, 2, 'on its second claim');
  const g = (await app.inject({ url: `/galleries/${gallery}` })).json();
  t.match(g, { model: to, pendingModel: null, reindexJob: null, itemCount: 10 }, 'the gallery is on the new model');
  const store: Store = app.services.store;
  t.equal((await store.getJob(queued.id))?.status, 'succeeded', 'and the store says so');
});

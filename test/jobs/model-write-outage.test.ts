// A trained model whose write meets a storage outage (a PostgreSQL restart, decision 0023) waits
// for the storage rather than failing the job: the real SQLite store is made to refuse
// succeedJob with 503 STORAGE_UNAVAILABLE a few times, as a store does while its database is away.
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import { unavailableError } from '../../src/domain/errors.js';
import { createDataset, makeTriplets, testApp, waitForJob } from '../helpers.js';

/** Makes the app's store refuse its next `times` model writes as an unavailable storage does. */
function refuseModelWrites(app: App, times: number): { refused: () => number } {
  const store = app.services.store;
  const write = store.succeedJob.bind(store);
  let refused = 0;
  store.succeedJob = async (...args) => {
    if (refused < times) {
      refused++;
      throw unavailableError('PostgreSQL at test is unavailable: Connection terminated');
    }
    return write(...args);
  };
  return { refused: () => refused };
}

const train = async (t: Test, app: App) => {
  const id = await createDataset(app, 4, makeTriplets(60, 4));
  const r = await app.inject({
    method: 'POST',
    url: '/train',
    payload: { datasetId: id, outputDimension: 2, maxIterations: 20 },
  });
  t.equal(r.statusCode, 202, 'queued');
  return waitForJob(app, r.json().id);
};

t.test('a model write refused while the storage is away is tried again: the job succeeds', async (t) => {
  const app = await testApp(t);
  const outage = refuseModelWrites(app, 3);
  const job = await train(t, app);
  t.equal(job.status, 'succeeded', `succeeded (error ${JSON.stringify(job.error)})`);
  t.equal(outage.refused(), 3, 'after three refusals');
  t.equal(job.attempts, 1, 'without training again');
  const model = await app.inject({ url: `/models/${job.modelId}` });
  t.equal(model.statusCode, 200, 'its model is stored');
});

t.test('any other refusal of the model still fails the job, once', async (t) => {
  const app = await testApp(t);
  const store = app.services.store;
  let calls = 0;
  store.succeedJob = async () => {
    calls++;
    throw new Error('a constraint the code did not expect');
  };
  const job = await train(t, app);
  t.equal(job.status, 'failed');
  t.match(job.error, { code: 'STORE_FAILED', message: /constraint the code did not expect/ });
  t.equal(calls, 1, 'not tried again');
});

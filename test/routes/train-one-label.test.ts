// POST /train on a dataset whose samples carry one label: no mined triplet can have a negative, so
// the request is refused — as 422 NO_TRIPLETS naming the label count, on SQLite and PostgreSQL.
// It was a 400 VALIDATION_ERROR "body/batchSize must be an integer ≥ 2·samplesPerLabel", naming a
// field the request had not sent (the defaulted batch is labels × K = K). A second label trains.
// PostgreSQL needs TEST_DATABASE_URL (eval "$(scripts/pg-test-cluster.sh start)"); skipped without.
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import { freshDatabase, inCi, unavailable } from '../store/pg-test-db.js';
import { expectError, testApp, waitForJob } from '../helpers.js';

async function oneLabelThenTwo(t: Test, app: App): Promise<void> {
  const ds = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 3 } })).json().id;
  const samples = (label: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({ vector: [Math.sin(i), Math.cos(i), i / n], label }));
  const upload = (label: string, n: number) =>
    app.inject({ method: 'POST', url: `/datasets/${ds}/samples`, payload: { samples: samples(label, n) } });
  t.equal((await upload('only', 12)).statusCode, 201);
  const train = (payload: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url: '/train', payload: { datasetId: ds, outputDimension: 2, ...payload } });
  const r = await train();
  expectError(t, r, 422, 'NO_TRIPLETS');
  t.match(r.json().message, /1 label only/, r.json().message);
  t.notMatch(r.json().message, /batchSize/, 'names no field the request did not send');
  // the same with options the request did send
  expectError(t, await train({ samplesPerLabel: 4 }), 422, 'NO_TRIPLETS');
  expectError(t, await train({ batchSize: 16 }), 422, 'NO_TRIPLETS');
  t.equal((await upload('other', 12)).statusCode, 201);
  const ok = await train({ maxIterations: 20 });
  t.equal(ok.statusCode, 202, ok.body);
  t.equal((await waitForJob(app, ok.json().id)).status, 'succeeded', 'two labels train');
}

t.test('SQLite', async (t) => oneLabelThenTwo(t, await testApp(t)));

const reason = await unavailable();
if (reason && inCi) t.fail(`needs PostgreSQL, and CI must not skip it: ${reason}`);
else if (reason) t.test('PostgreSQL', { skip: reason }, async () => {});
else
  t.test('PostgreSQL', async (t) =>
    oneLabelThenTwo(t, await testApp(t, { config: { databaseUrl: await freshDatabase(t) } })),
  );

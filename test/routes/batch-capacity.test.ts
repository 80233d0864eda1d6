// POST /train refuses a batch the dataset cannot fill, and records the batch a defaulted job trains
// (tracker issue 18, docs/decisions/0048): never a silently smaller batch under the requested size.
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { createDataset, expectError, tempDir, testApp, waitForJob } from '../helpers.js';

/** `labels` labels of `per` 3-d samples each. */
async function samples(app: App, labels: number, per: number): Promise<string> {
  const id = await createDataset(app, 3);
  const rows = [];
  for (let c = 0; c < labels; c++)
    for (let i = 0; i < per; i++) rows.push({ vector: [c, (i % 3) * 0.1, c % 2], label: `l${c}` });
  const r = await app.inject({ method: 'POST', url: `/datasets/${id}/samples`, payload: { samples: rows } });
  if (r.statusCode !== 201) throw new Error(r.body);
  return id;
}

const train = (app: App, payload: object) => app.inject({ method: 'POST', url: '/train', payload });

t.test('a batchSize over labels × samplesPerLabel is refused with 422, naming the field and the counts', async (t) => {
  const app = await testApp(t);
  const ds = await samples(app, 10, 10);
  const r = await train(app, { datasetId: ds, outputDimension: 2, batchSize: 160 });
  expectError(t, r, 422, 'BATCH_EXCEEDS_DATA');
  t.match(r.json().message, /batchSize 160/);
  t.match(r.json().message, /10 labels and 100 samples/);
  t.match(r.json().message, /labels × samplesPerLabel = 80/);
  const jobs = (await app.inject({ url: '/jobs' })).json();
  t.equal(jobs.items.length, 0, 'nothing queued');
  // the same bound with another K: 10 labels × 4
  expectError(
    t,
    await train(app, { datasetId: ds, outputDimension: 2, batchSize: 48, samplesPerLabel: 4 }),
    422,
    'BATCH_EXCEEDS_DATA',
  );
  const ok = await train(app, { datasetId: ds, outputDimension: 2, batchSize: 80, maxIterations: 5 });
  t.equal(ok.statusCode, 202, ok.body);
  t.equal(ok.json().params.batchSize, 80, 'exactly labels × samplesPerLabel is accepted');
  t.equal((await waitForJob(app, ok.json().id)).status, 'succeeded');
});

t.test('a batchSize that is not a multiple of samplesPerLabel is refused with 400', async (t) => {
  const app = await testApp(t);
  const ds = await samples(app, 20, 10);
  const r = await train(app, { datasetId: ds, outputDimension: 2, batchSize: 100 });
  expectError(t, r, 400, 'VALIDATION_ERROR');
  t.match(r.json().message, /body\/batchSize \(100\) must be a multiple of samplesPerLabel \(8\)/);
  t.match(r.json().message, /96 or 104/);
});

t.test('options the trainer would refuse are refused by POST /train, before anything is queued', async (t) => {
  const app = await testApp(t);
  const ds = await samples(app, 10, 10);
  const cases: [object, RegExp][] = [
    // one label a batch: mining needs two (the worker used to fail the job after a 202)
    [{ batchSize: 8, samplesPerLabel: 8 }, /^body\/batchSize must be an integer ≥ 2·samplesPerLabel/],
    // the schema allows 0.9 for triplets; mined validation takes at most half
    [{ validationFraction: 0.6 }, /^body\/validationFraction must be in \[0, 0\.5\]/],
    [{ validationFraction: 0.6, validationSplit: 'samples' }, /^body\/validationFraction must be in \[0, 0\.5\]/],
  ];
  for (const [options, message] of cases) {
    const r = await train(app, { datasetId: ds, outputDimension: 2, ...options });
    expectError(t, r, 400, 'VALIDATION_ERROR');
    t.match(r.json().message, message, JSON.stringify(options));
  }
  t.equal((await app.inject({ url: '/jobs' })).json().items.length, 0, 'nothing queued');
  const edge = await train(app, { datasetId: ds, outputDimension: 2, validationFraction: 0.5, maxIterations: 5 });
  t.equal(edge.statusCode, 202, 'the trainer’s own bound is accepted');
  t.equal((await waitForJob(app, edge.json().id)).status, 'succeeded');
});

t.test('a defaulted batchSize is fitted to the data, and the job records what it trains', async (t) => {
  const app = await testApp(t);
  const small = await samples(app, 3, 10);
  const a = await train(app, { datasetId: small, outputDimension: 2, maxIterations: 5 });
  t.equal(a.statusCode, 202, a.body);
  t.equal(a.json().params.batchSize, 24, '3 labels × 8, not the default 80');
  const b = await train(app, {
    datasetId: await samples(app, 20, 10),
    outputDimension: 2,
    samplesPerLabel: 6,
    maxIterations: 5,
  });
  t.equal(b.json().params.batchSize, 78, 'the default 80 down to a multiple of K = 6');
  // K above most labels' samples: trained with what exists, and said so in the job's metrics
  const few = await samples(app, 3, 4);
  const c = await train(app, { datasetId: few, outputDimension: 2, maxIterations: 5 });
  const job = await waitForJob(app, c.json().id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error ?? job.status));
  t.match(job.metrics.warnings.join('\n'), /samplesPerLabel 8 exceeds the training samples of 3 of 3 labels/);
  for (const id of [a.json().id, b.json().id]) await waitForJob(app, id);
});

t.test('the runner checks again on the data it reads: a batch it cannot fill fails the job', async (t) => {
  const dataDir = tempDir(t);
  const api = await testApp(t, { dataDir, config: { role: 'api' } });
  const ds = await samples(api, 10, 10);
  const r = await train(api, { datasetId: ds, outputDimension: 2, batchSize: 80, maxIterations: 5 });
  t.equal(r.statusCode, 202, r.body);
  // The API keeps a queued job's dataset from shrinking (erasing a label is refused while a job uses
  // it), so a job asking more than its data holds is written here behind the API's back: a job
  // queued by another version or tool reaches the runner the same way.
  const db = new Database(path.join(dataDir, 'triplet-embed.sqlite'));
  db.prepare("UPDATE jobs SET params = json_set(params, '$.batchSize', 160) WHERE id = ?").run(r.json().id);
  db.close();
  await testApp(t, { dataDir, config: { role: 'worker' } });
  const job = await waitForJob(api, r.json().id);
  t.equal(job.status, 'failed');
  t.equal(job.error.code, 'BATCH_EXCEEDS_DATA');
  t.match(job.error.message, /batchSize 160 .* 10 labels and 100 samples/);
});

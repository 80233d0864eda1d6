// Training jobs: POST /train, GET /jobs, cancel; through app.inject on a real SQLite file and real workers.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { DEFAULT_TRAIN_PARAMS } from '../../src/math/index.js';
import {
  close,
  createDataset,
  expectedEvaluation,
  expectError,
  makeTriplets,
  testApp,
  waitForJob,
} from '../helpers.js';

const train = (app: App, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/train', payload });
const getJob = async (app: App, id: string) => (await app.inject({ url: `/jobs/${id}` })).json();
const weights = async (app: App, modelId: string) => (await app.inject({ url: `/models/${modelId}/weights` })).json();

/** Polls a job to the end, recording every status seen on the way. */
async function walk(app: App, id: string): Promise<{ job: Record<string, any>; seen: string[] }> {
  const seen: string[] = [];
  const end = Date.now() + 60_000;
  for (;;) {
    const job = await getJob(app, id);
    if (seen[seen.length - 1] !== job.status) seen.push(job.status);
    if (!['queued', 'running'].includes(job.status) || Date.now() > end) return { job, seen };
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until no worker is left (bounded; not a timing assertion). */
async function workersGone(app: App): Promise<void> {
  const end = Date.now() + 30_000;
  while (app.services.runner.activeCount > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

t.test('a job runs from queued to succeeded with progress, metrics and a model', async (t) => {
  const app = await testApp(t);
  const d = 4;
  const k = 2;
  const id = await createDataset(app, d, makeTriplets(40, d, 3));
  const r = await train(app, { datasetId: id, outputDimension: k, maxIterations: 30 });
  t.equal(r.statusCode, 202);
  const job = r.json();
  t.match(job.id, /^job_/);
  t.equal(r.headers.location, `/jobs/${job.id}`);
  t.ok(['queued', 'running'].includes(job.status));
  t.equal(job.datasetId, id);
  t.same(
    job.params,
    {
      ...DEFAULT_TRAIN_PARAMS,
      source: 'triplets',
      outputDimension: k,
      maxIterations: 30,
      validationFraction: 0,
      mining: 'none',
    },
    'params are fully defaulted',
  );
  t.equal(job.modelId, null);
  t.equal(job.error, null);
  t.equal(job.finishedAt, null);

  const { job: done, seen } = await walk(app, job.id);
  t.equal(done.status, 'succeeded', JSON.stringify(done.error));
  t.ok(
    seen.slice(0, -1).every((s) => s === 'queued' || s === 'running'),
    `statuses on the way: ${seen.join(' → ')}`,
  );
  const p = done.progress;
  for (const key of ['iteration', 'maxIterations', 'loss', 'gradientNorm', 'activeFraction', 'elapsedMs']) {
    t.type(p[key], 'number', `progress.${key}`);
  }
  t.equal(p.maxIterations, 30);
  t.ok(p.iteration >= 0 && p.iteration <= 30);
  t.ok(p.activeFraction >= 0 && p.activeFraction <= 1);
  const m = done.metrics;
  t.type(m.trainLoss, 'number');
  t.ok(Number.isInteger(m.iterations) && m.iterations <= 30);
  t.ok(m.activeFraction >= 0 && m.activeFraction <= 1);
  t.type(m.stopReason, 'string');
  t.match(done.modelId, /^mdl_/);
  t.ok(done.startedAt && done.finishedAt, 'started and finished times');
  t.ok(Date.parse(done.finishedAt) >= Date.parse(done.startedAt));

  const model = (await app.inject({ url: `/models/${done.modelId}` })).json();
  t.match(model, { id: done.modelId, jobId: job.id, inputDimension: d, outputDimension: k, normalize: false });

  // the reported training loss is the loss of the stored W on the stored data
  const w = await weights(app, done.modelId);
  t.equal(w.rows, k);
  t.equal(w.cols, d);
  const stored = await app.services.store.readTriplets(id);
  close(t, m.trainLoss, expectedEvaluation(w.W, stored.data, stored.count, d, 0.2, false).loss, 1e-6, 'trainLoss');
  t.ok(m.trainLoss <= done.progress.loss + 1e-9, 'final progress matches the end');

  const list = (await app.inject({ url: '/jobs' })).json();
  t.same(
    list.items.map((j: any) => j.id),
    [job.id],
  );
});

t.test('inline triplets, validation split, cg, normalize', async (t) => {
  const app = await testApp(t, { config: { trainConcurrency: 2 } });
  const d = 3;
  const inline = makeTriplets(30, d, 5);
  const a = await train(app, {
    triplets: inline,
    outputDimension: 2,
    maxIterations: 20,
    validationFraction: 0.25,
    optimizer: 'cg',
  });
  t.equal(a.statusCode, 202);
  const b = await train(app, { triplets: inline, outputDimension: 2, maxIterations: 20, normalize: true });
  t.equal(b.statusCode, 202);

  const ja = await waitForJob(app, a.json().id);
  t.equal(ja.status, 'succeeded', JSON.stringify(ja.error));
  t.equal(ja.params.optimizer, 'cg');
  const ds = (await app.inject({ url: `/datasets/${ja.datasetId}` })).json();
  t.equal(ds.tripletCount, 30, 'inline triplets are stored as a dataset');
  t.equal(ds.dimension, d);
  t.type(ja.metrics.validationLoss, 'number');
  t.ok(ja.metrics.validationLoss >= 0);
  t.ok(ja.metrics.validationTripletAccuracy >= 0 && ja.metrics.validationTripletAccuracy <= 1);

  const jb = await waitForJob(app, b.json().id);
  t.equal(jb.status, 'succeeded', JSON.stringify(jb.error));
  t.equal(jb.metrics.validationLoss, undefined, 'no validation figures without a split');
  const model = (await app.inject({ url: `/models/${jb.modelId}` })).json();
  t.equal(model.normalize, true);
  const w = await weights(app, jb.modelId);
  const inputs = [
    [1, 2, 3],
    [-0.5, 0.25, 4],
    [3, 0, -1],
  ];
  const e = await app.inject({ method: 'POST', url: '/embed', payload: { model: jb.modelId, inputs } });
  t.equal(e.statusCode, 200);
  e.json().embeddings.forEach((row: number[], i: number) => {
    close(t, Math.hypot(...row), 1, 1e-6, `embedding ${i} has unit norm`);
    const raw = w.W.map((wr: number[]) => wr.reduce((s, v, j) => s + v * inputs[i][j], 0));
    const n = Math.hypot(...raw);
    row.forEach((v, r) => close(t, v, raw[r] / n, 1e-5, `embedding ${i}[${r}]`));
  });
});

t.test('same data, params and seed give the same weights; another seed does not', async (t) => {
  const app = await testApp(t, { config: { trainConcurrency: 3 } });
  const id = await createDataset(app, 5, makeTriplets(30, 5, 7));
  const params = { datasetId: id, outputDimension: 3, maxIterations: 15, init: 'uniform' };
  const ids = [];
  for (const seed of [11, 11, 12]) ids.push((await train(app, { ...params, seed })).json().id);
  const jobs = [];
  for (const id of ids) jobs.push(await waitForJob(app, id));
  for (const j of jobs) t.equal(j.status, 'succeeded', JSON.stringify(j.error));
  t.not(jobs[0].modelId, jobs[1].modelId, 'two models');
  const [w1, w2, w3] = [
    await weights(app, jobs[0].modelId),
    await weights(app, jobs[1].modelId),
    await weights(app, jobs[2].modelId),
  ];
  t.same(w1.W, w2.W, 'identical weights for the same seed');
  t.notSame(w1.W, w3.W, 'different weights for another seed');
});

t.test('cancel a running job', async (t) => {
  const app = await testApp(t);
  // hard data (positives as random as negatives) and many iterations: the job runs for a long while
  const d = 32;
  const n = 4000;
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296) * 2 - 1;
  const buf = Buffer.alloc(n * 3 * d * 4);
  for (let i = 0; i < n * 3 * d; i++) buf.writeFloatLE(rnd(), i * 4);
  const id = await createDataset(app, d);
  const up = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    headers: { 'content-type': 'application/octet-stream' },
    payload: buf,
  });
  t.equal(up.statusCode, 201);
  const r = await train(app, {
    datasetId: id,
    outputDimension: 32,
    maxIterations: 100_000,
    gradientTolerance: 0,
    init: 'uniform',
  });
  t.equal(r.statusCode, 202);
  const jobId = r.json().id;
  let job = await getJob(app, jobId);
  while (job.status === 'queued') job = await getJob(app, jobId);
  t.equal(job.status, 'running');

  const c = await app.inject({ method: 'POST', url: `/jobs/${jobId}/cancel` });
  t.equal(c.statusCode, 200);
  t.equal(c.json().status, 'cancelled');
  t.equal(c.json().modelId, null);
  t.ok(c.json().finishedAt);
  expectError(
    t,
    await app.inject({ method: 'DELETE', url: `/datasets/${id}` }).then(async (res) => {
      // the dataset is free again once the job is cancelled
      t.equal(res.statusCode, 204);
      return app.inject({ url: `/datasets/${id}` });
    }),
    404,
    'DATASET_NOT_FOUND',
  );

  await workersGone(app);
  const after = await getJob(app, jobId);
  t.equal(after.status, 'cancelled', 'stays cancelled after the worker stops');
  t.equal(after.modelId, null);
  t.same((await app.inject({ url: '/models' })).json().items, [], 'no model was written');
  expectError(t, await app.inject({ method: 'POST', url: `/jobs/${jobId}/cancel` }), 409, 'JOB_FINISHED');
});

t.test('cancel a queued job, then a finished one', async (t) => {
  const app = await testApp(t, { build: { runJobs: false } });
  const id = await createDataset(app, 3, makeTriplets(10, 3));
  const r = await train(app, { datasetId: id, outputDimension: 2 });
  t.equal(r.json().status, 'queued');
  const c = await app.inject({ method: 'POST', url: `/jobs/${r.json().id}/cancel`, payload: {} });
  t.equal(c.statusCode, 200);
  t.equal(c.json().status, 'cancelled');
  t.equal((await getJob(app, r.json().id)).status, 'cancelled');
  expectError(t, await app.inject({ method: 'POST', url: `/jobs/${r.json().id}/cancel` }), 409, 'JOB_FINISHED');
  expectError(t, await app.inject({ method: 'POST', url: '/jobs/job_nope/cancel' }), 404, 'JOB_NOT_FOUND');
  expectError(t, await app.inject({ url: '/jobs/job_nope' }), 404, 'JOB_NOT_FOUND');
  expectError(
    t,
    await app.inject({ method: 'POST', url: `/jobs/${r.json().id}/cancel`, payload: { now: true } }),
    400,
    'VALIDATION_ERROR',
  );
});

t.test('cancelling a succeeded job answers 409; jobs filter by status', async (t) => {
  const app = await testApp(t, { config: { trainConcurrency: 2 }, build: { runJobs: false } });
  const id = await createDataset(app, 3, makeTriplets(20, 3));
  const cancelled = (await train(app, { datasetId: id, outputDimension: 2 })).json().id;
  await app.inject({ method: 'POST', url: `/jobs/${cancelled}/cancel` });
  const ok = (await train(app, { datasetId: id, outputDimension: 2, maxIterations: 10 })).json().id;
  const queued = (await train(app, { datasetId: id, outputDimension: 2, maxIterations: 10 })).json().id;
  // start the runner now: both queued jobs run
  app.services.runner.start();
  for (const j of [ok, queued]) t.equal((await waitForJob(app, j)).status, 'succeeded');
  expectError(t, await app.inject({ method: 'POST', url: `/jobs/${ok}/cancel` }), 409, 'JOB_FINISHED');

  const succ = (await app.inject({ url: '/jobs?status=succeeded' })).json();
  t.same(
    succ.items.map((j: any) => j.id),
    [queued, ok],
    'succeeded jobs, newest first',
  );
  t.ok(succ.items.every((j: any) => j.status === 'succeeded'));
  t.same(
    (await app.inject({ url: '/jobs?status=cancelled' })).json().items.map((j: any) => j.id),
    [cancelled],
  );
  t.same((await app.inject({ url: '/jobs?status=running' })).json().items, []);
  const page1 = (await app.inject({ url: '/jobs?limit=2' })).json();
  t.equal(page1.items.length, 2);
  const page2 = (await app.inject({ url: `/jobs?limit=2&cursor=${page1.nextCursor}` })).json();
  t.same(
    [...page1.items, ...page2.items].map((j: any) => j.id),
    [queued, ok, cancelled],
  );
  t.equal(page2.nextCursor, null);
  expectError(t, await app.inject({ url: '/jobs?status=done' }), 400, 'VALIDATION_ERROR');
  expectError(t, await app.inject({ url: '/jobs?cursor=zzz' }), 400, 'INVALID_CURSOR');
});

t.test('bad training requests', async (t) => {
  const app = await testApp(t, { limits: { maxOutputDimension: 8, maxIterations: 1000 }, build: { runJobs: false } });
  const id = await createDataset(app, 3, makeTriplets(10, 3));
  const empty = await createDataset(app, 3);
  const ok = { datasetId: id, outputDimension: 2 };
  const bad: [string, Record<string, unknown>][] = [
    ['an unknown field', { ...ok, learningRate: 0.1 }],
    ['no outputDimension', { datasetId: id }],
    ['outputDimension 0', { ...ok, outputDimension: 0 }],
    ['outputDimension 1.5', { ...ok, outputDimension: 1.5 }],
    ['outputDimension as text', { ...ok, outputDimension: '2' }],
    ['both datasetId and triplets', { ...ok, triplets: makeTriplets(2, 3) }],
    ['neither datasetId nor triplets', { outputDimension: 2 }],
    ['a bad optimizer', { ...ok, optimizer: 'sgd' }],
    ['a bad init', { ...ok, init: 'random' }],
    ['a negative margin', { ...ok, margin: -1 }],
    ['maxIterations 0', { ...ok, maxIterations: 0 }],
    ['validationFraction 0.95', { ...ok, validationFraction: 0.95 }],
    ['a negative seed', { ...ok, seed: -1 }],
    ['empty inline triplets', { triplets: [], outputDimension: 2 }],
  ];
  for (const [what, body] of bad) {
    const r = await train(app, body);
    t.equal(r.statusCode, 400, what);
    expectError(t, r, 400, 'VALIDATION_ERROR');
  }
  const ragged = makeTriplets(3, 3);
  ragged[2].negative = [1, 2];
  const rr = await train(app, { triplets: ragged, outputDimension: 2 });
  expectError(t, rr, 400, 'DIMENSION_MISMATCH');
  t.match(rr.json().message, 'triplets[2].negative');

  expectError(t, await train(app, { ...ok, datasetId: 'ds_nope' }), 404, 'DATASET_NOT_FOUND');
  expectError(t, await train(app, { ...ok, datasetId: empty }), 422, 'NO_TRIPLETS');
  expectError(t, await train(app, { ...ok, outputDimension: 9 }), 422, 'LIMIT_EXCEEDED');
  expectError(t, await train(app, { ...ok, maxIterations: 1001 }), 422, 'LIMIT_EXCEEDED');
  expectError(t, await train(app, { ...ok, validationFraction: 0.01 }), 422, 'NO_TRIPLETS');

  t.same((await app.inject({ url: '/jobs' })).json().items, [], 'no job was created');
  t.equal((await app.inject({ url: '/datasets' })).json().items.length, 2, 'no inline dataset was left behind');
  t.equal((await train(app, ok)).statusCode, 202, 'a good request still works');
});

t.test('a full queue answers 429', async (t) => {
  const app = await testApp(t, { limits: { maxQueuedJobs: 1 }, build: { runJobs: false } });
  const id = await createDataset(app, 3, makeTriplets(10, 3));
  const first = await train(app, { datasetId: id, outputDimension: 2 });
  t.equal(first.statusCode, 202);
  expectError(t, await train(app, { datasetId: id, outputDimension: 2 }), 429, 'QUEUE_FULL');
  expectError(t, await train(app, { triplets: makeTriplets(3, 3), outputDimension: 2 }), 429, 'QUEUE_FULL');
  t.equal((await app.inject({ url: '/datasets' })).json().items.length, 1, 'no inline dataset was stored');
  await app.inject({ method: 'POST', url: `/jobs/${first.json().id}/cancel` });
  t.equal(
    (await train(app, { datasetId: id, outputDimension: 2 })).statusCode,
    202,
    'room again once the queue drains',
  );
});

t.test('a worker that runs out of memory fails its job with OUT_OF_MEMORY and the server stays up', async (t) => {
  // 16 MiB of heap is not even enough to load the worker's code: the thread dies of heap exhaustion.
  const app = await testApp(t, { config: { jobHeapLimitMb: 16 } });
  const id = await createDataset(app, 4, makeTriplets(20, 4));
  const r = await app.inject({ method: 'POST', url: '/train', payload: { datasetId: id, outputDimension: 2 } });
  const job = await waitForJob(app, r.json().id);
  t.equal(job.status, 'failed');
  t.equal(job.error.code, 'OUT_OF_MEMORY', job.error.message);
  t.equal(job.modelId, null);
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'the server is still up');
  t.equal((await app.inject({ url: `/datasets/${id}` })).statusCode, 200);
});

// Budgets and finiteness through the routes: job memory admission and scheduling, reply sizes,
// the model cache, the streamed weights, and jobs and records whose numbers are not finite.
import Database from 'better-sqlite3';
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { createDataset, expectError, makeTriplets, tempDir, testApp, waitForJob } from '../helpers.js';

const train = (app: App, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/train', payload });
const importModel = async (app: App, W: number[][], normalize = false) =>
  (await app.inject({ method: 'POST', url: '/models', payload: { W, normalize } })).json().id as string;
const eye = (k: number, d: number, v = 1) =>
  Array.from({ length: k }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? v : 0)));

t.test('a job over JOB_MEMORY_BUDGET_MB is refused up front, naming the formula and the setting', async (t) => {
  const app = await testApp(t, { limits: { jobMemoryBudgetMb: 64 }, build: { runJobs: false } });
  const id = await createDataset(app, 256, makeTriplets(4, 256));
  const big = { outputDimension: 256, historySize: 100, init: 'identity' };
  const r = await train(app, { datasetId: id, ...big });
  expectError(t, r, 422, 'BUDGET_EXCEEDED');
  t.match(r.json().message, /optimiser .*historySize.* over the job memory budget of 64 MiB \(JOB_MEMORY_BUDGET_MB\)/);
  const inline = await train(app, { triplets: makeTriplets(4, 256), ...big });
  expectError(t, inline, 422, 'BUDGET_EXCEEDED');
  t.equal((await app.inject({ url: '/datasets' })).json().items.length, 1, 'no inline dataset was stored');
  t.equal((await train(app, { datasetId: id, outputDimension: 2, init: 'identity' })).statusCode, 202);
});

t.test('a refused inline /train stores nothing, before or after its set is written', async (t) => {
  const app = await testApp(t, { limits: { maxQueuedJobs: 1 }, build: { runJobs: false } });
  const datasets = async () => (await app.inject({ url: '/datasets' })).json().items.length as number;
  // refused by a check on the data: one triplet holds out none for validation
  const none = await train(app, { triplets: makeTriplets(1, 2), outputDimension: 1, validationFraction: 0.3 });
  expectError(t, none, 422, 'NO_TRIPLETS');
  t.equal(await datasets(), 0, 'no inline dataset was stored');
  // refused after the set is written: concurrent requests all find room in a queue of one, and
  // the store's own queue limit refuses all but one when the jobs are created
  const answers = await Promise.all(
    Array.from({ length: 6 }, () => train(app, { triplets: makeTriplets(4, 2), outputDimension: 1 })),
  );
  const queued = answers.filter((r) => r.statusCode === 202).length;
  t.equal(queued, 1, 'one job queued');
  for (const r of answers.filter((x) => x.statusCode !== 202)) expectError(t, r, 429, 'QUEUE_FULL');
  t.equal(await datasets(), queued, 'only the queued job kept its inline dataset');
});

t.test('/distances is refused past DISTANCES_MAX_WORK, before any work, naming the formula', async (t) => {
  // k 64, d 2: 30 rows of a against 30 of b is 60·64·2 + 900·64 = 65,280 multiply-adds
  const app = await testApp(t, { limits: { distancesMaxWork: 65_279 } });
  const W = Array.from({ length: 64 }, (_, i) => [Math.cos(i), Math.sin(i)]);
  const model = await importModel(app, W);
  const rows = (n: number) => Array.from({ length: n }, (_, i) => [i, 1]);
  const over = await app.inject({ method: 'POST', url: '/distances', payload: { model, a: rows(30), b: rows(30) } });
  expectError(t, over, 422, 'BUDGET_EXCEEDED');
  t.match(
    over.json().message,
    /60 rows × k 64 × d 2 to embed plus 30×30 pairs × k 64 is 65280 multiply-adds, over the limit of 65279 \(DISTANCES_MAX_WORK\)/,
  );
  const under = await app.inject({ method: 'POST', url: '/distances', payload: { model, a: rows(30), b: rows(29) } });
  t.equal(under.statusCode, 200, 'one row fewer fits');
  // a against itself embeds a once: 30·64·2 + 900·64 = 61,440 fits, 31 rows (65,472) do not
  const self = await app.inject({ method: 'POST', url: '/distances', payload: { model, a: rows(30) } });
  t.equal(self.statusCode, 200);
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/distances', payload: { model, a: rows(31) } }),
    422,
    'BUDGET_EXCEEDED',
  );
});

t.test('jobs that fit alone but not together wait in the queue', async (t) => {
  // each job's estimate is a little over the 32 MiB worker allowance: one fits in 48 MiB, two do not
  const app = await testApp(t, { limits: { jobMemoryBudgetMb: 48 }, config: { trainConcurrency: 2 } });
  const id = await createDataset(app, 16, makeTriplets(400, 16));
  const slow = { datasetId: id, outputDimension: 8, maxIterations: 100000, gradientTolerance: 0, init: 'identity' };
  const a = (await train(app, slow)).json().id as string;
  const b = (await train(app, { ...slow, maxIterations: 3 })).json().id as string;
  for (;;) {
    const job = (await app.inject({ url: `/jobs/${a}` })).json();
    if (job.status !== 'queued') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal((await app.inject({ url: `/jobs/${b}` })).json().status, 'queued', 'b waits while a runs');
  await app.inject({ method: 'POST', url: `/jobs/${a}/cancel` });
  t.equal((await waitForJob(app, b)).status, 'succeeded', 'b runs once a is done');
});

t.test('a queued job that no longer fits the budget fails with BUDGET_EXCEEDED at start', async (t) => {
  const dataDir = tempDir(t);
  const first = await testApp(t, { dataDir, build: { runJobs: false } });
  const id = await createDataset(first, 256, makeTriplets(4, 256));
  const r = await train(first, { datasetId: id, outputDimension: 256, historySize: 100, init: 'identity' });
  t.equal(r.statusCode, 202);
  await first.close();
  const second = await testApp(t, { dataDir, limits: { jobMemoryBudgetMb: 64 } });
  const job = await waitForJob(second, r.json().id);
  t.equal(job.status, 'failed');
  t.equal(job.error.code, 'BUDGET_EXCEEDED');
  t.match(job.error.message, /JOB_MEMORY_BUDGET_MB/);
  t.equal((await second.inject({ url: '/jobs' })).statusCode, 200);
});

t.test('triplets of magnitude 1e19 fail the job with NON_FINITE_TRAINING; reads still answer', async (t) => {
  const app = await testApp(t);
  // positives far, negatives near: the positive distances overflow, so the hinge is +∞
  const triplets = makeTriplets(30, 4).map((x) => ({
    anchor: x.anchor.map((v) => v * 1e19),
    positive: x.negative.map((v) => v * 1e19),
    negative: x.positive.map((v) => v * 1e19),
  }));
  const id = await createDataset(app, 4, triplets);
  const r = await train(app, { datasetId: id, outputDimension: 2, init: 'identity' });
  const job = await waitForJob(app, r.json().id);
  t.equal(job.status, 'failed', JSON.stringify(job));
  t.equal(job.error?.code, 'NON_FINITE_TRAINING');
  t.equal(job.modelId, null);
  const list = await app.inject({ url: '/jobs' });
  t.equal(list.statusCode, 200);
  t.notMatch(list.body, /:-?(Infinity|NaN)\b|"(loss|gradientNorm|trainLoss)":null/, 'no non-finite number');
});

t.test('subnormal inputs with PCA init (|W| beyond float32) fail with NON_FINITE_TRAINING', async (t) => {
  const app = await testApp(t);
  const triplets = makeTriplets(30, 4).map((x) => ({
    anchor: x.anchor.map((v) => v * 1e-41),
    positive: x.positive.map((v) => v * 1e-41),
    negative: x.negative.map((v) => v * 1e-41),
  }));
  const id = await createDataset(app, 4, triplets);
  const job = await waitForJob(app, (await train(app, { datasetId: id, outputDimension: 2, init: 'pca' })).json().id);
  t.equal(job.status, 'failed', JSON.stringify(job));
  t.equal(job.error.code, 'NON_FINITE_TRAINING');
  t.match(job.error.message, /float32|finite/);
});

t.test('a job row an older version stored with "loss": null still serialises', async (t) => {
  const dataDir = tempDir(t);
  const app = await testApp(t, { dataDir, build: { runJobs: false } });
  const id = await createDataset(app, 3, makeTriplets(5, 3));
  const jobId = (await train(app, { datasetId: id, outputDimension: 2 })).json().id as string;
  const db = new Database(app.services.store.location);
  db.prepare("UPDATE jobs SET status = 'failed', progress = ?, metrics = ? WHERE id = ?").run(
    '{"iteration":3,"maxIterations":10,"loss":null,"gradientNorm":null,"activeFraction":0.5,"elapsedMs":7}',
    '{"trainLoss":null}',
    jobId,
  );
  db.close();
  for (const url of [`/jobs/${jobId}`, '/jobs', '/jobs?status=failed']) {
    const r = await app.inject({ url });
    t.equal(r.statusCode, 200, url);
    t.notMatch(r.body, /"loss"|"gradientNorm"/, `${url}: the non-finite numbers are left out`);
  }
  t.match((await app.inject({ url: `/jobs/${jobId}` })).json().progress, { iteration: 3, activeFraction: 0.5 });
});

t.test('replies over REPLY_BYTES_LIMIT are refused before computing', async (t) => {
  const app = await testApp(t, { limits: { replyBytesLimit: 65536 } });
  const model = await importModel(app, eye(64, 8));
  const rows = (n: number) => Array.from({ length: n }, (_, i) => Array.from({ length: 8 }, (_, j) => i + j));
  // 64 rows × 64 values × 25 bytes of JSON text is over 64 KiB; as binary, 16 KiB
  const r = await app.inject({ method: 'POST', url: '/embed', payload: { model, inputs: rows(64) } });
  expectError(t, r, 413, 'REPLY_TOO_LARGE');
  t.match(r.json().message, /REPLY_BYTES_LIMIT/);
  const bin = await app.inject({
    method: 'POST',
    url: '/embed',
    payload: { model, inputs: rows(64) },
    headers: { accept: 'application/octet-stream' },
  });
  t.equal(bin.statusCode, 200);
  t.equal(bin.rawPayload.byteLength, 64 * 64 * 4);
  const body = Buffer.from(new Float32Array(64 * 8).buffer);
  const staged = await app.inject({
    method: 'POST',
    url: `/embed?model=${model}`,
    payload: body,
    headers: { 'content-type': 'application/octet-stream' },
  });
  expectError(t, staged, 413, 'REPLY_TOO_LARGE');
  const d = await app.inject({ method: 'POST', url: '/distances', payload: { model, a: rows(60) } });
  expectError(t, d, 413, 'REPLY_TOO_LARGE');
  t.equal((await app.inject({ method: 'POST', url: '/distances', payload: { model, a: rows(10) } })).statusCode, 200);
});

t.test('embeddings and distances that overflow answer 422, never null or Infinity', async (t) => {
  const app = await testApp(t);
  const model = await importModel(app, eye(4, 4, 3e38));
  const r = await app.inject({ method: 'POST', url: '/embed', payload: { model, inputs: [[10, 0, 0, 0]] } });
  expectError(t, r, 422, 'NON_FINITE_VALUE');
  const unit = await importModel(app, eye(4, 4));
  const a = Array.from({ length: 80 }, (_, i) => [1e20 * (i + 1), 2e20, -3e20, 1e20]);
  const d = await app.inject({ method: 'POST', url: '/distances', payload: { model: unit, a, metric: 'cosine' } });
  if (d.statusCode === 200) t.notMatch(d.body, /null|Infinity|NaN/, 'finite when the kernels manage');
  else expectError(t, d, 422, 'NON_FINITE_VALUE');
});

t.test('the model cache holds MODEL_CACHE_BYTES; a larger model is refused naming it', async (t) => {
  // each 16×64 model: 16·64·8 + 16·64·4 = 12 KiB in the cache
  const app = await testApp(t, { limits: { modelCacheBytes: 40 * 1024 } });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await importModel(app, eye(16, 64, i + 1)));
  for (const model of ids) {
    const r = await app.inject({ method: 'POST', url: '/embed', payload: { model, inputs: [new Array(64).fill(1)] } });
    t.equal(r.statusCode, 200);
    t.ok(app.services.models.cacheBytes <= 40 * 1024, `${app.services.models.cacheBytes} cached`);
  }
  const big = await importModel(app, eye(64, 64));
  const r = await app.inject({
    method: 'POST',
    url: '/embed',
    payload: { model: big, inputs: [new Array(64).fill(1)] },
  });
  expectError(t, r, 422, 'BUDGET_EXCEEDED');
  t.match(r.json().message, /MODEL_CACHE_BYTES/);
  expectError(t, await app.inject({ url: `/models/${big}/weights` }), 422, 'BUDGET_EXCEEDED');
  t.equal((await app.inject({ url: `/models/${big}` })).statusCode, 200, 'its record still reads');
});

t.test('GET /models/:id/weights streams the same JSON, and it imports back', async (t) => {
  const app = await testApp(t);
  const W = Array.from({ length: 19 }, (_, i) => Array.from({ length: 7 }, (_, j) => (i - j) / 3 + 1e-30 * i));
  const id = await importModel(app, W, true);
  const r = await app.inject({ url: `/models/${id}/weights` });
  t.equal(r.statusCode, 200);
  t.match(r.headers['content-type'], /application\/json/);
  const body = r.json();
  t.same(body, { rows: 19, cols: 7, normalize: true, W });
  const again = await app.inject({ method: 'POST', url: '/models', payload: { W: body.W } });
  t.equal(again.statusCode, 201);
});

// Budgets of the heavy routes: indexTriplets (INDEX_TRIPLETS_MEMORY_MB), evaluation
// (EVALUATION_MEMORY_MB, EVALUATION_MAX_WORK, EVALUATION_CONCURRENCY); through app.inject.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { indexTripletsBytes } from '../../src/services/datasets.js';
import { evaluationCost } from '../../src/services/evaluation.js';
import { verificationCost, verificationOptions } from '../../src/services/labelled-metrics.js';
import { createDataset, expectError, makeTriplets, testApp } from '../helpers.js';

const D = 4;

async function withSamples(app: App, n: number): Promise<string> {
  const id = await createDataset(app, D);
  const samples = Array.from({ length: n }, (_, i) => ({
    vector: Array.from({ length: D }, (_, j) => Math.sin(i * 5 + j)),
    label: i % 3,
  }));
  const r = await app.inject({ method: 'POST', url: `/datasets/${id}/samples`, payload: { samples } });
  t.equal(r.statusCode, 201);
  return id;
}

const indexTriplets = (app: App, id: string, m: number) =>
  app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    payload: { indexTriplets: Array.from({ length: m }, (_, i) => [i % 10, (i + 1) % 10, (i + 2) % 10]) },
  });

t.test('indexTriplets within INDEX_TRIPLETS_MEMORY_MB are gathered; over it, refused before any read', async (t) => {
  const n = 100;
  const limit = indexTripletsBytes(n, 5, D);
  const app = await testApp(t, { limits: { indexTripletsBytes: limit } });
  const id = await withSamples(app, n);
  const ok = await indexTriplets(app, id, 5);
  t.equal(ok.statusCode, 201);
  t.same(ok.json(), { added: 5, tripletCount: 5 });
  const over = await indexTriplets(app, id, 6);
  expectError(t, over, 422, 'LIMIT_EXCEEDED');
  t.match(over.json().message, /INDEX_TRIPLETS_MEMORY_MB/);
  t.equal((await app.inject({ url: `/datasets/${id}` })).json().tripletCount, 5, 'nothing stored by the refusal');
  // the rows are the indexed samples, gathered in the worker
  const ev = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    payload: { indexTriplets: [[0, 0, 99]] },
  });
  t.equal(ev.statusCode, 201);
});

t.test('the indexTriplets cost formula', async (t) => {
  t.equal(indexTripletsBytes(1000, 100, 8), 4 * 8 * (1000 + 300));
});

t.test('evaluation over EVALUATION_MEMORY_MB or EVALUATION_MAX_WORK is refused, naming the setting', async (t) => {
  const n = 50;
  // labels i % 3: 17, 17 and 16 samples, 392 genuine pairs of 1,225
  const base = evaluationCost(3, n, D, 2);
  const pass = verificationCost({ n, genuine: 392, impostors: 833, labels: 3 }, 2, verificationOptions());
  const cost = { bytes: base.bytes + pass.bytes, work: base.work + pass.work };
  const app = await testApp(t, { limits: { evaluationBytes: cost.bytes, evaluationMaxWork: cost.work } });
  const id = await withSamples(app, n);
  const trip = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    payload: { triplets: makeTriplets(3, D) },
  });
  t.equal(trip.statusCode, 201);
  const W = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
  ];
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W } })).json();
  const evaluate = () =>
    app.inject({ method: 'POST', url: `/models/${model.id}/evaluate`, payload: { datasetId: id } });
  const ok = await evaluate();
  t.equal(ok.statusCode, 200, 'exactly at the budgets');
  t.match(ok.json(), { count: 3, sampleCount: n });

  // one more sample puts it over both budgets; the memory one is named first
  await app.inject({
    method: 'POST',
    url: `/datasets/${id}/samples`,
    payload: { samples: [{ vector: [1, 2, 3, 4], label: 1 }] },
  });
  const over = await evaluate();
  expectError(t, over, 422, 'LIMIT_EXCEEDED');
  t.match(over.json().message, /EVALUATION_MEMORY_MB/);

  const app2 = await testApp(t, { limits: { evaluationMaxWork: cost.work - 1 } });
  const id2 = await withSamples(app2, n);
  await app2.inject({ method: 'POST', url: `/datasets/${id2}/triplets`, payload: { triplets: makeTriplets(3, D) } });
  const m2 = (await app2.inject({ method: 'POST', url: '/models', payload: { W } })).json();
  const work = await app2.inject({ method: 'POST', url: `/models/${m2.id}/evaluate`, payload: { datasetId: id2 } });
  expectError(t, work, 422, 'LIMIT_EXCEEDED');
  t.match(work.json().message, /EVALUATION_MAX_WORK/);
});

t.test('evaluations beyond EVALUATION_CONCURRENCY get 503 with Retry-After', async (t) => {
  const app = await testApp(t, { limits: { evaluationConcurrency: 1 } });
  const id = await withSamples(app, 200);
  const W = [[1, 0, 0, 0]];
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W } })).json();
  const evaluate = () =>
    app.inject({ method: 'POST', url: `/models/${model.id}/evaluate`, payload: { datasetId: id } });
  // the first holds the one slot until its worker thread has ended
  const [a, b] = await Promise.all([evaluate(), evaluate()]);
  t.equal(a.statusCode, 200);
  expectError(t, b, 503, 'OVERLOADED');
  t.match(b.json().message, /EVALUATION_CONCURRENCY/);
  t.equal(b.headers['retry-after'], '5');
  t.equal(app.services.evaluation.active, 0, 'the slot is free again');
  t.equal((await evaluate()).statusCode, 200);
});

// A model with finite weights that maps finite inputs past float32's range: every figure and
// distance route answers 422 NON_FINITE_VALUE, not a 500, a null or a loss of 0.
import t from 'tap';
import { expectError, testApp, waitForJob } from '../helpers.js';

t.test('overflowing embeddings are refused by evaluation and distances', async (t) => {
  const app = await testApp(t);
  const W = [
    [3e38, 3e38],
    [1, 1],
  ];
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W } })).json().id as string;
  const dataset = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } })).json()
    .id as string;
  const samples = [
    { vector: [1, 1], label: 1 },
    { vector: [1, 1.1], label: 1 },
    { vector: [-1, -1], label: 2 },
    { vector: [-1, -1.1], label: 2 },
  ];
  t.equal(
    (await app.inject({ method: 'POST', url: `/datasets/${dataset}/samples`, payload: { samples } })).statusCode,
    201,
  );
  let r = await app.inject({ method: 'POST', url: `/models/${model}/evaluate`, payload: { datasetId: dataset } });
  expectError(t, r, 422, 'NON_FINITE_VALUE');
  t.match(r.json().message, /maps the samples’ row 0 to values past/);

  const triplets = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } })).json()
    .id as string;
  const up = await app.inject({
    method: 'POST',
    url: `/datasets/${triplets}/triplets`,
    payload: { triplets: [{ anchor: [1, 1], positive: [1, 1.1], negative: [-1, -1] }] },
  });
  t.equal(up.statusCode, 201);
  r = await app.inject({ method: 'POST', url: `/models/${model}/evaluate`, payload: { datasetId: triplets } });
  expectError(t, r, 422, 'NON_FINITE_VALUE');
  t.match(r.json().message, /an anchor row 0/);

  // a distance finite in float64 but past float32: 422, not null
  const eye = (await app.inject({ method: 'POST', url: '/models', payload: { W: [[1, 0, 0, 0], [0, 1, 0, 0]] } })).json().id; // prettier-ignore
  for (const payload of [
    { model: eye, a: [[3e38, 0, 0, 0]], b: [[-3e38, 0, 0, 0]] },
    { model: eye, a: [[2e19, 0, 0, 0]], b: [[-2e19, 0, 0, 0]], metric: 'squared_euclidean' },
  ]) {
    r = await app.inject({ method: 'POST', url: '/distances', payload });
    expectError(t, r, 422, 'NON_FINITE_VALUE');
    t.match(r.json().message, /is not a finite float32/);
  }
  // the same data under an ordinary model still evaluate
  const plain = (await app.inject({ method: 'POST', url: '/models', payload: { W: [[1, 0], [0, 1]] } })).json().id; // prettier-ignore
  for (const datasetId of [dataset, triplets]) {
    const ok = await app.inject({ method: 'POST', url: `/models/${plain}/evaluate`, payload: { datasetId } });
    t.equal(ok.statusCode, 200, ok.body);
  }
});

t.test('a gallery refuses embeddings whose distances would overflow float32', async (t) => {
  const app = await testApp(t);
  // k = 1: values past √(FLOAT32_MAX / 8) ≈ 6.5e18 can make a squared distance Infinity in float32
  const big = (await app.inject({ method: 'POST', url: '/models', payload: { W: [[1e18, 0]] } })).json().id;
  const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });
  const g = (await post('/galleries', { name: 'g', model: big })).json().id as string;
  const items = [
    { id: 'a', label: 'a', input: [1, 0] },
    { id: 'b', label: 'b', input: [20, 0] },
  ];
  let r = await post(`/galleries/${g}/items`, { items });
  expectError(t, r, 422, 'NON_FINITE_VALUE');
  t.match(r.json().message, /^item 1 has embedding value 2\.000e\+19, past ±6\.52e\+18/);
  t.equal((await app.inject({ url: `/galleries/${g}` })).json().itemCount, 0, 'nothing was enrolled');

  t.equal((await post(`/galleries/${g}/items`, { items: items.slice(0, 1) })).statusCode, 201);
  for (const payload of [{ inputs: [[-20, 0]] }, { embeddings: [[-2e19]] }]) {
    r = await post(`/galleries/${g}/search`, { ...payload, k: 1, metric: 'squared_euclidean' });
    expectError(t, r, 422, 'NON_FINITE_VALUE');
    t.match(r.json().message, /^query 0 has embedding value -2\.000e\+19/);
  }
  const near = await post(`/galleries/${g}/search`, { inputs: [[2, 0]], k: 1, metric: 'squared_euclidean' });
  t.equal(near.statusCode, 200, near.body);
  const distance = (Math.fround(2e18) - Math.fround(1e18)) ** 2; // of the float32 embeddings
  t.same(near.json().results, [[{ id: 'a', label: 'a', distance }]]);

  // a reindex onto a model that overflows an item fails, and the gallery stays on its model
  const small = (await app.inject({ method: 'POST', url: '/models', payload: { W: [[1, 0]] } })).json().id;
  const g2 = (await post('/galleries', { name: 'g2', model: small })).json().id as string;
  t.equal((await post(`/galleries/${g2}/items`, { items })).statusCode, 201);
  const job = (await post(`/galleries/${g2}/reindex`, { model: big })).json();
  const done = await waitForJob(app, job.id);
  t.match(done, { status: 'failed', error: { code: 'REINDEX_FAILED', message: /item 1 has embedding value/ } });
  t.match((await app.inject({ url: `/galleries/${g2}` })).json(), { model: small, itemCount: 2 });
});

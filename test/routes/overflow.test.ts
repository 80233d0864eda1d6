// A model with finite weights that maps finite inputs past float32's range: every figure and
// distance route answers 422 NON_FINITE_VALUE, not a 500, a null or a loss of 0.
import t from 'tap';
import { expectError, testApp } from '../helpers.js';

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

// Options with no scale of their own (margin, weightDecay, gradientTolerance) are bounded, so that no
// request reaches arithmetic that overflows: past the largest float32 they are refused with 400
// naming the field, and mined training refuses a weight decay that AdamW would wipe W out with.
import t from 'tap';
import { createDataset, expectError, makeTriplets, testApp } from '../helpers.js';
import { model, params } from '../store/contract.js';

const HUGE = 1e308;
const FLOAT32_MAX = 3.4028234663852886e38;

async function samplesDataset(app: Awaited<ReturnType<typeof testApp>>, d: number) {
  const id = await createDataset(app, d);
  const samples = Array.from({ length: 48 }, (_, i) => ({
    vector: Array.from({ length: d }, (_, j) => (j === i % d ? 3 : 0) + Math.sin(7 * i + j)),
    label: `c${i % 6}`,
  }));
  const r = await app.inject({ method: 'POST', url: `/datasets/${id}/samples`, payload: { samples } });
  if (r.statusCode !== 201) throw new Error(r.body);
  return id;
}

t.test('POST /train: margin, weightDecay and gradientTolerance past the largest float32 are 400', async (t) => {
  const app = await testApp(t, { build: { runJobs: false } });
  const triplets = await createDataset(app, 3, makeTriplets(10, 3));
  const post = (payload: object) => app.inject({ method: 'POST', url: '/train', payload });
  const ok = { datasetId: triplets, outputDimension: 2 };
  for (const field of ['margin', 'weightDecay', 'gradientTolerance']) {
    const r = await post({ ...ok, [field]: HUGE });
    expectError(t, r, 400, 'VALIDATION_ERROR');
    t.match(r.json().message, field);
    t.equal((await post({ ...ok, [field]: FLOAT32_MAX })).statusCode, 202, `${field} at the bound is taken`);
  }
  const text = await app.inject({
    method: 'POST',
    url: '/train',
    headers: { 'content-type': 'application/json' },
    payload: `{"datasetId":"${triplets}","outputDimension":2,"margin":1e400}`,
  });
  expectError(t, text, 400, 'NON_FINITE_VALUE');
  t.match(text.json().message, /margin must be a finite number/);
});

t.test('mined training: a weight decay AdamW would wipe W out with is refused', async (t) => {
  const app = await testApp(t, { build: { runJobs: false } });
  const id = await samplesDataset(app, 6);
  const post = (payload: object) => app.inject({ method: 'POST', url: '/train', payload });
  const ok = { datasetId: id, outputDimension: 3 };
  // under learningRate auto the shrink a step is 0.01·weightDecay
  for (const [body, status] of [
    [{ ...ok, weightDecay: 100 }, 400],
    [{ ...ok, weightDecay: HUGE }, 400],
    [{ ...ok, weightDecay: 99 }, 202],
    [{ ...ok, learningRate: 0.5, weightDecay: 2 }, 400],
    [{ ...ok, learningRate: 0.5, weightDecay: 1.9 }, 202],
  ] as const) {
    const r = await post(body);
    t.equal(r.statusCode, status, `${JSON.stringify(body)}: ${r.body}`);
    if (status === 400) t.match(r.json().message, /^body\/weightDecay/);
  }
});

t.test('POST /models/:id/evaluate: a margin past the largest float32 is 400, the bound a finite loss', async (t) => {
  const app = await testApp(t);
  const dataset = await createDataset(app, 3, makeTriplets(2, 3));
  const model = (
    await app.inject({
      method: 'POST',
      url: '/models',
      payload: {
        W: [
          [1, 0, 0],
          [0, 1, 0],
        ],
      },
    })
  ).json().id;
  const evaluate = (margin: number) =>
    app.inject({ method: 'POST', url: `/models/${model}/evaluate`, payload: { datasetId: dataset, margin } });
  const r = await evaluate(HUGE);
  expectError(t, r, 400, 'VALIDATION_ERROR');
  t.match(r.json().message, 'margin');
  const text = await app.inject({
    method: 'POST',
    url: `/models/${model}/evaluate`,
    headers: { 'content-type': 'application/json' },
    payload: `{"datasetId":"${dataset}","margin":1e400}`,
  });
  expectError(t, text, 400, 'NON_FINITE_VALUE');
  t.match(text.json().message, /margin must be a finite number/);
  const atBound = await evaluate(FLOAT32_MAX);
  t.equal(atBound.statusCode, 200, atBound.body);
  t.ok(Number.isFinite(atBound.json().loss) && atBound.json().loss >= FLOAT32_MAX * 0.999, 'the loss is the margin');
});

t.test('evaluate: a model trained with a margin past the bound (before it existed) needs one named', async (t) => {
  const app = await testApp(t);
  const dataset = await createDataset(app, 3, makeTriplets(10, 3));
  const m = await app.services.store.createModel(
    model(2, 3, { trainingParams: params({ margin: HUGE, outputDimension: 2 }) }),
  );
  const r = await app.inject({ method: 'POST', url: `/models/${m.id}/evaluate`, payload: { datasetId: dataset } });
  expectError(t, r, 422, 'LIMIT_EXCEEDED');
  t.match(r.json().message, /trained with margin 1e\+308.*name body\/margin/);
  const named = await app.inject({
    method: 'POST',
    url: `/models/${m.id}/evaluate`,
    payload: { datasetId: dataset, margin: 0.2 },
  });
  t.equal(named.statusCode, 200, named.body);
});

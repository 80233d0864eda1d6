// The loss-mix request fields of mined training (issue 18): defaults stored with the job, a mix taken
// and honoured (deterministic for a seed), a mix with no loss refused.
import t from 'tap';
import { DEFAULT_MINED_PARAMS } from '../../src/math/defaults.js';
import { createDataset, expectError, makeTriplets, testApp, waitForJob } from '../helpers.js';

async function samplesDataset(app: Awaited<ReturnType<typeof testApp>>, d: number) {
  const id = await createDataset(app, d);
  const samples = [];
  for (let i = 0; i < 120; i++) {
    const c = i % 12;
    samples.push({
      vector: Array.from({ length: d }, (_, j) => (j === c % d ? 3 : 0) + Math.sin(7 * i + j)),
      label: `c${c}`,
    });
  }
  const r = await app.inject({ method: 'POST', url: `/datasets/${id}/samples`, payload: { samples } });
  if (r.statusCode !== 201) throw new Error(r.body);
  return id;
}

t.test('loss-mix fields: defaults stored, a mix honoured, no loss refused', async (t) => {
  const app = await testApp(t);
  const id = await samplesDataset(app, 6);
  const post = (payload: object) => app.inject({ method: 'POST', url: '/train', payload });
  const d = await post({ datasetId: id, outputDimension: 3, maxIterations: 40, seed: 2 });
  t.equal(d.statusCode, 202, d.body);
  t.match(d.json().params, {
    tripletWeight: DEFAULT_MINED_PARAMS.tripletWeight,
    softNeighbourWeight: DEFAULT_MINED_PARAMS.softNeighbourWeight,
    softNeighbourTemperature: DEFAULT_MINED_PARAMS.softNeighbourTemperature,
    startPull: DEFAULT_MINED_PARAMS.startPull,
  });
  const body = {
    datasetId: id,
    outputDimension: 3,
    maxIterations: 40,
    seed: 5,
    tripletWeight: 0.5,
    softNeighbourWeight: 1,
    softNeighbourTemperature: 0.2,
    startPull: 3,
  };
  const a = await waitForJob(app, (await post(body)).json().id);
  const b = await waitForJob(app, (await post(body)).json().id);
  t.equal(a.status, 'succeeded');
  t.match(a.params, { tripletWeight: 0.5, softNeighbourWeight: 1, softNeighbourTemperature: 0.2, startPull: 3 });
  const wa = (await app.inject({ url: `/models/${a.modelId}/weights` })).json();
  const wb = (await app.inject({ url: `/models/${b.modelId}/weights` })).json();
  t.same(wa.W, wb.W, 'bit-identical weights for a seed');
  const c = await waitForJob(app, (await post({ ...body, startPull: 0 })).json().id);
  const wc = (await app.inject({ url: `/models/${c.modelId}/weights` })).json();
  t.notSame(wc.W, wa.W, 'the pull changes the map');
  const noLoss = await post({ ...body, tripletWeight: 0, softNeighbourWeight: 0 });
  expectError(t, noLoss, 400, 'VALIDATION_ERROR');
  t.match(
    noLoss.json().message,
    /^body\/tripletWeight and softNeighbourWeight cannot both be 0: the batch would have no loss/,
  );
  expectError(t, await post({ ...body, softNeighbourTemperature: 0 }), 400, 'VALIDATION_ERROR');
  expectError(t, await post({ ...body, startPull: -1 }), 400, 'VALIDATION_ERROR');
  const triplets = await createDataset(app, 4, makeTriplets(20, 4));
  expectError(t, await post({ datasetId: triplets, outputDimension: 2, startPull: 1 }), 400, 'VALIDATION_ERROR');
});

// POST /train's validationMetric: stored with the job, TAR@FAR reported with the validation
// figures, refused where it does not apply; through app.inject on a real SQLite file.
import t from 'tap';
import { createDataset, expectError, makeTriplets, testApp, waitForJob } from '../helpers.js';

t.test('a mined job follows tar@far=1e-2 and reports it', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3);
  // 24 labels of 6: 2 whole labels held out by the default 10% — 30 genuine and 36 impostor pairs
  // (1e-2 needs 100: the job says so and follows mapAtR); validationFraction 0.25 holds out 6
  // labels, 90 genuine and 540 impostor pairs
  const samples = Array.from({ length: 144 }, (_, i) => ({
    vector: [Math.cos(i % 24) * 3 + Math.sin(i * 7) * 0.3, Math.sin(i % 24) * 3 + Math.cos(i * 5) * 0.3, Math.sin(i)],
    label: `id${i % 24}`,
  }));
  t.equal((await app.inject({ method: 'POST', url: `/datasets/${id}/samples`, payload: { samples } })).statusCode, 201);
  const train = (body: Record<string, unknown>) =>
    app.inject({
      method: 'POST',
      url: '/train',
      payload: { datasetId: id, outputDimension: 2, maxIterations: 200, evaluationInterval: 50, ...body },
    });

  const r = await train({ validationMetric: 'tar@far=1e-2', validationFraction: 0.25 });
  t.equal(r.statusCode, 202, r.body);
  t.equal(r.json().params.validationMetric, 'tar@far=1e-2', 'stored with the job');
  const job = await waitForJob(app, r.json().id);
  t.equal(job.status, 'succeeded');
  t.type(job.metrics.validationTarAtFar, 'number', 'the kept W’s TAR among the validation figures');
  t.same(job.metrics.warnings, []);

  const small = await waitForJob(app, (await train({ validationMetric: 'tar@far=1e-2' })).json().id);
  t.equal(small.status, 'succeeded');
  t.match(small.metrics.warnings, [/needs at least 100 impostor pairs .*early stopping follows mapAtR/]);

  const byDefault = (await train({})).json();
  t.equal(byDefault.params.validationMetric, 'mapAtR', 'the default is stored');
  await waitForJob(app, byDefault.id);

  expectError(t, await train({ validationMetric: 'tar@far=1e-5' }), 400, 'VALIDATION_ERROR');
  const trip = await createDataset(app, 3, makeTriplets(10, 3));
  const onTriplets = await app.inject({
    method: 'POST',
    url: '/train',
    payload: { datasetId: trip, outputDimension: 2, validationMetric: 'mapAtR' },
  });
  expectError(t, onTriplets, 400, 'VALIDATION_ERROR');
  t.match(onTriplets.json().message, /validationMetric applies to training on labelled samples/);
});

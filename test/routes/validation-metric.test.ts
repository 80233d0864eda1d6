// POST /train's validationMetric: stored with the job, TAR@FAR reported with the validation
// figures, refused where it does not apply; validationSplit; through app.inject on a real SQLite file.
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
      // K = 6, the labels' samples: full batches, so the only warnings are the TAR's
      payload: {
        datasetId: id,
        outputDimension: 2,
        maxIterations: 200,
        evaluationInterval: 50,
        samplesPerLabel: 6,
        ...body,
      },
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

t.test('validationSplit labels holds out whole labels even with few of them (open set)', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3);
  // 10 labels of 10: `auto` would hold out samples (fewer than 20 labels)
  const samples = Array.from({ length: 100 }, (_, i) => ({
    vector: [Math.cos(i % 10) * 3 + Math.sin(i * 7) * 0.3, Math.sin(i % 10) * 3 + Math.cos(i * 5) * 0.3, Math.sin(i)],
    label: `id${i % 10}`,
  }));
  t.equal((await app.inject({ method: 'POST', url: `/datasets/${id}/samples`, payload: { samples } })).statusCode, 201);
  const train = async (body: Record<string, unknown>) => {
    const r = await app.inject({
      method: 'POST',
      url: '/train',
      payload: {
        datasetId: id,
        outputDimension: 2,
        maxIterations: 100,
        evaluationInterval: 50,
        batchSize: 64,
        ...body,
      },
    });
    t.equal(r.statusCode, 202, r.body);
    return { params: r.json().params, job: await waitForJob(app, r.json().id) };
  };
  const byLabels = await train({ validationSplit: 'labels', validationMetric: 'precisionAt1' });
  t.equal(byLabels.params.validationSplit, 'labels', 'stored with the job');
  t.equal(byLabels.job.status, 'succeeded');
  t.equal(byLabels.job.metrics.validationSplit, 'labels');
  t.equal(byLabels.job.metrics.validationLabels, 2, 'max(2, 10% of 10) whole labels held out');
  t.equal(byLabels.job.metrics.trainLabels, 8, 'none of them trained on');
  t.type(byLabels.job.metrics.precisionAt1, 'number');
  const auto = await train({ validationFraction: 0.2 }); // 2 of each label's 10 samples
  t.equal(auto.params.validationSplit, 'auto', 'the default is stored');
  t.equal(auto.job.metrics.validationSplit, 'samples');
  t.equal(auto.job.metrics.trainLabels, 10);
  const trip = await createDataset(app, 3, makeTriplets(10, 3));
  const onTriplets = await app.inject({
    method: 'POST',
    url: '/train',
    payload: { datasetId: trip, outputDimension: 2, validationSplit: 'labels' },
  });
  expectError(t, onTriplets, 400, 'VALIDATION_ERROR');
});

// Training from labelled samples through the API: defaults, validation figures, evaluation.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { createDataset, expectError, makeTriplets, testApp, waitForJob } from '../helpers.js';

/**
 * `labels` classes of `per` samples, seeded: the first half of the d features place each class
 * around its centre, the second half is loud noise that hides the classes from raw distances.
 */
function clusters(labels: number, per: number, d: number, seed = 3) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const half = Math.ceil(d / 2);
  const centres = Array.from({ length: labels }, () => Array.from({ length: half }, () => rnd() * 8));
  const samples = [];
  for (let c = 0; c < labels; c++) {
    for (let i = 0; i < per; i++) {
      const vector = Array.from({ length: d }, (_, j) => (j < half ? centres[c][j] + rnd() * 1.5 : rnd() * 12));
      samples.push({ vector, label: `class-${c}` });
    }
  }
  return samples;
}

async function samplesDataset(app: App, d: number) {
  const id = await createDataset(app, d);
  const r = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/samples`,
    payload: { samples: clusters(25, 12, d) },
  });
  if (r.statusCode !== 201) throw new Error(r.body);
  return id;
}

t.test('a dataset with samples trains with online mining by default and reports validation figures', async (t) => {
  const app = await testApp(t);
  const id = await samplesDataset(app, 8);
  const r = await app.inject({
    method: 'POST',
    url: '/train',
    payload: { datasetId: id, outputDimension: 4, maxIterations: 300, seed: 1 },
  });
  t.equal(r.statusCode, 202, r.body);
  const params = r.json().params;
  t.match(params, {
    source: 'samples',
    optimizer: 'adam',
    mining: 'semihard+batchhard',
    loss: 'hinge',
    distance: 'euclidean',
    normalize: 'auto',
    learningRate: 'auto',
    margin: 0.2,
    batchSize: 80,
    samplesPerLabel: 8,
    validationFraction: 0.1,
  });
  const job = await waitForJob(app, r.json().id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  for (const key of [
    'trainLoss',
    'iterations',
    'activeFraction',
    'stopReason',
    'validationLoss',
    'validationTripletAccuracy',
    'precisionAt1',
    'rPrecision',
    'mapAtR',
  ]) {
    t.type(job.metrics[key], key === 'stopReason' ? 'string' : 'number', `metrics.${key}`);
  }
  t.equal(job.metrics.validationSplit, 'labels', '25 labels: whole labels are held out (unseen classes)');
  t.type(job.progress.mapAtR, 'number', 'progress carries the latest validation figures');
  const model = (await app.inject({ url: `/models/${job.modelId}` })).json();
  t.ok(job.metrics.learningRate > 0, `the learning rate that ran: ${job.metrics.learningRate}`);
  const given = await app.inject({
    method: 'POST',
    url: '/train',
    payload: { datasetId: id, outputDimension: 4, maxIterations: 100, seed: 1, learningRate: 0.003 },
  });
  t.equal(given.json().params.learningRate, 0.003, 'a number is kept, as in jobs stored before auto');
  t.equal((await waitForJob(app, given.json().id)).metrics.learningRate, 0.003, 'and trains at that rate');
  const evidence = job.metrics.normalizeEvidence;
  // a tenth of 300 steps is 30, rounded up to a whole evaluation (every 100 steps)
  t.match(evidence, { by: 'validation', metric: 'mapAtR', steps: 100 }, 'auto chose by the trial');
  t.equal(model.normalize, job.metrics.normalized, 'the model embeds as the metrics say');

  const ev = await app.inject({ method: 'POST', url: `/models/${job.modelId}/evaluate`, payload: { datasetId: id } });
  t.equal(ev.statusCode, 200, ev.body);
  const e = ev.json();
  t.equal(e.count, 0, 'no triplets in this dataset');
  t.equal(e.loss, null);
  t.equal(e.sampleCount, 300);
  t.ok(e.rPrecision >= e.mapAtR, 'R-precision bounds MAP@R from above');
  // The raw features, as an imported identity map, are the baseline the learned map must beat.
  const identity = Array.from({ length: 8 }, (_, i) => Array.from({ length: 8 }, (_, j) => (i === j ? 1 : 0)));
  const raw = (await app.inject({ method: 'POST', url: '/models', payload: { W: identity } })).json();
  const base = (
    await app.inject({ method: 'POST', url: `/models/${raw.id}/evaluate`, payload: { datasetId: id } })
  ).json();
  t.ok(e.precisionAt1 > base.precisionAt1, `precision@1 ${e.precisionAt1} beats raw features' ${base.precisionAt1}`);
  t.ok(e.mapAtR > base.mapAtR, `MAP@R ${e.mapAtR} beats raw features' ${base.mapAtR}`);
});

t.test('mining options, and the same seed gives the same model', async (t) => {
  const app = await testApp(t);
  const id = await samplesDataset(app, 6);
  const body = {
    datasetId: id,
    outputDimension: 3,
    maxIterations: 60,
    seed: 9,
    mining: 'batchhard',
    loss: 'softplus',
    distance: 'squared',
    validationFraction: 0,
  };
  const a = await waitForJob(app, (await app.inject({ method: 'POST', url: '/train', payload: body })).json().id);
  const b = await waitForJob(app, (await app.inject({ method: 'POST', url: '/train', payload: body })).json().id);
  t.equal(a.status, 'succeeded');
  t.same(a.params, b.params);
  const wa = (await app.inject({ url: `/models/${a.modelId}/weights` })).json();
  const wb = (await app.inject({ url: `/models/${b.modelId}/weights` })).json();
  t.same(wa.W, wb.W, 'bit-identical weights');
  for (const mining of ['semihard', 'none']) {
    const j = await waitForJob(
      app,
      (await app.inject({ method: 'POST', url: '/train', payload: { ...body, mining } })).json().id,
    );
    t.equal(j.status, 'succeeded', `mining ${mining}`);
  }
});

t.test('mining choices that cannot work are refused', async (t) => {
  const app = await testApp(t);
  const triplets = await createDataset(app, 4, makeTriplets(20, 4));
  const samples = await samplesDataset(app, 4);
  const post = (payload: object) => app.inject({ method: 'POST', url: '/train', payload });
  expectError(t, await post({ datasetId: triplets, outputDimension: 2, mining: 'semihard' }), 422, 'NO_SAMPLES');
  expectError(t, await post({ datasetId: triplets, outputDimension: 2, optimizer: 'adam' }), 400, 'VALIDATION_ERROR');
  expectError(t, await post({ datasetId: triplets, outputDimension: 2, loss: 'softplus' }), 400, 'VALIDATION_ERROR');
  const auto = await post({ datasetId: triplets, outputDimension: 2, normalize: 'auto' });
  expectError(t, auto, 400, 'VALIDATION_ERROR');
  t.match(auto.json().message, /body\/normalize/, 'names the field');
  expectError(t, await post({ datasetId: samples, outputDimension: 2, optimizer: 'lbfgs' }), 400, 'VALIDATION_ERROR');
  expectError(t, await post({ datasetId: samples, outputDimension: 2, historySize: 5 }), 400, 'VALIDATION_ERROR');
  expectError(
    t,
    await post({ datasetId: samples, outputDimension: 2, batchSize: 8, samplesPerLabel: 16 }),
    400,
    'VALIDATION_ERROR',
  );
  expectError(t, await post({ datasetId: samples, outputDimension: 2, mining: 'hardest' }), 400, 'VALIDATION_ERROR');
  const fast = await post({ datasetId: samples, outputDimension: 2, learningRate: 'fast' });
  expectError(t, fast, 400, 'VALIDATION_ERROR');
  t.match(fast.json().message, /learningRate/, 'names the field');
  const rate = await post({ datasetId: triplets, outputDimension: 2, learningRate: 'auto' });
  expectError(t, rate, 400, 'VALIDATION_ERROR');
  t.match(rate.json().message, /learningRate/, 'triplets train without Adam: named too');
  // mining "none" on a dataset with samples and triplets trains on the triplets.
  await app.inject({
    method: 'POST',
    url: `/datasets/${samples}/triplets`,
    payload: {
      indexTriplets: [
        [0, 1, 13],
        [2, 3, 40],
      ],
    },
  });
  const r = await post({ datasetId: samples, outputDimension: 2, mining: 'none' });
  t.equal(r.statusCode, 202);
  t.equal(r.json().params.source, 'triplets');
  t.equal(r.json().params.optimizer, 'lbfgs');
});

t.test('by default, samples whose length tells the label train plain embeddings, end to end', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3);
  // 6 labels along one direction, told apart by length alone: unit norm would fold them together
  const samples = Array.from({ length: 60 }, (_, i) => {
    const r = 1 + (i % 6);
    return { vector: [r, 0.6 * r + 0.02 * ((i * 7) % 5), 0.6 * r - 0.02 * ((i * 3) % 5)], label: `radius-${i % 6}` };
  });
  const up = await app.inject({ method: 'POST', url: `/datasets/${id}/samples`, payload: { samples } });
  t.equal(up.statusCode, 201, up.body);
  const post = (extra: object) =>
    app.inject({
      method: 'POST',
      url: '/train',
      payload: { datasetId: id, outputDimension: 2, maxIterations: 50, ...extra },
    });
  const auto = await waitForJob(app, (await post({})).json().id);
  t.equal(auto.status, 'succeeded', JSON.stringify(auto.error));
  t.equal(auto.params.normalize, 'auto', 'the default, kept in the job');
  // 10 samples a label hold out one each: no validation, so the start's evidence chooses
  t.equal(auto.metrics.validationSplit, 'none');
  t.match(auto.metrics.normalizeEvidence, { by: 'start' });
  t.ok(auto.metrics.normalizeEvidence.z >= 2, 'significantly more neighbours plain');
  t.equal(auto.metrics.normalized, false, JSON.stringify(auto.metrics.normalizeEvidence));
  t.equal((await app.inject({ url: `/models/${auto.modelId}` })).json().normalize, false, 'the model embeds plain');
  const given = await waitForJob(app, (await post({ normalize: false })).json().id);
  const wa = (await app.inject({ url: `/models/${auto.modelId}/weights` })).json();
  const wg = (await app.inject({ url: `/models/${given.modelId}/weights` })).json();
  t.same(wa.W, wg.W, 'the same weights as normalize false');
  t.notOk('normalizeEvidence' in given.metrics, 'no evidence when the request said');
  // with two labels held out, the trial chooses, and plain trains to the better validation figure
  const trial = await waitForJob(app, (await post({ validationFraction: 0.3, validationSplit: 'labels' })).json().id);
  t.equal(trial.metrics.validationSplit, 'labels');
  const evidence = trial.metrics.normalizeEvidence;
  t.ok(evidence.by === 'validation' && evidence.plain > evidence.unit, JSON.stringify(evidence));
  t.equal(trial.metrics.normalized, false, 'plain');
});

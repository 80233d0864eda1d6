// A mined run whose validation samples have no label twice (docs/decisions/0071): the figures that
// average over queries or triplets have nothing to average, and the run reports them as null (absent
// from progress) while early stopping and the normalize trial go on comparing the 0 scored for them.
import t from 'tap';
import { trainMined, type MinedTrainParams } from '../../src/math/mining/index.js';
import type { MinedProgress } from '../../src/math/mining/types.js';
import { heldOutLabelParams, labelsByLength } from './helpers.js';

// four held-out labels of 8 samples, scored through a subsample of 2 rows: for seed 1, two labels
const params = (over: Partial<MinedTrainParams> = {}): MinedTrainParams =>
  heldOutLabelParams({ validationMaxSamples: 2, normalize: 'auto', ...over });

t.test('no validation query: null figures, and training as before', async (t) => {
  const s = labelsByLength(12, 3, 8, 0.08, 1, 0.5);
  const points: MinedProgress[] = [];
  const r = trainMined(s, params(), { onProgress: (p) => points.push(p), progressIntervalMs: 0 });
  t.equal(r.metrics.validationSplit, 'labels');
  t.equal(r.metrics.validationQueryCount, 0, 'the two rows scored have different labels');
  t.same(
    r.metrics.validation,
    { validationLoss: null, validationTripletAccuracy: null, precisionAt1: null, rPrecision: null, mapAtR: null },
    'nothing measured, nothing reported',
  );
  t.match(r.metrics.normalizeEvidence, { by: 'validation', metric: 'mapAtR', plain: null, unit: null });
  t.equal(r.metrics.normalized, true, 'the tie of the trial keeps unit norm');
  const evaluated = points.filter((p) => p.validationIteration !== undefined);
  t.ok(evaluated.length > 0, 'the evaluations are still reported');
  for (const key of ['validationLoss', 'validationTripletAccuracy', 'precisionAt1', 'rPrecision', 'mapAtR'] as const)
    t.ok(
      evaluated.every((p) => !(key in p)),
      `progress leaves ${key} out`,
    );
  // figures that never change cannot hold a W back: the run keeps its last step, as without validation
  t.equal(r.metrics.bestIteration, r.metrics.iterations);
  const again = trainMined(s, params());
  t.same(Array.from(again.W), Array.from(r.W), 'deterministic');
});

t.test('validation with queries reports numbers, and how many queries', async (t) => {
  const s = labelsByLength(12, 3, 8, 0.08, 1, 0.5);
  const r = trainMined(s, params({ validationMaxSamples: 1000, normalize: false }));
  t.equal(r.metrics.validationQueryCount, 32, 'every held-out row has 7 others of its label');
  for (const key of ['validationLoss', 'validationTripletAccuracy', 'precisionAt1', 'rPrecision', 'mapAtR'] as const)
    t.type(r.metrics.validation?.[key], 'number', key);
});

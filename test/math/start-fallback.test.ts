// The start map as the last candidate of a validated mined run (src/math/mining/start-fallback.ts):
// the paired z, and trainMined returning the start when validation says training made it worse.
import t from 'tap';
import { splitFor, trainMined, type MinedTrainParams } from '../../src/math/mining/index.js';
import { pairedZ, START_KEEP_Z } from '../../src/math/mining/start-fallback.js';
import { retrievalMetrics } from '../../src/math/metrics.js';
import type { MinedCheckpoint } from '../../src/math/mining/checkpoint.js';
import type { MinedProgress } from '../../src/math/mining/types.js';
import { createRng } from '../../src/math/rng.js';
import { heldOutLabelParams, labelsByLength } from './helpers.js';

t.test('pairedZ: mean difference over its standard error, on the same queries', async (t) => {
  // differences 1, 2, 3: mean 2, sd 1, se 1/√3
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;
  t.ok(close(pairedZ([2, 3, 4], [1, 1, 1]), 2 * Math.sqrt(3)));
  t.ok(close(pairedZ([1, 1, 1], [2, 3, 4]), -2 * Math.sqrt(3)), 'antisymmetric');
  t.equal(pairedZ([1, 0, 1, 1], [1, 0, 1, 1]), 0, 'no difference');
  t.equal(pairedZ([1, 1], [0, 0]), Infinity, 'every query ahead by the same amount');
  t.equal(pairedZ([0.5], [0]), 0, 'one query says nothing');
  t.throws(() => pairedZ([1, 2], [1]), RangeError);
});

/** Labels told apart by length along one direction (radius 1 + 0.5·y), with a little noise across it. */
function byLength(labels: number, per: number, seed: number) {
  return labelsByLength(labels, 3, per, 0.08, seed, 0.5);
}

/** The set with its training rows' vectors shuffled among them: their labels say nothing, held-out rows stay true. */
function trainingShuffled(s: ReturnType<typeof byLength>, p: MinedTrainParams) {
  const { train } = splitFor(s, p);
  const X = Float64Array.from(s.X);
  const rng = createRng(7);
  for (let i = train.length - 1; i > 0; i--) {
    const [a, b] = [train[i] * 3, train[rng.int(i + 1)] * 3];
    for (let j = 0; j < 3; j++) [X[a + j], X[b + j]] = [X[b + j], X[a + j]];
  }
  return { ...s, X };
}

// whole labels held out, no pull towards the start
const params = heldOutLabelParams;

const IDENTITY3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

const pick = (f: { precisionAt1: number | null; mapAtR: number | null }) => [f.precisionAt1, f.mapAtR];

/** The identity start's validation precision@1 and MAP@R, computed here from the split's rows. */
function startFigures(s: ReturnType<typeof byLength>, p: MinedTrainParams, normalize: boolean) {
  const rows = splitFor(s, p).validation;
  const E = new Float64Array(rows.length * 3);
  rows.forEach((row, i) => {
    const x = s.X.subarray(row * 3, row * 3 + 3);
    const n = normalize ? Math.hypot(x[0], x[1], x[2]) : 1;
    for (let j = 0; j < 3; j++) E[i * 3 + j] = x[j] / n;
  });
  return pick(
    retrievalMetrics(
      E,
      rows.length,
      3,
      Int32Array.from(rows, (row) => s.labels[row]),
    ),
  );
}

t.test('training on rows whose labels say nothing: the held-out labels prefer the start', async (t) => {
  const p = params({});
  const s = trainingShuffled(byLength(12, 8, 1), p);
  const points: MinedProgress[] = [];
  const r = trainMined(s, p, { onProgress: (x) => points.push(x), progressIntervalMs: 0 });
  t.ok(r.metrics.startZ! >= START_KEEP_Z, `paired z ${r.metrics.startZ}`);
  t.same(Array.from(r.W), IDENTITY3, 'W is the identity start');
  t.equal(r.metrics.bestIteration, 0, 'bestIteration 0');
  t.equal(r.metrics.iterations, 60, 'after training all the steps');
  t.equal(r.metrics.normalized, false);
  t.match(r.metrics.warnings.join('\n'), /validation scored the start map above the best trained W/);
  t.same(pick(r.metrics.validation!), startFigures(s, p, false), 'the validation figures are the identity start’s');
  t.equal(points.at(-1)!.bestIteration, 0, 'the last report says so too');
  t.equal(points.at(-1)!.warning, undefined, 'without a warning about a trained W');
});

t.test('an explicit normalisation is kept: the start returns only with it', async (t) => {
  // the plain start is the better one here, but normalize true was asked for
  const p = params({ normalize: true });
  const s = trainingShuffled(byLength(12, 8, 1), p);
  const r = trainMined(s, p);
  t.equal(r.metrics.normalized, true, 'unit norm, as asked');
  if (r.metrics.bestIteration === 0) {
    t.same(pick(r.metrics.validation!), startFigures(s, p, true), 'a start returned is the unit-norm one');
  } else t.ok(r.metrics.startZ! < START_KEEP_Z, `or the trained W is kept (z ${r.metrics.startZ})`);
});

t.test('too few held-out labels never overrule training', async (t) => {
  // two held-out labels: their 16 queries cannot speak for labels in general
  const p = params({ validationFraction: 0.1, seed: 2 });
  const s = trainingShuffled(byLength(12, 8, 1), p);
  const r = trainMined(s, p);
  t.equal(r.metrics.validationLabels, 2);
  t.ok(r.metrics.startZ! >= START_KEEP_Z, `the start is ahead (z ${r.metrics.startZ})`);
  t.ok(r.metrics.bestIteration > 0, 'but the trained W is kept');
});

t.test('a run that trains well keeps its trained W', async (t) => {
  const r = trainMined(byLength(12, 8, 1), params({}));
  t.ok(r.metrics.startZ! < START_KEEP_Z, `paired z ${r.metrics.startZ}`);
  t.ok(r.metrics.bestIteration > 0, `bestIteration ${r.metrics.bestIteration}`);
  t.notMatch(r.metrics.warnings.join('\n'), /start map above/);
  const none = trainMined(byLength(12, 8, 1), params({ validationFraction: 0 }));
  t.equal(none.metrics.startZ, undefined, 'without validation: no comparison');
});

t.test('normalize auto: the start returns with the normalisation that scores it higher', async (t) => {
  // the length carries the label, so the plain start ranks the held-out labels better than unit
  // norm; minDelta 1 makes the trial keep unit norm (plain must gain more than it)
  const p = params({ normalize: 'auto', minDelta: 1 });
  const s = trainingShuffled(byLength(12, 8, 1), p);
  const r = trainMined(s, p);
  t.equal(r.metrics.normalizeEvidence?.by, 'validation', 'the trial ran');
  t.ok(r.metrics.startZ! >= START_KEEP_Z, `paired z ${r.metrics.startZ}`);
  t.same(Array.from(r.W), IDENTITY3, 'the identity start');
  t.equal(r.metrics.normalized, false, 'with plain embeddings, though the trial kept unit norm');
  t.match(r.metrics.warnings.join('\n'), /the start map with plain embeddings above/);
  t.same(pick(r.metrics.validation!), startFigures(s, p, false), 'the plain start’s validation figures');
  // what finish measures on the training rows is the plain start's, as when plain is asked for
  const given = trainMined(s, { ...p, normalize: false });
  t.equal(given.metrics.bestIteration, 0, 'normalize false returns the same start');
  t.same(
    [r.metrics.trainLoss, r.metrics.meanEmbeddingDistance],
    [given.metrics.trainLoss, given.metrics.meanEmbeddingDistance],
    'its training loss and spread, measured with plain embeddings',
  );
});

t.test('a run resumed from a checkpoint returns the same start', async (t) => {
  // a resume rebuilds W₀ from the params (the checkpoint holds the moving W only)
  const p = params({});
  const s = trainingShuffled(byLength(12, 8, 1), p);
  const cps: MinedCheckpoint[] = [];
  const r = trainMined(s, p, { onCheckpoint: (c) => cps.push(c) });
  t.equal(r.metrics.bestIteration, 0, 'the uninterrupted run returns the start');
  for (const at of [1, 25, cps.length - 1]) {
    const resumed = trainMined(s, p, { resumeFrom: structuredClone(cps[at]) });
    t.same(Array.from(resumed.W), Array.from(r.W), `resumed at step ${cps[at].iteration}: the identity start`);
    t.same(resumed.metrics, r.metrics, 'with the same metrics');
  }
});

t.test('normalize auto on held-out samples: the start keeps the run’s normalisation', async (t) => {
  // the plain start ranks the held-out samples better, but held-out samples do not choose (0065)
  const p = params({ normalize: 'auto', validationSplit: 'samples' });
  const s = trainingShuffled(byLength(12, 8, 1), p);
  const r = trainMined(s, p);
  t.equal(r.metrics.normalizeEvidence?.by, 'start', 'no trial');
  t.equal(r.metrics.normalized, true, 'unit norm, as the start’s evidence chose');
  t.ok(
    startFigures(s, p, false)[1]! > startFigures(s, p, true)[1]!,
    'the plain start ranks the held-out samples better',
  );
  if (r.metrics.bestIteration === 0)
    t.same(pick(r.metrics.validation!), startFigures(s, p, true), 'a start returned is the unit-norm one');
});

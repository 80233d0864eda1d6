// TAR@FAR as the early-stopping metric of trainMined (validationMetric "tar@far=…",
// docs/decisions/0035): the figure, its tolerance, and a run whose stopping and kept W follow it.
import t from 'tap';
import { DEFAULT_MINED_PARAMS } from '../../src/math/defaults.js';
import { trainMined } from '../../src/math/mining/train-mined.js';
import type {
  LabelledSamples,
  MinedProgress,
  MinedTrainParams,
  ValidationFigures,
} from '../../src/math/mining/types.js';
import { tarMetricFar } from '../../src/math/mining/types.js';
import { createRng } from '../../src/math/rng.js';
import { createEarlyStopping, figureOf, type EarlyStoppingOptions } from '../../src/math/training/early-stopping.js';

const figures = (mapAtR: number, tar: number): ValidationFigures => ({
  validationLoss: 1,
  validationTripletAccuracy: 0.5,
  precisionAt1: 0.5,
  rPrecision: 0.5,
  mapAtR,
  validationTarAtFar: tar,
});

const options = (o: Partial<EarlyStoppingOptions> = {}): EarlyStoppingOptions => ({
  earlyStoppingMetric: 'tar@far=1e-3',
  earlyStoppingStart: 0,
  maxIterations: 1000,
  patience: 2,
  minDelta: 0.001,
  ...o,
});

t.test('the TAR figure', (t) => {
  t.equal(tarMetricFar('tar@far=1e-3'), 1e-3);
  t.equal(tarMetricFar('tar@far=1e-2'), 1e-2);
  t.equal(tarMetricFar('mapAtR'), null);
  t.equal(figureOf(figures(0.9, 0.4), 'tar@far=1e-3'), 0.4);
  t.equal(figureOf(figures(0.9, 0.4), 'mapAtR'), 0.9);
  t.end();
});

t.test('early stopping follows TAR, not MAP@R', (t) => {
  const W = (v: number) => Float64Array.from([v]);
  const es = createEarlyStopping(options(), W(0));
  // MAP@R keeps rising while TAR peaks at the second evaluation and falls
  t.equal(es.observe(figures(0.5, 0.3), 10, W(1)), false);
  t.equal(es.observe(figures(0.6, 0.5), 20, W(2)), false);
  t.equal(es.observe(figures(0.7, 0.4), 30, W(3)), false, 'TAR falls: stale 1');
  t.equal(es.observe(figures(0.8, 0.35), 40, W(4)), true, 'stale 2: patience runs out though MAP@R rose');
  t.equal(es.bestIteration, 20, 'the W of the best TAR is kept');
  t.same(Array.from(es.bestW), [2]);
  const byMap = createEarlyStopping(options({ earlyStoppingMetric: 'mapAtR' }), W(0));
  let stopped = false;
  [0.5, 0.6, 0.7, 0.8].forEach((m, i) => (stopped ||= byMap.observe(figures(m, 0.1), (i + 1) * 10, W(i + 1))));
  t.equal(stopped, false, 'the same run by MAP@R would not stop');
  t.equal(byMap.bestIteration, 40);
  t.end();
});

/** c Gaussian clusters in d dims, per samples each. */
function clusters(c: number, per: number, d: number, seed: number, spread: number): LabelledSamples {
  const rng = createRng(seed);
  const centres = Float64Array.from({ length: c * d }, () => 2.5 * rng.normal());
  const n = c * per;
  const X = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % c;
    for (let j = 0; j < d; j++) X[i * d + j] = centres[(i % c) * d + j] + spread * rng.normal();
  }
  return { n, d, X, labels };
}

const quick = (over: Partial<MinedTrainParams>): MinedTrainParams => ({
  ...DEFAULT_MINED_PARAMS,
  outputDimension: 4,
  maxIterations: 600,
  evaluationInterval: 25,
  earlyStoppingStart: 0,
  patience: 3,
  minDelta: 0,
  ...over,
});

t.test('trainMined stops on TAR@FAR: replaying its figures through the stopper gives the same run', (t) => {
  // 30 labels of 12: 3 whole labels (36 samples) held out — 198 genuine and 432 impostor pairs
  const data = clusters(30, 12, 10, 3, 2.5);
  const params = quick({ earlyStoppingMetric: 'tar@far=1e-2', learningRate: 0.03 });
  const progress: MinedProgress[] = [];
  const r = trainMined(data, params, { onProgress: (p) => progress.push(p), progressIntervalMs: 0 });
  t.same(r.metrics.warnings, []);
  t.equal(r.metrics.validationLabels, 3);
  // one figure per evaluation, in order
  const evaluations = new Map<number, number>();
  for (const p of progress)
    if (p.validationIteration !== undefined && p.validationTarAtFar !== undefined)
      evaluations.set(p.validationIteration, p.validationTarAtFar);
  t.ok(evaluations.size >= 3, `${evaluations.size} evaluations reported a TAR`);
  for (const v of evaluations.values()) t.ok(v >= 0 && v <= 1);
  const replay = createEarlyStopping(params, new Float64Array(1));
  let stoppedAt = -1;
  for (const [at, tar] of evaluations) {
    const fig = { ...figures(0, tar), validationTarAtFar: tar };
    if (replay.observe(fig, at, new Float64Array(1))) {
      stoppedAt = at;
      break;
    }
  }
  t.ok(r.metrics.earlyStopped, 'this run stops early (patience 3)');
  t.equal(r.metrics.earlyStopped, stoppedAt >= 0, 'stopped early exactly when the TAR figures say so');
  if (stoppedAt >= 0) t.equal(r.metrics.iterations, stoppedAt, 'at the same evaluation');
  t.equal(r.metrics.bestIteration, replay.bestIteration, 'the kept W is the one the TAR figures pick');
  t.equal(r.metrics.validation?.validationTarAtFar, evaluations.get(r.metrics.bestIteration));
  t.end();
});

t.test('a FAR the validation pairs cannot support: mapAtR, with a warning', (t) => {
  const data = clusters(30, 12, 10, 3, 2.5);
  const r = trainMined(data, quick({ earlyStoppingMetric: 'tar@far=1e-3', maxIterations: 100 }));
  t.match(r.metrics.warnings, [
    /tar@far=1e-3 needs at least 1000 impostor pairs .* \(has 432 and 198\); early stopping follows mapAtR/,
  ]);
  t.equal(r.metrics.validation?.validationTarAtFar, undefined, 'no TAR computed');
  t.end();
});

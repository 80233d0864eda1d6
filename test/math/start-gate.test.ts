// The start gate (src/math/mining/start-gate.ts): how much the start map deserves the start pull,
// measured on tiny hand-made data whose answer is known, its cost bound, and trainMined with it on the
// README's labelled-samples walk-through (whose PCA start keeps a noise feature: gate 0).
import t from 'tap';
import { DEFAULT_MINED_PARAMS, trainMined, type MinedTrainParams } from '../../src/math/mining/index.js';
import {
  aboveChance,
  chancePrecision,
  GATE_BUDGET,
  GATE_MAX_ROWS,
  gateOf,
  gateRowLimit,
  startGate,
} from '../../src/math/mining/start-gate.js';
import { pullPerLabel } from '../../src/math/mining/start-pull.js';
import { embed } from '../../src/math/embed.js';
import { labelCounts, retrievalMetrics } from '../../src/math/metrics.js';
import { createRng } from '../../src/math/rng.js';

/** The README's walk-through (docs: `<!-- walkthrough-samples:start -->`): cat, dog, owl; feature 3 is noise. */
const WALK = {
  d: 3,
  n: 9,
  X: Float64Array.from(
    [
      [1, 0, 2.1],
      [0.9, 0.1, -1.9],
      [1.1, -0.1, 0.4],
      [0, 1, -2.2],
      [0.1, 0.9, 2.0],
      [-0.1, 1.1, 0.3],
      [-1, -1, 1.9],
      [-0.9, -1.1, -2.1],
      [-1.1, -0.9, 0.2],
    ].flat(),
  ),
  labels: Int32Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2]),
};

t.test('chance: the share of the other rows with the query label, over queries with a partner', (t) => {
  const labels = Int32Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2]);
  t.same(chancePrecision(labels, labelCounts(labels)), { chance: 0.25, queries: 9 });
  const single = Int32Array.from([0, 0, 1]); // label 1 has no partner: not a query
  t.same(chancePrecision(single, labelCounts(single)), { chance: 0.5, queries: 2 });
  t.equal(aboveChance(0.25, 0.25), 0, 'chance level → 0');
  t.equal(aboveChance(0.1, 0.25), 0, 'below chance clamps to 0');
  t.equal(aboveChance(1, 0.25), 1, 'perfect → 1');
  t.equal(aboveChance(0.625, 0.25), 0.5);
  t.end();
});

t.test('gateOf: the start above chance, times the share it keeps of the raw features', (t) => {
  t.equal(gateOf(1, 1), 1);
  t.equal(gateOf(0.5, 1), 0.25, 'a start that loses half of what raw gets right: 0.5 · 0.5');
  t.equal(gateOf(0.8, 0.4), 0.8, 'a start better than raw is not rewarded beyond its own figure');
  t.equal(gateOf(0.3, 0), 0.3, 'raw at chance says nothing');
  t.end();
});

t.test('a start that keeps the labels apart → 1; one that mixes them → 0', (t) => {
  // 4 labels × 3 rows, far-apart tight clusters in 2-d; raw features and the start both separate them
  const labels = Int32Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
  const X = Float64Array.from(Array.from(labels).flatMap((y, i) => [10 * (y % 2) + 0.1 * (i % 3), 10 * (y >> 1)]));
  const good = startGate(X, 2, X, 2, labels);
  t.match(good, { gate: 1, start: 1, raw: 1, queries: 12 });
  t.ok(Math.abs(good.chance - 2 / 11) < 1e-12, 'chance: 2 of the 11 other rows');
  // a 1-d start that lays the rows on a line with labels alternating: every nearest neighbour is wrong
  const E = Float64Array.from(labels, (_, i) => (i % 4) * 12 + Math.floor(i / 4));
  const mixed = startGate(X, 2, E, 1, labels);
  t.equal(mixed.start, 0);
  t.equal(mixed.gate, 0);
  t.end();
});

t.test('the README walk-through: its PCA-like start keeps the noise, the gate is 0', (t) => {
  // the noise feature alone and a mix of the two label features: what the PCA start (k = 2) keeps
  const E = Float64Array.from({ length: 18 }, (_, i) => {
    const r = Math.floor(i / 2);
    return i % 2 === 0 ? WALK.X[r * 3 + 2] : (WALK.X[r * 3] + WALK.X[r * 3 + 1]) / Math.SQRT2;
  });
  const g = startGate(WALK.X, 3, E, 2, WALK.labels);
  t.equal(g.chance, 0.25);
  t.ok(g.start <= 0.25 && g.raw <= 0.25, `start ${g.start}, raw ${g.raw}: no better than chance`);
  t.equal(g.gate, 0);
  t.end();
});

t.test('deterministic, and no queries (no label with two rows) gives gate 0', (t) => {
  const rng = createRng(3);
  const labels = Int32Array.from({ length: 60 }, (_, i) => i % 6);
  const X = Float64Array.from(
    { length: 60 * 5 },
    (_, i) => labels[Math.floor(i / 5)] * (i % 5 === 0 ? 1 : 0) + rng.normal(),
  );
  const E = X.slice();
  t.same(startGate(X, 5, E, 5, labels), startGate(X, 5, E, 5, labels));
  const g = startGate(Float64Array.from([0, 1, 2]), 1, Float64Array.from([0, 1, 2]), 1, Int32Array.from([0, 1, 2]));
  t.same(g, { gate: 0, start: 0, raw: 0, chance: 0, queries: 0 });
  t.end();
});

t.test('the cost n²·(d + k) stays within the budget', (t) => {
  t.equal(GATE_MAX_ROWS, 2000);
  for (const [d, k] of [
    [3, 2],
    [64, 16],
    [512, 128],
    [4096, 256],
    [100000, 1000],
  ]) {
    const n = gateRowLimit(d, k);
    t.ok(n <= GATE_MAX_ROWS && n >= 2, `d ${d}, k ${k}: ${n} rows`);
    if (n > 2) t.ok(n * n * (d + k) <= GATE_BUDGET, `d ${d}, k ${k}: ${n * n * (d + k)} multiply-adds`);
  }
  t.equal(gateRowLimit(64, 16), 1936, 'digits at k = 16: nearly all 900 training rows of 5 digits, and more');
  t.end();
});

function walkThrough(labels = 3): { d: number; n: number; X: Float64Array; labels: Int32Array } {
  const n = labels * 3;
  return { d: 3, n, X: WALK.X.slice(0, n * 3), labels: WALK.labels.slice(0, n) };
}

t.test('trainMined under the default pull: the README walk-through trains to precision@1 1 and MAP@R 1', (t) => {
  t.ok(
    DEFAULT_MINED_PARAMS.startPull >= 30,
    `the default startPull (${DEFAULT_MINED_PARAMS.startPull}) is the strong one`,
  );
  for (const labels of [3, 2]) {
    const s = walkThrough(labels);
    const p: MinedTrainParams = { ...DEFAULT_MINED_PARAMS, outputDimension: 2 };
    const r = trainMined(s, p);
    t.equal(r.metrics.startPullGate, 0, `${labels} labels: the gate closes on a start that keeps the noise`);
    t.equal(r.metrics.startPullLambda, 0);
    const E = new Float64Array(s.n * 2);
    embed(r.W, 2, 3, s.X, s.n, true, E);
    const m = retrievalMetrics(E, s.n, 2, s.labels);
    t.equal(m.precisionAt1, 1, `${labels} labels: precision@1`);
    t.equal(m.mapAtR, 1, `${labels} labels: MAP@R`);
  }
  t.end();
});

t.test('trainMined reports the gate and λ = startPull · gate / label pairs; none without a pull', (t) => {
  // 6 labels, features 0–1 tell the label; the start (PCA) keeps them, so the gate is near 1
  const rng = createRng(11);
  const n = 120;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 6);
  const X = Float64Array.from({ length: n * 4 }, (_, i) => {
    const y = labels[Math.floor(i / 4)];
    const c = i % 4;
    const centre = c === 0 ? 4 * Math.cos(y) : c === 1 ? 4 * Math.sin(y) : 0;
    return centre + 0.3 * rng.normal();
  });
  const s = { d: 4, n, X, labels };
  const p: MinedTrainParams = {
    ...DEFAULT_MINED_PARAMS,
    outputDimension: 2,
    maxIterations: 60,
    batchSize: 24,
    samplesPerLabel: 4,
    evaluationInterval: 20,
  };
  const r = trainMined(s, p);
  const gate = r.metrics.startPullGate ?? NaN;
  t.ok(gate > 0.9 && gate <= 1, `gate ${gate}`);
  t.equal(r.metrics.startPullLambda, pullPerLabel(p.startPull * gate, r.metrics.trainLabels));
  const off = trainMined(s, { ...p, startPull: 0 });
  t.notOk('startPullGate' in off.metrics, 'no gate without a pull');
  t.notOk('startPullLambda' in off.metrics);
  t.end();
});

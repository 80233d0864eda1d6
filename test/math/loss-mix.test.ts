// The batch objective's levers of issue 18: the soft-neighbour (NCA-style) and multi-similarity terms alone
// and mixed with the triplet losses, and the pull towards the start W₀; finite-difference checks of each, their values on
// hand-made batches, and trainMined with them (deterministic for a seed, finite, resumable).
import t, { type Test } from 'tap';
import { distanceByName } from '../../src/math/distance.js';
import { createRng } from '../../src/math/rng.js';
import { LEGACY_LOSS_MIX } from '../../src/math/defaults.js';
import type { BatchLossOptions } from '../../src/math/mining/batch-loss.js';
import {
  createBatchObjective,
  DEFAULT_MINED_PARAMS,
  trainMined,
  type MinedCheckpoint,
  type MinedTrainParams,
} from '../../src/math/mining/index.js';
import { MULTI_SIMILARITY_DEFAULTS, multiSimilarityLoss } from '../../src/math/mining/multi-similarity.js';
import { softNeighbourLoss } from '../../src/math/mining/soft-neighbour.js';
import { createStartPull, pullPerLabel } from '../../src/math/mining/start-pull.js';

function maxFdError(f: (W: Float64Array, g: Float64Array | null) => number, W: Float64Array): number {
  const g = new Float64Array(W.length);
  f(W, g);
  const h = 1e-6;
  let worst = 0;
  for (let i = 0; i < W.length; i++) {
    const keep = W[i];
    W[i] = keep + h;
    const fp = f(W, null);
    W[i] = keep - h;
    const fm = f(W, null);
    W[i] = keep;
    const fd = (fp - fm) / (2 * h);
    worst = Math.max(worst, Math.abs(fd - g[i]) / Math.max(1, Math.abs(g[i])));
  }
  return worst;
}

t.test('soft-neighbour loss: value on a hand-made batch', (t) => {
  // 3 points, labels 0 0 1: anchor 0 has positive 1 at d=1 and negative 2 at d=2 (τ = 1)
  const D = Float64Array.from([0, 1, 2, 1, 0, 3, 2, 3, 0]);
  const labels = Int32Array.from([0, 0, 1]);
  const v = softNeighbourLoss(D, labels, 3, 1, 1, null, new Float64Array(3));
  const l0 = Math.log(Math.exp(-1) + Math.exp(-2)) + 1; // −log p_01
  const l1 = Math.log(Math.exp(-1) + Math.exp(-3)) + 1;
  t.ok(Math.abs(v - (l0 + l1) / 2) < 1e-12, 'mean over the anchors with a positive (point 2 has none)');
  t.equal(softNeighbourLoss(D, labels, 3, 1, 0, null, new Float64Array(3)), 0, 'weight 0 adds nothing');
  t.equal(softNeighbourLoss(D, Int32Array.from([0, 1, 2]), 3, 1, 1, null, new Float64Array(3)), 0, 'no positive: 0');
  const far = Float64Array.from([0, 1e6, 0, 1e6, 0, 0, 0, 0, 0]);
  t.ok(
    Number.isFinite(softNeighbourLoss(far, labels, 3, 0.01, 1, new Float64Array(9), new Float64Array(3))),
    'underflow stays finite',
  );
  t.end();
});

/**
 * Finite-difference checks of the batch objective with one extra term, alone (tripletWeight 0) and
 * mixed with a smooth triplet loss, for both distances, plain and unit norm, and each term setting.
 */
function checkTermGradients(t: Test, terms: Partial<BatchLossOptions>[], seed: number, scale: number): void {
  const d = 6;
  const k = 3;
  const B = 9;
  const labels = Int32Array.from([0, 0, 0, 1, 1, 1, 2, 2, 3]);
  for (const distance of ['squared', 'euclidean'] as const) {
    for (const normalize of [false, true]) {
      for (const tripletWeight of [0, 0.5]) {
        for (const term of terms) {
          const rng = createRng(seed++);
          const X = Float64Array.from({ length: B * d }, () => rng.range(-1, 1));
          const W = Float64Array.from({ length: k * d }, () => rng.range(-scale, scale));
          const obj = createBatchObjective(k, d, B, {
            margin: 0.3,
            loss: 'softplus', // smooth, so the mixed objective has no kink to straddle
            distance,
            normalize,
            mining: 'none',
            tripletWeight,
            ...term,
          });
          const tag = `${distance} normalize=${normalize} tripletWeight=${tripletWeight} ${JSON.stringify(term)}`;
          const f = (w: Float64Array, g: Float64Array | null) => obj.evaluate(w, X, labels, B, g).loss;
          t.ok(f(W, null) > 0, `${tag}: nonzero loss`);
          const err = maxFdError(f, W);
          t.ok(err < 1e-6, `${tag}: max scaled FD error ${err.toExponential(2)}`);
        }
      }
    }
  }
}

t.test('finite-difference gradient: soft-neighbour alone and mixed with the triplet losses', (t) => {
  const terms = [0.1, 1].map((temperature) => ({ softNeighbour: { weight: 0.7, temperature } }));
  checkTermGradients(t, terms, 41, 1);
  t.end();
});

t.test('multi-similarity loss: value and mining on a hand-made batch', (t) => {
  // squared distances; s = 1 − d/2. Labels 0 0 1 1. Anchor 0: positive 1 at s 0.6, negatives at s 0.2, 0.5;
  // anchor 3: positive 2 at s 0.5, negatives at s 0.5 and 0.3
  const D = Float64Array.from([0, 0.8, 1.6, 1, 0.8, 0, 1.2, 1.4, 1.6, 1.2, 0, 1, 1, 1.4, 1, 0]);
  const labels = Int32Array.from([0, 0, 1, 1]);
  const o = { weight: 1, alpha: 2, beta: 10, base: 0.5, epsilon: 0.05 };
  const sim = (d: number) => 1 - d / 2;
  // one anchor's ℓ over its mined pairs: positives with s − ε < max negative, negatives with s + ε > min positive
  const anchor = (i: number) => {
    const others = [0, 1, 2, 3].filter((j) => j !== i);
    const pos = others.filter((j) => labels[j] === labels[i]).map((j) => sim(D[i * 4 + j]));
    const neg = others.filter((j) => labels[j] !== labels[i]).map((j) => sim(D[i * 4 + j]));
    const minPos = Math.min(...pos);
    const maxNeg = Math.max(...neg);
    const P = pos.filter((s) => s - o.epsilon < maxNeg).reduce((a, s) => a + Math.exp(-o.alpha * (s - o.base)), 0);
    const N = neg.filter((s) => s + o.epsilon > minPos).reduce((a, s) => a + Math.exp(o.beta * (s - o.base)), 0);
    return Math.log1p(P) / o.alpha + Math.log1p(N) / o.beta;
  };
  const want = (anchor(0) + anchor(1) + anchor(2) + anchor(3)) / 4;
  const got = multiSimilarityLoss(D, 'squared', labels, 4, o, null);
  t.ok(Math.abs(got - want) < 1e-12, `mean of the anchors' terms (${got} against ${want})`);
  // anchor 0: its positive (s 0.6) is more than ε above every negative (0.2, 0.5): nothing is mined
  t.equal(anchor(0), 0, 'an anchor with only easy pairs adds 0');
  t.ok(got > 0 && Math.abs(got - anchor(3) / 4) < 1e-12, 'only anchor 3 has hard pairs, and the mean counts all four');
  const all = multiSimilarityLoss(D, 'squared', labels, 4, { ...o, epsilon: 10 }, null);
  t.ok(all > got, `a wider ε mines more pairs (${all} > ${got})`);
  t.equal(multiSimilarityLoss(D, 'squared', labels, 4, { ...o, weight: 0 }, null), 0, 'weight 0 adds nothing');
  t.equal(multiSimilarityLoss(D, 'squared', Int32Array.from([0, 1, 2, 3]), 4, o, null), 0, 'no positive: 0');
  t.equal(multiSimilarityLoss(D, 'squared', Int32Array.from([0, 0, 0, 0]), 4, o, null), 0, 'no negative: 0');
  const E = Float64Array.from(D, Math.sqrt);
  t.ok(Math.abs(multiSimilarityLoss(E, 'euclidean', labels, 4, o, null) - got) < 1e-12, 'euclidean: s = 1 − d²/2');
  const far = Float64Array.from(D, (x) => x * 1e6);
  t.ok(
    Number.isFinite(multiSimilarityLoss(far, 'squared', labels, 4, o, new Float64Array(16))),
    'no overflow far apart',
  );
  t.end();
});

t.test('finite-difference gradient: multi-similarity alone and mixed with the triplet losses', (t) => {
  // ε this wide mines every pair, so the FD steps cannot change the mining
  checkTermGradients(t, [{ multiSimilarity: { ...MULTI_SIMILARITY_DEFAULTS, weight: 0.8, epsilon: 10 } }], 5, 0.5);
  t.throws(
    () =>
      createBatchObjective(2, 2, 4, {
        margin: 0.2,
        loss: 'hinge',
        distance: distanceByName('cosine'),
        normalize: true,
        mining: 'none',
        multiSimilarity: { ...MULTI_SIMILARITY_DEFAULTS, weight: 1 },
      }),
    RangeError,
    'a distance that is not a function of ‖eᵢ − eⱼ‖² is refused',
  );
  t.end();
});

t.test('start pull: value, finite-difference gradient, λ = 0 and W₀ = 0 do nothing', (t) => {
  const rng = createRng(3);
  const W0 = Float64Array.from({ length: 12 }, () => rng.normal());
  const W = Float64Array.from(W0, (x) => x + 0.1 * rng.normal());
  const pull = createStartPull(W0, 0.5);
  t.equal(pull.apply(W0, null), 0, 'zero at the start');
  let num = 0;
  let den = 0;
  for (let i = 0; i < W.length; i++) {
    num += (W[i] - W0[i]) ** 2;
    den += W0[i] ** 2;
  }
  t.ok(Math.abs(pull.apply(W, null) - (0.5 * num) / den) < 1e-12, 'λ‖W − W₀‖²/‖W₀‖²');
  const err = maxFdError((w, g) => pull.apply(w, g), W);
  t.ok(err < 1e-7, `max scaled FD error ${err.toExponential(2)}`);
  const g = new Float64Array(12);
  t.equal(createStartPull(W0, 0).apply(W, g), 0);
  t.equal(createStartPull(new Float64Array(12), 1).apply(W, g), 0);
  t.ok(
    g.every((x) => x === 0),
    'no gradient',
  );
  t.throws(() => pull.apply(new Float64Array(3), null), RangeError);
  t.end();
});

t.test('directional start pull: value, finite-difference gradient, blind to the scale of W', (t) => {
  const rng = createRng(8);
  const W0 = Float64Array.from({ length: 12 }, () => rng.normal());
  const W = Float64Array.from(W0, (x) => x + 0.5 * rng.normal());
  const pull = createStartPull(W0, 0.7, true);
  t.ok(
    Math.abs(
      pull.apply(
        Float64Array.from(W0, (x) => 3 * x),
        null,
      ),
    ) < 1e-12,
    'zero along W₀, whatever the scale',
  );
  const scaled = Float64Array.from(W, (x) => 5 * x);
  t.ok(Math.abs(pull.apply(W, null) - pull.apply(scaled, null)) < 1e-12, 'same value for 5·W');
  const err = maxFdError((w, g) => pull.apply(w, g), W);
  t.ok(err < 1e-7, `max scaled FD error ${err.toExponential(2)}`);
  t.end();
});

t.test('the pull is divided by the pairs of training labels', (t) => {
  t.equal(pullPerLabel(30, 5), 3, '5 labels: 10 pairs');
  t.equal(pullPerLabel(30, 2), 30, '2 labels: 1 pair');
  t.equal(pullPerLabel(30, 1), 0, 'one label: no pair, no pull');
  t.equal(pullPerLabel(30, 0), 0);
  t.ok(pullPerLabel(30, 900) < 1e-4, '900 labels: the pull vanishes');
  t.end();
});

function clusters(seed: number): { n: number; d: number; X: Float64Array; labels: Int32Array } {
  const rng = createRng(seed);
  const d = 8;
  const n = 240;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 24);
  const C = Float64Array.from({ length: 24 * d }, () => rng.normal());
  const X = Float64Array.from(
    { length: n * d },
    (_, i) => C[labels[Math.floor(i / d)] * d + (i % d)] + 0.8 * rng.normal(),
  );
  return { n, d, X, labels };
}

t.test('trainMined with the levers: deterministic, finite, each lever changes the result', (t) => {
  const s = clusters(5);
  const base: MinedTrainParams = {
    ...DEFAULT_MINED_PARAMS,
    ...LEGACY_LOSS_MIX,
    outputDimension: 4,
    maxIterations: 200,
    batchSize: 24,
    samplesPerLabel: 4,
    evaluationInterval: 50,
    seed: 9,
  };
  const mixes: Partial<MinedTrainParams>[] = [
    {},
    { softNeighbourWeight: 1 },
    { tripletWeight: 0, softNeighbourWeight: 1 },
    { startPull: 1 },
    { tripletWeight: 0, softNeighbourWeight: 1, startPull: 10 },
    { multiSimilarityWeight: 1 },
    { tripletWeight: 0, multiSimilarityWeight: 1 },
  ];
  const Ws = mixes.map((m) => {
    const a = trainMined(s, { ...base, ...m });
    const b = trainMined(s, { ...base, ...m });
    t.same(Array.from(a.W), Array.from(b.W), `${JSON.stringify(m)}: deterministic for a seed`);
    t.ok(a.W.every(Number.isFinite) && Number.isFinite(a.metrics.trainLoss), `${JSON.stringify(m)}: finite`);
    return a.W;
  });
  for (let i = 1; i < Ws.length; i++)
    t.notSame(Array.from(Ws[i]), Array.from(Ws[0]), `mix ${i} differs from the legacy mix`);
  t.throws(() => trainMined(s, { ...base, tripletWeight: 0, softNeighbourWeight: 0 }), RangeError);
  t.throws(() => trainMined(s, { ...base, softNeighbourTemperature: 0 }), RangeError);
  t.throws(() => trainMined(s, { ...base, startPull: -1 }), RangeError);
  t.throws(() => trainMined(s, { ...base, multiSimilarityWeight: -1 }), RangeError);
  t.throws(() => trainMined(s, { ...base, multiSimilarityWeight: Infinity }), RangeError);
  t.end();
});

t.test('trainMined with a start pull resumes to the same W', (t) => {
  const s = clusters(6);
  const p: MinedTrainParams = {
    ...DEFAULT_MINED_PARAMS,
    outputDimension: 4,
    maxIterations: 120,
    batchSize: 24,
    samplesPerLabel: 4,
    evaluationInterval: 40,
    softNeighbourWeight: 1,
    startPull: 2,
    seed: 4,
    normalize: true, // the directional pull
  };
  const full = trainMined(s, p);
  let saved: MinedCheckpoint | undefined;
  trainMined(s, p, {
    checkpointEvery: 40,
    onCheckpoint: (c) => {
      if (c.iteration === 40) saved = c;
    },
  });
  t.ok(saved, 'a checkpoint at step 40');
  const resumed = trainMined(s, p, { resumeFrom: saved });
  t.same(Array.from(resumed.W), Array.from(full.W), 'same W as the uninterrupted run');
  t.ok((full.metrics.startPullGate ?? 0) > 0, `the start gate is open (${full.metrics.startPullGate})`);
  t.equal(resumed.metrics.startPullGate, full.metrics.startPullGate, 'the resumed run recomputes the same gate');
  t.equal(resumed.metrics.startPullLambda, full.metrics.startPullLambda, 'and the same λ');
  t.end();
});

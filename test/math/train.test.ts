// train(): determinism, cancellation, progress, learning, init shapes, k > d, zero-loss stop.
import t from 'tap';
import { initW } from '../../src/math/init.js';
import { createRng } from '../../src/math/rng.js';
import { DEFAULT_TRAIN_PARAMS } from '../../src/math/defaults.js';
import { train } from '../../src/math/train.js';
import type { Progress, TrainParams, TripletSet } from '../../src/math/types.js';
import { randomSet } from './helpers.js';

/** Two Gaussian clusters in d dims separated along the first axis; triplets pick a, p from one cluster and n from the other. */
function clusteredSet(m: number, d: number, seed: number, gap = 3): TripletSet {
  const rng = createRng(seed);
  const anchors = new Float32Array(m * d);
  const positives = new Float32Array(m * d);
  const negatives = new Float32Array(m * d);
  for (let i = 0; i < m; i++) {
    const c = i % 2 === 0 ? gap : -gap;
    for (let j = 0; j < d; j++) {
      const shift = j === 0 ? c : 0;
      anchors[i * d + j] = shift + rng.normal();
      positives[i * d + j] = shift + rng.normal();
      negatives[i * d + j] = (j === 0 ? -c : 0) + rng.normal();
    }
  }
  return { m, d, anchors, positives, negatives };
}

const params = (over: Partial<TrainParams> = {}): TrainParams => ({
  ...DEFAULT_TRAIN_PARAMS,
  outputDimension: 3,
  maxIterations: 60,
  ...over,
});

t.test('same seed ⇒ identical W; different seed ⇒ different uniform init', (t) => {
  const set = randomSet(createRng(5), 200, 8);
  for (const init of ['uniform', 'pca', 'identity'] as const) {
    const a = train(set, params({ init, seed: 7 }));
    const b = train(set, params({ init, seed: 7 }));
    t.same(Array.from(a.W), Array.from(b.W), `${init}: bit-identical`);
  }
  const u1 = train(set, params({ init: 'uniform', seed: 1 }));
  const u2 = train(set, params({ init: 'uniform', seed: 2 }));
  t.notSame(Array.from(u1.W), Array.from(u2.W), 'uniform: seed matters');
  t.end();
});

t.test('cancellation via shouldStop', (t) => {
  const set = randomSet(createRng(6), 300, 10);
  let polls = 0;
  const r = train(set, params({ maxIterations: 1000 }), { shouldStop: () => ++polls > 8 });
  t.equal(r.metrics.stopReason, 'cancelled');
  t.ok(r.metrics.iterations < 1000);
  t.ok(r.W.every(Number.isFinite));
  t.end();
});

t.test('progress callback is called, last call reflects the result', (t) => {
  const set = clusteredSet(200, 6, 1);
  const calls: Progress[] = [];
  const r = train(set, params({ maxIterations: 30 }), { onProgress: (p) => calls.push(p), progressIntervalMs: 0 });
  t.ok(calls.length >= 2, `${calls.length} calls`);
  const last = calls[calls.length - 1];
  t.equal(last.iteration, r.metrics.iterations);
  t.equal(last.loss, r.metrics.trainLoss);
  t.equal(last.maxIterations, 30);
  t.ok(
    calls.every(
      (p) => p.elapsedMs >= 0 && p.activeFraction >= 0 && p.activeFraction <= 1 && Number.isFinite(p.gradientNorm),
    ),
  );
  let throttled = 0;
  train(set, params({ maxIterations: 30 }), { onProgress: () => throttled++, progressIntervalMs: 1e9 });
  t.equal(throttled, 2, 'throttled: the first iteration and the final call');
  t.end();
});

t.test('loss decreases on a separable case, both optimisers, normalize on/off', (t) => {
  const set = clusteredSet(400, 6, 2);
  for (const optimizer of ['lbfgs', 'cg'] as const) {
    for (const normalize of [false, true]) {
      const p = params({ optimizer, normalize, init: 'uniform', outputDimension: 2, maxIterations: 100 });
      const before = train(set, { ...p, maxIterations: 0 });
      const after = train(set, p);
      t.ok(
        after.metrics.trainLoss < 0.5 * before.metrics.trainLoss,
        `${optimizer} normalize=${normalize}: ${before.metrics.trainLoss.toFixed(4)} → ${after.metrics.trainLoss.toFixed(4)} (${after.metrics.stopReason})`,
      );
      t.ok(after.metrics.functionEvaluations >= after.metrics.iterations);
    }
  }
  t.end();
});

t.test('every init has shape k×d, including k > d, and is deterministic', (t) => {
  const set = randomSet(createRng(8), 50, 5);
  for (const init of ['uniform', 'pca', 'identity'] as const) {
    for (const k of [1, 3, 5, 8]) {
      const W = initW({ init, k, d: 5, seed: 3 }, set);
      t.equal(W.length, k * 5, `${init} k=${k}`);
      t.ok(W.every(Number.isFinite));
      t.same(Array.from(initW({ init, k, d: 5, seed: 3 }, set)), Array.from(W));
    }
  }
  const id = initW({ init: 'identity', k: 3, d: 5, seed: 0 }, set);
  t.same(Array.from(id.subarray(0, 5)), [1, 0, 0, 0, 0]);
  t.same(Array.from(id.subarray(5, 10)), [0, 1, 0, 0, 0]);
  const r = Math.sqrt(6) / Math.sqrt(3 + 5 + 1);
  t.ok(
    initW({ init: 'uniform', k: 3, d: 5, seed: 0 }, set).every((v) => Math.abs(v) < r),
    'uniform within ±r',
  );
  // PCA rows are orthogonal and share one scale
  const P = initW({ init: 'pca', k: 3, d: 5, seed: 0 }, set);
  for (let a = 0; a < 3; a++)
    for (let b = 0; b < 3; b++) {
      let s = 0;
      for (let j = 0; j < 5; j++) s += P[a * 5 + j] * P[b * 5 + j];
      if (a !== b) t.ok(Math.abs(s) < 1e-10, `pca rows ${a},${b} orthogonal`);
    }
  const big = train(set, params({ outputDimension: 8, maxIterations: 20 }));
  t.equal(big.W.length, 40, 'train with k > d');
  t.ok(big.W.every(Number.isFinite));
  t.end();
});

t.test('PCA init finds the dominant direction', (t) => {
  const set = clusteredSet(300, 4, 3, 5);
  const W = initW({ init: 'pca', k: 1, d: 4, seed: 0 }, set);
  const n = Math.hypot(...W);
  t.ok(Math.abs(W[0]) / n > 0.99, `first row ≈ ±e1 (${Array.from(W).map((v) => v.toFixed(3))})`);
  t.end();
});

t.test('stops at zero loss', (t) => {
  // negatives far away along the only axis: identity start already satisfies every margin
  const set: TripletSet = {
    m: 2,
    d: 1,
    anchors: new Float32Array([0, 1]),
    positives: new Float32Array([0.1, 1.1]),
    negatives: new Float32Array([5, -4]),
  };
  const r = train(set, params({ init: 'identity', outputDimension: 1 }));
  t.equal(r.metrics.stopReason, 'zero_loss');
  t.equal(r.metrics.trainLoss, 0);
  t.equal(r.metrics.iterations, 0);
  t.equal(r.metrics.activeFraction, 0);
  t.end();
});

t.test('diagnostics: collapse warning, metrics finite', (t) => {
  // identical a, p, n: every bracket is the margin whatever W is; weight decay drives W to 0
  const rng = createRng(4);
  const base = randomSet(rng, 50, 4);
  const set: TripletSet = { ...base, positives: base.anchors, negatives: base.anchors };
  const r = train(set, params({ weightDecay: 1, maxIterations: 50 }));
  t.ok(
    r.metrics.warnings.some((w) => w.startsWith('collapse')),
    r.metrics.warnings.join('; '),
  );
  t.ok(r.metrics.warnings.some((w) => w.startsWith('every triplet active')));
  for (const [key, v] of Object.entries(r.metrics)) if (typeof v === 'number') t.ok(Number.isFinite(v), key);
  t.end();
});

t.test('rejects bad params', (t) => {
  const set = randomSet(createRng(1), 5, 2);
  t.throws(() => train(set, params({ outputDimension: 0 })));
  t.throws(() => train(set, params({ margin: -1 })));
  t.end();
});

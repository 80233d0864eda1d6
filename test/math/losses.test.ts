// Central finite-difference gradient checks for every option combination.
import t from 'tap';
import { createTripletObjective } from '../../src/math/losses.js';
import { createRng } from '../../src/math/rng.js';
import type { Hinge, TripletSet } from '../../src/math/types.js';
import { randomSet } from './helpers.js';

const KINK_GUARD = 1e-4;

/** Smallest |bracket| over the set, to keep the check away from the hinge's kinks. */
function minAbsBracket(set: TripletSet, W: Float64Array, k: number, margin: number, normalize: boolean): number {
  let best = Infinity;
  for (let i = 0; i < set.m; i++) {
    const one: TripletSet = {
      m: 1,
      d: set.d,
      anchors: set.anchors.subarray(i * set.d, (i + 1) * set.d),
      positives: set.positives.subarray(i * set.d, (i + 1) * set.d),
      negatives: set.negatives.subarray(i * set.d, (i + 1) * set.d),
    };
    const v = createTripletObjective(one, { margin, normalize, weightDecay: 0, hinge: 'none' }).evaluate(W, k, null);
    best = Math.min(best, Math.abs(v.loss));
  }
  return best;
}

function fdCheck(t: any, normalize: boolean, weightDecay: number, hinge: Hinge, seed: number) {
  const rng = createRng(seed);
  const m = 12,
    d = 7,
    k = 3,
    margin = 0.5;
  const set = randomSet(rng, m, d);
  const W = new Float64Array(k * d);
  // redraw W until no bracket sits near a kink, so the loss is smooth in a neighbourhood
  for (let tries = 0; tries < 50; tries++) {
    for (let i = 0; i < W.length; i++) W[i] = rng.range(-1, 1);
    if (minAbsBracket(set, W, k, margin, normalize) > KINK_GUARD) break;
  }
  t.ok(minAbsBracket(set, W, k, margin, normalize) > KINK_GUARD, 'found a point away from kinks');
  const obj = createTripletObjective(set, { margin, normalize, weightDecay, hinge });
  const g = new Float64Array(W.length);
  const v = obj.evaluate(W, k, g);
  t.ok(Number.isFinite(v.loss), 'finite loss');
  const h = 1e-6;
  let worst = 0;
  for (let i = 0; i < W.length; i++) {
    const keep = W[i];
    W[i] = keep + h;
    const fp = obj.evaluate(W, k, null).loss;
    W[i] = keep - h;
    const fm = obj.evaluate(W, k, null).loss;
    W[i] = keep;
    const fd = (fp - fm) / (2 * h);
    worst = Math.max(worst, Math.abs(fd - g[i]) / Math.max(1, Math.abs(g[i])));
  }
  t.ok(
    worst < 1e-6,
    `normalize=${normalize} wd=${weightDecay} hinge=${hinge}: max scaled FD error ${worst.toExponential(2)}`,
  );
}

t.test('finite-difference gradient, every option combination', (t) => {
  let seed = 1;
  for (const normalize of [false, true]) {
    for (const weightDecay of [0, 0.03]) {
      for (const hinge of ['relu', 'none'] as Hinge[]) fdCheck(t, normalize, weightDecay, hinge, seed++);
    }
  }
  t.end();
});

t.test('float32 and float64 storage agree, loss-only equals loss with gradient', (t) => {
  const rng = createRng(9);
  const set = randomSet(rng, 40, 9);
  const set64: TripletSet = {
    ...set,
    anchors: Float64Array.from(set.anchors),
    positives: Float64Array.from(set.positives),
    negatives: Float64Array.from(set.negatives),
  };
  const W = new Float64Array(4 * 9).map(() => rng.range(-1, 1));
  for (const normalize of [false, true]) {
    const o32 = createTripletObjective(set, { margin: 0.3, normalize, weightDecay: 0.01 });
    const o64 = createTripletObjective(set64, { margin: 0.3, normalize, weightDecay: 0.01 });
    const a = o32.evaluate(W, 4, new Float64Array(W.length));
    const b = o64.evaluate(W, 4, new Float64Array(W.length));
    // the squared path stores A−P, A−N in the input precision, so float32 data rounds the differences (~1e-7)
    const tol = normalize ? 1e-12 : 1e-6;
    t.ok(
      Math.abs(a.loss - b.loss) < tol * Math.max(1, b.loss),
      `normalize=${normalize}: same loss (${a.loss} vs ${b.loss})`,
    );
    t.equal(a.activeCount, b.activeCount);
    t.equal(o32.evaluate(W, 4, null).loss, a.loss, 'loss-only path identical');
  }
  t.end();
});

t.test('zero embeddings never produce NaN with normalize', (t) => {
  const d = 3,
    m = 2;
  const set: TripletSet = {
    m,
    d,
    anchors: new Float32Array(m * d),
    positives: new Float32Array(m * d).fill(1),
    negatives: new Float32Array(m * d).fill(-1),
  };
  const W = new Float64Array(2 * d); // W = 0: every embedding is zero
  const g = new Float64Array(W.length);
  const v = createTripletObjective(set, { margin: 0.2, normalize: true, weightDecay: 0 }).evaluate(W, 2, g);
  t.ok(Number.isFinite(v.loss), `loss ${v.loss}`);
  t.ok(g.every(Number.isFinite), 'finite gradient');
  t.equal(v.loss, 0.2, 'all distances 0 → every bracket equals the margin');
  t.end();
});

t.test('counts: active, correct; hinge none includes negative brackets', (t) => {
  // d = 1, W = [1]: a=0, p=1, n=2 → dp=1, dn=4, bracket = -3 + m
  const set: TripletSet = {
    m: 2,
    d: 1,
    anchors: new Float32Array([0, 0]),
    positives: new Float32Array([1, 2]),
    negatives: new Float32Array([2, 1]),
  };
  const W = new Float64Array([1]);
  const relu = createTripletObjective(set, { margin: 1, normalize: false, weightDecay: 0 }).evaluate(W, 1, null);
  t.equal(relu.activeCount, 1);
  t.equal(relu.correctCount, 1);
  t.equal(relu.loss, (0 + 4) / 2, 'brackets −2 and 4 → hinge mean 2');
  const none = createTripletObjective(set, { margin: 1, normalize: false, weightDecay: 0, hinge: 'none' }).evaluate(
    W,
    1,
    null,
  );
  t.equal(none.loss, (-2 + 4) / 2);
  const wd = createTripletObjective(set, { margin: 1, normalize: false, weightDecay: 0.5 }).evaluate(W, 1, null);
  t.equal(wd.loss, 2 + 0.25, '½·λ·‖W‖² added');
  t.end();
});

t.test('rejects malformed sets', (t) => {
  t.throws(() =>
    createTripletObjective(
      { m: 2, d: 2, anchors: new Float32Array(3), positives: new Float32Array(4), negatives: new Float32Array(4) },
      { margin: 0.2, normalize: false, weightDecay: 0 },
    ),
  );
  t.end();
});

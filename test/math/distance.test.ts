// The Distance objects: hand values, the direct, Gram and squared forms agreeing, the backward pass
// against finite differences, the name lookup, and the distance injected into the batch loss,
// the distance matrices and the retrieval metrics.
import t from 'tap';
import {
  cosineDistance,
  createEuclideanDistance,
  distanceByName,
  EUCLIDEAN_EPSILON,
  euclideanDistance,
  smoothEuclideanDistance,
  squaredDistance,
  type Distance,
} from '../../src/math/distance.js';
import { batchDistances, pairwiseDistances, rowSquaredNorms } from '../../src/math/distances.js';
import { retrievalMetrics } from '../../src/math/metrics.js';
import { createBatchObjective } from '../../src/math/mining/batch-loss.js';
import { createRng } from '../../src/math/rng.js';

const ALL: Distance[] = [squaredDistance, euclideanDistance, smoothEuclideanDistance, cosineDistance];

function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

t.test('hand values of each distance', (t) => {
  const x = Float64Array.from([3, 4]);
  const y = Float64Array.from([0, 0]);
  const z = Float64Array.from([-3, -4]);
  const u = Float64Array.from([4, -3]);
  t.equal(squaredDistance.pair(x, 0, y, 0, 2), 25);
  t.equal(euclideanDistance.pair(x, 0, y, 0, 2), 5);
  t.equal(euclideanDistance.pair(x, 0, x, 0, 2), 0, 'exact euclidean: 0 between identical rows');
  t.equal(
    smoothEuclideanDistance.pair(x, 0, x, 0, 2),
    Math.sqrt(EUCLIDEAN_EPSILON),
    "the losses' euclidean is floored at √ε",
  );
  t.equal(cosineDistance.pair(x, 0, y, 0, 2), 1, 'a zero vector is orthogonal to everything');
  t.equal(cosineDistance.pair(x, 0, z, 0, 2), 2);
  t.equal(cosineDistance.pair(x, 0, u, 0, 2), 1);
  t.ok(Math.abs(cosineDistance.pair(x, 0, x, 0, 2)) < 1e-15);
  t.equal(squaredDistance.self(25), 0);
  t.equal(euclideanDistance.self(25), 0);
  t.equal(cosineDistance.self(25), 0);
  t.equal(cosineDistance.self(0), 1);
  t.equal(cosineDistance.fromSquared, null, 'cosine is not a function of the squared distance');
  t.end();
});

t.test('direct, Gram and squared forms agree on random rows', (t) => {
  const rng = createRng(21);
  const k = 7;
  for (let trial = 0; trial < 50; trial++) {
    const x = new Float64Array(k);
    const y = new Float64Array(k);
    for (let r = 0; r < k; r++) {
      x[r] = rng.range(-2, 2);
      y[r] = rng.range(-2, 2);
    }
    let s = 0;
    for (let r = 0; r < k; r++) s += (x[r] - y[r]) ** 2;
    for (const dist of ALL) {
      const direct = dist.pair(x, 0, y, 0, k);
      t.ok(
        Math.abs(dist.fromGram(dot(x, x), dot(y, y), dot(x, y)) - direct) < 1e-12 * Math.max(1, direct),
        `${dist.name} Gram form`,
      );
      if (dist.fromSquared)
        t.ok(Math.abs(dist.fromSquared(s) - direct) < 1e-12 * Math.max(1, direct), `${dist.name} from squared`);
      t.ok(Math.abs(dist.pair(y, 0, x, 0, k) - direct) < 1e-15 * Math.max(1, direct), `${dist.name} symmetric`);
    }
  }
  t.end();
});

t.test('backprop matches central finite differences', (t) => {
  const rng = createRng(5);
  const k = 5;
  const h = 1e-6;
  for (const dist of ALL) {
    for (let trial = 0; trial < 10; trial++) {
      const E = new Float64Array(2 * k);
      for (let i = 0; i < E.length; i++) E[i] = rng.range(-1, 1);
      const g = rng.range(0.5, 2);
      const s = squaredDistance.pair(E, 0, E, k, k);
      const G = new Float64Array(2 * k);
      dist.backprop(g, E, 0, k, k, s, dist.pair(E, 0, E, k, k), G);
      let worst = 0;
      for (let i = 0; i < 2 * k; i++) {
        const keep = E[i];
        E[i] = keep + h;
        const fp = dist.pair(E, 0, E, k, k);
        E[i] = keep - h;
        const fm = dist.pair(E, 0, E, k, k);
        E[i] = keep;
        worst = Math.max(worst, Math.abs((g * (fp - fm)) / (2 * h) - G[i]));
      }
      t.ok(worst < 1e-7, `${dist.name} trial ${trial}: max FD error ${worst.toExponential(2)}`);
    }
  }
  t.end();
});

t.test('backprop is zero where the distance is constant', (t) => {
  const E = Float64Array.from([1, 2, 1, 2, 0, 0]);
  const G = new Float64Array(6);
  smoothEuclideanDistance.backprop(1, E, 0, 2, 2, 0, smoothEuclideanDistance.pair(E, 0, E, 2, 2), G);
  cosineDistance.backprop(1, E, 0, 4, 2, 5, 1, G);
  t.same(Array.from(G), [0, 0, 0, 0, 0, 0], 'coincident rows (floored euclidean) and a zero row (cosine)');
  const floored = createEuclideanDistance(0.5);
  t.equal(floored.pair(E, 0, E, 4, 2), Math.sqrt(5));
  t.equal(
    floored.pair(Float64Array.from([0]), 0, Float64Array.from([0.5]), 0, 1),
    Math.sqrt(0.5),
    'below the floor: √floor',
  );
  t.throws(() => createEuclideanDistance(-1), RangeError);
  t.end();
});

t.test('distanceByName: one vocabulary, the API spelling included', (t) => {
  t.equal(distanceByName('squared'), squaredDistance);
  t.equal(distanceByName('squared_euclidean'), squaredDistance);
  t.equal(distanceByName('euclidean'), euclideanDistance);
  t.equal(distanceByName('euclidean', { smooth: true }), smoothEuclideanDistance);
  t.equal(distanceByName('cosine'), cosineDistance);
  t.throws(() => distanceByName('manhattan' as never), RangeError);
  t.end();
});

t.test('pairwiseDistances takes a Distance or a name, and uses its Gram form for large blocks', (t) => {
  const rng = createRng(8);
  const k = 16;
  const n = 70;
  const E = new Float64Array(n * k);
  for (let i = 0; i < E.length; i++) E[i] = rng.range(-1, 1);
  // a float64 "kernel" Gram product, so the Gram path is checked against the direct one
  const gram = (A: ArrayLike<number>, na: number, B: ArrayLike<number>, nb: number, kk: number, out: Float64Array) => {
    for (let i = 0; i < na; i++)
      for (let j = 0; j < nb; j++) {
        let s = 0;
        for (let r = 0; r < kk; r++) s += A[i * kk + r] * B[j * kk + r];
        out[i * nb + j] = s;
      }
  };
  const kernels = { gram } as never;
  for (const dist of [squaredDistance, euclideanDistance, cosineDistance]) {
    const byObject = new Float64Array(n * n);
    const byName = new Float64Array(n * n);
    const viaGram = new Float64Array(n * n);
    pairwiseDistances(E, n, E, n, k, dist, byObject);
    pairwiseDistances(E, n, E, n, k, dist.name, byName);
    pairwiseDistances(E, n, E, n, k, dist, viaGram, kernels);
    t.same(byObject, byName, `${dist.name}: object and name agree`);
    let worst = 0;
    for (let i = 0; i < n * n; i++) worst = Math.max(worst, Math.abs(viaGram[i] - byObject[i]));
    t.ok(worst < 1e-12, `${dist.name}: Gram form within ${worst.toExponential(2)} of the direct form`);
    for (let i = 0; i < n; i++) t.equal(viaGram[i * n + i], 0, `${dist.name}: diagonal exactly 0`);
  }
  t.end();
});

t.test('batchDistances: D from the squared distances, or from the direct form for cosine', (t) => {
  const rng = createRng(13);
  const B = 6;
  const k = 3;
  const E = new Float64Array(B * k);
  for (let i = 0; i < E.length; i++) E[i] = rng.range(-1, 1);
  const S = new Float64Array(B * B);
  const D = new Float64Array(B * B);
  batchDistances(E, B, k, 'euclidean', S, D);
  for (let i = 0; i < B * B; i++) t.equal(D[i], Math.sqrt(Math.max(S[i], EUCLIDEAN_EPSILON)));
  batchDistances(E, B, k, cosineDistance, S, D);
  for (let i = 0; i < B; i++) {
    t.equal(D[i * B + i], 0);
    for (let j = 0; j < B; j++) if (i !== j) t.equal(D[i * B + j], cosineDistance.pair(E, i * k, E, j * k, k));
  }
  t.throws(() => batchDistances(E, B, k, cosineDistance, S, S), RangeError, 'cosine cannot overwrite S');
  t.end();
});

t.test('batch loss with an injected cosine distance: finite-difference gradient', (t) => {
  const d = 5;
  const k = 3;
  const B = 8;
  const labels = Int32Array.from([0, 0, 0, 1, 1, 2, 2, 2]);
  const rng = createRng(17);
  for (const normalize of [false, true]) {
    // softplus over every valid triplet: smooth in W, so finite differences apply everywhere
    const obj = createBatchObjective(k, d, B, {
      margin: 0.1,
      loss: 'softplus',
      distance: cosineDistance,
      normalize,
      mining: 'none',
    });
    const X = new Float64Array(B * d);
    const W = new Float64Array(k * d);
    for (let i = 0; i < X.length; i++) X[i] = rng.range(-1, 1);
    for (let i = 0; i < W.length; i++) W[i] = rng.range(-1, 1);
    const g = new Float64Array(k * d);
    const v = obj.evaluate(W, X, labels, B, g);
    t.ok(v.loss > 0 && v.tripletCount > 0);
    const h = 1e-6;
    let worst = 0;
    for (let i = 0; i < W.length; i++) {
      const keep = W[i];
      W[i] = keep + h;
      const fp = obj.evaluate(W, X, labels, B, null).loss;
      W[i] = keep - h;
      const fm = obj.evaluate(W, X, labels, B, null).loss;
      W[i] = keep;
      worst = Math.max(worst, Math.abs((fp - fm) / (2 * h) - g[i]) / Math.max(1, Math.abs(g[i])));
    }
    t.ok(worst < 1e-6, `normalize=${normalize}: max scaled FD error ${worst.toExponential(2)}`);
  }
  t.end();
});

t.test('retrievalMetrics ranks by the injected distance', (t) => {
  // unit rows: cosine = squared/2, the same ranking, so the same figures
  const rng = createRng(29);
  const n = 120;
  const k = 4;
  const E = new Float64Array(n * k);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 6;
    for (let r = 0; r < k; r++) E[i * k + r] = (r === labels[i] % k ? 1 : 0) + rng.range(-0.8, 0.8);
  }
  const sq = rowSquaredNorms(E, n, k);
  for (let i = 0; i < n; i++) for (let r = 0; r < k; r++) E[i * k + r] /= Math.sqrt(sq[i]);
  const base = retrievalMetrics(E, n, k, labels);
  t.same(retrievalMetrics(E, n, k, labels, undefined, cosineDistance), base, 'cosine on unit rows ranks as euclidean');
  t.same(retrievalMetrics(E, n, k, labels, undefined, euclideanDistance), base, 'euclidean ranks as squared');
  // scale the rows apart: euclidean ranking changes, cosine ranking does not
  for (let i = 0; i < n; i++) for (let r = 0; r < k; r++) E[i * k + r] *= 1 + (i % 7);
  t.same(retrievalMetrics(E, n, k, labels, undefined, cosineDistance), base, "cosine ignores the rows' scale");
  t.not(retrievalMetrics(E, n, k, labels).mapAtR, base.mapAtR, 'squared does not');
  t.end();
});

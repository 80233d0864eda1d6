// distances and metrics on small hand-computed cases.
import t from 'tap';
import { pairwiseDistances } from '../../src/math/distances.js';
import { embed } from '../../src/math/embed.js';
import { evaluateTriplets, retrievalMetrics } from '../../src/math/metrics.js';
import type { TripletSet } from '../../src/math/types.js';

t.test('embed: Wx and L2 normalisation with a zero guard', (t) => {
  const W = new Float64Array([1, 0, 0, 2]); // k=2, d=2
  const X = new Float32Array([3, 2, 0, 0]);
  const out = new Float64Array(4);
  embed(W, 2, 2, X, 2, false, out);
  t.same(Array.from(out), [3, 4, 0, 0]);
  embed(W, 2, 2, X, 2, true, out);
  t.ok(
    [0.6, 0.8, 0, 0].every((v, i) => Math.abs(out[i] - v) < 1e-15),
    `normalised ${Array.from(out)}; zero row stays zero, no NaN`,
  );
  const o32 = new Float32Array(4);
  embed(W, 2, 2, X, 2, true, o32);
  t.ok(Math.abs(o32[0] - 0.6) < 1e-7);
  t.throws(() => embed(W, 3, 2, X, 2, false, out), 'shape mismatch is rejected');
  t.end();
});

t.test('pairwiseDistances: euclidean, squared, cosine', (t) => {
  const A = new Float64Array([0, 0, 3, 4]);
  const B = new Float64Array([3, 4, -3, -4, 1, 0]);
  const D = new Float64Array(6);
  pairwiseDistances(A, 2, B, 3, 2, 'euclidean', D);
  t.same(Array.from(D), [5, 5, 1, 0, 10, Math.hypot(2, 4)]);
  pairwiseDistances(A, 2, B, 3, 2, 'squared_euclidean', D);
  t.same(Array.from(D), [25, 25, 1, 0, 100, 20]);
  pairwiseDistances(A, 2, B, 3, 2, 'cosine', D);
  t.same(Array.from(D).slice(0, 3), [1, 1, 1], 'zero vector: distance 1');
  t.ok(Math.abs(D[3]) < 1e-15 && Math.abs(D[4] - 2) < 1e-15 && Math.abs(D[5] - 0.4) < 1e-15, `cosine ${Array.from(D)}`);
  t.end();
});

t.test('evaluateTriplets: loss without weight decay, strict accuracy, active fraction', (t) => {
  // d=1, W=[1]: dp, dn = (1,4), (4,1), (1,1)
  const set: TripletSet = {
    m: 3,
    d: 1,
    anchors: new Float32Array([0, 0, 0]),
    positives: new Float32Array([1, 2, 1]),
    negatives: new Float32Array([2, 1, -1]),
  };
  const r = evaluateTriplets(new Float64Array([1]), 1, set, { margin: 0.5, normalize: false });
  t.equal(r.count, 3);
  t.equal(r.tripletAccuracy, 1 / 3, 'tie d(a,p) = d(a,n) is not correct');
  t.equal(r.activeFraction, 2 / 3);
  t.equal(r.loss, (0 + 3.5 + 0.5) / 3);
  t.end();
});

t.test('retrievalMetrics: hand-computed case with a tie', (t) => {
  // query 0: rows 1 and 2 both at distance 1, tie broken by index → row 1 (wrong label) first
  const r = retrievalMetrics(new Float64Array([0, 1, -1]), 3, 1, new Int32Array([0, 1, 0]));
  t.same(r, { precisionAt1: 0.5, rPrecision: 0.5, mapAtR: 0.5, queryCount: 2 });
  t.end();
});

t.test('retrievalMetrics: perfect clusters', (t) => {
  const E = new Float64Array([0, 0.1, 0.2, 10, 10.1, 10.2]);
  const r = retrievalMetrics(E, 6, 1, new Int32Array([1, 1, 1, 2, 2, 2]));
  t.same(r, { precisionAt1: 1, rPrecision: 1, mapAtR: 1, queryCount: 6 });
  // interleave one impostor: for query 0 (label 1, R = 2) neighbours are 1 (label 2), 2 (label 1)
  const r2 = retrievalMetrics(new Float64Array([0, 1, 2, 50, 51, 52]), 6, 1, new Int32Array([1, 2, 1, 2, 1, 2]));
  t.ok(r2.mapAtR! < 1 && r2.mapAtR! > 0);
  t.end();
});

t.test('retrievalMetrics: no label twice, no query, no figures (0071)', (t) => {
  // 0 would read as a model that is always wrong; there is nothing to measure
  const none = { precisionAt1: null, rPrecision: null, mapAtR: null, queryCount: 0 };
  t.same(
    retrievalMetrics(new Float64Array([0, 1, 2, 3]), 4, 1, new Int32Array([4, 3, 2, 1])),
    none,
    'every label once',
  );
  const two = retrievalMetrics(new Float64Array([0, 1, 2, 3]), 4, 1, new Int32Array([7, 7, 1, 2]));
  t.same(two, { precisionAt1: 1, rPrecision: 1, mapAtR: 1, queryCount: 2 }, 'one label twice: its two queries');
  t.same(retrievalMetrics(new Float64Array(0), 0, 1, new Int32Array(0)), none, 'no samples');
  t.end();
});

t.test('retrievalMetrics matches tools/eval/common.py on a tie-heavy set larger than one chunk', (t) => {
  const n = 150,
    k = 3;
  const E = new Float64Array(n * k);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < k; r++) E[i * k + r] = Math.round(Math.sin(i * 1.3 + r * 0.7) * 4) / 4;
    labels[i] = (i * 7) % 5;
  }
  labels[0] = 9; // singleton label: excluded from the averages
  const r = retrievalMetrics(E, n, k, labels);
  // printed by common.retrieval_metrics on the same arrays
  const want = { precisionAt1: 0.06040268456375839, rPrecision: 0.1717360399378451, mapAtR: 0.03276035089292338 };
  t.equal(r.queryCount, 149);
  for (const key of ['precisionAt1', 'rPrecision', 'mapAtR'] as const)
    t.ok(Math.abs(r[key]! - want[key]) < 1e-12, `${key} ${r[key]} vs ${want[key]}`);
  t.end();
});

// The HNSW index (src/search/hnsw-index.ts) against exact search (src/math/search): recall on
// clustered data, equality with exact search when ef covers the whole gallery, updates, and the
// refusal of bad input. The data is seeded, so every figure here is reproducible.
import t from 'tap';
import { clusteredRows } from '../../bench/data.js';
import { hnswIndexCost } from '../../src/domain/costs.js';
import { distanceByName, type DistanceKind } from '../../src/math/distance.js';
import { createRng } from '../../src/math/rng.js';
import { createGallery, exactSearch, type SearchHits } from '../../src/math/search/index.js';
import { HNSW_DEFAULTS, buildHnswIndex, measureRecall } from '../../src/search/hnsw-index.js';

const METRICS: DistanceKind[] = ['squared', 'euclidean', 'cosine'];

function uniform(seed: number, count: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count }, () => rng.range(-1, 1));
}

/** Same indexes; distances equal (squared, euclidean) or within float32 rounding (cosine). */
function sameHits(got: SearchHits[], want: SearchHits[], metric: DistanceKind): string | null {
  if (got.length !== want.length) return `${got.length} results for ${want.length} queries`;
  const tol = metric === 'cosine' ? 1e-6 : 0;
  for (let j = 0; j < want.length; j++) {
    const a = got[j];
    const b = want[j];
    if (a.indexes.length !== b.indexes.length || a.indexes.some((v, r) => v !== b.indexes[r]))
      return `query ${j}: indexes ${[...a.indexes]} ≠ ${[...b.indexes]}`;
    if (a.distances.some((v, r) => Math.abs(v - b.distances[r]) > tol))
      return `query ${j}: distances ${[...a.distances]} ≠ ${[...b.distances]}`;
  }
  return null;
}

t.test('recall@10 ≥ 0.95 with the defaults on clustered data (4,000 × 64)', async (t) => {
  // noise of 1 a value: each identity's 20 rows overlap their neighbours' more than a trained model's would
  const data = clusteredRows(1, { identities: 200, perIdentity: 20, dim: 64, spread: 1 });
  for (const metric of ['squared', 'cosine'] as const) {
    const index = buildHnswIndex(data.rows, data.n, 64, { metric });
    const gallery = createGallery(data.rows, data.n, 64);
    const own = measureRecall(index, gallery, { sample: 300, seed: 2 });
    t.ok(own.recall >= 0.95, `${metric}: the gallery's own rows as queries, recall ${own.recall}`);
    t.same({ queries: own.queries, k: own.k, ef: own.ef }, { queries: 300, k: 10, ef: HNSW_DEFAULTS.efSearch });
    // fresh samples of enrolled identities, as probes arrive
    const Q = data.probe(300);
    const exact = exactSearch(gallery, Q, 300, { k: 10, metric });
    const approx = index.search(Q, 300, { k: 10 });
    let hit = 0;
    for (let j = 0; j < 300; j++) hit += [...approx[j].indexes].filter((i) => exact[j].indexes.includes(i)).length;
    t.ok(hit / 3000 >= 0.95, `${metric}: probes, recall ${hit / 3000}`);
    // an ef below k searches with ef = k, and a smaller ef finds no more than the default
    const low = measureRecall(index, gallery, { sample: 300, seed: 2, ef: 1 });
    t.equal(low.recall, measureRecall(index, gallery, { sample: 300, seed: 2, ef: 10 }).recall, 'ef 1 is ef 10');
    t.ok(low.recall <= own.recall, `ef 10: ${low.recall} ≤ ${own.recall}`);
  }
});

t.test('with ef ≥ n the answer is exact search’s (every metric, k = 1, 7, n)', async (t) => {
  const n = 300;
  const dim = 8;
  const E = uniform(3, n * dim);
  E.fill(0, 5 * dim, 6 * dim); // a zero row: at cosine distance 1 from everything, as exact search has it
  const Q = uniform(4, 40 * dim);
  const gallery = createGallery(E, n, dim);
  for (const metric of METRICS) {
    const index = buildHnswIndex(E, n, dim, { metric, M: 8, efConstruction: 50 });
    for (const k of [1, 7, n]) {
      const got = index.search(Q, 40, { k, ef: n });
      const want = exactSearch(gallery, Q, 40, { k, metric });
      t.equal(sameHits(got, want, metric), null, `${metric}, k ${k}`);
    }
    // maxDistance: the same cut as exact search's
    const cut = exactSearch(gallery, Q, 40, { k: n, metric })[0].distances[20];
    const got = index.search(Q, 40, { k: 50, ef: n, maxDistance: cut });
    t.equal(sameHits(got, exactSearch(gallery, Q, 40, { k: 50, metric, maxDistance: cut }), metric), null);
    t.equal(got[0].indexes.length, 21, `${metric}: 21 items within the 21st distance of query 0`);
  }
});

t.test('the same seed gives the same index; answers are sorted by (distance, index)', async (t) => {
  const data = clusteredRows(5, { identities: 100, perIdentity: 20, dim: 32 });
  const Q = data.probe(50);
  const a = buildHnswIndex(data.rows, data.n, 32, { metric: 'euclidean', seed: 7 }).search(Q, 50, { k: 10, ef: 10 });
  const b = buildHnswIndex(data.rows, data.n, 32, { metric: 'euclidean', seed: 7 }).search(Q, 50, { k: 10, ef: 10 });
  t.equal(sameHits(a, b, 'euclidean'), null);
  const d = distanceByName('euclidean');
  let sorted = true;
  let exact = true;
  for (let j = 0; j < 50; j++) {
    for (let r = 0; r < a[j].indexes.length; r++) {
      if (a[j].distances[r] !== d.pair(data.rows, a[j].indexes[r] * 32, Q, j * 32, 32)) exact = false;
      if (r > 0 && a[j].distances[r] < a[j].distances[r - 1]) sorted = false;
    }
  }
  t.ok(sorted, 'nearest first');
  t.ok(exact, 'distances are the direct form in float64 from the stored float32 rows');
});

t.test('upsert, remove and growth', async (t) => {
  const dim = 4;
  const n = 20;
  const E = uniform(6, n * dim);
  const index = buildHnswIndex(E, n, dim, { metric: 'squared' });
  t.same([index.size, index.deleted, index.capacity], [20, 0, 20]);
  const row = (i: number) => E.subarray(i * dim, (i + 1) * dim);
  const nearest = (q: Float32Array) => index.search(q, 1, { k: 1, ef: 100 })[0];

  t.ok(index.remove(3));
  t.notOk(index.remove(3), 'a second remove finds nothing');
  t.notOk(index.has(3));
  t.same([index.size, index.deleted], [19, 1]);
  const all = index.search(row(3), 1, { k: 100, ef: 100 })[0];
  t.equal(all.indexes.length, 19, 'k beyond the live items returns the live items');
  t.notOk(all.indexes.includes(3), 'a removed item is never returned');

  // replace: item 5 takes a new row; the old row's nearest is no longer item 5 at distance 0
  const moved = Float32Array.of(10, 10, 10, 10);
  index.upsert(5, moved);
  t.same([...nearest(moved).indexes], [5]);
  t.equal(nearest(moved).distances[0], 0);
  t.not(nearest(row(5)).distances[0], 0);
  t.same([index.size, index.deleted], [19, 1], 'a replace adds no slot');

  // a removed item comes back in its old slot
  index.upsert(3, row(3));
  t.same([...nearest(row(3)).indexes], [3]);
  t.same([index.size, index.deleted], [20, 0]);

  // new items beyond the capacity: the index doubles
  for (let i = 20; i < 45; i++) index.upsert(i, Float32Array.of(i, -i, i, -i));
  t.same([index.size, index.capacity], [45, 80]);
  t.same([...nearest(Float32Array.of(44, -44, 44, -44)).indexes], [44]);

  // an index with nothing live answers empty hits
  const empty = buildHnswIndex(new Float32Array(0), 0, dim, { metric: 'cosine' });
  t.same(empty.search(row(0), 1, { k: 5 })[0].indexes.length, 0);
  empty.upsert(9, row(0));
  t.same([...empty.search(row(0), 1, { k: 5 })[0].indexes], [9]);
});

t.test('bad input is refused with a RangeError naming the field, and changes nothing', async (t) => {
  const E = uniform(7, 10 * 4);
  const bad = Float32Array.from(E);
  bad[13] = NaN;
  t.throws(() => buildHnswIndex(bad, 10, 4, { metric: 'squared' }), new RangeError('rows: row 3, value 1 is NaN'));
  t.throws(() => buildHnswIndex(E, 11, 4, { metric: 'squared' }), { name: 'RangeError', message: /^rows: has 40/ });
  t.throws(() => buildHnswIndex(E, 10, 0, { metric: 'squared' }), { name: 'RangeError', message: /^rows: dimension/ });
  t.throws(() => buildHnswIndex(E, 10, 4, { metric: 'dot' as 'squared' }), { name: 'RangeError', message: /^metric/ });
  t.throws(() => buildHnswIndex(E, 10, 4, { metric: 'squared', M: 1 }), { name: 'RangeError', message: /^M must/ });
  t.throws(() => buildHnswIndex(E, 10, 4, { metric: 'squared', efConstruction: 0.5 }), {
    name: 'RangeError',
    message: /^efConstruction/,
  });
  t.throws(() => buildHnswIndex(E, 10, 4, { metric: 'squared', capacity: 5 }), {
    name: 'RangeError',
    message: /^capacity/,
  });

  const index = buildHnswIndex(E, 10, 4, { metric: 'squared' });
  const q = E.subarray(0, 4);
  t.throws(() => index.search(Float32Array.of(1, 2, Infinity, 4), 1, { k: 1 }), {
    name: 'RangeError',
    message: /^queries: row 0, value 2 is Infinity/,
  });
  t.throws(() => index.search(q, 2, { k: 1 }), { name: 'RangeError', message: /^queries: has 4/ });
  t.throws(() => index.search(q, 1, { k: 0 }), { name: 'RangeError', message: /^k must/ });
  t.throws(() => index.search(q, 1, { k: 1, ef: 0 }), { name: 'RangeError', message: /^ef must/ });
  t.throws(() => index.search(q, 1, { k: 1, maxDistance: -1 }), { name: 'RangeError', message: /^maxDistance/ });
  t.throws(() => index.upsert(-1, q), { name: 'RangeError', message: /^index must/ });
  t.throws(() => index.upsert(10, Float32Array.of(1, 2, 3)), { name: 'RangeError', message: /^row: has 3/ });
  t.throws(() => index.upsert(10, Float32Array.of(1, 2, NaN, 4)), { name: 'RangeError', message: /^row: row 0/ });
  t.same([index.size, index.deleted, index.has(10)], [10, 0, false], 'nothing changed');
  t.throws(() => measureRecall(index, createGallery(E, 5, 8)), { name: 'RangeError', message: /^gallery: dimension/ });
});

t.test('the memory formula covers what the index allocates', async (t) => {
  // 20,000 × 128, M 16: the layer-0 records alone are 20,000·(512 + 128 + 12) bytes
  const cost = hnswIndexCost(20_000, 128, 16);
  t.equal(cost.terms[0].name, 'layer 0');
  t.equal(cost.terms[0].bytes, 20_000 * 652);
  t.ok(cost.bytes > 20_000 * (128 * 4 + 16 * 2 * 4), `${cost.bytes}`);
  t.ok(hnswIndexCost(40_000, 128, 16).bytes > cost.bytes && hnswIndexCost(20_000, 128, 32).bytes > cost.bytes);
});

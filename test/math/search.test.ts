// Exact top-k search (src/math/search) against a brute-force reference, on the TypeScript
// products and on the WebAssembly kernels (one thread and a pool of two), with small blocks so
// that a search crosses many of them.
import t, { type Test } from 'tap';
import { createCompute, type Compute } from '../../src/compute/index.js';
import { distanceByName, type DistanceKind } from '../../src/math/distance.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';
import type { Kernels } from '../../src/math/kernels/types.js';
import { RESIDENT_POOL_MIN_WORK } from '../../src/math/kernels/wasm.js';
import { createRng } from '../../src/math/rng.js';
import { QUERY_BATCH, TopK, createGallery, exactSearch, type SearchHits } from '../../src/math/search/index.js';

const METRICS: DistanceKind[] = ['squared', 'euclidean', 'cosine'];

/** Every distance from the direct form, sorted by (distance, index), filtered, first k. */
function bruteForce(
  E: Float32Array,
  n: number,
  Q: Float32Array,
  j: number,
  dim: number,
  metric: DistanceKind,
  k: number,
  maxDistance?: number,
): SearchHits {
  const distance = distanceByName(metric);
  const all = Array.from({ length: n }, (_, i) => ({ i, d: distance.pair(E, i * dim, Q, j * dim, dim) }));
  const kept = all
    .filter((x) => maxDistance === undefined || x.d <= maxDistance)
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, k);
  return { indexes: Int32Array.from(kept.map((x) => x.i)), distances: Float64Array.from(kept.map((x) => x.d)) };
}

function random(seed: number, count: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.range(-1, 1);
  return out;
}

function sameHits(t: Test, got: SearchHits[], want: SearchHits[], label: string): void {
  t.equal(got.length, want.length, `${label}: one result per query`);
  let bad = 0;
  for (let j = 0; j < want.length && bad < 3; j++) {
    const ok =
      got[j].indexes.length === want[j].indexes.length &&
      got[j].indexes.every((v, r) => v === want[j].indexes[r]) &&
      got[j].distances.every((v, r) => Math.abs(v - want[j].distances[r]) <= 1e-6 * Math.abs(want[j].distances[r]));
    if (!ok) {
      bad++;
      t.fail(`${label}: query ${j}`, { got: got[j], wanted: want[j] });
    }
  }
  if (bad === 0) t.pass(`${label}: same indexes and distances for all ${want.length} queries`);
}

const backends: { name: string; make: () => Promise<Compute | null> }[] = [
  { name: 'typescript', make: async () => null },
];
if (wasmSimdSupported()) {
  backends.push({ name: 'wasm×1', make: () => createCompute({ kernels: 'wasm', threads: 1 }) });
  backends.push({ name: 'wasm×2', make: () => createCompute({ kernels: 'wasm', threads: 2 }) });
}

t.test('runtime has WebAssembly SIMD (else only the TypeScript products are tested)', (t) => {
  t.ok(wasmSimdSupported());
  t.end();
});

for (const b of backends) {
  t.test(`${b.name}: search`, async (t) => {
    const compute = await b.make();
    t.teardown(() => compute?.close());
    const kernels: Kernels | undefined = compute?.kernels;

    t.test('random data: equal to brute force, many blocks and one', async (t) => {
      const n = 1000;
      const dim = 24; // not a multiple of 8: padded rows in the kernels
      const q = 37; // not a multiple of 8: a partly empty panel
      const E = random(1, n * dim);
      const Q = random(2, q * dim);
      const g = createGallery(E, n, dim, kernels);
      t.teardown(() => g.dispose());
      if (compute) t.not(g.backend, 'typescript', 'the kernels keep the gallery');
      for (const metric of METRICS) {
        const want = Array.from({ length: q }, (_, j) => bruteForce(E, n, Q, j, dim, metric, 10));
        sameHits(t, exactSearch(g, Q, q, { k: 10, metric }), want, `${metric}, one block`);
        sameHits(t, exactSearch(g, Q, q, { k: 10, metric, blockBytes: 4096 }), want, `${metric}, 4 KiB blocks`);
        // a radius that keeps some but not all of the 10
        const radius = want[0].distances[4];
        const within = Array.from({ length: q }, (_, j) => bruteForce(E, n, Q, j, dim, metric, 10, radius));
        t.ok(
          within.some((h) => h.indexes.length < 10),
          `${metric}: maxDistance cuts some results`,
        );
        sameHits(
          t,
          exactSearch(g, Q, q, { k: 10, metric, maxDistance: radius, blockBytes: 8192 }),
          within,
          `${metric}, maxDistance`,
        );
      }
    });

    t.test('blocks big enough for the pool (RESIDENT_POOL_MIN_WORK)', async (t) => {
      const n = 5003;
      const dim = 40;
      const q = 9;
      const E = random(11, n * dim);
      const Q = random(12, q * dim);
      const g = createGallery(E, n, dim, kernels);
      t.teardown(() => g.dispose());
      t.ok(q * n * dim >= RESIDENT_POOL_MIN_WORK, 'one block is worth waking the pool');
      for (const metric of METRICS) {
        const want = Array.from({ length: q }, (_, j) => bruteForce(E, n, Q, j, dim, metric, 7));
        sameHits(t, exactSearch(g, Q, q, { k: 7, metric }), want, `${metric}, ${n} rows`);
      }
    });

    t.test('batched = one by one, and more queries than one batch', async (t) => {
      const n = 300;
      const dim = 16;
      const q = QUERY_BATCH + 9;
      const E = random(3, n * dim);
      const Q = random(4, q * dim);
      const g = createGallery(E, n, dim, kernels);
      t.teardown(() => g.dispose());
      for (const metric of ['squared', 'cosine'] as const) {
        const batched = exactSearch(g, Q, q, { k: 5, metric, blockBytes: 2048 });
        const single = Array.from({ length: q }, (_, j) =>
          exactSearch(g, Q.subarray(j * dim, (j + 1) * dim), 1, { k: 5, metric }),
        ).flat();
        t.same(batched, single, `${metric}: ${q} queries batched = one by one`);
        const want = Array.from({ length: q }, (_, j) => bruteForce(E, n, Q, j, dim, metric, 5));
        sameHits(t, batched, want, `${metric}, ${q} queries`);
      }
    });

    t.test('edge cases', async (t) => {
      const dim = 8;
      const E = random(5, 20 * dim);
      const Q = random(6, 3 * dim);
      const empty = createGallery(new Float32Array(0), 0, dim, kernels);
      t.same(
        exactSearch(empty, Q, 3, { k: 4, metric: 'squared' }).map((h) => h.indexes.length),
        [0, 0, 0],
        'n = 0: no results',
      );
      empty.dispose();
      const g = createGallery(E, 20, dim, kernels);
      t.teardown(() => g.dispose());
      for (const metric of METRICS) {
        const all = Array.from({ length: 3 }, (_, j) => bruteForce(E, 20, Q, j, dim, metric, 20));
        sameHits(t, exactSearch(g, Q, 3, { k: 50, metric }), all, `${metric}: k > n gives all n, sorted`);
        sameHits(
          t,
          exactSearch(g, Q, 3, { k: 1, metric }),
          all.map((h) => ({ indexes: h.indexes.slice(0, 1), distances: h.distances.slice(0, 1) })),
          `${metric}: k = 1`,
        );
        const none = exactSearch(g, Q, 3, { k: 5, metric, maxDistance: 0 });
        t.same(
          none.map((h) => h.indexes.length),
          [0, 0, 0],
          `${metric}: maxDistance = 0 excludes every (distinct) item`,
        );
      }
      t.same(exactSearch(g, Q, 0, { k: 3, metric: 'squared' }), [], 'q = 0: no queries, no results');
    });

    t.test('duplicates and ties go by index; a query in the gallery is at distance 0', async (t) => {
      const dim = 12;
      const n = 40;
      const E = random(7, n * dim);
      // rows 31, 9 and 22 are copies of row 3; row 17 is 2·row 3 (the same direction)
      for (const i of [31, 9, 22]) E.copyWithin(i * dim, 3 * dim, 4 * dim);
      for (let r = 0; r < dim; r++) E[17 * dim + r] = 2 * E[3 * dim + r];
      E.fill(0, 5 * dim, 6 * dim); // a zero row
      const Q = E.slice(3 * dim, 4 * dim);
      const g = createGallery(E, n, dim, kernels);
      t.teardown(() => g.dispose());
      const [sq] = exactSearch(g, Q, 1, { k: 4, metric: 'squared', blockBytes: 64 });
      t.same([...sq.indexes], [3, 9, 22, 31], 'four copies at distance 0, by index');
      t.same([...sq.distances], [0, 0, 0, 0], 'exactly 0 (direct form)');
      const [cos] = exactSearch(g, Q, 1, { k: 5, metric: 'cosine' });
      t.same([...cos.indexes], [3, 9, 17, 22, 31], 'cosine: the scaled copy ties with the copies');
      const [zero] = exactSearch(g, new Float32Array(dim), 1, { k: n, metric: 'cosine' });
      t.ok(
        zero.distances.every((d) => d === 1),
        'a zero query is at cosine distance 1 from everything',
      );
      t.same(
        [...zero.indexes],
        Array.from({ length: n }, (_, i) => i),
        'so all tie, by index',
      );
      const far = Array.from({ length: 1 }, () => bruteForce(E, n, Q, 0, dim, 'cosine', n));
      sameHits(t, exactSearch(g, Q, 1, { k: n, metric: 'cosine' }), far, 'cosine with a zero row: as brute force');
    });

    t.test('row products: bounds, alignment and use after dispose', async (t) => {
      const dim = 5;
      const E = random(13, 30 * dim);
      const g = createGallery(E, 30, dim, kernels);
      const Q = random(14, 2 * dim);
      const p = g.against(Q, 2);
      t.throws(() => p.block(0, 31), RangeError, 'past the last row');
      if (compute) t.throws(() => p.block(3, 10), RangeError, 'r0 not a multiple of ROW_PRODUCTS_ALIGN');
      const { values, stride } = p.block(8, 30);
      t.ok(stride >= 22 && values.length >= stride + 22, 'a block of 22 rows for 2 queries');
      let dot = 0;
      for (let r = 0; r < dim; r++) dot += E[29 * dim + r] * Q[dim + r];
      t.ok(Math.abs(values[stride + 21] - dot) <= 1e-6 * (1 + Math.abs(dot)), 'row 29 · query 1 where it belongs');
      p.dispose();
      p.dispose();
      if (compute) t.throws(() => p.block(0, 8), /after dispose/);
      g.dispose();
      g.dispose();
      t.throws(() => exactSearch(g, new Float32Array(dim), 1, { k: 1, metric: 'squared' }), /after dispose/);
    });

    t.test('non-finite and bad arguments: RangeError naming the field', async (t) => {
      const dim = 4;
      const E = random(8, 10 * dim);
      const bad = E.slice();
      bad[2 * dim + 1] = NaN;
      t.throws(() => createGallery(bad, 10, dim, kernels), new RangeError('gallery: row 2, value 1 is NaN'));
      const g = createGallery(E, 10, dim, kernels);
      t.teardown(() => g.dispose());
      const Q = new Float32Array(2 * dim);
      Q[dim + 3] = -Infinity;
      t.throws(
        () => exactSearch(g, Q, 2, { k: 1, metric: 'squared' }),
        new RangeError('queries: row 1, value 3 is -Infinity'),
      );
      const ok = new Float32Array(dim);
      for (const maxDistance of [NaN, Infinity, -1])
        t.throws(() => exactSearch(g, ok, 1, { k: 1, metric: 'squared', maxDistance }), {
          name: 'RangeError',
          message: /^maxDistance/,
        });
      for (const k of [0, 1.5, NaN])
        t.throws(() => exactSearch(g, ok, 1, { k, metric: 'cosine' }), { name: 'RangeError', message: /^k must/ });
      t.throws(() => exactSearch(g, ok, 2, { k: 1, metric: 'cosine' }), {
        name: 'RangeError',
        message: /^queries: has 4 values/,
      });
      t.throws(() => createGallery(E, 11, dim, kernels), { name: 'RangeError', message: /^gallery: has 40 values/ });
    });
  });
}

t.test('TopK keeps the k smallest by (distance, index) in any arrival order', (t) => {
  const rng = createRng(9);
  const items = Array.from({ length: 500 }, (_, i) => ({ d: Math.floor(rng.uniform() * 50), i }));
  for (let s = items.length - 1; s > 0; s--) {
    const r = Math.floor(rng.uniform() * (s + 1));
    [items[s], items[r]] = [items[r], items[s]];
  }
  const heap = new TopK(25);
  for (const x of items) heap.offer(x.d, x.i);
  const got = Array.from({ length: heap.size }, (_, s) => ({ d: heap.dist[s], i: heap.idx[s] })).sort(
    (a, b) => a.d - b.d || a.i - b.i,
  );
  const want = [...items].sort((a, b) => a.d - b.d || a.i - b.i).slice(0, 25);
  t.same(got, want);
  t.end();
});

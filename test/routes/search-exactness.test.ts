// Exact gallery search against a float64 brute force (distances from differences, ties by id) on
// the data where a float32 Gram form misleads it: embeddings far from the origin (‖x‖² ≫ the
// distances between them, so the Gram form's rounding exceeds the gaps) and lattice points (many
// exactly equal distances, which the Gram form's rounding breaks in no particular order), and
// values so small that their float32 products underflow.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { rng, testApp } from '../helpers.js';

const D = 8;

const identity = Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => +(i === j)));

/** A gallery of the identity model: an item's embedding is its input, as float32. */
async function gallery(app: App, inputs: number[][], ids: string[]): Promise<string> {
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W: identity } })).json().id;
  const g = (await app.inject({ method: 'POST', url: '/galleries', payload: { model } })).json().id;
  const items = inputs.map((input, i) => ({ id: ids[i], input }));
  const r = await app.inject({ method: 'POST', url: `/galleries/${g}/items`, payload: { items } });
  if (r.statusCode !== 201) throw new Error(r.body);
  return g;
}

/** The distance in float64 over the float32 values, summed in dimension order. */
function distance(x: number[], q: number[], metric: string): number {
  let s = 0;
  let dot = 0;
  let nx = 0;
  let nq = 0;
  for (let r = 0; r < D; r++) {
    const a = Math.fround(x[r]);
    const b = Math.fround(q[r]);
    s += (a - b) * (a - b);
    dot += a * b;
    nx += a * a;
    nq += b * b;
  }
  if (metric === 'euclidean') return Math.sqrt(s);
  if (metric === 'squared_euclidean') return s;
  return nx === 0 || nq === 0 ? 1 : Math.min(2, Math.max(0, 1 - dot / Math.sqrt(nx * nq)));
}

/** Every item by (distance, id). */
function bruteForce(inputs: number[][], ids: string[], q: number[], metric: string) {
  return inputs
    .map((x, i) => ({ id: ids[i], distance: distance(x, q, metric) }))
    .sort((a, b) => a.distance - b.distance || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)));
}

const cases: { name: string; point: (r: () => number) => number[] }[] = [
  { name: 'far from the origin', point: (r) => Array.from({ length: D }, () => 1000 + (r() * 2 - 1)) },
  { name: 'lattice ties', point: (r) => Array.from({ length: D }, () => Math.floor(r() * 3) * 0.1) },
  // products of 1e-30 values underflow float32 (1e-60 < 2⁻¹⁴⁹): the Gram form lost every digit
  { name: 'tiny values', point: (r) => Array.from({ length: D }, () => (r() * 2 - 1) * 1e-30) },
];

for (const { name, point } of cases) {
  t.test(`${name}: the k nearest by (distance, id), as a brute force`, async (t) => {
    const app = await testApp(t);
    const r = rng(name.length);
    const n = 800;
    const inputs = Array.from({ length: n }, () => point(r));
    // ids out of upload order, so ties by id are not ties by upload position
    const ids = inputs.map((_, i) => `item-${String((i * 7919) % n).padStart(4, '0')}`);
    const g = await gallery(app, inputs, ids);
    const queries = Array.from({ length: 12 }, () => point(r));
    for (const metric of ['euclidean', 'squared_euclidean', 'cosine']) {
      for (const k of [1, 10, 40]) {
        const res = await app.inject({
          method: 'POST',
          url: `/galleries/${g}/search`,
          payload: { embeddings: queries, k, metric },
        });
        t.equal(res.statusCode, 200);
        const results = res.json().results as { id: string; distance: number }[][];
        let same = 0;
        queries.forEach((q, j) => {
          const want = bruteForce(inputs, ids, q, metric).slice(0, k);
          if (
            JSON.stringify(results[j].map((h) => [h.id, h.distance])) ===
            JSON.stringify(want.map((h) => [h.id, h.distance]))
          )
            same++;
        });
        t.equal(same, queries.length, `${metric}, k ${k}: every query's hits are the brute force's`);
      }
    }
    // maxDistance at an item's own distance keeps it, and everything nearer, by id
    const want = bruteForce(inputs, ids, queries[0], 'euclidean');
    const bound = want[25].distance;
    const res = await app.inject({
      method: 'POST',
      url: `/galleries/${g}/search`,
      payload: { embeddings: [queries[0]], k: 1000, maxDistance: bound, metric: 'euclidean' },
    });
    const within = want.filter((h) => h.distance <= bound);
    t.same(
      (res.json().results[0] as { id: string }[]).map((h) => h.id),
      within.map((h) => h.id),
      'maxDistance: every item within it, in order',
    );
  });
}

// hnsw galleries through app.inject on a real SQLite file: the index is built in its thread and
// measured (recall@10 ≥ 0.95 on clustered items), searches agree with exact search and a
// brute-force reference, writes rebuild it (exact search answers meanwhile), deletion frees it.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { expectError, rng, testApp } from '../helpers.js';

const D = 24;
const K = 16;
const IDENTITIES = 150;
const PER = 20;

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** IDENTITIES × PER items, each its identity's centre plus small noise; and fresh samples as queries. */
function clustered(seed: number) {
  const r = rng(seed);
  const centres = Array.from({ length: IDENTITIES }, () => Array.from({ length: D }, () => normal(r)));
  const sample = (c: number) => centres[c].map((v) => v + 0.25 * normal(r));
  const items = Array.from({ length: IDENTITIES * PER }, (_, i) => ({
    id: `item-${String(i).padStart(5, '0')}`,
    label: `person-${Math.floor(i / PER)}`,
    input: sample(Math.floor(i / PER)),
  }));
  const queries = Array.from({ length: 40 }, (_, j) => sample((j * 7) % IDENTITIES));
  return { items, queries };
}

async function importModel(app: App): Promise<string> {
  const r = rng(3);
  const W = Array.from({ length: K }, () => Array.from({ length: D }, () => r() * 2 - 1));
  const res = await app.inject({ method: 'POST', url: '/models', payload: { W, normalize: false } });
  return res.json().id;
}

async function create(app: App, model: string, index: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/galleries', payload: { name: index, model, index } });
  if (res.statusCode !== 201) throw new Error(res.body);
  return res.json().id;
}

const search = async (app: App, id: string, payload: Record<string, unknown>) => {
  const res = await app.inject({ method: 'POST', url: `/galleries/${id}/search`, payload });
  if (res.statusCode !== 200) throw new Error(res.body);
  return res.json() as {
    index: string;
    version: number;
    results: { id: string; distance: number }[][];
  };
};

const detail = async (app: App, id: string) =>
  (await app.inject({ method: 'GET', url: `/galleries/${id}` })).json() as {
    version: number;
    indexStatus: {
      kind: string;
      state?: string;
      builtVersion?: number | null;
      recallAt10?: number | null;
      buildMs?: number | null;
    };
  };

/** Reads GET /galleries/:id until its index is ready for `version` (bounded wait, not a timing assertion). */
async function ready(app: App, id: string, version: number) {
  for (let i = 0; i < 1200; i++) {
    const d = await detail(app, id);
    if (d.indexStatus.state === 'ready' && d.indexStatus.builtVersion === version) return d;
    if (d.indexStatus.state === 'failed') throw new Error(JSON.stringify(d.indexStatus));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the index of ${id} never became ready for version ${version}`);
}

t.test('hnsw gallery: built, measured, agrees with exact search, rebuilt on writes, freed on delete', async (t) => {
  const app = await testApp(t);
  const model = await importModel(app);
  const { items, queries } = clustered(11);
  const hid = await create(app, model, 'hnsw');
  const eid = await create(app, model, 'exact');
  let v = 0;
  for (const id of [hid, eid]) {
    const up = await app.inject({ method: 'POST', url: `/galleries/${id}/items`, payload: { items } });
    t.equal(up.statusCode, 201, up.body);
    v = up.json().version;
  }
  const exactDetail = await detail(app, eid);
  t.same(exactDetail.indexStatus, { kind: 'exact' });

  // the embeddings, for a brute-force reference of every distance
  const emb = await app.inject({
    method: 'POST',
    url: '/embed',
    payload: { model, inputs: items.map((x) => x.input) },
  });
  const E: number[][] = emb.json().embeddings;
  const Q: number[][] = (
    await app.inject({ method: 'POST', url: '/embed', payload: { model, inputs: queries } })
  ).json().embeddings;
  const row = new Map(items.map((x, i) => [x.id, E[i]]));
  const squared = (a: number[], b: number[]) => a.reduce((s, v, r) => s + (v - b[r]) ** 2, 0);

  const d = await ready(app, hid, v);
  t.equal(d.indexStatus.kind, 'hnsw');
  t.ok(d.indexStatus.recallAt10! >= 0.95, `recall@10 ${d.indexStatus.recallAt10}`);
  t.ok(d.indexStatus.buildMs! >= 0);
  t.comment(`3000 × ${K}: recall@10 ${d.indexStatus.recallAt10}, built in ${d.indexStatus.buildMs} ms`);

  for (const metric of ['euclidean', 'squared_euclidean']) {
    const approx = await search(app, hid, { embeddings: Q, k: 10, metric });
    const exact = await search(app, eid, { embeddings: Q, k: 10, metric });
    t.equal(approx.index, 'hnsw', metric);
    t.equal(exact.index, 'exact', metric);
    let same = 0;
    let bad = 0;
    approx.results.forEach((hits, j) => {
      const want = new Set(exact.results[j].map((h) => h.id));
      t.equal(hits.length, 10);
      for (const h of hits) {
        if (want.has(h.id)) same++;
        const s = squared(row.get(h.id)!, Q[j]);
        const ref = metric === 'euclidean' ? Math.sqrt(s) : s;
        if (Math.abs(h.distance - ref) > 1e-5 * Math.max(1, ref)) bad++;
      }
      for (let i = 1; i < hits.length; i++) t.ok(hits[i - 1].distance <= hits[i].distance, 'nearest first');
    });
    t.ok(same / (10 * Q.length) >= 0.95, `${metric}: ${same} of ${10 * Q.length} ids agree with exact search`);
    t.equal(bad, 0, `${metric}: every distance equals the reference (float32 precision)`);
  }
  t.equal((await search(app, hid, { embeddings: Q, k: 10, metric: 'cosine' })).index, 'exact', 'cosine goes exact');

  // a write makes a new version: exact answers until its index is built, then the new index does
  const far = Array.from({ length: D }, () => 40);
  const up = await app.inject({
    method: 'POST',
    url: `/galleries/${hid}/items`,
    payload: { items: [{ id: 'newcomer', label: 'x', input: far }] },
  });
  t.equal(up.json().version, v + 1);
  const first = await search(app, hid, { inputs: [far], k: 1 });
  t.equal(first.version, v + 1);
  t.equal(first.index, 'exact', 'the new version is not indexed yet');
  t.equal(first.results[0][0].id, 'newcomer');
  await ready(app, hid, v + 1);
  const second = await search(app, hid, { inputs: [far], k: 1 });
  t.equal(second.index, 'hnsw');
  t.equal(second.results[0][0].id, 'newcomer');

  const del = await app.inject({ method: 'DELETE', url: `/galleries/${hid}/items/newcomer` });
  t.equal(del.json().version, v + 2);
  await ready(app, hid, v + 2);
  const third = await search(app, hid, { inputs: [far], k: 1 });
  t.equal(third.index, 'hnsw');
  t.not(third.results[0][0].id, 'newcomer', 'the erased item is gone from the index');

  // deleting the gallery frees its entry and its index in the thread
  const cache = app.services.galleries.cache;
  const key = cache.hnswKey(hid)!;
  t.ok(key, 'the index has a key in the thread');
  const before = cache.bytes;
  t.equal((await app.inject({ method: 'DELETE', url: `/galleries/${hid}` })).statusCode, 204);
  t.ok(cache.bytes < before, 'the cache let go of its bytes');
  await t.rejects(cache.hnswThread.search(key, new Float32Array(K), 1, 1), /no index/, 'the thread disposed the index');
});

t.test('quick small writes to a large hnsw gallery end with the last version indexed', async (t) => {
  // how many builds the writes replace depends on timing; the queue's rules are tested
  // deterministically in test/search/hnsw-thread.test.ts
  const app = await testApp(t);
  const model = await importModel(app);
  const { items } = clustered(12);
  const id = await create(app, model, 'hnsw');
  const up = await app.inject({ method: 'POST', url: `/galleries/${id}/items`, payload: { items } });
  t.equal(up.statusCode, 201, up.body);
  let version = up.json().version as number;
  for (let i = 0; i < 12; i++) {
    const one = await app.inject({
      method: 'POST',
      url: `/galleries/${id}/items`,
      payload: { items: [{ id: `extra-${i}`, label: 'x', input: items[i].input }] },
    });
    version = one.json().version;
    await detail(app, id); // loads the new version, which asks for its build
  }
  const d = await ready(app, id, version);
  t.equal(d.indexStatus.builtVersion, version, 'the last version is indexed');
  const hit = await search(app, id, { inputs: [items[3].input], k: 2 });
  t.equal(hit.index, 'hnsw');
  t.ok(
    hit.results[0].some((h) => h.id === 'extra-3'),
    'the index holds the last writes',
  );
  // an answer of more hits than one shaping slice (20,000) reads the same as small ones joined
  const inputs = items.slice(0, 25).map((x) => x.input);
  const big = await search(app, id, { inputs, k: 1000 });
  t.equal(big.index, 'hnsw');
  const small = [];
  for (let j = 0; j < inputs.length; j += 5)
    small.push(...(await search(app, id, { inputs: inputs.slice(j, j + 5), k: 1000 })).results);
  t.same(big.results, small, '25 queries × 1000 hits in slices, in order');
});

t.test('hostile index options answer 400 and create nothing', async (t) => {
  const app = await testApp(t);
  const model = await importModel(app);
  for (const payload of [
    { model, index: 'HNSW' },
    { model, index: 'annoy' },
    { model, index: 7 },
    { model, index: 'hnsw', hnsw: { M: -1 } },
    { model, index: 'hnsw', M: 1e9 },
  ]) {
    const res = await app.inject({ method: 'POST', url: '/galleries', payload });
    expectError(t, res, 400, 'VALIDATION_ERROR');
  }
  t.equal((await app.inject({ method: 'GET', url: '/galleries' })).json().items.length, 0);
});

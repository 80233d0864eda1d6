// Galleries through app.inject on a real SQLite file: CRUD, uploads in three formats (all or
// nothing, upserts), erasure, exact search against a brute-force reference, hostile inputs.
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import { encodeBinaryItems } from '../../src/http/gallery-items.js';
import { expectError, rng, tempDir, testApp } from '../helpers.js';

const D = 6;
const K = 4;

async function importModel(app: App, k = K, d = D, seed = 5, normalize = false): Promise<string> {
  const r = rng(seed);
  const W = Array.from({ length: k }, () => Array.from({ length: d }, () => r() * 2 - 1));
  const res = await app.inject({ method: 'POST', url: '/models', payload: { W, normalize } });
  return res.json().id;
}

async function createGallery(app: App, model: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/galleries', payload: { name: 'g', model } });
  if (res.statusCode !== 201) throw new Error(res.body);
  return res.json().id;
}

const upload = (app: App, id: string, payload: unknown) =>
  app.inject({ method: 'POST', url: `/galleries/${id}/items`, payload: payload as Record<string, unknown> });
const uploadAs = (app: App, id: string, type: string, payload: string | Buffer) =>
  app.inject({ method: 'POST', url: `/galleries/${id}/items`, headers: { 'content-type': type }, payload });
const search = (app: App, id: string, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `/galleries/${id}/search`, payload });
const getGallery = async (app: App, id: string) => (await app.inject({ url: `/galleries/${id}` })).json();

function randomInputs(n: number, seed: number, d = D): number[][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: d }, () => Math.fround(r() * 4 - 2)));
}

async function embed(app: App, model: string, inputs: number[][]): Promise<number[][]> {
  const res = await app.inject({ method: 'POST', url: '/embed', payload: { model, inputs } });
  return res.json().embeddings;
}

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Brute force in float64 over the float32 embeddings: every distance, sorted by (distance, id). */
function bruteForce(
  items: { id: string; e: number[] }[],
  q: number[],
  k: number,
  metric: 'euclidean' | 'squared_euclidean' | 'cosine',
  maxDistance = Infinity,
) {
  const dist = (e: number[]) => {
    if (metric === 'cosine') {
      let dot = 0;
      let a = 0;
      let b = 0;
      for (let j = 0; j < e.length; j++) {
        dot += e[j] * q[j];
        a += e[j] * e[j];
        b += q[j] * q[j];
      }
      return 1 - dot / Math.sqrt(a * b);
    }
    let s = 0;
    for (let j = 0; j < e.length; j++) s += (e[j] - q[j]) ** 2;
    return metric === 'euclidean' ? Math.sqrt(s) : s;
  };
  return items
    .map((it) => ({ id: it.id, distance: dist(it.e) }))
    .filter((h) => h.distance <= maxDistance)
    .sort((a, b) => a.distance - b.distance || utf8Order(a.id, b.id))
    .slice(0, k);
}

function sameHits(
  t: Test,
  got: { id: string; distance: number }[],
  want: { id: string; distance: number }[],
  msg: string,
) {
  t.same(
    got.map((h) => h.id),
    want.map((h) => h.id),
    `${msg}: same ids in the same order`,
  );
  const worst = got.reduce(
    (m, h, i) => Math.max(m, Math.abs(h.distance - want[i].distance) / Math.max(1e-6, Math.abs(want[i].distance))),
    0,
  );
  t.ok(worst < 2e-6, `${msg}: distances to float32 precision (worst relative error ${worst})`);
}

t.test('create, get, list, delete; a pinned model cannot be deleted', async (t) => {
  const app = await testApp(t);
  const model = await importModel(app);
  // The first model is the alias `default`, which holds it too: only the gallery's pin is tested here.
  t.equal((await app.inject({ method: 'DELETE', url: '/aliases/default' })).statusCode, 204);
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/galleries', payload: { model: 'mdl_nope' } }),
    404,
    'MODEL_NOT_FOUND',
  );
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/galleries', payload: { model, index: 'annoy' } }),
    400,
    'VALIDATION_ERROR',
  );
  const a = await app.inject({ method: 'POST', url: '/galleries', payload: { name: 'faces', model } });
  t.equal(a.statusCode, 201);
  const g = a.json();
  t.match(g, {
    name: 'faces',
    model,
    dimension: D,
    embeddingDimension: K,
    index: 'exact',
    version: 1,
    itemCount: 0,
    pendingModel: null,
    reindexJob: null,
  });
  t.same(await getGallery(app, g.id), { ...g, labelCount: 0, indexStatus: { kind: 'exact' } });
  const b = await createGallery(app, model);
  const page1 = (await app.inject({ url: '/galleries?limit=1' })).json();
  t.same(
    page1.items.map((x: { id: string }) => x.id),
    [b],
  );
  const page2 = (await app.inject({ url: `/galleries?limit=1&cursor=${page1.nextCursor}` })).json();
  t.same(
    page2.items.map((x: { id: string }) => x.id),
    [g.id],
  );

  const pinned = await app.inject({ method: 'DELETE', url: `/models/${model}` });
  expectError(t, pinned, 409, 'MODEL_IN_USE');
  t.match(pinned.json().message, /gallery/, 'the gallery holds it');
  t.equal((await app.inject({ url: `/models/${model}` })).statusCode, 200, 'the model is still there');

  t.equal((await app.inject({ method: 'DELETE', url: `/galleries/${g.id}` })).statusCode, 204);
  expectError(t, await app.inject({ url: `/galleries/${g.id}` }), 404, 'GALLERY_NOT_FOUND');
  expectError(t, await app.inject({ method: 'DELETE', url: `/galleries/${g.id}` }), 404, 'GALLERY_NOT_FOUND');
  t.equal((await app.inject({ method: 'DELETE', url: `/galleries/${b}` })).statusCode, 204);
  t.equal((await app.inject({ method: 'DELETE', url: `/models/${model}` })).statusCode, 204, 'free once unpinned');
});

t.test('uploads: JSON, base64, NDJSON and binary records, upserts by id', async (t) => {
  const app = await testApp(t);
  const model = await importModel(app);
  const id = await createGallery(app, model);
  const X = randomInputs(8, 1);
  const r1 = await upload(app, id, {
    items: [
      { id: 'a', label: 'alice', input: X[0] },
      { id: 'b', label: 7, input: X[1] },
    ],
  });
  t.equal(r1.statusCode, 201, r1.body);
  t.same(r1.json(), { added: 2, itemCount: 2, version: 2, model });
  const b64 = (v: number[]) => Buffer.from(Float32Array.from(v).buffer).toString('base64');
  const r2 = await upload(app, id, { encoding: 'base64', items: [{ id: 'c', input: b64(X[2]) }] });
  t.same(r2.json(), { added: 1, itemCount: 3, version: 3, model });
  const nd = [
    JSON.stringify({ id: 'd', label: 'bob', input: X[3] }),
    '',
    JSON.stringify({ id: 'a', label: 'alice2', input: X[4] }),
  ].join('\n');
  const r3 = await uploadAs(app, id, 'application/x-ndjson', nd);
  t.same(r3.json(), { added: 2, itemCount: 4, version: 4, model }, 'a replaced, d added');
  const bin = encodeBinaryItems([
    { id: 'é-ü', label: 'carol', input: X[5] },
    { id: 'f', label: -3, input: X[6] },
    { id: 'g', input: X[7] },
  ]);
  const r4 = await uploadAs(app, id, 'application/octet-stream', bin);
  t.equal(r4.statusCode, 201, r4.body);
  t.same(r4.json(), { added: 3, itemCount: 7, version: 5, model });
  const detail = await getGallery(app, id);
  t.equal(detail.labelCount, 5, 'alice2, 7, bob, carol, -3');

  // every item's embedding is what /embed gives for its input: search each by its own embedding
  const want = await embed(app, model, [X[4], X[1], X[2], X[3], X[5], X[6], X[7]]);
  const ids = ['a', 'b', 'c', 'd', 'é-ü', 'f', 'g'];
  const labels = ['alice2', 7, null, 'bob', 'carol', -3, null];
  const res = await search(app, id, { embeddings: want, k: 1 });
  t.equal(res.statusCode, 200, res.body);
  t.same(
    res
      .json()
      .results.map((r: { id: string; label: unknown; distance: number }[]) => [r[0].id, r[0].label, r[0].distance]),
    ids.map((x, i) => [x, labels[i], 0]),
  );
});

t.test('search equals a brute-force reference: ids, distances, ties by id, maxDistance', async (t) => {
  const app = await testApp(t);
  const model = await importModel(app, K, D, 11);
  const id = await createGallery(app, model);
  const n = 300;
  const X = randomInputs(n, 2);
  // ties: copies of a few inputs under other ids, ids in no particular order
  for (let i = 0; i < 20; i++) X.push(X[i * 3]);
  const ids = X.map((_, i) => `item-${(i * 7919) % 1000}-${i}`);
  ids[5] = 'Z';
  ids[6] = 'ä';
  const items = X.map((input, i) => ({ id: ids[i], label: i % 10, input }));
  const r = await upload(app, id, { items });
  t.equal(r.statusCode, 201, r.body);
  const E = await embed(app, model, X);
  const stored = ids.map((x, i) => ({ id: x, e: E[i] }));
  const Qin = [...randomInputs(7, 3), X[0], X[3]];
  const Q = await embed(app, model, Qin);
  for (const metric of ['euclidean', 'squared_euclidean', 'cosine'] as const) {
    for (const k of [1, 10, 400]) {
      const res = await search(app, id, { inputs: Qin, k, metric });
      t.equal(res.statusCode, 200, res.body);
      const body = res.json();
      t.equal(body.model, model);
      t.equal(body.metric, metric);
      t.equal(body.results.length, Qin.length);
      body.results.forEach((hits: { id: string; distance: number }[], j: number) =>
        sameHits(t, hits, bruteForce(stored, Q[j], k, metric), `${metric}, k=${k}, query ${j}`),
      );
    }
  }
  // the tied copies come out by id
  const tie = (await search(app, id, { inputs: [X[0]], k: 2 })).json().results[0];
  t.equal(tie[0].distance, tie[1].distance, 'a tie');
  t.ok(utf8Order(tie[0].id, tie[1].id) < 0, 'broken by id');
  // maxDistance
  const ranked = bruteForce(stored, Q[0], 50, 'euclidean');
  // between two distinct distances, so float rounding cannot move an item across it
  const at = ranked.findIndex((h, i) => i >= 20 && ranked[i + 1].distance - h.distance > 1e-3);
  const md = (ranked[at].distance + ranked[at + 1].distance) / 2;
  const res = await search(app, id, { embeddings: [Q[0]], k: 50, maxDistance: md });
  sameHits(t, res.json().results[0], bruteForce(stored, Q[0], 50, 'euclidean', md), 'maxDistance');
  t.equal(res.json().metric, 'euclidean', 'default metric without a training distance');
  // binary queries give the same answer
  const bin = Buffer.from(Float32Array.from(Qin.flat()).buffer);
  const b = await app.inject({
    method: 'POST',
    url: `/galleries/${id}/search?k=10&metric=cosine`,
    headers: { 'content-type': 'application/octet-stream' },
    payload: bin,
  });
  t.equal(b.statusCode, 200, b.body);
  t.same(b.json().results, (await search(app, id, { inputs: Qin, k: 10, metric: 'cosine' })).json().results);
  const eb = await app.inject({
    method: 'POST',
    url: `/galleries/${id}/search?k=3&query=embeddings`,
    headers: { 'content-type': 'application/octet-stream' },
    payload: Buffer.from(Float32Array.from(Q.flat()).buffer),
  });
  t.same(eb.json().results, (await search(app, id, { inputs: Qin, k: 3 })).json().results);
});

t.test('search sees every write: upserts, erasure by id and by identity', async (t) => {
  const app = await testApp(t);
  const model = await importModel(app);
  const id = await createGallery(app, model);
  const X = randomInputs(6, 4);
  await upload(app, id, { items: X.map((input, i) => ({ id: `p${i}`, label: i < 3 ? 'ann' : 4, input })) });
  const first = (await search(app, id, { inputs: [X[0]], k: 1 })).json();
  t.same(first.results[0][0].id, 'p0');
  await upload(app, id, { items: [{ id: 'p0', label: 'ann', input: X[5] }] });
  const after = (await search(app, id, { inputs: [X[0]], k: 6 })).json();
  t.ok(after.version > first.version, 'a new version');
  t.not(after.results[0][0].id, 'p0', 'p0 moved: the cache was reloaded');
  const del = await app.inject({ method: 'DELETE', url: `/galleries/${id}/items/p5` });
  t.same(del.json(), { deleted: 1, itemCount: 5, version: after.version + 1 });
  expectError(t, await app.inject({ method: 'DELETE', url: `/galleries/${id}/items/p5` }), 404, 'ITEM_NOT_FOUND');
  const byLabel = await app.inject({ method: 'DELETE', url: `/galleries/${id}/items?label=ann` });
  t.same(byLabel.json(), { deleted: 3, itemCount: 2, version: after.version + 2 });
  const byInt = await app.inject({ method: 'DELETE', url: `/galleries/${id}/items?label=4` });
  t.same(byInt.json().deleted, 2, 'the integer label 4');
  const empty = (await search(app, id, { inputs: [X[0]], k: 3 })).json();
  t.same(empty.results, [[]], 'an empty gallery answers no hits');
  expectError(t, await app.inject({ method: 'DELETE', url: `/galleries/${id}/items` }), 400, 'VALIDATION_ERROR');
});

t.test('an erasure or a delete leaves no copy in the search cache, nor does a load it overtook', async (t) => {
  const app = await testApp(t);
  const model = await importModel(app);
  const cache = app.services.galleries.cache;
  const X = randomInputs(6, 9);
  for (const index of ['exact', 'hnsw']) {
    const res = await app.inject({ method: 'POST', url: '/galleries', payload: { model, index } });
    const id = res.json().id as string;
    await upload(app, id, { items: X.map((input, i) => ({ id: `p${i}`, label: i < 3 ? 'ann' : 'bob', input })) });
    t.equal((await search(app, id, { inputs: [X[0]], k: 1 })).statusCode, 200);
    t.ok(cache.bytes > 0, `${index}: the search cached the gallery`);
    await app.inject({ method: 'DELETE', url: `/galleries/${id}/items?label=ann` });
    t.equal(cache.bytes, 0, `${index}: erasing an identity drops the cached copy that held it`);
    t.equal(cache.hnswKey(id), undefined, `${index}: and its index`);
    t.same((await search(app, id, { inputs: [X[0]], k: 6 })).json().results[0].length, 3);
    await app.inject({ method: 'DELETE', url: `/galleries/${id}/items/p3` });
    t.equal(cache.bytes, 0, `${index}: erasing an item drops it too`);
    t.equal((await search(app, id, { inputs: [X[0]], k: 1 })).statusCode, 200);
    // a load under way when the erasure lands serves its search, and is not kept
    const g = (await app.inject({ url: `/galleries/${id}` })).json();
    cache.invalidate(id);
    const loading = cache.acquire(g);
    cache.invalidate(id);
    cache.release(await loading);
    t.equal(cache.bytes, 0, `${index}: a load the erasure overtook is not kept`);
    t.equal((await search(app, id, { inputs: [X[0]], k: 1 })).statusCode, 200);
    t.ok(cache.bytes > 0);
    t.equal((await app.inject({ method: 'DELETE', url: `/galleries/${id}` })).statusCode, 204);
    t.equal(cache.bytes, 0, `${index}: a deleted gallery leaves the cache`);
  }
});

t.test('"42" and 42 are two identities: erasing one never erases the other', async (t) => {
  const app = await testApp(t);
  const id = await createGallery(app, await importModel(app));
  const X = randomInputs(3, 4);
  const items = [
    { id: 's', label: '42', input: X[0] },
    { id: 'i', label: 42, input: X[1] },
    { id: 'z', label: 0, input: X[2] },
  ];
  await upload(app, id, { items });
  const erase = (query: string) => app.inject({ method: 'DELETE', url: `/galleries/${id}/items?${query}` });
  const ambiguous = await erase('label=42');
  expectError(t, ambiguous, 400, 'VALIDATION_ERROR');
  t.match(ambiguous.json().message, /names two identities.*labelType=string or labelType=integer/);
  expectError(t, await erase('label=x&labelType=integer'), 400, 'VALIDATION_ERROR');
  expectError(t, await erase('label=42&labelType=float'), 400, 'VALIDATION_ERROR');
  t.equal((await getGallery(app, id)).itemCount, 3, 'nothing erased');
  t.match((await erase('label=42&labelType=string')).json(), { deleted: 1, itemCount: 2 });
  const left = (await search(app, id, { inputs: [X[1]], k: 3 })).json().results[0];
  t.same(left.map((h: { id: string }) => h.id).sort(), ['i', 'z'], 'the integer 42 is still enrolled');
  t.match((await erase('label=-0')).json(), { deleted: 1, itemCount: 1 }, 'unsaid, the one identity it names');
  t.match((await erase('label=42')).json(), { deleted: 1, itemCount: 0 });
});

t.test('hostile inputs answer 4xx and change nothing', async (t) => {
  const app = await testApp(t, { limits: { galleryItemsPerRequest: 5, galleryMaxItems: 5 } });
  const model = await importModel(app);
  const id = await createGallery(app, model);
  const X = randomInputs(4, 5);
  t.equal((await upload(app, id, { items: [{ id: 'keep', input: X[0] }] })).statusCode, 201);
  const before = await getGallery(app, id);
  const unchanged = async (what: string) => t.same(await getGallery(app, id), before, `${what}: nothing changed`);

  const cases: [string, unknown, number, string][] = [
    ['empty id', { items: [{ id: '', input: X[1] }] }, 400, 'VALIDATION_ERROR'],
    ['id of 257 characters', { items: [{ id: 'x'.repeat(257), input: X[1] }] }, 400, 'VALIDATION_ERROR'],
    [
      'an id twice',
      {
        items: [
          { id: 'n', input: X[1] },
          { id: 'n', input: X[2] },
        ],
      },
      400,
      'VALIDATION_ERROR',
    ],
    [
      'wrong dimension',
      {
        items: [
          { id: 'n', input: X[1] },
          { id: 'm', input: [1, 2] },
        ],
      },
      400,
      'DIMENSION_MISMATCH',
    ],
    ['float32 overflow', { items: [{ id: 'n', input: [1e39, 0, 0, 0, 0, 0] }] }, 400, 'NON_FINITE_VALUE'],
    ['no items', { items: [] }, 400, 'VALIDATION_ERROR'],
    ['unknown field', { items: [{ id: 'n', input: X[1], extra: 1 }] }, 400, 'VALIDATION_ERROR'],
    ['label of a bad type', { items: [{ id: 'n', label: 1.5, input: X[1] }] }, 400, 'VALIDATION_ERROR'],
    [
      'too many items in a request',
      { items: Array.from({ length: 6 }, (_, i) => ({ id: `i${i}`, input: X[1] })) },
      413,
      'BATCH_TOO_LARGE',
    ],
  ];
  for (const [what, payload, status, code] of cases) {
    expectError(t, await upload(app, id, payload), status, code);
    await unchanged(what);
  }
  const nan = Buffer.from(Float32Array.from([NaN, 0, 0, 0, 0, 0]).buffer).toString('base64');
  expectError(
    t,
    await upload(app, id, { encoding: 'base64', items: [{ id: 'n', input: nan }] }),
    400,
    'NON_FINITE_VALUE',
  );
  await unchanged('NaN in base64');
  // all or nothing over a stream: the bad row is the third, after two good ones
  const nd = [
    JSON.stringify({ id: 'n1', input: X[1] }),
    JSON.stringify({ id: 'n2', input: X[2] }),
    JSON.stringify({ id: 'n3', input: [1, 2, 3] }),
  ].join('\n');
  expectError(t, await uploadAs(app, id, 'application/x-ndjson', nd), 400, 'DIMENSION_MISMATCH');
  await unchanged('NDJSON with a bad third line');
  expectError(t, await uploadAs(app, id, 'application/x-ndjson', '{"id":"n1","input":[1,2'), 400, 'INVALID_JSON');
  await unchanged('NDJSON cut short');
  const good = encodeBinaryItems([{ id: 'b1', input: X[1] }]);
  const bad = encodeBinaryItems([{ id: 'b2', input: [NaN, 0, 0, 0, 0, 0] }]);
  expectError(
    t,
    await uploadAs(app, id, 'application/octet-stream', Buffer.concat([good, bad])),
    400,
    'NON_FINITE_VALUE',
  );
  await unchanged('binary with a NaN in its second record');
  expectError(
    t,
    await uploadAs(app, id, 'application/octet-stream', good.subarray(0, good.length - 1)),
    400,
    'INVALID_BODY',
  );
  await unchanged('binary cut inside a record');
  const zeroId = Buffer.concat([Buffer.from([0, 0, 0]), Buffer.alloc(4 * D)]);
  expectError(t, await uploadAs(app, id, 'application/octet-stream', zeroId), 400, 'INVALID_BODY');
  await unchanged('binary with an empty id');
  expectError(t, await uploadAs(app, id, 'text/plain', 'x'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  expectError(
    t,
    await upload(app, id, { items: Array.from({ length: 5 }, (_, i) => ({ id: `c${i}`, input: X[1] })) }),
    422,
    'LIMIT_EXCEEDED',
  );
  await unchanged('past GALLERY_MAX_ITEMS');

  // searches
  const sq = (payload: Record<string, unknown>) => search(app, id, payload);
  expectError(t, await sq({ inputs: [X[0]], k: 0 }), 400, 'VALIDATION_ERROR');
  expectError(t, await sq({ inputs: [X[0]], k: 1001 }), 400, 'VALIDATION_ERROR');
  expectError(t, await sq({ inputs: [X[0]], k: 1.5 }), 400, 'VALIDATION_ERROR');
  expectError(t, await sq({ inputs: [[1, 2]], k: 1 }), 400, 'DIMENSION_MISMATCH');
  expectError(t, await sq({ embeddings: [X[0]], k: 1 }), 400, 'DIMENSION_MISMATCH');
  expectError(t, await sq({ inputs: [[1e39, 0, 0, 0, 0, 0]], k: 1 }), 400, 'NON_FINITE_VALUE');
  expectError(t, await sq({ inputs: [X[0]], embeddings: [X[0]], k: 1 }), 400, 'VALIDATION_ERROR');
  expectError(t, await sq({ k: 1 }), 400, 'VALIDATION_ERROR');
  expectError(t, await sq({ inputs: [X[0]], k: 1, maxDistance: -1 }), 400, 'VALIDATION_ERROR');
  expectError(t, await search(app, 'gal_nope', { inputs: [X[0]], k: 1 }), 404, 'GALLERY_NOT_FOUND');
  expectError(t, await upload(app, 'gal_nope', { items: [{ id: 'a', input: X[0] }] }), 404, 'GALLERY_NOT_FOUND');
  expectError(
    t,
    await app.inject({
      method: 'POST',
      url: `/galleries/${id}/search?k=1`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.alloc(4 * D - 4),
    }),
    400,
    'DIMENSION_MISMATCH',
  );
  await unchanged('searches');
  const db = new Database(app.services.store.location, { readonly: true });
  try {
    t.equal(
      (db.prepare('SELECT COUNT(*) AS n FROM gallery_staged_items').get() as { n: number }).n,
      0,
      'no staged item left',
    );
  } finally {
    db.close();
  }
});

t.test('search budgets: queries per request and work are checked before anything is computed', async (t) => {
  // 4 items of k = 4: one query is 16 multiply-adds, two are 32
  const app = await testApp(t, { limits: { galleryMaxQueries: 2, gallerySearchMaxWork: 31 } });
  const model = await importModel(app);
  const id = await createGallery(app, model);
  const X = randomInputs(4, 6);
  await upload(app, id, { items: X.map((input, i) => ({ id: `q${i}`, input })) });
  expectError(t, await search(app, id, { inputs: X.slice(0, 3), k: 1 }), 413, 'BATCH_TOO_LARGE');
  expectError(t, await search(app, id, { inputs: X.slice(0, 2), k: 1 }), 422, 'BUDGET_EXCEEDED');
  t.equal((await search(app, id, { inputs: X.slice(0, 1), k: 1 })).statusCode, 200, 'one query is within the budget');
});

t.test("another app's write on the same database is seen by the next search (version check)", async (t) => {
  const dataDir = tempDir(t);
  const a = await testApp(t, { dataDir });
  const b = await testApp(t, { dataDir });
  const model = await importModel(a);
  const id = await createGallery(a, model);
  const X = randomInputs(3, 8);
  await upload(a, id, { items: [{ id: 'x', input: X[0] }] });
  const first = (await search(a, id, { inputs: [X[1]], k: 5 })).json();
  t.same(
    first.results[0].map((h: { id: string }) => h.id),
    ['x'],
  );
  t.equal((await upload(b, id, { items: [{ id: 'y', input: X[1] }] })).statusCode, 201, 'written by the other app');
  const second = (await search(a, id, { inputs: [X[1]], k: 5 })).json();
  t.equal(second.version, first.version + 1);
  t.same(
    second.results[0].map((h: { id: string; distance: number }) => [h.id, h.distance === 0]),
    [
      ['y', true],
      ['x', false],
    ],
    'the cache was reloaded for the new version',
  );
  t.equal((await b.inject({ method: 'DELETE', url: `/galleries/${id}/items?label=nobody` })).json().deleted, 0);
  t.equal((await b.inject({ method: 'DELETE', url: `/galleries/${id}/items/y` })).statusCode, 200);
  t.same(
    (await search(a, id, { inputs: [X[1]], k: 5 })).json().results[0].map((h: { id: string }) => h.id),
    ['x'],
    'and after an erase',
  );
});

t.test('a gallery larger than GALLERY_CACHE_BYTES is refused at search, others are evicted to fit', async (t) => {
  // one item of k = 4: 16 + 8·8·4 + 16 + 64 + 2 = 354 bytes; two such galleries do not fit in 400, nor one of two items (452)
  const app = await testApp(t, { limits: { galleryCacheBytes: 400 } });
  const model = await importModel(app);
  const X = randomInputs(2, 9);
  const g1 = await createGallery(app, model);
  const g2 = await createGallery(app, model);
  await upload(app, g1, { items: [{ id: 'a', input: X[0] }] });
  await upload(app, g2, { items: [{ id: 'b', input: X[1] }] });
  t.equal((await search(app, g1, { inputs: [X[0]], k: 1 })).statusCode, 200);
  t.equal(app.services.galleries.cache.bytes, 354);
  t.equal((await search(app, g2, { inputs: [X[0]], k: 1 })).statusCode, 200);
  t.equal(app.services.galleries.cache.bytes, 354, 'the first was evicted for the second');
  await upload(app, g1, { items: [{ id: 'c', input: X[1] }] });
  expectError(t, await search(app, g1, { inputs: [X[0]], k: 1 }), 422, 'BUDGET_EXCEEDED');
});

t.test('a search reply stays within REPLY_BYTES_LIMIT when ids and labels are not ASCII', async (t) => {
  // A '€' is one UTF-16 unit and three UTF-8 bytes: counted as one, 7 queries passed the budget
  // with a reply of about 170 KB against a limit of 64 KiB.
  const limit = 65_536;
  const app = await testApp(t, { limits: { replyBytesLimit: limit } });
  const model = await importModel(app);
  const g = await createGallery(app, model);
  const X = randomInputs(20, 31);
  const items = X.map((input, i) => ({ id: `${i}`.padEnd(200, '€'), label: `${i}`.padEnd(200, '€'), input }));
  t.equal((await upload(app, g, { items })).statusCode, 201);
  let accepted = 0;
  for (let queries = 1; queries <= 8; queries++) {
    const res = await search(app, g, { inputs: X.slice(0, queries), k: 20 });
    if (res.statusCode === 413) {
      t.equal(res.json().code, 'REPLY_TOO_LARGE', `${queries} queries`);
      continue;
    }
    t.equal(res.statusCode, 200, `${queries} queries`);
    t.equal(res.json().results[0][0].id, items[0].id, 'the ids come back whole');
    t.ok(res.rawPayload.byteLength <= limit, `${queries} queries: ${res.rawPayload.byteLength} bytes`);
    accepted++;
  }
  t.ok(accepted >= 1, `${accepted} of the searches fit and were answered`);
});

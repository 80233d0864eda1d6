// Identity-level data over HTTP (docs/decisions/0034-identity-level-data.md): labelCount and the
// label list, erasure of one label (with the bytes gone from the SQLite file and its WAL), and
// Idempotency-Key on every upload route, also across a restart.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { createDataset, expectError, tempDir, testApp } from '../helpers.js';

const json = (app: App, method: 'POST' | 'GET' | 'DELETE', url: string, payload?: unknown, headers = {}) =>
  app.inject({ method, url, payload: payload as string, headers: { 'content-type': 'application/json', ...headers } });

/**
 * A d-float vector whose float32 bytes spell `text` (ASCII, padded with '.'): every byte is below
 * 0x7f, so each float is finite, and the bytes are easy to look for in a file.
 */
function spelled(text: string, d: number): number[] {
  const bytes = Buffer.alloc(d * 4, '.');
  bytes.write(text, 'latin1');
  return Array.from({ length: d }, (_, j) => bytes.readFloatLE(j * 4));
}

const bytesOf = (v: number[]) => Buffer.from(new Float32Array(v).buffer);

async function allLabels(app: App, id: string, limit: number) {
  const out: unknown[] = [];
  let cursor = '';
  for (;;) {
    const r = await app.inject({ url: `/datasets/${id}/labels?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}` });
    if (r.statusCode !== 200) throw new Error(r.body);
    out.push(...r.json().items);
    if (!r.json().nextCursor) return out;
    cursor = r.json().nextCursor;
  }
}

t.test('labelCount and the label list, paged, over JSON and binary uploads', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 2);
  t.equal((await app.inject({ url: `/datasets/${id}` })).json().labelCount, 0);
  const samples = ['zed', 'amy', 3, '3', 'amy'].map((label, i) => ({ vector: [i, 1], label }));
  t.equal((await json(app, 'POST', `/datasets/${id}/samples`, { samples })).statusCode, 201);
  const bin = Buffer.alloc(2 * 12);
  bin.writeInt32LE(-1, 0);
  bin.writeInt32LE(3, 12);
  const up = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/samples`,
    headers: { 'content-type': 'application/octet-stream' },
    payload: bin,
  });
  t.equal(up.statusCode, 201);
  const ds = (await app.inject({ url: `/datasets/${id}` })).json();
  t.match(ds, { sampleCount: 7, labelCount: 5 });
  const expected = [
    { label: -1, sampleCount: 1 },
    { label: 3, sampleCount: 2 },
    { label: '3', sampleCount: 1 },
    { label: 'amy', sampleCount: 2 },
    { label: 'zed', sampleCount: 1 },
  ];
  t.same(await allLabels(app, id, 1000), expected);
  t.same(await allLabels(app, id, 2), expected, 'pages of 2: the same list');
  expectError(t, await app.inject({ url: `/datasets/${id}/labels?cursor=nope` }), 400, 'INVALID_CURSOR');
  expectError(t, await app.inject({ url: '/datasets/ds_nope/labels' }), 404, 'DATASET_NOT_FOUND');
  const tri = await createDataset(app, 1, [{ anchor: [0], positive: [0], negative: [1] }]);
  t.match((await app.inject({ url: `/datasets/${tri}` })).json(), { labelCount: 0, tripletCount: 1 });
});

t.test('erasing a label: samples, index triplets, counts; 404, 409, hostile labels', async (t) => {
  const app = await testApp(t, { build: { runJobs: false } });
  const id = await createDataset(app, 2);
  // no '\u0000': a NUL is refused in any text (src/http/nul.ts; test/http/nul.test.ts)
  const labels = ['a', 'b', 'a', 'c', 7, '7', "'; DROP TABLE chunks; --", '😀'];
  const samples = labels.map((label, i) => ({ vector: [i, -i], label }));
  await json(app, 'POST', `/datasets/${id}/samples`, { samples });
  // [1,3,4] stays and becomes [0,1,2]; [0,1,3] and [3,2,1] use an "a" and go
  const up = await json(app, 'POST', `/datasets/${id}/triplets`, {
    indexTriplets: [
      [1, 3, 4],
      [0, 1, 3],
      [3, 2, 1],
    ],
  });
  t.equal(up.statusCode, 201, up.body);

  const r = await app.inject({ method: 'DELETE', url: `/datasets/${id}/samples?label=a` });
  t.equal(r.statusCode, 200, r.body);
  t.match(r.json(), { label: 'a', samplesErased: 2, tripletsErased: 2, dataset: { sampleCount: 6, tripletCount: 1 } });
  t.equal(r.json().dataset.labelCount, 6);
  const stored = await app.services.store.readTriplets(id);
  t.same(Array.from(stored.data), [1, -1, 3, -3, 4, -4], 'the index triplet left holds samples 1, 3, 4');
  // that triplet's indices were renumbered: erasing "c" (sample 3 before, 1 now) takes it
  t.match((await app.inject({ method: 'DELETE', url: `/datasets/${id}/samples?label=c` })).json(), {
    samplesErased: 1,
    tripletsErased: 1,
  });

  expectError(
    t,
    await app.inject({ method: 'DELETE', url: `/datasets/${id}/samples?label=a` }),
    404,
    'LABEL_NOT_FOUND',
  );
  const int = await app.inject({ method: 'DELETE', url: `/datasets/${id}/samples?label=7&labelType=integer` });
  t.match(int.json(), { label: 7, samplesErased: 1 });
  t.match((await app.inject({ method: 'DELETE', url: `/datasets/${id}/samples?label=7` })).json(), {
    label: '7',
    samplesErased: 1,
  });
  expectError(
    t,
    await app.inject({ method: 'DELETE', url: `/datasets/${id}/samples?label=%00` }),
    400,
    'INVALID_REQUEST',
  );
  for (const hostile of ["'; DROP TABLE chunks; --", '😀']) {
    const h = await app.inject({
      method: 'DELETE',
      url: `/datasets/${id}/samples?label=${encodeURIComponent(hostile)}`,
    });
    t.match(h.json(), { label: hostile, samplesErased: 1 }, `erased ${JSON.stringify(hostile)}`);
  }
  t.same(await allLabels(app, id, 10), [{ label: 'b', sampleCount: 1 }]);
  const bad = await app.inject({ method: 'DELETE', url: `/datasets/${id}/samples?label=x1&labelType=integer` });
  expectError(t, bad, 400, 'VALIDATION_ERROR');
  expectError(t, await app.inject({ method: 'DELETE', url: `/datasets/${id}/samples` }), 400, 'VALIDATION_ERROR');
  expectError(
    t,
    await app.inject({ method: 'DELETE', url: '/datasets/ds_nope/samples?label=b' }),
    404,
    'DATASET_NOT_FOUND',
  );

  const more = ['d', 'd', 'e', 'e'].map((label, i) => ({ vector: [i, 1], label }));
  await json(app, 'POST', `/datasets/${id}/samples`, { samples: more });
  const job = await json(app, 'POST', '/train', { datasetId: id, outputDimension: 1 });
  t.equal(job.statusCode, 202, job.body);
  const busy = await app.inject({ method: 'DELETE', url: `/datasets/${id}/samples?label=b` });
  expectError(t, busy, 409, 'DATASET_IN_USE');
  t.equal((await app.inject({ url: `/datasets/${id}` })).json().sampleCount, 5, 'nothing erased');
});

t.test("an erased label's bytes are gone from the SQLite file and its WAL", async (t) => {
  const dataDir = tempDir(t);
  const app = await testApp(t, { dataDir, build: { runJobs: false } });
  const d = 16;
  const id = await createDataset(app, d);
  const alice = [0, 1, 2, 3].map((i) => spelled(`ALICE-SECRET-VECTOR-${i}-`, d));
  const bob = [0, 1, 2].map((i) => spelled(`BOB-KEPT-VECTOR-${i}-`, d));
  await json(app, 'POST', `/datasets/${id}/samples`, {
    samples: [
      ...alice.slice(0, 2).map((v) => ({ vector: v, label: 'alice' })),
      ...bob.map((v) => ({ vector: v, label: 'bob' })),
    ],
  });
  // a streamed upload too: its staged rows are rewritten when it commits
  const ndjson = alice
    .slice(2)
    .map((v) => JSON.stringify({ vector: v, label: 'alice' }))
    .join('\n');
  const up = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/samples`,
    headers: { 'content-type': 'application/x-ndjson' },
    payload: ndjson,
  });
  t.equal(up.statusCode, 201, up.body);
  // index triplets copy alice's vectors into triplet rows
  await json(app, 'POST', `/datasets/${id}/triplets`, {
    indexTriplets: [
      [0, 1, 2],
      [2, 3, 4],
    ],
  });

  const file = path.join(dataDir, 'triplet-embed.sqlite');
  const onDisk = () =>
    Buffer.concat([
      fs.readFileSync(file),
      fs.existsSync(`${file}-wal`) ? fs.readFileSync(`${file}-wal`) : Buffer.alloc(0),
    ]);
  const found = (bytes: Buffer) => alice.filter((v) => bytes.includes(bytesOf(v))).length;
  t.equal(found(onDisk()), 4, 'before: every alice vector is in the files');

  const r = await app.inject({ method: 'DELETE', url: `/datasets/${id}/samples?label=alice` });
  t.match(r.json(), { samplesErased: 4, tripletsErased: 1, dataset: { sampleCount: 3, tripletCount: 1 } });
  const after = onDisk();
  t.equal(found(after), 0, 'after: no alice vector in the database file or the WAL');
  t.equal(fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0, 0, 'the WAL was truncated');
  t.ok(after.includes(bytesOf(bob[0])), "bob's vectors are still there (the search works)");
  t.notOk(after.includes(Buffer.from('"alice"')), 'nor the label in the chunks');
  await app.close();
  const again = await testApp(t, { dataDir, build: { runJobs: false } });
  t.match((await again.inject({ url: `/datasets/${id}` })).json(), { sampleCount: 3, labelCount: 1 });
  t.equal(found(onDisk()), 0);
});

t.test('Idempotency-Key: one append per key, the first reply to retries, across a restart', async (t) => {
  const dataDir = tempDir(t);
  let app = await testApp(t, { dataDir });
  const id = await createDataset(app, 2);
  const body = {
    samples: [
      { vector: [1, 2], label: 'a' },
      { vector: [3, 4], label: 'b' },
    ],
  };
  const key = { 'idempotency-key': 'upload-0001' };
  const first = await json(app, 'POST', `/datasets/${id}/samples`, body, key);
  t.equal(first.statusCode, 201);
  t.same(first.json(), { added: 2, sampleCount: 2 });
  t.equal(first.headers['idempotent-replayed'], undefined);
  const retry = await json(app, 'POST', `/datasets/${id}/samples`, body, key);
  t.equal(retry.statusCode, 201);
  t.same(retry.json(), first.json());
  t.equal(retry.headers['idempotent-replayed'], 'true');
  const other = await json(app, 'POST', `/datasets/${id}/samples`, { samples: [{ vector: [9, 9], label: 'c' }] }, key);
  expectError(t, other, 422, 'IDEMPOTENCY_KEY_REUSED');
  t.equal((await app.inject({ url: `/datasets/${id}` })).json().sampleCount, 2, 'retries appended nothing');
  // the same key on another route or dataset is another key
  const triplet = { triplets: [{ anchor: [0, 0], positive: [0, 1], negative: [1, 1] }] };
  t.same((await json(app, 'POST', `/datasets/${id}/triplets`, triplet, key)).json(), { added: 1, tripletCount: 1 });
  const id2 = await createDataset(app, 2);
  t.same((await json(app, 'POST', `/datasets/${id2}/samples`, body, key)).json(), { added: 2, sampleCount: 2 });

  // streamed: NDJSON and binary, hashed as they stream
  const nd = '{"vector":[5,6],"label":"x"}\n{"vector":[7,8],"label":"y"}\n';
  const ndPost = () =>
    app.inject({
      method: 'POST',
      url: `/datasets/${id}/samples`,
      headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'nd-1' },
      payload: nd,
    });
  t.same((await ndPost()).json(), { added: 2, sampleCount: 4 });
  const ndRetry = await ndPost();
  t.same(ndRetry.json(), { added: 2, sampleCount: 4 });
  t.equal(ndRetry.headers['idempotent-replayed'], 'true');
  const ndOther = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/samples`,
    headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'nd-1' },
    payload: nd + '{"vector":[1,1],"label":"z"}\n',
  });
  expectError(t, ndOther, 422, 'IDEMPOTENCY_KEY_REUSED');
  const binPost = () =>
    app.inject({
      method: 'POST',
      url: `/datasets/${id}/triplets`,
      headers: { 'content-type': 'application/octet-stream', 'idempotency-key': 'bin-1' },
      payload: Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer),
    });
  t.same((await binPost()).json(), { added: 1, tripletCount: 2 });
  t.same((await binPost()).json(), { added: 1, tripletCount: 2 });
  // index triplets
  const idx = { indexTriplets: [[0, 1, 2]] };
  const idxKey = { 'idempotency-key': 'idx-1' };
  t.same((await json(app, 'POST', `/datasets/${id}/triplets`, idx, idxKey)).json(), { added: 1, tripletCount: 3 });
  t.same((await json(app, 'POST', `/datasets/${id}/triplets`, idx, idxKey)).json(), { added: 1, tripletCount: 3 });

  for (const bad of ['', 'x'.repeat(256), 'caf\u00e9', 'tab\there']) {
    const r = await json(app, 'POST', `/datasets/${id}/samples`, body, { 'idempotency-key': bad });
    expectError(t, r, 400, 'INVALID_IDEMPOTENCY_KEY');
  }
  t.match((await app.inject({ url: `/datasets/${id}` })).json(), { sampleCount: 4, tripletCount: 3 });

  // across a restart: the first reply, nothing appended
  await app.close();
  app = await testApp(t, { dataDir });
  const afterRestart = await json(app, 'POST', `/datasets/${id}/samples`, body, key);
  t.equal(afterRestart.statusCode, 201);
  t.same(afterRestart.json(), { added: 2, sampleCount: 2 }, 'the first reply, as it was');
  t.equal(afterRestart.headers['idempotent-replayed'], 'true');
  t.match((await app.inject({ url: `/datasets/${id}` })).json(), { sampleCount: 4, tripletCount: 3 });
});

t.test('Idempotency-Key: a request still in flight gets 409; keys are per API key', async (t) => {
  const keys = ['k'.repeat(16), 'l'.repeat(16)];
  const app = await testApp(t, { config: { apiKeys: keys } });
  const auth = (k: string) => ({ authorization: `Bearer ${k}` });
  const created = await app.inject({
    method: 'POST',
    url: '/datasets',
    payload: { dimension: 1 },
    headers: auth(keys[0]),
  });
  const id = created.json().id as string;
  const body = { samples: [{ vector: [1], label: 'a' }] };
  const h = (k: string) => ({ ...auth(k), 'idempotency-key': 'same' });
  const a = await json(app, 'POST', `/datasets/${id}/samples`, body, h(keys[0]));
  const b = await json(app, 'POST', `/datasets/${id}/samples`, body, h(keys[1]));
  t.same(
    [a.json(), b.json()],
    [
      { added: 1, sampleCount: 1 },
      { added: 1, sampleCount: 2 },
    ],
    'two callers, two keys',
  );

  // in flight: a streamed upload whose body has not ended holds its key
  const { PassThrough } = await import('node:stream');
  const slow = new PassThrough();
  const pending = app.inject({
    method: 'POST',
    url: `/datasets/${id}/samples`,
    headers: { ...h(keys[0]), 'idempotency-key': 'slow', 'content-type': 'application/x-ndjson' },
    payload: slow,
  });
  slow.write('{"vector":[2],"label":"b"}\n');
  // Until the route has read the first line, its key is surely held (it is taken before the body is read).
  while (slow.readableLength > 0) await new Promise((r) => setTimeout(r, 10));
  const during = await json(app, 'POST', `/datasets/${id}/samples`, body, { ...h(keys[0]), 'idempotency-key': 'slow' });
  expectError(t, during, 409, 'IDEMPOTENCY_KEY_IN_FLIGHT');
  slow.end();
  t.same((await pending).json(), { added: 1, sampleCount: 3 });
});

// Datasets and triplet uploads, through app.inject on a real SQLite file.
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import { createDataset, expectError, makeTriplets, stagedChunks, testApp, type TripletJson } from '../helpers.js';

function f32le(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
}

const flat = (ts: TripletJson[]) => ts.flatMap((x) => [...x.anchor, ...x.positive, ...x.negative]);
const toBinary = (ts: TripletJson[]) => f32le(flat(ts));
const toNdjson = (ts: TripletJson[]) => ts.map((x) => JSON.stringify(x)).join('\n') + '\n';

function postJson(app: App, id: string, triplets: unknown) {
  return app.inject({ method: 'POST', url: `/datasets/${id}/triplets`, payload: { triplets } });
}
function postNdjson(app: App, id: string, body: string) {
  return app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    headers: { 'content-type': 'application/x-ndjson' },
    payload: body,
  });
}
function postBinary(app: App, id: string, body: Buffer) {
  return app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    headers: { 'content-type': 'application/octet-stream' },
    payload: body,
  });
}

async function tripletCount(app: App, id: string): Promise<number> {
  return (await app.inject({ url: `/datasets/${id}` })).json().tripletCount;
}

/** The upload was refused and nothing of it is left: count unchanged in the API and in the store, no staged chunk. */
async function unchanged(t: Test, app: App, id: string, count: number) {
  t.equal(await tripletCount(app, id), count, 'tripletCount unchanged');
  t.equal((await app.services.store.readTriplets(id)).count, count, 'stored triplets unchanged');
  t.equal(stagedChunks(app), 0, 'no staged chunks left');
}

async function expectStored(t: Test, app: App, id: string, ts: TripletJson[]) {
  const stored = await app.services.store.readTriplets(id);
  t.equal(stored.count, ts.length);
  const want = flat(ts).map(Math.fround);
  t.equal(stored.data.length, want.length);
  let same = true;
  for (let i = 0; i < want.length; i++) if (stored.data[i] !== want[i]) same = false;
  t.ok(same, 'stored float32 values equal the uploaded ones, in order');
}

t.test('create, get, list and delete', async (t) => {
  const app = await testApp(t);
  const r = await app.inject({ method: 'POST', url: '/datasets', payload: { name: 'faces', dimension: 4 } });
  t.equal(r.statusCode, 201);
  const ds = r.json();
  t.match(ds, { name: 'faces', dimension: 4, tripletCount: 0, sampleCount: 0 });
  t.match(ds.id, /^ds_/);
  t.ok(!Number.isNaN(Date.parse(ds.createdAt)) && ds.createdAt.endsWith('Z'), 'createdAt is ISO UTC');

  const noName = await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 3 } });
  t.equal(noName.statusCode, 201);
  t.equal(noName.json().name, null, 'name is optional');

  const got = await app.inject({ url: `/datasets/${ds.id}` });
  t.equal(got.statusCode, 200);
  t.same(got.json(), ds);

  const list = await app.inject({ url: '/datasets' });
  t.equal(list.statusCode, 200);
  t.same(
    list.json().items.map((d: any) => d.id),
    [noName.json().id, ds.id],
    'newest first',
  );
  t.equal(list.json().nextCursor, null);

  const del = await app.inject({ method: 'DELETE', url: `/datasets/${ds.id}` });
  t.equal(del.statusCode, 204);
  t.equal(del.body, '');
  expectError(t, await app.inject({ url: `/datasets/${ds.id}` }), 404, 'DATASET_NOT_FOUND');
  expectError(t, await app.inject({ method: 'DELETE', url: `/datasets/${ds.id}` }), 404, 'DATASET_NOT_FOUND');
  t.equal((await app.inject({ url: '/datasets' })).json().items.length, 1);
});

t.test('create rejects bad input', async (t) => {
  const app = await testApp(t, { limits: { maxDimension: 16 } });
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/datasets', payload: payload as object });
  expectError(t, await post({}), 400, 'VALIDATION_ERROR');
  expectError(t, await post({ dimension: 0 }), 400, 'VALIDATION_ERROR');
  expectError(t, await post({ dimension: 2.5 }), 400, 'VALIDATION_ERROR');
  expectError(t, await post({ dimension: '4' }), 400, 'VALIDATION_ERROR');
  expectError(t, await post({ dimension: 4, color: 'red' }), 400, 'VALIDATION_ERROR');
  expectError(t, await post({ dimension: 4, name: 7 }), 400, 'VALIDATION_ERROR');
  expectError(t, await post({ dimension: 17 }), 422, 'LIMIT_EXCEEDED');
  t.equal((await post({ dimension: 16 })).statusCode, 201, 'the limit itself is allowed');
  expectError(
    t,
    await app.inject({
      method: 'POST',
      url: '/datasets',
      headers: { 'content-type': 'application/json' },
      payload: '{"dimension": 4',
    }),
    400,
    'INVALID_JSON',
  );
  t.equal((await app.inject({ url: '/datasets' })).json().items.length, 1, 'only the valid one was created');
});

t.test('list pagination', async (t) => {
  const app = await testApp(t);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await createDataset(app, 2));
  const newestFirst = [...ids].reverse();
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/datasets?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await app.inject({ url });
    t.equal(r.statusCode, 200);
    const body = r.json();
    t.ok(body.items.length <= 2);
    seen.push(...body.items.map((d: any) => d.id));
    cursor = body.nextCursor;
    pages++;
  } while (cursor !== null && pages < 10);
  t.equal(pages, 3);
  t.same(seen, newestFirst, 'every dataset once, newest first');

  expectError(t, await app.inject({ url: '/datasets?cursor=not-a-cursor!' }), 400, 'INVALID_CURSOR');
  expectError(t, await app.inject({ url: '/datasets?cursor=abc' }), 400, 'INVALID_CURSOR');
  expectError(t, await app.inject({ url: '/datasets?limit=0' }), 400, 'VALIDATION_ERROR');
  expectError(t, await app.inject({ url: '/datasets?limit=abc' }), 400, 'VALIDATION_ERROR');
  expectError(t, await app.inject({ url: '/datasets?bogus=1' }), 400, 'VALIDATION_ERROR');
});

t.test('delete answers 409 while a queued job uses the dataset', async (t) => {
  const app = await testApp(t, { build: { runJobs: false } });
  const id = await createDataset(app, 3, makeTriplets(5, 3));
  const job = await app.inject({ method: 'POST', url: '/train', payload: { datasetId: id, outputDimension: 2 } });
  t.equal(job.statusCode, 202);
  t.equal(job.json().status, 'queued');
  expectError(t, await app.inject({ method: 'DELETE', url: `/datasets/${id}` }), 409, 'DATASET_IN_USE');
  t.equal((await app.inject({ url: `/datasets/${id}` })).statusCode, 200, 'still there');
  t.equal((await app.services.store.readTriplets(id)).count, 5, 'its triplets too');
  // once the job is cancelled, the dataset can go
  t.equal((await app.inject({ method: 'POST', url: `/jobs/${job.json().id}/cancel` })).statusCode, 200);
  t.equal((await app.inject({ method: 'DELETE', url: `/datasets/${id}` })).statusCode, 204);
});

t.test('POST /train racing DELETE: the job and the delete never both succeed', async (t) => {
  const app = await testApp(t, { build: { runJobs: false } });
  const outcomes = new Map<string, number>();
  for (let round = 0; round < 24; round++) {
    const id = await createDataset(app, 3, makeTriplets(5, 3));
    // the delete starts 0-3 ms later, so it lands at every step of the train request
    const [train, del] = await Promise.all([
      app.inject({ method: 'POST', url: '/train', payload: { datasetId: id, outputDimension: 2 } }),
      new Promise((r) => setTimeout(r, round % 4)).then(() => app.inject({ method: 'DELETE', url: `/datasets/${id}` })),
    ]);
    const key = `${train.statusCode}/${del.statusCode}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    if (key === '202/409') {
      expectError(t, del, 409, 'DATASET_IN_USE');
      // cancel it, so the next round's train is not refused by a full queue
      await app.inject({ method: 'POST', url: `/jobs/${train.json().id}/cancel` });
    } else if (key === '404/204') expectError(t, train, 404, 'DATASET_NOT_FOUND');
    else t.fail(`round ${round}: POST /train ${train.statusCode}, DELETE ${del.statusCode}`);
  }
  t.comment(`train/delete statuses: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  t.equal(await app.services.store.countJobs('queued'), 0, 'no job was left queued on a deleted dataset');
});

t.test('JSON upload', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3);
  const first = makeTriplets(4, 3, 1);
  const r = await postJson(app, id, first);
  t.equal(r.statusCode, 201);
  t.same(r.json(), { added: 4, tripletCount: 4 });
  const second = makeTriplets(2, 3, 2);
  t.same((await postJson(app, id, second)).json(), { added: 2, tripletCount: 6 });
  t.equal(await tripletCount(app, id), 6);
  await expectStored(t, app, id, [...first, ...second]);
  // the content type may carry parameters
  const third = makeTriplets(1, 3, 3);
  const withCharset = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    payload: JSON.stringify({ triplets: third }),
  });
  t.equal(withCharset.statusCode, 201);
  t.equal(withCharset.json().tripletCount, 7);
});

t.test('JSON upload is all or nothing', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3, makeTriplets(3, 3));
  const good = makeTriplets(3, 3, 9);

  const wrongDim = structuredClone(good);
  wrongDim[1].positive = [1, 2];
  const r = await postJson(app, id, wrongDim);
  expectError(t, r, 400, 'DIMENSION_MISMATCH');
  t.match(r.json().message, 'triplets[1].positive', 'names the field');
  await unchanged(t, app, id, 3);

  const str = structuredClone(good) as any[];
  str[2].negative = [1, '2', 3];
  expectError(t, await postJson(app, id, str), 400, 'VALIDATION_ERROR');
  const nul = structuredClone(good) as any[];
  nul[0].anchor = [1, null, 3];
  expectError(t, await postJson(app, id, nul), 400, 'VALIDATION_ERROR');
  const notArray = structuredClone(good) as any[];
  notArray[0].anchor = 'abc';
  expectError(t, await postJson(app, id, notArray), 400, 'VALIDATION_ERROR');
  const extra = structuredClone(good) as any[];
  extra[1].label = 3;
  expectError(t, await postJson(app, id, extra), 400, 'VALIDATION_ERROR');
  const missing = structuredClone(good) as any[];
  delete missing[1].negative;
  expectError(t, await postJson(app, id, missing), 400, 'VALIDATION_ERROR');
  expectError(t, await postJson(app, id, []), 400, 'VALIDATION_ERROR');
  expectError(
    t,
    await app.inject({ method: 'POST', url: `/datasets/${id}/triplets`, payload: { triplets: good, extra: 1 } }),
    400,
    'VALIDATION_ERROR',
  );

  const overflow = structuredClone(good);
  overflow[2].anchor[1] = 1e39; // finite in float64, infinite in float32
  const o = await postJson(app, id, overflow);
  expectError(t, o, 400, 'NON_FINITE_VALUE');
  t.match(o.json().message, 'triplets[2].anchor[1]');

  // 1e400 in the JSON text parses to Infinity
  const text = JSON.stringify({ triplets: good }).replace(/^(\{"triplets":\[\{"anchor":\[)[^,]+/, '$11e400');
  t.match(text, '1e400');
  const inf = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    headers: { 'content-type': 'application/json' },
    payload: text,
  });
  expectError(t, inf, 400, 'NON_FINITE_VALUE');
  t.match(inf.json().message, 'triplets[0].anchor[0]');

  expectError(
    t,
    await app.inject({
      method: 'POST',
      url: `/datasets/${id}/triplets`,
      headers: { 'content-type': 'application/json' },
      payload: '{"triplets": [',
    }),
    400,
    'INVALID_JSON',
  );
  await unchanged(t, app, id, 3);
  t.equal((await postJson(app, id, good)).statusCode, 201, 'a good upload still works afterwards');
  t.equal(await tripletCount(app, id), 6);
});

t.test('NDJSON upload', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3);
  const ts = makeTriplets(5, 3, 4);
  const lines = ts.map((x) => JSON.stringify(x));
  // blank lines, CRLF-free trailing spaces, and no final newline are all fine
  const body = `${lines[0]}\n\n${lines[1]}\n   \n${lines[2]}\n${lines[3]}\n${lines[4]}`;
  const r = await postNdjson(app, id, body);
  t.equal(r.statusCode, 201);
  t.same(r.json(), { added: 5, tripletCount: 5 });
  await expectStored(t, app, id, ts);
  const more = makeTriplets(3, 3, 5);
  t.same((await postNdjson(app, id, toNdjson(more))).json(), { added: 3, tripletCount: 8 });
  await expectStored(t, app, id, [...ts, ...more]);
});

t.test('NDJSON upload is all or nothing', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3, makeTriplets(2, 3));
  const ts = makeTriplets(50, 3, 6);

  const wrong = ts.map((x) => JSON.stringify(x));
  wrong[36] = JSON.stringify({ ...ts[36], negative: [1, 2, 3, 4] });
  const r = await postNdjson(app, id, wrong.join('\n'));
  expectError(t, r, 400, 'DIMENSION_MISMATCH');
  t.match(r.json().message, 'line 37');
  await unchanged(t, app, id, 2);

  const cases: [string, string, string][] = [
    ['a string value', JSON.stringify({ ...ts[0], anchor: [1, 'x', 3] }), 'VALIDATION_ERROR'],
    ['a string vector', JSON.stringify({ ...ts[0], anchor: 'abc' }), 'VALIDATION_ERROR'],
    ['a null value', JSON.stringify({ ...ts[0], anchor: [1, null, 3] }), 'VALIDATION_ERROR'],
    ['an unknown field', JSON.stringify({ ...ts[0], label: 1 }), 'VALIDATION_ERROR'],
    ['a missing field', JSON.stringify({ anchor: ts[0].anchor, positive: ts[0].positive }), 'VALIDATION_ERROR'],
    ['an array line', JSON.stringify([ts[0].anchor, ts[0].positive, ts[0].negative]), 'VALIDATION_ERROR'],
    ['invalid JSON', '{"anchor": [1, 2, 3], ', 'INVALID_JSON'],
    ['a float32 overflow', JSON.stringify({ ...ts[0], positive: [1, -1e39, 3] }), 'NON_FINITE_VALUE'],
    ['1e400', `{"anchor":[1,2,3],"positive":[1e400,2,3],"negative":[1,2,3]}`, 'NON_FINITE_VALUE'],
  ];
  for (const [what, line, code] of cases) {
    const body = [...ts.slice(0, 10).map((x) => JSON.stringify(x)), line, JSON.stringify(ts[11])].join('\n');
    const res = await postNdjson(app, id, body);
    expectError(t, res, 400, code);
    t.match(res.json().message, 'line 11', `${what}: names the line`);
  }
  expectError(t, await postNdjson(app, id, ''), 400, 'EMPTY_BATCH');
  expectError(t, await postNdjson(app, id, '\n\n  \n'), 400, 'EMPTY_BATCH');
  await unchanged(t, app, id, 2);
});

t.test('NDJSON: one bad line deep in a large stream leaves nothing behind', async (t) => {
  const app = await testApp(t);
  // d = 100 makes the service stage a chunk every ~3500 triplets, so chunks are staged before line 5000
  const d = 100;
  const id = await createDataset(app, d, makeTriplets(1, d));
  const row = (i: number, o: number) => Array.from({ length: d }, (_, j) => ((i + j + o) % 9) - 4);
  const lines: string[] = [];
  for (let i = 0; i < 6000; i++)
    lines.push(JSON.stringify({ anchor: row(i, 0), positive: row(i, 1), negative: row(i, 5) }));
  const good = await postNdjson(app, id, lines.join('\n'));
  t.equal(good.statusCode, 201, 'the whole stream is accepted when every line is good');
  t.equal(good.json().tripletCount, 6001);

  const bad = [...lines];
  bad[4999] = JSON.stringify({ anchor: row(0, 0), positive: row(0, 1), negative: row(0, 5).slice(1) });
  const r = await postNdjson(app, id, bad.join('\n'));
  expectError(t, r, 400, 'DIMENSION_MISMATCH');
  t.match(r.json().message, 'line 5000');
  await unchanged(t, app, id, 6001);
});

t.test('binary upload', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3);
  const ts = makeTriplets(7, 3, 8);
  const r = await postBinary(app, id, toBinary(ts));
  t.equal(r.statusCode, 201);
  t.same(r.json(), { added: 7, tripletCount: 7 });
  await expectStored(t, app, id, ts);
  const more = makeTriplets(2, 3, 10);
  t.same((await postBinary(app, id, toBinary(more))).json(), { added: 2, tripletCount: 9 });
  await expectStored(t, app, id, [...ts, ...more]);
});

t.test('binary upload is all or nothing', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3, makeTriplets(4, 3));
  const values = flat(makeTriplets(6, 3, 11));

  for (const bad of [NaN, Infinity, -Infinity]) {
    const v = [...values];
    v[4 * 9 + 7] = bad; // triplet 4, value 7
    const r = await postBinary(app, id, f32le(v));
    expectError(t, r, 400, 'NON_FINITE_VALUE');
    t.match(r.json().message, 'triplet 4');
  }
  const ragged = await postBinary(app, id, f32le(values).subarray(0, values.length * 4 - 4));
  t.equal(ragged.statusCode, 400, 'a ragged length is refused');
  expectError(t, ragged, 400, ragged.json().code);
  expectError(
    t,
    await postBinary(app, id, f32le(values).subarray(0, values.length * 4 - 2)),
    400,
    'DIMENSION_MISMATCH',
  );
  expectError(t, await postBinary(app, id, Buffer.alloc(0)), 400, 'EMPTY_BATCH');
  await unchanged(t, app, id, 4);
});

t.test('binary: a bad value after staged chunks leaves nothing behind', async (t) => {
  const app = await testApp(t);
  const d = 200; // ~1750 triplets a staged chunk
  const id = await createDataset(app, d);
  const n = 4000;
  const buf = Buffer.alloc(n * 3 * d * 4);
  for (let i = 0; i < n * 3 * d; i++) buf.writeFloatLE((i % 13) - 6, i * 4);
  buf.writeFloatLE(NaN, (3900 * 3 * d + 5) * 4);
  const r = await postBinary(app, id, buf);
  expectError(t, r, 400, 'NON_FINITE_VALUE');
  t.match(r.json().message, 'triplet 3900');
  await unchanged(t, app, id, 0);
});

t.test('content types, sizes and limits', async (t) => {
  const app = await testApp(t, { limits: { bodyLimit: 2048, maxTripletsPerRequest: 3, maxTripletsPerDataset: 5 } });
  const id = await createDataset(app, 2);
  const ts = makeTriplets(4, 2, 12);

  expectError(
    t,
    await app.inject({
      method: 'POST',
      url: `/datasets/${id}/triplets`,
      headers: { 'content-type': 'text/plain' },
      payload: toNdjson(ts),
    }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  expectError(
    t,
    await app.inject({
      method: 'POST',
      url: `/datasets/${id}/triplets`,
      headers: { 'content-type': 'application/xml' },
      payload: '<x/>',
    }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  const big = makeTriplets(2, 2).map((x) => ({ ...x, anchor: x.anchor.map((v) => v + 1e-9) }));
  const huge = JSON.stringify({
    triplets: [...big, ...big, ...big, ...big, ...big, ...big, ...big, ...big, ...big, ...big, ...big, ...big],
  });
  t.ok(huge.length > 2048);
  expectError(
    t,
    await app.inject({
      method: 'POST',
      url: `/datasets/${id}/triplets`,
      headers: { 'content-type': 'application/json' },
      payload: huge,
    }),
    413,
    'BODY_TOO_LARGE',
  );
  expectError(t, await postJson(app, id, ts), 413, 'BATCH_TOO_LARGE');
  t.equal(await tripletCount(app, id), 0);

  t.same((await postJson(app, id, ts.slice(0, 3))).json(), { added: 3, tripletCount: 3 });
  const over = await postJson(app, id, ts.slice(0, 3));
  expectError(t, over, 422, 'LIMIT_EXCEEDED');
  expectError(t, await postNdjson(app, id, toNdjson(ts.slice(0, 3))), 422, 'LIMIT_EXCEEDED');
  expectError(t, await postBinary(app, id, toBinary(ts.slice(0, 3))), 422, 'LIMIT_EXCEEDED');
  await unchanged(t, app, id, 3);
  t.same(
    (await postBinary(app, id, toBinary(ts.slice(0, 2)))).json(),
    { added: 2, tripletCount: 5 },
    'up to the limit is fine',
  );
});

t.test('unknown datasets and ids with path characters', async (t) => {
  const app = await testApp(t);
  const ts = makeTriplets(1, 2);
  expectError(t, await postJson(app, 'ds_nope', ts), 404, 'DATASET_NOT_FOUND');
  expectError(t, await postNdjson(app, 'ds_nope', toNdjson(ts)), 404, 'DATASET_NOT_FOUND');
  expectError(t, await postBinary(app, 'ds_nope', toBinary(ts)), 404, 'DATASET_NOT_FOUND');
  for (const url of ['/datasets/..%2F..%2Fetc/triplets', '/datasets/..%2F..%2Fetc%2Fpasswd', '/datasets/%2E%2E']) {
    const r = url.endsWith('/triplets')
      ? await app.inject({ method: 'POST', url, payload: { triplets: ts } })
      : await app.inject({ url });
    t.equal(r.statusCode, 404, url);
    t.match(r.headers['content-type'], /application\/json/);
    expectError(t, r, 404, r.json().code);
  }
  const traversal = await app.inject({
    method: 'POST',
    url: '/datasets/..%2F..%2Fetc/triplets',
    payload: { triplets: ts },
  });
  t.equal(traversal.json().code, 'DATASET_NOT_FOUND');
  // the server keeps answering
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
});

t.test('an NDJSON line over the line bound is refused whether it arrives whole or split', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 2);
  // d = 2: a line may hold 64 bytes a value (6 values) plus 1 KiB; this valid line pads far past that.
  const long = `{"anchor": [0, 0], "positive": [0, 0],${' '.repeat(4000)}"negative": [1, 1]}`;
  const whole = await postNdjson(app, id, `${long}\n`);
  expectError(t, whole, 413, 'BODY_TOO_LARGE');
  await unchanged(t, app, id, 0);
  const short = '{"anchor": [0, 0], "positive": [0, 0], "negative": [1, 1]}';
  t.equal((await postNdjson(app, id, `${short}\n`)).statusCode, 201, 'a line within the bound is fine');
});

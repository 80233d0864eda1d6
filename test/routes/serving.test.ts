// Serving (/embed, /distances) and operations (/healthz, /readyz, /docs, /openapi.json, 404s).
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import type { WasmKernels } from '../../src/math/kernels/wasm.js';
import { expectError, testApp } from '../helpers.js';

const OCTET = 'application/octet-stream';

function f32le(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
}
function readF32le(b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= b.byteLength; i += 4) out.push(b.readFloatLE(i));
  return out;
}
const b64row = (row: number[]) => f32le(row).toString('base64');

/** W·x (inputs rounded to float32, as the service stores them), L2-normalised when asked. */
function embedByHand(W: number[][], x: number[], normalize = false): number[] {
  const e = W.map((row) => row.reduce((s, w, j) => s + w * Math.fround(x[j]), 0));
  if (!normalize) return e;
  const n = Math.sqrt(e.reduce((s, v) => s + v * v, 0));
  return e.map((v) => v / n);
}

function distanceByHand(a: number[], b: number[], metric: string): number {
  if (metric === 'cosine') {
    const dot = a.reduce((s, v, i) => s + v * b[i], 0);
    return 1 - dot / (Math.hypot(...a) * Math.hypot(...b));
  }
  const sq = a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0);
  return metric === 'squared_euclidean' ? sq : Math.sqrt(sq);
}

/** Elementwise agreement to float32 precision. */
function closeRows(t: Test, got: number[][], want: number[][], msg: string, tol = 1e-6) {
  t.equal(got.length, want.length, `${msg}: rows`);
  let worst = 0;
  want.forEach((row, i) => {
    t.equal(got[i].length, row.length, `${msg}: row ${i} length`);
    row.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(got[i][j] - v) / Math.max(1, Math.abs(v)));
    });
  });
  t.ok(worst <= tol, `${msg}: worst relative error ${worst}`);
}

// k = 3, d = 4: no special structure, so a transposed or misindexed W gives other numbers
const W = [
  [0.5, -1.25, 2, 0.75],
  [-0.3, 0.8, 0.1, -1.9],
  [1.7, 0.05, -0.6, 0.4],
];
const X = [
  [1, 2, 3, 4],
  [-0.5, 0.1, 0.7, 2.2],
  [3.3, -1.1, 0, 0.9],
  [0.25, 0.5, -4, 1],
];

async function withModels(t: Test, limits = {}) {
  const app = await testApp(t, { limits });
  const older = (
    await app.inject({
      method: 'POST',
      url: '/models',
      payload: {
        W: [
          [1, 0, 0, 0],
          [0, 1, 0, 0],
        ],
      },
    })
  ).json().id as string;
  const normalized = (await app.inject({ method: 'POST', url: '/models', payload: { W, normalize: true } })).json()
    .id as string;
  const newest = (await app.inject({ method: 'POST', url: '/models', payload: { W } })).json().id as string;
  // The first model (older) set the alias `default`; these tests serve `newest` by default.
  const moved = await app.inject({ method: 'PUT', url: '/aliases/default', payload: { model: newest } });
  if (moved.statusCode !== 200) throw new Error(`PUT /aliases/default: ${moved.body}`);
  return { app, older, normalized, newest };
}

const embed = (app: App, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/embed', payload, headers });

t.test('POST /embed with JSON rows', async (t) => {
  const { app, older, normalized, newest } = await withModels(t);
  const r = await embed(app, { inputs: X });
  t.equal(r.statusCode, 200);
  const body = r.json();
  t.equal(body.model, newest, 'the default model is the alias default');
  t.equal(body.dimension, 3);
  closeRows(
    t,
    body.embeddings,
    X.map((x) => embedByHand(W, x)),
    'W·x',
  );

  const named = (await embed(app, { model: older, inputs: X })).json();
  t.equal(named.model, older);
  t.equal(named.dimension, 2);
  closeRows(
    t,
    named.embeddings,
    X.map((x) => [Math.fround(x[0]), Math.fround(x[1])]),
    'the named model',
  );

  const norm = (await embed(app, { model: normalized, inputs: X })).json();
  closeRows(
    t,
    norm.embeddings,
    X.map((x) => embedByHand(W, x, true)),
    'normalised W·x',
  );
  for (const e of norm.embeddings) t.ok(Math.abs(Math.hypot(...e) - 1) < 1e-6, 'unit norm');

  const viaQuery = (await app.inject({ method: 'POST', url: `/embed?model=${older}`, payload: { inputs: X } })).json();
  t.equal(viaQuery.model, older, '?model= works for JSON requests too');
});

t.test('POST /embed errors', async (t) => {
  const { app, newest, older } = await withModels(t, { maxBatch: 4 });
  const bad = await embed(app, { inputs: [X[0], X[1], [1, 2, 3], X[3]] });
  expectError(t, bad, 400, 'DIMENSION_MISMATCH');
  t.match(bad.json().message, 'inputs[2]');
  t.match(bad.json().message, newest);
  expectError(t, await embed(app, { inputs: [] }), 400, 'VALIDATION_ERROR');
  expectError(t, await embed(app, {}), 400, 'VALIDATION_ERROR');
  expectError(t, await embed(app, { inputs: [...X, X[0]] }), 413, 'BATCH_TOO_LARGE');
  expectError(t, await embed(app, { model: 'mdl_nope', inputs: X }), 404, 'MODEL_NOT_FOUND');
  expectError(t, await embed(app, { inputs: X, extra: 1 }), 400, 'VALIDATION_ERROR');
  expectError(t, await embed(app, { inputs: [[1, 2, '3', 4]] }), 400, 'VALIDATION_ERROR');
  expectError(t, await embed(app, { inputs: [b64row(X[0])] }), 400, 'VALIDATION_ERROR');
  expectError(t, await embed(app, { inputs: X, encoding: 'hex' }), 400, 'VALIDATION_ERROR');
  const inf = await embed(app, { inputs: [X[0], [1, 2, 1e39, 4]] });
  expectError(t, inf, 400, 'NON_FINITE_VALUE');
  t.match(inf.json().message, 'inputs[1][2]');
  // float32's largest value as numpy prints it (above it in float64, nearest to it in float32)
  const max = await embed(app, { model: older, inputs: [[3.4028235e38, 0, 0, 0]] }, { accept: OCTET });
  t.equal(max.statusCode, 200, '3.4028235e38 rounds to the largest float32');
  t.same(readF32le(max.rawPayload), [3.4028234663852886e38, 0], 'x itself through the model [[1,0,0,0],[0,1,0,0]]');
  expectError(t, await embed(app, { inputs: [[3.4028236e38, 0, 0, 0]] }), 400, 'NON_FINITE_VALUE');
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/embed?rows=4', payload: { inputs: X } }),
    400,
    'VALIDATION_ERROR',
  );
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/embed', headers: { 'content-type': 'text/plain' }, payload: '1,2,3,4' }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  expectError(
    t,
    await app.inject({
      method: 'POST',
      url: '/embed',
      headers: { 'content-type': 'application/json' },
      payload: '{"inputs": [[1,',
    }),
    400,
    'INVALID_JSON',
  );
  t.equal((await embed(app, { inputs: X })).statusCode, 200, 'still serving');
});

t.test('no model at all: 409 NO_MODEL', async (t) => {
  const app = await testApp(t);
  expectError(t, await embed(app, { inputs: [[1, 2]] }), 409, 'NO_MODEL');
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/embed', headers: { 'content-type': OCTET }, payload: f32le([1, 2]) }),
    409,
    'NO_MODEL',
  );
  expectError(t, await app.inject({ method: 'POST', url: '/distances', payload: { a: [[1, 2]] } }), 409, 'NO_MODEL');
  // a model imported afterwards is picked up
  const id = (await app.inject({ method: 'POST', url: '/models', payload: { W: [[1, 1]] } })).json().id;
  const r = (await embed(app, { inputs: [[1, 2]] })).json();
  t.equal(r.model, id);
  t.same(r.embeddings, [[3]]);
});

t.test('base64 rows', async (t) => {
  const { app, newest, normalized } = await withModels(t);
  const r = await embed(app, { encoding: 'base64', inputs: X.map(b64row) });
  t.equal(r.statusCode, 200);
  const body = r.json();
  t.equal(body.model, newest);
  t.equal(body.dimension, 3);
  t.ok(
    body.embeddings.every((e: unknown) => typeof e === 'string'),
    'embeddings are base64 strings',
  );
  const decoded = body.embeddings.map((s: string) => readF32le(Buffer.from(s, 'base64')));
  closeRows(
    t,
    decoded,
    X.map((x) => embedByHand(W, x)),
    'decoded base64 embeddings',
  );

  const n = (await embed(app, { model: normalized, encoding: 'base64', inputs: X.map(b64row) })).json();
  for (const s of n.embeddings)
    t.ok(Math.abs(Math.hypot(...readF32le(Buffer.from(s, 'base64'))) - 1) < 1e-6, 'unit norm');

  const short = await embed(app, { encoding: 'base64', inputs: [b64row(X[0]), b64row([1, 2, 3])] });
  expectError(t, short, 400, 'DIMENSION_MISMATCH');
  t.match(short.json().message, 'inputs[1]');
  expectError(t, await embed(app, { encoding: 'base64', inputs: [b64row([1, NaN, 3, 4])] }), 400, 'NON_FINITE_VALUE');
  expectError(t, await embed(app, { encoding: 'base64', inputs: [X[0]] }), 400, 'VALIDATION_ERROR');
  const floatExplicit = (await embed(app, { encoding: 'float', inputs: X })).json();
  closeRows(
    t,
    floatExplicit.embeddings,
    X.map((x) => embedByHand(W, x)),
    'encoding float',
  );
});

t.test('JSON numbers carry the float32 results exactly, in at most 9 significant digits', async (t) => {
  const { app } = await withModels(t);
  const rows = Array.from({ length: 8 }, (_, i) => [
    Math.sin(i + 1) * 3,
    Math.cos(i) / 7,
    i * 0.1 - 0.35,
    1e-3 * (i + 1),
  ]);
  const json = await embed(app, { inputs: rows });
  const raw = await embed(app, { inputs: rows }, { accept: OCTET });
  t.equal(json.statusCode, 200);
  const fromJson = (json.json().embeddings as number[][]).flat();
  t.same(fromJson.map(Math.fround), readF32le(raw.rawPayload), "Math.fround(JSON value) is the binary reply's float32");
  const digits = (s: string) => s.replace(/^-?0\.0*|[.-]|e.*$/g, '').length;
  const texts = json.body.slice(json.body.indexOf('"embeddings"')).match(/-?\d[\d.e+-]*/g)!;
  t.equal(texts.length, fromJson.length);
  t.ok(
    texts.every((s) => digits(s) <= 9),
    'no float64 tails (0.10000000149011612)',
  );
});

t.test('JSON bodies as clients print float64s: the same float32 rows as a binary body', async (t) => {
  const { app, newest } = await withModels(t);
  // 17-digit decimals (long ones are read straight to float32), short ones, exponents, blanks
  const rows = Array.from({ length: 64 }, (_, i) => [
    Math.sin(i) * 1e-3,
    Math.cos(i * 7) * 3,
    1 / (i + 3),
    (i - 31.5) * 1e5,
  ]);
  const text = `{ "model": "${newest}",\n "inputs": [${rows.map((r, i) => `[${r.map((v) => (i % 3 ? String(v) : v.toExponential(16))).join(', ')}]`).join(',\n')}] }`;
  const viaJson = await app.inject({
    method: 'POST',
    url: '/embed',
    headers: { 'content-type': 'application/json', accept: OCTET },
    payload: text,
  });
  const viaBinary = await app.inject({
    method: 'POST',
    url: `/embed?model=${newest}`,
    headers: { 'content-type': OCTET, accept: OCTET },
    payload: f32le(rows.flat()),
  });
  t.equal(viaJson.statusCode, 200);
  t.same(readF32le(viaJson.rawPayload), readF32le(viaBinary.rawPayload), 'identical float32 embeddings');
  const pairs = (
    await app.inject({
      method: 'POST',
      url: '/distances',
      headers: { 'content-type': 'application/json' },
      payload: `{"model":"${newest}","a":[${text.slice(text.indexOf('[[') + 1, text.indexOf(']]') + 1)}]}`,
    })
  ).json();
  const E = rows.map((x) => embedByHand(W, x));
  t.ok(
    Math.abs(pairs.distances[3][5] - distanceByHand(E[3], E[5], 'euclidean')) <
      1e-4 * Math.max(1, pairs.distances[3][5]),
    '/distances reads the same rows',
  );
  // a number that only looks finite to a careless reader (its true value overflows)
  const overflow = `0.${'0'.repeat(999_977)}1e10000000`;
  expectError(
    t,
    await app.inject({
      method: 'POST',
      url: '/embed',
      headers: { 'content-type': 'application/json' },
      payload: `{"model":"${newest}","inputs":[[${overflow},2,3,4]]}`,
    }),
    400,
    'NON_FINITE_VALUE',
  );
  // what the fast reader leaves to Fastify's parser still gets the standard answers
  const comma = await app.inject({
    method: 'POST',
    url: '/embed',
    headers: { 'content-type': 'application/json' },
    payload: `{"model":"${newest}","inputs":[[1,2,3,4],]}`,
  });
  expectError(t, comma, 400, 'INVALID_JSON');
  t.match(comma.json().message, /^the body is not valid JSON: .*\]/, 'says where the text goes wrong');
  const proto = await app.inject({
    method: 'POST',
    url: '/distances',
    headers: { 'content-type': 'application/json' },
    payload: '{"a":[[1,2,3,4]],"__proto__":{"x":1}}',
  });
  expectError(t, proto, 400, 'INVALID_JSON');
  t.match(proto.json().message, '"__proto__"', 'says why a valid JSON text is refused');
  const other = await app.inject({
    method: 'POST',
    url: '/models',
    headers: { 'content-type': 'application/json' },
    payload: '{"W":[[1,2]',
  });
  expectError(t, other, 400, 'INVALID_JSON');
  t.match(other.json().message, 'the body is not valid JSON: ', 'every JSON route explains');
  const escaped = await app.inject({
    method: 'POST',
    url: '/embed',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    payload: `{"model":"${newest.replace('m', '\\u006d')}","inputs":[[1,2,3,4]]}`,
  });
  t.equal(escaped.statusCode, 200, 'a string escape is read by the standard parser');
  t.same(escaped.json().embeddings[0].map(Math.fround), embedByHand(W, [1, 2, 3, 4]).map(Math.fround));
});

t.test("binary /embed gives back every block of the kernels' memory, whatever the outcome", async (t) => {
  const { app } = await withModels(t);
  const kernels = app.services.compute.kernels as Partial<WasmKernels>;
  if (!kernels.heap) {
    t.pass('the fallback backend holds no blocks');
    return;
  }
  const heap = kernels.heap;
  const d = 4;
  const n = 300;
  const bin = f32le(Array.from({ length: n * d }, (_, i) => Math.sin(i)));
  const post = (url: string, payload: Buffer, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': OCTET, ...headers }, payload });
  await post('/embed', bin, { accept: OCTET }); // first use allocates the model's panels
  const before = heap.allocated;
  const raw = await post('/embed', bin, { accept: OCTET });
  t.equal(raw.rawPayload.byteLength, n * 3 * 4);
  const asJson = await post('/embed', bin);
  t.same(
    (asJson.json().embeddings as number[][]).flat().map(Math.fround),
    readF32le(raw.rawPayload),
    'the same values as JSON',
  );
  const nan = Buffer.from(bin);
  nan.writeFloatLE(NaN, 4 * 7);
  expectError(t, await post('/embed', nan, { accept: OCTET }), 400, 'NON_FINITE_VALUE');
  expectError(t, await post('/embed?rows=2', bin, { accept: OCTET }), 400, 'DIMENSION_MISMATCH');
  await Promise.all(Array.from({ length: 8 }, () => post('/embed', bin, { accept: OCTET })));
  t.equal(heap.allocated, before, 'every staged body released');
});

t.test('binary requests and replies', async (t) => {
  const { app, older, newest } = await withModels(t, { maxBatch: 4 });
  const bin = f32le(X.flat());
  const post = (url: string, payload: Buffer, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': OCTET, ...headers }, payload });

  const json = await post('/embed', bin);
  t.equal(json.statusCode, 200);
  t.match(json.headers['content-type'], /application\/json/, 'a JSON reply without Accept');
  t.equal(json.json().model, newest);
  closeRows(
    t,
    json.json().embeddings,
    X.map((x) => embedByHand(W, x)),
    'binary request',
  );

  const withRows = await post(`/embed?model=${older}&rows=4`, bin);
  t.equal(withRows.statusCode, 200);
  t.equal(withRows.json().model, older);

  const raw = await post('/embed?rows=4', bin, { accept: OCTET });
  t.equal(raw.statusCode, 200);
  t.match(raw.headers['content-type'], /application\/octet-stream/);
  t.equal(raw.headers['x-model-id'], newest);
  t.equal(raw.headers['x-rows'], '4');
  t.equal(raw.headers['x-dimension'], '3');
  t.equal(raw.rawPayload.byteLength, 4 * 3 * 4, 'n×k float32');
  const values = readF32le(raw.rawPayload);
  closeRows(
    t,
    [0, 1, 2, 3].map((i) => values.slice(i * 3, i * 3 + 3)),
    X.map((x) => embedByHand(W, x)),
    'binary reply',
  );

  // a JSON request may ask for a binary reply
  const jsonToRaw = await embed(app, { model: older, inputs: X }, { accept: OCTET });
  t.equal(jsonToRaw.headers['x-model-id'], older);
  t.equal(jsonToRaw.headers['x-dimension'], '2');
  t.same(
    readF32le(jsonToRaw.rawPayload),
    X.flatMap((x) => [Math.fround(x[0]), Math.fround(x[1])]),
  );

  expectError(t, await post('/embed?rows=3', bin), 400, 'DIMENSION_MISMATCH');
  expectError(t, await post('/embed', bin.subarray(0, bin.byteLength - 4)), 400, 'DIMENSION_MISMATCH');
  expectError(t, await post('/embed', bin.subarray(0, bin.byteLength - 1)), 400, 'DIMENSION_MISMATCH');
  const nan = f32le(X.flat());
  nan.writeFloatLE(NaN, (2 * 4 + 1) * 4);
  const n = await post('/embed', nan);
  expectError(t, n, 400, 'NON_FINITE_VALUE');
  t.match(n.json().message, 'row 2');
  const inf = f32le(X.flat());
  inf.writeFloatLE(-Infinity, 0);
  expectError(t, await post('/embed', inf), 400, 'NON_FINITE_VALUE');
  expectError(t, await post('/embed', Buffer.alloc(0)), 400, 'EMPTY_BATCH');
  expectError(t, await post('/embed', f32le([...X.flat(), ...X[0]])), 413, 'BATCH_TOO_LARGE');
  expectError(t, await post('/embed?model=mdl_nope', bin), 404, 'MODEL_NOT_FOUND');
  expectError(t, await post('/embed?rows=0', bin), 400, 'VALIDATION_ERROR');
  expectError(t, await post('/embed?rows=x', bin), 400, 'VALIDATION_ERROR');
  // errors stay JSON even when a binary reply was asked for
  const errRaw = await post('/embed?rows=3', bin, { accept: OCTET });
  expectError(t, errRaw, 400, 'DIMENSION_MISMATCH');

  // a streamed body without Content-Length, in uneven chunks, gives the same rows
  const chunks = [bin.subarray(0, 5), bin.subarray(5, 37), bin.subarray(37)];
  const streamed = await app.inject({
    method: 'POST',
    url: '/embed?rows=4',
    headers: { 'content-type': OCTET, accept: OCTET },
    payload: Readable.from(chunks),
  });
  t.equal(streamed.statusCode, 200, 'streamed body');
  t.same(streamed.rawPayload, raw.rawPayload, 'streamed body: same reply bytes');
  // a Content-Length that the body does not fill is refused
  const short = await app.inject({
    method: 'POST',
    url: '/embed',
    headers: { 'content-type': OCTET, 'content-length': String(bin.byteLength + 8) },
    payload: Readable.from([bin]),
  });
  t.ok(short.statusCode >= 400, `short body refused (${short.statusCode})`);
  // many concurrent requests, good and bad, leave the route working
  const mixed = await Promise.all(
    Array.from({ length: 12 }, (_, i) => post('/embed?rows=4', i % 3 === 0 ? nan : bin, { accept: OCTET })),
  );
  mixed.forEach((r, i) => t.equal(r.statusCode, i % 3 === 0 ? 400 : 200, `concurrent request ${i}`));
});

t.test('binary body over the body limit', async (t) => {
  const app = await testApp(t, { limits: { bodyLimit: 2048 } });
  await app.inject({ method: 'POST', url: '/models', payload: { W: [[1, 2, 3, 4]] } });
  const r = await app.inject({
    method: 'POST',
    url: '/embed',
    headers: { 'content-type': OCTET },
    payload: Buffer.alloc(4096),
  });
  expectError(t, r, 413, 'BODY_TOO_LARGE');
  const ok = await app.inject({
    method: 'POST',
    url: '/embed',
    headers: { 'content-type': OCTET },
    payload: f32le([1, 1, 1, 1]),
  });
  t.same(ok.json().embeddings, [[10]]);
});

t.test('POST /distances', async (t) => {
  const { app, newest, normalized } = await withModels(t, { maxDistancePairs: 12 });
  const A = X.slice(0, 3);
  const B = [X[3], [1, 1, 1, 1]];
  const EA = A.map((x) => embedByHand(W, x));
  const EB = B.map((x) => embedByHand(W, x));
  const dist = (P: number[][], Q: number[][], metric: string) =>
    P.map((p) => Q.map((q) => distanceByHand(p, q, metric)));

  const def = await app.inject({ method: 'POST', url: '/distances', payload: { a: A, b: B } });
  t.equal(def.statusCode, 200);
  t.equal(def.json().model, newest);
  t.equal(def.json().metric, 'euclidean', 'euclidean by default');
  closeRows(t, def.json().distances, dist(EA, EB, 'euclidean'), 'euclidean a×b', 1e-5);

  for (const metric of ['euclidean', 'squared_euclidean', 'cosine']) {
    const ab = (await app.inject({ method: 'POST', url: '/distances', payload: { a: A, b: B, metric } })).json();
    t.equal(ab.metric, metric);
    closeRows(t, ab.distances, dist(EA, EB, metric), `${metric} a×b`, 1e-5);
    const aa = (await app.inject({ method: 'POST', url: '/distances', payload: { a: A, metric } })).json();
    closeRows(t, aa.distances, dist(EA, EA, metric), `${metric} a×a`, 1e-5);
    aa.distances.forEach((row: number[], i: number) =>
      t.ok(Math.abs(row[i]) < 1e-5, `${metric}: a[${i}] to itself is 0`),
    );
  }
  const cos = (
    await app.inject({
      method: 'POST',
      url: '/distances',
      payload: { model: normalized, a: A, b: B, metric: 'squared_euclidean' },
    })
  ).json();
  t.equal(cos.model, normalized);
  const NA = A.map((x) => embedByHand(W, x, true));
  const NB = B.map((x) => embedByHand(W, x, true));
  closeRows(t, cos.distances, dist(NA, NB, 'squared_euclidean'), 'normalised model', 1e-5);

  const badB = await app.inject({ method: 'POST', url: '/distances', payload: { a: A, b: [X[0], [1, 2]] } });
  expectError(t, badB, 400, 'DIMENSION_MISMATCH');
  t.match(badB.json().message, 'b[1]');
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/distances', payload: { a: A, metric: 'manhattan' } }),
    400,
    'VALIDATION_ERROR',
  );
  expectError(t, await app.inject({ method: 'POST', url: '/distances', payload: { a: [] } }), 400, 'VALIDATION_ERROR');
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/distances', payload: { a: A, c: A } }),
    400,
    'VALIDATION_ERROR',
  );
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/distances', payload: { model: 'mdl_nope', a: A } }),
    404,
    'MODEL_NOT_FOUND',
  );
  // 4×4 = 16 pairs is over the limit of 12; 3×4 = 12 is not
  expectError(t, await app.inject({ method: 'POST', url: '/distances', payload: { a: X } }), 413, 'BATCH_TOO_LARGE');
  t.equal((await app.inject({ method: 'POST', url: '/distances', payload: { a: A, b: X } })).statusCode, 200);
});

t.test('a large /distances is computed in slices and streamed, with the same values', async (t) => {
  // 300×300 pairs of a k = 512 model: 4.6·10⁷ multiply-adds, two slices; ~1 MB of JSON, streamed.
  const app = await testApp(t);
  const k = 512;
  const d = 8;
  const Wbig = Array.from({ length: k }, (_, i) => Array.from({ length: d }, (_, j) => Math.sin(i * 7 + j * 3) / 4));
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W: Wbig } })).json().id as string;
  const rows = (n: number, o: number) =>
    Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => Math.cos(i * 0.1 + j + o)));
  const A = rows(300, 0);
  const B = rows(300, 5);
  const embedded = async (X: number[][]) =>
    (await app.inject({ method: 'POST', url: '/embed', payload: { model, inputs: X } })).json()
      .embeddings as number[][];
  const [EA, EB] = [await embedded(A), await embedded(B)];
  for (const metric of ['euclidean', 'cosine']) {
    const res = await app.inject({ method: 'POST', url: '/distances', payload: { model, a: A, b: B, metric } });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /application\/json/);
    const D = res.json().distances as number[][];
    t.equal(D.length, 300);
    const want = [0, 149, 150, 299].map((i) => [0, 77, 299].map((j) => distanceByHand(EA[i], EB[j], metric)));
    const got = [0, 149, 150, 299].map((i) => [0, 77, 299].map((j) => D[i][j]));
    closeRows(t, got, want, `${metric}: rows of both slices`, 1e-4);
    const digits = (v: number) =>
      String(v)
        .replace(/e.*$|[-.]/g, '')
        .replace(/^0+/, '').length;
    t.ok(
      D.flat().every((v) => digits(v) <= 9),
      'float32 digits (at most 9 significant), as /embed prints them',
    );
  }
});

t.test('a large /embed is computed in slices, with the values of small requests', async (t) => {
  // 1,100 rows of a 128→512 model: 512 rows a slice, three slices; each row checked against a
  // request of 10 rows, which is not sliced.
  const app = await testApp(t);
  const k = 512;
  const d = 128;
  const Wbig = Array.from({ length: k }, (_, i) => Array.from({ length: d }, (_, j) => Math.sin(i * 3 + j * 5) / 8));
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W: Wbig } })).json().id as string;
  const X = Array.from({ length: 1100 }, (_, i) => Array.from({ length: d }, (_, j) => Math.cos(i * 0.3 + j)));
  const embedded = async (inputs: number[][]) =>
    (await app.inject({ method: 'POST', url: '/embed', payload: { model, inputs } })).json().embeddings as number[][];
  const all = await embedded(X);
  t.equal(all.length, 1100);
  for (const at of [0, 505, 1020, 1090]) {
    t.same(all.slice(at, at + 10), await embedded(X.slice(at, at + 10)), `rows ${at}…${at + 9}`);
  }
});

t.test('health, docs, spec and unknown routes', async (t) => {
  const app = await testApp(t);
  const h = await app.inject({ url: '/healthz' });
  t.equal(h.statusCode, 200);
  t.same(h.json(), { status: 'ok' });
  const ready = await app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 200);

  let docs = await app.inject({ url: '/docs' });
  if (docs.statusCode >= 300 && docs.statusCode < 400) {
    const loc = String(docs.headers.location);
    docs = await app.inject({ url: loc.startsWith('/') ? loc : `/docs/${loc.replace(/^\.\//, '')}` });
  }
  t.equal(docs.statusCode, 200);
  t.match(docs.headers['content-type'], /text\/html/);
  t.match(docs.body, /swagger/i);
  const slash = await app.inject({ url: '/docs/' });
  t.equal(slash.statusCode, 200);
  t.match(slash.headers['content-type'], /text\/html/);

  const spec = await app.inject({ url: '/openapi.json' });
  t.equal(spec.statusCode, 200);
  t.match(spec.headers['content-type'], /application\/json/);
  const doc = spec.json();
  t.match(doc.openapi, /^3\./);
  for (const p of ['/datasets', '/datasets/{id}/triplets', '/train', '/jobs/{id}', '/models', '/embed', '/distances'])
    t.ok(doc.paths[p], p);

  const missing = await app.inject({ url: '/nope' });
  expectError(t, missing, 404, 'ROUTE_NOT_FOUND');
  t.match(missing.json().message, '/nope');
  expectError(t, await app.inject({ method: 'PUT', url: '/datasets' }), 404, 'ROUTE_NOT_FOUND');
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'still answering');

  await app.close();
  // a closed app's store is closed: not ready
  t.notOk(app.services.store.isOpen());
});

// Bad-input corpus: well over 60 malformed requests across every route, in every body format the
// service reads (JSON, NDJSON, binary float32, base64 rows, query strings, path ids).
//
// For each request, table-driven:
//   - the answer is the expected 4xx, in the contract's JSON error shape (statusCode, code, error, message);
//   - the data is unchanged: dataset, model and job listings, and the raw chunk and model rows of the
//     SQLite file (so no staged upload is left behind and no model is rewritten);
//   - the server stays healthy: /healthz answers 200 and a valid /embed still gives the right answer.
import Database from 'better-sqlite3';
import type { InjectOptions } from 'fastify';
import t, { type Test } from 'tap';
import type { App } from '../src/app-types.js';
import { ErrorCodes } from '../src/errors.js';
import { encodeBinaryItems } from '../src/http/gallery-items.js';
import { makeTriplets, testApp, type TripletJson } from './helpers.js';

type Inject = InjectOptions;

interface Case {
  /** the route under attack, as in the README */
  route: string;
  name: string;
  req: Inject;
  /** "status CODE", or alternatives separated by | */
  expect: string;
  /** a known gap: the case runs and must still be a 4xx JSON error that changes nothing, but a wrong status or code is reported as to-do */
  todo?: string;
}

const LIMITS = {
  bodyLimit: 256 * 1024,
  uploadLimit: 8 * 1024 * 1024,
  maxBatch: 64,
  maxTripletsPerRequest: 1000,
  maxDistancePairs: 100,
};
const D = 4;

// ---- body builders ------------------------------------------------------------------------------

const J = { 'content-type': 'application/json' };
const NDJSON = { 'content-type': 'application/x-ndjson' };
const OCTET = { 'content-type': 'application/octet-stream' };

const post = (url: string, payload: string | Buffer, headers: Record<string, string> = J): Inject => ({
  method: 'POST',
  url,
  headers,
  payload,
});
const get = (url: string): Inject => ({ method: 'GET', url });
const del = (url: string): Inject => ({ method: 'DELETE', url });

/** 10,000 levels of nested arrays: `[[[…]]]` */
const deepArray = (n = 10_000) => '['.repeat(n) + ']'.repeat(n);
/** 10,000 levels of nested objects: `{"a":{"a":…}}` */
const deepObject = (n = 10_000, leaf = '1') => '{"a":'.repeat(n) + leaf + '}'.repeat(n);
/** A JSON array of numbers of about `bytes` characters */
const bigArray = (bytes: number) => `[${'1,'.repeat(Math.ceil(bytes / 2))}1]`;

const row = (v: number) => Array.from({ length: D }, () => v);
const tripletLine = (tr: TripletJson) => JSON.stringify(tr);

/** `lines` good NDJSON triplets with `bad` replacing line `at` (1-based). */
function ndjsonWithBadLine(good: TripletJson[], lines: number, at: number, bad: string): string {
  const out: string[] = [];
  for (let i = 1; i <= lines; i++) out.push(i === at ? bad : tripletLine(good[i % good.length]));
  return out.join('\n') + '\n';
}

/** n rows of `width` little-endian float32 values, with `bad` written at value index `at`. */
function f32(n: number, width: number, at = -1, bad = NaN): Buffer {
  const b = Buffer.alloc(n * width * 4);
  for (let i = 0; i < n * width; i++) b.writeFloatLE(i === at ? bad : (i % 7) / 7, i * 4);
  return b;
}

/** Binary samples: per sample an int32 label, then D float32 values. */
function binarySamples(n: number, atSample = -1, bad = NaN): Buffer {
  const rec = 4 * (D + 1);
  const b = Buffer.alloc(n * rec);
  for (let i = 0; i < n; i++) {
    b.writeInt32LE(i % 3, i * rec);
    for (let j = 0; j < D; j++) b.writeFloatLE(i === atSample && j === 1 ? bad : j, i * rec + 4 + j * 4);
  }
  return b;
}

const b64 = (values: number[]) => Buffer.from(new Float32Array(values).buffer).toString('base64');

// ---- fixtures -------------------------------------------------------------------------------------

interface Fixture {
  ds: string; // D-dimensional, 20 triplets, used by the queued job
  dsSamples: string; // D-dimensional, 6 labelled samples
  dsEmpty: string; // D-dimensional, nothing in it
  ds3: string; // 3-dimensional, 5 triplets
  model: string; // 2×D, W = first two unit rows
  queuedJob: string; // stays queued: the runner does not run in this app
  cancelledJob: string;
  gallery: string; // on model, one item
}

async function setUp(app: App): Promise<Fixture> {
  const ok = async (req: Inject, status: number) => {
    const r = await app.inject(req);
    if (r.statusCode !== status) throw new Error(`fixture ${req.method} ${req.url}: ${r.statusCode} ${r.body}`);
    return r.json();
  };
  const dataset = async (dimension: number) =>
    (await ok(post('/datasets', JSON.stringify({ dimension })), 201)).id as string;
  const f = {
    ds: await dataset(D),
    dsSamples: await dataset(D),
    dsEmpty: await dataset(D),
    ds3: await dataset(3),
  } as Fixture;
  await ok(post(`/datasets/${f.ds}/triplets`, JSON.stringify({ triplets: makeTriplets(20, D) })), 201);
  await ok(post(`/datasets/${f.ds3}/triplets`, JSON.stringify({ triplets: makeTriplets(5, 3) })), 201);
  const samples = Array.from({ length: 6 }, (_, i) => ({ vector: row(i), label: i % 2 ? 'cat' : 'dog' }));
  await ok(post(`/datasets/${f.dsSamples}/samples`, JSON.stringify({ samples })), 201);
  f.model = (
    await ok(
      post(
        '/models',
        JSON.stringify({
          W: [
            [1, 0, 0, 0],
            [0, 1, 0, 0],
          ],
          name: 'fixture',
        }),
      ),
      201,
    )
  ).id;
  f.queuedJob = (await ok(post('/train', JSON.stringify({ datasetId: f.ds, outputDimension: 2 })), 202)).id;
  f.cancelledJob = (await ok(post('/train', JSON.stringify({ datasetId: f.ds, outputDimension: 2, seed: 1 })), 202)).id;
  await ok({ method: 'POST', url: `/jobs/${f.cancelledJob}/cancel` }, 200);
  f.gallery = (await ok(post('/galleries', JSON.stringify({ model: f.model })), 201)).id;
  await ok(
    post(`/galleries/${f.gallery}/items`, JSON.stringify({ items: [{ id: 'a', label: 1, input: row(1) }] })),
    201,
  );
  return f;
}

// ---- the corpus -------------------------------------------------------------------------------------

/** The JSON routes, each with the field its main payload goes in, for the attacks every JSON route gets. */
function jsonRoutes(f: Fixture): { route: string; url: string; field: string }[] {
  return [
    { route: 'POST /datasets', url: '/datasets', field: 'dimension' },
    { route: 'POST /datasets/:id/triplets', url: `/datasets/${f.ds}/triplets`, field: 'triplets' },
    { route: 'POST /datasets/:id/samples', url: `/datasets/${f.dsSamples}/samples`, field: 'samples' },
    { route: 'POST /train', url: '/train', field: 'triplets' },
    { route: 'POST /jobs/:id/cancel', url: `/jobs/${f.queuedJob}/cancel`, field: 'reason' },
    { route: 'POST /models', url: '/models', field: 'W' },
    { route: 'POST /models/:id/evaluate', url: `/models/${f.model}/evaluate`, field: 'datasetId' },
    { route: 'POST /embed', url: '/embed', field: 'inputs' },
    { route: 'POST /distances', url: '/distances', field: 'a' },
    { route: 'POST /galleries', url: '/galleries', field: 'model' },
    { route: 'POST /galleries/:id/items', url: `/galleries/${f.gallery}/items`, field: 'items' },
    { route: 'POST /galleries/:id/search', url: `/galleries/${f.gallery}/search`, field: 'inputs' },
  ];
}

/** What a streamed-upload route answers to a content type it does not read. */
const STREAMED = new Set([
  'POST /datasets/:id/triplets',
  'POST /datasets/:id/samples',
  'POST /embed',
  'POST /galleries/:id/items',
  'POST /galleries/:id/search',
]);

function everyJsonRoute(f: Fixture): Case[] {
  const cases: Case[] = [];
  for (const { route, url, field } of jsonRoutes(f)) {
    cases.push(
      // refused before parsing (src/http/json-text.ts): deep nesting costs JSON.parse ten times flat text
      { route, name: 'body is 10,000 nested arrays', req: post(url, deepArray()), expect: '400 INVALID_JSON' },
      {
        route,
        name: `${field} is 10,000 nested arrays`,
        req: post(url, `{"${field}":${deepArray()}}`),
        expect: '400 INVALID_JSON',
      },
      {
        route,
        name: `${field} is 10,000 nested objects`,
        req: post(url, `{"${field}":${deepObject()}}`),
        expect: '400 INVALID_JSON',
      },
      {
        route,
        name: 'over the body limit',
        req: post(url, `{"${field}":${bigArray(LIMITS.bodyLimit + 1024)}}`),
        expect: '413 BODY_TOO_LARGE',
      },
      // A route whose body may be omitted (cancel) runs on an empty one: not hostile (empty-body.test.ts).
      ...(route === 'POST /jobs/:id/cancel'
        ? []
        : [{ route, name: 'empty body', req: post(url, ''), expect: '400 INVALID_JSON' }]),
      { route, name: 'truncated JSON', req: post(url, `{"${field}":[[1,2`), expect: '400 INVALID_JSON' },
      // U+0000: PostgreSQL cannot store it, so it is refused before parsing on both backends (src/http/nul.ts)
      {
        route,
        name: `${field} holds \\u0000`,
        req: post(url, `{"${field}":"a\\u0000"}`),
        expect: '400 VALIDATION_ERROR',
      },
      { route, name: 'a key holds \\u0000', req: post(url, `{"${field}\\u0000":1}`), expect: '400 VALIDATION_ERROR' },
      {
        route,
        name: 'prototype poisoning',
        req: post(url, `{"${field}":1,"__proto__":{"polluted":true}}`),
        expect: '400 INVALID_JSON',
      },
      {
        route,
        name: 'unknown field',
        req: post(url, `{"${field}":1,"surprise":true}`),
        expect: '400 VALIDATION_ERROR',
      },
      {
        route,
        name: 'content type application/xml',
        req: post(url, `<${field}>1</${field}>`, { 'content-type': 'application/xml' }),
        expect: '415 UNSUPPORTED_MEDIA_TYPE',
      },
      {
        route,
        name: 'content type text/plain',
        req: post(url, `{"${field}":1}`, { 'content-type': 'text/plain' }),
        // Fastify reads text/plain as a string; the schema then refuses a string where an object
        // belongs. A POST that takes no body refuses a form's types outright (0069).
        expect:
          STREAMED.has(route) || route === 'POST /jobs/:id/cancel'
            ? '415 UNSUPPORTED_MEDIA_TYPE'
            : '400 VALIDATION_ERROR',
      },
    );
  }
  return cases;
}

function datasetCases(f: Fixture): Case[] {
  const r = 'POST /datasets';
  return [
    {
      route: r,
      name: 'dimension 1e400 (Infinity)',
      req: post('/datasets', '{"dimension":1e400}'),
      expect: '422 LIMIT_EXCEEDED|400 NON_FINITE_VALUE|400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'dimension -1e400',
      req: post('/datasets', '{"dimension":-1e400}'),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'dimension as a string',
      req: post('/datasets', '{"dimension":"4"}'),
      expect: '400 VALIDATION_ERROR',
    },
    { route: r, name: 'dimension 0', req: post('/datasets', '{"dimension":0}'), expect: '400 VALIDATION_ERROR' },
    { route: r, name: 'dimension 4.5', req: post('/datasets', '{"dimension":4.5}'), expect: '400 VALIDATION_ERROR' },
    {
      route: r,
      name: 'dimension over MAX_DIMENSION',
      req: post('/datasets', '{"dimension":1000000000}'),
      expect: '422 LIMIT_EXCEEDED',
    },
    {
      route: r,
      name: 'name too long',
      req: post('/datasets', JSON.stringify({ dimension: 4, name: 'x'.repeat(201) })),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'name a number',
      req: post('/datasets', '{"dimension":4,"name":5}'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: '__proto__ under 10,000 levels of objects',
      req: post('/datasets', `{"dimension":4,"x":${deepObject(10_000, '{"__proto__":{"polluted":true}}')}}`),
      expect: '400 INVALID_JSON|400 VALIDATION_ERROR',
    },
    { route: r, name: 'body an array', req: post('/datasets', '[{"dimension":4}]'), expect: '400 VALIDATION_ERROR' },
    {
      route: r,
      name: 'no content type',
      req: { method: 'POST', url: '/datasets', payload: '{"dimension":4}', headers: { 'content-type': '' } },
      expect: '415 UNSUPPORTED_MEDIA_TYPE',
    },
    { route: 'GET /datasets', name: 'limit=0', req: get('/datasets?limit=0'), expect: '400 VALIDATION_ERROR' },
    { route: 'GET /datasets', name: 'limit=abc', req: get('/datasets?limit=abc'), expect: '400 VALIDATION_ERROR' },
    { route: 'GET /datasets', name: 'limit=1e400', req: get('/datasets?limit=1e400'), expect: '400 NON_FINITE_VALUE' },
    { route: 'GET /datasets', name: 'limit=-1', req: get('/datasets?limit=-1'), expect: '400 VALIDATION_ERROR' },
    { route: 'GET /datasets', name: 'limit=1001', req: get('/datasets?limit=1001'), expect: '400 VALIDATION_ERROR' },
    {
      route: 'GET /datasets',
      name: 'limit given twice',
      req: get('/datasets?limit=2&limit=3'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'GET /datasets',
      name: 'cursor=garbage',
      req: get('/datasets?cursor=garbage'),
      expect: '400 INVALID_CURSOR',
    },
    { route: 'GET /datasets', name: 'cursor=%00', req: get('/datasets?cursor=%00'), expect: '400 INVALID_REQUEST' },
    {
      route: 'GET /datasets',
      name: 'cursor of a negative number',
      req: get(`/datasets?cursor=${Buffer.from('-1').toString('base64url')}`),
      expect: '400 INVALID_CURSOR',
    },
    {
      route: 'GET /datasets',
      name: 'cursor of 65 characters',
      req: get(`/datasets?cursor=${'A'.repeat(65)}`),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'GET /datasets',
      name: 'unknown query parameter',
      req: get('/datasets?sort=name'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'GET /datasets/:id',
      name: 'id ..%2F..%2Fetc%2Fpasswd',
      req: get('/datasets/..%2F..%2Fetc%2Fpasswd'),
      expect: '404 DATASET_NOT_FOUND',
    },
    {
      route: 'GET /datasets/:id',
      name: 'id %2E%2E',
      req: get('/datasets/%2E%2E'),
      expect: '404 ROUTE_NOT_FOUND|404 DATASET_NOT_FOUND',
    },
    {
      route: 'GET /datasets/:id',
      name: 'id with NUL (%00)',
      req: get(`/datasets/${f.ds}%00`),
      expect: '400 INVALID_REQUEST',
    },
    {
      route: 'GET /datasets/:id',
      name: 'id of 100 characters',
      req: get(`/datasets/${'a'.repeat(100)}`),
      expect: '404 DATASET_NOT_FOUND',
    },
    {
      route: 'GET /datasets/:id',
      name: 'id of 10,000 characters',
      req: get(`/datasets/${'a'.repeat(10_000)}`),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'GET /datasets/:id',
      name: 'id with a malformed %-escape',
      req: get('/datasets/%E0%A4%A'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'DELETE /datasets/:id',
      name: 'dataset used by a queued job',
      req: del(`/datasets/${f.ds}`),
      expect: '409 DATASET_IN_USE',
    },
    { route: 'DELETE /datasets/:id', name: 'id ..%2F', req: del('/datasets/..%2F'), expect: '404 DATASET_NOT_FOUND' },
    {
      route: 'DELETE /datasets/:id',
      name: 'id with NUL (%00)',
      req: del(`/datasets/${f.dsEmpty}%00`),
      expect: '400 INVALID_REQUEST',
    },
  ];
}

function tripletCases(f: Fixture): Case[] {
  const r = 'POST /datasets/:id/triplets';
  const url = `/datasets/${f.ds}/triplets`;
  const good = makeTriplets(50, D, 7);
  const goodLine = tripletLine(good[0]);
  const valid = JSON.stringify({ triplets: good.slice(0, 2) });
  const lines = 25_000; // about 6 MB of NDJSON: a few staged 4 MB chunks before the bad line
  const at = 24_000;
  return [
    {
      route: r,
      name: 'JSON: 1e400 in an anchor',
      req: post(url, valid.replace(/"anchor":\[[^,]+/, '"anchor":[1e400')),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'JSON: -1e400 in a negative',
      req: post(url, valid.replace(/"negative":\[[^,]+/, '"negative":[-1e400')),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'JSON: 1e39 overflows float32',
      req: post(url, valid.replace(/"positive":\[[^,]+/, '"positive":[1e39')),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'JSON: a vector of the wrong length',
      req: post(url, JSON.stringify({ triplets: [{ ...good[0], positive: row(1).slice(1) }] })),
      expect: '400 DIMENSION_MISMATCH',
    },
    {
      route: r,
      name: 'JSON: a string in a vector',
      req: post(url, JSON.stringify({ triplets: [{ ...good[0], anchor: ['1', 2, 3, 4] }] })),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'JSON: null in a vector',
      req: post(url, JSON.stringify({ triplets: [{ ...good[0], anchor: [null, 2, 3, 4] }] })),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'JSON: a triplet without negative',
      req: post(url, JSON.stringify({ triplets: [{ anchor: row(1), positive: row(1) }] })),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'JSON: an unknown field in a triplet',
      req: post(url, JSON.stringify({ triplets: [{ ...good[0], weight: 2 }] })),
      expect: '400 VALIDATION_ERROR',
    },
    { route: r, name: 'JSON: triplets empty', req: post(url, '{"triplets":[]}'), expect: '400 VALIDATION_ERROR' },
    {
      route: r,
      name: 'JSON: triplets and indexTriplets',
      req: post(url, JSON.stringify({ triplets: good.slice(0, 1), indexTriplets: [[0, 1, 2]] })),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'JSON: over MAX_TRIPLETS_PER_REQUEST',
      req: post(
        url,
        JSON.stringify({
          triplets: Array.from({ length: 1001 }, () => ({
            anchor: [1, 2, 3, 4],
            positive: [1, 2, 3, 4],
            negative: [4, 3, 2, 1],
          })),
        }),
      ),
      expect: '413 BATCH_TOO_LARGE',
    },
    {
      route: r,
      name: 'JSON: indexTriplets without samples',
      req: post(url, '{"indexTriplets":[[0,1,2]]}'),
      expect: '422 NO_SAMPLES',
    },
    {
      route: r,
      name: 'JSON: indexTriplets out of range',
      req: post(`/datasets/${f.dsSamples}/triplets`, '{"indexTriplets":[[0,1,6]]}'),
      expect: '400 INDEX_OUT_OF_RANGE',
    },
    {
      route: r,
      name: 'JSON: indexTriplets 1e400',
      req: post(`/datasets/${f.dsSamples}/triplets`, '{"indexTriplets":[[1e400,1,2]]}'),
      expect: '400 INDEX_OUT_OF_RANGE|400 NON_FINITE_VALUE|400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'JSON: indexTriplets negative',
      req: post(`/datasets/${f.dsSamples}/triplets`, '{"indexTriplets":[[-1,1,2]]}'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'JSON: indexTriplets of two',
      req: post(`/datasets/${f.dsSamples}/triplets`, '{"indexTriplets":[[0,1]]}'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'JSON: indexTriplets 2.5',
      req: post(`/datasets/${f.dsSamples}/triplets`, '{"indexTriplets":[[0,1,2.5]]}'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'JSON: unknown dataset',
      req: post('/datasets/ds_nope/triplets', valid),
      expect: '404 DATASET_NOT_FOUND',
    },
    {
      route: r,
      name: 'JSON: dataset id ..%2F..%2F',
      req: post('/datasets/..%2F..%2Fetc/triplets', valid),
      expect: '404 DATASET_NOT_FOUND',
    },
    {
      route: r,
      name: 'JSON: dataset id with NUL (%00)',
      req: post(`/datasets/${f.ds}%00/triplets`, valid),
      expect: '400 INVALID_REQUEST',
    },
    {
      route: r,
      name: 'JSON: wrong dimension for the dataset',
      req: post(`/datasets/${f.ds3}/triplets`, valid),
      expect: '400 DIMENSION_MISMATCH',
    },
    {
      route: r,
      name: `NDJSON: a string value on line ${at} of ${lines}`,
      req: post(url, ndjsonWithBadLine(good, lines, at, goodLine.replace(/\]\}$/, ',"x"]}')), NDJSON),
      expect: '400 DIMENSION_MISMATCH|400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: `NDJSON: 1e400 on line ${at} of ${lines}`,
      req: post(
        url,
        ndjsonWithBadLine(good, lines, at, goodLine.replace(/"anchor":\[[^,]+/, '"anchor":[1e400')),
        NDJSON,
      ),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: `NDJSON: NaN (not JSON) on line ${at} of ${lines}`,
      req: post(url, ndjsonWithBadLine(good, lines, at, goodLine.replace(/"anchor":\[[^,]+/, '"anchor":[NaN')), NDJSON),
      expect: '400 INVALID_JSON',
    },
    {
      route: r,
      name: `NDJSON: a short vector on line ${at} of ${lines}`,
      req: post(url, ndjsonWithBadLine(good, lines, at, JSON.stringify({ ...good[0], anchor: [1, 2, 3] })), NDJSON),
      expect: '400 DIMENSION_MISMATCH',
    },
    {
      route: r,
      name: `NDJSON: an unknown field on line ${at} of ${lines}`,
      req: post(url, ndjsonWithBadLine(good, lines, at, JSON.stringify({ ...good[0], label: 'x' })), NDJSON),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: `NDJSON: a truncated last line of ${lines}`,
      req: post(url, ndjsonWithBadLine(good, lines, lines, goodLine.slice(0, 20)), NDJSON),
      expect: '400 INVALID_JSON',
    },
    {
      route: r,
      name: 'NDJSON: a line of 10,000 nested arrays',
      req: post(url, `${goodLine}\n${deepArray()}\n`, NDJSON),
      expect: '413 BODY_TOO_LARGE|400 INVALID_JSON',
    },
    {
      route: r,
      name: 'NDJSON: a line of 200 nested arrays',
      req: post(url, `${goodLine}\n${deepArray(200)}\n`, NDJSON),
      expect: '400 INVALID_JSON',
    },
    // The line bound applies to a line split over chunks; one that arrives whole is parsed, and refused.
    {
      route: r,
      name: 'NDJSON: a 100 kB line',
      req: post(url, `${goodLine}\n${'x'.repeat(100_000)}\n`, NDJSON),
      expect: '413 BODY_TOO_LARGE|400 INVALID_JSON',
    },
    {
      route: r,
      name: 'NDJSON: over UPLOAD_LIMIT_BYTES',
      req: post(url, (goodLine + '\n').repeat(Math.ceil((LIMITS.uploadLimit + 1024) / (goodLine.length + 1))), NDJSON),
      expect: '413 BODY_TOO_LARGE',
    },
    { route: r, name: 'NDJSON: empty', req: post(url, '', NDJSON), expect: '400 EMPTY_BATCH' },
    { route: r, name: 'NDJSON: blank lines only', req: post(url, '\n\n  \n', NDJSON), expect: '400 EMPTY_BATCH' },
    {
      route: r,
      name: 'NDJSON: a JSON array line',
      req: post(url, '[1,2,3]\n', NDJSON),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'NDJSON: the JSON body format sent as NDJSON',
      req: post(url, valid, NDJSON),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'binary: NaN deep in 20,000 triplets',
      req: post(url, f32(20_000, 3 * D, 19_000 * 3 * D + 5, NaN), OCTET),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'binary: +Infinity in the last value',
      req: post(url, f32(100, 3 * D, 100 * 3 * D - 1, Infinity), OCTET),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'binary: -Infinity in the first value',
      req: post(url, f32(100, 3 * D, 0, -Infinity), OCTET),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'binary: one byte short of whole triplets',
      req: post(url, f32(100, 3 * D).subarray(1), OCTET),
      expect: '400 DIMENSION_MISMATCH',
    },
    {
      route: r,
      name: 'binary: one triplet of the wrong dimension',
      req: post(url, f32(1, 3 * 3), OCTET),
      expect: '400 DIMENSION_MISMATCH',
    },
    { route: r, name: 'binary: empty', req: post(url, Buffer.alloc(0), OCTET), expect: '400 EMPTY_BATCH' },
    {
      route: r,
      name: 'binary: over UPLOAD_LIMIT_BYTES',
      req: post(url, f32(Math.ceil(LIMITS.uploadLimit / (12 * D)) + 10, 3 * D), OCTET),
      expect: '413 BODY_TOO_LARGE',
    },
    {
      route: r,
      name: 'binary: unknown dataset',
      req: post('/datasets/ds_nope/triplets', f32(1, 3 * D), OCTET),
      expect: '404 DATASET_NOT_FOUND',
    },
  ];
}

function sampleCases(f: Fixture): Case[] {
  const r = 'POST /datasets/:id/samples';
  const url = `/datasets/${f.dsSamples}/samples`;
  const sample = (vector: unknown, label: unknown) =>
    JSON.stringify({
      samples: [
        { vector: row(1), label: 'ok' },
        { vector, label },
      ],
    });
  const line = JSON.stringify({ vector: row(1), label: 'ok' });
  const ndjson = (bad: string) => `${`${line}\n`.repeat(20_000)}${bad}\n${line}\n`;
  const erase = 'DELETE /datasets/:id/samples';
  const del = (query: string): Inject => ({ method: 'DELETE', url: `${url}${query}` });
  const keyed = (key: string): Inject => ({
    ...post(url, sample(row(1), 'ok')),
    headers: { ...J, 'idempotency-key': key },
  });
  return [
    { route: erase, name: 'no label', req: del(''), expect: '400 VALIDATION_ERROR' },
    { route: erase, name: 'label empty', req: del('?label='), expect: '400 VALIDATION_ERROR' },
    {
      route: erase,
      name: 'label 257 characters',
      req: del(`?label=${'x'.repeat(257)}`),
      expect: '400 VALIDATION_ERROR',
    },
    { route: erase, name: 'labelType other', req: del('?label=1&labelType=float'), expect: '400 VALIDATION_ERROR' },
    {
      route: erase,
      name: 'integer label 1e3',
      req: del('?label=1e3&labelType=integer'),
      expect: '400 VALIDATION_ERROR',
    },
    { route: erase, name: 'label nobody has', req: del("?label='%20OR%201=1"), expect: '404 LABEL_NOT_FOUND' },
    {
      route: r,
      name: 'Idempotency-Key 256 characters',
      req: keyed('k'.repeat(256)),
      expect: '400 INVALID_IDEMPOTENCY_KEY',
    },
    { route: r, name: 'Idempotency-Key not ASCII', req: keyed('clé'), expect: '400 INVALID_IDEMPOTENCY_KEY' },
    {
      route: r,
      name: 'JSON: label 1e400',
      req: post(url, sample(row(1), 0).replace(/"label":0/, '"label":1e400')),
      expect: '400 VALIDATION_ERROR|400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'JSON: label 1e20 (not a safe integer)',
      req: post(url, sample(row(1), 0).replace(/"label":0/, '"label":1e20')),
      expect: '400 VALIDATION_ERROR|400 NON_FINITE_VALUE',
    },
    { route: r, name: 'JSON: label empty', req: post(url, sample(row(1), '')), expect: '400 VALIDATION_ERROR' },
    {
      route: r,
      name: 'JSON: label an object',
      req: post(url, sample(row(1), { id: 1 })),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'JSON: label 257 characters',
      req: post(url, sample(row(1), 'x'.repeat(257))),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'JSON: vector -1e400',
      req: post(url, sample(row(1), 'a').replace(/\[1,1,1,1\],"label":"a"/, '[1,-1e400,1,1],"label":"a"')),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'JSON: vector too long',
      req: post(url, sample(row(1).concat(1), 'a')),
      expect: '400 DIMENSION_MISMATCH',
    },
    { route: r, name: 'JSON: samples empty', req: post(url, '{"samples":[]}'), expect: '400 VALIDATION_ERROR' },
    {
      route: r,
      name: 'NDJSON: a bad label on line 20,001',
      req: post(url, ndjson(JSON.stringify({ vector: row(1), label: true })), NDJSON),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'NDJSON: a missing vector on line 20,001',
      req: post(url, ndjson('{"label":"a"}'), NDJSON),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'binary: NaN in sample 900 of 1,000',
      req: post(url, binarySamples(1000, 900, NaN), OCTET),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'binary: -Infinity in sample 0',
      req: post(url, binarySamples(10, 0, -Infinity), OCTET),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'binary: a ragged tail',
      req: post(url, binarySamples(10).subarray(0, 10 * 4 * (D + 1) - 3), OCTET),
      expect: '400 DIMENSION_MISMATCH',
    },
    {
      route: r,
      name: 'unknown dataset',
      req: post('/datasets/ds_nope/samples', sample(row(1), 'a')),
      expect: '404 DATASET_NOT_FOUND',
    },
  ];
}

function trainCases(f: Fixture): Case[] {
  const r = 'POST /train';
  const body = (extra: string) => post('/train', `{"datasetId":"${f.ds}","outputDimension":2${extra}}`);
  const inline = (triplets: unknown) => post('/train', JSON.stringify({ triplets, outputDimension: 2 }));
  return [
    { route: r, name: 'margin 1e400', req: body(',"margin":1e400'), expect: '400 NON_FINITE_VALUE' },
    { route: r, name: 'margin -1e400', req: body(',"margin":-1e400'), expect: '400 NON_FINITE_VALUE' },
    { route: r, name: 'weightDecay 1e400', req: body(',"weightDecay":1e400'), expect: '400 NON_FINITE_VALUE' },
    {
      route: r,
      name: 'gradientTolerance 1e400',
      req: body(',"gradientTolerance":1e400'),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'maxIterations 1e400',
      req: body(',"maxIterations":1e400'),
      expect: '400 NON_FINITE_VALUE|422 LIMIT_EXCEEDED',
    },
    {
      route: r,
      name: 'outputDimension 1e400',
      req: post('/train', `{"datasetId":"${f.ds}","outputDimension":1e400}`),
      expect: '400 NON_FINITE_VALUE|422 LIMIT_EXCEEDED',
    },
    { route: r, name: 'seed 1e400', req: body(',"seed":1e400'), expect: '400 VALIDATION_ERROR|400 NON_FINITE_VALUE' },
    {
      route: r,
      name: 'maxIterations over MAX_ITERATIONS',
      req: body(',"maxIterations":100000000'),
      expect: '422 LIMIT_EXCEEDED',
    },
    {
      route: r,
      name: 'outputDimension over MAX_OUTPUT_DIMENSION',
      req: post('/train', `{"datasetId":"${f.ds}","outputDimension":100000}`),
      expect: '422 LIMIT_EXCEEDED',
    },
    {
      route: r,
      name: 'outputDimension 0',
      req: post('/train', `{"datasetId":"${f.ds}","outputDimension":0}`),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'outputDimension "2"',
      req: post('/train', `{"datasetId":"${f.ds}","outputDimension":"2"}`),
      expect: '400 VALIDATION_ERROR',
    },
    { route: r, name: 'optimizer sgd', req: body(',"optimizer":"sgd"'), expect: '400 VALIDATION_ERROR' },
    { route: r, name: 'optimizer adam on triplets', req: body(',"optimizer":"adam"'), expect: '400 VALIDATION_ERROR' },
    {
      route: r,
      name: 'mining on a dataset without samples',
      req: body(',"mining":"semihard"'),
      expect: '422 NO_SAMPLES',
    },
    {
      route: r,
      name: 'validationFraction 0.95',
      req: body(',"validationFraction":0.95'),
      expect: '400 VALIDATION_ERROR',
    },
    { route: r, name: 'an unknown option', req: body(',"epochs":10'), expect: '400 VALIDATION_ERROR' },
    {
      route: r,
      name: 'neither datasetId nor triplets',
      req: post('/train', '{"outputDimension":2}'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'both datasetId and triplets',
      req: post('/train', JSON.stringify({ datasetId: f.ds, triplets: makeTriplets(1, D), outputDimension: 2 })),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'datasetId a number',
      req: post('/train', '{"datasetId":5,"outputDimension":2}'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'unknown dataset',
      req: post('/train', '{"datasetId":"ds_nope","outputDimension":2}'),
      expect: '404 DATASET_NOT_FOUND',
    },
    {
      route: r,
      name: 'datasetId ../../etc/passwd',
      req: post('/train', '{"datasetId":"../../etc/passwd","outputDimension":2}'),
      expect: '404 DATASET_NOT_FOUND',
    },
    {
      route: r,
      name: 'datasetId with NUL',
      req: post('/train', `{"datasetId":"${f.ds}\\u0000","outputDimension":2}`),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: r,
      name: 'a dataset without triplets',
      req: post('/train', `{"datasetId":"${f.dsEmpty}","outputDimension":2}`),
      expect: '422 NO_TRIPLETS',
    },
    // Inline sets are stored as a new dataset first; a refusal must leave none behind.
    {
      route: r,
      name: 'inline triplets of mixed lengths',
      req: inline([{ anchor: [1, 2], positive: [1, 2, 3], negative: [1, 2] }]),
      expect: '400 DIMENSION_MISMATCH',
    },
    {
      route: r,
      name: 'inline triplets with 1e400',
      req: post('/train', '{"outputDimension":2,"triplets":[{"anchor":[1e400,2],"positive":[1,2],"negative":[2,1]}]}'),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'inline triplets, second one bad',
      req: inline([
        { anchor: [1, 2], positive: [1, 2], negative: [2, 1] },
        { anchor: [1, 2], positive: [1, 2], negative: [2] },
      ]),
      expect: '400 DIMENSION_MISMATCH',
    },
  ];
}

function jobCases(f: Fixture): Case[] {
  return [
    { route: 'GET /jobs', name: 'status=bogus', req: get('/jobs?status=bogus'), expect: '400 VALIDATION_ERROR' },
    { route: 'GET /jobs', name: 'limit=0', req: get('/jobs?limit=0'), expect: '400 VALIDATION_ERROR' },
    { route: 'GET /jobs', name: 'limit=abc', req: get('/jobs?limit=abc'), expect: '400 VALIDATION_ERROR' },
    { route: 'GET /jobs', name: 'cursor=garbage', req: get('/jobs?cursor=garbage'), expect: '400 INVALID_CURSOR' },
    {
      route: 'GET /jobs',
      name: 'cursor given twice',
      req: get('/jobs?cursor=a&cursor=b'),
      expect: '400 VALIDATION_ERROR',
    },
    { route: 'GET /jobs/:id', name: 'unknown id', req: get('/jobs/job_nope'), expect: '404 JOB_NOT_FOUND' },
    { route: 'GET /jobs/:id', name: 'id %00', req: get('/jobs/%00'), expect: '400 INVALID_REQUEST' },
    { route: 'GET /jobs/:id', name: 'id ..%2F..%2F', req: get('/jobs/..%2F..%2Fjobs'), expect: '404 JOB_NOT_FOUND' },
    {
      route: 'GET /jobs/:id',
      name: 'id of 100,000 characters',
      req: get(`/jobs/${'j'.repeat(100_000)}`),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'POST /jobs/:id/cancel',
      name: 'a cancelled job',
      req: { method: 'POST', url: `/jobs/${f.cancelledJob}/cancel` },
      expect: '409 JOB_FINISHED',
    },
    {
      route: 'POST /jobs/:id/cancel',
      name: 'unknown job',
      req: { method: 'POST', url: '/jobs/job_nope/cancel' },
      expect: '404 JOB_NOT_FOUND',
    },
    {
      route: 'POST /jobs/:id/cancel',
      name: 'job id %2F',
      req: { method: 'POST', url: `/jobs/${f.queuedJob}%2F/cancel` },
      expect: '404 JOB_NOT_FOUND',
    },
    {
      route: 'POST /jobs/:id/cancel',
      name: 'body a JSON array',
      req: post(`/jobs/${f.queuedJob}/cancel`, '[]'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'POST /jobs/:id/cancel',
      name: 'binary body',
      req: post(`/jobs/${f.queuedJob}/cancel`, Buffer.from([1, 2, 3]), OCTET),
      expect: '400 VALIDATION_ERROR|415 UNSUPPORTED_MEDIA_TYPE',
    },
    {
      route: 'GET /jobs/:id/events',
      name: 'unknown job',
      req: get('/jobs/job_nope/events'),
      expect: '404 JOB_NOT_FOUND',
    },
    {
      route: 'GET /jobs/:id/events',
      name: 'job id with NUL',
      req: get(`/jobs/${f.queuedJob}%00/events`),
      expect: '400 INVALID_REQUEST',
    },
    {
      route: 'GET /jobs/:id/events',
      name: 'job id ..%2F',
      req: get('/jobs/..%2F/events'),
      expect: '404 JOB_NOT_FOUND',
    },
  ];
}

function modelCases(f: Fixture): Case[] {
  const r = 'POST /models';
  const evaluate = (payload: string, id = f.model) => post(`/models/${id}/evaluate`, payload);
  return [
    { route: r, name: 'W with 1e400', req: post('/models', '{"W":[[1e400,0],[0,1]]}'), expect: '400 NON_FINITE_VALUE' },
    {
      route: r,
      name: 'W with -1e400',
      req: post('/models', '{"W":[[1,0],[0,-1e400]]}'),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: r,
      name: 'W with 1e39 (over float32)',
      req: post('/models', '{"W":[[1e39]]}'),
      expect: '400 NON_FINITE_VALUE',
    },
    { route: r, name: 'W ragged', req: post('/models', '{"W":[[1,2],[3]]}'), expect: '400 DIMENSION_MISMATCH' },
    { route: r, name: 'W empty', req: post('/models', '{"W":[]}'), expect: '400 VALIDATION_ERROR' },
    { route: r, name: 'W [[]]', req: post('/models', '{"W":[[]]}'), expect: '400 VALIDATION_ERROR' },
    { route: r, name: 'W of strings', req: post('/models', '{"W":[["1","2"]]}'), expect: '400 VALIDATION_ERROR' },
    { route: r, name: 'W a flat vector', req: post('/models', '{"W":[1,2,3]}'), expect: '400 VALIDATION_ERROR' },
    {
      route: r,
      name: 'W over MAX_OUTPUT_DIMENSION rows',
      req: post('/models', JSON.stringify({ W: Array.from({ length: 4097 }, () => [1]) })),
      expect: '422 LIMIT_EXCEEDED',
    },
    {
      route: r,
      name: 'normalize "yes"',
      req: post('/models', '{"W":[[1]],"normalize":"yes"}'),
      expect: '400 VALIDATION_ERROR',
    },
    { route: 'GET /models', name: 'limit=1.5', req: get('/models?limit=1.5'), expect: '400 VALIDATION_ERROR' },
    { route: 'GET /models', name: 'cursor=%FF%FE', req: get('/models?cursor=%FF%FE'), expect: '400 INVALID_CURSOR' },
    { route: 'GET /models/:id', name: 'unknown id', req: get('/models/mdl_nope'), expect: '404 MODEL_NOT_FOUND' },
    {
      route: 'GET /models/:id/weights',
      name: 'id with NUL',
      req: get(`/models/${f.model}%00/weights`),
      expect: '400 INVALID_REQUEST',
    },
    {
      route: 'GET /models/:id/weights',
      name: 'id ..%2F..%2F',
      req: get('/models/..%2F..%2Fetc/weights'),
      expect: '404 MODEL_NOT_FOUND',
    },
    { route: 'DELETE /models/:id', name: 'id ..%2F', req: del('/models/..%2F'), expect: '404 MODEL_NOT_FOUND' },
    {
      route: 'DELETE /models/:id',
      name: 'id with NUL',
      req: del(`/models/${f.model}%00`),
      expect: '400 INVALID_REQUEST',
    },
    {
      route: 'POST /models/:id/evaluate',
      name: 'margin 1e400',
      req: evaluate(`{"datasetId":"${f.ds}","margin":1e400}`),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: 'POST /models/:id/evaluate',
      name: 'margin -1',
      req: evaluate(`{"datasetId":"${f.ds}","margin":-1}`),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'POST /models/:id/evaluate',
      name: 'a dataset of another dimension',
      req: evaluate(`{"datasetId":"${f.ds3}"}`),
      expect: '400 DIMENSION_MISMATCH',
    },
    {
      route: 'POST /models/:id/evaluate',
      name: 'an empty dataset',
      req: evaluate(`{"datasetId":"${f.dsEmpty}"}`),
      expect: '422 NO_TRIPLETS',
    },
    {
      route: 'POST /models/:id/evaluate',
      name: 'unknown dataset',
      req: evaluate('{"datasetId":"../ds"}'),
      expect: '404 DATASET_NOT_FOUND',
    },
    {
      route: 'POST /models/:id/evaluate',
      name: 'unknown model',
      req: evaluate(`{"datasetId":"${f.ds}"}`, 'mdl_nope'),
      expect: '404 MODEL_NOT_FOUND',
    },
    {
      route: 'POST /models/:id/evaluate',
      name: 'datasetId missing',
      req: evaluate('{}'),
      expect: '400 VALIDATION_ERROR',
    },
  ];
}

function servingCases(_f: Fixture): Case[] {
  const e = 'POST /embed';
  const embed = (payload: string, query = '') => post(`/embed${query}`, payload);
  const bin = (payload: Buffer, query = '') => post(`/embed${query}`, payload, OCTET);
  const dist = (payload: string) => post('/distances', payload);
  return [
    { route: e, name: 'JSON: 1e400', req: embed('{"inputs":[[1e400,0,0,0]]}'), expect: '400 NON_FINITE_VALUE' },
    {
      route: e,
      name: 'JSON: -1e400 in the second row',
      req: embed('{"inputs":[[1,2,3,4],[0,-1e400,0,0]]}'),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: e,
      name: 'JSON: a row of the wrong length',
      req: embed('{"inputs":[[1,2,3,4],[1,2,3]]}'),
      expect: '400 DIMENSION_MISMATCH',
    },
    {
      route: e,
      name: 'JSON: an empty row',
      req: embed('{"inputs":[[]]}'),
      expect: '400 DIMENSION_MISMATCH|400 VALIDATION_ERROR',
    },
    { route: e, name: 'JSON: inputs empty', req: embed('{"inputs":[]}'), expect: '400 VALIDATION_ERROR' },
    { route: e, name: 'JSON: inputs a string', req: embed('{"inputs":"1,2,3,4"}'), expect: '400 VALIDATION_ERROR' },
    {
      route: e,
      name: 'JSON: numbers as strings',
      req: embed('{"inputs":[["1","2","3","4"]]}'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: e,
      name: 'JSON: over MAX_BATCH rows',
      req: embed(JSON.stringify({ inputs: Array.from({ length: 65 }, () => row(1)) })),
      expect: '413 BATCH_TOO_LARGE',
    },
    {
      route: e,
      name: 'JSON: unknown model',
      req: embed('{"model":"mdl_nope","inputs":[[1,2,3,4]]}'),
      expect: '404 MODEL_NOT_FOUND',
    },
    {
      route: e,
      name: 'JSON: model ../../x',
      req: embed('{"model":"../../x","inputs":[[1,2,3,4]]}'),
      expect: '404 MODEL_NOT_FOUND',
    },
    {
      route: e,
      name: 'JSON: model a number',
      req: embed('{"model":1,"inputs":[[1,2,3,4]]}'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: e,
      name: 'JSON: ?rows= on a JSON request',
      req: embed('{"inputs":[[1,2,3,4]]}', '?rows=1'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: e,
      name: 'JSON: unknown query parameter',
      req: embed('{"inputs":[[1,2,3,4]]}', '?debug=1'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: e,
      name: 'base64: not base64',
      req: embed('{"encoding":"base64","inputs":["!!!not base64!!!"]}'),
      expect: '400 DIMENSION_MISMATCH|400 VALIDATION_ERROR',
    },
    {
      route: e,
      name: 'base64: Infinity in a row',
      req: embed(JSON.stringify({ encoding: 'base64', inputs: [b64([1, Infinity, 0, 0])] })),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: e,
      name: 'base64: NaN in a row',
      req: embed(JSON.stringify({ encoding: 'base64', inputs: [b64([1, 2, 3, 4]), b64([NaN, 0, 0, 0])] })),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: e,
      name: 'base64: a row of 3 values',
      req: embed(JSON.stringify({ encoding: 'base64', inputs: [b64([1, 2, 3])] })),
      expect: '400 DIMENSION_MISMATCH',
    },
    {
      route: e,
      name: 'base64: number rows',
      req: embed('{"encoding":"base64","inputs":[[1,2,3,4]]}'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: e,
      name: 'base64: a string row without encoding',
      req: embed(JSON.stringify({ inputs: [b64([1, 2, 3, 4])] })),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: e,
      name: 'encoding hex',
      req: embed('{"encoding":"hex","inputs":[[1,2,3,4]]}'),
      expect: '400 VALIDATION_ERROR',
    },
    { route: e, name: 'binary: NaN', req: bin(f32(10, D, 21, NaN)), expect: '400 NON_FINITE_VALUE' },
    { route: e, name: 'binary: +Infinity', req: bin(f32(10, D, 39, Infinity)), expect: '400 NON_FINITE_VALUE' },
    { route: e, name: 'binary: -Infinity', req: bin(f32(10, D, 0, -Infinity)), expect: '400 NON_FINITE_VALUE' },
    { route: e, name: 'binary: 15 bytes', req: bin(Buffer.alloc(15)), expect: '400 DIMENSION_MISMATCH' },
    { route: e, name: 'binary: empty', req: bin(Buffer.alloc(0)), expect: '400 EMPTY_BATCH' },
    { route: e, name: 'binary: rows=2 for one row', req: bin(f32(1, D), '?rows=2'), expect: '400 DIMENSION_MISMATCH' },
    { route: e, name: 'binary: rows=abc', req: bin(f32(1, D), '?rows=abc'), expect: '400 VALIDATION_ERROR' },
    { route: e, name: 'binary: rows=0', req: bin(f32(1, D), '?rows=0'), expect: '400 VALIDATION_ERROR' },
    {
      route: e,
      name: 'binary: rows=1e400',
      req: bin(f32(1, D), '?rows=1e400'),
      expect: '400 VALIDATION_ERROR|400 DIMENSION_MISMATCH|400 NON_FINITE_VALUE',
    },
    { route: e, name: 'binary: over MAX_BATCH rows', req: bin(f32(65, D)), expect: '413 BATCH_TOO_LARGE' },
    {
      route: e,
      name: 'binary: over the body limit',
      req: bin(f32(LIMITS.bodyLimit / 16 + 1, D)),
      expect: '413 BODY_TOO_LARGE',
    },
    { route: e, name: 'binary: model=%00', req: bin(f32(1, D), '?model=%00'), expect: '400 INVALID_REQUEST' },
    {
      route: e,
      name: 'binary: model=..%2F..%2F',
      req: bin(f32(1, D), '?model=..%2F..%2F'),
      expect: '404 MODEL_NOT_FOUND',
    },
    {
      route: e,
      name: 'content type application/x-ndjson',
      req: post('/embed', '{"inputs":[[1,2,3,4]]}', NDJSON),
      expect: '415 UNSUPPORTED_MEDIA_TYPE',
    },
    {
      route: 'POST /distances',
      name: 'a with 1e400',
      req: dist('{"a":[[1e400,0,0,0]]}'),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: 'POST /distances',
      name: 'b with -1e400',
      req: dist('{"a":[[1,2,3,4]],"b":[[-1e400,0,0,0]]}'),
      expect: '400 NON_FINITE_VALUE',
    },
    {
      route: 'POST /distances',
      name: 'b of the wrong length',
      req: dist('{"a":[[1,2,3,4]],"b":[[1,2,3]]}'),
      expect: '400 DIMENSION_MISMATCH',
    },
    { route: 'POST /distances', name: 'a empty', req: dist('{"a":[]}'), expect: '400 VALIDATION_ERROR' },
    { route: 'POST /distances', name: 'a missing', req: dist('{"b":[[1,2,3,4]]}'), expect: '400 VALIDATION_ERROR' },
    {
      route: 'POST /distances',
      name: 'metric manhattan',
      req: dist('{"a":[[1,2,3,4]],"metric":"manhattan"}'),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'POST /distances',
      name: 'a×b over MAX_DISTANCE_PAIRS',
      req: dist(
        JSON.stringify({ a: Array.from({ length: 11 }, () => row(1)), b: Array.from({ length: 10 }, () => row(2)) }),
      ),
      expect: '413 BATCH_TOO_LARGE',
    },
    {
      route: 'POST /distances',
      name: 'unknown model',
      req: dist('{"model":"mdl_nope","a":[[1,2,3,4]]}'),
      expect: '404 MODEL_NOT_FOUND',
    },
    {
      route: 'POST /distances',
      name: 'content type application/octet-stream',
      req: post('/distances', f32(2, D), OCTET),
      expect: '415 UNSUPPORTED_MEDIA_TYPE',
    },
    {
      route: 'POST /distances',
      name: 'content type application/x-ndjson',
      req: post('/distances', '{"a":[[1,2,3,4]]}', NDJSON),
      expect: '415 UNSUPPORTED_MEDIA_TYPE',
    },
    {
      route: 'POST /datasets',
      name: 'content type application/octet-stream',
      req: post('/datasets', f32(2, D), OCTET),
      expect: '415 UNSUPPORTED_MEDIA_TYPE',
    },
    {
      route: 'POST /models',
      name: 'content type application/x-ndjson',
      req: post('/models', '{"W":[[1]]}', NDJSON),
      expect: '415 UNSUPPORTED_MEDIA_TYPE',
    },
  ];
}

/** U+0000 where no JSON scan sees it: NDJSON lines, binary records, path parameters, query values. */
function nulCases(f: Fixture): Case[] {
  const items = `/galleries/${f.gallery}/items`;
  const nulItem = encodeBinaryItems([
    { id: 'b', input: row(1) },
    { id: 'n\0', label: 'x', input: row(2) },
  ]);
  const nulLabel = encodeBinaryItems([{ id: 'b', label: 'l\0', input: row(1) }]);
  return [
    {
      route: 'POST /datasets/:id/samples',
      name: 'an NDJSON label holds \\u0000',
      req: post(`/datasets/${f.dsSamples}/samples`, `{"vector":${JSON.stringify(row(1))},"label":"\\u0000"}\n`, NDJSON),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'POST /galleries/:id/items',
      name: 'an NDJSON item id holds \\u0000',
      req: post(items, `{"id":"b\\u0000","input":${JSON.stringify(row(1))}}\n`, NDJSON),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'POST /galleries/:id/items',
      name: 'a binary id holds a NUL byte',
      req: post(items, nulItem, OCTET),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'POST /galleries/:id/items',
      name: 'a binary label holds a NUL byte',
      req: post(items, nulLabel, OCTET),
      expect: '400 VALIDATION_ERROR',
    },
    {
      route: 'POST /jobs/:id/cancel',
      name: 'id ends in %00',
      req: { method: 'POST', url: `/jobs/${f.queuedJob}%00/cancel` },
      expect: '400 INVALID_REQUEST',
    },
    {
      route: 'DELETE /galleries/:id/items/:itemId',
      name: 'itemId %00',
      req: del(`${items}/a%00`),
      expect: '400 INVALID_REQUEST',
    },
    {
      route: 'DELETE /galleries/:id/items',
      name: 'label %00',
      req: del(`${items}?label=%00`),
      expect: '400 INVALID_REQUEST',
    },
  ];
}

function otherCases(f: Fixture): Case[] {
  const evil = { origin: 'http://evil.example' };
  return [
    // another web site's form (src/plugins/cross-origin.ts): the queued job must stay queued
    {
      route: 'POST /jobs/:id/cancel',
      name: 'a form post from another site',
      req: {
        method: 'POST',
        url: `/jobs/${f.queuedJob}/cancel`,
        headers: { ...evil, 'content-type': 'application/x-www-form-urlencoded' },
        payload: '',
      },
      expect: '403 CROSS_ORIGIN',
    },
    {
      route: 'POST /jobs/:id/cancel',
      name: 'a cross-site fetch without Origin',
      req: { method: 'POST', url: `/jobs/${f.queuedJob}/cancel`, headers: { 'sec-fetch-site': 'cross-site' } },
      expect: '403 CROSS_ORIGIN',
    },
    {
      route: 'POST /jobs/:id/cancel',
      name: 'an empty multipart body without Origin',
      req: {
        method: 'POST',
        url: `/jobs/${f.queuedJob}/cancel`,
        headers: { 'content-type': 'multipart/form-data; boundary=x' },
      },
      expect: '415 UNSUPPORTED_MEDIA_TYPE',
    },
    {
      route: 'DELETE /datasets/:id',
      name: 'from another site',
      req: { ...del(`/datasets/${f.ds}`), headers: evil },
      expect: '403 CROSS_ORIGIN',
    },
    {
      route: '(none)',
      name: 'PUT /datasets',
      req: { method: 'PUT', url: '/datasets', headers: J, payload: '{}' },
      expect: '404 ROUTE_NOT_FOUND',
    },
    {
      route: '(none)',
      name: 'a binary body to no route',
      req: post('/nope', f32(2, D), OCTET),
      expect: '404 ROUTE_NOT_FOUND',
    },
    {
      route: '(none)',
      name: 'an NDJSON body to no route',
      req: post('/nope', '{}', NDJSON),
      expect: '404 ROUTE_NOT_FOUND',
    },
    {
      route: '(none)',
      name: 'GET /datasets/../../etc/passwd',
      req: get('/datasets/../../etc/passwd'),
      expect: '404 ROUTE_NOT_FOUND',
    },
    {
      route: '(none)',
      name: 'POST /embed/extra',
      req: post('/embed/extra', '{"inputs":[[1,2,3,4]]}'),
      expect: '404 ROUTE_NOT_FOUND',
    },
  ];
}

// ---- what "unchanged" and "healthy" mean ------------------------------------------------------------

async function snapshot(app: App, db: Database.Database) {
  const list = async (url: string) => (await app.inject({ url })).json().items as Record<string, unknown>[];
  return {
    datasets: await list('/datasets?limit=1000'),
    models: await list('/models?limit=1000'),
    jobs: (await list('/jobs?limit=1000')).map((j) => ({
      id: j.id,
      status: j.status,
      modelId: j.modelId,
      error: j.error,
      params: j.params,
    })),
    chunks: db
      .prepare('SELECT dataset_id, kind, count, upload_id, length(data) AS bytes FROM chunks ORDER BY seq')
      .all(),
    weights: db.prepare('SELECT id, checksum FROM models ORDER BY seq').all(),
    galleries: await list('/galleries?limit=1000'),
    galleryItems: db.prepare('SELECT gallery_id, item_id, label, features, embedding FROM gallery_items').all(),
    stagedItems: db.prepare('SELECT COUNT(*) AS n FROM gallery_staged_items').get(),
  };
}

async function expectHealthy(t: Test, app: App, model: string) {
  const live = await app.inject({ url: '/healthz' });
  t.equal(live.statusCode, 200, '/healthz still answers 200');
  const r = await app.inject({ method: 'POST', url: '/embed', payload: { model, inputs: [[3, 4, 5, 6]] } });
  t.equal(r.statusCode, 200, 'a valid /embed still works');
  t.same(r.json().embeddings, [[3, 4]], 'and gives the right answer');
}

function parseExpect(expect: string): { status: number; code: string }[] {
  return expect.split('|').map((alt) => {
    const [status, code] = alt.trim().split(' ');
    return { status: Number(status), code };
  });
}

// ---- the run ------------------------------------------------------------------------------------------

t.test('hostile input: every malformed request gets a 4xx JSON error and changes nothing', async (t) => {
  // The runner stays off, so the queued job stays queued and the listings only change if a request
  // wrongly succeeds. Load shedding is off: a 503 for an overloaded test machine is not what this
  // file is about (the soak benchmark exercises it).
  const app = await testApp(t, {
    limits: LIMITS,
    build: { runJobs: false },
    config: { overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 } },
  });
  const f = await setUp(app);
  const db = new Database(app.services.store.location, { readonly: true });
  t.teardown(() => db.close());

  const cases = [
    ...everyJsonRoute(f),
    ...datasetCases(f),
    ...tripletCases(f),
    ...sampleCases(f),
    ...trainCases(f),
    ...jobCases(f),
    ...modelCases(f),
    ...servingCases(f),
    ...nulCases(f),
    ...otherCases(f),
  ];
  const routes = new Set(cases.map((c) => c.route));
  t.ok(cases.length >= 60, `${cases.length} malformed requests over ${routes.size} routes`);
  const known = new Set<string>(ErrorCodes);

  for (const c of cases) {
    await t.test(`${c.route}: ${c.name}`, async (t) => {
      const gap = c.todo ? { todo: c.todo } : {};
      const before = await snapshot(app, db);
      const res = await app.inject(c.req);
      const want = parseExpect(c.expect);
      let body: Record<string, unknown> = {};
      try {
        body = res.json();
      } catch {
        t.fail(`the reply is not JSON: ${res.body.slice(0, 200)}`);
      }
      const hit = want.find((w) => w.status === res.statusCode && w.code === body.code);
      t.ok(
        hit,
        `answers ${c.expect} (got ${res.statusCode} ${String(body.code)}: ${String(body.message).slice(0, 160)})`,
        gap,
      );
      t.ok(res.statusCode >= 400 && res.statusCode < 500, `a 4xx status (${res.statusCode})`);
      t.match(res.headers['content-type'], /^application\/json/, 'a JSON reply');
      t.equal(body.statusCode, res.statusCode, 'statusCode in the body');
      t.ok(
        typeof body.code === 'string' && known.has(body.code),
        `code is a documented one (${String(body.code)})`,
        gap,
      );
      t.ok(typeof body.message === 'string' && body.message.length > 0, 'message');
      t.ok(typeof body.error === 'string' && body.error.length > 0, 'error');
      t.same(await snapshot(app, db), before, 'datasets, triplets, samples, models and jobs unchanged');
      await expectHealthy(t, app, f.model);
    });
  }

  // After the whole corpus the store still takes writes, and counts are what the fixtures made.
  const up = await app.inject({
    method: 'POST',
    url: `/datasets/${f.ds}/triplets`,
    payload: { triplets: makeTriplets(3, D, 9) },
  });
  t.equal(up.statusCode, 201, 'a valid upload still works after the corpus');
  t.equal(up.json().tripletCount, 23, 'and counts from the fixture: nothing was added by a refused request');
  t.equal(
    (db.prepare('SELECT COUNT(*) AS n FROM chunks WHERE upload_id IS NOT NULL').get() as { n: number }).n,
    0,
    'no staged upload chunk is left behind',
  );
});

// An empty body is no body, whatever Content-Type the client sends with it: routes that take none
// run (but a POST refuses a form's types); routes that need one keep refusing an empty one.
import t from 'tap';
import { expectError, testApp } from '../helpers.js';

const TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-ndjson'];

t.test("routes that take no body accept an empty one with any Content-Type but a form's on POST", async (t) => {
  const app = await testApp(t);
  for (const type of TYPES) {
    const ds = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } })).json();
    const del = await app.inject({ method: 'DELETE', url: `/datasets/${ds.id}`, headers: { 'content-type': type } });
    t.equal(del.statusCode, 204, `DELETE with ${type}`);
    const withLength = await app.inject({
      method: 'DELETE',
      url: `/datasets/${ds.id}`,
      headers: { 'content-type': type, 'content-length': '0' },
    });
    expectError(t, withLength, 404, 'DATASET_NOT_FOUND');
    const cancel = await app.inject({
      method: 'POST',
      url: '/jobs/job_000000000000000000/cancel',
      headers: { 'content-type': type },
    });
    // text/plain is a form's type: a POST that takes no body refuses it (src/http/body-parsers.ts, 0069)
    if (type === 'text/plain') expectError(t, cancel, 415, 'UNSUPPORTED_MEDIA_TYPE');
    else expectError(t, cancel, 404, 'JOB_NOT_FOUND');
  }
});

t.test('a route that needs a body says it is empty; a non-empty body is still parsed', async (t) => {
  const app = await testApp(t);
  const empty = await app.inject({ method: 'POST', url: '/datasets', headers: { 'content-type': 'application/json' } });
  expectError(t, empty, 400, 'INVALID_JSON');
  t.match(empty.json().message, /empty/);
  const bad = await app.inject({
    method: 'POST',
    url: '/datasets',
    headers: { 'content-type': 'application/json' },
    payload: '{"dimension":',
  });
  expectError(t, bad, 400, 'INVALID_JSON');
  const cancelBody = await app.inject({
    method: 'POST',
    url: '/jobs/job_000000000000000000/cancel',
    headers: { 'content-type': 'application/json' },
    payload: '{"x":1}',
  });
  expectError(t, cancelBody, 400, 'VALIDATION_ERROR');
});

t.test('a JSON body over BODY_LIMIT_BYTES gets 413 naming the limit', async (t) => {
  const app = await testApp(t, { limits: { bodyLimit: 64 * 1024 } });
  const big = JSON.stringify({ W: [Array.from({ length: 20_000 }, () => 0.5)] });
  const r = await app.inject({
    method: 'POST',
    url: '/models',
    headers: { 'content-type': 'application/json' },
    payload: big,
  });
  expectError(t, r, 413, 'BODY_TOO_LARGE');
  t.match(r.json().message, /65536 bytes \(BODY_LIMIT_BYTES\)/);
});

// Writes from other web sites (src/plugins/cross-origin.ts, docs/decisions/0069): a page on
// evil.example could POST a form to /jobs/:id/cancel and cancel the job. POST, PUT, PATCH and DELETE
// are refused with 403 CROSS_ORIGIN when their Origin is neither this service's (its Host) nor one
// CORS_ORIGINS allows, or when the browser says Sec-Fetch-Site: cross-site; a POST that takes no
// body refuses a form's content types (415). Requests without those headers (curl, servers) run.
import type { InjectOptions } from 'fastify';
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import { crossOriginRefusal, isOwnOrigin } from '../../src/plugins/cross-origin.js';
import { createDataset, expectError, makeTriplets, testApp } from '../helpers.js';

const EVIL = 'http://evil.example';
const HOST = 'triplet.example:8080';
const OWN = `http://${HOST}`;
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain;charset=UTF-8'];

/** A queued job (the runner is off, so it stays queued until cancelled). */
async function queuedJob(app: App): Promise<string> {
  const ds = await createDataset(app, 4, makeTriplets(20, 4));
  const r = await app.inject({ method: 'POST', url: '/train', payload: { datasetId: ds, outputDimension: 2 } });
  return r.json().id as string;
}

const status = async (app: App, job: string) => (await app.inject({ url: `/jobs/${job}` })).json().status as string;

const cancel = (job: string, headers: Record<string, string>, payload?: string): InjectOptions => ({
  method: 'POST',
  url: `/jobs/${job}/cancel`,
  headers: { host: HOST, ...headers },
  ...(payload === undefined ? {} : { payload }),
});

t.test('isOwnOrigin: the Host header, ports compared, schemes not', async (t) => {
  t.ok(isOwnOrigin('http://triplet.example:8080', 'triplet.example:8080'));
  t.ok(isOwnOrigin('https://api.example', 'api.example'), 'TLS ended by a proxy: the scheme is not compared');
  t.ok(isOwnOrigin('https://api.example', 'api.example:443'), 'a default port is no port');
  t.ok(isOwnOrigin('http://API.example', 'api.example'), 'host names are not case-sensitive');
  t.notOk(isOwnOrigin('http://api.example:8080', 'api.example'), 'another port is another origin');
  t.notOk(isOwnOrigin('http://evil.example', 'api.example'));
  t.notOk(isOwnOrigin('http://api.example.evil.example', 'api.example'));
  t.notOk(isOwnOrigin('null', 'api.example'), 'a sandboxed frame or a file: page');
  t.notOk(isOwnOrigin('file:///tmp/x.html', 'api.example'));
  t.notOk(isOwnOrigin('http://api.example', undefined), 'no Host, nothing to be the same as');
  t.notOk(isOwnOrigin('http://api.example', 'api.example/x@evil.example'), 'a Host with more than a host');
});

t.test('crossOriginRefusal: the rule on headers alone', async (t) => {
  const none = new Set<string>();
  t.equal(crossOriginRefusal({}, none), undefined, 'no Origin, no Sec-Fetch-Site: not a browser, runs');
  t.equal(crossOriginRefusal({ origin: OWN, host: HOST }, none), undefined);
  t.match(crossOriginRefusal({ origin: EVIL, host: HOST }, none), /evil\.example.*CORS_ORIGINS/);
  t.match(crossOriginRefusal({ 'sec-fetch-site': 'cross-site' }, none), /cross-site/);
  t.match(crossOriginRefusal({ origin: OWN, host: HOST, 'sec-fetch-site': 'cross-site' }, none), /cross-site/);
  t.equal(
    crossOriginRefusal({ origin: 'https://public.example', host: 'api:8080', 'sec-fetch-site': 'same-origin' }, none),
    undefined,
    'the browser says same-origin: a proxy rewrote Host',
  );
  t.match(
    crossOriginRefusal({ origin: 'http://a.triplet.example', host: HOST, 'sec-fetch-site': 'same-site' }, none),
    /a\.triplet/,
  );
  const allowed = new Set(['https://app.example']);
  t.equal(crossOriginRefusal({ origin: 'https://app.example', 'sec-fetch-site': 'cross-site' }, allowed), undefined);
  t.match(
    crossOriginRefusal({ origin: 'https://app.example.evil', 'sec-fetch-site': 'cross-site' }, allowed),
    /app\.example\.evil/,
  );
  t.equal(
    crossOriginRefusal({ origin: 'null', 'sec-fetch-site': 'cross-site' }, new Set(['*'])),
    undefined,
    '* allows any',
  );
});

t.test('another site cannot cancel a job, by form or by fetch; the job stays queued', async (t) => {
  const app = await testApp(t, { build: { runJobs: false } });
  const job = await queuedJob(app);
  const refused = async (name: string, req: InjectOptions) => {
    const r = await app.inject(req);
    expectError(t, r, 403, 'CROSS_ORIGIN');
    t.match(r.json().message, /CORS_ORIGINS/, `${name}: the message says how to allow an origin`);
  };
  // the red team's request: an empty form body with a foreign Origin
  for (const type of FORM_TYPES) {
    await refused(`${type}, empty`, cancel(job, { 'content-type': type, origin: EVIL }, ''));
    await refused(`${type}, a field`, cancel(job, { 'content-type': type, origin: EVIL }, 'a=b'));
  }
  await refused('fetch with JSON', cancel(job, { 'content-type': 'application/json', origin: EVIL }, '{}'));
  await refused('no content type', cancel(job, { origin: EVIL }));
  await refused('Origin null (a sandboxed frame)', cancel(job, { origin: 'null' }));
  await refused('Sec-Fetch-Site cross-site, no Origin', cancel(job, { 'sec-fetch-site': 'cross-site' }));
  await refused('same host, another port', cancel(job, { origin: 'http://triplet.example:9090' }));
  await refused(
    'a sibling site',
    cancel(job, { origin: 'http://a.triplet.example:8080', 'sec-fetch-site': 'same-site' }),
  );
  t.equal(await status(app, job), 'queued', 'not cancelled');

  // every state-changing method, on other routes too
  const ds = await createDataset(app, 2);
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W: [[1, 0]] } })).json().id as string;
  const evil = { origin: EVIL, host: HOST };
  await refused('DELETE', { method: 'DELETE', url: `/datasets/${ds}`, headers: evil });
  await refused('PATCH', { method: 'PATCH', url: `/models/${model}`, headers: evil, payload: { name: 'x' } });
  await refused('PUT', { method: 'PUT', url: '/aliases/x', headers: evil, payload: { model } });
  await refused('POST /datasets', { method: 'POST', url: '/datasets', headers: evil, payload: { dimension: 2 } });
  t.equal((await app.inject({ url: `/datasets/${ds}` })).statusCode, 200, 'the dataset is still there');
  t.equal((await app.inject({ url: `/models/${model}` })).json().name, null, 'the model is not renamed');
  t.equal((await app.inject({ url: '/aliases/x' })).statusCode, 404, 'no alias was set');

  // reads are CORS's business: a foreign page may send them (it cannot read the answer without CORS)
  t.equal((await app.inject({ url: `/jobs/${job}`, headers: evil })).statusCode, 200, 'GET runs');
});

t.test('the same origin, and clients that are not browsers, run as before', async (t) => {
  const app = await testApp(t, { build: { runJobs: false } });
  const ok = async (name: string, req: InjectOptions, code: number) => {
    const r = await app.inject(req);
    t.equal(r.statusCode, code, `${name} (${r.body.slice(0, 160)})`);
  };
  await ok('the console (Origin of this Host)', cancel(await queuedJob(app), { origin: OWN }), 200);
  await ok(
    'the console behind a proxy that rewrote Host: the browser vouches',
    cancel(await queuedJob(app), { origin: 'https://public.example', 'sec-fetch-site': 'same-origin' }),
    200,
  );
  await ok(
    'https page, http service behind a TLS proxy',
    cancel(await queuedJob(app), { origin: `https://${HOST}` }),
    200,
  );
  await ok('curl: no Origin, no content type', cancel(await queuedJob(app), {}), 200);
  await ok(
    'a client sending JSON on every request',
    cancel(await queuedJob(app), { 'content-type': 'application/json' }),
    200,
  );
  await ok(
    'Sec-Fetch-Site none (typed in the address bar)',
    cancel(await queuedJob(app), { 'sec-fetch-site': 'none' }),
    200,
  );
  const ds = await createDataset(app, 2);
  await ok(
    'DELETE with text/plain (a preflight guards DELETE)',
    { method: 'DELETE', url: `/datasets/${ds}`, headers: { 'content-type': 'text/plain' } },
    204,
  );
});

t.test('a POST that takes no body refuses a form content type, with or without an Origin', async (t) => {
  const app = await testApp(t, { build: { runJobs: false } });
  const job = await queuedJob(app);
  for (const type of FORM_TYPES) {
    for (const payload of ['', 'a=b']) {
      const r = await app.inject(cancel(job, { 'content-type': type }, payload));
      expectError(t, r, 415, 'UNSUPPORTED_MEDIA_TYPE');
      t.match(r.json().message, /takes no body.*web forms/, `${type}, ${JSON.stringify(payload)}`);
    }
  }
  t.equal(await status(app, job), 'queued', 'not cancelled');
  // routes that take a body already refused them (415, or a schema error for text/plain): not a write
  for (const type of FORM_TYPES) {
    const r = await app.inject({
      method: 'POST',
      url: '/datasets',
      headers: { 'content-type': type },
      payload: 'dimension=2',
    });
    t.ok(r.statusCode === 415 || r.statusCode === 400, `POST /datasets with ${type}: ${r.statusCode}`);
  }
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/nope', headers: { 'content-type': 'text/plain' } }),
    404,
    'ROUTE_NOT_FOUND',
  );
});

async function withCors(t: Test, corsOrigins: string[], apiKeys: string[] = []): Promise<App> {
  return testApp(t, { config: { corsOrigins, apiKeys }, build: { runJobs: false } });
}

t.test('CORS_ORIGINS: its origins may write, others may not; * allows any', async (t) => {
  const app = await withCors(t, ['https://app.example']);
  const allowed = await app.inject(
    cancel(
      await queuedJob(app),
      { origin: 'https://app.example', 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
      '{}',
    ),
  );
  t.equal(allowed.statusCode, 200, allowed.body);
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
  const job = await queuedJob(app);
  expectError(t, await app.inject(cancel(job, { origin: EVIL })), 403, 'CROSS_ORIGIN');
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: `/jobs/${job}/cancel`,
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
  });
  t.equal(preflight.statusCode, 204, 'a preflight from an allowed origin is answered');

  const any = await withCors(t, ['*']);
  const r = await any.inject(cancel(await queuedJob(any), { origin: EVIL, 'sec-fetch-site': 'cross-site' }));
  t.equal(r.statusCode, 200, 'CORS_ORIGINS=* lets any origin write: the operator asked for it');
});

t.test('with API keys the refusal comes first: a key does not make another site welcome', async (t) => {
  const key = 'a-long-enough-key-0001';
  const app = await withCors(t, [], [key]);
  const auth = { authorization: `Bearer ${key}` };
  const ds = await app.inject({ method: 'POST', url: '/datasets', headers: auth, payload: { dimension: 2 } });
  t.equal(ds.statusCode, 201);
  const r = await app.inject({
    method: 'DELETE',
    url: `/datasets/${ds.json().id}`,
    headers: { ...auth, origin: EVIL },
  });
  expectError(t, r, 403, 'CROSS_ORIGIN');
  const own = await app.inject({
    method: 'DELETE',
    url: `/datasets/${ds.json().id}`,
    headers: { ...auth, origin: OWN, host: HOST },
  });
  t.equal(own.statusCode, 204, 'the same origin with the key runs');
});

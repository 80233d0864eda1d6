// API keys: every route but /healthz, /readyz, /metrics and the API docs needs a right Bearer key.
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { expectError, tempDir, testApp } from '../helpers.js';
import fs from 'node:fs';
import path from 'node:path';

const KEY = 'k-0123456789abcdef-first';
const OTHER = 'k-fedcba9876543210-second';
const OPEN = new Set(['/healthz', '/readyz', '/metrics', '/docs', '/openapi.json']);

t.test('every documented route refuses a missing or wrong key and accepts a right one', async (t) => {
  const app = await testApp(t, { config: { apiKeys: [KEY, OTHER] } });
  const spec = app.swagger() as { paths: Record<string, Record<string, unknown>> };
  const routes: [string, string][] = [];
  for (const [p, methods] of Object.entries(spec.paths)) {
    for (const m of Object.keys(methods)) routes.push([m.toUpperCase(), p.replace(/\{id\}/g, 'x_1')]);
  }
  routes.push(['GET', '/docs'], ['GET', '/openapi.json']);
  t.ok(routes.length >= 20, `${routes.length} routes checked`);
  for (const [method, url] of routes) {
    const open = OPEN.has(url);
    const none = await app.inject({ method: method as 'GET', url });
    const wrong = await app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: 'Bearer not-a-key-at-all-000' },
    });
    const basic = await app.inject({ method: method as 'GET', url, headers: { authorization: `Basic ${KEY}` } });
    const right = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${KEY}` } });
    const second = await app.inject({ method: method as 'GET', url, headers: { authorization: `bearer ${OTHER}` } });
    if (open) {
      t.equal(none.statusCode, 200, `${method} ${url} is open`);
      continue;
    }
    expectError(t, none, 401, 'UNAUTHORIZED');
    t.equal(none.headers['www-authenticate'], 'Bearer');
    expectError(t, wrong, 401, 'UNAUTHORIZED');
    expectError(t, basic, 401, 'UNAUTHORIZED');
    t.not(right.statusCode, 401, `${method} ${url} accepts the first key`);
    t.not(second.statusCode, 401, `${method} ${url} accepts the second key`);
  }
});

t.test('with a key the whole flow works; without keys configured no header is needed', async (t) => {
  const app = await testApp(t, { config: { apiKeys: [KEY] } });
  const auth = { authorization: `Bearer ${KEY}` };
  const r = await app.inject({ method: 'POST', url: '/datasets', headers: auth, payload: { dimension: 2 } });
  t.equal(r.statusCode, 201);
  const open = await testApp(t);
  t.equal((await open.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } })).statusCode, 201);
});

t.test('API_KEYS and API_KEYS_FILE are read and checked', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'keys');
  fs.writeFileSync(file, `${OTHER}\n\n`);
  t.same(loadConfig({ API_KEYS: ` ${KEY} , ` }).apiKeys, [KEY]);
  t.same(loadConfig({ API_KEYS: KEY, API_KEYS_FILE: file }).apiKeys, [KEY, OTHER]);
  t.throws(() => loadConfig({ API_KEYS: 'short' }), /at least 16 characters/);
  t.throws(() => loadConfig({ API_KEYS_FILE: path.join(dir, 'missing') }), /API_KEYS_FILE .* cannot be read/);
  t.same(loadConfig({}).apiKeys, []);
});

t.test('the docs load without a key: the page, its assets and the document it reads', async (t) => {
  const app = await testApp(t, { config: { apiKeys: [KEY] } });
  const page = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(page.statusCode, 200);
  const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
  t.equal(initializer.statusCode, 200);
  const specUrl = /url: resolveUrl\('([^']+)'\)/.exec(initializer.body)?.[1];
  t.ok(specUrl, 'the page names the document it loads');
  const spec = await app.inject({ method: 'GET', url: new URL(specUrl!, 'http://x/docs/').pathname });
  t.equal(spec.statusCode, 200);
  t.same(spec.json().servers, [{ url: '/', description: 'The server this document was loaded from' }]);
  // Only the docs are open: their neighbours still need the key.
  expectError(t, await app.inject({ method: 'GET', url: '/docsx' }), 401, 'UNAUTHORIZED');
  expectError(t, await app.inject({ method: 'GET', url: '/models' }), 401, 'UNAUTHORIZED');
});

// Every reply is Cache-Control: no-store and X-Content-Type-Options: nosniff (src/http/
// private-replies.ts): lists, embeddings, search results, and every error path, Fastify's own
// (bad JSON, 413, 415, a malformed URL, no such route) and Node's (a request that is not HTTP),
// which an onSend hook never sees. A real server process checks what reaches the wire.
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { startServer } from '../../scripts/server-process.js';
import { tempDir, testApp } from '../helpers.js';

const KEY = 'a-private-replies-test-key';

type Headers = Record<string, string | string[] | number | undefined>;

function isPrivate(t: Test, headers: Headers, what: string): void {
  t.equal(headers['cache-control'], 'no-store', `${what}: no-store`);
  t.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
}

t.test('routes, their errors and Fastify’s own refusals are no-store and nosniff', async (t) => {
  const app = await testApp(t, { limits: { bodyLimit: 4096 } });
  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, payload: payload as string, headers });
  const model = (
    await post('/models', {
      W: [
        [1, 0, 0],
        [0, 1, 0],
      ],
    })
  ).json().id as string;
  const gallery = (await post('/galleries', { model })).json().id as string;
  await post(`/galleries/${gallery}/items`, { items: [{ id: 'ann-1', label: 'ann', input: [1, 0, 0] }] });
  const ds = (await post('/datasets', { dimension: 3 })).json().id as string;
  await post(`/datasets/${ds}/samples`, { samples: [{ vector: [1, 0, 0], label: 'ann' }] });

  const cases: [string, Promise<{ statusCode: number; headers: Headers }>, number][] = [
    ['a list', app.inject({ url: '/datasets' }), 200],
    ['labels', app.inject({ url: `/datasets/${ds}/labels` }), 200],
    ['an embedding', post('/embed', { model, inputs: [[1, 2, 3]] }), 200],
    ['a binary embedding', post('/embed', { model, inputs: [[1, 2, 3]] }, { accept: 'application/octet-stream' }), 200],
    ['a search', post(`/galleries/${gallery}/search`, { inputs: [[1, 0, 0]], k: 1 }), 200],
    ['a creation', post('/datasets', { dimension: 2 }), 201],
    ['an unknown id', app.inject({ url: '/models/mdl_nope' }), 404],
    ['no such route', app.inject({ url: '/no/such/route' }), 404],
    ['a failed validation', app.inject({ url: '/datasets?limit=zero' }), 400],
    ['bad JSON', post('/datasets', '{"dimension": ', { 'content-type': 'application/json' }), 400],
    ['an empty JSON body', post('/datasets', '', { 'content-type': 'application/json' }), 400],
    ['a body over the limit', post('/datasets', { name: 'x'.repeat(5000), dimension: 2 }), 413],
    ['an unsupported type', post('/datasets', 'x', { 'content-type': 'text/csv' }), 415],
    ['a malformed %-escape', app.inject({ url: '/models/%zz' }), 400],
    ['a dimension mismatch', post('/embed', { inputs: [[1]] }), 400],
    ['a cross-site write', post('/datasets', { dimension: 2 }, { 'sec-fetch-site': 'cross-site' }), 403],
    ['a deletion', app.inject({ method: 'DELETE', url: `/galleries/${gallery}/items?label=ann` }), 200],
    ['the health probe', app.inject({ url: '/healthz' }), 200],
    ['the events as JSON', app.inject({ url: '/jobs/job_nope/events?format=json' }), 404],
  ];
  for (const [what, reply, status] of cases) {
    const r = await reply;
    t.equal(r.statusCode, status, `${what}: ${status}`);
    isPrivate(t, r.headers, what);
  }
});

t.test('a refused key is no-store too; static files keep their own caching and get nosniff', async (t) => {
  const app = await testApp(t, { config: { apiKeys: [KEY] } });
  const refused = await app.inject({ url: '/galleries' });
  t.equal(refused.statusCode, 401);
  isPrivate(t, refused.headers, 'a 401');
  const docs = await app.inject({ url: '/openapi.json' });
  isPrivate(t, docs.headers, '/openapi.json');
  const page = await app.inject({ url: '/console/' });
  t.equal(page.headers['x-content-type-options'], 'nosniff', 'the console: nosniff');
  // Built, the page is revalidated (its own Cache-Control); not built, it is the JSON 404.
  if (page.statusCode === 200) t.match(page.headers['cache-control'], /max-age=0/, 'the console keeps its caching');
  else isPrivate(t, page.headers, 'the console not built');
});

/** One raw request, so that what Node refuses before Fastify sees it is answered. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.on('data', (b) => (out += b.toString('utf8')));
    s.on('error', reject);
    s.on('end', () => resolve(out));
  });
}

/** The header block of a raw HTTP reply, names lower-cased. */
function headerBlock(reply: string): Headers {
  const lines = reply.slice(0, reply.indexOf('\r\n\r\n')).split('\r\n').slice(1);
  return Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
}

t.test('a real server process: JSON, event streams and Node’s own refusals', async (t) => {
  // Load shedding off: on a busy machine its 503s would be read as this test's replies.
  const env = { MAX_EVENT_LOOP_DELAY_MS: '0' };
  const s = await startServer({ dataDir: tempDir(t), command: 'npm-start', stdio: 'quiet', env });
  t.teardown(async () => {
    s.proc.kill('SIGTERM');
    await s.exited;
  });
  const list = await fetch(`${s.base}/datasets`);
  isPrivate(t, Object.fromEntries(list.headers), 'a list over HTTP');
  const bad = await fetch(`${s.base}/datasets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{',
  });
  t.equal(bad.status, 400);
  isPrivate(t, Object.fromEntries(bad.headers), 'bad JSON over HTTP');

  const post = async (url: string, body: unknown): Promise<any> =>
    (
      await fetch(`${s.base}${url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json();
  const ds = (await post('/datasets', { dimension: 2 })).id as string;
  await post(`/datasets/${ds}/triplets`, { triplets: [{ anchor: [1, 0], positive: [1, 0.1], negative: [0, 1] }] });
  const job = (await post('/train', { datasetId: ds, outputDimension: 1 })).id as string;
  const events = await raw(s.port, `GET /jobs/${job}/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  const stream = headerBlock(events);
  t.match(stream['content-type'], /^text\/event-stream/);
  t.match(stream['cache-control'], /^no-store\b/, 'the event stream: no-store');
  t.match(stream['cache-control'], /no-transform/, 'the event stream: still no-transform');
  t.equal(stream['x-content-type-options'], 'nosniff', 'the event stream: nosniff');

  const notHttp = await raw(s.port, 'NOT HTTP AT ALL\r\n\r\n');
  t.match(notHttp, /^HTTP\/1\.1 400 /, 'Node refuses what is not HTTP');
  isPrivate(t, headerBlock(notHttp), 'Node’s own refusal');
});

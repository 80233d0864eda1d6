// /metrics (parsed), CORS, load shedding, request ids and log redaction.
import { Writable } from 'node:stream';
import t from 'tap';
import { buildApp, loggerOptions } from '../../src/app.js';
import { makeConfig } from '../../src/config.js';
import { createDataset, makeTriplets, tempDir, testApp, waitForJob } from '../helpers.js';

/** Parses Prometheus text format into samples: name, labels, value. */
function parseMetrics(text: string) {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const help = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) help.add(line.split(' ')[2]);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return { samples, help };
}

t.test('GET /metrics is Prometheus text with traffic, batches, jobs, training speed and process figures', async (t) => {
  const app = await testApp(t);
  const ds = await createDataset(app, 4, makeTriplets(40, 4));
  const job = (
    await app.inject({ method: 'POST', url: '/train', payload: { datasetId: ds, outputDimension: 2, init: 'uniform' } })
  ).json();
  t.equal((await waitForJob(app, job.id)).status, 'succeeded');
  await app.inject({
    method: 'POST',
    url: '/embed',
    payload: {
      inputs: [
        [1, 2, 3, 4],
        [0, 1, 0, 1],
        [1, 1, 1, 1],
      ],
    },
  });
  await app.inject({ method: 'POST', url: '/embed', payload: { inputs: [[1, 2, 3]] } });

  const r = await app.inject({ url: '/metrics' });
  t.equal(r.statusCode, 200);
  t.match(r.headers['content-type'], /^text\/plain/);
  const { samples, help } = parseMetrics(r.body);
  const find = (name: string, labels: Record<string, string> = {}) =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

  t.equal(find('http_requests_total', { method: 'POST', route: '/embed', status_code: '200' })?.value, 1);
  t.equal(find('http_requests_total', { method: 'POST', route: '/embed', status_code: '400' })?.value, 1);
  t.ok(
    find('http_request_duration_seconds_count', { route: '/train', status_code: '202' }),
    'latency by route and status',
  );
  t.equal(find('triplet_embed_embed_batch_size_count')?.value, 1, 'one successful embed batch');
  t.equal(find('triplet_embed_embed_batch_size_sum')?.value, 3, 'of three vectors');
  t.equal(find('triplet_embed_jobs', { status: 'succeeded' })?.value, 1);
  t.equal(find('triplet_embed_jobs', { status: 'queued' })?.value, 0);
  t.ok(find('triplet_embed_training_iterations_per_second'), 'training speed is exported');
  t.ok(find('process_resident_memory_bytes') || find('process_cpu_user_seconds_total'), 'process metrics');
  t.ok(help.has('http_requests_total'), 'metrics carry HELP lines');
});

t.test('/metrics stays open when API keys are set', async (t) => {
  const app = await testApp(t, { config: { apiKeys: ['a-long-enough-key-0001'] } });
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 200);
});

t.test('CORS answers preflights for configured origins only, before authentication', async (t) => {
  const app = await testApp(t, {
    config: { corsOrigins: ['https://app.example'], apiKeys: ['a-long-enough-key-0001'] },
  });
  const ok = await app.inject({
    method: 'OPTIONS',
    url: '/embed',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
  });
  t.equal(ok.statusCode, 204);
  t.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
  const other = await app.inject({
    method: 'OPTIONS',
    url: '/embed',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  t.not(other.headers['access-control-allow-origin'], 'https://evil.example');
  const off = await testApp(t);
  const none = await off.inject({ url: '/healthz', headers: { origin: 'https://app.example' } });
  t.equal(none.headers['access-control-allow-origin'], undefined, 'no CORS headers without CORS_ORIGINS');
});

t.test('an incoming x-request-id is honoured and echoed; the authorization header is redacted from logs', async (t) => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const config = makeConfig({ dataDir: tempDir(t), apiKeys: ['secret-key-0123456789'] });
  const app = await buildApp(config, {
    // The service's own logger options, with request headers logged so redaction has work to do.
    logger: {
      ...(loggerOptions(config) as object),
      stream,
      serializers: {
        req: (req: { method: string; url: string; headers: unknown }) => ({
          method: req.method,
          url: req.url,
          headers: req.headers,
        }),
      },
    },
  });
  await app.ready();
  t.teardown(() => app.close());
  const r = await app.inject({
    url: '/datasets',
    headers: { 'x-request-id': 'trace-42', authorization: 'Bearer secret-key-0123456789' },
  });
  t.equal(r.statusCode, 200);
  t.equal(r.headers['x-request-id'], 'trace-42');
  const fresh = await app.inject({ url: '/healthz' });
  t.match(fresh.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'a request id is made when none comes in');
  const all = lines.join('');
  t.match(all, /"reqId":"trace-42"/, 'logs carry the request id');
  t.notMatch(all, /secret-key-0123456789/, 'the key never reaches the logs');
  t.match(all, /\[redacted\]/);
});

t.test('under overload requests get 503 OVERLOADED with Retry-After, and the probes still answer', async (t) => {
  // The shedder's own timer is an hour away: the test closes its sample window itself, so what it
  // asserts does not depend on when a timer fires (src/http/load-shedder.ts).
  const app = await testApp(t, {
    config: { overload: { maxEventLoopDelayMs: 20, maxEventLoopUtilization: 0 } },
    build: { loadSampleMs: 3_600_000 },
  });
  app.shedder.start(); // app.inject never listens; a server starts it when it does
  // The delay histogram's first tick (due before this timer) sets its baseline.
  await new Promise((r) => setTimeout(r, 15));
  const until = Date.now() + 300;
  while (Date.now() < until) {
    /* busy: this is the overload */
  }
  // Its next tick, due before this timer, records the block.
  await new Promise((r) => setTimeout(r, 1));
  app.shedder.sample();
  const shed = await app.inject({ method: 'POST', url: '/embed', payload: { inputs: [[1]] } });
  t.equal(shed.statusCode, 503);
  t.equal(shed.json().code, 'OVERLOADED');
  t.equal(shed.headers['retry-after'], '1');
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, '/healthz is never shed');
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 200, '/metrics is never shed');
});

// Requests at their edges (issue 14's smaller items): labels that are not UTF-8, API keys in the
// query string (refused, and never logged), the staged-bytes budget's accounting, readiness while
// the load shedder answers 503, and the connection settings' validation.
import net from 'node:net';
import { Readable, Writable } from 'node:stream';
import t from 'tap';
import { buildApp, loggerOptions } from '../../src/app.js';
import { defaultMaxConnections, loadConfig, makeConfig } from '../../src/config.js';
import { readStaged, StagingBudget, withBudget } from '../../src/http/staged-body.js';
import { chunks, lines, records } from '../../src/http/streams.js';
import { logUrl, redactUrl } from '../../src/http/log-redaction.js';
import { AppError } from '../../src/errors.js';
import type { StagedRows } from '../../src/services/serving.js';
import { identityGallery, tempDir, testApp } from '../helpers.js';

/** A JSON text with a label holding the byte 0xff (never UTF-8) in place of `@`. */
function withBadByte(text: string): Buffer {
  const b = Buffer.from(text, 'latin1');
  b[b.indexOf(0x40)] = 0xff;
  return b;
}

t.test('labels that are not UTF-8 are refused with 400 INVALID_UTF8 naming the field', async (t) => {
  const app = await testApp(t);
  const id = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } })).json().id;
  const json = withBadByte('{"samples":[{"vector":[1,2],"label":"a"},{"vector":[1,2],"label":"b@"}]}');
  let r = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/samples`,
    headers: { 'content-type': 'application/json' },
    payload: json,
  });
  t.equal(r.statusCode, 400);
  t.match(r.json(), { code: 'INVALID_UTF8', message: 'samples[1].label is not valid UTF-8' });
  const ndjson = withBadByte('{"vector":[1,2],"label":"a"}\n{"vector":[1,2],"label":"b@"}\n');
  r = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/samples`,
    headers: { 'content-type': 'application/x-ndjson' },
    payload: ndjson,
  });
  t.equal(r.statusCode, 400);
  t.match(r.json(), { code: 'INVALID_UTF8', message: 'line 2.label is not valid UTF-8' });
  const list = await app.inject({ url: `/datasets/${id}` });
  t.equal(list.json().sampleCount ?? 0, 0, 'nothing was stored');
  // Valid multi-byte UTF-8 still passes.
  r = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/samples`,
    payload: { samples: [{ vector: [1, 2], label: 'Łódź 東京' }] },
  });
  t.equal(r.statusCode, 201);
});

t.test('an API key in the query string is refused and never logged', async (t) => {
  t.equal(
    redactUrl('/models?api_key=abc&x=1&token=t&KEY=k'),
    '/models?api_key=[redacted]&x=1&token=[redacted]&KEY=[redacted]',
  );
  t.equal(redactUrl('/models?limit=5'), '/models?limit=5');
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const config = makeConfig({ dataDir: tempDir(t), apiKeys: ['secret-key-0123456789'], logLevel: 'info' });
  const app = await buildApp(config, { logger: { ...(loggerOptions(config) as object), stream } });
  await app.ready();
  t.teardown(() => app.close());
  const r = await app.inject({ url: '/datasets?api_key=secret-key-0123456789' });
  t.equal(r.statusCode, 401);
  t.match(r.json(), { code: 'UNAUTHORIZED', message: /only in the Authorization header/ });
  const all = lines.join('');
  t.match(all, /api_key=\[redacted\]/, 'the URL is logged, redacted');
  t.notMatch(all, /secret-key-0123456789/, 'the key never reaches the logs');
});

t.test('request logs do not keep who a request named: labels and gallery item ids', async (t) => {
  t.equal(logUrl('/galleries/gal_1/items?label=Ann%20Lee'), '/galleries/gal_1/items?label=[redacted]');
  t.equal(
    logUrl('/datasets/ds_1/samples?label=7&labelType=integer'),
    '/datasets/ds_1/samples?label=[redacted]&labelType=integer',
  );
  t.equal(logUrl('/galleries/gal_1/items/ann-1'), '/galleries/gal_1/items/[redacted]');
  t.equal(logUrl('/galleries/gal_1/items/a%2Fb?x=1'), '/galleries/gal_1/items/[redacted]?x=1');
  t.equal(logUrl('/galleries/gal_1/items?limit=5'), '/galleries/gal_1/items?limit=5', 'a listing names nobody');
  t.equal(logUrl('/models?token=t'), '/models?token=[redacted]');
  t.equal(redactUrl('/galleries/g/items?label=x'), '/galleries/g/items?label=x', 'a label is no credential');

  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const config = makeConfig({ dataDir: tempDir(t), logLevel: 'info' });
  const app = await buildApp(config, { logger: { ...(loggerOptions(config) as object), stream } });
  await app.ready();
  t.teardown(() => app.close());
  const { gallery } = await identityGallery(app);
  const items = [{ id: 'zoe-quist-1', label: 'Zoë-Quist', input: [1, 0] }];
  t.equal(
    (await app.inject({ method: 'POST', url: `/galleries/${gallery}/items`, payload: { items } })).statusCode,
    201,
  );
  const r = await app.inject({ method: 'DELETE', url: `/galleries/${gallery}/items?label=Zo%C3%AB-Quist` });
  t.equal(r.json().deleted, 1, 'erased as before');
  const gone = await app.inject({ method: 'DELETE', url: `/galleries/${gallery}/items/zoe-quist-1` });
  t.equal(gone.statusCode, 404);
  const all = lines.join('');
  t.match(all, /label=\[redacted\]/);
  t.notMatch(all, /Quist|quist/, 'neither the label nor the item id reaches the logs');
});

/** Staged rows in a plain Buffer, for the budget's accounting. */
function bufferStage(n: number): StagedRows {
  const buf = Buffer.alloc(n);
  return {
    byteLength: n,
    write: (chunk, offset) => buf.set(chunk, offset),
    value: (i) => buf.readFloatLE(i * 4),
    release() {},
  };
}

t.test('staged bodies hold what arrived, under the shared budget, and give it back', async (t) => {
  const budget = new StagingBudget(64 * 1024);
  const body = Buffer.alloc(40 * 1024, 7);
  const rows = await readStaged(Readable.from([body.subarray(0, 1000), body.subarray(1000)]), {
    contentLength: String(body.byteLength),
    limit: 1 << 20,
    budget,
    stage: bufferStage,
  });
  t.equal(rows.byteLength, body.byteLength);
  t.equal(budget.bytes, body.byteLength, 'a complete body counts its length until released');
  // A second body of the same size passes the budget while it arrives: 503 STAGING_FULL.
  const second = readStaged(Readable.from([body]), {
    contentLength: undefined,
    limit: 1 << 20,
    budget,
    stage: bufferStage,
  });
  await t.rejects(second, { statusCode: 503, code: 'STAGING_FULL', headers: { 'retry-after': '1' } });
  t.equal(budget.bytes, body.byteLength, 'the refused body gave back what it held');
  rows.release();
  rows.release();
  t.equal(budget.bytes, 0, 'released once, whatever the calls');
  // A declared length is not reserved: a body that stops early holds only what arrived.
  const short = readStaged(Readable.from([Buffer.alloc(10)]), {
    contentLength: String(1 << 20),
    limit: 1 << 20,
    budget,
    stage: bufferStage,
  });
  await t.rejects(short, { code: 'INVALID_BODY' });
  t.equal(budget.bytes, 0);
  await t.rejects(
    readStaged(Readable.from([]), { contentLength: String(2 << 20), limit: 1 << 20, budget, stage: bufferStage }),
    new AppError(413, 'BODY_TOO_LARGE', 'request body is larger than the limit of 1048576 bytes (BODY_LIMIT_BYTES)'),
  );
});

/** Keeps the event loop busy for ms: the overload (or the slow start-up) these tests need. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* busy */
  }
}

// The shedder samples on its own 1 s timer in production; these tests set that timer an hour
// away and close each window themselves (shedder.sample()), so no sample falls where they do not
// expect one and no assertion depends on how fast the machine is.
const HOUR = 3_600_000;

t.test('/readyz is 503 while the load shedder answers 503 OVERLOADED', async (t) => {
  const app = await testApp(t, {
    config: { overload: { maxEventLoopDelayMs: 20, maxEventLoopUtilization: 0 } },
    build: { loadSampleMs: HOUR },
  });
  app.shedder.start(); // app.inject never listens; a server starts it when it does
  // The delay histogram records the gap between its 10 ms ticks: its first tick (due before this
  // timer) sets the baseline, and the one after the block (again due before the next) records it.
  await new Promise((r) => setTimeout(r, 15));
  busy(300);
  await new Promise((r) => setTimeout(r, 1));
  app.shedder.sample();
  t.equal(app.shedder.state, 'overloaded', `the sample saw the block (${app.shedder.delayMs} ms)`);
  const embed = await app.inject({ method: 'POST', url: '/embed', payload: { inputs: [[1]] } });
  t.equal(embed.statusCode, 503);
  t.match(embed.json(), { code: 'OVERLOADED' });
  t.equal(embed.headers['retry-after'], '1');
  const ready = await app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 503, 'not ready while shedding');
  t.match(ready.json(), { status: 'unavailable', reason: /^overloaded: eventLoopDelay/ });
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'probes still answer');
});

t.test('start-up is not counted as overload: ready and serving agree from the first request', async (t) => {
  const config = makeConfig({
    dataDir: tempDir(t),
    logLevel: 'silent',
    overload: { maxEventLoopDelayMs: 20, maxEventLoopUtilization: 0 },
  });
  const app = await buildApp(config, { logger: false, loadSampleMs: HOUR });
  t.teardown(() => app.close());
  // A slow start-up: the last thing before the server listens blocks the loop for a second.
  app.addHook('onReady', async () => busy(1000));
  await app.ready();
  t.equal(app.shedder.state, 'starting');
  t.notOk(app.shedder.measuring, 'nothing measured before the server listens');
  const inject = async () => [
    (await app.inject({ url: '/readyz' })).statusCode,
    (await app.inject({ method: 'POST', url: '/embed', payload: { inputs: [[1]] } })).statusCode,
  ];
  t.same(await inject(), [200, 409], 'before listening: ready, and /embed is served (409 NO_MODEL)');
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.ok(app.shedder.measuring, 'measured from when it listens');
  // The first window opened when the server listened: the second-long block is not in it.
  // (Closed at once: this process's own HTTP client, loading, would be load in it.)
  app.shedder.sample();
  t.equal(app.shedder.state, 'ok', `first sample: ${app.shedder.delayMs} ms`);
  const base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
  const ready = await fetch(`${base}/readyz`);
  const embed = await fetch(`${base}/embed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"inputs":[[1]]}',
  });
  t.same([ready.status, embed.status], [200, 409], 'over HTTP after the first sample: ready, and served');
  await Promise.all([ready.text(), embed.text()]);
});

t.test('connection settings are read and checked', async (t) => {
  const c = loadConfig({ HEADERS_TIMEOUT_MS: '2000', BODY_IDLE_TIMEOUT_MS: '3000', MAX_CONNECTIONS: '50' }).connections;
  t.match(c, { headersTimeoutMs: 2000, bodyIdleTimeoutMs: 3000, maxConnections: 50 });
  t.throws(
    () => loadConfig({ HEADERS_TIMEOUT_MS: '20000', REQUEST_TIMEOUT_MS: '10000' }),
    /must not be over REQUEST_TIMEOUT_MS/,
  );
  t.throws(() => loadConfig({ STAGED_BYTES_LIMIT: 'lots' }), /STAGED_BYTES_LIMIT must be a whole number/);
  t.equal(defaultMaxConnections(256), 192, 'a quarter (at least 64) below ulimit -n');
  t.equal(defaultMaxConnections(1024), 768);
  t.equal(defaultMaxConnections(1_048_576), 1000);
  t.equal(defaultMaxConnections(undefined), 1000);
});

t.test('streamed readers count their partial line or slab against the budget', async (t) => {
  const budget = new StagingBudget(1000);
  // A long line in one-byte pieces: joined once, counted while partial, given back after.
  const text = `${'x'.repeat(900)}\nshort\n`;
  const pieces = Array.from(Buffer.from(text), (b) => Buffer.from([b]));
  const seen: string[] = [];
  for await (const line of lines(withBudget(Readable.from(pieces), budget), { maxLine: 2000, maxTotal: 1e6 })) {
    seen.push(line);
  }
  t.same(
    seen.map((l) => l.length),
    [900, 5],
  );
  t.equal(budget.bytes, 0, 'all given back');
  // A partial line past the budget: 503 STAGING_FULL, and nothing stays counted.
  const long = Readable.from([Buffer.alloc(600, 120), Buffer.alloc(600, 120)]);
  await t.rejects(
    async () => {
      for await (const _ of lines(withBudget(long, budget), { maxLine: 5000, maxTotal: 1e6 })) void _;
    },
    { statusCode: 503, code: 'STAGING_FULL' },
  );
  t.equal(budget.bytes, 0);
  // Records: an incomplete slab is counted, and given back when the reader stops.
  const slab = Readable.from([Buffer.alloc(400), Buffer.alloc(400), Buffer.alloc(400)]);
  await t.rejects(
    async () => {
      for await (const _ of records(withBudget(slab, budget), { recordBytes: 4, slabRecords: 1000, maxTotal: 1e6 }))
        void _;
    },
    { code: 'STAGING_FULL' },
  );
  t.equal(budget.bytes, 0);
  let slabs = 0;
  for await (const b of records(withBudget(Readable.from([Buffer.alloc(800)]), budget), {
    recordBytes: 4,
    slabRecords: 100,
    maxTotal: 1e6,
  })) {
    slabs++;
    t.equal(b.byteLength, 400);
  }
  t.equal(slabs, 2);
  t.equal(budget.bytes, 0);
});

/** Sends raw bytes on a new connection; resolves with all the server sent once it closes. */
function exchange(port: number, bytes: string): { socket: net.Socket; reply: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  const reply = new Promise<string>((done) => {
    socket.on('data', (b) => (got += b.toString('latin1')));
    socket.on('close', () => done(got));
    socket.on('error', () => {});
  });
  socket.write(bytes);
  return { socket, reply };
}

function parsed(reply: string): { status: number; headers: string; body: Record<string, unknown> } {
  const i = reply.indexOf('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? 0),
    headers: reply.slice(0, i).toLowerCase(),
    body: JSON.parse(reply.slice(i + 4)) as Record<string, unknown>,
  };
}

t.test('over real connections: Node-level refusals, stalled bodies and the connection cap', async (t) => {
  const app = await testApp(t, {
    config: { connections: { ...makeConfig().connections, bodyIdleTimeoutMs: 300, maxConnections: 2 } },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as net.AddressInfo).port;

  let r = parsed(await exchange(port, 'BLAH\r\n\r\n').reply);
  t.equal(r.status, 400);
  t.match(r.body, { statusCode: 400, code: 'INVALID_REQUEST', error: 'Bad Request', message: String });

  r = parsed(await exchange(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`).reply);
  t.equal(r.status, 431);
  t.match(r.body, { statusCode: 431, code: 'HEADERS_TOO_LARGE' });

  const head = 'POST /datasets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{"';
  const stalled = exchange(port, head);
  const second = exchange(port, head);
  // The third connection is past MAX_CONNECTIONS = 2: one 503, then closed; probes still answer.
  await new Promise((r) => setTimeout(r, 50));
  const third = parsed(await exchange(port, 'GET /datasets HTTP/1.1\r\nHost: x\r\n\r\n').reply);
  t.equal(third.status, 503);
  t.match(third.body, { code: 'CONNECTION_LIMIT', message: /MAX_CONNECTIONS/ });
  t.match(third.headers, /retry-after: 1/);
  const probe = exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(await probe.reply, /^HTTP\/1\.1 200/, '/healthz answers past the cap');

  r = parsed(await stalled.reply);
  t.equal(r.status, 408, 'a stalled body ends with 408');
  t.match(r.body, { statusCode: 408, code: 'BODY_TIMEOUT', message: /BODY_IDLE_TIMEOUT_MS/ });
  t.match(r.headers, /connection: close/);
  t.equal(parsed(await second.reply).status, 408);
});

/** The value of a metric line (`name{labels} value`) in Prometheus text, or undefined. */
function metric(text: string, line: string): number | undefined {
  const m = new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

t.test('/metrics shows open connections, bodies arriving, staged bytes and the shedder', async (t) => {
  const app = await testApp(t, {
    config: { overload: { maxEventLoopDelayMs: 1000, maxEventLoopUtilization: 0 } },
    build: { loadSampleMs: HOUR },
  });
  let text = (await app.inject({ url: '/metrics' })).body;
  t.equal(metric(text, 'triplet_embed_load_shedder_state{state="starting"}'), 1, 'starting before it listens');
  t.equal(metric(text, 'triplet_embed_staged_body_bytes'), 0);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as net.AddressInfo).port;
  // A binary body of which 20,000 of 100,000 bytes arrive, then nothing.
  const stalled = exchange(
    port,
    'POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nX-Dimension: 4\r\n' +
      `Content-Length: 100000\r\n\r\n${'\0'.repeat(20_000)}`,
  );
  // Waits on what the server holds, not on a clock: the staged bytes are the sign it read them.
  for (let i = 0; i < 500 && app.state.http.stagedBytes?.() === 0; i++) await new Promise((r) => setTimeout(r, 10));
  app.shedder.sample();
  text = (await app.inject({ url: '/metrics' })).body;
  t.equal(metric(text, 'triplet_embed_open_connections'), 1);
  t.equal(metric(text, 'triplet_embed_bodies_arriving'), 1);
  t.ok((metric(text, 'triplet_embed_staged_body_bytes') ?? 0) >= 20_000, 'the bytes that arrived are staged');
  t.equal(metric(text, 'triplet_embed_load_shedder_state{state="ok"}'), 1);
  t.equal(metric(text, 'triplet_embed_load_shedder_state{state="overloaded"}'), 0);
  t.type(metric(text, 'triplet_embed_event_loop_delay_seconds'), 'number');
  stalled.socket.destroy();
  await stalled.reply;
  for (let i = 0; i < 500 && app.state.http.stagedBytes?.() !== 0; i++) await new Promise((r) => setTimeout(r, 10));
  text = (await app.inject({ url: '/metrics' })).body;
  t.equal(metric(text, 'triplet_embed_staged_body_bytes'), 0, 'given back when the client hung up');
});

t.test('chunks() reads a request without ever destroying it', async (t) => {
  const once = (s: Readable, event: string) => new Promise((r) => s.once(event, r));
  // The stream ends and closes while the reader is busy with its last chunk: that is no early close.
  let s = new Readable({ read() {} });
  s.push(Buffer.from('ab'));
  s.push(null);
  let it = chunks(s);
  t.same((await it.next()).value, Buffer.from('ab'));
  await once(s, 'close');
  t.same(await it.next(), { done: true, value: undefined }, 'ended, then closed: the end');
  // Closed before its end: an early close.
  s = new Readable({ read() {} });
  s.push(Buffer.from('ab'));
  it = chunks(s);
  await it.next();
  s.destroy();
  await t.rejects(it.next(), { code: 'INVALID_BODY', message: /ended early/ });
  // A reader that stops early, or an error handed to the reader, leaves the stream as it was.
  s = new Readable({ read() {} });
  s.push(Buffer.from('ab'));
  for await (const c of chunks(s)) if (c.length) break;
  t.notOk(s.destroyed, 'not destroyed when the reader stops');
  it = chunks(s);
  const next = it.next();
  s.emit('error', new AppError(408, 'BODY_TIMEOUT', 'stalled'));
  await t.rejects(next, { code: 'BODY_TIMEOUT' });
  t.notOk(s.destroyed, 'not destroyed by an error handed to the reader');
});

t.test('JSON bodies past JSON_BODY_LIMIT_BYTES are refused where a streamed format exists', async (t) => {
  const app = await testApp(t, { config: { connections: { ...makeConfig().connections, jsonBodyLimit: 2048 } } });
  const inputs = Array.from({ length: 40 }, () => Array.from({ length: 8 }, (_, j) => j + 0.123456789));
  const r = await app.inject({ method: 'POST', url: '/embed', payload: { inputs } });
  t.equal(r.statusCode, 413);
  t.match(r.json(), {
    code: 'BODY_TOO_LARGE',
    message:
      /larger than the limit of 2048 bytes for JSON \(JSON_BODY_LIMIT_BYTES\); send it as application\/octet-stream/,
  });
  const small = await app.inject({ method: 'POST', url: '/embed', payload: { inputs: inputs.slice(0, 2) } });
  t.not(small.statusCode, 413, 'a body within the limit is read');
  // A route that takes only JSON keeps BODY_LIMIT_BYTES: there is no other format to point to.
  const W = Array.from({ length: 40 }, () => Array.from({ length: 8 }, () => 0.123456789));
  t.equal((await app.inject({ method: 'POST', url: '/models', payload: { W } })).statusCode, 201);
  // Without a declared length (chunked), the parser refuses it once read.
  const chunked = await app.inject({
    method: 'POST',
    url: '/embed',
    headers: { 'content-type': 'application/json' },
    payload: Readable.from([Buffer.from(JSON.stringify({ inputs }))]),
  });
  t.equal(chunked.statusCode, 413, 'chunked: refused once read');
  // Declared over the limit: refused on the header alone, before the body is sent.
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as net.AddressInfo;
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write(
        'POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16777216\r\n\r\n{"inp',
      ),
    );
    let text = '';
    socket.on('data', (c) => {
      text += c.toString();
      if (text.includes('BODY_TOO_LARGE')) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
  t.match(answer, /^HTTP\/1\.1 413/, 'declared 16 MiB, 5 bytes sent: 413 at once');
  t.equal(loadConfig({ JSON_BODY_LIMIT_BYTES: '5000' }).connections.jsonBodyLimit, 5000);
  t.equal(loadConfig({}).connections.jsonBodyLimit, 4 * 1024 * 1024);
});

t.test('a client gone while its binary body is copied leaves nothing staged', async (t) => {
  // Bodies over 1 MiB are copied into their block a slice per turn of the loop: a client that hangs
  // up meanwhile gets no reply, so the block must not wait for a reply's hook to be released. A
  // bad query string fails the route before its handler, the case where only that hook released it.
  const lines: { code?: string; reqId?: string }[] = [];
  const stream = { write: (s: string) => void lines.push(JSON.parse(s) as { code?: string }) };
  const app = await testApp(t, {
    limits: { bodyLimit: 64 * 1024 * 1024 },
    build: { logger: { level: 'info', stream } },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as net.AddressInfo).port;
  const bytes = 24 * 1024 * 1024;
  const body = Buffer.alloc(bytes, 1);
  const sent = Array.from({ length: 4 }, () => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      `POST /embed?rows=notanumber HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n` +
        `Content-Length: ${bytes}\r\n\r\n`,
    );
    return new Promise<void>((done) =>
      socket.write(body, () => {
        setTimeout(() => socket.destroy(), 1);
        done();
      }),
    );
  });
  await Promise.all(sent);
  const stagedBytes = app.state.http.stagedBytes!;
  let staged = stagedBytes();
  for (let i = 0; i < 100 && staged > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    staged = stagedBytes();
  }
  t.equal(staged, 0, 'every block was released');
  // Each gone client leaves one log line, whether it left during the body (400 CLIENT_ABORTED) or
  // during the copy (499 CLIENT_CLOSED_REQUEST): its reply never finishes, so nothing else logs it.
  const gone = lines.filter((l) => l.code === 'CLIENT_ABORTED' || l.code === 'CLIENT_CLOSED_REQUEST');
  t.equal(new Set(gone.map((l) => l.reqId)).size, 4, `one line per gone client (${JSON.stringify(gone)})`);
  // and the budget takes a body again: a whole one is staged and answered
  const ok = await fetch(`http://127.0.0.1:${port}/embed?rows=notanumber`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(8, 0),
  });
  t.equal(ok.status, 400);
  await ok.text();
  t.equal(stagedBytes(), 0);
});

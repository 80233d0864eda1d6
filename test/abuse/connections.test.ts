// Abuse cases for connections and bodies, against the built server under `ulimit -n 256`:
//   - slowloris: 300 connections send headers and two bytes of body, then nothing — the process
//     stays up, /healthz answers throughout, and the stalled ones end (408 BODY_TIMEOUT) after
//     BODY_IDLE_TIMEOUT_MS;
//   - slow, nearly complete binary /embed bodies past STAGED_BYTES_LIMIT — the ones past the
//     budget get 503 STAGING_FULL with Retry-After, RSS follows what arrived, and a legitimate
//     binary /embed works once they are gone;
//   - client aborts mid-body — never logged as an unhandled error;
//   - SIGTERM with a slow upload in flight — exit 0.
import net from 'node:net';
import t, { type Test } from 'tap';
import { expectRecovered, expectRefusal, healthLatencyMs, startAbuseServer, type AbuseServer } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Stalled {
  socket: net.Socket;
  /** what the server sent back, once the socket is closed */
  reply: Promise<string>;
}

/** Opens a connection that sends `head` and `body` bytes, then nothing. */
function stall(port: number, head: string, body: Buffer): Promise<Stalled> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const reply = new Promise<string>((done) => {
      socket.on('data', (b) => (got += b.toString('latin1')));
      socket.on('close', () => done(got));
      socket.on('error', () => {});
    });
    socket.on('connect', () => {
      socket.write(head);
      socket.write(body);
      resolve({ socket, reply });
    });
    socket.on('error', () => resolve({ socket, reply }));
  });
}

const post = (path: string, length: number, type = 'application/json') =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`;

/** A k=8, d=1024 model, imported. */
async function importModel(s: AbuseServer, d: number, k: number): Promise<string> {
  const weights = Array.from({ length: k }, (_, i) => Array.from({ length: d }, (_, j) => (i === j % k ? 1 : 0)));
  const res = await fetch(`${s.base}/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ W: weights }),
  });
  const body = (await res.json()) as { id?: string };
  if (!res.ok || !body.id) throw new Error(`import failed: ${res.status} ${JSON.stringify(body)}`);
  return body.id;
}

function statusOf(reply: string): { status: number; body: Record<string, unknown> | undefined } {
  const m = /^HTTP\/1\.1 (\d+)/.exec(reply);
  const i = reply.indexOf('\r\n\r\n');
  let body: Record<string, unknown> | undefined;
  try {
    body = i >= 0 ? JSON.parse(reply.slice(i + 4)) : undefined;
  } catch {
    body = undefined;
  }
  return { status: m ? Number(m[1]) : 0, body };
}

t.test('slowloris: 300 stalled bodies under ulimit -n 256', async (t: Test) => {
  const s = await startAbuseServer(t, { maxFiles: 256, env: { BODY_IDLE_TIMEOUT_MS: '3000' } });
  const baseline = s.rssMb();
  const stalled: Stalled[] = [];
  for (let i = 0; i < 300; i++) stalled.push(await stall(s.port, post('/datasets', 64), Buffer.from('{"')));
  t.ok((await healthLatencyMs(s.base)) < 5000, '/healthz answers with 300 stalled connections');
  const replies = await Promise.all(stalled.map((c) => c.reply));
  const statuses = replies.map((r) => statusOf(r));
  const timedOut = statuses.filter((r) => r.status === 408);
  t.ok(timedOut.length > 0, `${timedOut.length} stalled bodies ended with 408`);
  t.match(timedOut[0]?.body, { statusCode: 408, code: 'BODY_TIMEOUT', message: /BODY_IDLE_TIMEOUT_MS/ });
  const answered = statuses.filter((r) => r.status !== 0);
  t.ok(
    answered.every((r) => [408, 503].includes(r.status) && typeof r.body?.code === 'string'),
    `every one of the ${answered.length} answered got a 408/503 JSON refusal (the rest were dropped over the cap)`,
  );
  const res = await fetch(`${s.base}/datasets`);
  t.equal(res.status, 200, 'a read route answers afterwards');
  await expectRecovered(t, s, baseline);
  t.notMatch(s.output(), /unhandled error|EMFILE.*uncaught/i, 'nothing logged as unhandled');
});

t.test('slow nearly-complete binary /embed bodies past STAGED_BYTES_LIMIT', async (t: Test) => {
  const limitMb = 64;
  const s = await startAbuseServer(t, {
    maxFiles: 256,
    env: { STAGED_BYTES_LIMIT: String(limitMb * 1024 * 1024), BODY_IDLE_TIMEOUT_MS: '4000' },
  });
  const d = 1024;
  const model = await importModel(s, d, 8);
  const baseline = s.rssMb();
  s.resetPeak();
  // 40 bodies declaring 16 MiB, each sending 4 MiB: 160 MiB would arrive, the budget holds 64.
  const declared = 16 * 1024 * 1024;
  const sent = Buffer.alloc(4 * 1024 * 1024);
  const stalled: Stalled[] = [];
  for (let i = 0; i < 40; i++) {
    stalled.push(await stall(s.port, post(`/embed?model=${model}`, declared, 'application/octet-stream'), sent));
  }
  await sleep(500);
  const replies = (await Promise.all(stalled.map((c) => c.reply))).map(statusOf);
  const full = replies.filter((r) => r.status === 503);
  t.ok(full.length > 0, `${full.length} bodies past the budget were refused`);
  t.match(full[0]?.body, { statusCode: 503, code: 'STAGING_FULL', message: /STAGED_BYTES_LIMIT/ });
  t.ok(
    replies.every((r) => [408, 503].includes(r.status)),
    `every stalled body was refused (${replies.map((r) => r.status).join(' ')})`,
  );
  // budget + parts rounding + the server's own buffers
  t.ok(s.peakRssMb() < baseline + limitMb + 192, `peak RSS ${s.peakRssMb().toFixed(0)} MiB follows the budget`);
  const body = Buffer.from(new Float32Array(4 * d).fill(0.5).buffer);
  const ok = await fetch(`${s.base}/embed?model=${model}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  t.equal(ok.status, 200, 'a legitimate binary /embed works afterwards');
  await expectRecovered(t, s, baseline, 64);
});

t.test('slow nearly-complete slabs of streamed binary uploads past STAGED_BYTES_LIMIT', async (t: Test) => {
  const limitMb = 64;
  const s = await startAbuseServer(t, {
    maxFiles: 256,
    env: { STAGED_BYTES_LIMIT: String(limitMb * 1024 * 1024), BODY_IDLE_TIMEOUT_MS: '4000' },
  });
  const created = await fetch(`${s.base}/datasets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dimension: 1024 }),
  });
  const { id } = (await created.json()) as { id: string };
  const baseline = s.rssMb();
  s.resetPeak();
  // Each sends 3 MiB of an 8 MiB upload: short of the 4 MiB slab it would be stored in.
  const sent = Buffer.alloc(3 * 1024 * 1024);
  const stalled: Stalled[] = [];
  for (let i = 0; i < 40; i++) {
    stalled.push(
      await stall(s.port, post(`/datasets/${id}/triplets`, 8 * 1024 * 1024, 'application/octet-stream'), sent),
    );
  }
  const replies = (await Promise.all(stalled.map((c) => c.reply))).map(statusOf);
  const full = replies.filter((r) => r.status === 503);
  t.ok(full.length > 0, `${full.length} uploads past the budget were refused`);
  t.match(full[0]?.body, { statusCode: 503, code: 'STAGING_FULL' });
  t.ok(
    replies.every((r) => [408, 503].includes(r.status)),
    `every stalled upload was refused (${replies.map((r) => r.status).join(' ')})`,
  );
  t.ok(s.peakRssMb() < baseline + limitMb + 192, `peak RSS ${s.peakRssMb().toFixed(0)} MiB follows the budget`);
  const ds = await fetch(`${s.base}/datasets/${id}`);
  t.equal(ds.status, 200);
  t.equal(((await ds.json()) as { tripletCount: number }).tripletCount, 0, 'nothing partial was stored');
  // Freed slabs go back to the allocator, which keeps some of them: the margin is two budgets.
  await expectRecovered(t, s, baseline, 2 * limitMb);
});

t.test('client aborts and Node-level refusals', async (t: Test) => {
  const s = await startAbuseServer(t, { maxFiles: 256, env: { LOG_LEVEL: 'info' } });
  const baseline = s.rssMb();
  for (let i = 0; i < 20; i++) {
    const c = await stall(s.port, post('/datasets', 1000), Buffer.from('{"dimension": '));
    c.socket.destroy();
  }
  const bad = await stall(s.port, 'NOT HTTP AT ALL\r\n\r\n', Buffer.alloc(0));
  const r = statusOf(await bad.reply);
  t.equal(r.status, 400);
  t.match(r.body, { statusCode: 400, code: 'INVALID_REQUEST', error: 'Bad Request', message: String });
  const big = await stall(
    s.port,
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    Buffer.alloc(0),
  );
  const h = statusOf(await big.reply);
  t.equal(h.status, 431);
  t.match(h.body, { code: 'HEADERS_TOO_LARGE' });
  await sleep(300);
  t.notMatch(s.output(), /unhandled error/, 'client aborts are not logged as unhandled errors');
  t.match(s.output(), /CLIENT_ABORTED/, 'they are logged as client aborts');
  const res = await fetch(`${s.base}/models`);
  t.equal(res.status, 200);
  await expectRecovered(t, s, baseline);
});

t.test('SIGTERM with a slow upload in flight exits 0', async (t: Test) => {
  const s = await startAbuseServer(t, { maxFiles: 256 });
  const c = await stall(s.port, post('/datasets', 1000), Buffer.from('{"dimension": '));
  await sleep(200);
  process.kill(s.pid, 'SIGTERM');
  const exit = await s.exited;
  t.equal(exit.code, 0, 'exit 0');
  const r = statusOf(await c.reply);
  t.equal(r.status, 503, 'the slow upload is answered');
  t.match(r.body, { code: 'SHUTTING_DOWN' });
});

t.test('a refusal helper sanity check', async (t: Test) => {
  const s = await startAbuseServer(t, { maxFiles: 256, env: { STAGED_BYTES_LIMIT: '1024' } });
  const model = await importModel(s, 64, 4);
  const res = await fetch(`${s.base}/embed?model=${model}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(64 * 4 * 64),
  });
  await expectRefusal(t, res, 503, 'STAGING_FULL');
  t.equal(res.headers.get('retry-after'), '1');
});

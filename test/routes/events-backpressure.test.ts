// GET /jobs/:id/events replays a job's stored points at the client's pace: a follower that does not
// read holds about one socket buffer in the server, not the job's whole history. Before, the points
// before the final status were written whatever the buffer held, so each of a few hundred
// non-reading followers of an ended job (a GET of a hundred bytes each) held its history in memory,
// and writing them all at once held the event loop for seconds.
import net from 'node:net';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import t from 'tap';
import { JOB_EVENTS_KEPT } from '../../src/store/rows.js';
import { LEASE, params } from '../store/contract.js';
import { tempDir, testApp } from '../helpers.js';

/** Points of about 2 KiB, so the history (2 MiB) is well past what the sockets' kernel buffers take. */
const point = (iteration: number) => ({
  iteration,
  maxIterations: JOB_EVENTS_KEPT,
  activeFraction: 0.5,
  elapsedMs: iteration * 10,
  phase: 'training' as const,
  etaMs: 0,
  warning: `point ${iteration} `.padEnd(2048, '.'),
});

/** The most the server may hold for one stream: its socket's buffer, one point and the chunk framing. */
const HELD_BOUND = 64 * 1024;

t.test('a follower that does not read holds one buffer, then gets every point in order', async (t) => {
  // api: no runner here claims the job this test writes
  const app = await testApp(t, { config: { role: 'api' } });
  const store = app.services.store;
  const ds = await store.createDataset({ name: null, dimension: 1 });
  const job = await store.createJob({ datasetId: ds.id, params: params() });
  await store.claimNextJob(LEASE, job.id);
  for (let i = 1; i <= JOB_EVENTS_KEPT; i++) await store.updateJobProgress(job.id, point(i), LEASE.owner);
  await store.finishJob(job.id, 'cancelled', null, null, LEASE.owner);

  let res: ServerResponse | undefined;
  app.server.on('request', (req, r: ServerResponse) => {
    if (req.url?.startsWith(`/jobs/${job.id}/events`)) res = r;
  });
  // a Unix socket: its kernel buffers are a few hundred KiB, where loopback TCP's grow to megabytes
  const socketPath = path.join(tempDir(t), 'api.sock');
  await app.listen({ path: socketPath });

  const client = net.connect({ path: socketPath });
  t.teardown(() => client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  client.pause(); // reads nothing until told
  client.write(`GET /jobs/${job.id}/events?after=0 HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);

  // Until the server stops writing: it ended the stream (all written), or waits for the client.
  const held = () => (res ? res.writableLength : 0);
  let most = 0;
  while (!res || !(res.writableEnded || res.writableNeedDrain)) {
    most = Math.max(most, held());
    await new Promise((r) => setTimeout(r, 5));
  }
  for (let i = 0; i < 50; i++) {
    most = Math.max(most, held());
    await new Promise((r) => setTimeout(r, 10));
  }
  t.ok(most <= HELD_BOUND, `the server held at most ${most} bytes for the stream (bound ${HELD_BOUND})`);

  // Now the client reads: every point, in order, then the final status, and the stream ends.
  const chunks: Buffer[] = [];
  client.on('data', (b: Buffer) => chunks.push(b));
  client.resume();
  const body = await new Promise<string>((resolve) => {
    const check = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.includes('\r\n0\r\n\r\n')) resolve(text);
    };
    client.on('data', check);
    check();
  });
  const events = [...body.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({
    event: m[1],
    data: JSON.parse(m[2]),
  }));
  const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.iteration as number);
  t.same(
    progress,
    Array.from({ length: JOB_EVENTS_KEPT }, (_, i) => i + 1),
    'every stored point, in order',
  );
  t.match(events.at(-1), { event: 'status', data: { status: 'cancelled' } }, 'then the final status');
});

// A job's training history: its stored progress points as JSON while it runs and after it ended
// (and after a restart), phases from `loading` on, and an SSE stream that resumes from Last-Event-ID.
import t from 'tap';
import { createDataset, expectError, makeTriplets, tempDir, testApp, waitForJob } from '../helpers.js';

interface SseEvent {
  event: string;
  id: number | undefined;
  data: any;
}

/** Complete SSE blocks of the text (a trailing partial block is left out). */
function parseSse(text: string): SseEvent[] {
  const blocks = text.split('\n\n').slice(0, -1);
  const out: SseEvent[] = [];
  for (const block of blocks) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const at = line.indexOf(': ');
      if (at > 0) fields.set(line.slice(0, at), line.slice(at + 2));
    }
    if (!fields.has('event')) continue;
    const id = fields.get('id');
    out.push({
      event: fields.get('event')!,
      id: id === undefined ? undefined : Number(id),
      data: JSON.parse(fields.get('data')!),
    });
  }
  return out;
}

// Adam steps on mined samples, no validation (so no early stop): runs until it is cancelled
const longJob = { outputDimension: 8, maxIterations: 100_000, validationFraction: 0 };

/** Labelled samples: a job on them is an Adam run of maxIterations steps. */
async function hardDataset(app: Awaited<ReturnType<typeof testApp>>): Promise<string> {
  const id = await createDataset(app, 16);
  const samples = Array.from({ length: 600 }, (_, i) => ({
    vector: Array.from({ length: 16 }, (_, j) => Math.sin(i * 7 + j * 3)),
    label: i % 10,
  }));
  const up = await app.inject({ method: 'POST', url: `/datasets/${id}/samples`, payload: { samples } });
  if (up.statusCode !== 201) throw new Error(up.body);
  return id;
}

/** Every stored point of the job, page by page (limit 2 to go through the cursor). */
async function allPoints(app: Awaited<ReturnType<typeof testApp>>, id: string, after = 0) {
  const items: any[] = [];
  let cursor: string | null = String(after);
  while (cursor !== null) {
    const r = await app.inject({ url: `/jobs/${id}/events?format=json&limit=50&after=${cursor}` });
    if (r.statusCode !== 200) throw new Error(r.body);
    const page: { items: any[]; nextCursor: string | null } = r.json();
    items.push(...page.items);
    cursor = page.nextCursor;
  }
  return items;
}

t.test('an ended job lists its progress points as JSON, the same after a restart', async (t) => {
  const dataDir = tempDir(t);
  const app = await testApp(t, { dataDir });
  const ds = await createDataset(app, 8, makeTriplets(400, 8, 3));
  const job = (
    await app.inject({
      method: 'POST',
      url: '/train',
      payload: { datasetId: ds, outputDimension: 4, maxIterations: 300, gradientTolerance: 0 },
    })
  ).json();
  const done = await waitForJob(app, job.id);
  t.equal(done.status, 'succeeded');

  const r = await app.inject({ url: `/jobs/${job.id}/events`, headers: { accept: 'application/json' } });
  t.equal(r.statusCode, 200);
  t.match(r.headers['content-type'], /application\/json/);
  const page = r.json();
  t.equal(page.nextCursor, null);
  const items = page.items;
  t.ok(items.length >= 3, `points kept (${items.length})`);
  t.ok(
    items.every((e: any, i: number) => i === 0 || e.seq > items[i - 1].seq),
    'oldest first, seqs increasing',
  );
  t.match(items[0], { seq: 1, createdAt: String, progress: { phase: 'loading', iteration: 0 } }, 'first: loading');
  const phases = items.map((e: any) => e.progress.phase);
  t.ok(phases.includes('initialising'), 'initialising');
  t.ok(phases.includes('training'), 'training');
  t.equal(phases[phases.length - 1], 'saving', 'last: saving the model');
  t.ok(
    phases.every((p: string) => ['loading', 'initialising', 'training', 'validating', 'saving'].includes(p)),
    'every point has a phase',
  );
  t.same(await allPoints(app, job.id), items, 'paging with after/limit gives the same points');
  const tail = (await app.inject({ url: `/jobs/${job.id}/events?format=json&after=${items[1].seq}&limit=1` })).json();
  t.same(tail.items, [items[2]], 'after a seq');
  t.equal(tail.nextCursor, items.length > 3 ? String(items[2].seq) : null);

  // the stream stays the default, for a finished job: its final status only
  const sse = await app.inject({ url: `/jobs/${job.id}/events` });
  t.match(sse.headers['content-type'], /text\/event-stream/);
  const events = parseSse(sse.body);
  t.equal(events.length, 1);
  t.match(events[0], { event: 'status', id: items[items.length - 1].seq, data: { status: 'succeeded' } });
  t.match(sse.body, /^retry: \d+\n\n/, 'the stream opens with retry:');
  // format=sse wins over an Accept naming JSON
  const forced = await app.inject({
    url: `/jobs/${job.id}/events?format=sse`,
    headers: { accept: 'application/json' },
  });
  t.match(forced.headers['content-type'], /text\/event-stream/);

  expectError(t, await app.inject({ url: '/jobs/job_missing/events?format=json' }), 404, 'JOB_NOT_FOUND');
  expectError(t, await app.inject({ url: `/jobs/${job.id}/events?format=json&limit=0` }), 400, 'VALIDATION_ERROR');

  await app.close();
  const again = await testApp(t, { dataDir });
  t.same(await allPoints(again, job.id), items, 'the same points after a restart');
});

t.test('the SSE stream resumes from Last-Event-ID without duplicates or gaps', async (t) => {
  const app = await testApp(t);
  const ds = await hardDataset(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const job = (await app.inject({ method: 'POST', url: '/train', payload: { datasetId: ds, ...longJob } })).json();

  /** Reads the stream until `enough` says stop (then aborts) or it ends. */
  async function read(headers: Record<string, string>, enough: (e: SseEvent[]) => boolean) {
    const ac = new AbortController();
    const res = await fetch(`${url}/jobs/${job.id}/events`, { headers, signal: ac.signal });
    t.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (enough(parseSse(text))) {
        ac.abort();
        await reader.cancel().catch(() => {});
        break;
      }
    }
    return { text, events: parseSse(text) };
  }

  const progressOf = (events: SseEvent[]) => events.filter((e) => e.event === 'progress');
  const one = await read({}, (e) => progressOf(e).length >= 3);
  t.equal(one.events[0].event, 'status', 'opens with the job');
  const start = one.events[0].id!;
  t.type(start, 'number', 'the opening status carries the cursor');
  t.match(one.text, /^retry: \d+\n\n/);
  const seen = progressOf(one.events);
  t.ok(
    seen.every((e, i) => e.id === (i === 0 ? start : seen[i - 1].id!) + 1),
    'the first connection: consecutive points',
  );
  const lastId = seen[seen.length - 1].id!;

  // Points pile up while no one listens.
  for (let i = 0; i < 200; i++) {
    const r = (await app.inject({ url: `/jobs/${job.id}/events?format=json&after=${lastId}` })).json();
    if (r.items.length >= 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }

  let cancelled = false;
  const two = await read({ 'last-event-id': String(lastId) }, (e) => {
    if (!cancelled && progressOf(e).length >= 3) {
      cancelled = true;
      void app.inject({ method: 'POST', url: `/jobs/${job.id}/cancel` });
    }
    return false; // to the end
  });
  const resumed = progressOf(two.events);
  t.ok(resumed.length >= 3, `points after the reconnect (${resumed.length})`);
  t.equal(resumed[0].id, lastId + 1, 'the first point after Last-Event-ID comes first: no gap');
  const final = (await app.inject({ url: `/jobs/${job.id}` })).json();
  t.ok(['cancelled', 'succeeded'].includes(final.status), `the job ended (${final.status})`);
  const last = two.events[two.events.length - 1];
  t.match(last, { event: 'status', data: { status: final.status } }, 'ends with the final status');

  const received = [...seen, ...resumed].map((e) => e.id);
  t.equal(new Set(received).size, received.length, 'no duplicates');
  const stored = (await allPoints(app, job.id, start)).map((e) => e.seq);
  t.same(received, stored, 'every stored point after the first cursor, in order: no gaps');
  t.equal(last.id, stored[stored.length - 1], 'the final status carries the newest seq');
  const training = [...seen, ...resumed].filter((e) => e.data.phase === 'training');
  t.ok(
    training.some((e) => typeof e.data.etaMs === 'number' && e.data.etaMs >= 0),
    'training points carry an ETA',
  );
});

t.test('the first point is `loading`, written when the job is claimed', async (t) => {
  const app = await testApp(t);
  const ds = await hardDataset(app);
  const job = (await app.inject({ method: 'POST', url: '/train', payload: { datasetId: ds, ...longJob } })).json();
  let items: any[] = [];
  for (let i = 0; i < 400 && items.length === 0; i++) {
    items = (await app.inject({ url: `/jobs/${job.id}/events?format=json` })).json().items;
    if (items.length === 0) await new Promise((r) => setTimeout(r, 10));
  }
  t.match(items[0], { seq: 1, progress: { phase: 'loading', iteration: 0, maxIterations: 100_000 } });
  await app.inject({ method: 'POST', url: `/jobs/${job.id}/cancel` });
  await waitForJob(app, job.id);
});

// GET /jobs/:id/events: Server-Sent Events until the job ends, without leaking listeners.
import t from 'tap';
import { createDataset, expectError, makeTriplets, testApp } from '../helpers.js';

interface SseEvent {
  event: string;
  data: any;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event:'))
    .map((block) => {
      const [e, d] = block.split('\n');
      return { event: e.slice('event: '.length), data: JSON.parse(d.slice('data: '.length)) };
    });
}

t.test('a finished job streams its final status and ends', async (t) => {
  const app = await testApp(t);
  const baseline = app.services.runner.events.listenerCount('job'); // the metrics plugin listens too
  const ds = await createDataset(app, 4, makeTriplets(30, 4));
  const job = (
    await app.inject({ method: 'POST', url: '/train', payload: { datasetId: ds, outputDimension: 2 } })
  ).json();
  const r = await app.inject({ url: `/jobs/${job.id}/events` });
  t.equal(r.statusCode, 200);
  t.match(r.headers['content-type'], /text\/event-stream/);
  const events = parseSse(r.body);
  t.ok(events.length >= 1);
  t.equal(events[0].event, 'status', 'the stream opens with the job');
  const last = events[events.length - 1];
  t.equal(last.event, 'status');
  t.equal(last.data.status, 'succeeded', 'the stream ends with the final status');
  t.equal(app.services.runner.events.listenerCount('job'), baseline, 'no listener left behind');
  expectError(t, await app.inject({ url: '/jobs/job_missing/events' }), 404, 'JOB_NOT_FOUND');
});

t.test('a live stream carries progress, and a client that leaves frees its listener', async (t) => {
  const app = await testApp(t);
  const baseline = app.services.runner.events.listenerCount('job'); // the metrics plugin listens too
  const ds = await createDataset(app, 16, makeTriplets(3000, 16, 5));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  // A long job, watched until it has reported progress, then cancelled.
  const job = (
    await app.inject({
      method: 'POST',
      url: '/train',
      payload: { datasetId: ds, outputDimension: 8, maxIterations: 100000, init: 'uniform', gradientTolerance: 0 },
    })
  ).json();
  const res = await fetch(`${base}/jobs/${job.id}/events`);
  t.equal(res.status, 200);
  const reader = res.body!.getReader();
  let text = '';
  const decoder = new TextDecoder();
  let cancelled = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
    if (!cancelled && parseSse(text).some((e) => e.event === 'progress' && e.data.phase === 'training')) {
      cancelled = true;
      await app.inject({ method: 'POST', url: `/jobs/${job.id}/cancel` });
    }
  }
  const events = parseSse(text);
  // the first points are the job's phases (loading, initialising); then training, with figures
  const progress = events.find((e) => e.event === 'progress' && e.data.phase === 'training')!;
  t.ok(progress, 'progress events arrive while the job runs');
  t.type(progress.data.iteration, 'number');
  t.type(progress.data.loss, 'number');
  // Usually 'cancelled'; a job that reaches its own stop first (fast kernels, a lucky start) ends
  // 'succeeded' before the cancel lands. Either way the stream's last event is the stored final state.
  const final = (await app.inject({ method: 'GET', url: `/jobs/${job.id}` })).json();
  t.ok(['cancelled', 'succeeded'].includes(final.status), `the job ended (${final.status})`);
  t.equal(events[events.length - 1].data.status, final.status, 'the stream ends with the final status');

  // A client that disconnects mid-stream leaves no listener behind.
  const job2 = (
    await app.inject({
      method: 'POST',
      url: '/train',
      payload: { datasetId: ds, outputDimension: 8, maxIterations: 100000, init: 'uniform', gradientTolerance: 0 },
    })
  ).json();
  const ac = new AbortController();
  const res2 = await fetch(`${base}/jobs/${job2.id}/events`, { signal: ac.signal });
  await res2.body!.getReader().read();
  t.equal(app.services.runner.events.listenerCount('job'), baseline + 1, 'one listener while the client watches');
  ac.abort();
  for (let i = 0; i < 100 && app.services.runner.events.listenerCount('job') > baseline; i++)
    await new Promise((r) => setTimeout(r, 20));
  t.equal(app.services.runner.events.listenerCount('job'), baseline, 'the listener goes with the client');
  await app.inject({ method: 'POST', url: `/jobs/${job2.id}/cancel` });
});

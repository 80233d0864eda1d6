// Replicas on one PostgreSQL database see each other's work through the store's change feed
// (docs/decisions/0022-change-feed-listen-notify.md): an event stream on an api replica follows a
// job a worker replica trains, and a model written or deleted through one replica is the newest,
// or gone, on the other as soon as its notification arrives, with no polling interval to wait out.
// Needs TEST_DATABASE_URL (eval "$(scripts/pg-test-cluster.sh start)"); skipped without, failed under CI=true.
import { setTimeout } from 'node:timers/promises';
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import type { StoreChange } from '../../src/store/types.js';
import { freshDatabase, inCi, unavailable } from '../store/pg-test-db.js';
import { createDataset, expectError, makeTriplets, testApp } from '../helpers.js';

interface SseEvent {
  event: string;
  data: any;
}

/** Reads a Server-Sent Events stream until it ends, calling onEvent with each event. */
async function readSse(body: ReadableStream<Uint8Array>, onEvent: (e: SseEvent) => void): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return events;
    text += decoder.decode(value, { stream: true });
    let end;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      if (!block.startsWith('event:')) continue;
      const [e, d] = block.split('\n');
      const event = { event: e.slice('event: '.length), data: JSON.parse(d.slice('data: '.length)) };
      events.push(event);
      onEvent(event);
    }
  }
}

/** Resolves once app's store feed has told of the change (its model cache heard it first). */
function heard(t: Test, app: App, match: (c: StoreChange) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const stop = app.services.store.watch((c) => {
      if (!match(c)) return;
      stop();
      resolve();
    });
    t.teardown(stop);
  });
}

const modelChange = (id: string, op: string) => (c: StoreChange) =>
  c.kind === 'change' && c.table === 'models' && c.id === id && c.op === op;

const reason = await unavailable();
if (reason && inCi) {
  t.fail(`replica tests need PostgreSQL, and CI must not skip them: ${reason}`);
} else if (reason) {
  t.comment(`replica tests SKIPPED: ${reason}`);
  t.test('replicas on PostgreSQL', { skip: reason }, async () => {});
} else {
  t.test('an api replica streams a job a worker replica trains, and both agree on models', async (t) => {
    const databaseUrl = await freshDatabase(t);
    // The worker's runner starts once the stream is open, so the stream sees the job from queued on.
    const worker = await testApp(t, { config: { databaseUrl, role: 'worker' }, build: { runJobs: false } });
    const api = await testApp(t, { config: { databaseUrl, role: 'api' } });
    const baseline = api.services.runner.events.listenerCount('job');
    const ds = await createDataset(api, 16, makeTriplets(2000, 16, 5));
    const job = (
      await api.inject({
        method: 'POST',
        url: '/train',
        payload: { datasetId: ds, outputDimension: 8, maxIterations: 400, gradientTolerance: 0 },
      })
    ).json();
    t.equal(job.status, 'queued');

    await api.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(api.server.address() as { port: number }).port}`;
    const res = await fetch(`${base}/jobs/${job.id}/events`);
    t.equal(res.status, 200);
    let started = false;
    const events = await readSse(res.body!, (e) => {
      if (e.event === 'status' && !started) {
        started = true;
        void worker.services.runner.start();
      }
    });
    const statuses = events.filter((e) => e.event === 'status').map((e) => e.data.status);
    t.same(statuses, ['queued', 'running', 'succeeded'], 'every status once, in order, to the final one');
    const iterations = events.filter((e) => e.event === 'progress').map((e) => e.data.iteration as number);
    t.same(
      iterations,
      [...iterations].sort((a, b) => a - b),
      `progress in order (${iterations.length} progress events)`,
    );
    const final = events[events.length - 1].data;
    t.equal(final.status, 'succeeded');
    t.equal(api.services.runner.activeCount, 0, 'the api replica trained nothing');
    t.equal(api.services.runner.events.listenerCount('job'), baseline, 'no listener left behind');

    // The trained model is served by the api replica, and is its newest.
    const trained = final.modelId as string;
    const embed = (model?: string) =>
      api.inject({
        method: 'POST',
        url: '/embed',
        payload: { ...(model ? { model } : {}), inputs: [new Array(16).fill(1)] },
      });
    t.equal((await embed()).json().model, trained);

    // A model stored through the worker replica does not move the default (no silent switch)...
    const w = [...Array(2)].map((_, i) => Array.from({ length: 16 }, (_, j) => (i === j ? 1 : 0)));
    const imported = heard(t, api, (c) => c.kind === 'change' && c.table === 'models' && c.op === 'insert');
    const other = await worker.services.models.import({ W: w });
    await imported;
    t.equal((await embed()).json().model, trained, 'a new model does not move the default');
    // ...the alias `default` moved through the worker replica does, on the api replica too.
    const moved = heard(t, api, (c) => c.kind === 'change' && c.table === 'aliases' && c.id === 'default');
    await worker.services.aliases.set('default', other.id);
    await moved;
    t.equal((await embed()).json().model, other.id, 'the moved default everywhere');
    t.equal((await embed(other.id)).statusCode, 200, 'and cached by the api replica');

    // Moved back and deleted through the worker replica: gone from the api replica's cache.
    const back = heard(t, api, (c) => c.kind === 'change' && c.table === 'aliases' && c.id === 'default');
    await worker.services.aliases.set('default', trained);
    await back;
    const deleted = heard(t, api, modelChange(other.id, 'delete'));
    await worker.services.models.delete(other.id);
    await deleted;
    expectError(t, await embed(other.id), 404, 'MODEL_NOT_FOUND');
    t.equal((await embed()).json().model, trained, 'the default is the trained model again');
  });

  t.test("an erasure or a gallery delete on one replica leaves no copy in the other's cache", async (t) => {
    const databaseUrl = await freshDatabase(t);
    const a = await testApp(t, { config: { databaseUrl } });
    const b = await testApp(t, { config: { databaseUrl } });
    const W = [
      [1, 0, 0],
      [0, 1, 0],
    ];
    const model = (await a.inject({ method: 'POST', url: '/models', payload: { W } })).json().id;
    const cache = b.services.galleries.cache;
    const galleryChange = (id: string, op: string) => (c: StoreChange) =>
      c.kind === 'change' && c.table === 'galleries' && c.id === id && c.op === op;
    for (const index of ['exact', 'hnsw']) {
      const id = (await a.inject({ method: 'POST', url: '/galleries', payload: { model, index } })).json().id;
      const items = [
        { id: 'ann-1', label: 'ann', input: [1, 0, 0.5] },
        { id: 'bob-1', label: 'bob', input: [0, 1, 0.5] },
      ];
      t.equal((await a.inject({ method: 'POST', url: `/galleries/${id}/items`, payload: { items } })).statusCode, 201);
      const search = () =>
        b.inject({ method: 'POST', url: `/galleries/${id}/search`, payload: { inputs: [[1, 0, 0]], k: 2 } });
      t.equal((await search()).json().results[0][0].id, 'ann-1');
      t.ok(cache.bytes > 0, `${index}: replica b cached the gallery`);
      const erased = heard(t, b, galleryChange(id, 'update'));
      await a.inject({ method: 'DELETE', url: `/galleries/${id}/items?label=ann` });
      await Promise.race([erased, setTimeout(10_000)]);
      t.equal(cache.bytes, 0, `${index}: the erasure on a dropped b's copy, before any search on b`);
      t.equal(cache.hnswKey(id), undefined, `${index}: and b's index`);
      t.same(
        (await search()).json().results[0].map((h: { id: string }) => h.id),
        ['bob-1'],
      );
      t.ok(cache.bytes > 0);
      const gone = heard(t, b, galleryChange(id, 'delete'));
      t.equal((await a.inject({ method: 'DELETE', url: `/galleries/${id}` })).statusCode, 204);
      await Promise.race([gone, setTimeout(10_000)]);
      t.equal(cache.bytes, 0, `${index}: the delete on a dropped b's copy`);
    }
  });
}

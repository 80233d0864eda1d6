// Graceful shutdown and job recovery on real server processes (`node dist/src/server.js`, built once):
//   - SIGTERM and SIGINT with a job training: exit 0 within 10 s, the job is parked in the store
//     (queued again), and after a restart on the same DATA_DIR it runs again and succeeds;
//   - the same with a client following the job's SSE events;
//   - a job whose worker throws (a damaged chunk in the store) ends `failed` with TRAINING_FAILED, and
//     the server keeps serving;
//   - in process: a worker thread that dies without a word ends its job `failed` with WORKER_CRASHED,
//     and the runner goes on with the next job.
import Database from 'better-sqlite3';
import path from 'node:path';
import t, { type Test } from 'tap';
import { DB_FILE } from '../src/app.js';
import { startServer, type ServerProcess } from '../scripts/server-process.js';
import { createDataset, makeTriplets, tempDir, testApp, waitForJob } from './helpers.js';
import { buildServer, hardTriplets } from './pg-cluster.js';

// A job of about 2–4 s on this data: 20,000 triplets of dimension 32 into k = 32, a fixed number of
// iterations (gradientTolerance 0, and random data never reaches zero loss in 300 steps).
const N = 20_000;
const D = 32;
const TRAIN = { outputDimension: 32, maxIterations: 300, gradientTolerance: 0, init: 'uniform', seed: 3 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Server = ServerProcess;

/** The built server on dataDir, killed at teardown if a test leaves it running. */
async function start(t: Test, dataDir: string, port?: number): Promise<Server> {
  const s = await startServer({ dataDir, port, logLevel: 'info', timeoutMs: 60_000 });
  t.teardown(() => {
    if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
  });
  return s;
}

/** A request that answers 2xx; retried when the server sheds load (503 with Retry-After). */
async function api(
  base: string,
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<any> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status === 503 && attempt < 10) {
      await sleep(1000 * Number(res.headers.get('retry-after') ?? 1));
      continue;
    }
    if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
}

/** The job's row as the store holds it, read with a separate connection while no server runs. */
function storedJob(dataDir: string, id: string): { status: string; finished_at: string | null } {
  const db = new Database(path.join(dataDir, DB_FILE), { readonly: true });
  try {
    return db.prepare('SELECT status, finished_at FROM jobs WHERE id = ?').get(id) as {
      status: string;
      finished_at: string | null;
    };
  } finally {
    db.close();
  }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Starts a server, queues the long job, sends `signal` once the job is training, and checks the
 * shutdown; then restarts on the same DATA_DIR and checks that the job runs again and succeeds.
 */
async function signalDuringTraining(
  t: Test,
  signal: 'SIGTERM' | 'SIGINT',
  opts: { followEvents?: boolean; todo?: string } = {},
) {
  const gap = opts.todo ? { todo: opts.todo } : {};
  const dataDir = tempDir(t, 'triplet-embed-shutdown-');
  const first = await start(t, dataDir);
  const ds = await api(first.base, 'POST', '/datasets', { name: 'long', dimension: D });
  await api(first.base, 'POST', `/datasets/${ds.id}/triplets`, hardTriplets(N, D), {
    'content-type': 'application/octet-stream',
  });
  const job = await api(first.base, 'POST', '/train', { datasetId: ds.id, ...TRAIN });

  let streamEnded: Promise<string> | undefined;
  if (opts.followEvents) {
    const res = await fetch(`${first.base}/jobs/${job.id}/events`);
    t.equal(res.status, 200, 'the SSE stream opens');
    streamEnded = (async () => {
      let text = '';
      try {
        for await (const chunk of res.body!) text += Buffer.from(chunk).toString();
      } catch {
        /* the connection was closed under us: also an end */
      }
      return text;
    })();
  }

  const running = await waitFor('the job to train', async () => {
    const j = await api(first.base, 'GET', `/jobs/${job.id}`);
    return j.status === 'running' && (j.progress?.iteration ?? 0) >= 1 ? j : undefined;
  });
  t.ok(
    running.progress.iteration < TRAIN.maxIterations,
    `the job is mid-training (iteration ${running.progress.iteration})`,
  );

  const sentAt = Date.now();
  first.proc.kill(signal);
  // Readiness while shutting down: 503, or no connection at all once the listener has closed.
  const seen: string[] = []; // each change of answer, in order
  const see = (what: string) => {
    if (seen[seen.length - 1] !== what) seen.push(what);
  };
  const probe = (async () => {
    while (first.proc.exitCode === null && first.proc.signalCode === null && Date.now() - sentAt < 11_000) {
      try {
        const r = await fetch(`${first.base}/readyz`);
        see(String(r.status));
        await r.arrayBuffer();
      } catch {
        see('refused');
      }
      await sleep(20);
    }
  })();
  const exited = await Promise.race([first.exited, sleep(12_000).then(() => null)]);
  await probe;
  t.ok(exited, `the process exits after ${signal}`, gap);
  if (!exited) return;
  const took = exited.at - sentAt;
  t.equal(exited.code, 0, `${signal}: exit code 0`, gap);
  t.ok(took < 10_000, `${signal}: exits within 10 s (took ${took} ms)`, gap);
  t.comment(`/readyz during shutdown answered: ${seen.join(' → ') || 'nothing (the process was gone first)'}`);
  t.notOk(seen.indexOf('200') > 0, '/readyz never answers 200 again once it has stopped doing so');
  t.match(first.output(), /shutting down/, 'the shutdown is logged');
  if (streamEnded) {
    const text = await Promise.race([streamEnded, sleep(1000).then(() => null)]);
    t.ok(text !== null, 'the SSE stream ended with the process', gap);
  }

  const parked = storedJob(dataDir, job.id);
  t.equal(
    parked.status,
    'queued',
    'the running job was parked in the store: queued again, to resume at the next start',
    gap,
  );
  t.equal(parked.finished_at, null, 'and not finished', gap);

  const second = await start(t, dataDir, first.port);
  const statuses: string[] = [];
  const done = await waitFor(
    'the resumed job to finish',
    async () => {
      const j = await api(second.base, 'GET', `/jobs/${job.id}`);
      if (statuses[statuses.length - 1] !== j.status) statuses.push(j.status);
      return ['queued', 'running'].includes(j.status) ? undefined : j;
    },
    120_000,
  );
  t.comment(`after the restart the job went ${statuses.join(' → ')}`);
  t.ok(statuses.includes('running') || statuses[0] === 'queued', 'the restarted server picked the job up again', gap);
  t.equal(done.status, 'succeeded', `the job succeeds after the restart ${JSON.stringify(done.error)}`);
  t.equal(done.metrics?.iterations, TRAIN.maxIterations, 'and ran its full course');
  t.ok(done.modelId, 'with a model');
  const m = await api(second.base, 'POST', '/embed', {
    model: done.modelId,
    inputs: [Array.from({ length: D }, () => 0.1)],
  });
  t.equal(m.embeddings[0].length, TRAIN.outputDimension, 'the model serves');
  second.proc.kill('SIGTERM');
  t.equal((await second.exited).code, 0, 'the second server also exits 0');
}

// incremental: after the pretest's build it writes nothing, so servers other test files start
// meanwhile never read a dist/ half rewritten
t.before(buildServer);

t.test('SIGTERM with a job training: exit 0 within 10 s, the job resumes after a restart and succeeds', (t) =>
  signalDuringTraining(t, 'SIGTERM'),
);

t.test('SIGINT with a job training: the same', (t) => signalDuringTraining(t, 'SIGINT'));

t.test(
  "SIGTERM with a client following the job's events: the stream ends, the job is parked, exit 0 within 10 s",
  (t) =>
    signalDuringTraining(t, 'SIGTERM', {
      followEvents: true,
    }),
);

t.test('a job whose worker throws ends failed with TRAINING_FAILED; the server keeps serving', async (t) => {
  const ended = async (s: Server, id: string) =>
    waitFor('the job to end', async () => {
      const j = await api(s.base, 'GET', `/jobs/${id}`);
      return ['queued', 'running'].includes(j.status) ? undefined : j;
    });
  const stillServing = async (s: Server) => {
    t.equal((await fetch(`${s.base}/healthz`)).status, 200, 'the server is alive');
    const model = await api(s.base, 'POST', '/models', { W: [[1, 0, 0, 0, 0, 0, 0, 0]] });
    const e = await api(s.base, 'POST', '/embed', { model: model.id, inputs: [[2, 0, 0, 0, 0, 0, 0, 0]] });
    t.same(e.embeddings, [[2]], 'and serves');
  };

  // The worker throws: a triplet chunk cut short in the SQLite file (a damaged disk, a bad restore),
  // which the worker finds when it loads the dataset.
  const dataDir = tempDir(t, 'triplet-embed-worker-');
  const s = await start(t, dataDir);
  const ds = await api(s.base, 'POST', '/datasets', { dimension: 8 });
  await api(s.base, 'POST', `/datasets/${ds.id}/triplets`, { triplets: makeTriplets(50, 8) });
  const db = new Database(path.join(dataDir, DB_FILE));
  db.prepare('UPDATE chunks SET data = substr(data, 1, 20) WHERE dataset_id = ?').run(ds.id);
  db.close();
  const job = await api(s.base, 'POST', '/train', { datasetId: ds.id, outputDimension: 2 });
  const failed = await ended(s, job.id);
  t.equal(failed.status, 'failed', 'a job whose worker throws ends failed');
  t.equal(failed.error?.code, 'TRAINING_FAILED', 'with TRAINING_FAILED');
  t.match(failed.error?.message, /corrupt/, `and a message naming the cause (${failed.error?.message})`);
  await stillServing(s);
  s.proc.kill('SIGTERM');
  t.equal((await s.exited).code, 0, 'and shuts down cleanly');

  // Out of memory is not reproduced here: the smallest heap cap (JOB_HEAP_LIMIT_MB=16) holds the
  // built worker, and vectors live outside the JS heap, so no test-sized dataset fills it. The
  // runner's handling of ERR_WORKER_OUT_OF_MEMORY is covered in test/routes/train.test.ts.
});

t.test('a worker thread that dies mid-job fails its job with WORKER_CRASHED; the runner goes on', async (t) => {
  // In process, to reach the worker thread: it is terminated from outside, as when it is killed
  // without a word (no error event, no message), which is what the runner must survive.
  const app = await testApp(t);
  const d = 16;
  const big = await createDataset(app, d);
  const up = await app.inject({
    method: 'POST',
    url: `/datasets/${big}/triplets`,
    headers: { 'content-type': 'application/octet-stream' },
    payload: hardTriplets(5000, d),
  });
  t.equal(up.statusCode, 201);
  const job = (
    await app.inject({
      method: 'POST',
      url: '/train',
      payload: { datasetId: big, outputDimension: 8, maxIterations: 100_000, gradientTolerance: 0, init: 'uniform' },
    })
  ).json();
  const runner = app.services.runner as unknown as {
    running: Map<string, { exec?: { kill(): void } }>;
  };
  const exec = await waitFor('the worker to start', async () => runner.running.get(job.id)?.exec);
  await waitFor('the job to train', async () => {
    const j = (await app.inject({ url: `/jobs/${job.id}` })).json();
    return j.progress?.phase === 'training' ? j : undefined;
  });
  // Terminates the worker thread behind the runner's back, as a crash would.
  exec.kill();

  const failed = await waitForJob(app, job.id, 10_000);
  t.equal(failed.status, 'failed', 'the job ends failed');
  t.equal(failed.error?.code, 'WORKER_CRASHED', `with WORKER_CRASHED (${failed.error?.message})`);
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'the server is alive');

  const small = await createDataset(app, 4, makeTriplets(30, 4));
  const next = (
    await app.inject({ method: 'POST', url: '/train', payload: { datasetId: small, outputDimension: 2 } })
  ).json();
  const ok = await waitForJob(app, next.id);
  t.equal(ok.status, 'succeeded', 'the runner frees the slot and runs the next job');
});

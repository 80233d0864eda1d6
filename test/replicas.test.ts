// Two replicas (real server processes) on one PostgreSQL database:
//   - what is uploaded, trained or deleted through one is what the other reads and serves;
//   - an SSE client on one follows a job that the other trains, to its final status;
//   - kill -9 of the replica that holds a job's lease: the other takes the job over when the lease
//     runs out and finishes it from its checkpoint (its log: 'job resumed from checkpoint').
// A database of its own per test on TEST_DATABASE_URL's server (skipped without one, failed under CI).
import pg from 'pg';
import t from 'tap';
import type { ServerProcess } from '../scripts/server-process.js';
import {
  api,
  buildServer,
  finishedJob,
  followEvents,
  hardTriplets,
  request,
  startOnDatabase,
  triplets,
  until,
  uploadBinary,
} from './pg-cluster.js';
import { lockWatcher } from './store/pg-locks.js';
import { freshDatabase, inCi, unavailable } from './store/pg-test-db.js';

const D = 8;

/** The JSON log lines of a server process (LOG_LEVEL=info) with the given message. */
function logged(s: ServerProcess, msg: string): Record<string, any>[] {
  return s
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(msg))
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((l) => l.msg === msg);
}

const reason = await unavailable();
if (reason && inCi) {
  t.fail(`the replica tests cannot run, and CI must not skip them: ${reason}`);
} else if (reason) {
  t.comment(`replica tests SKIPPED: ${reason}`);
  t.test('replicas', { skip: reason }, async () => {});
} else {
  buildServer();

  t.test('what one replica writes, the other reads and serves', async (t) => {
    const url = await freshDatabase(t);
    const [a, b] = await Promise.all([startOnDatabase(t, url, 'all'), startOnDatabase(t, url, 'api')]);

    const ds = await api(b.base, 'POST', '/datasets', { name: 'shared', dimension: D });
    t.equal((await api(a.base, 'GET', `/datasets/${ds.id}`)).name, 'shared', 'a dataset made on B is read on A');
    await api(a.base, 'POST', `/datasets/${ds.id}/triplets`, { triplets: triplets(150, D) });
    const bin = new Float32Array(triplets(50, D, 7).flatMap((x) => [...x.anchor, ...x.positive, ...x.negative]));
    const up = await fetch(`${b.base}/datasets/${ds.id}/triplets`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(bin.buffer),
    });
    t.equal(up.status, 201, 'a binary upload through B');
    for (const s of [a, b]) t.equal((await api(s.base, 'GET', `/datasets/${ds.id}`)).tripletCount, 200);
    t.same(
      (await api(b.base, 'GET', '/datasets')).items.map((x: { id: string }) => x.id),
      (await api(a.base, 'GET', '/datasets')).items.map((x: { id: string }) => x.id),
      'both list the same datasets',
    );

    // A trains (B only queues and serves): the job and its model are read and served through B.
    const job = await api(a.base, 'POST', '/train', { datasetId: ds.id, outputDimension: 4, maxIterations: 50 });
    const done = await finishedJob(b.base, job.id);
    t.equal(done.status, 'succeeded', 'B reads the job A ran');
    const embed = await api(b.base, 'POST', '/embed', { model: done.modelId, inputs: [Array(D).fill(0.25)] });
    t.equal(embed.embeddings[0].length, 4, "B serves A's model");
    t.equal((await api(b.base, 'GET', '/models')).items[0].id, done.modelId, 'B lists it');

    // The first model set the alias `default` (shared too), which keeps it until the alias goes.
    t.equal((await api(a.base, 'GET', '/aliases/default')).model, done.modelId, 'the first model is the default');
    t.equal((await request(b.base, 'DELETE', `/models/${done.modelId}`)).status, 409, 'kept while aliased');
    await api(a.base, 'DELETE', '/aliases/default');
    await api(b.base, 'DELETE', `/models/${done.modelId}`);
    t.equal((await request(a.base, 'GET', `/models/${done.modelId}`)).status, 404, 'a model deleted on B is gone on A');
  });

  t.test('an SSE client on one replica follows a job the other trains', async (t) => {
    const url = await freshDatabase(t);
    const [a, b] = await Promise.all([startOnDatabase(t, url, 'all'), startOnDatabase(t, url, 'api')]);
    const ds = await api(a.base, 'POST', '/datasets', { dimension: 16 });
    await uploadBinary(a.base, ds.id, hardTriplets(10_000, 16));
    // Long enough (fixed iterations on random data) to report progress before it ends.
    const job = await api(a.base, 'POST', '/train', {
      datasetId: ds.id,
      outputDimension: 16,
      maxIterations: 400,
      gradientTolerance: 0,
      init: 'uniform',
    });
    const events = await followEvents(b.base, job.id);
    const last = events.at(-1);
    t.match(last, { event: 'status', data: { id: job.id, status: 'succeeded' } }, 'the stream on B ends with success');
    t.ok(
      events.some((e) => e.event === 'progress' || (e.event === 'status' && e.data.status === 'running')),
      "B's stream shows the job at work, not only its end",
    );
    t.equal(logged(b, 'job started').length, 0, 'B trained nothing: A did');
    t.same(await api(a.base, 'GET', `/jobs/${job.id}`), last!.data, 'the final event is the job as A stored it');
  });

  t.test(
    'kill -9 of the lease holder: the other replica finishes the job from its checkpoint',

    async (t) => {
      const url = await freshDatabase(t);
      const env = { JOB_LEASE_MS: '2000', CHECKPOINT_INTERVAL_MS: '200' };
      const replicas = await Promise.all([startOnDatabase(t, url, 'all', env), startOnDatabase(t, url, 'all', env)]);
      const [a] = replicas;
      const d = 32;
      const ds = await api(a.base, 'POST', '/datasets', { dimension: d });
      await uploadBinary(a.base, ds.id, hardTriplets(20_000, d, 3));
      const MAX = 1500;
      const job = await api(a.base, 'POST', '/train', {
        datasetId: ds.id,
        outputDimension: 16,
        maxIterations: MAX,
        gradientTolerance: 0,
        init: 'uniform',
        seed: 5,
      });
      // Whichever replica claimed it holds the lease: that one dies.
      const holder = await until('a replica to start the job', async () =>
        replicas.find((s) => logged(s, 'job started').some((l) => l.jobId === job.id)),
      );
      const survivor = replicas.find((s) => s !== holder)!;
      // Well into training, so that checkpoints (every 200 ms) have been written.
      await until('the job to pass iteration 50', async () => {
        const j = await api(survivor.base, 'GET', `/jobs/${job.id}`);
        return (j.progress?.iteration ?? 0) >= 50 ? true : undefined;
      });
      // A checkpoint is in the database before the kill (a loaded machine may take longer than its interval).
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      await until('a checkpoint of the job to be stored', async () => {
        const r = await db.query('SELECT 1 FROM job_checkpoints WHERE job_id = $1', [job.id]);
        return r.rowCount ? true : undefined;
      });
      await db.end();
      holder.proc.kill('SIGKILL');
      await holder.exited;

      const done = await finishedJob(survivor.base, job.id, 240_000);
      t.equal(done.status, 'succeeded', 'the survivor finishes the job');
      const resumed = logged(survivor, 'job resumed from checkpoint').filter((l) => l.jobId === job.id);
      t.equal(resumed.length, 1, 'the survivor resumed it from its checkpoint');
      t.ok(resumed[0]?.iteration > 0 && resumed[0]?.iteration < MAX, `at iteration ${resumed[0]?.iteration}`);
      const embed = await api(survivor.base, 'POST', '/embed', { model: done.modelId, inputs: [Array(d).fill(0.1)] });
      t.equal(embed.embeddings[0].length, 16, 'its model serves');
    },
  );

  t.test('two replicas reindexing one gallery at once: one job is queued, the other gets 409', async (t) => {
    const url = await freshDatabase(t);
    const [a, b] = await Promise.all([startOnDatabase(t, url, 'api'), startOnDatabase(t, url, 'api')]);
    const m = async (w: number[][]) => (await api(a.base, 'POST', '/models', { W: w })).id as string;
    const m1 = await m([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    const [m2, m3] = [
      await m([
        [1, 0, 0.5],
        [0, 1, 0.5],
      ]),
      await m([
        [1, 0.2, 0.5],
        [0, 1, 0.5],
      ]),
    ];
    const g = (await api(a.base, 'POST', '/galleries', { model: m1 })).id;
    await api(a.base, 'POST', `/galleries/${g}/items`, { items: [{ id: 'x', label: 'x', input: [1, 0, 0.3] }] });

    // The queue's lock (QUEUE_LOCK in src/store/postgres.ts), held from outside: A's request reaches the
    // store and waits to queue its job; B's comes in meanwhile, and both wait on the database.
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    t.teardown(() => db.end());
    await db.query('SELECT pg_advisory_lock($1)', [0x71e0e]);
    // The two sessions this is about, found in pg_locks: a count of any session waiting on any lock
    // also counts passing waits (the cluster-wide NOTIFY lock at a commit), and B's could go out first.
    const watch = await lockWatcher(t, url);
    const [{ pid: holder }] = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    const first = request(a.base, 'POST', `/galleries/${g}/reindex`, { model: m2 });
    const aPid = await watch.waitingOnAdvisory("A's reindex to wait for the queue's lock", 0x71e0e, holder);
    const second = request(b.base, 'POST', `/galleries/${g}/reindex`, { model: m3 });
    await watch.blockedBy("B's reindex to wait behind A's", aPid, holder);
    await db.query('SELECT pg_advisory_unlock($1)', [0x71e0e]);
    const [ra, rb] = await Promise.all([first, second]);

    t.equal(ra.status, 202, `A: ${JSON.stringify(ra.body)}`);
    t.equal(rb.status, 409, `B: ${JSON.stringify(rb.body)}`);
    t.match(rb.body, { code: 'REINDEX_PENDING', message: new RegExp(ra.body.id) }, 'the 409 names the holder');
    const jobs = (await api(b.base, 'GET', '/jobs')).items.map((j: { id: string }) => j.id);
    t.same(jobs, [ra.body.id], 'one job stored');
    t.match(await api(b.base, 'GET', `/galleries/${g}`), { model: m1, pendingModel: m2, reindexJob: ra.body.id });
  });
}

// Following jobs for event streams (src/services/job-follow.ts) on real stores: a burst of writes
// costs one read more, not one each; the runner's record and the read of its write are handed out
// once; and while the change feed is down (PostgreSQL), followed jobs are read again until it is back.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import t from 'tap';
import { TRAINING_DEFAULTS, type TrainingParams } from '../../src/domain/training.js';
import { JobFollowers } from '../../src/services/job-follow.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openThreadedSqliteStore } from '../../src/store/sqlite-thread.js';
import type { JobRecord, Store } from '../../src/store/types.js';
import { tempDir } from '../helpers.js';
import { freshDatabase, inCi, unavailable } from '../store/pg-test-db.js';

/** the lease the test's own writes hold (any owner: nothing else runs these jobs) */
const OWNER = { owner: 'test:1:follow', ms: 600_000 };
const params = () => ({ ...TRAINING_DEFAULTS.triplets, outputDimension: 1, seed: 3 }) as TrainingParams;
const progress = (iteration: number) => ({
  iteration,
  maxIterations: 100,
  loss: 1 / iteration,
  gradientNorm: 1,
  activeFraction: 1,
  elapsedMs: iteration,
});

/** The store with its getJob calls counted (the store itself is real). */
function counting(store: Store): { store: Store; reads: () => number } {
  let n = 0;
  const getJob = store.getJob.bind(store);
  return {
    store: Object.assign(Object.create(store) as Store, {
      getJob: (id: string) => {
        n++;
        return getJob(id);
      },
      watch: store.watch.bind(store),
    }),
    reads: () => n,
  };
}

/** Resolves with the first record the listener is given that matches. */
function until(seen: JobRecord[], match: (j: JobRecord) => boolean, wake: { fn: () => void }): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (seen.some(match) ? resolve() : undefined);
    wake.fn = check;
    check();
  });
}

async function runningJob(store: Store): Promise<JobRecord> {
  const ds = await store.createDataset({ name: null, dimension: 1 });
  const job = await store.createJob({ datasetId: ds.id, params: params() });
  return (await store.claimNextJob(OWNER, job.id))!;
}

t.test('a burst of progress writes costs one more read; a record is handed out once', async (t) => {
  const real = await openThreadedSqliteStore(path.join(tempDir(t), 'store.sqlite'));
  t.teardown(() => real.close());
  const { store, reads } = counting(real);
  const runner = new EventEmitter();
  const followers = new JobFollowers(store, runner);
  const job = await runningJob(store);
  const seen: JobRecord[] = [];
  const wake = { fn: () => {} };
  const stop = followers.follow(job.id, (j) => {
    seen.push(j);
    wake.fn();
  });
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => store.updateJobProgress(job.id, progress(i + 1), OWNER.owner)),
  );
  await until(seen, (j) => j.progress?.iteration === 20, wake);
  t.ok(reads() <= 2, `20 writes, ${reads()} reads`);
  const last = seen[seen.length - 1];
  t.equal(last.progress?.iteration, 20, 'the newest state last');
  // The runner hands over the record it wrote; the feed's read of the same write adds nothing.
  const count = seen.length;
  runner.emit('job', last);
  t.equal(seen.length, count, 'the same state is not handed out twice');
  runner.emit('job', { ...job, id: 'job_other' });
  t.equal(seen.length, count, "another job's record is not this one's");
  const finished = await store.finishJob(job.id, 'cancelled', null);
  runner.emit('job', finished);
  await until(seen, (j) => j.status === 'cancelled', wake);
  await new Promise((r) => setImmediate(r));
  t.equal(seen.filter((j) => j.status === 'cancelled').length, 1, 'the final status once');
  stop();
  t.equal(runner.listenerCount('job'), 0, 'the last unsubscribe stops listening');
});

const reason = await unavailable();
if (reason && inCi) t.fail(`PostgreSQL follower tests cannot run, and CI must not skip them: ${reason}`);
t.test(
  'while the feed is down, followed jobs are read again until it is back',
  { skip: reason ?? false },
  async (t) => {
    const url = await freshDatabase(t);
    // A feed that stays down for the test once its connection is killed.
    const store = await openPostgresStore(url, { changeFeed: { minBackoffMs: 60_000, maxBackoffMs: 60_000 } });
    t.teardown(() => store.close());
    const replica = await openPostgresStore(url);
    t.teardown(() => replica.close());
    const followers = new JobFollowers(store, new EventEmitter());
    const job = await runningJob(replica);
    const seen: JobRecord[] = [];
    const wake = { fn: () => {} };
    t.teardown(
      followers.follow(job.id, (j) => {
        seen.push(j);
        wake.fn();
      }),
    );
    const lost = new Promise<void>((resolve) => {
      const stop = store.watch((c) => {
        if (c.kind !== 'lost') return;
        stop();
        resolve();
      });
    });
    const pg = (await import('pg')).default;
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    t.teardown(() => db.end());
    await db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'triplet-embed-listen'",
    );
    await lost;
    await replica.updateJobProgress(job.id, progress(7), OWNER.owner);
    await until(seen, (j) => j.progress?.iteration === 7, wake);
    t.pass("another replica's write is read while the feed is down");
    await replica.finishJob(job.id, 'failed', { code: 'TRAINING_FAILED', message: 'x' });
    await until(seen, (j) => j.status === 'failed', wake);
    t.pass('and its final status');
  },
);

// A cancel that races a job's success (docs/decisions/0021-job-leases-checkpoints.md): the database
// orders the two, and the cancel's answer says which came first. The success is held between
// locking the job's row and committing (a session of the test's own holds the models table, which
// the success writes), the cancel is sent meanwhile and waits for the row; once the success
// commits, the cancel must answer as it would a millisecond later: 409 JOB_FINISHED, not 200 with a
// job that succeeded. Needs TEST_DATABASE_URL; skipped without, failed under CI=true.
import pg from 'pg';
import t from 'tap';
import { createDataset, expectError, makeTriplets, testApp, waitForJob } from '../helpers.js';
import { freshDatabase, inCi, unavailable } from '../store/pg-test-db.js';

/** Polls until `n` sessions of the test's database wait for a lock. */
async function lockWaiters(db: pg.Client, n: number): Promise<void> {
  for (;;) {
    const r = await db.query(
      "SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    if (r.rows[0].n >= n) return;
    await new Promise((done) => setTimeout(done, 20));
  }
}

const reason = await unavailable();
if (reason && inCi) {
  t.fail(`the cancel race test needs PostgreSQL, and CI must not skip it: ${reason}`);
} else if (reason) {
  t.comment(`cancel race test SKIPPED: ${reason}`);
  t.test('a cancel racing success', { skip: reason }, async () => {});
} else {
  t.test('a cancel that loses to the success answers 409 JOB_FINISHED; the success stands', async (t) => {
    const databaseUrl = await freshDatabase(t);
    const app = await testApp(t, { config: { databaseUrl } });
    const ds = await createDataset(app, 4, makeTriplets(50, 4));
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    t.teardown(() => db.end());
    await db.query('BEGIN');
    await db.query('LOCK TABLE models IN SHARE MODE');

    const job = (
      await app.inject({
        method: 'POST',
        url: '/train',
        payload: { datasetId: ds, outputDimension: 2, maxIterations: 5 },
      })
    ).json();
    await lockWaiters(db, 1); // the success: the job's row locked, the model's insert waiting
    const cancel = app.inject({ method: 'POST', url: `/jobs/${job.id}/cancel` });
    await lockWaiters(db, 2); // the cancel, waiting for the job's row
    await db.query('COMMIT');

    const res = await cancel;
    expectError(t, res, 409, 'JOB_FINISHED');
    t.match(res.json().message, /succeeded/);
    const done = await waitForJob(app, job.id);
    t.match(done, { status: 'succeeded' }, 'the success stands');
    t.ok(done.modelId, 'with its model');
  });
}

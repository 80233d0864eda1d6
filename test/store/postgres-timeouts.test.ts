// PostgreSQL settings an operator sets to keep a busy database healthy: `lock_timeout` and
// `statement_timeout` (on the role or the database) cancel a statement that waited too long, for a
// lock held by an erasure's VACUUM FULL (docs/operations.md), a long read, a migration. Such a
// refusal says the database is busy, not that the request is wrong or the service broken: 503
// STORAGE_UNAVAILABLE, as a client retries it and a job waits for it, never a 500.
import pg from 'pg';
import t from 'tap';
import { openPostgresStore } from '../../src/store/postgres.js';
import { freshDatabase, inCi, unavailable } from './pg-test-db.js';

const reason = await unavailable();
if (reason && inCi) t.fail(`PostgreSQL tests cannot run, and CI must not skip them: ${reason}`);
else if (reason) t.test('PostgreSQL timeouts', { skip: reason }, async () => {});
else {
  for (const setting of ['lock_timeout', 'statement_timeout']) {
    t.test(`${setting} cancels a statement waiting on a lock: 503 STORAGE_UNAVAILABLE`, async (t) => {
      const url = await freshDatabase(t);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      t.teardown(() => admin.end());
      const store = await openPostgresStore(url);
      t.teardown(() => store.close());
      const ds = await store.createDataset({ name: null, dimension: 2 });
      // set after the store's start: its connections open anew for the setting to apply
      await admin.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET ${setting} = '200ms'`);
      const late = await openPostgresStore(url);
      t.teardown(() => late.close());
      const holder = new pg.Client({ connectionString: url });
      await holder.connect();
      t.teardown(() => holder.end());
      await holder.query('SET lock_timeout = 0');
      await holder.query('SET statement_timeout = 0');
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE datasets IN ACCESS EXCLUSIVE MODE');
      await t.rejects(late.getDataset(ds.id), { code: 'STORAGE_UNAVAILABLE', message: /PostgreSQL/ }, 'a read');
      await t.rejects(
        late.appendSamples(ds.id, Float32Array.from([1, 2]), ['a']),
        { code: 'STORAGE_UNAVAILABLE' },
        'a write',
      );
      await holder.query('COMMIT');
      t.equal(
        (await late.appendSamples(ds.id, Float32Array.from([1, 2]), ['a'])).sampleCount,
        1,
        'then it goes through',
      );
    });
  }
}

// A pooled connection that dies while a transaction holds it (PostgreSQL restarted, its backend
// terminated): the transaction fails and the process goes on. The dead client emits 'error' besides
// failing its query, and the pool listens only to idle clients: unheard, that emit ended the process
// (found by test/process-postgres-restart.test.ts, a ROLE=all replica exiting with code 1).
import pg from 'pg';
import t from 'tap';
import { inTransaction } from '../../src/store/postgres.js';
import { freshDatabase, inCi, unavailable } from './pg-test-db.js';

const reason = await unavailable();
if (reason && inCi) t.fail(`the lost-connection test cannot run, and CI must not skip it: ${reason}`);
else if (reason) t.test('a connection lost inside a transaction', { skip: reason }, async () => {});
else {
  t.test('a connection lost inside a transaction fails it without ending the process', async (t) => {
    const url = await freshDatabase(t);
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => {});
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    t.teardown(async () => {
      await admin.end();
      await pool.end();
    });
    await t.rejects(
      inTransaction(pool, async (c) => {
        const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
        // idle in the transaction while the connection dies: the client emits 'error' now
        await new Promise((r) => setTimeout(r, 300));
        await c.query('SELECT 1');
      }),
      'the transaction fails',
    );
    const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
    t.equal(rows[0].one, 1, 'the pool hands out a live connection afterwards');
  });
}

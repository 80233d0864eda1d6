// Locks a test takes to hold the service at one moment (a job's success between its row lock and its
// commit, its data read), and waits for the one session that must be stopped there. Exact, because
// loose waits hung: a poll of pg_stat_activity from inside the holding transaction reads one
// snapshot of the view for the whole transaction (only wait_event is live), so a backend that
// connected later is never seen; and "any session of the database waiting on any lock" also counts
// waits that pass by (the cluster-wide NOTIFY lock at every commit of a change, a lease renewal),
// which let a test go on before the moment it meant. Here pg_locks (live on every read) is read
// from a session of its own, outside any transaction: a lock not granted, on the named table of the
// test's database, or behind a lock the named session holds. Every wait is bounded; the holding
// transaction ends in teardown whatever happened, and the server ends it on its own if the test
// process stalls, so it never keeps other test files' erasures waiting (their snapshot wait counts
// a transaction in any database of the cluster, and LOCK ... ACCESS EXCLUSIVE assigns one an id).
import pg from 'pg';
import type { Test } from 'tap';

/** How long a test waits for a session to reach a lock: a loaded machine's stalls, not a hang. */
export const LOCK_WAIT_MS = 60_000;
/** The server ends a holding transaction left idle this long (the test process stalled or died). */
const HOLD_IDLE_LIMIT = '150s';

export interface HeldLock {
  /** the holding session's backend */
  pid: number;
  /** ends the transaction, and with it the lock; again (in teardown) it does nothing */
  release(): Promise<void>;
}

/**
 * Runs `lockStatement` in a transaction of a session of its own and keeps it. Call it after the app
 * or store it holds back is made: tap runs teardowns last in, first out, so the lock goes first and
 * a store closing in teardown does not wait for it.
 */
export async function holdLock(t: Test, url: string, lockStatement: string): Promise<HeldLock> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let open = true;
  const release = async () => {
    if (!open) return;
    open = false;
    await client.query('ROLLBACK').finally(() => client.end());
  };
  t.teardown(() => release().catch(() => undefined));
  await client.query(`SET idle_in_transaction_session_timeout = '${HOLD_IDLE_LIMIT}'`);
  await client.query('BEGIN');
  await client.query(lockStatement);
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { pid: rows[0].pid, release };
}

/** A session of the test's own that reads pg_locks, one statement at a time (each a fresh view). */
export async function lockWatcher(t: Test, url: string): Promise<LockWatcher> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  return new LockWatcher(client);
}

const UNGRANTED = `
  SELECT l.pid, l.locktype, l.mode, l.relation::regclass::text AS relation, pg_blocking_pids(l.pid) AS blockers
    FROM pg_locks l
   WHERE NOT l.granted AND (l.database IS NULL OR l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))`;

export class LockWatcher {
  constructor(private readonly client: pg.Client) {}

  /** A statement of the test's own on the watching session (autocommit: it sees what has committed). */
  query(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    return this.client.query(sql, params);
  }

  /** The session waiting for `mode` on `table` of this database, behind session `blocker` if given. */
  waitingOnTable(what: string, table: string, mode: string, blocker?: number): Promise<number> {
    return this.until(
      what,
      `SELECT l.pid FROM pg_locks l
        WHERE NOT l.granted AND l.locktype = 'relation' AND l.mode = $2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.relation = $1::regclass
          AND ($3::int IS NULL OR $3::int = ANY (pg_blocking_pids(l.pid)))`,
      [table, mode, blocker ?? null],
    );
  }

  /** A session, not one of `blockers`, waiting for a lock one of them holds or waits for first. */
  blockedBy(what: string, ...blockers: number[]): Promise<number> {
    return this.until(
      what,
      `SELECT pid FROM pg_locks
        WHERE NOT granted AND pid <> ALL ($1::int[]) AND pg_blocking_pids(pid) && $1::int[]`,
      [blockers],
    );
  }

  /** The session waiting for the advisory lock `key` (below 2^32) of this database, behind session `blocker`. */
  waitingOnAdvisory(what: string, key: number, blocker: number): Promise<number> {
    return this.until(
      what,
      `SELECT pid FROM pg_locks
        WHERE NOT granted AND locktype = 'advisory' AND classid = 0 AND objid = $1::bigint::oid AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND $2::int = ANY (pg_blocking_pids(pid))`,
      [key, blocker],
    );
  }

  /** Polls `sql` until it returns a row, for LOCK_WAIT_MS; then fails naming `what` and the waits it saw. */
  private async until(what: string, sql: string, params: unknown[]): Promise<number> {
    const end = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      const { rows } = await this.client.query<{ pid: number }>(sql, params);
      if (rows.length > 0) return rows[0].pid;
      if (Date.now() > end) {
        const seen = (await this.client.query(UNGRANTED)).rows;
        throw new Error(
          `gave up after ${LOCK_WAIT_MS / 1000} s waiting for ${what}; locks waited for: ${JSON.stringify(seen)}`,
        );
      }
      await new Promise((done) => setTimeout(done, 20));
    }
  }
}

/** Polls `check` until it returns a value (not undefined), for LOCK_WAIT_MS; then fails naming `what`. */
export async function within<T>(what: string, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const end = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up after ${LOCK_WAIT_MS / 1000} s waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

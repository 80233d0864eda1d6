// An erasure's rewrite of the table files (VACUUM, decision 0034) is owed from the moment its
// deletes commit: the deletes' transaction records the debt, and the rewrite clears it once done.
// A rewrite cut off (a PostgreSQL restart or failover, a replica killed, a timeout) leaves the
// debt, and the next erasure or delete on any replica, a retry of the same one included, pays it
// after its own deletes: the bytes never stay in the files because the rows they belonged to are
// already gone.
import type pg from 'pg';
import { unavailableError } from '../domain/errors.js';
import type { Row } from './rows.js';

/** The tables an erasure may rewrite: only these names ever reach the VACUUM statement. */
const SCRUBBED = new Set([
  'chunks',
  'dataset_labels',
  'datasets',
  'gallery_items',
  'gallery_staged_items',
  'galleries',
]);

interface Queryable {
  query<R extends pg.QueryResultRow = Row>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** Records, in the deletes' transaction, that `tables` must be rewritten. */
export async function oweScrub(c: Queryable, tables: string[]): Promise<void> {
  if (tables.length > 0) await c.query('INSERT INTO erase_scrubs (table_name) SELECT unnest($1::text[])', [tables]);
}

/**
 * Rewrites every table an erasure committed so far still owes (outside a transaction: VACUUM
 * cannot run in one), then clears those debts; a failure leaves them for the next call.
 * `ready` runs first when there is a debt: the wait for older snapshots, which a rewrite would
 * keep. When one outlives it, nothing is rewritten and the erasure answers 503, as on SQLite
 * when a reader holds the checkpoint back (src/store/sqlite-scrub.ts).
 */
export async function payScrubs(
  pool: Queryable,
  vacuum: 'VACUUM' | 'VACUUM (FULL)',
  ready: () => Promise<boolean>,
): Promise<void> {
  const { rows } = await pool.query<{ id: string; table_name: string }>('SELECT id, table_name FROM erase_scrubs');
  if (rows.length === 0) return;
  if (!(await ready()))
    throw unavailableError(
      'the erasure is stored, but a transaction older than it (a backup, a long read on a replica?) ' +
        'may still see the rows it removed: their bytes stay in the table files until it ends; send ' +
        'the request again then',
    );
  for (const table of new Set(rows.map((r) => r.table_name))) {
    if (SCRUBBED.has(table)) await pool.query(`${vacuum} ${table}`);
  }
  await pool.query('DELETE FROM erase_scrubs WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
}

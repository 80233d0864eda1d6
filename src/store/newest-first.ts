// A table's list, newest first, paged by seq (the cursor is the last seq returned): the one query
// every plain list runs (datasets, models, aliases, galleries), in each backend's dialect.
// `table` and `columns` are this module's callers' constants, never request input.
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { decodeCursor, page, type Row } from './rows.js';
import type { Page, PageRequest } from './types.js';

export function sqliteNewestFirst<T>(
  db: Database.Database,
  table: string,
  req: PageRequest,
  fromRow: (r: Row) => T,
  columns = '*',
): Page<T> {
  const rows = db
    .prepare(`SELECT ${columns} FROM ${table} WHERE seq < ? ORDER BY seq DESC LIMIT ?`)
    .all(Number(decodeCursor(req.cursor)), req.limit + 1) as Row[];
  return page(rows, req.limit, fromRow);
}

export async function postgresNewestFirst<T>(
  pool: pg.Pool,
  table: string,
  req: PageRequest,
  fromRow: (r: Row) => T,
  columns = '*',
): Promise<Page<T>> {
  const { rows } = await pool.query(`SELECT ${columns} FROM ${table} WHERE seq < $1 ORDER BY seq DESC LIMIT $2`, [
    decodeCursor(req.cursor),
    req.limit + 1,
  ]);
  return page(rows, req.limit, fromRow);
}

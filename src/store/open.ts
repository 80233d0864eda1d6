// Which backend a configuration asks for: PostgreSQL when a database URL is set, the SQLite file
// otherwise. The PostgreSQL module is imported only when asked for, so without a URL start-up
// loads exactly what it loaded before. SQLite runs in a thread of its own (src/store/sqlite-thread.ts).
import { openThreadedSqliteStore } from './sqlite-thread.js';
import type { Store } from './types.js';

export interface StoreSelection {
  /** DATABASE_URL: postgres://… or postgresql://…; unset or empty for SQLite */
  databaseUrl?: string;
  /** the SQLite file, used when there is no databaseUrl */
  sqliteFile: string;
  /** ERASE_VACUUM: how PostgreSQL vacuums after an erasure (docs/decisions/0034-identity-level-data.md) */
  eraseVacuum?: 'full' | 'plain';
}

export async function openStore(selection: StoreSelection): Promise<Store> {
  const url = selection.databaseUrl;
  if (url === undefined || url === '') return openThreadedSqliteStore(selection.sqliteFile);
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new Error(`DATABASE_URL must start with postgres:// or postgresql:// (got "${url.split(':')[0]}:…")`);
  }
  const { openPostgresStore } = await import('./postgres.js');
  return openPostgresStore(url, { eraseVacuum: selection.eraseVacuum });
}

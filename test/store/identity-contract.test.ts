// The identity-level data contract (contract-identity.ts) on every backend: SQLite on the main
// thread and in its own thread (as the app runs it), and PostgreSQL when a server answers. A file of
// its own, beside sqlite.test.ts and postgres.test.ts, so each file stays within tap's timeout.
import t, { type Test } from 'tap';
import path from 'node:path';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite.js';
import { openThreadedSqliteStore } from '../../src/store/sqlite-thread.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../helpers.js';
import { identityContract } from './contract-identity.js';
import { freshDatabase, inCi, unavailable } from './pg-test-db.js';

function open(t: Test, file?: string): SqliteStore {
  const store = openSqliteStore(file ?? path.join(tempDir(t), 'store.sqlite'));
  t.teardown(() => store.close());
  return store;
}

async function openThreaded(t: Test, file?: string): Promise<SqliteStore> {
  const store = await openThreadedSqliteStore(file ?? path.join(tempDir(t), 'store.sqlite'));
  t.teardown(() => store.close());
  return store;
}

t.test('SQLite, on the main thread', async (t) => {
  identityContract(t, { open: async (t) => open(t), reopen: async (t, s) => open(t, (s as SqliteStore).path) });
});

t.test('SQLite, in its own thread', async (t) => {
  identityContract(t, {
    open: async (t) => openThreaded(t),
    reopen: async (t, s) => openThreaded(t, (s as SqliteStore).path),
  });
});

const urls = new WeakMap<Store, string>();
async function openPg(t: Test, url: string): Promise<Store> {
  const store = await openPostgresStore(url);
  urls.set(store, url);
  t.teardown(() => store.close());
  return store;
}

const reason = await unavailable();
if (reason && inCi) t.fail(`PostgreSQL store tests cannot run, and CI must not skip them: ${reason}`);
else if (reason) t.test('PostgreSQL', { skip: reason }, async () => {});
else
  t.test('PostgreSQL', async (t) => {
    identityContract(t, {
      open: async (t) => openPg(t, await freshDatabase(t)),
      reopen: async (t, s) => openPg(t, urls.get(s)!),
    });
  });

// Choosing the backend: SQLite without a database URL (as before PostgreSQL existed), PostgreSQL
// with one (test/store/postgres.test.ts opens that way when a server is there), and a clear error
// for a URL of another kind.
import path from 'node:path';
import t from 'tap';
import { openStore } from '../../src/store/open.js';
import { tempDir } from '../helpers.js';

t.test('no database URL: the SQLite file', async (t) => {
  for (const databaseUrl of [undefined, '']) {
    const file = path.join(tempDir(t), 'store.sqlite');
    const store = await openStore({ databaseUrl, sqliteFile: file });
    t.teardown(() => store.close());
    t.equal(store.location, file);
    t.ok(await store.createDataset({ name: null, dimension: 1 }));
  }
});

t.test('a URL that is not PostgreSQL is refused before anything opens', async (t) => {
  await t.rejects(openStore({ databaseUrl: 'mysql://u:secret@h/db', sqliteFile: 'x' }), {
    message: /postgres:\/\/ or postgresql:\/\/ \(got "mysql:…"\)/,
  });
});

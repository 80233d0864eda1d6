// The identity-level data migration on data written before it (docs/decisions/0034-identity-level-data.md):
// label counts are backfilled from the chunks' label arrays (staged chunks left out, 1 and "1"
// apart), and an erasure finds index triplets stored before indices were kept by their bytes.
import Database from 'better-sqlite3';
import path from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { PG_MIGRATIONS, migrate } from '../../src/store/postgres-migrations.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../helpers.js';
import { freshDatabase, inCi, unavailable } from './pg-test-db.js';

const f32 = (...v: number[]) => Buffer.from(new Float32Array(v).buffer);
/** Before the migration: samples 0..3 (labels a, 1, "1", a) in two chunks, a staged chunk, and an
 * index triplet [1, 0, 2] stored as vectors (as every triplet was). */
const CHUNKS: [string, number, Buffer, string | null, string | null][] = [
  ['samples', 2, f32(0, 1), JSON.stringify(['a', 1]), null],
  ['samples', 2, f32(2, 3), JSON.stringify(['1', 'a']), null],
  ['samples', 1, f32(9), JSON.stringify(['staged']), 'up_old'],
  ['triplets', 1, f32(1, 0, 2), null, null],
  ['triplets', 1, f32(1, 2, 2), null, null],
];

async function check(t: Test, store: Store) {
  t.match(await store.getDataset('ds_old'), { sampleCount: 4, tripletCount: 2, labelCount: 3 });
  t.same((await store.listLabels('ds_old', { limit: 10 })).items, [
    { label: 1, sampleCount: 1 },
    { label: '1', sampleCount: 1 },
    { label: 'a', sampleCount: 2 },
  ]);
  const r = await store.eraseLabel('ds_old', 'a');
  t.match(r, { samplesErased: 2, tripletsErased: 1, dataset: { sampleCount: 2, tripletCount: 1, labelCount: 2 } });
  t.same(Array.from((await store.readTriplets('ds_old')).data), [1, 2, 2], 'the triplet with a copy of an "a" went');
}

t.test('SQLite: migration 4 counts the labels already stored', async (t) => {
  const file = path.join(tempDir(t), 'old.sqlite');
  const db = new Database(file);
  for (const m of MIGRATIONS.slice(0, 3)) db.exec(m);
  db.pragma('user_version = 3');
  db.prepare(
    "INSERT INTO datasets (id, dimension, triplet_count, sample_count, created_at) VALUES ('ds_old', 1, 2, 4, 'now')",
  ).run();
  const insert = db.prepare(
    "INSERT INTO chunks (dataset_id, kind, count, data, labels, upload_id) VALUES ('ds_old', ?, ?, ?, ?, ?)",
  );
  for (const c of CHUNKS) insert.run(...c);
  db.close();
  const store = openSqliteStore(file);
  t.teardown(() => store.close());
  await check(t, store);
});

const reason = await unavailable();
if (reason && inCi) t.fail(`PostgreSQL tests cannot run, and CI must not skip them: ${reason}`);
else if (reason) t.test('PostgreSQL: migration 4', { skip: reason }, async () => {});
else
  t.test('PostgreSQL: migration 4 counts the labels already stored', async (t) => {
    const url = await freshDatabase(t);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    t.teardown(() => c.end());
    await c.query('BEGIN');
    await migrate(c, PG_MIGRATIONS.slice(0, 3));
    await c.query("INSERT INTO datasets (id, dimension, triplet_count, sample_count) VALUES ('ds_old', 1, 2, 4)");
    for (const [kind, count, data, labels, upload] of CHUNKS)
      await c.query(
        "INSERT INTO chunks (dataset_id, kind, count, data, labels, upload_id, staged_by, staged_at) VALUES ('ds_old', $1, $2, $3, $4, $5, $6, now())",
        [kind, count, data, labels, upload, upload ? 'st_gone' : null],
      );
    await c.query('COMMIT');
    const store = await openPostgresStore(url);
    t.teardown(() => store.close());
    await check(t, store);
  });

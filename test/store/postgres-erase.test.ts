// Erasure on PostgreSQL, read from the table files themselves (docs/decisions/0034-identity-level-data.md):
// with ERASE_VACUUM=full an erased label's vectors are gone from the heap and TOAST files of
// chunks; with the default plain VACUUM the rows are gone but the bytes may stay in free page
// space (reported here, not asserted: it is PostgreSQL's page layout, not this service's).
// Needs a server whose data directory this process can read (scripts/pg-test-cluster.sh).
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { openPostgresStore } from '../../src/store/postgres.js';
import { exactGallery, model, params } from './contract.js';
import { within } from './pg-locks.js';
import { freshDatabase, inCi, unavailable } from './pg-test-db.js';

/** A vector of d float32s whose bytes spell `text`: findable in a file, and finite. */
function spelled(text: string, d: number): Float32Array {
  const bytes = Buffer.alloc(d * 4, '.');
  bytes.write(text, 'latin1');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Pseudo-random floats (incompressible, so TOAST stores them as they are). */
function noise(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff - 0.5;
  });
}

async function files(client: pg.Client, table = 'chunks'): Promise<string[] | string> {
  let dir: string;
  try {
    dir = (await client.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0].d;
  } catch (e) {
    return `the data directory is not readable here: ${(e as Error).message}`;
  }
  const { rows } = await client.query<{ heap: string; toast: string }>(
    `SELECT pg_relation_filepath($1::text) AS heap,
       pg_relation_filepath((SELECT reltoastrelid FROM pg_class WHERE relname = $1::text)) AS toast`,
    [table],
  );
  const out = [rows[0].heap, rows[0].toast].map((p) => path.join(dir, p));
  try {
    out.forEach((f) => fs.accessSync(f, fs.constants.R_OK));
  } catch (e) {
    return `the table files are not readable here: ${(e as Error).message}`;
  }
  return out;
}

/** Which of the vectors are in the table files (all segments), after a checkpoint wrote them out. */
async function inFiles(client: pg.Client, vectors: Float32Array[], paths: string[]): Promise<number> {
  await client.query('CHECKPOINT');
  const bytes = Buffer.concat(
    paths.flatMap((p) =>
      fs.existsSync(p)
        ? [
            fs.readFileSync(p),
            ...[1, 2, 3].filter((i) => fs.existsSync(`${p}.${i}`)).map((i) => fs.readFileSync(`${p}.${i}`)),
          ]
        : [],
    ),
  );
  return vectors.filter((v) => bytes.includes(Buffer.from(v.buffer, v.byteOffset, v.byteLength))).length;
}

/** A fresh database's store (ERASE_VACUUM as given) and a client on it, both closed with t. */
async function connected(t: Test, mode: 'plain' | 'full' = 'full', eraseSnapshotWaitMs?: number) {
  const url = await freshDatabase(t);
  const store = await openPostgresStore(url, { eraseVacuum: mode, eraseSnapshotWaitMs });
  t.teardown(() => store.close());
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  return { store, client, url };
}

/**
 * A fresh database's store (ERASE_VACUUM=full), a client on it, and the files of `tables` before
 * anything is written; undefined when the files cannot be read (a failure in CI, else a skip).
 */
async function watched(t: Test, tables: string[], eraseSnapshotWaitMs?: number) {
  const { store, client, url } = await connected(t, 'full', eraseSnapshotWaitMs);
  const listed = await Promise.all(tables.map((x) => files(client, x)));
  const unreadable = listed.find((x) => typeof x === 'string');
  if (unreadable !== undefined) {
    if (inCi) t.fail(String(unreadable));
    else t.comment(`SKIPPED: ${unreadable}`);
    return undefined;
  }
  const filesOf = async () => (await Promise.all(tables.map((x) => files(client, x)))).flat() as string[];
  return { store, client, url, before: listed.flat() as string[], filesOf };
}

async function scenario(t: Test, mode: 'plain' | 'full') {
  const { store, client } = await connected(t, mode);
  const paths = await files(client);
  if (typeof paths === 'string') {
    if (inCi) t.fail(paths);
    else t.comment(`SKIPPED: ${paths}`);
    return undefined;
  }
  const d = 64;
  const ds = await store.createDataset({ name: null, dimension: d });
  const alice = [0, 1, 2].map((i) => spelled(`ALICE-PG-SECRET-${i}-`, d));
  // every chunk over TOAST's threshold, with alice's rows among others'
  for (let c = 0; c < 3; c++) {
    const rows = [noise(40 * d, c + 1), alice[c]];
    const data = new Float32Array(41 * d);
    data.set(rows[0]);
    data.set(rows[1], 40 * d);
    await store.appendSamples(ds.id, data, [...Array.from({ length: 40 }, (_, i) => `bob-${i}`), 'alice']);
  }
  t.equal(await inFiles(client, alice, paths), 3, 'before: every alice vector is in the files');
  const r = await store.eraseLabel(ds.id, 'alice');
  t.match(r, { samplesErased: 3, dataset: { sampleCount: 120 } });
  const after = await files(client);
  return { before: paths, after: typeof after === 'string' ? paths : after, client, alice };
}

const reason = await unavailable();
if (reason && inCi) t.fail(`PostgreSQL tests cannot run, and CI must not skip them: ${reason}`);
else if (reason) t.test('PostgreSQL erasure', { skip: reason }, async () => {});
else {
  t.test('ERASE_VACUUM=full: the bytes are gone from the heap and TOAST files, old and new', async (t) => {
    const s = await scenario(t, 'full');
    if (!s) return;
    t.not(s.after[1], s.before[1], 'VACUUM FULL wrote new files');
    t.equal(await inFiles(s.client, s.alice, [...s.before, ...s.after]), 0, 'no alice vector in any of them');
  });

  t.test('gallery erasure, ERASE_VACUUM=full: no copy of the identity in gallery files', async (t) => {
    const w = await watched(t, ['gallery_items', 'gallery_staged_items']);
    if (!w) return;
    const { store, client, before, filesOf } = w;
    const d = 64;
    const k = 8;
    const { m, g } = await exactGallery(store, k, d);
    const limit = { max: 1000, setting: 'GALLERY_MAX_ITEMS' };
    const alice = [0, 1].map((i) => spelled(`ALICE-GALLERY-${i}-`, d));
    // two uploads of alice (the second replaces the first), among other people's items
    for (const round of [0, 1]) {
      const ids = [...Array.from({ length: 30 }, (_, i) => `bob-${i}`), 'alice-a', 'alice-b'];
      const features = new Float32Array(ids.length * d);
      features.set(noise(30 * d, round + 1));
      features.set(alice[0], 30 * d);
      features.set(alice[1], 31 * d);
      const labels = ids.map((id) => id.split('-')[0]);
      await store.stageGalleryItems(`up-${round}`, g.id, ids, labels, features, noise(ids.length * k, round + 5));
      await store.commitGalleryItems(`up-${round}`, g.id, m.id, ids.length, limit);
    }
    t.equal(await inFiles(client, alice, before), 2, 'before: alice is in the files');
    t.match(await store.deleteGalleryLabel(g.id, 'alice'), { deleted: 2 }, 'two items erased');
    const after = await filesOf();
    t.equal(await inFiles(client, alice, [...before, ...after]), 0, 'no alice vector in the old or new files');
    const { rows } = await client.query('SELECT count(*)::int AS n FROM gallery_items');
    t.equal(rows[0].n, 30, 'everyone else is still enrolled');
  });

  t.test('an erasure while an older snapshot is open: the rewrite waits for it, and keeps no copy', async (t) => {
    const w = await watched(t, ['gallery_items']);
    if (!w) return;
    const { store, client, url, before, filesOf } = w;
    const d = 16;
    const k = 4;
    const { m, g } = await exactGallery(store, k, d);
    const alice = spelled('ALICE-OLD-SNAPSHOT-', d);
    const features = new Float32Array(2 * d);
    features.set(alice);
    features.set(noise(d, 3), d);
    await store.stageGalleryItems('up', g.id, ['alice', 'bob'], ['alice', 'bob'], features, noise(2 * k, 4));
    await store.commitGalleryItems('up', g.id, m.id, 2, { max: 10, setting: 'GALLERY_MAX_ITEMS' });
    // another session's snapshot from before the erasure (a training read on another replica, say)
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    t.teardown(() => other.end());
    await other.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await other.query('SELECT count(*) FROM models');
    let done = false;
    const erased = store.deleteGalleryLabel(g.id, 'alice').finally(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.notOk(done, 'the rewrite waits while the older snapshot is open');
    await other.query('COMMIT');
    t.match(await erased, { deleted: 1 });
    t.equal(await inFiles(client, [alice], [...before, ...(await filesOf())]), 0, 'no alice vector in the files');
  });

  t.test('an older snapshot that outlives the wait: 503, the debt kept, the retry rewrites', async (t) => {
    const w = await watched(t, ['gallery_items'], 200);
    if (!w) return;
    const { store, client, url, before, filesOf } = w;
    const d = 16;
    const k = 4;
    const { m, g } = await exactGallery(store, k, d);
    const [alice, carol] = ['ALICE-LONG-SNAPSHOT-', 'CAROL-LONG-SNAPSHOT-'].map((x) => spelled(x, d));
    const features = new Float32Array(3 * d);
    features.set(alice);
    features.set(carol, d);
    features.set(noise(d, 5), 2 * d);
    const ids = ['alice', 'carol', 'bob'];
    await store.stageGalleryItems('up', g.id, ids, ids, features, noise(3 * k, 6));
    await store.commitGalleryItems('up', g.id, m.id, 3, { max: 10, setting: 'GALLERY_MAX_ITEMS' });
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    t.teardown(() => other.end());
    await other.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await other.query('SELECT count(*) FROM models');
    const owed = async () => (await client.query('SELECT count(*)::int AS n FROM erase_scrubs')).rows[0].n;
    const refused = { code: 'STORAGE_UNAVAILABLE', message: /erasure is stored.*older than it/ };
    await t.rejects(store.deleteGalleryLabel(g.id, 'alice'), refused, 'a 503 that says the bytes may stay');
    t.equal(await store.countGalleryLabels(g.id), 2, "yet alice's rows are gone");
    t.ok((await owed()) > 0, 'and the rewrite is still owed');
    await t.rejects(store.deleteGalleryLabel(g.id, 'carol'), refused, 'the debt does not hold the next one back');
    t.equal(await store.countGalleryLabels(g.id), 1, 'carol is gone too');
    await other.query('COMMIT');
    // The retry through a replica that waits as long as the default: its wait counts a transaction
    // in any database of the cluster, and other test files share this one (a 200 ms wait would
    // answer 503 again whenever one of theirs is open at that moment).
    const replica = await openPostgresStore(url);
    t.teardown(() => replica.close());
    t.match(await replica.deleteGalleryLabel(g.id, 'alice'), { deleted: 0 }, 'the retry finds nothing more to delete');
    t.equal(await owed(), 0, 'and pays the debts');
    const found = await inFiles(client, [alice, carol], [...before, ...(await filesOf())]);
    t.equal(found, 0, 'no alice or carol vector in the files');
  });

  t.test('a deleted dataset, ERASE_VACUUM=full: no vector, label or name of it in the table files', async (t) => {
    const w = await watched(t, ['chunks', 'dataset_labels', 'datasets']);
    if (!w) return;
    const { store, client, before, filesOf } = w;
    const d = 64;
    const alice = [0, 1, 2].map((i) => spelled(`ALICE-PG-DELETED-${i}-`, d));
    const label = spelled('ALICE-PG-LABEL', 4);
    const labelText = 'ALICE-PG-LABEL....';
    const ds = await store.createDataset({ name: 'ALICE-PG-DATASET-NAME-01', dimension: d });
    const dsName = spelled('ALICE-PG-DATASET-NAME-01', 6); // the name's 24 bytes, as a needle
    // over TOAST's threshold, among others' rows; a triplet upload copies the vectors again
    for (let c = 0; c < 3; c++) {
      const data = new Float32Array(41 * d);
      data.set(noise(40 * d, c + 1));
      data.set(alice[c], 40 * d);
      await store.appendSamples(ds.id, data, [...Array.from({ length: 40 }, (_, i) => `bob-${i}`), labelText]);
    }
    const triplet = new Float32Array(3 * d);
    alice.forEach((v, i) => triplet.set(v, i * d));
    await store.appendTriplets(ds.id, triplet, 1);
    const other = await store.createDataset({ name: null, dimension: d });
    const bob = spelled('BOB-PG-KEPT-', d);
    await store.appendSamples(other.id, bob, ['bob']);
    t.equal(
      await inFiles(client, [...alice, label, dsName], before),
      5,
      'before: vectors, label and name in the files',
    );
    t.equal(await store.deleteDataset(ds.id), true);
    const after = await filesOf();
    t.not(after[0], before[0], 'VACUUM FULL wrote new files');
    t.equal(await inFiles(client, [...alice, label, dsName], [...before, ...after]), 0, 'none in the old or new files');
    t.equal(await inFiles(client, [bob], after), 1, "another dataset's vector is still found (the search works)");
  });

  t.test('a deleted gallery, ERASE_VACUUM=full: no feature or item id of it in the gallery files', async (t) => {
    const w = await watched(t, ['gallery_items', 'gallery_staged_items', 'galleries']);
    if (!w) return;
    const { store, client, before, filesOf } = w;
    const d = 64;
    const k = 8;
    const name = 'ALICE-PG-GALLERY-NAME-01';
    const galleryName = spelled(name, 6); // the name's 24 bytes, as a needle
    const m = await store.createModel(model(k, d));
    const gallery = () =>
      store.createGallery({ name: null, modelId: m.id, dimension: d, embeddingDimension: k, index: 'exact' });
    const limit = { max: 1000, setting: 'GALLERY_MAX_ITEMS' };
    const g = await store.createGallery({ name, modelId: m.id, dimension: d, embeddingDimension: k, index: 'exact' });
    const face = spelled('ALICE-PG-GALLERY-FACE-', d);
    const itemId = spelled('ALICE-PG-ITEM-ID-777', 5); // the id's text, as a needle
    // two uploads (the second replaces the first), and one left staged, never committed
    for (const up of ['up-0', 'up-1', 'up-2']) {
      await store.stageGalleryItems(up, g.id, ['ALICE-PG-ITEM-ID-777'], ['alice'], face, noise(k, 9));
      if (up !== 'up-2') await store.commitGalleryItems(up, g.id, m.id, 1, limit);
    }
    const kept = await gallery();
    const bob = spelled('BOB-PG-GALLERY-KEPT-', d);
    await store.stageGalleryItems('up-b', kept.id, ['bob'], ['bob'], bob, noise(k, 10));
    await store.commitGalleryItems('up-b', kept.id, m.id, 1, limit);
    t.equal(
      await inFiles(client, [face, itemId, galleryName], before),
      3,
      'before: features, id and name in the files',
    );
    t.equal(await store.deleteGallery(g.id), true);
    const after = await filesOf();
    t.equal(
      await inFiles(client, [face, itemId, galleryName], [...before, ...after]),
      0,
      'none in the old or new files',
    );
    t.equal(await inFiles(client, [bob], after), 1, "another gallery's item is still found (the search works)");
  });

  t.test('an erasure whose rewrite was cut off: the retry rewrites the files', async (t) => {
    // The reader (READ COMMITTED, between statements) holds no snapshot, so the rewrite starts after
    // the wait for older ones and then waits on the reader's lock. Not a wait of 0: with other test
    // files on the cluster, a transaction of theirs is often open, and the erasure would answer 503
    // without rewriting (and the retry leave its debt), the VACUUM this waits for never coming.
    const w = await watched(t, ['chunks']);
    if (!w) return;
    const { store, client, url, before, filesOf } = w;
    const d = 64;
    const ds = await store.createDataset({ name: null, dimension: d });
    const alice = [0, 1].map((i) => spelled(`ALICE-PG-CUT-${i}-`, d));
    for (const v of alice) {
      const data = new Float32Array(41 * d);
      data.set(noise(40 * d, 3));
      data.set(v, 40 * d);
      await store.appendSamples(ds.id, data, [...Array.from({ length: 40 }, (_, i) => `bob-${i}`), 'alice']);
    }
    // A reader holds the table: the erasure's deletes commit, its VACUUM FULL waits for the lock, and
    // its connection is cut there (a PostgreSQL restart, a failover, an administrator), as it may be
    // any time in the minutes a rewrite of a large table takes.
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    t.teardown(() => reader.end().catch(() => undefined));
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM chunks');
    const erased = store.eraseLabel(ds.id, 'alice');
    // handled from now on: it may reject while the kill below is still being answered
    erased.catch(() => undefined);
    const waiting = async () =>
      (
        await client.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'VACUUM%' AND wait_event_type = 'Lock'",
        )
      ).rows[0]?.pid;
    const pid = await within("the erasure's VACUUM to wait for the reader's lock", waiting);
    await client.query('SELECT pg_terminate_backend($1)', [pid]);
    await t.rejects(erased, { code: 'STORAGE_UNAVAILABLE' }, 'the erasure answers 503: the client retries');
    await reader.query('COMMIT');
    t.equal((await store.readSamples(ds.id)).count, 80, "its deletes had committed: alice's rows are gone");
    await t.rejects(store.eraseLabel(ds.id, 'alice'), { code: 'LABEL_NOT_FOUND' }, 'the retry finds no alice');
    const after = await filesOf();
    t.equal(await inFiles(client, alice, [...before, ...after]), 0, 'and no alice vector is left in the files');
  });

  t.test('the rewrite is paid only by a delete that removed rows', async (t) => {
    const { store, client } = await connected(t);
    const fileOf = async (table: string) =>
      (await client.query<{ p: string }>('SELECT pg_relation_filepath($1::text) AS p', [table])).rows[0].p;
    const watched = ['chunks', 'dataset_labels', 'gallery_items', 'gallery_staged_items'];
    const snapshot = () => Promise.all(watched.map(fileOf));
    const start = await snapshot();
    const empty = await store.createDataset({ name: null, dimension: 2 });
    t.equal(await store.deleteDataset(empty.id), true);
    t.equal(await store.deleteDataset('ds_nope'), false);
    const { g } = await exactGallery(store, 1, 2);
    t.equal(await store.deleteGallery(g.id), true);
    t.equal(await store.deleteGallery('gal_nope'), false);
    const busy = await store.createDataset({ name: null, dimension: 1 });
    await store.appendSamples(busy.id, Float32Array.from([1]), ['a']);
    const afterUpload = await snapshot();
    await store.createJob({ datasetId: busy.id, params: params() });
    await t.rejects(store.deleteDataset(busy.id), { code: 'DATASET_IN_USE' });
    t.same(await snapshot(), afterUpload, 'nothing rewritten by empty, unknown or refused deletes');
    t.same(afterUpload, start, 'nor by the writes between them');
  });

  t.test('ERASE_VACUUM=plain: the rows are gone; what stays in free page space is reported', async (t) => {
    const s = await scenario(t, 'plain');
    if (!s) return;
    const { rows } = await s.client.query('SELECT count(*)::int AS n FROM chunks');
    t.equal(rows[0].n, 3, 'the chunks were rewritten in place (no row left behind)');
    const left = await inFiles(s.client, s.alice, s.after);
    t.comment(`plain VACUUM: ${left} of 3 erased vectors still readable in free space of the table files`);
    t.pass('reported');
  });
}

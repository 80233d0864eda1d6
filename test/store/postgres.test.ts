// The PostgreSQL store: the contract suite, each test on a database of its own, plus what only
// PostgreSQL has — several replicas on one database (migrating together, claiming jobs from
// separate pools, each other's staged uploads) and integrity checks on bytes changed behind its back.
// Runs when TEST_DATABASE_URL (or DATABASE_URL) reaches a server; it creates and drops databases
// named te_<random> there. Without one it says it is skipped; with CI=true it fails instead.
// A throw-away server: eval "$(scripts/pg-test-cluster.sh start)".
import pg from 'pg';
import t, { type Test } from 'tap';
import { openStore } from '../../src/store/open.js';
import { PostgresStore, openPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres.js';
import { PG_MIGRATIONS, migrate } from '../../src/store/postgres-migrations.js';
import type { Store } from '../../src/store/types.js';
import { freePort } from '../../scripts/server-process.js';
import { LEASE, model, params, seqF32, storeContract } from './contract.js';
import { changed, record } from './contract-changes.js';

import { baseUrl, freshDatabase, inCi, unavailable } from './pg-test-db.js';

const urls = new WeakMap<Store, string>();

async function openOn(t: Test, url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const store = await openPostgresStore(url, options);
  urls.set(store, url);
  t.teardown(() => store.close());
  return store;
}

/** A raw connection to a test's database, for looking behind the store's back. */
async function raw(t: Test, url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  return client;
}

const reason = await unavailable();
if (reason && inCi) {
  t.fail(`PostgreSQL store tests cannot run, and CI must not skip them: ${reason}`);
} else if (reason) {
  t.comment(`PostgreSQL store tests SKIPPED: ${reason}`);
  t.test('PostgreSQL store', { skip: reason }, async () => {});
} else {
  t.test('contract', async (t) => {
    storeContract(t, {
      open: async (t) => openOn(t, await freshDatabase(t)),
      reopen: async (t, store) => openOn(t, urls.get(store)!),
      replica: async (t, store) => openOn(t, urls.get(store)!),
    });
  });

  t.test('replicas starting together migrate once', async (t) => {
    const url = await freshDatabase(t);
    const stores = await Promise.all([0, 1, 2, 3, 4, 5].map(() => openOn(t, url)));
    const db = await raw(t, url);
    const versions = await db.query('SELECT version FROM schema_migrations ORDER BY version');
    t.same(
      versions.rows.map((r) => r.version),
      PG_MIGRATIONS.map((_, i) => i + 1),
      'each version recorded once',
    );
    const tables = await db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
    t.same(
      tables.rows.map((r) => r.tablename),
      [
        'aliases',
        'chunks',
        'dataset_labels',
        'datasets',
        'erase_scrubs',
        'galleries',
        'gallery_items',
        'gallery_staged_items',
        'idempotency_keys',
        'job_checkpoints',
        'job_events',
        'jobs',
        'models',
        'schema_migrations',
      ],
    );
    const ds = await stores[0].createDataset({ name: 'shared', dimension: 1 });
    t.same(await stores[5].getDataset(ds.id), ds, 'every replica sees one database');
  });

  t.test('migrate applies each version once, under the lock', async (t) => {
    const url = await freshDatabase(t);
    const clients = await Promise.all([0, 1, 2, 3].map(() => raw(t, url)));
    const applied = await Promise.all(
      clients.map(async (c) => {
        await c.query('BEGIN');
        const v = await migrate(c);
        await c.query('COMMIT');
        return v;
      }),
    );
    const all = PG_MIGRATIONS.map((_, i) => i + 1);
    t.same(applied.flat(), all, 'one client applied every version; the others waited and found them done');
    const next = [...PG_MIGRATIONS, 'CREATE TABLE later (x integer)'];
    await clients[0].query('BEGIN');
    t.same(await migrate(clients[0], next), [next.length], 'a new step is applied alone');
    await clients[0].query('COMMIT');
    const n = await clients[1].query('SELECT COUNT(*)::int AS n FROM schema_migrations');
    t.equal(n.rows[0].n, next.length);
  });

  t.test('migration 4 points the alias default at the newest model, which served by default before', async (t) => {
    const url = await freshDatabase(t);
    const db = await raw(t, url);
    await db.query('BEGIN');
    await migrate(db, PG_MIGRATIONS.slice(0, 3));
    const insert = `INSERT INTO models (id, input_dimension, output_dimension, normalize, metrics, weights, checksum)
                    VALUES ($1, 1, 1, false, '{}', '\\x0000000000000000', 'x')`;
    await db.query(insert, ['mdl_older']);
    await db.query(insert, ['mdl_newer']);
    await db.query("INSERT INTO jobs (id, status, dataset_id, params) VALUES ('job_old', 'queued', 'ds_a', '{}')");
    await db.query('COMMIT');
    const store = await openOn(t, url);
    t.match(await store.getAlias('default'), { name: 'default', model: 'mdl_newer', previousModel: null });
    t.match(await store.getJob('job_old'), { modelName: null, promote: false });
    await t.rejects(store.deleteModel('mdl_newer'), { code: 'MODEL_IN_USE' });
    t.ok(await store.deleteModel('mdl_older'));
  });

  t.test('two replicas claiming from separate pools never share a job', async (t) => {
    const url = await freshDatabase(t);
    const a = await openOn(t, url);
    const b = await openOn(t, url);
    const ds = await a.createDataset({ name: null, dimension: 1 });
    const made: string[] = [];
    for (let i = 0; i < 20; i++) made.push((await a.createJob({ datasetId: ds.id, params: params() })).id);
    const claims = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).claimNextJob(LEASE)));
    const ids = claims.filter((j) => j !== undefined).map((j) => j!.id);
    t.equal(ids.length, 20, 'every job claimed');
    t.same([...ids].sort(), [...made].sort(), 'each exactly once');
    t.equal(await b.countJobs('running'), 20);
  });

  t.test('capacity limits hold across replicas', async (t) => {
    const url = await freshDatabase(t);
    const a = await openOn(t, url);
    const b = await openOn(t, url);
    const ds = await a.createDataset({ name: null, dimension: 1 });
    const limit = { max: 7, setting: 'MAX_TRIPLETS_PER_DATASET' };
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).appendTriplets(ds.id, seqF32(6), 2, limit)),
    );
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 3, 'three appends of 2 fit under 7');
    t.equal((await b.readTriplets(ds.id)).count, 6);
  });

  t.test("start-up keeps other replicas' staged uploads; only old ones are swept", async (t) => {
    const url = await freshDatabase(t);
    const a = await openOn(t, url);
    const ds = await a.createDataset({ name: null, dimension: 1 });
    await a.stageChunk('up_live', ds.id, 'triplets', seqF32(3, 10), 1);
    const b = await openOn(t, url);
    t.equal((await b.commitStaged('up_live', ds.id, 'triplets', 0)).tripletCount, 0);
    t.equal((await b.readTriplets(ds.id)).count, 0, "another store's staged chunks are not its to commit");
    t.equal(
      (await a.commitStaged('up_live', ds.id, 'triplets', 1)).tripletCount,
      1,
      'the replica that staged them commits',
    );
    t.same(Array.from((await b.readTriplets(ds.id)).data), Array.from(seqF32(3, 10)));

    await a.stageChunk('up_old', ds.id, 'triplets', seqF32(3), 1);
    const db = await raw(t, url);
    const staged = () =>
      db.query('SELECT COUNT(*)::int AS n FROM chunks WHERE upload_id IS NOT NULL').then((r) => r.rows[0].n);
    await openOn(t, url);
    t.equal(await staged(), 1, 'younger than the grace period: kept');
    await db.query("UPDATE chunks SET staged_at = now() - interval '2 hours' WHERE upload_id = 'up_old'");
    await openOn(t, url);
    t.equal(await staged(), 0, 'older: swept at start-up');
    await t.rejects(
      a.commitStaged('up_old', ds.id, 'triplets', 1),
      /committing 1 triplets but 0 are staged/,
      'an upload that outlived the grace period cannot commit what was swept',
    );
    t.equal((await a.getDataset(ds.id))!.tripletCount, 1, 'and its count is rolled back');
    await a.stageChunk('up_fresh', ds.id, 'triplets', seqF32(3), 1);
    await openOn(t, url, { stagedGraceMs: 0 });
    t.equal(await staged(), 0, 'the grace period is a setting');
  });

  t.test('an open store sweeps stale staged chunks while it runs, not only at start-up', async (t) => {
    const url = await freshDatabase(t);
    const a = await openOn(t, url);
    const ds = await a.createDataset({ name: null, dimension: 1 });
    await a.stageChunk('up_dead', ds.id, 'triplets', seqF32(3), 1);
    // a replica that outlives the dead upload's grace period, and never restarts
    await openOn(t, url, { stagedGraceMs: 300, stagedSweepMs: 50 });
    const db = await raw(t, url);
    const staged = () =>
      db.query('SELECT COUNT(*)::int AS n FROM chunks WHERE upload_id IS NOT NULL').then((r) => r.rows[0].n);
    t.equal(await staged(), 1, 'younger than the grace period at start-up: kept');
    let left = await staged();
    for (let tries = 0; left > 0 && tries < 200; tries++) {
      await new Promise((r) => setTimeout(r, 50));
      left = await staged();
    }
    t.equal(left, 0, 'swept once older than the grace period, with no start-up in between');
    await t.rejects(a.commitStaged('up_dead', ds.id, 'triplets', 1), /committing 1 triplets but 0 are staged/);
  });

  t.test('start-up leaves the jobs live replicas hold; leases run on the database clock', async (t) => {
    const url = await freshDatabase(t);
    const a = await openOn(t, url);
    const b = await openOn(t, url);
    const ds = await a.createDataset({ name: null, dimension: 1 });
    const held = await a.createJob({ datasetId: ds.id, params: params() });
    const dead = await a.createJob({ datasetId: ds.id, params: params() });
    await a.claimNextJob(LEASE, held.id);
    await a.claimNextJob({ owner: 'dead-replica', ms: 0 }, dead.id);
    t.equal(await b.requeueOrphanedJobs(), 1, "another replica's start takes back the expired lease only");
    t.equal((await b.getJob(held.id))!.status, 'running');
    t.equal((await b.getJob(dead.id))!.status, 'queued');
    const db = await raw(t, url);
    const { rows } = await db.query(
      'SELECT lease_owner, EXTRACT(EPOCH FROM lease_expires_at - now()) AS left FROM jobs WHERE id = $1',
      [held.id],
    );
    t.equal(rows[0].lease_owner, LEASE.owner);
    t.ok(Number(rows[0].left) > 500 && Number(rows[0].left) <= 600, 'now() + the lease, on the server');
    // a job left running by a version without leases has none: it is orphaned
    await db.query('UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1', [held.id]);
    t.equal(await b.requeueOrphanedJobs(), 1);
  });

  t.test('a checkpoint in parts is verified whole: a changed or missing part is refused', async (t) => {
    const url = await freshDatabase(t);
    const store = await openOn(t, url);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const j = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(LEASE);
    const data = new Uint8Array(8 * 1024 * 1024 + 10).map((_, i) => i & 0xff);
    t.ok(await store.saveCheckpoint(j.id, LEASE.owner, 3, data));
    const db = await raw(t, url);
    const parts = await db.query(
      'SELECT part, length(data) AS n FROM job_checkpoints WHERE job_id = $1 ORDER BY part',
      [j.id],
    );
    t.same(
      parts.rows.map((r) => [r.part, Number(r.n)]),
      [
        [0, 8 * 1024 * 1024],
        [1, 10],
      ],
      'two parts',
    );
    await db.query('UPDATE job_checkpoints SET data = set_byte(data, 2, 7) WHERE job_id = $1 AND part = 1', [j.id]);
    await t.rejects(store.readCheckpoint(j.id), /failed its integrity check/);
    await db.query('DELETE FROM job_checkpoints WHERE job_id = $1 AND part = 1', [j.id]);
    await t.rejects(store.readCheckpoint(j.id), /has 1 of its 2 parts/);
  });

  t.test('weights are verified against their checksum', async (t) => {
    const url = await freshDatabase(t);
    const store = await openOn(t, url);
    const nm = model(3, 4);
    const rec = await store.createModel(nm);
    const other = await store.createModel(model(1, 1));
    const db = await raw(t, url);
    await db.query('UPDATE models SET weights = set_byte(weights, 5, get_byte(weights, 5) # 1) WHERE id = $1', [
      rec.id,
    ]);
    await t.rejects(store.getModelWeights(rec.id), /failed its integrity check/);
    await db.query('UPDATE models SET weights = set_byte(weights, 5, get_byte(weights, 5) # 1) WHERE id = $1', [
      rec.id,
    ]);
    t.same(
      Array.from((await store.getModelWeights(rec.id))!),
      Array.from(nm.weights),
      'the original bytes verify again',
    );
    await db.query('UPDATE models SET weights = substring(weights FROM 1 FOR length(weights) - 8) WHERE id = $1', [
      rec.id,
    ]);
    await t.rejects(store.getModelWeights(rec.id), /failed its integrity check/, 'a truncated blob too');
    t.ok(await store.getModelWeights(other.id), 'other models are unaffected');
  });

  t.test('a dataset deleted while its upload commits: one of them wins, nothing is left half done', async (t) => {
    const url = await freshDatabase(t);
    const store = await openOn(t, url);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    for (let i = 0; i < 4; i++) await store.stageChunk('up_r', ds.id, 'triplets', seqF32(3, i), 1);
    const [commit, del] = await Promise.allSettled([
      store.commitStaged('up_r', ds.id, 'triplets', 4),
      store.deleteDataset(ds.id),
    ]);
    t.equal(del.status, 'fulfilled');
    if (commit.status === 'rejected') t.match(commit.reason, { code: 'DATASET_NOT_FOUND' });
    const db = await raw(t, url);
    t.equal((await db.query('SELECT COUNT(*)::int AS n FROM chunks WHERE dataset_id = $1', [ds.id])).rows[0].n, 0);
  });

  t.test('location hides the password; openStore picks PostgreSQL for a URL', async (t) => {
    const url = new URL(await freshDatabase(t));
    url.password = 's3cret';
    const store = await openStore({ databaseUrl: url.toString(), sqliteFile: '/nonexistent/never.sqlite' });
    t.teardown(() => store.close());
    t.ok(store instanceof PostgresStore);
    t.notMatch(store.location, /s3cret/);
    t.match(store.location, /^postgres(ql)?:\/\//);
    await store.close();
    t.notOk(store.isOpen());
    await store.close(); // twice is fine
  });

  t.test('change feed: a killed LISTEN connection says lost, comes back and says resync', async (t) => {
    const url = await freshDatabase(t);
    const store = await openOn(t, url, { changeFeed: { minBackoffMs: 10, maxBackoffMs: 50 } });
    const feed = record(t, store);
    const db = await raw(t, url);
    const listeners = () =>
      db
        .query(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'triplet-embed-listen'",
        )
        .then((r) => r.rows.map((row) => row.pid as number));
    const [pid] = await listeners();
    t.ok(pid, 'the store holds a LISTEN connection of its own');
    // What a server restart does to it too: the backend ends with an administrator's command.
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    await feed.expect('lost', (c) => c.kind === 'lost');
    await feed.expect('resync once listening again', (c) => c.kind === 'resync');
    const kinds = feed.seen.map((c) => c.kind);
    t.ok(kinds.indexOf('lost') < kinds.indexOf('resync'), 'lost, then resync');
    const ds = await store.createDataset({ name: null, dimension: 1 });
    await feed.expect('and changes are heard again', changed('datasets', ds.id, 'insert'));
    const late = record(t, store);
    const other = await store.createDataset({ name: null, dimension: 1 });
    await late.expect('a listener that came after', changed('datasets', other.id, 'insert'));
    t.notOk(
      late.seen.some((c) => c.kind === 'lost'),
      'hears no stale lost',
    );
    t.ok(store.isOpen());
    await store.close();
    t.same(await listeners(), [], 'close ends the LISTEN connection');
  });

  t.test('change feed: a store closed while its feed reconnects leaves nothing behind', async (t) => {
    const url = await freshDatabase(t);
    const store = await openOn(t, url, { changeFeed: { minBackoffMs: 10, maxBackoffMs: 20 } });
    const feed = record(t, store);
    const db = await raw(t, url);
    await db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'triplet-embed-listen'",
    );
    await feed.expect('lost', (c) => c.kind === 'lost');
    await store.close();
    // A backend leaves pg_stat_activity a moment after its client hung up (it exits on its own), so
    // the count is read until it is 0, for at most 5 s: a connection the store kept would stay.
    const count = async () =>
      (
        await db.query(
          "SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'triplet-embed%'",
        )
      ).rows[0].n as number;
    let left = await count();
    for (let i = 0; i < 50 && left > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await count();
    }
    t.equal(left, 0, 'no connection of the store is left');
  });

  t.test('a server that does not answer fails the open and leaves nothing running', async (t) => {
    const u = new URL(baseUrl);
    u.port = '1';
    await t.rejects(openPostgresStore(u.toString()));
  });
}

// Needs no server: a port nothing listens on.
t.test('an unreachable server: start-up, calls and health say STORAGE_UNAVAILABLE', async (t) => {
  const url = `postgres://te@127.0.0.1:${await freePort()}/none`;
  await t.rejects(openPostgresStore(url), { code: 'STORAGE_UNAVAILABLE', message: /PostgreSQL at .* is unavailable/ });
  const store = new PostgresStore(url);
  t.teardown(() => store.close());
  t.match(await store.health(), { ok: false, reason: /does not answer/ });
  await t.rejects(store.getDataset('ds_x'), { code: 'STORAGE_UNAVAILABLE', kind: 'unavailable' });
  await t.rejects(store.createDataset({ name: null, dimension: 1 }), { code: 'STORAGE_UNAVAILABLE' });
});

// Crash test: a real server is killed with SIGKILL at random moments while uploads stream in and
// a job trains, then restarted on the same DATA_DIR (or the same PostgreSQL database). After every round:
//   - each dataset's stored count equals the acknowledged count, give or take the one batch in flight;
//   - every model loads and embeds;
//   - every interrupted job ends succeeded (whatever puts it back to work: the start-up requeue, or
//     another process taking it over when its lease runs out);
//   - a gallery reindexed between two models every round holds, as stored, all the embeddings of
//     one model or all of the other's, never a mix, and after its job ends exactly the new model's
//     (bit for bit what /embed answers). Its items are enrolled through the store before the first
//     start;
//   - gallery uploads through POST /galleries/:id/items (JSON, binary, NDJSON; new ids and
//     replacements) stream in: every acknowledged one is there, the one in flight is all or nothing,
//     stored embeddings are what /embed answers, itemCount counts the ids, and a search finds each
//     item it looks for as its own nearest hit (scripts/crash-gallery-uploads.ts).
//   npx tsx scripts/crash-test.ts [--rounds 20] [--seed 1] [--database-url postgres://… [--fresh-database]]
// --database-url runs the server on PostgreSQL instead of SQLite; --fresh-database creates a new
// database on that server for the run and drops it afterwards (CI: on TEST_DATABASE_URL).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pgAdmin } from './pg-admin.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { GalleryUploads } from './crash-gallery-uploads.js';
import { freePort, ROOT, startServer as start } from './server-process.js';
import { DB_FILE } from '../src/app.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { openPostgresStore } from '../src/store/postgres.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    'database-url': { type: 'string' },
    'fresh-database': { type: 'boolean', default: false },
  },
});

/**
 * The server's environment on PostgreSQL. A short lease (JOB_LEASE_MS): on PostgreSQL a start-up
 * requeues only jobs whose lease ran out, so a job the kill left running waits for its lease.
 */
const pgEnv = (url: string) => ({ DATABASE_URL: url, JOB_LEASE_MS: '3000' });

/** The built server, its logs dropped (errors still show); restarted on the same port every round. */
const startServer = (dataDir: string, port: number, databaseUrl?: string) =>
  start({
    dataDir,
    port,
    stdio: 'quiet',
    timeoutMs: 30_000,
    // Load shedding off: on a busy machine a restarted server's first answers would be 503 OVERLOADED.
    // Small reindex batches: a reindex of GALLERY_ITEMS takes dozens of writes, so kills land mid-job.
    env: { MAX_EVENT_LOOP_DELAY_MS: '0', REINDEX_BATCH_ITEMS: '16', ...(databaseUrl ? pgEnv(databaseUrl) : {}) },
  });

/** The database this run uses: none (SQLite), the one given, or a new one on its server. */
async function database(): Promise<{ url?: string; drop: () => Promise<void> }> {
  const given = args['database-url'];
  if (given === undefined) {
    if (args['fresh-database']) throw new Error('--fresh-database needs --database-url');
    return { drop: async () => {} };
  }
  // An empty or odd value (CI's URL unset, say) must not quietly become a run on SQLite.
  if (!/^postgres(ql)?:\/\/./.test(given)) throw new Error(`--database-url must be a postgres:// URL, got "${given}"`);
  if (!args['fresh-database']) return { url: given, drop: async () => {} };
  const name = `crash_${randomBytes(6).toString('hex')}`;
  await pgAdmin(given, `CREATE DATABASE ${name}`);
  const u = new URL(given);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => pgAdmin(given, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
const ROUNDS = Number(args.rounds);
const D = 16;
const BATCH = 50;
/** items of the gallery reindexed every round */
const GALLERY_ITEMS = 1200;

let seed = Number(args.seed) >>> 0;
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let x = seed;
  x = Math.imul(x ^ (x >>> 15), x | 1);
  x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
};

function batch(): string {
  const triplets = [];
  for (let i = 0; i < BATCH; i++) {
    const anchor = Array.from({ length: D }, () => rand() * 2 - 1);
    triplets.push({
      anchor,
      positive: anchor.map((v) => v + (rand() - 0.5) * 0.2),
      negative: Array.from({ length: D }, () => rand() * 2 - 1),
    });
  }
  return JSON.stringify({ triplets });
}

const randomRows = (n: number, d: number) => Float32Array.from({ length: n * d }, () => rand() * 2 - 1);

/**
 * Before the first start: two models of input dimension D and a gallery of GALLERY_ITEMS on the
 * first, written through the store (its embeddings are arbitrary; the first reindex replaces them).
 */
async function enrolGallery(
  dataDir: string,
  url?: string,
): Promise<{ models: string[]; gallery: string; features: Float32Array }> {
  const store = url ? await openPostgresStore(url) : openSqliteStore(path.join(dataDir, DB_FILE));
  try {
    const models: string[] = [];
    for (const k of [8, 6]) {
      const m = await store.createModel({
        jobId: null,
        name: null,
        inputDimension: D,
        outputDimension: k,
        normalize: false,
        trainingParams: null,
        metrics: {},
        weights: Float64Array.from(randomRows(k, D)),
      });
      models.push(m.id);
    }
    const g = await store.createGallery({
      name: 'reindexed',
      modelId: models[0],
      dimension: D,
      embeddingDimension: 8,
      index: 'exact',
    });
    const ids = Array.from({ length: GALLERY_ITEMS }, (_, i) => `it${String(i).padStart(5, '0')}`);
    const features = randomRows(GALLERY_ITEMS, D);
    await store.stageGalleryItems(
      'up_crash',
      g.id,
      ids,
      ids.map(() => null),
      features,
      randomRows(GALLERY_ITEMS, 8),
    );
    await store.commitGalleryItems('up_crash', g.id, models[0], GALLERY_ITEMS, {
      max: GALLERY_ITEMS,
      setting: 'crash test',
    });
    return { models, gallery: g.id, features };
  } finally {
    await store.close();
  }
}

/** Rows read beside the server, from its SQLite file or its PostgreSQL database ($1… parameters). */
async function readBeside(dataDir: string, url: string | undefined, sql: string, params: unknown[]): Promise<any[]> {
  if (url) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows;
    } finally {
      await c.end();
    }
  }
  const db = new Database(path.join(dataDir, DB_FILE), { readonly: true });
  try {
    return db.prepare(sql.replace(/\$\d+/g, '?')).all(...params);
  } finally {
    db.close();
  }
}

/** The gallery's embeddings as stored, in item order. */
async function storedEmbeddings(dataDir: string, gallery: string, url?: string): Promise<Buffer> {
  const sql = 'SELECT embedding FROM gallery_items WHERE gallery_id = $1 ORDER BY item_id';
  const rows = (await readBeside(dataDir, url, sql, [gallery])) as { embedding: Buffer }[];
  return Buffer.concat(rows.map((r) => r.embedding));
}

/** The gallery's items through the model, as /embed answers them (binary float32). */
async function embedAll(base: string, model: string, features: Float32Array): Promise<Buffer> {
  const inputs = Array.from({ length: GALLERY_ITEMS }, (_, i) => Array.from(features.subarray(i * D, (i + 1) * D)));
  const res = await fetch(`${base}/embed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/octet-stream' },
    body: JSON.stringify({ model, inputs }),
  });
  if (!res.ok) throw new Error(`POST /embed → ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

async function api(base: string, method: string, url: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function main(): Promise<void> {
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('build failed');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'triplet-embed-crash-'));
  const db = await database();
  say(`store: ${db.url ? `PostgreSQL (${new URL(db.url).pathname.slice(1)})` : 'SQLite'}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // (on PostgreSQL the schema comes with the store: opened here first, then by the server)
  const { models: pair, gallery, features } = await enrolGallery(dataDir, db.url);
  let server = await startServer(dataDir, port, db.url);
  const onModel = [await embedAll(base, pair[0], features), await embedAll(base, pair[1], features)];
  let embeddings = await storedEmbeddings(dataDir, gallery, db.url);
  let target = 0;
  let reindexCaught = 0;
  // Uploads stream into one dataset; jobs train on another of fixed size, so rounds stay short.
  const ds = await api(base, 'POST', '/datasets', { name: 'uploads', dimension: D });
  await api(base, 'POST', `/datasets/${ds.id}/triplets`, batch());
  let acked = BATCH;
  const trainSet = await api(base, 'POST', '/datasets', { name: 'training', dimension: D });
  for (let i = 0; i < 160; i++) await api(base, 'POST', `/datasets/${trainSet.id}/triplets`, batch());
  // Gallery uploads through the routes, on the first model (never reindexed), in flight at the kill.
  const uploadGallery = (await api(base, 'POST', '/galleries', { name: 'uploads', model: pair[0] })).id;
  const galleryUploads = new GalleryUploads(uploadGallery, pair[0], D, rand, (sql, params) =>
    readBeside(dataDir, db.url, sql, params),
  );
  const jobs: string[] = [];
  let survived = 0;
  let interrupted = 0;
  const failures: string[] = [];

  for (let round = 1; round <= ROUNDS; round++) {
    const roundStart = Date.now();
    // A reindex per round, to the other model, queued before the training job so that it runs
    // first and the kill can land in the middle of it.
    target = 1 - target;
    const reindex = await api(base, 'POST', `/galleries/${gallery}/reindex`, { model: pair[target] });
    jobs.push(reindex.id);
    // A job per round on a snapshot of the dataset, large enough to be caught mid-training.
    const job = await api(base, 'POST', '/train', {
      datasetId: trainSet.id,
      outputDimension: 8,
      maxIterations: 1500,
      gradientTolerance: 0,
      seed: round,
      init: 'uniform',
    });
    jobs.push(job.id);
    let stop = false;
    const uploader = (async () => {
      while (!stop) {
        try {
          await api(base, 'POST', `/datasets/${ds.id}/triplets`, batch());
          acked += BATCH;
        } catch {
          return; // the server died under us: this batch was not acknowledged
        }
      }
    })();
    const enroller = galleryUploads.run(base, () => stop);
    if (round % 2 === 0) {
      // Every other round aims at the training job: the kill lands while it runs.
      for (let i = 0; i < 150; i++) {
        const j = await api(base, 'GET', `/jobs/${job.id}`).catch(() => null);
        if (j?.status !== 'queued') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, rand() * 60));
    } else {
      await new Promise((r) => setTimeout(r, 100 + rand() * 1400));
    }
    const reindexAtKill = await api(base, 'GET', `/jobs/${reindex.id}`).catch(() => null);
    server.proc.kill('SIGKILL');
    stop = true;
    await uploader;
    await enroller;
    await server.exited;
    if (reindexAtKill?.status === 'running') reindexCaught++;
    const problems: string[] = [];
    const atKill = await storedEmbeddings(dataDir, gallery, db.url);
    if (!atKill.equals(embeddings) && !atKill.equals(onModel[target]))
      problems.push('the reindexed gallery holds a mix of two models');

    server = await startServer(dataDir, port, db.url);
    const after = await api(base, 'GET', `/jobs/${job.id}`);
    if (['queued', 'running'].includes(after.status)) interrupted++;
    const stored = (await api(base, 'GET', `/datasets/${ds.id}`)).tripletCount as number;
    if (stored !== acked && stored !== acked + BATCH) problems.push(`stored ${stored} triplets, acknowledged ${acked}`);
    acked = stored; // a batch that landed without its answer counts from now on
    const checkStart = Date.now();
    problems.push(...(await galleryUploads.check(base)));
    const checkMs = Date.now() - checkStart;
    // Every job so far must end succeeded (interrupted ones are re-run after the restart).
    for (const id of jobs) {
      let j = await api(base, 'GET', `/jobs/${id}`);
      for (let i = 0; i < 1200 && ['queued', 'running'].includes(j.status); i++) {
        await new Promise((r) => setTimeout(r, 100));
        j = await api(base, 'GET', `/jobs/${id}`);
      }
      if (j.status !== 'succeeded') problems.push(`job ${id} ended ${j.status} ${JSON.stringify(j.error)}`);
    }
    embeddings = await storedEmbeddings(dataDir, gallery, db.url);
    if (!embeddings.equals(onModel[target]))
      problems.push(`after its reindex the gallery does not hold model ${target}'s embeddings`);
    const models = (await api(base, 'GET', '/models?limit=1000')).items as { id: string }[];
    for (const m of models) {
      try {
        await api(base, 'GET', `/models/${m.id}/weights`);
        await api(base, 'POST', '/embed', { model: m.id, inputs: [Array.from({ length: D }, () => 0.5)] });
      } catch (e) {
        problems.push(`model ${m.id} does not load: ${(e as Error).message}`);
      }
    }
    if (problems.length === 0) survived++;
    else failures.push(`round ${round}: ${problems.join('; ')}`);
    say(
      `round ${round}: ${problems.length === 0 ? 'ok' : `FAILED: ${problems.join('; ')}`} (stored ${stored}, gallery items ${galleryUploads.size}, models ${models.length}, jobs ${jobs.length}; ${Date.now() - roundStart} ms, gallery check ${checkMs} ms)`,
    );
  }
  server.proc.kill('SIGTERM');
  await server.exited;
  fs.rmSync(dataDir, { recursive: true, force: true });
  await db.drop();
  say(`jobs caught mid-training by the kill and re-run after the restart: ${interrupted}`);
  say(`reindex jobs caught running by the kill and resumed after the restart: ${reindexCaught}`);
  say(
    `gallery uploads acknowledged: ${galleryUploads.acknowledged}; caught in flight by the kill: ${galleryUploads.caughtInFlight}, of which landed whole: ${galleryUploads.landedUnacknowledged}`,
  );
  say(`rounds survived: ${survived}/${ROUNDS}`);
  for (const f of failures) say(f);
  // exitCode, not exit(): let every line reach a piped stdout before the process ends.
  process.exitCode = survived === ROUNDS ? 0 : 1;
}

/** Synchronous, so no line is lost whatever stdout is (file, pipe or terminal). */
function say(line: string): void {
  fs.writeSync(1, `${line}\n`);
}

// A promise that can never settle would let Node exit quietly with code 0: make that a failure.
let finished = false;
process.on('exit', () => {
  if (!finished) {
    fs.writeSync(2, 'crash test ended before it finished\n');
    process.exitCode = 1;
  }
});

main().then(
  () => {
    finished = true;
  },
  (e) => {
    fs.writeSync(2, `crash test aborted: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);

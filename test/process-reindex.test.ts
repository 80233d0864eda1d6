// A real server killed with SIGKILL in the middle of a reindex job: after the restart the job is
// taken up again from the pending embeddings already written and commits; the gallery then holds,
// bit for bit, what /embed answers with the new model, and before that the old embeddings, never a
// mix. docs/decisions/0033-reindex-jobs.md. The gallery is enrolled through the store before the
// server starts (the upload route is another helper's).
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { startServer } from '../scripts/server-process.js';
import { DB_FILE } from '../src/app.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDir } from './helpers.js';
import { buildServer } from './pg-cluster.js';

const D = 32;
const N = 4000;

function rows(n: number, d: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from(
    { length: n * d },
    () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1,
  );
}

async function api(base: string, method: string, url: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The gallery's embeddings as stored, in item order, read beside the running server (WAL). */
function storedEmbeddings(file: string): Buffer {
  const db = new Database(file, { readonly: true });
  try {
    const r = db.prepare('SELECT embedding FROM gallery_items ORDER BY item_id').all() as { embedding: Buffer }[];
    return Buffer.concat(r.map((x) => x.embedding));
  } finally {
    db.close();
  }
}

// incremental: after the pretest's build it writes nothing, so servers other test files start
// meanwhile never read a dist/ half rewritten
t.before(buildServer);

t.test('kill -9 mid-reindex: the job resumes after the restart and commits', async (t) => {
  const dataDir = tempDir(t);
  const file = path.join(dataDir, DB_FILE);
  const features = rows(N, D, 3);
  const prep = openSqliteStore(file);
  const model = (k: number, seed: number) =>
    prep.createModel({
      jobId: null,
      name: null,
      inputDimension: D,
      outputDimension: k,
      normalize: false,
      trainingParams: null,
      metrics: {},
      weights: Float64Array.from(rows(k, D, seed)),
    });
  const a = (await model(8, 1)).id;
  const b = (await model(12, 2)).id;
  const g = (
    await prep.createGallery({ name: 'moving', modelId: a, dimension: D, embeddingDimension: 8, index: 'exact' })
  ).id;
  const ids = Array.from({ length: N }, (_, i) => `it${String(i).padStart(5, '0')}`);
  await prep.stageGalleryItems(
    'up_prep',
    g,
    ids,
    ids.map(() => null),
    features,
    rows(N, 8, 4),
  );
  await prep.commitGalleryItems('up_prep', g, a, N, { max: N, setting: 'TEST' });
  await prep.close();
  const old = storedEmbeddings(file);

  // Small batches, so the kill lands between two of them.
  const env = { REINDEX_BATCH_ITEMS: '8', MAX_EVENT_LOOP_DELAY_MS: '0' };
  const first = await startServer({ dataDir, stdio: 'quiet', env });
  t.teardown(() => {
    if (first.proc.exitCode === null) first.proc.kill('SIGKILL');
  });
  const inputs = Array.from({ length: N }, (_, i) => Array.from(features.subarray(i * D, (i + 1) * D)));
  const res = await fetch(`${first.base}/embed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/octet-stream' },
    body: JSON.stringify({ model: b, inputs }),
  });
  t.equal(res.status, 200);
  const want = Buffer.from(await res.arrayBuffer());

  const job = await api(first.base, 'POST', `/galleries/${g}/reindex`, { model: b });
  let seen = job;
  for (let i = 0; i < 4000 && !(seen.status === 'running' && seen.progress?.iteration > 0); i++) {
    await new Promise((r) => setTimeout(r, 5));
    seen = await api(first.base, 'GET', `/jobs/${job.id}`);
  }
  t.equal(seen.status, 'running', 'the kill lands while the job runs');
  t.ok(seen.progress.iteration < N, `mid-job: ${seen.progress.iteration} of ${N} items embedded`);
  first.proc.kill('SIGKILL');
  await first.exited;
  t.ok(storedEmbeddings(file).equals(old), 'after the kill: the old embeddings, all of them');

  const second = await startServer({ dataDir, port: first.port, stdio: 'quiet', env });
  t.teardown(() => {
    if (second.proc.exitCode === null) second.proc.kill('SIGKILL');
  });
  let done = await api(second.base, 'GET', `/jobs/${job.id}`);
  for (let i = 0; i < 2400 && ['queued', 'running'].includes(done.status); i++) {
    const now = storedEmbeddings(file);
    if (!now.equals(old) && !now.equals(want)) t.fail('a mix of two models');
    await new Promise((r) => setTimeout(r, 25));
    done = await api(second.base, 'GET', `/jobs/${job.id}`);
  }
  t.equal(done.status, 'succeeded', JSON.stringify(done.error));
  t.equal(done.attempts, 2, 'taken up again once');
  t.match(done.progress, { iteration: N, maxIterations: N });
  t.ok(
    done.metrics.itemsEmbedded < N,
    `the second attempt embedded only what was left (${done.metrics.itemsEmbedded})`,
  );
  t.ok(storedEmbeddings(file).equals(want), 'committed: bit for bit what /embed answers with the new model');
  second.proc.kill('SIGTERM');
  t.equal((await second.exited).code, 0);
});

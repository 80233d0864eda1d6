// Real server processes: `npm start` on a temporary DATA_DIR, the README's curl walk-through,
// SIGTERM shutdown, and a restart that keeps datasets, models and finished jobs.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { ROOT, startServer, type ServerProcess } from '../scripts/server-process.js';
import { tempDir } from './helpers.js';

/** `npm start`, the README's first command, on dataDir and port; logs kept for the assertions. */
const start = (dataDir: string, port?: number) =>
  startServer({ dataDir, port, command: 'npm-start', logLevel: 'info' });

async function stop(s: ServerProcess): Promise<number | null> {
  s.proc.kill('SIGTERM');
  return (await s.exited).code;
}

const json = async (url: string) => (await fetch(url)).json() as Promise<any>;

t.test('npm start serves the README walk-through, shuts down on SIGTERM and keeps its data', async (t) => {
  const dataDir = tempDir(t);
  const first = await start(dataDir);
  t.teardown(() => {
    if (first.proc.exitCode === null) first.proc.kill('SIGKILL');
  });

  const walk = spawnSync('bash', [path.join(ROOT, 'scripts/walkthrough.sh')], {
    env: { ...process.env, BASE: first.base },
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(walk.status, 0, `walk-through exits 0\n${walk.stdout}\n${walk.stderr}`);
  t.match(walk.stdout, /"status":"succeeded"/, 'the job succeeds');
  t.match(walk.stdout, /"embeddings":\[\[/, 'embeddings are served');
  t.match(walk.stdout, /"distances":\[\[/, 'distances are served');
  const dist = JSON.parse(walk.stdout.trim().split('\n').pop()!);
  t.ok(
    dist.distances[0][0] < dist.distances[0][1],
    'the anchor is nearer its positive than its negative in the learned space',
  );

  const before = {
    datasets: (await json(`${first.base}/datasets`)).items,
    models: (await json(`${first.base}/models`)).items,
    jobs: (await json(`${first.base}/jobs`)).items,
  };
  t.equal(before.datasets.length, 1);
  t.equal(before.models.length, 1);
  t.equal(before.jobs[0].status, 'succeeded');

  t.equal(await stop(first), 0, 'SIGTERM ends the process with exit code 0');
  t.match(first.output(), /shutting down/, 'the shutdown is logged');

  const second = await start(dataDir, first.port);
  t.teardown(() => {
    if (second.proc.exitCode === null) second.proc.kill('SIGKILL');
  });
  t.same((await json(`${second.base}/datasets`)).items, before.datasets, 'datasets survive a restart');
  t.same((await json(`${second.base}/models`)).items, before.models, 'models survive a restart');
  t.same((await json(`${second.base}/jobs`)).items, before.jobs, 'finished jobs survive a restart');
  // As a client would: a 503 OVERLOADED (a loaded machine at start-up) is retried after its Retry-After.
  let embed: Response;
  for (let attempt = 1; ; attempt++) {
    embed = await fetch(`${second.base}/embed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [[1, 0, 2.5, -1.8]] }),
    });
    if (embed.status !== 503 || attempt === 20) break;
    await new Promise((r) => setTimeout(r, 1000 * Number(embed.headers.get('retry-after') ?? 1)));
  }
  t.equal(embed.status, 200, `the restarted server embeds with the stored model: ${await embed.clone().text()}`);
  t.equal(await stop(second), 0);
});

/** Runs a README walk-through block against base; its output lines parsed as JSON where they are. */
function walkThrough(t: Test, name: string, base: string): unknown[] {
  const walk = spawnSync('bash', [path.join(ROOT, 'scripts/walkthrough.sh'), name], {
    env: { ...process.env, BASE: base },
    encoding: 'utf8',
    timeout: 180_000,
  });
  t.equal(walk.status, 0, `the ${name} walk-through exits 0\n${walk.stdout}\n${walk.stderr}`);
  return walk.stdout
    .trim()
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return line;
      }
    });
}

t.test('the README walk-throughs for labelled samples and for a face gallery', async (t) => {
  const server = await start(tempDir(t));
  t.teardown(() => {
    if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
  });
  const samples = walkThrough(t, 'samples', server.base);
  t.match(samples.at(-1), { precisionAt1: 1, mapAtR: 1 }, 'retrieval on the samples is perfect');

  const gallery = walkThrough(t, 'gallery', server.base) as Record<string, any>[];
  const searches = gallery.filter((o) => o && typeof o === 'object' && 'results' in o);
  t.equal(searches.length, 2, 'one search before the reindex and one after');
  const ids = (s: Record<string, any>) => s.results[0].map((h: { id: string }) => h.id).sort();
  t.same(ids(searches[0]), ['ann-1', 'ann-2'], 'the probe finds its identity');
  t.same(ids(searches[1]), ['ann-1', 'ann-2'], 'and still does after the reindex');
  t.not(searches[1].model, searches[0].model, 'the search switched to the new model');
  t.match(gallery.at(-1), { deleted: 1 }, 'erasing an identity deletes its item');
  t.equal(await stop(server), 0);
});

t.test('a bad environment variable stops start-up with a message naming it', async (t) => {
  const r = spawnSync('node', ['--import=tsx', path.join(ROOT, 'src/server.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: 'eighty', TRAIN_CONCURRENCY: '0' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(r.status, 2);
  t.match(r.stderr, /PORT must be a whole number/);
  t.match(r.stderr, /TRAIN_CONCURRENCY must be between 1/);
});

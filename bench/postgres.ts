// PostgreSQL against SQLite, and one API replica against two, side by side in one run (a shared
// 2-core machine drifts between runs; the ratios of neighbouring measurements drift less):
//   1. upload throughput: the same binary triplet batches into a server on each backend, rounds
//      alternating, vectors/s (3 per triplet);
//   2. /embed req/s through one ROLE=api replica and through two on one database, two client
//      processes either way (both on one port, or one per port), rounds alternating;
//   3. job claim latency: POST /train until GET /jobs/:id leaves `queued` (ROLE=all on each
//      backend; on PostgreSQL also an api replica queueing for a worker, through the change feed),
//      and the store's own claimNextJob on each backend, in this process.
//
//   npm run bench -- --postgres [--database-url postgres://…] [--rounds 3] [--duration 5] [--connections 10]
//       [--sections uploads,claims,replicas]   (all three by default)
// Without --database-url it starts a throw-away cluster (scripts/pg-test-cluster.sh) and removes it;
// with one, it creates a database of its own there and drops it afterwards.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pgAdmin } from '../scripts/pg-admin.js';
import { runLoadCase } from './ab-serve.js';
import { ROOT, startServer, type ServerProcess } from '../scripts/server-process.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/types.js';
import type { TrainingParams } from '../src/domain/training.js';

export interface PostgresBenchOptions {
  databaseUrl?: string;
  rounds: number;
  duration: number;
  connections: number;
  /** which parts run: uploads, claims, replicas */
  sections: string[];
}

const CLUSTER = path.join(ROOT, 'scripts/pg-test-cluster.sh');

const median = (v: number[]) => [...v].sort((a, b) => a - b)[(v.length - 1) >> 1];
const quantile = (v: number[], q: number) =>
  [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(q * v.length))];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server (PostgreSQL) that outlives the run's databases: the one given, or a throw-away cluster. */
function pgServer(given?: string): { url: string; stop: () => void } {
  if (given) return { url: given, stop: () => {} };
  // durable (fsync on), like SQLite's synchronous=FULL: the test clusters run with fsync off
  const r = spawnSync(CLUSTER, ['start'], { encoding: 'utf8', env: { ...process.env, PG_TEST_DURABLE: '1' } });
  const url = /TEST_DATABASE_URL=(\S+)/.exec(r.stdout)?.[1];
  const dir = /PG_TEST_CLUSTER_DIR=(\S+)/.exec(r.stdout)?.[1];
  if (r.status !== 0 || !url || !dir) throw new Error(`could not start a PostgreSQL cluster:\n${r.stderr}`);
  return { url, stop: () => void spawnSync(CLUSTER, ['stop', dir], { stdio: 'ignore' }) };
}

/** A new database on the server; its URL. Dropped by drop(). */
async function freshDatabase(serverUrl: string, made: string[]): Promise<string> {
  const name = `bench_${randomBytes(6).toString('hex')}`;
  await pgAdmin(serverUrl, `CREATE DATABASE ${name}`);
  made.push(name);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function api(base: string, method: string, url: string, body?: unknown, type = 'application/json'): Promise<any> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': type },
    body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function floats(n: number, seed: number): Float32Array {
  let s = seed;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    a[i] = s / 2147483647 - 0.5;
  }
  return a;
}

// ---- 1. uploads ----------------------------------------------------------------------------------

const UP_D = 128;
const UP_BATCH = 5000;
const UP_BATCHES = 20;
const UP_CLIENTS = 2;

/** Seconds to upload the batches into a new dataset, UP_CLIENTS requests at a time. */
async function uploadOnce(base: string, batches: Buffer[]): Promise<number> {
  const ds = await api(base, 'POST', '/datasets', { dimension: UP_D });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: UP_CLIENTS }, async () => {
      while (next < batches.length) {
        const b = batches[next++];
        await api(base, 'POST', `/datasets/${ds.id}/triplets`, b, 'application/octet-stream');
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const stored = (await api(base, 'GET', `/datasets/${ds.id}`)).tripletCount;
  if (stored !== UP_BATCH * batches.length) throw new Error(`uploaded ${UP_BATCH * batches.length}, stored ${stored}`);
  await api(base, 'DELETE', `/datasets/${ds.id}`);
  return seconds;
}

async function benchUploads(sqlite: ServerProcess, postgres: ServerProcess, rounds: number): Promise<string[]> {
  const batches = Array.from({ length: UP_BATCHES }, (_, i) => Buffer.from(floats(UP_BATCH * 3 * UP_D, i + 1).buffer));
  const vectors = UP_BATCH * UP_BATCHES * 3;
  // an unreported warm-up on each: the first uploads start threads and warm the code paths
  for (const s of [sqlite, postgres]) await uploadOnce(s.base, batches.slice(0, 2));
  const s: number[] = [];
  const p: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // ABBA order, so a drift of the machine within a round weighs on both alike
    if (r % 2 === 0) {
      s.push(vectors / (await uploadOnce(sqlite.base, batches)));
      p.push(vectors / (await uploadOnce(postgres.base, batches)));
    } else {
      p.push(vectors / (await uploadOnce(postgres.base, batches)));
      s.push(vectors / (await uploadOnce(sqlite.base, batches)));
    }
  }
  const ratios = s.map((v, i) => p[i] / v);
  const k = (v: number[]) => v.map((x) => Math.round(x / 1000)).join(', ');
  return [
    `uploads: ${UP_BATCHES} binary batches of ${UP_BATCH} triplets, d=${UP_D} (${(vectors / 1e3).toFixed(0)}k vectors, ${((vectors * UP_D * 4) / 2 ** 20).toFixed(0)} MiB), ${UP_CLIENTS} requests at a time, ${rounds} rounds`,
    `  SQLite      ${(median(s) / 1000).toFixed(0).padStart(6)}k vectors/s  (rounds: ${k(s)})`,
    `  PostgreSQL  ${(median(p) / 1000).toFixed(0).padStart(6)}k vectors/s  (rounds: ${k(p)})`,
    `  PostgreSQL ÷ SQLite: ${median(ratios).toFixed(2)} (rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')})`,
  ];
}

// ---- 2. /embed on one and two replicas ----------------------------------------------------------------

const loadCase = (spec: object) =>
  runLoadCase<{ reqPerSec: number; p99Ms: number; errors: number; non2xx: number }>(spec);

/** Two client processes at once, half the connections each, on the given bases (one or two ports). */
async function spread(bases: string[], spec: Record<string, unknown>, connections: number) {
  const runs = await Promise.all(
    [0, 1].map((i) =>
      loadCase({ ...spec, url: `${bases[i % bases.length]}${spec.path}`, connections: Math.max(1, connections >> 1) }),
    ),
  );
  return {
    reqPerSec: runs.reduce((s, r) => s + r.reqPerSec, 0),
    p99Ms: Math.max(...runs.map((r) => r.p99Ms)),
    bad: runs.reduce((s, r) => s + r.errors + r.non2xx, 0),
  };
}

async function benchReplicas(a: ServerProcess, b: ServerProcess, tmp: string, o: PostgresBenchOptions) {
  const d = 512;
  const k = 128;
  const W = Array.from({ length: k }, (_, i) => Array.from(floats(d, i + 11), (x) => x / Math.sqrt(d)));
  const model = (await api(a.base, 'POST', '/models', { W, name: 'bench' })).id as string;
  const row = Array.from(floats(d, 5));
  const jsonFile = path.join(tmp, 'one.json');
  fs.writeFileSync(jsonFile, JSON.stringify({ model, inputs: [row] }));
  const binFile = path.join(tmp, 'rows.f32');
  fs.writeFileSync(binFile, Buffer.from(floats(256 * d, 9).buffer));
  // the model (imported through a) must serve through b too: it is in the shared database
  await api(b.base, 'POST', '/embed', { model, inputs: [row] });
  const cases = [
    {
      name: 'POST /embed 1×512 JSON',
      spec: { path: '/embed', method: 'POST', headers: { 'content-type': 'application/json' }, bodyFile: jsonFile },
    },
    {
      name: 'POST /embed 256×512 binary',
      spec: {
        path: `/embed?model=${model}&rows=256`,
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', accept: 'application/octet-stream' },
        bodyFile: binFile,
        discardBodies: true,
      },
    },
  ];
  const lines = [
    `/embed through ROLE=api replicas on one PostgreSQL database: 2 autocannon processes, ${o.connections} connections in all, ${o.duration} s per run after 1 s of warm-up, ${o.rounds} rounds`,
  ];
  for (const c of cases) {
    const one: number[] = [];
    const two: number[] = [];
    let bad = 0;
    const p99 = [0, 0];
    for (let r = 0; r < o.rounds; r++) {
      const order: [string[], number[], 0 | 1][] = [
        [[a.base], one, 0],
        [[a.base, b.base], two, 1],
      ];
      for (const [bases, into, i] of r % 2 === 0 ? order : order.reverse()) {
        const res = await spread(bases, { ...c.spec, duration: o.duration, warmup: 1 }, o.connections);
        into.push(res.reqPerSec);
        bad += res.bad;
        p99[i] = Math.max(p99[i], res.p99Ms);
      }
    }
    const ratios = two.map((v, i) => v / one[i]);
    const f = (v: number[]) => v.map((x) => x.toFixed(0)).join(', ');
    lines.push(
      `  ${c.name}: one replica ${median(one).toFixed(0)} req/s (rounds: ${f(one)}; p99 ≤ ${p99[0]} ms), two replicas ${median(two).toFixed(0)} req/s (rounds: ${f(two)}; p99 ≤ ${p99[1]} ms), two ÷ one ${median(ratios).toFixed(2)}${bad ? `, errors or non-2xx: ${bad}` : ''}`,
    );
  }
  return lines;
}

// ---- 3. claim latency --------------------------------------------------------------------------

const CLAIMS_HTTP = 20;
const CLAIMS_STORE = 200;
const TINY: Partial<TrainingParams> & Record<string, unknown> = {
  outputDimension: 2,
  maxIterations: 2,
  init: 'uniform',
};

/** ms from POST /train until GET /jobs/:id leaves `queued` (polled every ms or so). */
async function httpClaims(s: ServerProcess): Promise<number[]> {
  const ds = await api(s.base, 'POST', '/datasets', { dimension: 4 });
  const t = Array.from({ length: 20 }, (_, i) => {
    const a = Array.from(floats(4, i + 1));
    return { anchor: a, positive: a, negative: Array.from(floats(4, i + 100)) };
  });
  await api(s.base, 'POST', `/datasets/${ds.id}/triplets`, { triplets: t });
  const out: number[] = [];
  for (let i = 0; i < CLAIMS_HTTP + 2; i++) {
    const t0 = performance.now();
    const job = await api(s.base, 'POST', '/train', { datasetId: ds.id, ...TINY, seed: i });
    let status = job.status as string;
    while (status === 'queued') status = (await api(s.base, 'GET', `/jobs/${job.id}`)).status;
    if (i >= 2) out.push(performance.now() - t0); // two unreported: the first claims warm the paths
    while (['queued', 'running'].includes(status)) {
      await sleep(5);
      status = (await api(s.base, 'GET', `/jobs/${job.id}`)).status;
    }
  }
  return out;
}

/** ms of store.claimNextJob(lease) with one job queued, in this process. */
async function storeClaims(store: Store): Promise<number[]> {
  const ds = await store.createDataset({ name: null, dimension: 4 });
  const params = { source: 'triplets', outputDimension: 2, maxIterations: 2 } as TrainingParams;
  const out: number[] = [];
  for (let i = 0; i < CLAIMS_STORE + 10; i++) {
    const job = await store.createJob({ datasetId: ds.id, params });
    const t0 = performance.now();
    const claimed = await store.claimNextJob({ owner: 'bench', ms: 60_000 });
    const ms = performance.now() - t0;
    if (claimed?.id !== job.id) throw new Error('claimNextJob did not return the queued job');
    if (i >= 10) out.push(ms);
    await store.finishJob(job.id, 'cancelled', null);
  }
  return out;
}

function latencyLine(name: string, v: number[]): string {
  return `  ${name.padEnd(34)} median ${median(v).toFixed(2)} ms, p90 ${quantile(v, 0.9).toFixed(2)} ms (${v.length} claims)`;
}

// ---- the run -----------------------------------------------------------------------------------

export async function benchPostgres(o: PostgresBenchOptions): Promise<void> {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const server = pgServer(o.databaseUrl);
  const made: string[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-postgres-'));
  const procs: ServerProcess[] = [];
  const start = async (env: Record<string, string>) => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
    const s = await startServer({
      dataDir,
      stdio: 'quiet',
      timeoutMs: 60_000,
      env: { MAX_EVENT_LOOP_DELAY_MS: '0', ...env },
    });
    procs.push(s);
    return s;
  };
  const stopAll = async () => {
    for (const p of procs.splice(0)) {
      p.proc.kill('SIGTERM');
      await p.exited;
    }
  };
  try {
    console.log(
      `machine: ${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} at the start`,
    );
    const pgUrl = await freshDatabase(server.url, made);
    const settings = new pg.Client({ connectionString: pgUrl });
    await settings.connect();
    const show = async (name: string) => (await settings.query(`SHOW ${name}`)).rows[0][name] as string;
    console.log(
      `PostgreSQL: fsync ${await show('fsync')}, synchronous_commit ${await show('synchronous_commit')}; SQLite: WAL, synchronous=FULL`,
    );
    await settings.end();
    const want = (section: string) => o.sections.includes(section);
    if (want('uploads')) {
      const sqlite = await start({ ROLE: 'all' });
      const postgres = await start({ ROLE: 'all', DATABASE_URL: pgUrl });
      for (const line of await benchUploads(sqlite, postgres, o.rounds)) console.log(line);
      await stopAll();
    }
    if (want('claims')) await benchClaims(start, stopAll, await freshDatabase(server.url, made), tmp);
    if (want('replicas')) {
      const replicaUrl = await freshDatabase(server.url, made);
      const a = await start({ ROLE: 'api', DATABASE_URL: replicaUrl });
      const b = await start({ ROLE: 'api', DATABASE_URL: replicaUrl });
      for (const line of await benchReplicas(a, b, tmp, o)) console.log(line);
    }
    console.log(
      `load average ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} at the end`,
    );
  } finally {
    await stopAll();
    for (const name of made) await pgAdmin(server.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Claim latency over HTTP (one ROLE=all server per backend; and, on PostgreSQL, an api replica that
 * queues and a worker that claims, through the change feed), then at the store.
 */
async function benchClaims(
  start: (env: Record<string, string>) => Promise<ServerProcess>,
  stopAll: () => Promise<void>,
  pgUrl: string,
  tmp: string,
): Promise<void> {
  console.log('job claim latency, POST /train until GET /jobs/:id leaves `queued` (a 20-triplet dataset)');
  const sqlite = await start({ ROLE: 'all' });
  const postgres = await start({ ROLE: 'all', DATABASE_URL: pgUrl });
  const hs: number[] = [];
  const hp: number[] = [];
  for (let r = 0; r < 2; r++) {
    hs.push(...(await httpClaims(sqlite)));
    hp.push(...(await httpClaims(postgres)));
  }
  console.log(latencyLine('SQLite, ROLE=all', hs));
  console.log(latencyLine('PostgreSQL, ROLE=all', hp));
  await stopAll();
  const apiOnly = await start({ ROLE: 'api', DATABASE_URL: pgUrl });
  await start({ ROLE: 'worker', DATABASE_URL: pgUrl });
  const cross = [...(await httpClaims(apiOnly)), ...(await httpClaims(apiOnly))];
  console.log(latencyLine('PostgreSQL, api queues, worker claims', cross));
  await stopAll();

  console.log('store.claimNextJob() with one job queued, in this process (the SQLite store in its thread)');
  const stores: [string, Store][] = [
    ['SQLite', await openStore({ sqliteFile: path.join(tmp, 'claims.sqlite') })],
    ['PostgreSQL', await openStore({ databaseUrl: pgUrl, sqliteFile: '' })],
  ];
  const claims = new Map<string, number[]>();
  for (let r = 0; r < 2; r++)
    for (const [name, st] of stores) claims.set(name, [...(claims.get(name) ?? []), ...(await storeClaims(st))]);
  for (const [name, st] of stores) {
    console.log(latencyLine(name, claims.get(name)!));
    await st.close();
  }
}

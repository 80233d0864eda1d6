// A private PostgreSQL cluster for one test file (scripts/pg-test-cluster.sh), for tests that stop
// and start the server: the shared cluster of TEST_DATABASE_URL serves test files running in
// parallel, so it is never stopped. Also the built server on such a database, and small HTTP helpers.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Test } from 'tap';
import { ROOT, startServer, type ServerProcess } from '../scripts/server-process.js';
import { tempDir } from './helpers.js';

const SCRIPT = path.join(ROOT, 'scripts/pg-test-cluster.sh');

export interface PrivateCluster {
  url: string;
  dir: string;
  /** pg_ctl stop -m fast: sessions end, the data stays */
  down(): void;
  /** the same server again, same port and data */
  up(): void;
}

function run(args: string[]): string {
  const r = spawnSync(SCRIPT, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`pg-test-cluster.sh ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** Starts a cluster of the test's own, removed at teardown; throws when PostgreSQL cannot start here. */
export function privateCluster(t: Test): PrivateCluster {
  const out = run(['start']);
  const url = /TEST_DATABASE_URL=(\S+)/.exec(out)?.[1];
  const dir = /PG_TEST_CLUSTER_DIR=(\S+)/.exec(out)?.[1];
  if (!url || !dir) throw new Error(`pg-test-cluster.sh start printed no URL:\n${out}`);
  t.teardown(() => void spawnSync(SCRIPT, ['stop', dir], { stdio: 'ignore' }));
  return { url, dir, down: () => void run(['down', dir]), up: () => void run(['up', dir]) };
}

/** Builds dist/ when sources changed (scripts/build.mjs is incremental). */
export function buildServer(): void {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--quiet'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`scripts/build.mjs failed:\n${r.stdout}\n${r.stderr}`);
}

/**
 * The built server with the given role on a PostgreSQL database, killed at teardown if still
 * running. Load shedding is off: a busy machine must not turn the answers a test checks into 503s.
 */
export async function startOnDatabase(
  t: Test,
  databaseUrl: string,
  role: 'all' | 'api' | 'worker',
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const s = await startServer({
    dataDir: tempDir(t),
    logLevel: 'info',
    timeoutMs: 60_000,
    env: { DATABASE_URL: databaseUrl, ROLE: role, MAX_EVENT_LOOP_DELAY_MS: '0', ...env },
  });
  t.teardown(() => {
    if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
  });
  return s;
}

export interface Reply {
  status: number;
  body: any;
  contentType: string;
}

/** One request; the reply's status and body (JSON when it says so), whatever the status. */
export async function request(base: string, method: string, url: string, body?: unknown): Promise<Reply> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const contentType = res.headers.get('content-type') ?? '';
  const text = await res.text();
  return { status: res.status, body: contentType.includes('json') && text ? JSON.parse(text) : text, contentType };
}

/** A request that must answer 2xx; its JSON body. */
export async function api(base: string, method: string, url: string, body?: unknown): Promise<any> {
  const r = await request(base, method, url, body);
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${url} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Polls until check returns a value (not undefined), or gives up after limitMs with what it last saw. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  limitMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + limitMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The job once it has left queued and running (polled through base). */
export const finishedJob = (base: string, id: string, limitMs = 120_000) =>
  until(
    `job ${id} to finish`,
    async () => {
      const j = await api(base, 'GET', `/jobs/${id}`);
      return ['queued', 'running'].includes(j.status) ? undefined : j;
    },
    limitMs,
  );

export interface SseEvent {
  event: string;
  data: any;
}

/** A job's SSE stream until the server ends it; gives up (throws) after limitMs. */
export async function followEvents(base: string, jobId: string, limitMs = 120_000): Promise<SseEvent[]> {
  const res = await fetch(`${base}/jobs/${jobId}/events`, { signal: AbortSignal.timeout(limitMs) });
  if (res.status !== 200) throw new Error(`GET /jobs/${jobId}/events → ${res.status} ${await res.text()}`);
  const text = await res.text(); // resolves when the server ends the stream
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      return { event: eventLine.slice('event: '.length), data: JSON.parse(dataLine.slice('data: '.length)) };
    });
}

/** n deterministic triplets of dimension d, with positives near their anchors. */
export function triplets(
  n: number,
  d: number,
  seed = 1,
): { anchor: number[]; positive: number[]; negative: number[] }[] {
  let s = seed;
  const r = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647 - 0.5;
  };
  return Array.from({ length: n }, () => {
    const anchor = Array.from({ length: d }, r);
    return { anchor, positive: anchor.map((v) => v + r() * 0.1), negative: Array.from({ length: d }, r) };
  });
}

/**
 * n random triplets of dimension d as little-endian float32 bytes (a binary upload body). Random
 * positives are no nearer than negatives, so the loss never reaches zero: a job with
 * gradientTolerance 0 runs all its iterations.
 */
export function hardTriplets(n: number, d: number, seed = 1): Buffer {
  let s = seed;
  const a = new Float32Array(n * 3 * d);
  for (let i = 0; i < a.length; i++) {
    s = (s * 16807) % 2147483647;
    a[i] = s / 2147483647 - 0.5;
  }
  return Buffer.from(a.buffer);
}

/** A binary triplet upload that must answer 201. */
export async function uploadBinary(base: string, datasetId: string, body: Buffer): Promise<void> {
  const res = await fetch(`${base}/datasets/${datasetId}/triplets`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  if (res.status !== 201) throw new Error(`binary upload → ${res.status} ${await res.text()}`);
}

// Test harness: a whole app on a real SQLite file in a fresh temp dir, closed and removed after.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import type { Test } from 'tap';
import { buildApp, type BuildOptions } from '../src/app.js';
import type { App } from '../src/app-types.js';
import { makeConfig, type Config, type Limits } from '../src/config.js';

export function tempDir(t: Test, prefix = 'triplet-embed-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function testApp(
  t: Test,
  opts: { dataDir?: string; limits?: Partial<Limits>; config?: Partial<Config>; build?: BuildOptions } = {},
): Promise<App> {
  const dataDir = opts.dataDir ?? tempDir(t);
  // Load shedding off unless a test asks for it: a busy CI machine must not turn answers into 503s.
  // No spare training worker unless a test asks (test/jobs/spare-worker.test.ts): hundreds of apps
  // would each start a thread for nothing.
  const config = makeConfig({
    overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 },
    jobSpareWorker: false,
    ...opts.config,
    dataDir,
    logLevel: 'silent',
    limits: opts.limits,
  });
  const app = await buildApp(config, { logger: false, ...opts.build });
  await app.ready();
  t.teardown(() => app.close());
  return app;
}

export interface TripletJson {
  anchor: number[];
  positive: number[];
  negative: number[];
}

/** Small deterministic triplets: positives near the anchor, negatives far. */
export function makeTriplets(n: number, d: number, seed = 1): TripletJson[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  const out: TripletJson[] = [];
  for (let i = 0; i < n; i++) {
    const anchor = Array.from({ length: d }, () => rnd() * 4);
    out.push({
      anchor,
      positive: anchor.map((v) => v + rnd() * 0.5),
      negative: Array.from({ length: d }, () => rnd() * 4),
    });
  }
  return out;
}

export async function createDataset(app: App, dimension: number, triplets?: TripletJson[]): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/datasets', payload: { dimension } });
  const id = r.json().id as string;
  if (triplets) {
    const up = await app.inject({ method: 'POST', url: `/datasets/${id}/triplets`, payload: { triplets } });
    if (up.statusCode !== 201) throw new Error(`upload failed: ${up.body}`);
  }
  return id;
}

/** Polls a job until it leaves queued/running (or the deadline passes). */
export async function waitForJob(app: App, id: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const job = (await app.inject({ url: `/jobs/${id}` })).json();
    if (!['queued', 'running'].includes(job.status) || Date.now() > end) return job;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function expectError(t: Test, res: { statusCode: number; json: () => any }, status: number, code: string): void {
  t.equal(res.statusCode, status, `status ${status}`);
  const body = res.json();
  t.equal(body.code, code, `code ${code}`);
  t.equal(body.statusCode, status);
  t.type(body.message, 'string');
  t.type(body.error, 'string');
}

/** Staged (uncommitted) chunks, counted with a separate raw connection to the same file. */
export function stagedChunks(app: App): number {
  const db = new Database(app.services.store.location, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM chunks WHERE upload_id IS NOT NULL').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** loss, accuracy and active share of W on stored float32 triplets, with plain loops. */
export function expectedEvaluation(
  W: number[][],
  data: Float32Array,
  count: number,
  d: number,
  margin: number,
  normalize: boolean,
) {
  const emb = (off: number) => {
    const e = W.map((row) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += row[j] * data[off + j];
      return s;
    });
    if (!normalize) return e;
    const n = Math.max(Math.sqrt(e.reduce((s, v) => s + v * v, 0)), 1e-12);
    return e.map((v) => v / n);
  };
  const sq = (x: number[], y: number[]) => x.reduce((s, v, i) => s + (v - y[i]) ** 2, 0);
  let loss = 0;
  let correct = 0;
  let active = 0;
  let nearestEdge = Infinity; // how close any triplet is to flipping a count
  for (let i = 0; i < count; i++) {
    const o = i * 3 * d;
    const a = emb(o);
    const dp = sq(a, emb(o + d));
    const dn = sq(a, emb(o + 2 * d));
    const bracket = dp - dn + margin;
    loss += Math.max(0, bracket);
    if (bracket > 0) active++;
    if (dp < dn) correct++;
    nearestEdge = Math.min(nearestEdge, Math.abs(bracket), Math.abs(dp - dn));
  }
  return { loss: loss / count, tripletAccuracy: correct / count, activeFraction: active / count, count, nearestEdge };
}

export function close(t: Test, actual: number, expected: number, tol: number, msg: string) {
  t.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${msg}: ${actual} ≈ ${expected}`);
}

/** An imported 2×2 identity model and an empty exact gallery of it. */
export async function identityGallery(app: App): Promise<{ model: string; gallery: string }> {
  const W = [
    [1, 0],
    [0, 1],
  ];
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W } })).json().id as string;
  const gallery = (await app.inject({ method: 'POST', url: '/galleries', payload: { name: 'g', model } })).json()
    .id as string;
  return { model, gallery };
}

/** A deterministic generator of floats in [0, 1) (mulberry32): the same seed, the same data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The log lines an app writes, parsed: pass `logger` to buildApp to read what the runner logs. */
export function captureLogs(): { lines: Record<string, unknown>[]; logger: { level: string; stream: Writable } } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: { level: 'info', stream } };
}

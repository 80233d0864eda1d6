// Soak: /embed held under load with autocannon while a training job runs, and the server's RSS
// sampled every second. Reports req/s, p99 latency, errors and non-2xx answers (503s from load
// shedding among them), and RSS at the start, at the end and its maximum.
//
//   npm run bench -- --soak [--seconds 60] [--connections 10]
//   npx tsx bench/soak.ts [--seconds 60] [--connections 10] [--json]
//
// It builds the server (npm run build), starts `node dist/src/server.js` on a temporary DATA_DIR,
// imports a 64×256 model, uploads a training set and queues a long job (it trains on through the
// soak; a second one is queued in case the first stops early), then runs autocannon for --seconds.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT, startServer } from '../scripts/server-process.js';

export interface SoakOptions {
  /** how long autocannon holds the load (default 60) */
  seconds?: number;
  /** autocannon connections (default 10) */
  connections?: number;
  /** embedding model size: k × d (default 64 × 256) */
  k?: number;
  d?: number;
  /** rows per /embed request (default 1) */
  rows?: number;
  /** skip `npm run build` (the dist/ tree is current) */
  skipBuild?: boolean;
  /** print one JSON line instead of the table */
  json?: boolean;
  log?: (line: string) => void;
}

export interface SoakResult {
  seconds: number;
  connections: number;
  model: string;
  rowsPerRequest: number;
  requests: number;
  reqPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** the training during the soak: jobs queued one after another so one is always running */
  training: {
    jobs: number;
    runningAtStart: boolean;
    runningAtEnd: boolean;
    statusesAtEnd: Record<string, number>;
    iterationsTrained: number;
  };
  rssMiB: { start: number; end: number; max: number; min: number; samples: number[] };
  /** end − start, MiB; "flat" is judged on this and on the curve, not asserted here */
  rssGrowthMiB: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** VmRSS of a process in MiB, from /proc (Linux). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** Seeded uniform numbers in [-0.5, 0.5). */
function uniforms(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    out[i] = s / 2147483647 - 0.5;
  }
  return out;
}

async function call(
  base: string,
  method: string,
  url: string,
  body?: unknown,
  type = 'application/json',
): Promise<any> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': type },
      body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status === 503 && attempt < 10) {
      await sleep(1000);
      continue;
    }
    if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  }
}

export async function runSoak(opts: SoakOptions = {}): Promise<SoakResult> {
  const seconds = opts.seconds ?? 60;
  const connections = opts.connections ?? 10;
  const k = opts.k ?? 64;
  const d = opts.d ?? 256;
  const rows = opts.rows ?? 1;
  const log = opts.log ?? ((line: string) => console.log(line));
  if (!opts.skipBuild) {
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'triplet-soak-'));
  const started = await startServer({ dataDir, stdio: 'inherit', timeoutMs: 60_000 });
  const { base, exited } = started;
  const server = started.proc;
  try {
    // A 64×256 model to serve.
    const w = uniforms(k * d, 7);
    const W = Array.from({ length: k }, (_, i) => Array.from(w.subarray(i * d, (i + 1) * d), (v) => v / 8));
    const model = (await call(base, 'POST', '/models', { W, name: 'soak' })).id as string;

    // A training set and jobs that keep training through the soak: 20,000 triplets of dimension
    // 64 into k = 32, no gradient stop, up to 100,000 iterations. Random data stalls after some
    // hundreds or thousands of steps (no_progress), so more jobs wait in the queue behind the first.
    const td = 64;
    const ds = (await call(base, 'POST', '/datasets', { name: 'soak-training', dimension: td })).id as string;
    const triplets = uniforms(20_000 * 3 * td, 11);
    await call(base, 'POST', `/datasets/${ds}/triplets`, Buffer.from(triplets.buffer), 'application/octet-stream');
    const train = { datasetId: ds, outputDimension: 32, maxIterations: 100_000, gradientTolerance: 0, init: 'uniform' };
    const jobs: string[] = [];
    for (let seed = 1; seed <= Math.max(4, Math.ceil(seconds / 10)); seed++) {
      jobs.push((await call(base, 'POST', '/train', { ...train, seed, optimizer: seed % 2 ? 'lbfgs' : 'cg' })).id);
    }
    const listJobs = async () => (await Promise.all(jobs.map((id) => call(base, 'GET', `/jobs/${id}`)))) as any[];
    let runningAtStart = false;
    for (let i = 0; i < 100 && !runningAtStart; i++) {
      runningAtStart = (await listJobs()).some((j) => j.status === 'running');
      if (!runningAtStart) await sleep(100);
    }

    const inputs = Array.from({ length: rows }, (_, i) => Array.from(uniforms(d, 100 + i)));
    const body = JSON.stringify({ model, inputs });
    const check = await call(base, 'POST', '/embed', JSON.parse(body));
    if (check.embeddings?.length !== rows || check.embeddings[0].length !== k)
      throw new Error('/embed gave an unexpected answer');

    // Let start-up garbage settle, then sample RSS every second through the run.
    await sleep(1000);
    const samples: number[] = [rssMiB(server.pid!)];
    const sampler = setInterval(() => {
      try {
        samples.push(rssMiB(server.pid!));
      } catch {
        /* the process is gone; the run will say so */
      }
    }, 1000);
    log(
      `soak: POST /embed (${rows}×${d} JSON, model ${k}×${d}) for ${seconds} s, ${connections} connections, while jobs train (${jobs.length} queued)`,
    );
    const { default: autocannon } = await import('autocannon');
    const result: any = await new Promise((res, rej) => {
      autocannon(
        {
          url: `${base}/embed`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          connections,
          duration: seconds,
        },
        (err: Error | null, r: unknown) => (err ? rej(err) : res(r)),
      );
    });
    clearInterval(sampler);
    samples.push(rssMiB(server.pid!));

    const atEnd = await listJobs();
    const statusesAtEnd: Record<string, number> = {};
    for (const j of atEnd) statusesAtEnd[j.status] = (statusesAtEnd[j.status] ?? 0) + 1;
    const iterationsTrained = atEnd.reduce((sum, j) => sum + (j.metrics?.iterations ?? j.progress?.iteration ?? 0), 0);
    const out: SoakResult = {
      seconds,
      connections,
      model: `${k}x${d}`,
      rowsPerRequest: rows,
      requests: result.requests.total,
      reqPerSec: result.requests.average,
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      latencyMaxMs: result.latency.max,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      training: {
        jobs: jobs.length,
        runningAtStart,
        runningAtEnd: (statusesAtEnd.running ?? 0) > 0,
        statusesAtEnd,
        iterationsTrained,
      },
      rssMiB: {
        start: round(samples[0]),
        end: round(samples[samples.length - 1]),
        max: round(Math.max(...samples)),
        min: round(Math.min(...samples)),
        samples: samples.map(round),
      },
      rssGrowthMiB: round(samples[samples.length - 1] - samples[0]),
    };
    if (opts.json) log(JSON.stringify(out));
    else {
      log(`  requests      ${out.requests} in ${seconds} s: ${out.reqPerSec.toFixed(0)} req/s`);
      log(`  latency       p50 ${out.latencyP50Ms} ms, p99 ${out.latencyP99Ms} ms, max ${out.latencyMaxMs} ms`);
      log(`  errors        ${out.errors} (timeouts ${out.timeouts}), non-2xx ${out.non2xx}`);
      log(
        `  RSS (MiB)     start ${out.rssMiB.start}, end ${out.rssMiB.end}, max ${out.rssMiB.max}, min ${out.rssMiB.min} (end − start ${out.rssGrowthMiB})`,
      );
      log(`  RSS by 10 s   ${out.rssMiB.samples.filter((_, i) => i % 10 === 0).join(', ')}`);
      const t = out.training;
      log(
        `  training      ${t.runningAtStart ? 'a job running' : 'NO job running'} at the start, ${t.runningAtEnd ? 'a job running' : 'NO job running'} at the end; ` +
          `${t.iterationsTrained} iterations in all; jobs ${Object.entries(t.statusesAtEnd)
            .map(([s, n]) => `${n} ${s}`)
            .join(', ')}`,
      );
    }
    return out;
  } finally {
    server.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

/** The command line: `--seconds 60 --connections 10 --rows 1 --json --skip-build` (`--soak` is accepted and ignored). */
export async function soakCli(args: string[]): Promise<SoakResult> {
  const { values } = parseArgs({
    args,
    options: {
      soak: { type: 'boolean', default: true },
      seconds: { type: 'string', default: '60' },
      connections: { type: 'string', default: '10' },
      rows: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      'skip-build': { type: 'boolean', default: false },
    },
  });
  const int = (v: string, name: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer (got ${v})`);
    return n;
  };
  return runSoak({
    seconds: int(values.seconds, 'seconds'),
    connections: int(values.connections, 'connections'),
    rows: int(values.rows, 'rows'),
    json: values.json,
    skipBuild: values['skip-build'],
  });
}

// Run directly: npx tsx bench/soak.ts [--seconds 60] ...
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href)
  await soakCli(process.argv.slice(2));

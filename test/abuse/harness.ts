// The abuse suite's harness: a real server process (the built one) with a low file-descriptor
// limit, an RSS watchdog, and the checks every abuse case ends with — the process is alive,
// /healthz and every read route answer, and RSS came back near its baseline. `npm run test:abuse` runs test/abuse/.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { freePort, ROOT, type Exit } from '../../scripts/server-process.js';

export interface AbuseServer {
  base: string;
  port: number;
  pid: number;
  dataDir: string;
  /** resolves when the process exits (it should not, during a case) */
  exited: Promise<Exit>;
  output: () => string;
  /** the process's resident set now, in MiB */
  rssMb: () => number;
  /** the highest RSS sampled (every 50 ms) since start or the last reset, in MiB */
  peakRssMb: () => number;
  resetPeak: () => void;
}

export interface AbuseOptions {
  env?: Record<string, string>;
  /** `ulimit -n` for the server (default 256) */
  maxFiles?: number;
  /** RSS above which the watchdog kills the server and the case fails (default 1536 MiB) */
  rssLimitMb?: number;
}

export function readRssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Starts dist/src/server.js (run `npm run build` first) under `ulimit -n` and an RSS watchdog. */
export async function startAbuseServer(t: Test, opts: AbuseOptions = {}): Promise<AbuseServer> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'te-abuse-'));
  const server = path.join(ROOT, 'dist/src/server.js');
  const cmd = `ulimit -n ${opts.maxFiles ?? 256} && exec "${process.execPath}" "${server}"`;
  const proc = spawn('bash', ['-c', cmd], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      API_KEYS: '',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (b) => (out += b));
  proc.stderr.on('data', (b) => (out += b));
  const exited = new Promise<Exit>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const pid = proc.pid!;
  let peak = 0;
  const limit = opts.rssLimitMb ?? 1536;
  const watchdog = setInterval(() => {
    const rss = readRssMb(pid);
    peak = Math.max(peak, rss);
    if (rss > limit) {
      out += `\n[harness] RSS ${rss.toFixed(0)} MiB over the watchdog's ${limit} MiB: killed\n`;
      proc.kill('SIGKILL');
    }
  }, 50);
  t.teardown(async () => {
    clearInterval(watchdog);
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not become ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base,
    port,
    pid,
    dataDir,
    exited,
    output: () => out,
    rssMb: () => readRssMb(pid),
    peakRssMb: () => peak,
    resetPeak: () => {
      peak = readRssMb(pid);
    },
  };
}

/** How long /healthz takes to answer, in ms (Infinity when it does not answer within 5 s). */
export async function healthLatencyMs(base: string): Promise<number> {
  const start = performance.now();
  try {
    const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
    return r.ok ? performance.now() - start : Infinity;
  } catch {
    return Infinity;
  }
}

/** A refused request's reply: a 4xx or 503 with the contract's JSON error shape. */
export async function expectRefusal(t: Test, res: Response, status: number, code: string): Promise<void> {
  t.equal(res.status, status, `${code}: status`);
  const body = (await res.json()) as { statusCode?: number; code?: string; error?: string; message?: string };
  t.match(body, { statusCode: status, code, error: String, message: String }, `${code}: JSON error`);
}

/** The checks every case ends with: alive, healthy, and RSS within `marginMb` of `baselineMb`. */
/** Every read route answers 200: the lists, and each dataset, job and model (up to 20 of each) in them. */
export async function expectReadsAnswer(t: Test, s: AbuseServer): Promise<void> {
  const failed: string[] = [];
  const get = async (route: string) => {
    const r = await fetch(`${s.base}${route}`);
    if (r.status !== 200) failed.push(`${route}: ${r.status}`);
    return r.status === 200 ? ((await r.json().catch(() => ({}))) as { items?: { id: string }[] }) : {};
  };
  for (const kind of ['datasets', 'jobs', 'models']) {
    const list = await get(`/${kind}?limit=20`);
    for (const { id } of list.items ?? []) await get(`/${kind}/${encodeURIComponent(id)}`);
  }
  const metrics = await fetch(`${s.base}/metrics`);
  if (metrics.status !== 200) failed.push(`/metrics: ${metrics.status}`);
  await metrics.arrayBuffer();
  t.same(failed, [], 'every read route answers 200');
}

export async function expectRecovered(t: Test, s: AbuseServer, baselineMb: number, marginMb = 256): Promise<void> {
  t.equal(
    await Promise.race([s.exited.then(() => 'exited'), Promise.resolve('alive')]),
    'alive',
    'the process is alive',
  );
  t.ok((await healthLatencyMs(s.base)) < 5000, '/healthz answers');
  await expectReadsAnswer(t, s);
  // memory goes back lazily: give the allocator and GC a moment
  let rss = s.rssMb();
  // up to 20 s: the service schedules at most one full collection every 10 s
  for (let i = 0; i < 80 && rss > baselineMb + marginMb; i++) {
    await new Promise((r) => setTimeout(r, 250));
    rss = s.rssMb();
  }
  t.ok(
    rss <= baselineMb + marginMb,
    `RSS ${rss.toFixed(0)} MiB is within ${marginMb} MiB of the baseline ${baselineMb.toFixed(0)} MiB`,
  );
}

// The event loop under issue 14's attacks (npm run bench -- --loop-under-abuse): builds and
// starts the server, then, while /healthz is polled, runs each attack at a small scale and
// reports /healthz p50/p99/max per phase: the heavy requests (indexTriplets, evaluation), then
// the connection, body and reply attacks of bench/http-attacks.ts (`--only http` runs just those).
// The goal is p99 under 100 ms; this is a measurement, never a test assertion.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import {
  createDataset,
  evaluationsToAbandon,
  importModel,
  indexTripletsBody,
  percentile,
  postEvaluate,
  postIndexTriplets,
  sampleHealth,
  threadCount,
  uploadSamples,
  waitFor,
} from '../scripts/heavy-attacks.js';
import { ROOT, startServer } from '../scripts/server-process.js';
import { largeJsonBodies, nearlyCompleteBinaries, slowBodies, slowReaders } from './http-attacks.js';

interface Phase {
  name: string;
  /** resolves with a note for the report (what the server answered), or nothing */
  run: () => Promise<string | void>;
}

/** The server's settings for these phases: a short body-idle timeout, so stalled bodies end within a phase. */
const BODY_IDLE_MS = 3000;

function report(name: string, ms: number[]): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'timeout');
  return `${name.padEnd(44)} n=${String(ms.length).padStart(4)}  p50 ${f(percentile(ms, 50))}  p99 ${f(percentile(ms, 99))}  max ${f(Math.max(...ms))} ms`;
}

export async function loopUnderAbuseCli(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    strict: false,
    options: {
      d: { type: 'string', default: '1024' },
      n: { type: 'string', default: '4000' },
      only: { type: 'string', default: 'all' },
    },
  });
  const d = Number(v.d);
  const n = Number(v.n);
  spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--quiet'], { stdio: 'inherit' });
  const dataDir = mkdtempSync(join(tmpdir(), 'te-loop-'));
  const s = await startServer({
    dataDir,
    stdio: 'quiet',
    env: { EVALUATION_CONCURRENCY: '2', BODY_IDLE_TIMEOUT_MS: String(BODY_IDLE_MS) },
  });
  const pid = s.proc.pid!;
  try {
    const ds = await createDataset(s.base, d);
    await uploadSamples(s.base, ds, n, d);
    const model = await importModel(s.base, 64, d);
    const evalSet = await createDataset(s.base, 16);
    await uploadSamples(s.base, evalSet, 12_000, 16);
    const evalModel = await importModel(s.base, 64, 16);
    // bodies built before the clock starts: building them would hold this process's loop, not the server's
    const overBudget = indexTripletsBody(100_000, n);
    const within = indexTripletsBody(5000, n);
    // Large replies: 4,096 rows (MAX_BATCH) of a 1024×64 model is 16 MiB of float32; /distances of
    // 1,400×1,400 vectors is 36 MB of JSON (under REPLY_BYTES_LIMIT, 64 MiB).
    const wide = await importModel(s.base, 1024, 64);
    const idle = { name: 'idle', run: async () => void (await waitFor(() => false, 2000)) };
    const http: Phase[] = [
      {
        name: `400 slow bodies (headers, 5 bytes, then nothing)`,
        run: slowBodies(s.port, 400, BODY_IDLE_MS + 2000),
      },
      {
        name: '24 nearly-complete 16 MiB binary /embed bodies',
        run: nearlyCompleteBinaries(s.port, model, d, 24, 16 * 2 ** 20, 4000),
      },
      {
        name: '8 slow readers: 16 MiB /embed, 36 MB /distances',
        run: slowReaders(s.port, wide, 64, {
          count: 8,
          rows: 4096,
          distancesA: 1400,
          distancesB: 1400,
          holdMs: 5000,
        }),
      },
      { name: '16 MiB JSON /embed bodies ×8, 2 at a time', run: largeJsonBodies(s.port, model, d, 16 * 2 ** 20, 8, 2) },
    ];
    const heavy: Phase[] = [
      {
        name: `indexTriplets over budget ×20 (d=${d})`,
        run: async () => {
          for (let i = 0; i < 20; i++) await (await postIndexTriplets(s.base, ds, overBudget)).arrayBuffer();
        },
      },
      {
        name: `indexTriplets 5,000 ×8 concurrent (d=${d})`,
        run: async () => {
          const rs = await Promise.all(Array.from({ length: 8 }, () => postIndexTriplets(s.base, ds, within)));
          await Promise.all(rs.map((r) => r.arrayBuffer()));
        },
      },
      {
        name: 'evaluation ×4 concurrent (n=12,000)',
        run: async () => {
          const rs = await Promise.all(Array.from({ length: 4 }, () => postEvaluate(s.base, evalModel, evalSet)));
          await Promise.all(rs.map((r) => r.arrayBuffer()));
        },
      },
      {
        name: 'evaluation ×8, clients hang up after 2 s',
        run: async () => {
          const base = threadCount(pid);
          const hangUp = evaluationsToAbandon(s.port, evalModel, evalSet, 8);
          await waitFor(() => false, 2000);
          hangUp();
          await waitFor(() => threadCount(pid) <= base, 60_000);
        },
      },
      {
        name: `evaluation on d=${d} samples (n=${n})`,
        run: async () => {
          const r = await postEvaluate(s.base, model, ds);
          if (!r.ok) console.log(`  (answered ${r.status} ${((await r.json()) as { code: string }).code})`);
        },
      },
    ];
    const phases = [idle, ...(v.only === 'http' ? [] : heavy), ...(v.only === 'heavy' ? [] : http)];
    console.log(`/healthz latency while each attack runs (server pid ${pid}):`);
    for (const p of phases) {
      const health = sampleHealth(s.base, 10);
      const start = performance.now();
      const note = await p.run();
      const ms = await health.stop();
      const took = `${((performance.now() - start) / 1000).toFixed(1)} s`;
      console.log(`${report(p.name, ms)}  (${took}${note ? `; ${note}` : ''})`);
    }
  } finally {
    s.proc.kill('SIGTERM');
    await s.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// The event loop under the heavy-work attacks (npm run bench -- --loop-under-abuse): builds and
// starts the server, then, while /healthz is polled, runs each attack at a small scale and
// reports /healthz p50/p99/max per phase. The goal is p99 under 100 ms; this is a measurement,
// never a test assertion.
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

interface Phase {
  name: string;
  run: () => Promise<void>;
}

function report(name: string, ms: number[]): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'timeout');
  return `${name.padEnd(44)} n=${String(ms.length).padStart(4)}  p50 ${f(percentile(ms, 50))}  p99 ${f(percentile(ms, 99))}  max ${f(Math.max(...ms))} ms`;
}

export async function loopUnderAbuseCli(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    strict: false,
    options: { d: { type: 'string', default: '1024' }, n: { type: 'string', default: '4000' } },
  });
  const d = Number(v.d);
  const n = Number(v.n);
  spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--quiet'], { stdio: 'inherit' });
  const dataDir = mkdtempSync(join(tmpdir(), 'te-loop-'));
  const s = await startServer({ dataDir, stdio: 'quiet', env: { EVALUATION_CONCURRENCY: '2' } });
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
    const phases: Phase[] = [
      { name: 'idle', run: async () => void (await waitFor(() => false, 2000)) },
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
    console.log(`/healthz latency while each attack runs (server pid ${pid}):`);
    for (const p of phases) {
      const health = sampleHealth(s.base, 10);
      const start = performance.now();
      await p.run();
      const ms = await health.stop();
      console.log(`${report(p.name, ms)}  (${((performance.now() - start) / 1000).toFixed(1)} s)`);
    }
  } finally {
    s.proc.kill('SIGTERM');
    await s.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

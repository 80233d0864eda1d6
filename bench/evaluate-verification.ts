// Time and memory of POST /models/:id/evaluate with its verification and identification pass, on
// the shared digits (1,797 samples, 64 features: 1.45 M impostor and 160,596 genuine pairs).
//   npx tsx bench/evaluate-verification.ts [k]
// A whole app (SQLite in a temp dir) with the samples uploaded and a k×64 model imported (the
// identity when k = 64, else a seeded random W); three evaluations through app.inject. Prints
// wall seconds of each, the process's CPU seconds (main thread and the evaluation worker, which
// hold on a busy machine), the growth of the peak RSS over the evaluations, and the service's own
// cost figures (src/services/labelled-metrics.ts) beside them. Speed lives here, never in tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { makeConfig } from '../src/config.js';
import { createRng } from '../src/math/rng.js';
import { evaluationCost } from '../src/services/evaluation.js';
import { verificationCost, verificationOptions } from '../src/services/labelled-metrics.js';

const k = Number(process.argv[2] ?? 64);
const SHARED = fileURLToPath(new URL('../../shared/data/digits/', import.meta.url));
const samples: { vector: number[]; label: number }[] = [];
for (const name of ['train.csv', 'test.csv']) {
  for (const line of fs
    .readFileSync(SHARED + name, 'utf8')
    .trim()
    .split('\n')
    .slice(1)) {
    const row = line.split(',').map(Number);
    samples.push({ vector: row.slice(1), label: row[0] });
  }
}
const d = 64;
const rng = createRng(7);
const W = Array.from({ length: k }, (_, i) =>
  Array.from({ length: d }, (_, j) => (k === d ? +(i === j) : rng.normal() / Math.sqrt(d))),
);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-evaluate-'));
const app = await buildApp(makeConfig({ dataDir: dir, logLevel: 'silent' }), { logger: false });
await app.ready();
try {
  const ds = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: d } })).json().id;
  await app.inject({ method: 'POST', url: `/datasets/${ds}/samples`, payload: { samples } });
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W } })).json().id;
  const rss0 = process.resourceUsage().maxRSS;
  const cpu0 = process.cpuUsage();
  const walls: number[] = [];
  let body: any;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = await app.inject({ method: 'POST', url: `/models/${model}/evaluate`, payload: { datasetId: ds } });
    walls.push((performance.now() - t0) / 1000);
    if (r.statusCode !== 200) throw new Error(r.body);
    body = r.json();
  }
  const cpu = process.cpuUsage(cpu0);
  const rss1 = process.resourceUsage().maxRSS;
  const v = body.verification;
  const pass = verificationCost(
    { n: samples.length, genuine: v.genuineTotal, impostors: v.impostorTotal, labels: 10 },
    k,
    verificationOptions(),
  );
  const base = evaluationCost(0, samples.length, d, k);
  console.log(
    JSON.stringify({
      k,
      n: samples.length,
      genuine: v.genuineCount,
      impostors: v.impostorCount,
      wallSeconds: walls.map((w) => +w.toFixed(2)),
      cpuSecondsPerEvaluation: +((cpu.user + cpu.system) / 3e6).toFixed(2),
      peakRssGrowthMB: +((rss1 - rss0) / 1024).toFixed(1),
      costMB: { retrieval: +(base.bytes / 2 ** 20).toFixed(1), verification: +(pass.bytes / 2 ** 20).toFixed(1) },
      costWork: { retrieval: base.work, verification: pass.work },
      tarAt1e3: v.tarAtFar[2].tar,
      eer: v.eer,
      auc: v.auc,
      cmc1: body.identification.cmc[0].rate,
    }),
  );
} finally {
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

// How well a mined job's `etaMs` foresees the time left: uploads a labelled set to a running server,
// trains with the defaults and no early stop, and prints each chosen point's etaMs against the time
// that was actually left (from the job's stored history).
//   BASE=http://localhost:8080 npx tsx scripts/eta-accuracy.ts [--set faces-hard|digits] [--steps 3000]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DIGITS_DIR, FACE_SETS, facesOpenSet, readCsv } from '../bench/quality.js';

const { values } = parseArgs({
  options: { set: { type: 'string', default: 'faces-hard' }, steps: { type: 'string', default: '3000' } },
});
const BASE = process.env.BASE ?? 'http://localhost:8080';
const auth: Record<string, string> = process.env.API_KEY ? { authorization: `Bearer ${process.env.API_KEY}` } : {};

async function call(method: string, url: string, body?: unknown): Promise<any> {
  const headers = { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) };
  const r = await fetch(BASE + url, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const json = await r.json();
  if (r.status >= 400) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** [label, ...vector] rows and the output dimension the quality bench uses for the set. */
function rowsOf(set: string): { rows: number[][]; k: number } {
  if (set === 'digits') {
    const { X, y } = readCsv(join(DIGITS_DIR, 'train.csv'));
    return { rows: X.map((x, i) => [y[i], ...x]), k: 16 };
  }
  const s = facesOpenSet(1, FACE_SETS[set], set).train;
  const row = (i: number) => [
    s.labels[i],
    ...Array.from(s.X.subarray(i * s.d, (i + 1) * s.d), (v) => Math.round(v * 1e4) / 1e4),
  ];
  return { rows: Array.from({ length: s.n }, (_, i) => row(i)), k: 128 };
}

const { rows, k } = rowsOf(values.set!);
const ds = await call('POST', '/datasets', { name: `eta-${values.set}`, dimension: rows[0].length - 1 });
for (let i = 0; i < rows.length; i += 500) {
  const samples = rows.slice(i, i + 500).map((r) => ({ label: String(r[0]), vector: r.slice(1) }));
  await call('POST', `/datasets/${ds.id}/samples`, { samples });
}
const job = await call('POST', '/train', {
  datasetId: ds.id,
  outputDimension: k,
  patience: 0,
  maxIterations: Number(values.steps),
});
let st = job;
while (st.status === 'queued' || st.status === 'running') {
  await new Promise((r) => setTimeout(r, 500));
  st = await call('GET', `/jobs/${job.id}`);
}
const history = await call('GET', `/jobs/${job.id}/events?format=json&limit=1000`);
const points = history.items
  .map((e: any) => e.progress)
  .filter((p: any) => p.phase === 'training' && typeof p.etaMs === 'number');
const end = points.at(-1).elapsedMs;
console.log(`${values.set}: ${st.status}, ${st.metrics.iterations} steps, normalized ${st.metrics.normalized}`);
for (const share of [0.05, 0.1, 0.15, 0.25, 0.5, 0.75]) {
  const p = points.find((q: any) => q.iteration >= share * q.maxIterations);
  if (!p) continue;
  const left = end - p.elapsedMs;
  console.log(
    `step ${p.iteration}: etaMs ${(p.etaMs / 1000).toFixed(1)} s, left ${(left / 1000).toFixed(1)} s, ratio ${(p.etaMs / left).toFixed(2)}`,
  );
}

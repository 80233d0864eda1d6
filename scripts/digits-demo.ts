// Trains on the shared digits triplets through the HTTP API of a running service, then writes
// the learned W for ../shared/tools/eval/eval.py.
//   npx tsx scripts/digits-demo.ts [--base http://localhost:8080] [--k 16] [--normalize] [--weightDecay 1e-4]
//                                  [--optimizer lbfgs] [--init pca] [--maxIterations 400] [--out W.json]
//   npx tsx scripts/digits-demo.ts --samples [--k 16]     labelled samples with the default online mining
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    base: { type: 'string', default: process.env.BASE ?? 'http://localhost:8080' },
    data: { type: 'string', default: path.resolve('../shared/data/digits') },
    k: { type: 'string', default: '16' },
    normalize: { type: 'boolean', default: false },
    weightDecay: { type: 'string', default: '0' },
    optimizer: { type: 'string', default: 'lbfgs' },
    init: { type: 'string', default: 'pca' },
    maxIterations: { type: 'string', default: '400' },
    seed: { type: 'string', default: '0' },
    out: { type: 'string', default: 'W.json' },
    samples: { type: 'boolean', default: false },
  },
});

function readCsv(file: string): { labels: number[]; rows: number[][] } {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1);
  const rows = lines.map((l) => l.split(',').map(Number));
  return { labels: rows.map((r) => r[0]), rows: rows.map((r) => r.slice(1)) };
}

async function call(method: string, url: string, body?: unknown, type = 'application/json'): Promise<any> {
  const res = await fetch(`${a.base}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': type },
    body: body === undefined ? undefined : type === 'application/json' ? JSON.stringify(body) : (body as Buffer),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const { rows, labels } = readCsv(path.join(a.data, 'train.csv'));
const triplets: [number, number, number][] = JSON.parse(
  fs.readFileSync(path.join(a.data, 'train_triplets.json'), 'utf8'),
).triplets;
const d = rows[0].length;
const ds = await call('POST', '/datasets', {
  name: a.samples ? 'digits train samples' : 'digits train triplets',
  dimension: d,
});
let job;
const started = Date.now();
if (a.samples) {
  // Labelled samples; the service mines triplets from them online (its default mining).
  const up = await call('POST', `/datasets/${ds.id}/samples`, {
    samples: rows.map((vector, i) => ({ vector, label: labels[i] })),
  });
  console.log(`uploaded ${up.added} labelled samples to ${ds.id}`);
  job = await call('POST', '/train', { datasetId: ds.id, outputDimension: Number(a.k), seed: Number(a.seed) });
} else {
  // Binary upload: n × (anchor, positive, negative) × d little-endian float32.
  const bin = new Float32Array(triplets.length * 3 * d);
  triplets.forEach((t, i) => t.forEach((r, j) => bin.set(rows[r], (i * 3 + j) * d)));
  const up = await call('POST', `/datasets/${ds.id}/triplets`, Buffer.from(bin.buffer), 'application/octet-stream');
  console.log(`uploaded ${up.added} triplets to ${ds.id}`);
  job = await call('POST', '/train', {
    datasetId: ds.id,
    outputDimension: Number(a.k),
    normalize: a.normalize,
    weightDecay: Number(a.weightDecay),
    optimizer: a.optimizer,
    init: a.init,
    maxIterations: Number(a.maxIterations),
    seed: Number(a.seed),
  });
}
while (['queued', 'running'].includes(job.status)) {
  await new Promise((r) => setTimeout(r, 250));
  job = await call('GET', `/jobs/${job.id}`);
}
const wall = (Date.now() - started) / 1000;
if (job.status !== 'succeeded') throw new Error(`job ${job.id} ${job.status}: ${JSON.stringify(job.error)}`);
console.log(`job ${job.id} ${job.status} in ${wall.toFixed(1)} s:`, JSON.stringify(job.metrics));
const weights = await call('GET', `/models/${job.modelId}/weights`);
fs.writeFileSync(a.out, JSON.stringify(weights));
console.log(
  `wrote ${a.out} (model ${job.modelId}); score it with:\n  /usr/bin/python3 ../shared/tools/eval/eval.py --W ${a.out} --set digits`,
);

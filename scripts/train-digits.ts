// Trains on the digits triplets with train() and writes {"W": [[...]], "normalize": bool}
// for ../shared/tools/eval/eval.py.
//   npx tsx scripts/train-digits.ts [--k 16] [--normalize] [--weightDecay 1e-4] [--out /tmp/W.json]
//     [--init pca|uniform|identity] [--optimizer lbfgs|cg] [--maxIterations 400] [--margin 0.2] [--seed 0]
//     [--data ../shared/data/digits]
import { fileURLToPath } from 'node:url';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_TRAIN_PARAMS, train, type InitName, type OptimizerName, type TripletSet } from '../src/math/index.js';

const { values: a } = parseArgs({
  options: {
    k: { type: 'string', default: '16' },
    normalize: { type: 'boolean', default: false },
    weightDecay: { type: 'string', default: String(DEFAULT_TRAIN_PARAMS.weightDecay) },
    margin: { type: 'string', default: String(DEFAULT_TRAIN_PARAMS.margin) },
    init: { type: 'string', default: DEFAULT_TRAIN_PARAMS.init },
    optimizer: { type: 'string', default: DEFAULT_TRAIN_PARAMS.optimizer },
    maxIterations: { type: 'string', default: String(DEFAULT_TRAIN_PARAMS.maxIterations) },
    seed: { type: 'string', default: '0' },
    out: { type: 'string', default: '/tmp/W.json' },
    data: { type: 'string', default: fileURLToPath(new URL('../../shared/data/digits', import.meta.url)) },
  },
});

function readCsv(path: string): { X: Float32Array; n: number; d: number } {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const d = lines[0].split(',').length - 1;
  const n = lines.length - 1;
  const X = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const cells = lines[i + 1].split(',');
    for (let j = 0; j < d; j++) X[i * d + j] = Number(cells[j + 1]);
  }
  return { X, n, d };
}

function tripletSet(X: Float32Array, d: number, triplets: number[][]): TripletSet {
  const m = triplets.length;
  const sets = [new Float32Array(m * d), new Float32Array(m * d), new Float32Array(m * d)];
  triplets.forEach((t, i) => t.forEach((row, s) => sets[s].set(X.subarray(row * d, (row + 1) * d), i * d)));
  return { m, d, anchors: sets[0], positives: sets[1], negatives: sets[2] };
}

const { X, d } = readCsv(`${a.data}/train.csv`);
const trip = JSON.parse(readFileSync(`${a.data}/train_triplets.json`, 'utf8')).triplets as number[][];
const set = tripletSet(X, d, trip);
const params = {
  ...DEFAULT_TRAIN_PARAMS,
  outputDimension: Number(a.k),
  normalize: a.normalize,
  weightDecay: Number(a.weightDecay),
  margin: Number(a.margin),
  init: a.init as InitName,
  optimizer: a.optimizer as OptimizerName,
  maxIterations: Number(a.maxIterations),
  seed: Number(a.seed),
};
const t0 = performance.now();
const r = train(set, params);
const ms = performance.now() - t0;
console.log(JSON.stringify({ params, m: set.m, d, metrics: r.metrics }, null, 1));
console.log(`train ${ms.toFixed(0)} ms, ${(ms / r.metrics.functionEvaluations).toFixed(2)} ms/evaluation`);
const W: number[][] = [];
for (let i = 0; i < r.k; i++) W.push(Array.from(r.W.subarray(i * d, (i + 1) * d)));
writeFileSync(a.out, JSON.stringify({ W, normalize: params.normalize }));
console.log(`wrote ${a.out}`);

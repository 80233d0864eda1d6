// Trains on the digits labelled train samples with trainMined() and writes {"W": [[...]], "normalize": bool}
// for ../shared/tools/eval/eval.py.
//   npx tsx scripts/train-digits-mined.ts [--k 16] [--out /tmp/Wm.json] [--data ../shared/data/digits]
//     [--mining semihard+batchhard|semihard|batchhard|none] [--loss hinge|softplus] [--distance euclidean|squared]
//     [--no-normalize] [--margin 0.2] [--learningRate auto] [--maxIterations 3000] [--batchSize 80]
//     [--samplesPerLabel 8] [--validationFraction 0.1] [--validationSplit auto|labels|samples]
//     [--reduction nonzero|all] [--patience 10] [--evaluationInterval 100] [--weightDecay 0] [--seed 0] [--quiet]
import { fileURLToPath } from 'node:url';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DEFAULT_MINED_PARAMS,
  trainMined,
  type DistanceName,
  type MinedLossName,
  type MinedTrainParams,
  type MiningName,
  type ReductionName,
  type ValidationSplit,
} from '../src/math/mining/index.js';

const D = DEFAULT_MINED_PARAMS;
const { values: a } = parseArgs({
  options: {
    k: { type: 'string', default: '16' },
    'no-normalize': { type: 'boolean', default: false },
    mining: { type: 'string', default: D.mining },
    loss: { type: 'string', default: D.loss },
    distance: { type: 'string', default: D.distance },
    margin: { type: 'string', default: String(D.margin) },
    learningRate: { type: 'string', default: String(D.learningRate) },
    maxIterations: { type: 'string', default: String(D.maxIterations) },
    batchSize: { type: 'string', default: String(D.batchSize) },
    samplesPerLabel: { type: 'string', default: String(D.samplesPerLabel) },
    validationFraction: { type: 'string', default: String(D.validationFraction) },
    validationSplit: { type: 'string', default: D.validationSplit },
    weightDecay: { type: 'string', default: String(D.weightDecay) },
    patience: { type: 'string', default: String(D.patience) },
    reduction: { type: 'string', default: D.reduction },
    evaluationInterval: { type: 'string', default: String(D.evaluationInterval) },
    seed: { type: 'string', default: String(D.seed) },
    out: { type: 'string', default: '/tmp/Wm.json' },
    data: { type: 'string', default: fileURLToPath(new URL('../../shared/data/digits', import.meta.url)) },
    quiet: { type: 'boolean', default: false },
  },
});

function readLabelledCsv(path: string): { X: Float32Array; labels: Int32Array; n: number; d: number } {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  if (header[0] !== 'label') throw new Error(`${path}: first column must be "label"`);
  const d = header.length - 1;
  const n = lines.length - 1;
  const X = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cells = lines[i + 1].split(',');
    labels[i] = Number(cells[0]);
    for (let j = 0; j < d; j++) X[i * d + j] = Number(cells[j + 1]);
  }
  return { X, labels, n, d };
}

const t0 = performance.now();
const data = readLabelledCsv(`${a.data}/train.csv`);
const params: MinedTrainParams = {
  ...DEFAULT_MINED_PARAMS,
  outputDimension: Number(a.k),
  normalize: !a['no-normalize'],
  mining: a.mining as MiningName,
  loss: a.loss as MinedLossName,
  distance: a.distance as DistanceName,
  margin: Number(a.margin),
  learningRate: a.learningRate === 'auto' ? 'auto' : Number(a.learningRate),
  maxIterations: Number(a.maxIterations),
  batchSize: Number(a.batchSize),
  samplesPerLabel: Number(a.samplesPerLabel),
  validationFraction: Number(a.validationFraction),
  validationSplit: a.validationSplit as ValidationSplit,
  weightDecay: Number(a.weightDecay),
  patience: Number(a.patience),
  reduction: a.reduction as ReductionName,
  evaluationInterval: Number(a.evaluationInterval),
  seed: Number(a.seed),
};
const t1 = performance.now();
const r = trainMined(data, params, {
  progressIntervalMs: 1000,
  onProgress: a.quiet
    ? undefined
    : (p) => {
        const v =
          p.mapAtR === undefined
            ? ''
            : `  val p@1 ${p.precisionAt1?.toFixed(3)} MAP@R ${p.mapAtR.toFixed(3)} (step ${p.validationIteration})`;
        console.error(
          `step ${p.iteration}/${p.maxIterations} loss ${p.loss.toFixed(4)} active ${p.activeFraction.toFixed(3)}${v}`,
        );
      },
});
const t2 = performance.now();
console.log(JSON.stringify({ params, n: data.n, d: data.d, metrics: r.metrics }, null, 1));
console.log(
  `load ${(t1 - t0).toFixed(0)} ms, train ${(t2 - t1).toFixed(0)} ms (${r.metrics.iterations} steps, ${((r.metrics.samplesSeen / (t2 - t1)) * 1000).toFixed(0)} samples/s)`,
);
const W: number[][] = [];
for (let i = 0; i < r.k; i++) W.push(Array.from(r.W.subarray(i * data.d, (i + 1) * data.d)));
writeFileSync(a.out, JSON.stringify({ W, normalize: params.normalize }));
console.log(`wrote ${a.out}`);

// Mining and training throughput of online triplet mining, in samples per second.
//   npx tsx bench/mining.ts [n] [d]        (bench/index.ts wires `npm run bench -- --mining` to benchMining)
// Synthetic data: n float32 samples of dimension d in n/100 Gaussian classes.
// - mining:   distances + the default miners (semihard+batchhard) on P×K batch embeddings
// - step:     one training step: P×K sampling, gather, forward, mining, loss, backward, Adam
// - trainMined: the whole call with DEFAULT_MINED_PARAMS (split, PCA init, validation every 100 steps)
import { pathToFileURL } from 'node:url';
import { createAdam } from '../src/math/optim/adam.js';
import { RELATIVE_LEARNING_RATE } from '../src/math/mining/learning-rate.js';
import { createRng } from '../src/math/rng.js';
import {
  batchDistances,
  createBatchObjective,
  createPKSampler,
  DEFAULT_MINED_PARAMS,
  mineBatchHard,
  mineSemihard,
  trainMined,
  TripletBuffer,
  type LabelledSamples,
} from '../src/math/mining/index.js';

export interface MiningBenchOptions {
  n: number;
  d: number;
  /** output dimension (default 32) */
  k?: number;
  /** steps timed for the mining and step figures (default 2000) */
  steps?: number;
  /** optimiser steps of the trainMined run (default DEFAULT_MINED_PARAMS.maxIterations) */
  trainIterations?: number;
  seed?: number;
}

export interface MiningBenchResult {
  n: number;
  d: number;
  k: number;
  batchSize: number;
  /** batch samples mined per second (distances + semihard + batchhard) */
  miningSamplesPerSecond: number;
  /** batch samples per second through a full training step */
  stepSamplesPerSecond: number;
  /** samplesSeen / wall time of a whole trainMined call (includes split, init, validation) */
  trainSamplesPerSecond: number;
  trainWallMs: number;
  trainIterations: number;
  dataGenerationMs: number;
}

function synthetic(n: number, d: number, seed: number): LabelledSamples {
  const rng = createRng(seed);
  const classes = Math.max(2, Math.floor(n / 100));
  const centres = new Float32Array(classes * d);
  for (let i = 0; i < centres.length; i++) centres[i] = rng.normal();
  const X = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = rng.int(classes);
    labels[i] = y;
    for (let j = 0; j < d; j++) X[i * d + j] = centres[y * d + j] + 1.5 * rng.normal();
  }
  return { n, d, X, labels };
}

const now = (): number => performance.now();

export function benchMining(opts: MiningBenchOptions): MiningBenchResult {
  const { n, d } = opts;
  const k = opts.k ?? 32;
  const steps = opts.steps ?? 2000;
  const seed = opts.seed ?? 1;
  const p = DEFAULT_MINED_PARAMS;
  const K = p.samplesPerLabel;
  const P = Math.floor(p.batchSize / K);
  const B = P * K;

  const g0 = now();
  const data = synthetic(n, d, seed);
  const dataGenerationMs = now() - g0;

  const rng = createRng(seed + 1);
  const W = new Float64Array(k * d);
  for (let i = 0; i < W.length; i++) W[i] = rng.normal() / Math.sqrt(d);
  const sampler = createPKSampler(data.labels, null, P, K, seed + 2);
  const rows = new Int32Array(B);
  const lab = new Int32Array(B);
  const Xb = new Float32Array(B * d);
  const gather = (b: number) => {
    for (let t = 0; t < b; t++) Xb.set(data.X.subarray(rows[t] * d, rows[t] * d + d), t * d);
  };
  const objective = createBatchObjective(k, d, B, {
    margin: p.margin,
    loss: p.loss,
    distance: p.distance,
    normalize: true, // the unit-norm path, the costlier of the two
    mining: p.mining,
    reduction: p.reduction,
  });

  // mining only: embeddings of one batch, then distances + both miners, repeated over fresh batches
  const E = new Float64Array(B * k);
  const S = new Float64Array(B * B);
  const D = new Float64Array(B * B);
  const sh = new TripletBuffer(B * B);
  const bh = new TripletBuffer(B);
  let mined = 0;
  let minedSamples = 0;
  let miningMs = 0;
  for (let s = 0; s < steps; s++) {
    const b = sampler.next(rows, lab);
    gather(b);
    objective.evaluate(W, Xb, lab, b, null); // fills objective.embeddings (normalised)
    E.set(objective.embeddings.subarray(0, b * k));
    const t0 = now();
    batchDistances(E, b, k, p.distance, S, D);
    mineSemihard(D, lab, b, sh);
    mineBatchHard(D, lab, b, bh);
    miningMs += now() - t0;
    mined += sh.count + bh.count;
    minedSamples += b;
  }

  // full training steps
  const grad = new Float64Array(k * d);
  // the kernels' cost does not depend on the rate: `auto` runs at its value for a unit-RMS start
  const learningRate = p.learningRate === 'auto' ? RELATIVE_LEARNING_RATE : p.learningRate;
  const adam = createAdam(k * d, { learningRate, schedule: { kind: 'cosine', totalSteps: steps } });
  let stepSamples = 0;
  const s0 = now();
  for (let s = 0; s < steps; s++) {
    const b = sampler.next(rows, lab);
    gather(b);
    objective.evaluate(W, Xb, lab, b, grad);
    adam.update(W, grad);
    stepSamples += b;
  }
  const stepMs = now() - s0;

  // whole trainMined call
  const trainIterations = opts.trainIterations ?? p.maxIterations;
  const t0 = now();
  const r = trainMined(data, { ...p, outputDimension: k, maxIterations: trainIterations, patience: 0 });
  const trainWallMs = now() - t0;
  if (mined < 0) throw new Error('unreachable'); // keeps the mining loop observable

  return {
    n,
    d,
    k,
    batchSize: B,
    miningSamplesPerSecond: (minedSamples / miningMs) * 1000,
    stepSamplesPerSecond: (stepSamples / stepMs) * 1000,
    trainSamplesPerSecond: (r.metrics.samplesSeen / trainWallMs) * 1000,
    trainWallMs,
    trainIterations: r.metrics.iterations,
    dataGenerationMs,
  };
}

export function formatMiningBench(r: MiningBenchResult): string {
  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  return [
    `mining bench: n=${r.n} d=${r.d} k=${r.k} batch P×K=${r.batchSize}`,
    `  mining (distances + semihard + batchhard): ${f(r.miningSamplesPerSecond)} samples/s`,
    `  training step (sample, forward, mine, backward, Adam): ${f(r.stepSamplesPerSecond)} samples/s`,
    `  trainMined, ${r.trainIterations} steps incl. split, PCA init, validation: ${f(r.trainSamplesPerSecond)} samples/s, ${(r.trainWallMs / 1000).toFixed(2)} s`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = Number(process.argv[2] ?? 100000);
  const d = Number(process.argv[3] ?? 128);
  console.log(formatMiningBench(benchMining({ n, d })));
}

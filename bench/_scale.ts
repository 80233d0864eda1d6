import { createCompute } from '../src/compute/index.js';
import { initW } from '../src/math/init.js';
import { createTrainingObjective } from '../src/math/train.js';
import { faceCase } from './time-to-quality.js';
const c = faceCase();
const compute = await createCompute({ kernels: 'wasm', threads: 2 } as any);
const set = { d: c.d, m: c.m, n: c.n, samples: c.X, refs: c.T };
const W = initW({ init: 'pca', k: c.k, d: c.d, seed: c.seed }, set, compute.kernels);
const obj = createTrainingObjective(set, { margin: c.margin, normalize: false, weightDecay: c.weightDecay }, compute.kernels);
console.log('wd', c.weightDecay, 'margin', c.margin, 'historySize', c.historySize, 'maxIt', c.maxIterations);
for (const s of [0.5, 1, 1.5, 2, 3, 4, 6, 8]) {
  const v = obj.evaluate(W.map((x) => x * s), c.k, null);
  console.log(s, v.loss.toFixed(5), v.activeCount);
}
process.exit(0);

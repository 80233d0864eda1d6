import { createCompute } from '../src/compute/index.js';
import { initW } from '../src/math/init.js';
import { createTrainingObjective } from '../src/math/train.js';
import { faceCase } from './time-to-quality.js';
const c = faceCase();
const wide = process.argv[2] === 'wide';
const compute = await createCompute({ kernels: 'wasm', threads: 2, wide } as any);
console.log(compute.kernels.name);
const set = { d: c.d, m: c.m, n: c.n, samples: c.X, refs: c.T };
const W = initW({ init: 'pca', k: c.k, d: c.d, seed: c.seed }, set, compute.kernels);
const obj = createTrainingObjective(set, { margin: c.margin, normalize: false, weightDecay: c.weightDecay }, compute.kernels);
const g = new Float64Array(c.k * c.d);
for (let r = 0; r < 3; r++) { obj.evaluate(W, c.k, g); }
const time = (f: () => void, n = 8) => { const ts: number[] = []; for (let i = 0; i < n; i++) { const t = performance.now(); f(); ts.push(performance.now() - t); } ts.sort((a, b) => a - b); return ts[n >> 1].toFixed(1); };
for (let r = 0; r < 2; r++) {
  const W2 = W.map((v, i) => v * (1 + 1e-3 * ((i % 7) - 3)));
  console.log('loss+grad', time(() => obj.evaluate(W2, c.k, g)), 'loss only', time(() => obj.evaluate(W2, c.k, null)));
}
process.exit(0);

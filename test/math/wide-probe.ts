// Run by kernels-wide.test.ts in a child process (not a test itself: tap runs *.test.ts only).
// Trains, evaluates and embeds one fixed problem with the kernels this process picks
// (TRIPLET_WIDE_KERNELS decides, so one child can fuse 256-bit code and another not) and prints
// {"wide": …, "digest": …}, a hash of every value computed.
import { createHash } from 'node:crypto';
import { createCompute, useWideKernels } from '../../src/compute/index.js';
import { loadConfig } from '../../src/config.js';
import type { WasmKernels } from '../../src/math/kernels/wasm.js';
import { createTripletObjective } from '../../src/math/losses.js';
import { createRng } from '../../src/math/rng.js';
import { train } from '../../src/math/train.js';
import { randomSet } from './helpers.js';

const h = createHash('sha256');
const add = (v: ArrayLike<number>) => h.update(new Uint8Array(Float64Array.from(v).buffer));
const choice = loadConfig().compute.wide;
const wide = useWideKernels(choice);
const c = await createCompute({ kernels: 'wasm', threads: 2, wide: choice });
const rng = createRng(77);
const d = 100,
  k = 24;
const set = randomSet(rng, 3000, d);
for (const normalize of [false, true]) {
  const params = {
    outputDimension: k,
    margin: 0.2,
    optimizer: 'lbfgs' as const,
    maxIterations: 8,
    normalize,
    weightDecay: 0,
    init: 'uniform' as const,
    seed: 5,
    gradientTolerance: 1e-9,
    historySize: 5,
  };
  const W = train(set, params, {}, c.kernels).W;
  add(W);
  const obj = createTripletObjective(set, { margin: 0.2, normalize, weightDecay: 0 }, c.kernels);
  const g = new Float64Array(k * d);
  const v = obj.evaluate(W, k, g);
  obj.dispose?.();
  add([v.loss, v.activeCount, v.correctCount]);
  add(g);
  const p = (c.kernels as WasmKernels).prepareProjection(W, k, d);
  const y = new Float32Array(301 * k);
  p.embed(set.anchors.subarray(0, 301 * d), 301, normalize, y);
  p.dispose();
  add(y);
}
await c.close();
console.log(JSON.stringify({ wide, digest: h.digest('hex').slice(0, 16) }));

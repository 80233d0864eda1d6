// npm run bench -- --pca-init [--d 1024] [--k 128] [--m 5000] [--rounds 2] [--threads 1] [--kernels wasm|js]
// PCA init at dimension d: the randomized top-k path (what initW runs above PCA_EXACT_MAX_D) against
// the exact eigen-decomposition of the same covariance sample, alternating in one process, so that
// the ratio survives a shared machine. Also prints how much of the exact top-k variance it captures.
import { parseArgs } from 'node:util';
import { createCompute, type KernelChoice } from '../src/compute/index.js';
import { initW, usesRandomizedPca } from '../src/math/init.js';
import { createRng } from '../src/math/rng.js';
import type { TripletSet } from '../src/math/types.js';
import { median } from './data.js';

/** Standard-normal rows with a decaying spectrum (column j scaled by 1/√(1+j/8)), like real features. */
function spectrumRows(m: number, d: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const X = new Float32Array(m * d);
  for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) X[i * d + j] = rng.normal() / Math.sqrt(1 + j / 8);
  return X;
}

/** Σ over rows of W of ‖X wᵣ‖² / ‖wᵣ‖² (variance captured, up to the 1/(n−1) both share). */
function captured(W: Float64Array, k: number, d: number, X: Float32Array, m: number): number {
  let total = 0;
  for (let r = 0; r < k; r++) {
    const w = W.subarray(r * d, (r + 1) * d);
    let ww = 0;
    for (let j = 0; j < d; j++) ww += w[j] * w[j];
    let s = 0;
    for (let i = 0; i < m; i++) {
      let p = 0;
      for (let j = 0; j < d; j++) p += X[i * d + j] * w[j];
      s += p * p;
    }
    total += s / ww;
  }
  return total;
}

export async function pcaInitCli(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'pca-init': { type: 'boolean' },
      d: { type: 'string', default: '1024' },
      k: { type: 'string', default: '128' },
      m: { type: 'string', default: '5000' },
      rounds: { type: 'string', default: '2' },
      threads: { type: 'string', default: '1' },
      kernels: { type: 'string', default: 'auto' },
    },
  });
  const d = Number(v.d);
  const k = Number(v.k);
  const m = Number(v.m);
  const X = spectrumRows(3 * m, d, 1);
  const set: TripletSet = {
    m,
    d,
    anchors: X.subarray(0, m * d),
    positives: X.subarray(m * d, 2 * m * d),
    negatives: X.subarray(2 * m * d),
  };
  const compute = await createCompute({ kernels: v.kernels as KernelChoice, threads: Number(v.threads) });
  console.log(`PCA init d=${d} k=${k} (${3 * m} rows), kernels ${compute.kernels.name}, node ${process.version}`);
  console.log(`randomized path taken by initW: ${usesRandomizedPca(k, d)}`);
  const times = { randomized: [] as number[], exact: [] as number[] };
  let Wr: Float64Array = new Float64Array(0);
  let We: Float64Array = new Float64Array(0);
  for (let round = 0; round < Number(v.rounds); round++) {
    let t0 = performance.now();
    Wr = initW({ init: 'pca', k, d, seed: 0 }, set, compute.kernels);
    times.randomized.push(performance.now() - t0);
    t0 = performance.now();
    We = initW({ init: 'pca', k, d, seed: 0, pcaMethod: 'exact' }, set, compute.kernels);
    times.exact.push(performance.now() - t0);
    console.log(
      `round ${round + 1}: randomized ${times.randomized[round].toFixed(0)} ms, exact ${times.exact[round].toFixed(0)} ms`,
    );
  }
  const sample = Math.min(3 * m, 4000);
  const cr = captured(Wr, k, d, X, sample);
  const ce = captured(We, k, d, X, sample);
  const mr = median(times.randomized);
  const me = median(times.exact);
  console.log(
    JSON.stringify({ d, k, randomizedMs: mr, exactMs: me, ratio: mr / me, capturedVsExact: cr / ce }, null, 0),
  );
  await compute.close();
}

// npm run bench -- --inactive-skip [--cases digits,face] [--rounds 3] [--threads 1]   (decision 0053)
// The indexed objective with the inactive-triplet skip on and off, alternating in one process: the
// same L-BFGS run (PCA start, the time-to-quality cases' data, loss and k) to scipy's iteration cap,
// timed from the start (after PCA), with the evaluations that skipped and the mean share skipped.
// Both runs must end at the same loss (the skip changes no figure in float64; in float32 a partial
// projection may round differently, so the check there is relative).
import { parseArgs } from 'node:util';
import { createCompute } from '../src/compute/index.js';
import { createIndexedObjective } from '../src/math/indexed-objective.js';
import { initW } from '../src/math/init.js';
import { minimizeLbfgs } from '../src/math/optim/lbfgs.js';
import type { Kernels } from '../src/math/kernels/types.js';
import type { IndexedTripletSet } from '../src/math/types.js';
import { digitsCase, faceCase, type Case } from './time-to-quality.js';

interface Run {
  ms: number;
  evaluations: number;
  skipping: number;
  skippedShare: number;
  loss: number;
}

function run(c: Case, set: IndexedTripletSet, W0: Float64Array, kernels: Kernels, skip: boolean): Run {
  const opts = { margin: c.margin, normalize: false, weightDecay: c.weightDecay, inactiveSkip: skip };
  const objective = createIndexedObjective(set, opts, kernels);
  let evaluations = 0;
  let skipping = 0;
  let skipped = 0;
  const start = performance.now();
  try {
    const res = minimizeLbfgs(
      (W, g) => {
        const v = objective.evaluate(W, c.k, g);
        evaluations++;
        if (objective.lastSkipped > 0) skipping++;
        skipped += objective.lastSkipped;
        return v.loss;
      },
      W0,
      { maxIterations: c.maxIterations, gradientTolerance: 0, historySize: c.historySize },
    );
    const ms = performance.now() - start;
    return { ms, evaluations, skipping, skippedShare: skipped / (evaluations * c.m), loss: res.f };
  } finally {
    objective.dispose?.();
  }
}

export async function inactiveSkipCli(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'inactive-skip': { type: 'boolean' },
      cases: { type: 'string', default: 'digits,face' },
      rounds: { type: 'string', default: '3' },
      threads: { type: 'string', default: '1' },
    },
  });
  const compute = await createCompute({ threads: Number(v.threads) });
  try {
    for (const name of v.cases!.split(',')) {
      const c = name === 'digits' ? digitsCase() : name === 'face' ? faceCase() : null;
      if (!c) throw new Error(`unknown case ${name}`);
      // face: scipy stops near 56 iterations; its cap of 150 would time the flat tail
      if (c.name === 'face') c.maxIterations = 56;
      const set = { d: c.d, m: c.m, n: c.n, samples: c.X, refs: c.T };
      const W0 = initW({ init: 'pca', k: c.k, d: c.d, seed: c.seed }, set, compute.kernels);
      const on: Run[] = [];
      const off: Run[] = [];
      for (let r = 0; r < Number(v.rounds); r++) {
        // alternate which goes first, so warm-up and drift fall on both
        const pair = r % 2 === 0 ? [true, false] : [false, true];
        for (const skip of pair) (skip ? on : off).push(run(c, set, W0, compute.kernels, skip));
      }
      const med = (rs: Run[]) => rs.map((x) => x.ms).sort((a, b) => a - b)[rs.length >> 1];
      const fmt = (x: Run) =>
        `${x.ms.toFixed(0)} ms, ${x.evaluations} evaluations (${x.skipping} skipping, ${(100 * x.skippedShare).toFixed(1)}% of triplets skipped), loss ${x.loss.toPrecision(7)}`;
      console.log(`${c.name} (${compute.kernels.name}, ${c.maxIterations} iterations):`);
      for (let r = 0; r < on.length; r++)
        console.log(`  round ${r + 1}: on ${fmt(on[r])}\n           off ${fmt(off[r])}`);
      console.log(
        `  median: on ${med(on).toFixed(0)} ms, off ${med(off).toFixed(0)} ms: ${(med(off) / med(on)).toFixed(2)}× faster with the skip`,
      );
    }
  } finally {
    await compute.close();
  }
}

// The negatives' early exit (kernels.ts projectNegatives) on and off, on the same data and W, in
// one process, alternating run by run: `npm run bench -- --early-exit [--noise 1.5,2.5] [--runs 9]`.
// Data: m triplets of dimension d from C Gaussian classes whose means span a 64-dimensional
// subspace, plus isotropic noise of the given scale (larger = classes overlap more); anchor and
// positive share a class, the negative comes from another. W: the engine's own L-BFGS from its
// PCA start after 0 (a random W), 5 and 50 iterations, then one loss + gradient evaluation timed
// with the exit on and off. Results are identical either way (the tests check it bit for bit).
import { createCompute } from '../src/compute/index.js';
import type { WasmKernels } from '../src/math/kernels/wasm.js';
import { DEFAULT_TRAIN_PARAMS, train, type TripletSet } from '../src/math/index.js';
import { createRng } from '../src/math/rng.js';
import { median, normals } from './data.js';

export interface EarlyExitOptions {
  d: number;
  k: number;
  m: number;
  classes: number;
  noise: number[];
  runs: number;
  threads: number;
}

function classTriplets(o: EarlyExitOptions, noise: number, seed: number): TripletSet {
  const { d, m, classes } = o;
  const rng = createRng(seed);
  const rank = Math.min(64, d);
  const basis = normals(rng, rank * d, 1 / Math.sqrt(rank));
  const means = new Float32Array(classes * d);
  for (let c = 0; c < classes; c++) {
    const z = normals(rng, rank);
    for (let t = 0; t < rank; t++) for (let j = 0; j < d; j++) means[c * d + j] += z[t] * basis[t * d + j];
  }
  const draw = (c: number, out: Float32Array, i: number) => {
    const e = normals(rng, d, noise);
    for (let j = 0; j < d; j++) out[i * d + j] = means[c * d + j] + e[j];
  };
  const set = {
    m,
    d,
    anchors: new Float32Array(m * d),
    positives: new Float32Array(m * d),
    negatives: new Float32Array(m * d),
  };
  for (let i = 0; i < m; i++) {
    const c = Math.floor(rng.uniform() * classes);
    let n = Math.floor(rng.uniform() * (classes - 1));
    if (n >= c) n++;
    draw(c, set.anchors, i);
    draw(c, set.positives, i);
    draw(n, set.negatives, i);
  }
  return set;
}

export async function earlyExitCli(o: EarlyExitOptions): Promise<string> {
  const { d, k, m } = o;
  const lines = [
    `early exit of the negatives, d=${d} k=${k} m=${m}, ${o.classes} classes, ${o.threads} thread(s), median of ${o.runs} alternating runs each`,
  ];
  const on = await createCompute({ kernels: 'wasm', threads: o.threads, earlyExit: true });
  const off = await createCompute({ kernels: 'wasm', threads: o.threads, earlyExit: false });
  try {
    for (const noise of o.noise) {
      const set = classTriplets(o, noise, 7);
      for (const iterations of [0, 5, 50]) {
        const W =
          iterations === 0
            ? Float64Array.from(normals(createRng(3), k * d, 1 / Math.sqrt(d)))
            : train(set, { ...DEFAULT_TRAIN_PARAMS, outputDimension: k, maxIterations: iterations }, {}, on.kernels).W;
        const sides = [on, off].map((c) => ({
          obj: (c.kernels as WasmKernels).createObjective(set, { margin: 0.2, normalize: false, weightDecay: 0 }),
          ms: [] as number[],
        }));
        const grad = new Float64Array(k * d);
        let active = 0;
        for (const s of sides) active = s.obj.evaluate(W, k, grad).activeCount; // warm-up
        const exits = sides[0].obj.lastEarlyExits;
        for (let r = 0; r < o.runs; r++) {
          for (const s of sides) {
            const t0 = performance.now();
            s.obj.evaluate(W, k, grad);
            s.ms.push(performance.now() - t0);
          }
        }
        for (const s of sides) s.obj.dispose();
        const [a, b] = sides.map((s) => median(s.ms));
        const start = iterations === 0 ? 'random W' : `after ${iterations} L-BFGS iterations`;
        lines.push(
          `  noise ${noise}, ${start}: active ${(active / m).toFixed(3)}, stopped early ${(exits / m).toFixed(3)}; on ${a.toFixed(1)} ms, off ${b.toFixed(1)} ms, on/off ${(a / b).toFixed(2)}`,
        );
      }
    }
  } finally {
    await on.close();
    await off.close();
  }
  return lines.join('\n');
}

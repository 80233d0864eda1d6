// npm run bench -- --inactive-bound [--refresh 10]   (decision 0041)
// How many triplet evaluations a bound on ‖W − W_c‖_F would skip during L-BFGS on the digits triplets,
// without skipping anything: every evaluation computes all brackets, and counts the triplets whose
// radius (the step from W_c that could make them active) exceeds the step taken since the last
// refresh W_c. A refresh (W_c ← W) every --refresh evaluations or when over half are candidates.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initW } from '../src/math/init.js';
import { createTripletObjective } from '../src/math/losses.js';
import { minimizeLbfgs } from '../src/math/optim/lbfgs.js';

const DIGITS = fileURLToPath(new URL('../../shared/data/digits', import.meta.url));

export function inactiveBoundCli(argv: string[]): void {
  const i = argv.indexOf('--refresh');
  const refreshEvery = i >= 0 ? Number(argv[i + 1]) : 10;
  const lines = readFileSync(`${DIGITS}/train.csv`, 'utf8').trim().split('\n').slice(1);
  const d = 64;
  const X = new Float64Array(lines.length * d);
  lines.forEach((l, r) =>
    l
      .split(',')
      .slice(1)
      .forEach((v, j) => (X[r * d + j] = Number(v))),
  );
  const T = JSON.parse(readFileSync(`${DIGITS}/train_triplets.json`, 'utf8')).triplets as number[][];
  const m = T.length;
  const k = 16;
  const margin = 0.2;
  const sets = [0, 1, 2].map((s) => {
    const a = new Float64Array(m * d);
    T.forEach((t, n) => a.set(X.subarray(t[s] * d, (t[s] + 1) * d), n * d));
    return a;
  });
  const set = { m, d, anchors: sets[0], positives: sets[1], negatives: sets[2] };
  const DP = sets[0].map((v, j) => v - sets[1][j]);
  const DN = sets[0].map((v, j) => v - sets[2][j]);
  const nx = new Float64Array(m);
  const ny = new Float64Array(m);
  for (let n = 0; n < m; n++) {
    let a = 0;
    let b = 0;
    for (let j = 0; j < d; j++) {
      a += DP[n * d + j] ** 2;
      b += DN[n * d + j] ** 2;
    }
    nx[n] = Math.sqrt(a);
    ny[n] = Math.sqrt(b);
  }
  const objective = createTripletObjective(set, { margin, normalize: false, weightDecay: 1e-4 });
  const Wc = new Float64Array(k * d);
  const radius = new Float64Array(m);
  let sinceRefresh = Infinity;
  let evaluations = 0;
  let evaluated = 0;
  let activeSeen = 0;
  const proj = (W: Float64Array, D: Float64Array, n: number): number => {
    let s = 0;
    for (let r = 0; r < k; r++) {
      let p = 0;
      for (let j = 0; j < d; j++) p += W[r * d + j] * D[n * d + j];
      s += p * p;
    }
    return s;
  };
  const refresh = (W: Float64Array) => {
    Wc.set(W);
    sinceRefresh = 0;
    for (let n = 0; n < m; n++) {
      const px = proj(W, DP, n);
      const py = proj(W, DN, n);
      const slack = py - px - margin;
      if (!(slack > 0)) {
        radius[n] = 0;
        continue;
      }
      // b(W) ≤ b_c + δ‖x‖(2‖W_c x‖ + δ‖x‖) + δ‖y‖(2‖W_c y‖ + δ‖y‖) < 0 for δ below the root of Aδ² + 2Bδ − s
      const A = nx[n] ** 2 + ny[n] ** 2;
      const B = nx[n] * Math.sqrt(px) + ny[n] * Math.sqrt(py);
      radius[n] = (slack / (B + Math.sqrt(B * B + A * slack))) * (1 - 1e-12);
    }
  };
  const fg = (W: Float64Array, g: Float64Array): number => {
    evaluations++;
    let delta = 0;
    for (let j = 0; j < W.length; j++) delta += (W[j] - Wc[j]) ** 2;
    delta = Math.sqrt(delta);
    let candidates = 0;
    for (let n = 0; n < m; n++) if (!(radius[n] > delta)) candidates++;
    if (sinceRefresh >= refreshEvery || candidates > m / 2) {
      refresh(W);
      candidates = m; // a refresh projects every triplet
    } else sinceRefresh++;
    evaluated += candidates;
    const v = objective.evaluate(W, k, g);
    activeSeen += v.activeCount;
    // the bound's promise: no skipped triplet is active
    for (let n = 0; n < m; n++)
      if (radius[n] > delta && proj(W, DP, n) - proj(W, DN, n) + margin > 0) throw new Error(`bound broken at ${n}`);
    return v.loss;
  };
  const W0 = initW({ init: 'pca', k, d, seed: 0 }, set);
  const res = minimizeLbfgs(fg, W0, { maxIterations: 500, gradientTolerance: 1e-8, historySize: 10 });
  console.log(
    JSON.stringify({
      m,
      evaluations,
      iterations: res.iterations,
      refreshEvery,
      fractionEvaluated: evaluated / (evaluations * m),
      meanActiveFraction: activeSeen / (evaluations * m),
      finalLoss: res.f,
    }),
  );
}

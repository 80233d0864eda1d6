// npm run bench -- --start-up [--rounds 3] [--threads 2] [--no-store]
// A training job's start on the face-scale time-to-quality set (d 512, k 128, 20,000 samples, 50,000
// index triplets), piece by piece, in one process, then its first 22 L-BFGS iterations:
// - the store read: readIndexedTriplets on a SQLite file a real server wrote, on this thread and
//   through the store's own thread (as the server reads it);
// - PCA init's randomized top-k with C applied through the sampled rows against C formed once,
//   alternating (top-eigen.ts formsCovariance chooses);
// - whitening, the objective (the samples made resident) and the first two evaluations;
// - train() for 22 iterations (the face case's parameters): its time and ms per evaluation after
//   the first progress point.
// --no-store skips the store read (and better-sqlite3), so that another runtime can run the rest:
//   /path/to/node24 --import tsx bench/index.ts --start-up --no-store
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from '../scripts/server-process.js';
import { createCompute } from '../src/compute/index.js';
import { initWithSpectrum, pcaRowCount } from '../src/math/init.js';
import { createRng } from '../src/math/rng.js';
import { randomizedTopEigen } from '../src/math/top-eigen.js';
import { DEFAULT_TRAIN_PARAMS } from '../src/math/defaults.js';
import { createTrainingObjective, train } from '../src/math/train.js';
import { tripletRow } from '../src/math/triplet-rows.js';
import { createWhitening } from '../src/math/whitening.js';
import { median } from './data.js';
import { faceCase, upload } from './time-to-quality.js';

const ms = (t0: number) => performance.now() - t0;
const fmt = (xs: number[]) => `${xs.map((x) => x.toFixed(0)).join(' / ')} ms (median ${median(xs).toFixed(0)})`;

export async function startUpCli(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'start-up': { type: 'boolean' },
      rounds: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      'no-store': { type: 'boolean', default: false },
    },
  });
  const rounds = Number(v.rounds);
  const c = faceCase();
  if (!v['no-store']) await storeReads(c, rounds);
  await computePieces(c, rounds, Number(v.threads));
}

/** readIndexedTriplets on a file a real server wrote, on this thread and through the store's thread. */
async function storeReads(c: ReturnType<typeof faceCase>, rounds: number): Promise<void> {
  const { openSqliteStore } = await import('../src/store/sqlite.js');
  const { openThreadedSqliteStore } = await import('../src/store/sqlite-thread.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'start-up-'));
  try {
    const server = await startServer({
      dataDir,
      command: 'built',
      logLevel: 'warn',
      env: { INDEX_TRIPLETS_MEMORY_MB: '1024' },
    });
    const id = await upload(server.base, c);
    server.proc.kill('SIGTERM');
    await server.exited;
    const file = join(dataDir, 'triplet-embed.sqlite');
    for (const kind of ['main thread', 'store thread'] as const) {
      const store = kind === 'main thread' ? openSqliteStore(file) : await openThreadedSqliteStore(file);
      const times: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const t0 = performance.now();
        await store.readIndexedTriplets(id);
        times.push(ms(t0));
      }
      store.close();
      console.log(`store read (${kind}): ${fmt(times)}`);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function computePieces(c: ReturnType<typeof faceCase>, rounds: number, threads: number): Promise<void> {
  const compute = await createCompute({ kernels: 'wasm', threads });
  console.log(`kernels ${compute.kernels.name}, node ${process.version}`);
  const set = { d: c.d, m: c.m, n: c.n, samples: c.X, refs: c.T };
  // as many rows as PCA init samples (drawn with replacement here, init.ts draws without), centred
  const s = pcaRowCount(c.m, c.d);
  const Xc = new Float32Array(s * c.d);
  const rng = createRng(c.seed);
  for (let i = 0; i < s; i++) {
    const [a, r] = tripletRow(set, rng.int(3) as 0 | 1 | 2, rng.int(c.m));
    for (let j = 0; j < c.d; j++) Xc[i * c.d + j] = a[r * c.d + j];
  }
  const mean = new Float64Array(c.d);
  for (let i = 0; i < s; i++) for (let j = 0; j < c.d; j++) mean[j] += Xc[i * c.d + j] / s;
  for (let i = 0; i < s; i++) for (let j = 0; j < c.d; j++) Xc[i * c.d + j] -= mean[j];
  const pca = { rows: [] as number[], covariance: [] as number[] };
  for (let r = 0; r < rounds; r++)
    for (const op of ['rows', 'covariance'] as const) {
      const t0 = performance.now();
      randomizedTopEigen(Xc, s, c.d, c.k, createRng(1), compute.kernels, undefined, op);
      pca[op].push(ms(t0));
    }
  console.log(`top-${c.k} eigenpairs of ${s} rows, C through the rows: ${fmt(pca.rows)}`);
  console.log(`top-${c.k} eigenpairs of ${s} rows, C formed once:     ${fmt(pca.covariance)}`);

  const laps: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    const lap = (what: string) => {
      (laps[what] ??= []).push(ms(t0));
      t0 = performance.now();
    };
    const start = initWithSpectrum({ init: 'pca', k: c.k, d: c.d, seed: c.seed }, set, compute.kernels);
    lap('PCA init (initWithSpectrum)');
    createWhitening(start.spectrum, compute.kernels);
    lap('whitening');
    const objective = createTrainingObjective(
      set,
      { margin: c.margin, normalize: false, weightDecay: c.weightDecay },
      compute.kernels,
    );
    lap('objective (resident samples)');
    const g = new Float64Array(c.k * c.d);
    objective.evaluate(start.W, c.k, g);
    lap('first evaluation');
    objective.evaluate(start.W, c.k, g);
    lap('second evaluation');
    objective.dispose?.();
  }
  for (const [what, xs] of Object.entries(laps)) console.log(`${what}: ${fmt(xs)}`);
  const params = {
    ...DEFAULT_TRAIN_PARAMS,
    outputDimension: c.k,
    margin: c.margin,
    weightDecay: c.weightDecay,
    historySize: c.historySize,
    maxIterations: 22,
    gradientTolerance: 0,
    seed: c.seed,
  };
  for (let r = 0; r < rounds; r++) {
    let first = 0;
    const t0 = performance.now();
    const res = train(set, params, { onProgress: () => (first ||= ms(t0)), progressIntervalMs: 0 }, compute.kernels);
    const total = ms(t0);
    const evals = res.metrics.functionEvaluations;
    console.log(
      `train, 22 iterations: ${total.toFixed(0)} ms, first progress at ${first.toFixed(0)} ms, ${evals} evaluations, ` +
        `${((total - first) / (evals - 2)).toFixed(1)} ms each after it, loss ${res.metrics.trainLoss.toPrecision(6)}`,
    );
  }
  await compute.close();
}

// Benchmark CLI (npm run bench -- ...). Speed lives here, never in test assertions.
//
//   npm run bench -- --d 512 --k 128 --m 10000 [--normalize] [--json] [--runs 9] [--threads 2] [--kernels wasm|js]
//       one training step (loss + gradient, the engine's real objective) timed --runs times
//   npm run bench -- ... --compare [--rounds 3]
//       alternates blocks of our step with numpy_triplet_bench.py --dtype f32 --threads 2 and prints the ratio
//   npm run bench -- --ab <other.wasm> [--d --k --m --normalize --runs 21]   (bench/ab.ts)
//       this build's kernels against another build, alternating in one process, one thread
//   npm run bench -- --ab-wide [--d --k --m --normalize --runs 15]   (bench/ab.ts)
//       the narrow (4×8) against the wide (4×16) tiles on this runtime, one thread, alternating
//   npm run bench -- --ab-serve <other built tree> [--rounds 3] [--duration 5]   (bench/ab-serve.ts)
//       serving of this tree against another, alternating in one run
//   npm run bench -- --staged-copy <other built tree> [--rounds 10] [--bodies 6] [--cold]   (bench/staged-copy.ts)
//       the longest event-loop stall while large binary bodies ending together are staged, alternating
//   npm run bench -- --json-parse [--rows 1] [--d 512] [--runs 9]   (bench/json-parse.ts)
//       JSON /embed bodies: Fastify's standard parsing against Float32JsonParser, µs per body
//   npm run bench -- --early-exit [--noise 1.5,2.5] [--threads 2]   (bench/early-exit.ts)
//       the negatives' early exit on and off, on class data with a random and a trained W
//   npm run bench -- --pca-init [--d 1024] [--k 128] [--rounds 2] [--threads 1]   (bench/pca-init.ts)
//       PCA init: the randomized top-k path against the exact eigen-decomposition, alternating
//   npm run bench -- --start-up [--rounds 3] [--threads 2]   (bench/start-up.ts)
//       a face-scale job's start piece by piece: store read, PCA (C through the rows or formed), objective
//   npm run bench -- --time-to-quality [--cases digits,face] [--node-24 <node>]   (bench/time-to-quality.ts)
//       wall time from POST /train to the first progress at scipy L-BFGS-B's final loss, and scipy's
//   npm run bench -- --inactive-bound [--refresh 10]   (bench/inactive-bound.ts)
//       the share of triplets a moved-W bound would let L-BFGS skip on digits (checked, not skipped)
//   npm run bench -- --inactive-skip [--cases digits,face] [--rounds 3] [--threads 1]   (bench/inactive-skip.ts)
//       the indexed objective's inactive-triplet skip on and off, alternating: time of the same L-BFGS run
//   npm run bench -- --enrol [--items 100000] [--batch 10000] [--dim 512] [--out 128]   (bench/enrol.ts)
//       gallery enrolment: items per second of binary uploads into a real server (SQLite)
//   npm run bench -- --search [--n 1000000] [--dim 128] [--metric squared|cosine] [--threads 2]
//       [--data random|clustered] [--no-hnsw] [--ef 10,20,40,80,160] [--M 16]   (bench/search.ts)
//       exact top-k gallery search, single queries and batches of 64, against numpy brute force,
//       then the HNSW index on the same data: build time, recall@10 and queries/s at each ef
//   npm run bench -- --quality [--seeds 5] [--sets digits,mnist,fashion,mnist14,fashion14,faces,faces-hard,faces-steep] [--methods raw,pca,nca,today,defaults] [--digits-k 16] [--digits-train 5] [--mnist-dir DIR] [--fashion-dir DIR] [--faces-ids 1000] [--faces-k 128]   (bench/quality.ts)
//       open-set protocol: precision@1, MAP@R, TAR@FAR=1e-3 on classes unseen in training, mean ± sd over seeds
//   npm run bench -- --mining [--n 100000] [--d 128]   (bench/mining.ts)
//       online mining and training throughput in samples/s
//   npm run bench -- --postgres [--database-url URL] [--rounds 3] [--duration 5] [--connections 10]
//       [--sections uploads,claims,replicas]   (bench/postgres.ts)
//       uploads into PostgreSQL against SQLite, /embed on one and two API replicas, job claim latency
//   npm run bench -- --soak [--seconds 60] [--connections 10]   (bench/soak.ts)
//       /embed held under load while a job trains; req/s, p99, errors and the server's RSS
//   npm run bench -- --loop-under-abuse [--d 1024] [--n 4000] [--only heavy|http]   (bench/loop-under-abuse.ts)
//       /healthz p50/p99 while big indexTriplets, concurrent and hung-up evaluations hit the built server
//   npm run bench -- --serve [--duration 10] [--connections 10] [--warmup 2] [--serve-rounds 1]
//       builds and starts the server on a temp DATA_DIR, imports a 128×512 model, and measures
//       /healthz, /embed (1×512 JSON) and /embed (256×512 binary) with autocannon in one run,
//       each case after an unreported --warmup seconds of the same load, each in a fresh client
//       process (bench/load-case.ts).
//       For the binary case the client counts reply bytes instead of keeping them: stock autocannon
//       appends every reply body to a JS string (`body += chunk`), and UTF-8-decoding 128 KB of
//       float32 bytes costs it ~2.5 ms of CPU per reply on a 2-core box it shares with the server —
//       more than the server spends on the request. --stock-client keeps autocannon's behaviour.
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from '../scripts/server-process.js';
import { createCompute, type KernelChoice } from '../src/compute/index.js';
import { createTripletObjective } from '../src/math/losses.js';
import { createRng } from '../src/math/rng.js';
import { median, normals, stepData } from './data.js';

const NUMPY_BENCH = fileURLToPath(new URL('../../shared/tools/numpy_triplet_bench.py', import.meta.url));

// --soak has its own options (bench/soak.ts): /embed under load for --seconds while a job trains.
if (process.argv.includes('--postgres')) {
  const { benchPostgres } = await import('./postgres.js');
  const { values: v } = parseArgs({
    options: {
      postgres: { type: 'boolean' },
      'database-url': { type: 'string' },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '10' },
      sections: { type: 'string', default: 'uploads,claims,replicas' },
    },
  });
  await benchPostgres({
    sections: v.sections!.split(','),
    databaseUrl: v['database-url'],
    rounds: Number(v.rounds),
    duration: Number(v.duration),
    connections: Number(v.connections),
  });
  process.exit(0);
}
if (process.argv.includes('--ab-serve')) {
  const { benchAbServe } = await import('./ab-serve.js');
  const { values: v, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'ab-serve': { type: 'boolean' },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '10' },
    },
  });
  await benchAbServe(positionals[0], {
    rounds: Number(v.rounds),
    duration: Number(v.duration),
    connections: Number(v.connections),
  });
  process.exit(0);
}
if (process.argv.includes('--staged-copy')) {
  const { benchStagedCopy } = await import('./staged-copy.js');
  const { values: v, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'staged-copy': { type: 'boolean' },
      rounds: { type: 'string', default: '10' },
      bodies: { type: 'string', default: '6' },
      cold: { type: 'boolean', default: false },
    },
  });
  benchStagedCopy(positionals[0], { rounds: Number(v.rounds), bodies: Number(v.bodies), cold: v.cold! });
  process.exit(0);
}
if (process.argv.includes('--quality')) {
  // Open-set quality protocol (bench/quality.ts): unseen classes of digits and synthetic faces.
  const { benchQuality, formatQuality } = await import('./quality.js');
  const { values: v } = parseArgs({
    options: {
      quality: { type: 'boolean' },
      seeds: { type: 'string', default: '5' },
      sets: { type: 'string', default: 'digits,faces' },
      methods: { type: 'string', default: 'raw,pca,nca,today,defaults' },
      iterations: { type: 'string' },
      'digits-k': { type: 'string', default: '16' },
      'digits-train': { type: 'string', default: '5' },
      'mnist-dir': { type: 'string' },
      'fashion-dir': { type: 'string' },
      'faces-ids': { type: 'string' },
      'faces-k': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const rows = await benchQuality({
    digitsK: Number(v['digits-k']),
    digitsTrain: Number(v['digits-train']),
    mnistDir: v['mnist-dir'],
    fashionDir: v['fashion-dir'],
    facesIds: v['faces-ids'] ? Number(v['faces-ids']) : undefined,
    facesK: v['faces-k'] ? Number(v['faces-k']) : undefined,
    seeds: Number(v.seeds),
    sets: v.sets!.split(','),
    methods: v.methods!.split(','),
    iterations: v.iterations ? Number(v.iterations) : undefined,
  });
  console.log(v.json ? JSON.stringify(rows) : formatQuality(rows));
  process.exit(0);
}
if (process.argv.includes('--mining')) {
  // Online mining throughput: 100,000 labelled samples of dimension 128 unless told otherwise.
  const { benchMining, formatMiningBench } = await import('./mining.js');
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  console.log(formatMiningBench(benchMining({ n: arg('n', 100_000), d: arg('d', 128) })));
  process.exit(0);
}
if (process.argv.includes('--ab') || process.argv.includes('--ab-wide')) {
  // --ab <other.wasm>: two builds; --ab-wide: this build's narrow against its wide tiles
  const { abCli, abWideCli } = await import('./ab.js');
  const { values: v } = parseArgs({
    options: {
      ab: { type: 'string' },
      'ab-wide': { type: 'boolean', default: false },
      d: { type: 'string', default: '512' },
      k: { type: 'string', default: '128' },
      m: { type: 'string', default: '10000' },
      normalize: { type: 'boolean', default: false },
      runs: { type: 'string' },
    },
  });
  const o = { d: Number(v.d), k: Number(v.k), m: Number(v.m), normalize: v.normalize! };
  if (v['ab-wide']) console.log(abWideCli({ ...o, runs: Number(v.runs ?? 15) }));
  else console.log(abCli({ ...o, other: v.ab!, runs: Number(v.runs ?? 21) }));
  process.exit(0);
}
if (process.argv.includes('--json-parse')) {
  const { benchJsonParse } = await import('./json-parse.js');
  const { values: v } = parseArgs({
    options: {
      'json-parse': { type: 'boolean' },
      rows: { type: 'string', default: '1' },
      d: { type: 'string', default: '512' },
      runs: { type: 'string', default: '9' },
    },
  });
  console.log(benchJsonParse({ rows: Number(v.rows), d: Number(v.d), runs: Number(v.runs) }));
  process.exit(0);
}
if (process.argv.includes('--early-exit')) {
  const { earlyExitCli } = await import('./early-exit.js');
  const { values: v } = parseArgs({
    options: {
      'early-exit': { type: 'boolean' },
      d: { type: 'string', default: '512' },
      k: { type: 'string', default: '128' },
      m: { type: 'string', default: '10000' },
      classes: { type: 'string', default: '50' },
      noise: { type: 'string', default: '1.5,2.5' },
      runs: { type: 'string', default: '9' },
      threads: { type: 'string', default: String(availableParallelism()) },
    },
  });
  const num = (s: string | undefined) => Number(s);
  console.log(
    await earlyExitCli({
      d: num(v.d),
      k: num(v.k),
      m: num(v.m),
      classes: num(v.classes),
      runs: num(v.runs),
      threads: num(v.threads),
      noise: v.noise!.split(',').map(Number),
    }),
  );
  process.exit(0);
}
if (process.argv.includes('--pca-init')) {
  await (await import('./pca-init.js')).pcaInitCli(process.argv.slice(2));
  process.exit(0);
}
if (process.argv.includes('--start-up')) {
  await (await import('./start-up.js')).startUpCli(process.argv.slice(2));
  process.exit(0);
}
if (process.argv.includes('--inactive-skip')) {
  await (await import('./inactive-skip.js')).inactiveSkipCli(process.argv.slice(2));
  process.exit(0);
}
if (process.argv.includes('--inactive-bound')) {
  (await import('./inactive-bound.js')).inactiveBoundCli(process.argv.slice(2));
  process.exit(0);
}
if (process.argv.includes('--time-to-quality')) {
  await (await import('./time-to-quality.js')).timeToQualityCli(process.argv.slice(2));
  process.exit(0);
}
if (process.argv.includes('--enrol')) {
  await (await import('./enrol.js')).enrolCli(process.argv.slice(2));
  process.exit(0);
}
if (process.argv.includes('--search')) {
  await (await import('./search.js')).searchCli(process.argv.slice(2));
  process.exit(0);
}
if (process.argv.includes('--loop-under-abuse')) {
  await (await import('./loop-under-abuse.js')).loopUnderAbuseCli(process.argv.slice(2));
  process.exit(0);
}
if (process.argv.includes('--soak')) {
  await (await import('./soak.js')).soakCli(process.argv.slice(2));
  process.exit(0);
}

const { values: opt } = parseArgs({
  options: {
    d: { type: 'string', default: '512' },
    k: { type: 'string', default: '128' },
    m: { type: 'string', default: '10000' },
    normalize: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    runs: { type: 'string', default: '9' },
    threads: { type: 'string' },
    kernels: { type: 'string', default: 'auto' },
    margin: { type: 'string', default: '0.2' },
    compare: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    serve: { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    'serve-rounds': { type: 'string', default: '1' },
    'stock-client': { type: 'boolean', default: false },
  },
  allowPositionals: false,
});

const int = (s: string | undefined, name: string) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer (got ${s})`);
  return n;
};

interface StepBench {
  tool: 'triplet-embed';
  kernels: string;
  threads: number;
  d: number;
  k: number;
  m: number;
  normalize: boolean;
  msPerIteration: number;
  minMs: number;
  maxMs: number;
  runs: number;
  gflops: number;
  activeFraction: number;
  loss: number;
}

/** Sets up data like numpy_triplet_bench.py (A, P, N standard normal; W ~ N(0, 1/d)). */
async function stepBench() {
  const d = int(opt.d, 'd');
  const k = int(opt.k, 'k');
  const m = int(opt.m, 'm');
  const runs = Math.max(7, int(opt.runs, 'runs'));
  const threads = opt.threads ? int(opt.threads, 'threads') : availableParallelism();
  const compute = await createCompute({ kernels: opt.kernels as KernelChoice, threads });
  const { set, W } = stepData(d, k, m);
  const objective = createTripletObjective(
    set,
    { margin: Number(opt.margin), normalize: opt.normalize, weightDecay: 0 },
    compute.kernels,
  );
  const grad = new Float64Array(k * d);
  const first = objective.evaluate(W, k, grad); // warm-up
  const flops = (opt.normalize ? 12 : 8) * k * d * m;
  const time = (reps: number): number[] => {
    const ts: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      objective.evaluate(W, k, grad);
      ts.push(performance.now() - t0);
    }
    return ts;
  };
  const report = (ts: number[]): StepBench => {
    const med = median(ts);
    return {
      tool: 'triplet-embed',
      kernels: compute.kernels.name,
      threads: compute.threads,
      d,
      k,
      m,
      normalize: opt.normalize,
      msPerIteration: med,
      minMs: Math.min(...ts),
      maxMs: Math.max(...ts),
      runs: ts.length,
      gflops: flops / med / 1e6,
      activeFraction: first.activeCount / m,
      loss: first.loss,
    };
  };
  const close = async () => {
    objective.dispose?.();
    await compute.close();
  };
  return { time, report, runs, close, d, k, m };
}

function numpyOnce(
  d: number,
  k: number,
  m: number,
  reps: number,
): { msPerIteration: number; gflops: number; activeFraction: number; blas: unknown } {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  // the image's malloc settings (Dockerfile) keep numpy's big arrays off mmap and so off
  // transparent huge pages: its step took 51 ms instead of ~21 with them. They are the server's
  // settings, not the reference's.
  for (const name of Object.keys(env)) if (name.startsWith('MALLOC_')) delete env[name];
  const args = [
    NUMPY_BENCH,
    '--d',
    String(d),
    '--k',
    String(k),
    '--m',
    String(m),
    '--dtype',
    'f32',
    '--threads',
    '2',
    '--reps',
    String(reps),
  ];
  if (opt.normalize) args.push('--normalize');
  const r = spawnSync('/usr/bin/python3', args, { env, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `numpy bench failed (${r.status}): ${r.stderr}\n(install with: apt-get update && apt-get install -y python3-numpy python3-threadpoolctl)`,
    );
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function runStep(): Promise<void> {
  const b = await stepBench();
  try {
    if (!opt.compare) {
      const res = b.report(b.time(b.runs));
      if (opt.json) console.log(JSON.stringify(res));
      else {
        console.log(
          `training step d=${res.d} k=${res.k} m=${res.m}${res.normalize ? ' normalised' : ''} on ${res.kernels} (${res.threads} thread${res.threads > 1 ? 's' : ''})`,
        );
        console.log(
          `  median ${res.msPerIteration.toFixed(1)} ms over ${res.runs} runs (min ${res.minMs.toFixed(1)}, max ${res.maxMs.toFixed(1)}), ${res.gflops.toFixed(1)} GFLOP/s, active fraction ${res.activeFraction.toFixed(4)}`,
        );
      }
      return;
    }
    // alternate: a block of ours, then a numpy process with the same number of reps, `rounds` times
    const rounds = int(opt.rounds, 'rounds');
    const ours: number[] = [];
    const numpy: number[] = [];
    let np: ReturnType<typeof numpyOnce> | null = null;
    for (let r = 0; r < rounds; r++) {
      ours.push(...b.time(b.runs));
      np = numpyOnce(b.d, b.k, b.m, b.runs);
      numpy.push(np.msPerIteration);
    }
    const res = b.report(ours);
    const npMs = median(numpy);
    const ratio = res.msPerIteration / npMs;
    const out = {
      ...res,
      numpy: { msPerIteration: npMs, perRound: numpy, activeFraction: np!.activeFraction, blas: np!.blas },
      ratio,
    };
    if (opt.json) console.log(JSON.stringify(out));
    else {
      console.log(
        `training step d=${res.d} k=${res.k} m=${res.m}${res.normalize ? ' normalised' : ''}, ${rounds} alternating rounds of ${b.runs} runs`,
      );
      console.log(
        `  triplet-embed ${res.kernels}: ${res.msPerIteration.toFixed(1)} ms (${res.gflops.toFixed(1)} GFLOP/s), active ${res.activeFraction.toFixed(4)}`,
      );
      console.log(
        `  numpy f32, 2 threads:      ${npMs.toFixed(1)} ms (rounds: ${numpy.map((x) => x.toFixed(1)).join(', ')}), active ${np!.activeFraction.toFixed(4)}`,
      );
      console.log(`  ratio ours/numpy: ${ratio.toFixed(2)}×`);
    }
  } finally {
    await b.close();
  }
}

// ------------------------------------------------------------------------------------------------
// --serve

/** Runs one case in a fresh client process (bench/load-case.ts) and returns its figures. */
function runCase(spec: Record<string, unknown>): { reqPerSec: number; p99Ms: number; errors: number; non2xx: number } {
  const script = fileURLToPath(new URL('./load-case.ts', import.meta.url));
  const r = spawnSync(process.execPath, [...process.execArgv, script, JSON.stringify(spec)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`load case failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function runServe(): Promise<void> {
  const duration = int(opt.duration, 'duration');
  const connections = int(opt.connections, 'connections');
  const warmup = Number(opt.warmup);
  if (!(warmup >= 0)) throw new RangeError(`--warmup must be a number of seconds ≥ 0 (got ${opt.warmup})`);
  const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const dataDir = mkdtempSync(join(tmpdir(), 'triplet-bench-'));
  const started = await startServer({ dataDir, stdio: 'inherit', timeoutMs: 30_000 });
  const { base } = started;
  const server = started.proc;
  try {
    const k = 128;
    const d = 512;
    const rng = createRng(7);
    const Wrows = Array.from({ length: k }, () => Array.from(normals(rng, d, 1 / Math.sqrt(d))));
    const created = await fetch(`${base}/models`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ W: Wrows, name: 'bench' }),
    });
    if (created.status !== 201) throw new Error(`model import failed: ${created.status} ${await created.text()}`);
    const model = (await created.json()) as { id: string };
    const one = JSON.stringify({ model: model.id, inputs: [Array.from(normals(rng, d))] });
    const batch = Buffer.from(normals(rng, 256 * d).buffer);
    // sanity: the routes answer what we think
    const check1 = await fetch(`${base}/embed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: one,
    });
    if (!check1.ok) throw new Error(`/embed JSON failed: ${check1.status} ${await check1.text()}`);
    const check2 = await fetch(`${base}/embed?model=${model.id}&rows=256`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', accept: 'application/octet-stream' },
      body: batch,
    });
    if (!check2.ok || (await check2.arrayBuffer()).byteLength !== 256 * k * 4)
      throw new Error(`/embed binary failed: ${check2.status}`);

    const batchFile = join(dataDir, 'batch.f32');
    writeFileSync(batchFile, batch);
    const cases = [
      { name: 'GET /healthz', vectors: 0, spec: { url: `${base}/healthz` } },
      {
        name: 'POST /embed 1×512 JSON',
        vectors: 1,
        spec: { url: `${base}/embed`, method: 'POST', headers: { 'content-type': 'application/json' }, bodyText: one },
      },
      {
        name: 'POST /embed 256×512 binary',
        vectors: 256,
        spec: {
          url: `${base}/embed?model=${model.id}&rows=256`,
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', accept: 'application/octet-stream' },
          bodyFile: batchFile,
          // a binary client keeps bytes, not a UTF-8 string (see the header comment)
          discardBodies: !opt['stock-client'],
        },
      },
    ];
    // --rounds > 1 repeats the three cases in turn and reports each case's median round, and the
    // median of the rounds' JSON ÷ healthz ratios: one shared 2-core machine drifts by ±30%
    // between runs, and a ratio of two neighbouring runs drifts less than either figure.
    const rounds = int(opt['serve-rounds'], 'serve-rounds');
    const perRound: { reqPerSec: number; p99Ms: number; errors: number; non2xx: number }[][] = cases.map(() => []);
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      cases.forEach((c, i) => perRound[i].push(runCase({ ...c.spec, connections, duration, warmup })));
      ratios.push(perRound[1][round].reqPerSec / perRound[0][round].reqPerSec);
    }
    const results = cases.map((c, i) => {
      const runs = perRound[i];
      const mid = [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec)[(runs.length - 1) >> 1];
      return {
        name: c.name,
        reqPerSec: mid.reqPerSec,
        vectorsPerSec: mid.reqPerSec * c.vectors,
        p99Ms: mid.p99Ms,
        errors: runs.reduce((n, r) => n + r.errors, 0),
        non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
        rounds: runs.map((r) => Math.round(r.reqPerSec)),
      };
    });
    const jsonRatio = median(ratios);
    const client = opt['stock-client'] ? 'stock autocannon' : 'autocannon, binary reply bodies counted not kept';
    if (opt.json)
      console.log(
        JSON.stringify({
          connections,
          durationSeconds: duration,
          warmupSeconds: warmup,
          rounds,
          client,
          results,
          embedJsonToHealthz: jsonRatio,
          roundRatios: ratios,
        }),
      );
    else {
      console.log(
        `autocannon, ${connections} connections, ${duration} s each after ${warmup} s of warm-up, ${rounds === 1 ? 'one round' : `median of ${rounds} rounds`} (server and client share the machine; ${client})`,
      );
      for (const r of results) {
        console.log(
          `  ${r.name.padEnd(28)} ${r.reqPerSec.toFixed(0).padStart(8)} req/s  ${r.vectorsPerSec ? r.vectorsPerSec.toFixed(0).padStart(9) + ' vectors/s' : ''.padStart(19)}  p99 ${r.p99Ms} ms${r.errors || r.non2xx ? `  errors ${r.errors}, non-2xx ${r.non2xx}` : ''}${rounds > 1 ? `  (rounds: ${r.rounds.join(', ')} req/s)` : ''}`,
        );
      }
      console.log(
        `  /embed 1×512 JSON ÷ /healthz: ${(100 * jsonRatio).toFixed(1)}%${rounds > 1 ? ` (rounds: ${ratios.map((x) => (100 * x).toFixed(1) + '%').join(', ')})` : ''}`,
      );
    }
  } finally {
    server.kill('SIGTERM');
    await started.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (opt.serve) await runServe();
else await runStep();

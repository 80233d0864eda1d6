// The HNSW section of `npm run bench -- --search` (bench/search.ts): the index built on the same
// gallery, then recall@k and speed at each ef of --ef, on the same queries as exact search.
//
// Recall is against exactSearch on every query row (singles and batches). hnswlib-node searches
// one query at a time on the calling thread, so a batch is a loop: its figure shows the per-call
// overhead saved, not parallelism. The build is one thread, synchronous. RSS growth over the build
// is printed beside the formula of src/domain/costs.ts (hnswIndexCost) as a check of the formula.
import { loadavg } from 'node:os';
import { formatBytes, hnswIndexCost } from '../src/domain/costs.js';
import { exactSearch, type Gallery } from '../src/math/search/index.js';
import { buildHnswIndex } from '../src/search/hnsw-index.js';
import { cpuMs, median } from './data.js';

export interface HnswBenchOptions {
  n: number;
  dim: number;
  k: number;
  singles: number;
  batch: number;
  batches: number;
  rounds: number;
  metric: 'squared' | 'cosine';
  efs: number[];
  M: number;
  efConstruction: number;
}

export function hnswSection(gallery: Gallery, Q: Float32Array, queryRows: number, o: HnswBenchOptions): string {
  const { n, dim, k } = o;
  const truth = exactSearch(gallery, Q, queryRows, { k, metric: o.metric }).map((h) => new Set(h.indexes));
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let t0 = performance.now();
  let c0 = cpuMs();
  const index = buildHnswIndex(gallery.rows, n, dim, { metric: o.metric, M: o.M, efConstruction: o.efConstruction });
  const buildS = (performance.now() - t0) / 1000;
  const buildCpuS = (cpuMs() - c0) / 1000;
  const rssGrowth = process.memoryUsage().rss - rss0;
  const lines = [
    `hnsw (hnswlib-node): M=${o.M} efConstruction=${o.efConstruction}; build ${buildS.toFixed(1)} s wall, ` +
      `${buildCpuS.toFixed(1)} s CPU (one thread); RSS +${formatBytes(rssGrowth)}, formula ` +
      `${formatBytes(hnswIndexCost(n, dim, o.M).bytes)}; load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    `${'ef'.padStart(5)} ${'recall@' + k}   ${'single ms'.padStart(9)} ${'q/s'.padStart(7)}   ` +
      `${('batch ' + o.batch + ' ms/q').padStart(14)} ${'q/s'.padStart(7)}   CPU ms/q single, batch`,
  ];
  for (const ef of o.efs) {
    const singleMs: number[] = [];
    const singleCpu: number[] = [];
    const batchMs: number[] = [];
    const batchCpu: number[] = [];
    const found: number[][] = [];
    // recall on every query row, one batch; not timed
    for (const h of index.search(Q, queryRows, { k, ef })) found.push([...h.indexes]);
    for (let r = 0; r < o.rounds; r++) {
      for (let j = 0; j < o.singles; j++) {
        t0 = performance.now();
        c0 = cpuMs();
        index.search(Q.subarray(j * dim, (j + 1) * dim), 1, { k, ef });
        singleMs.push(performance.now() - t0);
        singleCpu.push(cpuMs() - c0);
      }
      for (let b = 0; b < o.batches; b++) {
        t0 = performance.now();
        c0 = cpuMs();
        index.search(Q.subarray(b * o.batch * dim, (b + 1) * o.batch * dim), o.batch, { k, ef });
        batchMs.push((performance.now() - t0) / o.batch);
        batchCpu.push((cpuMs() - c0) / o.batch);
      }
    }
    let hit = 0;
    let want = 0;
    for (let j = 0; j < queryRows; j++) {
      want += truth[j].size;
      hit += found[j].filter((i) => truth[j].has(i)).length;
    }
    const recall = hit / Math.max(1, want);
    const s = median(singleMs);
    const b = median(batchMs);
    lines.push(
      `${String(ef).padStart(5)} ${recall.toFixed(4).padStart(9)}${recall >= 0.95 ? '*' : ' '}  ` +
        `${s.toFixed(3).padStart(9)} ${(1000 / s).toFixed(0).padStart(7)}   ${b.toFixed(3).padStart(14)} ` +
        `${(1000 / b).toFixed(0).padStart(7)}   ${median(singleCpu).toFixed(3)}, ${median(batchCpu).toFixed(3)}`,
    );
  }
  lines.push(`* recall@${k} ≥ 0.95 over ${queryRows} queries against exact search`);
  return lines.join('\n');
}

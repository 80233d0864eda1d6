// retrievalMetrics: the partial selection (only the first R neighbours ranked) and the kernels'
// distance blocks against a full stable argsort over float64 distances, as common.py does.
import t from 'tap';
import { createCompute } from '../../src/compute/index.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';
import { retrievalMetrics } from '../../src/math/metrics.js';
import { createRng } from '../../src/math/rng.js';

/** common.retrieval_metrics, literally: full n×n float64 distances, full stable argsort per query. */
function reference(E: Float64Array, n: number, k: number, labels: Int32Array) {
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  const sq = (i: number) => {
    let s = 0;
    for (let r = 0; r < k; r++) s += E[i * k + r] ** 2;
    return s;
  };
  let p1 = 0,
    rp = 0,
    map = 0,
    q = 0;
  for (let i = 0; i < n; i++) {
    const D = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let r = 0; r < k; r++) dot += E[i * k + r] * E[j * k + r];
      D[j] = Math.max(0, sq(i) + sq(j) - 2 * dot);
    }
    D[i] = Infinity;
    const R = counts.get(labels[i])! - 1;
    if (R <= 0) continue;
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => D[a] - D[b] || a - b);
    let hits = 0,
      ap = 0;
    for (let x = 0; x < R; x++)
      if (labels[order[x]] === labels[i]) {
        hits++;
        ap += hits / (x + 1);
      }
    p1 += labels[order[0]] === labels[i] ? 1 : 0;
    rp += hits / R;
    map += ap / R;
    q++;
  }
  return { precisionAt1: p1 / q, rPrecision: rp / q, mapAtR: map / q, queryCount: q };
}

function dataset(seed: number, n: number, k: number, classes: number, grid: number) {
  const rng = createRng(seed);
  const E = new Float64Array(n * k);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = Math.floor(rng.uniform() * classes);
    // small integers: many exact ties, and float32 dot products stay exact
    for (let r = 0; r < k; r++) E[i * k + r] = Math.round((rng.uniform() - 0.5) * grid) + (labels[i] % 3);
  }
  return { E, labels };
}

const cases = [
  { n: 300, k: 16, classes: 7, grid: 4 }, // R ≈ 42: the sorted head is longer than the insertion-sort cutoff
  { n: 257, k: 8, classes: 40, grid: 3 }, // R ≈ 5, heavy ties
  { n: 130, k: 3, classes: 2, grid: 2 }, // R ≈ 64, nearly everything tied
];

t.test('partial selection ranks exactly as a full stable sort', async (t) => {
  for (const [i, c] of cases.entries()) {
    const { E, labels } = dataset(i + 1, c.n, c.k, c.classes, c.grid);
    t.same(retrievalMetrics(E, c.n, c.k, labels), reference(E, c.n, c.k, labels), `case ${i}: n=${c.n} k=${c.k}`);
  }
});

t.test('distance blocks through the WebAssembly kernels', { skip: !wasmSimdSupported() }, async (t) => {
  const compute = await createCompute({ kernels: 'wasm', threads: 1 });
  t.teardown(() => compute.close());
  for (const [i, c] of cases.entries()) {
    const { E, labels } = dataset(i + 11, c.n, c.k, c.classes, c.grid);
    t.same(
      retrievalMetrics(E, c.n, c.k, labels, compute.kernels),
      reference(E, c.n, c.k, labels),
      `case ${i}: n=${c.n} k=${c.k}`,
    );
    // float32 input rows too (the trainers' embeddings)
    const E32 = Float32Array.from(E);
    t.same(
      retrievalMetrics(E32, c.n, c.k, labels, compute.kernels),
      reference(E, c.n, c.k, labels),
      `case ${i}: float32 rows`,
    );
  }
});

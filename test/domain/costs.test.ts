// The cost model: its formulas against the cases, and against what the code really allocates
// where the code can say (the WebAssembly objective's bytes, the reply text).
import t from 'tap';
import { createCompute } from '../../src/compute/index.js';
import { serialize } from 'node:v8';
import {
  MiB,
  checkpointBytes,
  describeCost,
  distancesReplyBytes,
  embedReplyBytes,
  modelCacheBytes,
  trainingJobCost,
  weightsReplyBytes,
} from '../../src/domain/costs.js';
import { TRAINING_DEFAULTS, type TrainingParams } from '../../src/domain/training.js';
import { embedJson, base64Rows } from '../../src/http/embed-reply.js';
import { DEFAULT_MINED_PARAMS, train, trainMined } from '../../src/math/index.js';
import { createIndexedObjective } from '../../src/math/indexed-objective.js';
import { DEFAULT_CHUNK_ROWS } from '../../src/math/kernels/wasm.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';
import type { LoadedModel } from '../../src/services/models.js';

const triplets = (over: Partial<TrainingParams> = {}) =>
  ({ ...TRAINING_DEFAULTS.triplets, outputDimension: 16, ...over }) as TrainingParams;
const mined = (over: Partial<TrainingParams> = {}) =>
  ({ ...TRAINING_DEFAULTS.samples, outputDimension: 16, ...over }) as TrainingParams;

t.test('the issue’s 123-byte /train: d=8192, 16 triplets, k=4096, historySize 100, identity', async (t) => {
  const cost = trainingJobCost(triplets({ outputDimension: 4096, historySize: 100, init: 'identity' }), {
    count: 16,
    dimension: 8192,
    threads: 2,
  });
  // (2·100 + 8) vectors of k·d float64: the ~55 GB the issue projected
  t.ok(cost.bytes > 55e9, `${cost.bytes}`);
  t.equal(cost.terms[0].name, 'optimiser');
  t.equal(cost.terms[0].bytes, 208 * 4096 * 8192 * 8);
  t.match(describeCost(cost), /optimiser .* GiB = \(2·historySize \+ 8\)/);
});

t.test('mined batchSize 20000: the B² matrices dominate', async (t) => {
  const cost = trainingJobCost(mined({ batchSize: 20000, init: 'uniform' }), {
    count: 20000,
    dimension: 16,
    threads: 1,
  });
  const batch = cost.terms.find((x) => x.name === 'batch distances')!;
  t.equal(batch.bytes, 3 * 8 * 20000 * 20000);
  t.ok(cost.bytes > 10 * 1024 * MiB);
});

t.test('mining none keeps every valid triplet of a P×K batch', async (t) => {
  const c = trainingJobCost(mined({ mining: 'none', batchSize: 80, samplesPerLabel: 8, init: 'uniform' }), {
    count: 1000,
    dimension: 8,
    threads: 1,
  });
  t.equal(c.terms.find((x) => x.name === 'mined triplets')!.bytes, 12 * 80 * 7 * 72);
});

t.test('PCA init costs 32·d² exact, its allocations randomized; the optimisers their vectors', async (t) => {
  const plain = { preconditioner: 'none' } as const;
  const small = { count: 100, dimension: 200, threads: 1 };
  const exact = trainingJobCost(triplets({ init: 'pca', ...plain }), small).bytes;
  t.equal(exact - trainingJobCost(triplets({ init: 'identity', ...plain }), small).bytes, 32 * 200 * 200, 'd ≤ 256');
  const data = { count: 100, dimension: 1000, threads: 1 };
  const pca = trainingJobCost(triplets({ init: 'pca', ...plain }), data);
  const id = trainingJobCost(triplets({ init: 'identity', ...plain }), data);
  // 300 sampled rows (3·m), a sketch of 26 (16 + 10): C applied through the rows (300·1000 + 5·26·1000
  // multiply-adds per row of C against 10·300·26: cheaper than forming it)
  const randomized = 300 * 1000 * 4 + 16 * 300 + 3 * 26 * 1000 * 8 + 4 * 26 * 26 * 8;
  t.equal(pca.bytes - id.bytes, randomized + 2 * 300 * 26 * 8, 'd 1000, k 16: C through the rows');
  // face-scale: 3,814 rows (the multiply-add budget), k 128, l 192: C formed
  const face = { count: 50_000, dimension: 512, threads: 1 };
  const wide = (init: 'pca' | 'identity') =>
    trainingJobCost(triplets({ init, outputDimension: 128, ...plain }), face).bytes;
  t.equal(
    wide('pca') - wide('identity'),
    3814 * 512 * 4 + 16 * 3814 + 3 * 192 * 512 * 8 + 4 * 192 * 192 * 8 + 8 * 3814 * 512 + 12 * 512 * 512,
    'd 512, k 128: C formed',
  );
  // whitened beside an identity start at d 1000: a randomized spectrum of 300 sampled rows (3·m)
  // with a sketch of 26 (16 + 10), and the whitening term with r = 16
  const whitened = trainingJobCost(triplets({ init: 'identity', preconditioner: 'whiten' }), data);
  const term = (name: string) => whitened.terms.find((x) => x.name === name)!.bytes;
  t.equal(term('PCA init'), 300 * 1000 * 4 + 16 * 300 + 3 * 26 * 1000 * 8 + 2 * 300 * 26 * 8 + 4 * 26 * 26 * 8);
  t.equal(term('whitening'), (16 * 1000 + 3 * 16 * 1000 + 2 * 16 * 16) * 8);
  t.equal(whitened.bytes - id.bytes, term('PCA init') + term('whitening'), 'nothing else');
  // beside another start a large d never costs d² either
  const huge = { count: 1000, dimension: 8192, threads: 1 };
  const spectrum = trainingJobCost(triplets({ init: 'uniform', outputDimension: 4096 }), huge).terms;
  t.ok(
    spectrum.find((x) => x.name === 'PCA init')!.bytes < (32 * 8192 * 8192) / 10,
    'a tenth of the exact 32·d² at d 8192',
  );
  const cg = trainingJobCost(triplets({ optimizer: 'cg', init: 'identity', ...plain }), data);
  t.equal(id.bytes - cg.bytes, (2 * 10 + 8 - 9) * 16 * 1000 * 8, 'L-BFGS (h=10) over CG');
  const adam = trainingJobCost(mined({ init: 'identity' }), data).terms.find((x) => x.name === 'optimiser')!;
  t.equal(adam.bytes, 8 * 16 * 1000 * 8, 'Adam: W, gradient, m, v, best W, returned W, W₀ and the pull’s copy');
});

t.test('a small default job is small, and the estimate grows with every size', async (t) => {
  const base = { count: 1000, dimension: 32, threads: 2 };
  const small = trainingJobCost(triplets(), base).bytes;
  t.ok(small < 64 * MiB, `${small}`);
  for (const over of [{ count: 2000 }, { dimension: 64 }, { threads: 4 }]) {
    t.ok(trainingJobCost(triplets(), { ...base, ...over }).bytes > small, JSON.stringify(over));
  }
  t.ok(trainingJobCost(triplets({ outputDimension: 32 }), base).bytes > small);
});

t.test('the start gate rows: counted with a start pull or normalize auto, within its row bound', async (t) => {
  const data = { count: 100000, dimension: 512, threads: 1 };
  const gate = (p: Partial<TrainingParams>) =>
    trainingJobCost(mined({ outputDimension: 128, ...p }), data).terms.find((x) => x.name === 'start gate rows');
  const rows = Math.floor(Math.sqrt(3e8 / (512 + 128)));
  t.equal(gate({})!.bytes, rows * (512 * 4 + 128 * 8 + 4), `${rows} rows at d 512, k 128`);
  t.equal(
    gate({ startPull: 0, normalize: 'auto' })!.bytes,
    rows * (512 * 4 + 128 * 8 + 4),
    'auto scores the same rows',
  );
  t.ok(gate({ startPull: 0 }), 'the default normalize is auto: counted');
  t.notOk(gate({ startPull: 0, normalize: true }), 'no term without either');
  t.notOk(gate({ startPull: 0, normalize: false }), 'nor with plain embeddings asked for');
});

t.test('the mirrored sizes still match the math core', async (t) => {
  t.equal(DEFAULT_CHUNK_ROWS, 64);
  t.equal(DEFAULT_MINED_PARAMS.validationMaxSamples, 1000);
});

t.test(
  'the objective term covers what the WebAssembly objective really holds',
  { skip: !wasmSimdSupported() },
  async (t) => {
    const compute = await createCompute({ kernels: 'wasm', threads: 1 });
    t.teardown(() => compute.close());
    for (const [m, d, k, normalize] of [
      [3000, 37, 5, false],
      [500, 130, 33, true],
      [5000, 8, 64, false],
    ] as const) {
      const rnd = () => Float32Array.from({ length: m * d }, () => Math.random() - 0.5);
      const set = { m, d, anchors: rnd(), positives: rnd(), negatives: rnd() };
      const objective = compute.kernels.createObjective!(set, { margin: 0.2, normalize, weightDecay: 0 });
      const W = Float64Array.from({ length: k * d }, () => Math.random());
      objective.evaluate(W, k, new Float64Array(k * d));
      const held = (objective as unknown as { bytes: number }).bytes;
      objective.dispose?.();
      const term = trainingJobCost(triplets({ outputDimension: k, normalize }), {
        count: m,
        dimension: d,
        threads: 1,
      }).terms.find((x) => x.name === 'objective')!;
      t.ok(term.bytes >= held, `m=${m} d=${d} k=${k}: estimate ${term.bytes} ≥ held ${held}`);
    }
  },
);

t.test(
  'a job on index triplets: its estimate covers what the indexed objective holds in WebAssembly',
  { skip: !wasmSimdSupported() },
  async (t) => {
    // the runner trains index triplets on their samples only when n ≤ m (src/jobs/runner.ts)
    for (const [n, m, d, k] of [
      [4000, 4000, 3, 3],
      [3000, 9000, 37, 5],
      [2000, 2000, 130, 64],
      [3000, 3000, 3, 64],
    ] as const) {
      const compute = await createCompute({ kernels: 'wasm', threads: 2 });
      const heap = (compute.kernels as unknown as { heap: { allocated: number } }).heap;
      const before = heap.allocated;
      const samples = Float32Array.from({ length: n * d }, () => Math.random() - 0.5);
      const refs = Int32Array.from({ length: 3 * m }, () => Math.floor(Math.random() * n));
      const objective = createIndexedObjective(
        { n, m, d, samples, refs },
        { margin: 0.2, normalize: false, weightDecay: 0 },
        compute.kernels,
      );
      const W = Float64Array.from({ length: k * d }, () => Math.random() - 0.5);
      for (let e = 0; e < 3; e++)
        objective.evaluate(
          W.map((x) => x * (1 + e)),
          k,
          new Float64Array(k * d),
        );
      const held = heap.allocated - before;
      objective.dispose?.();
      await compute.close();
      const cost = trainingJobCost(triplets({ outputDimension: k }), { count: m, dimension: d, threads: 2 });
      const terms = ['objective', 'triplet bookkeeping'].map((x) => cost.terms.find((y) => y.name === x)!.bytes);
      const estimate = terms[0] + terms[1];
      t.ok(estimate >= held, `n=${n} m=${m} d=${d} k=${k}: objective and bookkeeping ${estimate} ≥ held ${held}`);
    }
  },
);

t.test('reply formulas bound the replies', async (t) => {
  const k = 37;
  const rows = 50;
  const data = Float32Array.from({ length: rows * k }, (_, i) => (i % 2 ? -1 : 1) * 1.2345678e-38 * (i + 1));
  const e = { model: { k, record: { id: 'mdl_0123456789abcdef' } } as unknown as LoadedModel, rows, data };
  const json = embedJson(e);
  t.type(json, 'string', 'a small reply is one string');
  t.ok(embedReplyBytes(rows, k, 'json') >= (json as string).length);
  const b64 = JSON.stringify({ model: 'mdl_0123456789abcdef', dimension: k, embeddings: base64Rows(e) });
  t.ok(embedReplyBytes(rows, k, 'base64') >= b64.length);
  t.equal(embedReplyBytes(rows, k, 'binary'), rows * k * 4);
  const D = Array.from({ length: 20 }, () => Array.from({ length: 30 }, () => -Math.random() * 1e-300));
  t.ok(
    distancesReplyBytes(20, 30) >=
      JSON.stringify({ model: 'mdl_0123456789abcdef', metric: 'cosine', distances: D }).length,
  );
  const W = Array.from({ length: 4 }, () => Array.from({ length: 9 }, () => -Math.random() * 1e-300));
  t.ok(weightsReplyBytes(4, 9) >= JSON.stringify({ rows: 4, cols: 9, normalize: false, W }).length);
  t.equal(modelCacheBytes(3, 9), 3 * 9 * 8 + 8 * 16 * 4);
});

t.test('the checkpoint term: C covers the serialised checkpoint the worker posts, counted thrice', async (t) => {
  const biggest = (run: (onCheckpoint: (c: object) => void) => void) => {
    let max = 0;
    run((c) => (max = Math.max(max, serialize(c).byteLength)));
    return max;
  };
  const d = 24;
  const m = 300;
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 2);
  const set = { m, d, anchors: rnd(m * d), positives: rnd(m * d).map((v) => v + 0.1), negatives: rnd(m * d).reverse() };
  for (const optimizer of ['lbfgs', 'cg'] as const) {
    const p = triplets({ outputDimension: 6, optimizer, historySize: 7, maxIterations: 30, seed: 3 });
    const got = biggest((onCheckpoint) => train(set, p as never, { onCheckpoint }));
    const c = checkpointBytes(p, { count: m, dimension: d });
    t.ok(c >= got, `${optimizer}: C = ${c} ≥ serialised ${got}`);
  }
  const n = 400;
  const samples = { d, n, X: rnd(n * d), labels: Int32Array.from({ length: n }, (_, i) => i % 20) };
  for (const validationFraction of [0, 0.2]) {
    const p = mined({ outputDimension: 6, maxIterations: 20, validationFraction, batchSize: 40, samplesPerLabel: 4 });
    const got = biggest((onCheckpoint) =>
      trainMined(samples, { ...DEFAULT_MINED_PARAMS, ...p } as never, { onCheckpoint }),
    );
    const c = checkpointBytes(p, { count: n, dimension: d });
    t.ok(c >= got, `samples, validation ${validationFraction}: C = ${c} ≥ serialised ${got}`);
  }
  const p = triplets();
  const on = trainingJobCost(p, { count: m, dimension: d, threads: 1, checkpoints: true });
  const off = trainingJobCost(p, { count: m, dimension: d, threads: 1 });
  t.equal(
    on.bytes - off.bytes,
    3 * checkpointBytes(p, { count: m, dimension: d }),
    'three copies, only with checkpoints',
  );
  t.match(on.terms.find((x) => x.name === 'checkpoint')?.formula, /^3·C, C = 16·k·d·\(1 \+ historySize\)/);
});

t.test('normalize auto with validation counts the trial’s second run; without either, nothing', async (t) => {
  const data = { count: 5000, dimension: 512, threads: 1 };
  const cost = (p: Partial<TrainingParams>) => trainingJobCost(mined({ outputDimension: 128, ...p }), data);
  const trial = cost({}).terms.find((x) => x.name === 'normalize trial');
  const [B, k, d, n] = [80, 128, 512, 5000];
  // its own batch buffers; the evaluation sets are the first run's
  const own = 3 * B * B * 8 + 12 * B * (B - 1) + B * d * 4 + 2 * B * k * 8;
  t.equal(trial?.bytes, 6 * k * d * 8 + n * 8 + own, 'the default (auto, 10% validation): a second run');
  t.equal(cost({}).bytes - cost({ normalize: true }).bytes, trial!.bytes, 'the only difference from a unit-norm job');
  t.notOk(
    cost({ validationFraction: 0 }).terms.find((x) => x.name === 'normalize trial'),
    'no validation: no trial',
  );
  t.notOk(
    cost({ normalize: false }).terms.find((x) => x.name === 'normalize trial'),
    'plain asked for: no trial',
  );
  t.notOk(
    cost({ validationSplit: 'samples' }).terms.find((x) => x.name === 'normalize trial'),
    'validation on held-out samples: no trial',
  );
  t.ok(
    cost({ validationSplit: 'labels' }).terms.find((x) => x.name === 'normalize trial'),
    'on held-out labels: one',
  );
});

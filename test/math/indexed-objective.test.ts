// The indexed triplet objective (each sample projected once) against the difference form on the
// same triplets gathered into rows: equal up to rounding in float64, within float32 tolerance in
// WebAssembly (several sum blocks, ragged k and d), a finite-difference gradient, the same start
// and nearly the same L-BFGS run; and what it refuses.
import t from 'tap';
import { createCompute } from '../../src/compute/index.js';
import { gatherTripletSet, toIndexedSet } from '../../src/compute/training-data.js';
import { createIndexedObjective } from '../../src/math/indexed-objective.js';
import { initW } from '../../src/math/init.js';
import { jsKernels } from '../../src/math/kernels/js.js';
import { createTripletObjective } from '../../src/math/losses.js';
import { createRng } from '../../src/math/rng.js';
import { SUM_BLOCK_ROWS } from '../../src/math/sample-products.js';
import { minimizeLbfgs } from '../../src/math/optim/lbfgs.js';
import { train } from '../../src/math/train.js';
import type { IndexedTripletSet, LossOptions, TripletSet } from '../../src/math/types.js';
import { relErr } from './helpers.js';

/** n samples in c clusters and m triplets over them (anchor and positive share a cluster). */
function indexedCase(seed: number, n: number, m: number, d: number, f64 = true, separation = 2): IndexedTripletSet {
  const rng = createRng(seed);
  const c = 5;
  const samples = f64 ? new Float64Array(n * d) : new Float32Array(n * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) samples[i * d + j] = (j === i % c ? separation : 0) + rng.normal();
  const refs = new Int32Array(3 * m);
  for (let i = 0; i < m; i++) {
    const a = rng.int(n);
    let p = rng.int(n);
    while (p % c !== a % c) p = rng.int(n);
    let q = rng.int(n);
    while (q % c === a % c) q = rng.int(n);
    refs.set([a, p, q], 3 * i);
  }
  return { d, m, n, samples, refs };
}

function gathered(set: IndexedTripletSet): TripletSet {
  const out = [0, 1, 2].map(() =>
    set.samples instanceof Float64Array ? new Float64Array(set.m * set.d) : new Float32Array(set.m * set.d),
  );
  for (let i = 0; i < set.m; i++)
    for (let s = 0; s < 3; s++) {
      const r = set.refs[3 * i + s];
      out[s].set(set.samples.subarray(r * set.d, (r + 1) * set.d), i * set.d);
    }
  return { d: set.d, m: set.m, anchors: out[0], positives: out[1], negatives: out[2] };
}

const randomW = (k: number, d: number, seed: number) => {
  const rng = createRng(seed);
  return Float64Array.from({ length: k * d }, () => rng.normal() * 0.3);
};

const variants: [string, LossOptions][] = [
  ['squared', { margin: 0.2, normalize: false, weightDecay: 0 }],
  ['squared, weight decay', { margin: 1, normalize: false, weightDecay: 1e-2 }],
  ['normalised', { margin: 0.2, normalize: true, weightDecay: 1e-3 }],
  ['no hinge', { margin: 0.2, normalize: false, weightDecay: 0, hinge: 'none' }],
];

t.test('float64: the indexed and the difference form agree to rounding', async (t) => {
  const set = indexedCase(1, 60, 300, 9);
  const ref = gathered(set);
  const k = 4;
  const W = randomW(k, set.d, 2);
  for (const [name, opts] of variants) {
    const g = new Float64Array(k * set.d);
    const gRef = new Float64Array(k * set.d);
    const v = createIndexedObjective(set, opts).evaluate(W, k, g);
    const r = createTripletObjective(ref, opts, jsKernels).evaluate(W, k, gRef);
    t.ok(Math.abs(v.loss - r.loss) <= 1e-12 * Math.abs(r.loss), `${name}: loss ${v.loss} vs ${r.loss}`);
    t.ok(relErr(g, gRef) < 1e-12, `${name}: gradient, relative error ${relErr(g, gRef).toExponential(2)}`);
    t.equal(v.activeCount, r.activeCount, `${name}: active count`);
    t.equal(v.correctCount, r.correctCount, `${name}: correct count`);
    t.ok(v.activeCount > 0 && v.activeCount < set.m, `${name}: some triplets active, not all`);
  }
});

t.test('float64: the gradient matches central differences', async (t) => {
  const set = indexedCase(3, 30, 120, 6);
  const k = 3;
  const W = randomW(k, set.d, 4);
  for (const [name, opts] of variants) {
    const obj = createIndexedObjective(set, opts);
    const g = new Float64Array(k * set.d);
    obj.evaluate(W, k, g);
    const h = 1e-6;
    let worst = 0;
    for (let i = 0; i < W.length; i++) {
      const w = W[i];
      W[i] = w + h;
      const up = obj.evaluate(W, k, null).loss;
      W[i] = w - h;
      const down = obj.evaluate(W, k, null).loss;
      W[i] = w;
      worst = Math.max(worst, Math.abs((up - down) / (2 * h) - g[i]));
    }
    t.ok(worst < 1e-5, `${name}: max |finite difference − gradient| ${worst.toExponential(2)}`);
  }
});

t.test('WebAssembly: within float32 tolerance over several sum blocks, the same on 1 and 2 threads', async (t) => {
  const n = 2 * SUM_BLOCK_ROWS + 123;
  const set = indexedCase(5, n, 3000, 21, false);
  const ref = gathered(set);
  const k = 7;
  const W = randomW(k, set.d, 6);
  const results: Float64Array[] = [];
  for (const threads of [1, 2]) {
    const compute = await createCompute({ kernels: 'wasm', threads });
    t.teardown(() => compute.close());
    for (const [name, opts] of variants) {
      const g = new Float64Array(k * set.d);
      const gRef = new Float64Array(k * set.d);
      const obj = createIndexedObjective(set, opts, compute.kernels);
      const v = obj.evaluate(W, k, g);
      obj.dispose?.();
      const r = createTripletObjective(ref, opts, jsKernels).evaluate(W, k, gRef);
      t.ok(Math.abs(v.loss - r.loss) <= 1e-5 * Math.abs(r.loss), `${threads} thread(s), ${name}: loss`);
      t.ok(relErr(g, gRef) <= 1e-5, `${threads} thread(s), ${name}: gradient ${relErr(g, gRef).toExponential(2)}`);
      results.push(g);
    }
  }
  for (let i = 0; i < variants.length; i++)
    t.same(results[i], results[i + variants.length], `${variants[i][0]}: bit-identical on 1 and 2 threads`);
  const obj = createIndexedObjective(set, variants[0][1], (await createCompute({ kernels: 'wasm' })).kernels);
  obj.dispose?.();
  t.throws(() => obj.evaluate(W, k, null), /after dispose/, 'a disposed objective refuses to run');
});

t.test('WebAssembly: an evaluation after others equals a fresh one, bit for bit', async (t) => {
  const compute = await createCompute({ kernels: 'wasm', threads: 2 });
  t.teardown(() => compute.close());
  const set = indexedCase(9, SUM_BLOCK_ROWS + 77, 2500, 19, false);
  const k = 6;
  // from many triplets counted to few: the rows of the earlier passes must not leak into later ones
  const Ws = [randomW(k, set.d, 10), randomW(k, set.d, 11).map((x) => x * 4), randomW(k, set.d, 12)];
  for (const opts of [variants[0][1], variants[3][1]]) {
    const obj = createIndexedObjective(set, { ...opts, inactiveSkip: false }, compute.kernels);
    t.teardown(() => obj.dispose?.());
    for (const [i, W] of Ws.entries()) {
      const g = new Float64Array(k * set.d);
      const v = obj.evaluate(W, k, g);
      const fresh = createIndexedObjective(set, { ...opts, inactiveSkip: false }, compute.kernels);
      const g2 = new Float64Array(k * set.d);
      const f = fresh.evaluate(W, k, g2);
      fresh.dispose?.();
      t.equal(v.loss, f.loss, `${opts.hinge ?? 'relu'}, W ${i}: loss`);
      t.same(g, g2, `${opts.hinge ?? 'relu'}, W ${i}: gradient (${v.activeCount} active)`);
    }
  }
});

t.test('training: the same PCA start, and L-BFGS to the same loss as the difference form', async (t) => {
  const set = indexedCase(7, 200, 1500, 12);
  const ref = gathered(set);
  const p = {
    outputDimension: 4,
    margin: 0.2,
    optimizer: 'lbfgs' as const,
    maxIterations: 60,
    normalize: false,
    weightDecay: 1e-4,
    init: 'pca' as const,
    seed: 3,
    gradientTolerance: 1e-9,
    historySize: 10,
  };
  const W0 = initW({ init: 'pca', k: 4, d: 12, seed: 3 }, set);
  t.same(W0, initW({ init: 'pca', k: 4, d: 12, seed: 3 }, ref), 'the same PCA start');
  const start = createIndexedObjective(set, { margin: 0.2, normalize: false, weightDecay: 1e-4 }).evaluate(W0, 4, null);
  const a = train(set, p);
  const b = train(ref, p);
  t.ok(a.metrics.trainLoss < 0.5 * start.loss, 'training lowers the loss');
  t.ok(
    Math.abs(a.metrics.trainLoss - b.metrics.trainLoss) <= 1e-6 + 1e-3 * b.metrics.trainLoss,
    `final loss ${a.metrics.trainLoss} vs ${b.metrics.trainLoss}`,
  );
  t.ok(
    Math.abs(a.metrics.meanEmbeddingDistance - b.metrics.meanEmbeddingDistance) <=
      1e-3 * b.metrics.meanEmbeddingDistance,
    'the same embedding spread',
  );
  t.same(train(set, p).W, a.W, 'deterministic');
});

t.test('a split of indexed triplets: training part by index, validation part gathered', async (t) => {
  const set = indexedCase(9, 20, 10, 3, false);
  const stored = {
    count: set.m,
    dimension: set.d,
    refs: set.refs,
    samples: { count: set.n, data: set.samples as Float32Array },
  };
  const part = Uint32Array.from([7, 2, 5]);
  const tr = toIndexedSet(stored, part);
  t.same(Array.from(tr.refs), [...set.refs.subarray(21, 24), ...set.refs.subarray(6, 9), ...set.refs.subarray(15, 18)]);
  t.equal(tr.samples, set.samples, 'the samples are shared, not copied');
  const g = gatherTripletSet(stored, part);
  const full = gathered(set);
  t.same(Array.from(g.negatives.subarray(0, 3)), Array.from(full.negatives.subarray(21, 24)));
});

t.test('refused: indices outside the samples, sizes that do not match', async (t) => {
  const set = indexedCase(11, 10, 5, 2);
  t.throws(
    () => createIndexedObjective({ ...set, refs: Int32Array.from([...set.refs.subarray(0, 14), 10]) }, variants[0][1]),
    /refs\[14\] is 10/,
  );
  t.throws(() => createIndexedObjective({ ...set, refs: set.refs.subarray(0, 12) }, variants[0][1]), /expected 3·m/);
  t.throws(() => createIndexedObjective({ ...set, n: 11 }, variants[0][1]), /expected n·d/);
});

// Two shapes: many samples (a partial evaluation projects only its candidates' samples) and few
// samples under many triplets (it projects them all and brackets only the candidates); k 4 on
// d 10 also takes the spectral step bound (its cost is small next to the brackets). In float64 a
// skipping evaluation equals the full one bit for bit; in WebAssembly its candidates' samples are
// projected by another product than the resident one, so within float32 tolerance.
for (const backend of ['js', 'wasm'] as const)
  for (const [name, n, m] of [
    ['partial projections', 3000, 4000],
    ['full projections, partial brackets', 200, 4000],
  ] as const) {
    t.test(
      `the inactive bound, ${backend}, ${name}: skipped evaluations equal full ones on an L-BFGS path`,
      async (t) => {
        const compute = backend === 'wasm' ? await createCompute({ kernels: 'wasm', threads: 2 }) : null;
        t.teardown(() => compute?.close());
        const kernels = compute?.kernels ?? jsKernels;
        const set = indexedCase(13, n, m, 10, backend === 'js', 4);
        const k = 4;
        const opts = { margin: 0.2, normalize: false, weightDecay: 1e-4 };
        const obj = createIndexedObjective(set, opts, kernels);
        t.teardown(() => obj.dispose?.());
        let partial = 0;
        let evaluations = 0;
        let mismatches = 0;
        let worst = 0;
        const fg = (W: Float64Array, g: Float64Array) => {
          const v = obj.evaluate(W, k, g);
          evaluations++;
          if (obj.lastSkipped > 0) {
            partial++;
            // a fresh objective evaluates every triplet
            const g2 = new Float64Array(g.length);
            const fresh = createIndexedObjective(set, opts, kernels);
            const full = fresh.evaluate(W, k, g2);
            fresh.dispose?.();
            if (backend === 'js') {
              if (full.loss !== v.loss || full.activeCount !== v.activeCount || full.correctCount !== v.correctCount)
                mismatches++;
              else if (g2.some((x, i) => x !== g[i])) mismatches++;
            } else {
              worst = Math.max(worst, Math.abs(full.loss - v.loss) / full.loss, relErr(g, g2));
              if (Math.abs(full.activeCount - v.activeCount) > 1) mismatches++;
            }
          }
          return v.loss;
        };
        const W0 = initW({ init: 'pca', k, d: set.d, seed: 1 }, set);
        minimizeLbfgs(fg, W0, { maxIterations: 80, gradientTolerance: 0, historySize: 10 });
        t.ok(partial > evaluations / 3, `${partial} of ${evaluations} evaluations skipped triplets`);
        t.equal(
          mismatches,
          0,
          backend === 'js' ? 'every skipping evaluation equals the full one' : 'the same active sets',
        );
        if (backend === 'wasm')
          t.ok(worst < 1e-4, `loss and gradient within ${worst.toExponential(2)} of the full ones`);
      },
    );
  }

t.test('the inactive bound is off where it does not hold: normalised embeddings, no hinge', async (t) => {
  const set = indexedCase(15, 1000, 800, 6, true, 6);
  const W = randomW(3, set.d, 16);
  for (const opts of [variants[2][1], variants[3][1]]) {
    const obj = createIndexedObjective(set, opts);
    obj.evaluate(W, 3, new Float64Array(3 * set.d));
    obj.evaluate(W, 3, new Float64Array(3 * set.d));
    t.equal(obj.lastSkipped, 0, `${opts.normalize ? 'normalised' : 'no hinge'}: nothing skipped`);
  }
  const squared = createIndexedObjective(set, variants[0][1]);
  const W0 = initW({ init: 'pca', k: 3, d: set.d, seed: 1 }, set);
  squared.evaluate(W0, 3, null);
  squared.evaluate(W0, 3, null);
  t.ok(squared.lastSkipped > 0, 'the hinged squared loss skips at the same W');
});

t.test('WebAssembly resident rows from a transposed block: the same products as from its transpose', async (t) => {
  const compute = await createCompute({ kernels: 'wasm' });
  t.teardown(() => compute.close());
  const K = compute.kernels;
  const rng = createRng(21);
  // a block of 13 samples of 19 features: the resident rows are its 19 columns
  const nb = 13;
  const d = 19;
  const block = Float32Array.from({ length: nb * d }, () => rng.normal());
  const T = new Float32Array(d * nb);
  for (let s = 0; s < nb; s++) for (let j = 0; j < d; j++) T[j * nb + s] = block[s * d + j];
  const Q = Float64Array.from({ length: 3 * nb }, () => rng.normal());
  const direct = K.residentRows!(block, d, nb, true);
  const copied = K.residentRows!(T, d, nb);
  const a = direct.against(Q, 3).block(0, d);
  const b = copied.against(Q, 3).block(0, d);
  t.same(Array.from(a.values), Array.from(b.values), 'bit for bit');
  let worst = 0;
  for (let q = 0; q < 3; q++)
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let r = 0; r < nb; r++) s += T[j * nb + r] * Q[q * nb + r];
      worst = Math.max(worst, Math.abs(a.values[q * a.stride + j] - s));
    }
  t.ok(worst < 1e-4, `and the products of Xᵀ's rows: max error ${worst.toExponential(2)}`);
  // the queries given as columns (nb×3, query q is column q), as the gradient hands over C's rows
  const Qc = new Float64Array(nb * 3);
  for (let q = 0; q < 3; q++) for (let r = 0; r < nb; r++) Qc[r * 3 + q] = Q[q * nb + r];
  const c = direct.against(Qc, 3, true).block(0, d);
  t.same(Array.from(c.values), Array.from(a.values), 'queries as columns: bit for bit');
  direct.dispose();
  copied.dispose();
});

t.test('WebAssembly resident triplets: float32 distances of the loaded projections', async (t) => {
  const rng = createRng(23);
  // k 40 over 20,000 triplets: enough work for the pool's second thread
  const n = 3001;
  const m = 20000;
  const k = 40;
  const stride = 3008;
  const refs = Int32Array.from({ length: 3 * m }, () => rng.int(n));
  const values = Float32Array.from({ length: k * stride }, () => rng.normal());
  const list = Int32Array.from({ length: 777 }, () => rng.int(m));
  const runs: Float64Array[] = [];
  for (const threads of [1, 2]) {
    const compute = await createCompute({ kernels: 'wasm', threads });
    t.teardown(() => compute.close());
    const rt = compute.kernels.residentTriplets!(refs, m, n);
    const { Z, ld } = rt.load(values, stride, k);
    t.equal(ld, 40, 'rows padded to a multiple of 8');
    let misplaced = 0;
    for (let i = 0; i < n; i++) for (let r = 0; r < k; r++) if (Z[i * ld + r] !== values[r * stride + i]) misplaced++;
    t.equal(misplaced, 0, `${threads} thread(s): Z is the transpose of the values`);
    const all = Float64Array.from(rt.distances(null, m));
    let worst = 0;
    for (let i = 0; i < m; i++)
      for (let s = 1; s <= 2; s++) {
        let e = 0;
        for (let r = 0; r < k; r++) e += (Z[refs[3 * i] * ld + r] - Z[refs[3 * i + s] * ld + r]) ** 2;
        worst = Math.max(worst, Math.abs(all[2 * i + s - 1] - e) / Math.max(e, 1e-30));
      }
    t.ok(worst < 1e-5, `${threads} thread(s): every distance within ${worst.toExponential(2)} of float64`);
    const listed = rt.distances(list, list.length);
    let differ = 0;
    for (let t2 = 0; t2 < list.length; t2++)
      if (listed[2 * t2] !== all[2 * list[t2]] || listed[2 * t2 + 1] !== all[2 * list[t2] + 1]) differ++;
    t.equal(differ, 0, `${threads} thread(s): a list gives its triplets' distances, bit for bit`);
    runs.push(all);
    // projections made in the backend's memory are read in place, to the same rows
    const X = Float32Array.from({ length: n * 24 }, () => rng.normal());
    const W = Float64Array.from({ length: k * 24 }, () => rng.normal());
    const rows = compute.kernels.residentRows!(X, n, 24);
    const p = rows.against(W, k);
    const block = p.block(0, n);
    const inPlace = Float32Array.from(rt.load(block.values, block.stride, k).Z);
    const copied = rt.load(Float32Array.from(block.values), block.stride, k).Z;
    t.same(Array.from(copied), Array.from(inPlace), `${threads} thread(s): in place = copied`);
    p.dispose();
    rows.dispose();
    // the coefficients of two lists in turn: the second's rows only, the first's cleared
    for (const [name, chosen] of [
      ['a list', list],
      ['another', list.subarray(0, 50)],
    ] as const) {
      const C = Float64Array.from(rt.coefficients(chosen, chosen.length, 0.5));
      const expected = new Float64Array(n * k);
      for (const i of chosen) {
        const [a, p, q] = [refs[3 * i], refs[3 * i + 1], refs[3 * i + 2]];
        for (let r = 0; r < k; r++) {
          const [ea, ep, en] = [Z[a * ld + r], Z[p * ld + r], Z[q * ld + r]];
          expected[a * k + r] += 0.5 * (en - ep);
          expected[p * k + r] += 0.5 * (ep - ea);
          expected[q * k + r] += 0.5 * (ea - en);
        }
      }
      let off = 0;
      for (let j = 0; j < n * k; j++) off = Math.max(off, Math.abs(C[j] - expected[j]));
      t.ok(off < 1e-4, `${threads} thread(s), ${name}: coefficients within ${off.toExponential(2)}, others zero`);
    }
    t.throws(() => rt.coefficients(Int32Array.of(m), 1, 1), /list\[0\] is/, 'coefficients of a triplet past m');
    t.throws(() => rt.distances(list, list.length + 1), /count/, 'a count past the list is refused');
    t.throws(() => rt.distances(Int32Array.of(m), 1), /list\[0\] is/, 'a triplet past m is refused');
    t.throws(() => rt.load(values, n - 1, k), /stride/, 'a stride shorter than n is refused');
    rt.dispose();
    rt.dispose();
    t.throws(() => rt.distances(null, 1), /after dispose/, 'a disposed set refuses to run');
    t.throws(() => compute.kernels.residentTriplets!(Int32Array.of(0, 1, n), 1, n), /ref 2 is/, 'refs past n');
    const empty = compute.kernels.residentTriplets!(refs, m, n);
    t.throws(() => empty.distances(null, 1), /nothing loaded/, 'distances before a load are refused');
    empty.dispose();
  }
  t.same(runs[0], runs[1], 'bit-identical on 1 and 2 threads');
});

// The WebAssembly SIMD backend (float32) against the float64 reference, on random cases and the
// shared fixtures; the pure-TypeScript fallback on the same cases; determinism across threads.
import t, { type Test } from 'tap';
import { createCompute, type Compute } from '../../src/compute/index.js';
import { pairwiseDistances, type Metric } from '../../src/math/distances.js';
import { WasmHeap } from '../../src/math/kernels/heap.js';
import { jsKernels } from '../../src/math/kernels/js.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';
import type { Kernels } from '../../src/math/kernels/types.js';
import type { WasmKernels } from '../../src/math/kernels/wasm.js';
import { createTripletObjective } from '../../src/math/losses.js';
import { evaluateTriplets } from '../../src/math/metrics.js';
import { createRng } from '../../src/math/rng.js';
import { train } from '../../src/math/train.js';
import type { LossOptions, LossValue, TripletSet } from '../../src/math/types.js';
import { SHARED, flat64, randomSet, readJson, relErr, settledSet } from './helpers.js';

const REL = 1e-5;

function compare(
  t: Test,
  label: string,
  kernels: Kernels,
  set: TripletSet,
  W: Float64Array,
  k: number,
  opts: LossOptions,
) {
  const gRef = new Float64Array(k * set.d);
  const ref = createTripletObjective(set, opts, jsKernels).evaluate(W, k, gRef);
  const obj = createTripletObjective(set, opts, kernels);
  const g = new Float64Array(k * set.d);
  const v = obj.evaluate(W, k, g);
  const lossOnly = obj.evaluate(W, k, null);
  obj.dispose?.();
  t.ok(Math.abs(v.loss - ref.loss) <= REL * Math.abs(ref.loss) + 1e-12, `${label}: loss ${v.loss} vs ${ref.loss}`);
  const e = relErr(g, gRef);
  t.ok(e <= REL, `${label}: gradient relative error ${e.toExponential(2)}`);
  t.equal(v.activeCount, ref.activeCount, `${label}: same active count`);
  t.equal(v.correctCount, ref.correctCount, `${label}: same correct count`);
  t.equal(lossOnly.loss, v.loss, `${label}: loss-only evaluation agrees`);
}

const simd = wasmSimdSupported();
const backends: { name: string; make: () => Promise<Compute> }[] = [
  { name: 'js', make: () => createCompute({ kernels: 'js' }) },
];
if (simd) {
  backends.push({ name: 'wasm×1', make: () => createCompute({ kernels: 'wasm', threads: 1 }) });
  backends.push({ name: 'wasm×2', make: () => createCompute({ kernels: 'wasm', threads: 2 }) });
  // tiny resident budget: the set is staged into WebAssembly memory part by part
  backends.push({
    name: 'wasm×2 staged',
    make: () => createCompute({ kernels: 'wasm', threads: 2, residentBytes: 64 * 1024 }),
  });
}

t.test('runtime has WebAssembly SIMD (else only the fallback is tested)', (t) => {
  t.ok(simd, 'WebAssembly.validate accepts the SIMD probe');
  t.end();
});

for (const b of backends) {
  t.test(`${b.name}: random cases match the float64 reference`, async (t) => {
    const c = await b.make();
    t.teardown(() => c.close());
    const rng = createRng(11);
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [7, 5, 3],
      [37, 13, 5],
      [300, 64, 16],
      [2500, 40, 9],
      [1100, 130, 33],
    ];
    for (const [m, d, k] of shapes) {
      const set = randomSet(rng, m, d);
      const W = new Float64Array(k * d).map(() => rng.range(-1, 1) / Math.sqrt(d));
      for (const normalize of [false, true]) {
        for (const weightDecay of [0, 0.01]) {
          compare(t, `m=${m} d=${d} k=${k} normalize=${normalize} wd=${weightDecay}`, c.kernels, set, W, k, {
            margin: 0.2,
            normalize,
            weightDecay,
          });
        }
      }
      compare(t, `m=${m} d=${d} k=${k} no hinge`, c.kernels, set, W, k, {
        margin: 0.2,
        normalize: false,
        weightDecay: 0,
        hinge: 'none',
      });
    }
  });

  t.test(`${b.name}: shared fixtures to 1e-5`, async (t) => {
    const c = await b.make();
    t.teardown(() => c.close());
    for (const file of ['seed_octave.json', 'gradcheck_digits.json']) {
      const fx = readJson(`${SHARED}/fixtures/${file}`);
      const set: TripletSet = {
        m: fx.anchors.length,
        d: fx.anchors[0].length,
        anchors: flat64(fx.anchors),
        positives: flat64(fx.positives),
        negatives: flat64(fx.negatives),
      };
      const W = flat64(fx.W);
      const cases: { opts: LossOptions; exp: any }[] =
        file === 'seed_octave.json'
          ? [
              { opts: { margin: fx.margin, normalize: false, weightDecay: 0, hinge: 'none' }, exp: fx.original },
              { opts: { margin: fx.margin, normalize: false, weightDecay: 0, hinge: 'relu' }, exp: fx.hinged },
            ]
          : fx.cases.map((cs: any) => ({
              opts: { margin: fx.margin, normalize: cs.normalize, weightDecay: cs.weight_decay },
              exp: cs,
            }));
      for (const { opts, exp } of cases) {
        const label = `${file} normalize=${opts.normalize} wd=${opts.weightDecay} hinge=${opts.hinge ?? 'relu'}`;
        const obj = createTripletObjective(set, opts, c.kernels);
        const g = new Float64Array(W.length);
        const v = obj.evaluate(W, fx.k, g);
        obj.dispose?.();
        t.ok(Math.abs(v.loss - exp.loss) <= REL * Math.abs(exp.loss), `${label}: loss ${v.loss} vs ${exp.loss}`);
        const e = relErr(g, flat64(exp.grad));
        t.ok(e <= REL, `${label}: gradient relative error ${e.toExponential(2)}`);
        const ref = createTripletObjective(set, opts, jsKernels).evaluate(W, fx.k, null);
        t.equal(v.activeCount, ref.activeCount, `${label}: active set size as the float64 reference`);
      }
    }
  });
}

if (simd) {
  t.test('same seed: bit-identical W with 1 or 2 threads (and staged)', async (t) => {
    const rng = createRng(5);
    const set = randomSet(rng, 3000, 24);
    const params = {
      outputDimension: 6,
      margin: 0.2,
      optimizer: 'lbfgs' as const,
      maxIterations: 15,
      normalize: false,
      weightDecay: 0,
      init: 'uniform' as const,
      seed: 3,
      gradientTolerance: 1e-8,
      historySize: 5,
    };
    for (const normalize of [false, true]) {
      const Ws: Float64Array[] = [];
      for (const threads of [1, 2]) {
        const c = await createCompute({ kernels: 'wasm', threads });
        Ws.push(train(set, { ...params, normalize }, {}, c.kernels).W);
        await c.close();
      }
      t.same(Array.from(Ws[1]), Array.from(Ws[0]), `normalize=${normalize}: 2 threads = 1 thread, bit for bit`);
      const staged = [];
      for (const threads of [1, 2]) {
        const c = await createCompute({ kernels: 'wasm', threads, residentBytes: 32 * 1024 });
        staged.push(train(set, { ...params, normalize }, {}, c.kernels).W);
        await c.close();
      }
      t.same(Array.from(staged[1]), Array.from(staged[0]), `normalize=${normalize}, staged: 2 threads = 1 thread`);
    }
  });

  t.test('early exit of the negatives: same results as the full product, bit for bit', async (t) => {
    // most negatives far, positives near: most triplets inactive with room to spare; W's first
    // rows largest, so the first panels carry most of ‖v‖² and settle rows early
    const rng = createRng(21);
    const m = 2000,
      d = 40,
      k = 33;
    // every sixth block of 8 rows hard (negatives near): rows are dropped 4 at a time
    const set = settledSet(rng, m, d, (row) => Math.floor(row / 8) % 6 === 0);
    const W = new Float64Array(k * d).map((_, i) => rng.range(-1, 1) / (1 + Math.floor(i / d)));
    const cases: [string, LossOptions][] = [
      ['hinged', { margin: 0.2, normalize: false, weightDecay: 0 }],
      ['hinged, margin 0', { margin: 0, normalize: false, weightDecay: 0.01 }],
      ['no hinge', { margin: 0.2, normalize: false, weightDecay: 0, hinge: 'none' }],
      ['normalised', { margin: 0.2, normalize: true, weightDecay: 0 }],
    ];
    for (const threads of [1, 2]) {
      for (const residentBytes of [undefined, 48 * 1024]) {
        const runs: { v: LossValue; g: number[]; exits: number }[][] = [];
        for (const earlyExit of [true, false]) {
          const c = await createCompute({ kernels: 'wasm', threads, earlyExit, residentBytes });
          const kernels = c.kernels as WasmKernels;
          runs.push(
            cases.map(([, opts]) => {
              const obj = kernels.createObjective(set, opts);
              const g = new Float64Array(k * d);
              const v = obj.evaluate(W, k, g);
              const exits = obj.lastEarlyExits;
              obj.dispose();
              return { v, g: Array.from(g), exits };
            }),
          );
          await c.close();
        }
        cases.forEach(([name], i) => {
          const [on, off] = [runs[0][i], runs[1][i]];
          const label = `${name}, ${threads} thread(s)${residentBytes ? ', staged' : ''}`;
          t.same(on.v, off.v, `${label}: loss and counts identical`);
          t.same(on.g, off.g, `${label}: gradient identical`);
          t.equal(off.exits, 0, `${label}: no early exits when turned off`);
          if (i < 2)
            t.ok(
              on.exits > m / 2 && on.exits < m - on.v.activeCount + 1,
              `${label}: ${on.exits} of ${m} negatives stopped early (${on.v.activeCount} active)`,
            );
          else t.equal(on.exits, 0, `${label}: never stops early`);
        });
      }
    }
  });

  t.test('early exit at the boundary: a row is dropped only when its bracket is already ≤ 0', async (t) => {
    // W = I (16×16, two panels), a = 0, so u = −p and v = −n exactly; dyadic values keep every
    // sum exact in float32. ‖u‖² = 1, margin 0.25. Groups of 4 rows per case:
    //   A: ‖v‖² = 1.5625 in panel 1 → bracket −0.3125 after panel 1: dropped
    //   B: panel 1 gives bracket 0.0302734375 > 0, panel 2 lowers it to 0.0146484375: active, kept
    //   C: panel 1 leaves 0.25; panel 2 brings it to exactly 0: inactive, known only at the end
    //   D: panel 1 gives exactly 0 (and ‖u‖² − ‖v‖² < 0): dropped
    const d = 16,
      k = 16,
      m = 64;
    const W = new Float64Array(k * d).map((_, i) => (i % (d + 1) === 0 ? 1 : 0));
    const cases: Record<string, [number, number][]> = {
      A: [[0, 1.25]],
      B: [
        [0, 1],
        [1, 0.46875],
        [8, 0.125],
      ],
      C: [
        [0, 1],
        [8, 0.5],
      ],
      D: [
        [0, 1],
        [1, 0.5],
        [8, 0.125],
      ],
    };
    const order = 'ABCDABCDBADCCDAB';
    const set: TripletSet = {
      m,
      d,
      anchors: new Float32Array(m * d),
      positives: new Float32Array(m * d),
      negatives: new Float32Array(m * d),
    };
    for (let i = 0; i < m; i++) {
      set.positives[i * d] = -1;
      for (const [j, x] of cases[order[Math.floor(i / 4) % order.length]]) set.negatives[i * d + j] = -x;
    }
    const opts: LossOptions = { margin: 0.25, normalize: false, weightDecay: 0 };
    const gRef = new Float64Array(k * d);
    const ref = createTripletObjective(set, opts, jsKernels).evaluate(W, k, gRef);
    const c = await createCompute({ kernels: 'wasm', threads: 1 });
    t.teardown(() => c.close());
    const kernels = c.kernels as WasmKernels;
    const obj = kernels.createObjective(set, opts);
    const g = new Float64Array(k * d);
    const v = obj.evaluate(W, k, g);
    t.equal(v.loss, ref.loss, `loss exact (${v.loss})`);
    t.same(Array.from(g), Array.from(gRef), 'gradient exact');
    t.equal(v.activeCount, m / 4, 'the B rows are active');
    t.equal(v.correctCount, ref.correctCount, 'correct count as the reference');
    t.equal(obj.lastEarlyExits, m / 2, 'the A and D rows (and only they) stopped early');
    obj.dispose();

    // margin 0, ‖v‖² = ‖u‖² reached in the first panel and nothing after: the bracket is 0 but
    // ‖u‖² − ‖v‖² is not < 0, so the row is not "correct" and must not be dropped as if it were
    const tie: TripletSet = {
      m: 4,
      d,
      anchors: new Float32Array(4 * d),
      positives: new Float32Array(4 * d),
      negatives: new Float32Array(4 * d),
    };
    for (let i = 0; i < 4; i++) {
      tie.positives[i * d] = -1;
      tie.negatives[i * d] = -1;
    }
    const tieOpts: LossOptions = { margin: 0, normalize: false, weightDecay: 0 };
    const tieObj = kernels.createObjective(tie, tieOpts);
    const tv = tieObj.evaluate(W, k, null);
    t.equal(tv.correctCount, 0, 'margin 0, ‖u‖² = ‖v‖²: not correct');
    t.equal(tv.activeCount, 0, 'margin 0, ‖u‖² = ‖v‖²: not active');
    t.equal(tieObj.lastEarlyExits, 0, 'margin 0, ‖u‖² = ‖v‖²: not dropped');
    tieObj.dispose();
  });

  t.test('early exit and non-finite projections; a NaN W still gives a NaN loss', async (t) => {
    const c = await createCompute({ kernels: 'wasm', threads: 1 });
    const off = await createCompute({ kernels: 'wasm', threads: 1, earlyExit: false });
    t.teardown(async () => {
      await c.close();
      await off.close();
    });
    const kernels = c.kernels as WasmKernels;
    const d = 8,
      k = 9,
      m = 8;
    const W = new Float64Array(k * d).map((_, i) => (i % d === 0 ? 1 : 0.5));
    // a − n overflows to +∞ in float32: the first panel's ‖v‖² is +∞, and the zero rows past k
    // give 0·∞ = NaN in the second, so dropping the row at +∞ would count it correct where the
    // full product does not. Then finite rows whose dot products overflow to ∞.
    for (const [label, a, n] of [
      ['a − n = +∞', 3e38, -3e38],
      ['dot products overflow', 1e38, -1e38],
    ] as const) {
      const set: TripletSet = {
        m,
        d,
        anchors: new Float32Array(m * d).fill(a),
        positives: new Float32Array(m * d).fill(a),
        negatives: new Float32Array(m * d).fill(n),
      };
      const opts: LossOptions = { margin: 0.2, normalize: false, weightDecay: 0 };
      const ref = (off.kernels as WasmKernels).createObjective(set, opts);
      const obj = kernels.createObjective(set, opts);
      const v = obj.evaluate(W, k, null);
      const r = ref.evaluate(W, k, null);
      if (a === 3e38) t.equal(obj.lastEarlyExits, 0, `${label}: no early exit`);
      t.same(v, r, `${label}: loss and counts as with the exit turned off (correct ${r.correctCount})`);
      obj.dispose();
      ref.dispose();
    }
    const set = randomSet(createRng(4), 50, d);
    const bad = new Float64Array(k * d).fill(0.1);
    bad[3] = NaN;
    const obj = kernels.createObjective(set, { margin: 0.2, normalize: false, weightDecay: 0 });
    t.ok(Number.isNaN(obj.evaluate(bad, k, new Float64Array(k * d)).loss), 'NaN in W, no weight decay: loss NaN');
    obj.dispose();
  });

  t.test('evaluateTriplets and embedding through the kernels', async (t) => {
    const c = await createCompute({ kernels: 'wasm', threads: 2 });
    t.teardown(() => c.close());
    const rng = createRng(9);
    const set = randomSet(rng, 500, 20);
    const k = 7;
    const W = new Float64Array(k * 20).map(() => rng.range(-1, 1));
    const a = evaluateTriplets(W, k, set, { margin: 0.3, normalize: true }, c.kernels);
    const b = evaluateTriplets(W, k, set, { margin: 0.3, normalize: true });
    t.ok(Math.abs(a.loss - b.loss) <= REL * b.loss, 'evaluate loss');
    t.equal(a.tripletAccuracy, b.tripletAccuracy);
    t.equal(a.activeFraction, b.activeFraction);

    for (const n of [1, 3, 4, 5, 130]) {
      const X = set.anchors.subarray(0, n * 20);
      for (const normalize of [false, true]) {
        const ref = new Float64Array(n * k);
        jsKernels.project(W, k, 20, X, n, ref);
        if (normalize) {
          for (let i = 0; i < n; i++) {
            let s = 0;
            for (let r = 0; r < k; r++) s += ref[i * k + r] ** 2;
            for (let r = 0; r < k; r++) ref[i * k + r] /= Math.sqrt(s);
          }
        }
        const p = c.kernels.prepareProjection!(W, k, 20);
        const out = new Float32Array(n * k);
        p.embed(X, n, normalize, out);
        p.dispose();
        t.ok(relErr(out, ref) <= 1e-6, `embed n=${n} normalize=${normalize}: ${relErr(out, ref).toExponential(2)}`);
      }
    }
    // the generic building blocks agree with the JS ones
    const Y = new Float64Array(50 * k);
    const Yref = new Float64Array(50 * k);
    c.kernels.project(W, k, 20, set.anchors, 50, Y);
    jsKernels.project(W, k, 20, set.anchors, 50, Yref);
    t.ok(relErr(Y, Yref) <= 1e-6, 'project');
    const rows = Int32Array.from([0, 3, 7, 8, 20, 49]);
    const G = new Float64Array(k * 20).fill(0.25);
    const Gref = new Float64Array(k * 20).fill(0.25);
    c.kernels.accumulate(G, k, 20, Yref, set.anchors, rows, rows.length);
    jsKernels.accumulate(Gref, k, 20, Yref, set.anchors, rows, rows.length);
    t.ok(relErr(G, Gref) <= 1e-6, 'accumulate');
  });

  t.test('pairwise distances: Gram form for large blocks', async (t) => {
    const c = await createCompute({ kernels: 'wasm', threads: 1 });
    t.teardown(() => c.close());
    const rng = createRng(4);
    const k = 16;
    const na = 70;
    const nb = 90;
    const Ea = new Float32Array(na * k).map(() => rng.range(-1, 1));
    const Eb = new Float32Array(nb * k).map(() => rng.range(-1, 1));
    for (const metric of ['euclidean', 'squared_euclidean', 'cosine'] as Metric[]) {
      const got = new Float64Array(na * nb);
      const want = new Float64Array(na * nb);
      pairwiseDistances(Ea, na, Eb, nb, k, metric, got, c.kernels);
      pairwiseDistances(Ea, na, Eb, nb, k, metric, want);
      t.ok(relErr(got, want) <= 1e-5, `${metric} a×b: ${relErr(got, want).toExponential(2)}`);
      const self = new Float64Array(na * na);
      pairwiseDistances(Ea, na, Ea, na, k, metric, self, c.kernels);
      let diag = 0;
      for (let i = 0; i < na; i++) diag = Math.max(diag, Math.abs(self[i * na + i]));
      t.equal(diag, 0, `${metric} a×a: exact zero diagonal`);
    }
  });
}

t.test('heap: alloc, release, coalesce, grow', (t) => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true });
  const heap = new WasmHeap(memory, 1024);
  const a = heap.alloc(100);
  const b = heap.alloc(70000);
  t.equal(a % 64, 0);
  t.ok(memory.buffer.byteLength >= b + 70000, 'grew');
  heap.release(a);
  const c = heap.alloc(64);
  t.equal(c, a, 'reuses the freed block');
  heap.release(b);
  heap.release(c);
  t.equal(heap.allocated, 0);
  t.equal(heap.alloc(10), a, 'back to the start after coalescing');
  t.throws(() => heap.alloc(64 * 65536), RangeError, 'over the maximum');
  t.end();
});

// Online mining: miners on hand-made batches, edge cases, finite-difference checks of every loss
// variant, the P×K sampler, the validation split and trainMined (determinism, no NaN, cancellation,
// progress, early stopping).
import t from 'tap';
import { createRng } from '../../src/math/rng.js';
import {
  batchDistances,
  countValidTriplets,
  createBatchObjective,
  createPKSampler,
  DEFAULT_MINED_PARAMS,
  mineAll,
  mineBatchHard,
  mineSemihard,
  sampleTriplets,
  sigmoid,
  softplus,
  splitSamples,
  trainMined,
  TripletBuffer,
  type LabelledSamples,
  type MinedProgress,
  type MinedTrainParams,
  type MiningName,
} from '../../src/math/mining/index.js';

/** D for points on a line (1-D embeddings), squared distances. */
function lineDistances(x: number[]): Float64Array {
  const B = x.length;
  const E = Float64Array.from(x);
  const S = new Float64Array(B * B);
  batchDistances(E, B, 1, 'squared', S, S);
  return S;
}

function triplets(buf: TripletBuffer): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < buf.count; i++) out.push([buf.a[i], buf.p[i], buf.n[i]]);
  return out;
}

t.test('semihard: closest negative beyond the positive, TF-Addons fallback to the farthest negative', (t) => {
  // label 0 at 0, 1, 3; label 1 at 2, 5; label 2 at 10
  const x = [0, 1, 3, 2, 5, 10];
  const labels = Int32Array.from([0, 0, 0, 1, 1, 2]);
  const D = lineDistances(x);
  const buf = new TripletBuffer();
  mineSemihard(D, labels, 6, buf);
  t.same(triplets(buf), [
    // a=0: d(0,1)=1 → negatives 3(4), 4(25), 5(100): smallest > 1 is row 3
    [0, 1, 3],
    // d(0,2)=9 → smallest > 9 is row 4 (25)
    [0, 2, 4],
    // a=1 (x=1): d(1,0)=1, negatives d=1 (row 3), 16, 81 → smallest > 1 is 16 (row 4)
    [1, 0, 4],
    // d(1,2)=4 → 16 (row 4)
    [1, 2, 4],
    // a=2 (x=3): d(2,0)=9, negatives d=1, 4, 49 → 49 (row 5)
    [2, 0, 5],
    // d(2,1)=4 → 49 (row 5)
    [2, 1, 5],
    // a=3 (x=2, label 1): p=4 d=9; negatives d=4,1,1,64 → 64 (row 5)
    [3, 4, 5],
    // a=4 (x=5): p=3 d=9; negatives d=25,16,4,25 → 16 (row 1)
    [4, 3, 1],
  ]);
  // fallback: every negative closer than the positive → the farthest negative
  const D2 = lineDistances([0, 10, 1, 2]);
  mineSemihard(D2, Int32Array.from([0, 0, 1, 1]), 4, buf);
  t.same(triplets(buf)[0], [0, 1, 3], 'a=0, p=1 (d=100): negatives at 1 and 4, none beyond → farthest (row 3)');
  t.end();
});

t.test('batchhard: farthest positive and closest negative per anchor', (t) => {
  const x = [0, 1, 3, 2, 5, 10];
  const labels = Int32Array.from([0, 0, 0, 1, 1, 2]);
  const buf = new TripletBuffer();
  mineBatchHard(lineDistances(x), labels, 6, buf);
  t.same(
    triplets(buf),
    [
      [0, 2, 3], // farthest positive x=3, closest negative x=2
      [1, 2, 3], // positives d 1, 4 → row 2; negatives x=2 (1) vs x=5 (16) → row 3
      [2, 0, 3], // positives 9, 4 → row 0; negatives x=2 (1), x=5 (4) → row 3
      [3, 4, 0], // x=2: positive row 4; negatives x=0 (4), 1 (1), 3 (1) → first tie, row 1? no: check below
      [4, 3, 2],
    ].map((r, i) => (i === 3 ? [3, 4, 1] : r)),
    'ties go to the lowest index (x=1 and x=3 are both at distance 1 from x=2)',
  );
  t.equal(buf.count, 5, 'label 2 has a single sample: no triplet anchored there');
  t.end();
});

t.test('none: every valid triplet', (t) => {
  const labels = Int32Array.from([0, 0, 0, 1, 1, 2]);
  const buf = new TripletBuffer();
  mineAll(labels, 6, buf);
  // label 0: 3 anchors × 2 positives × 3 negatives; label 1: 2 × 1 × 4
  t.equal(buf.count, 18 + 8);
  t.equal(countValidTriplets(labels, 6), 26);
  for (const [a, p, n] of triplets(buf)) {
    t.ok(a !== p && labels[a] === labels[p] && labels[n] !== labels[a]);
  }
  t.end();
});

t.test('edge cases give no triplet, loss 0 and gradient 0 — never NaN', (t) => {
  const d = 3;
  const k = 2;
  const W = Float64Array.from([1, 0.5, -0.2, 0.3, -1, 0.7]);
  const cases: Array<[string, number[], number[][]]> = [
    [
      'one label',
      [4, 4, 4],
      [
        [1, 2, 3],
        [0, 1, 0],
        [2, 2, 2],
      ],
    ],
    [
      'every label a single sample',
      [1, 2, 3],
      [
        [1, 2, 3],
        [0, 1, 0],
        [2, 2, 2],
      ],
    ],
    [
      'identical rows',
      [0, 0, 1, 1],
      [
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
      ],
    ],
    [
      'zero rows (zero embeddings)',
      [0, 0, 1, 1],
      [
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
      ],
    ],
    ['one sample', [7], [[1, 2, 3]]],
    ['empty batch', [], []],
  ];
  for (const [name, lab, rows] of cases) {
    const B = lab.length;
    const X = Float64Array.from(rows.flat());
    for (const mining of ['semihard', 'batchhard', 'semihard+batchhard', 'none'] as MiningName[]) {
      for (const distance of ['squared', 'euclidean'] as const) {
        for (const normalize of [false, true]) {
          for (const loss of ['hinge', 'softplus'] as const) {
            const obj = createBatchObjective(k, d, 4, { margin: 0.2, loss, distance, normalize, mining });
            const g = new Float64Array(k * d).fill(NaN);
            const v = obj.evaluate(W, X, Int32Array.from(lab), B, g);
            const tag = `${name} ${mining} ${distance} norm=${normalize} ${loss}`;
            t.ok(Number.isFinite(v.loss), `${tag}: finite loss`);
            t.ok(
              g.every((x) => Number.isFinite(x)),
              `${tag}: finite gradient`,
            );
            const degenerate = name !== 'identical rows' && name !== 'zero rows (zero embeddings)';
            if (degenerate) {
              t.equal(v.tripletCount, 0, `${tag}: no triplet`);
              t.equal(v.loss, 0, `${tag}: loss 0`);
              t.ok(
                g.every((x) => x === 0),
                `${tag}: gradient 0`,
              );
            } else if (distance === 'euclidean' || loss === 'hinge') {
              // all distances 0: euclidean gradient is 0 (guarded √), hinge brackets = margin with zero d-gradients
              t.ok(
                g.every((x) => x === 0),
                `${tag}: gradient 0 at coincident embeddings`,
              );
            }
          }
        }
      }
    }
  }
  t.end();
});

t.test('softplus and sigmoid are stable', (t) => {
  t.equal(softplus(1000), 1000);
  t.equal(softplus(-1000), 0);
  t.ok(Math.abs(softplus(0) - Math.LN2) < 1e-15);
  t.ok(Math.abs(softplus(1e-3) - Math.log(1 + Math.exp(1e-3))) < 1e-15);
  t.equal(sigmoid(1000), 1);
  t.equal(sigmoid(-1000), 0);
  t.equal(sigmoid(0), 0.5);
  t.end();
});

/** Min over rows of the gap between distinct-pair distances, and min |bracket| of all valid triplets: both must stay away from 0. */
function kinkDistance(D: Float64Array, labels: Int32Array, B: number, margin: number, hinge: boolean): number {
  let m = Infinity;
  for (let a = 0; a < B; a++) {
    for (let i = 0; i < B; i++) {
      if (i === a) continue;
      for (let j = i + 1; j < B; j++) if (j !== a) m = Math.min(m, Math.abs(D[a * B + i] - D[a * B + j]));
    }
  }
  if (hinge) {
    const buf = new TripletBuffer();
    mineAll(labels, B, buf);
    for (let t = 0; t < buf.count; t++)
      m = Math.min(m, Math.abs(D[buf.a[t] * B + buf.p[t]] - D[buf.a[t] * B + buf.n[t]] + margin));
  }
  return m;
}

t.test('finite-difference gradient: every loss × distance × normalize × mining', (t) => {
  const d = 6;
  const k = 3;
  const B = 9;
  const labels = Int32Array.from([0, 0, 0, 1, 1, 1, 2, 2, 3]);
  const margin = 0.3;
  let seed = 11;
  for (const loss of ['hinge', 'softplus'] as const) {
    for (const distance of ['squared', 'euclidean'] as const) {
      for (const normalize of [false, true]) {
        for (const mining of ['none', 'semihard', 'batchhard', 'semihard+batchhard'] as MiningName[]) {
          for (const reduction of ['nonzero', 'all'] as const) {
            const rng = createRng(seed++);
            const X = new Float64Array(B * d);
            const W = new Float64Array(k * d);
            const obj = createBatchObjective(k, d, B, { margin, loss, distance, normalize, mining, reduction });
            let ok = false;
            for (let tries = 0; tries < 100 && !ok; tries++) {
              for (let i = 0; i < X.length; i++) X[i] = rng.range(-1, 1);
              for (let i = 0; i < W.length; i++) W[i] = rng.range(-1, 1);
              const v = obj.evaluate(W, X, labels, B, null);
              ok = v.loss > 0 && kinkDistance(obj.distances, labels, B, margin, loss === 'hinge') > 1e-4;
            }
            const tag = `${loss} ${distance} normalize=${normalize} ${mining} ${reduction}`;
            t.ok(ok, `${tag}: point away from kinks with a nonzero loss`);
            const g = new Float64Array(k * d);
            obj.evaluate(W, X, labels, B, g);
            const h = 1e-6;
            let worst = 0;
            for (let i = 0; i < W.length; i++) {
              const keep = W[i];
              W[i] = keep + h;
              const fp = obj.evaluate(W, X, labels, B, null).loss;
              W[i] = keep - h;
              const fm = obj.evaluate(W, X, labels, B, null).loss;
              W[i] = keep;
              const fd = (fp - fm) / (2 * h);
              worst = Math.max(worst, Math.abs(fd - g[i]) / Math.max(1, Math.abs(g[i])));
            }
            t.ok(worst < 1e-6, `${tag}: max scaled FD error ${worst.toExponential(2)}`);
          }
        }
      }
    }
  }
  t.end();
});

t.test('loss values: hinge and reductions on a hand-made batch', (t) => {
  // 1-D embeddings through W = [1] (k = d = 1), no normalisation, squared distance
  const X = Float64Array.from([0, 1, 3, 2, 5, 10]);
  const labels = Int32Array.from([0, 0, 0, 1, 1, 2]);
  const W = Float64Array.from([1]);
  const margin = 2;
  const bh = createBatchObjective(1, 1, 6, {
    margin,
    loss: 'hinge',
    distance: 'squared',
    normalize: false,
    mining: 'batchhard',
  });
  // batch-hard triplets [0,2,3],[1,2,3],[2,0,3],[3,4,1],[4,3,2]: brackets 9−4+2=7, 4−1+2=5, 9−1+2=10, 9−1+2=10, 9−4+2=7
  const v = bh.evaluate(W, X, labels, 6, null);
  t.equal(v.tripletCount, 5);
  t.ok(Math.abs(v.loss - (7 + 5 + 10 + 10 + 7) / 5) < 1e-12, `mean over active ${v.loss}`);
  const sh = createBatchObjective(1, 1, 6, {
    margin,
    loss: 'hinge',
    distance: 'squared',
    normalize: false,
    mining: 'semihard',
    reduction: 'all',
  });
  // semihard triplets from the miner test: brackets 1−4+2, 9−25+2, 1−16+2, 4−16+2, 9−49+2, 4−49+2, 9−64+2, 9−16+2
  const b = [-1, -14, -13, -10, -38, -43, -53, -5];
  const s = sh.evaluate(W, X, labels, 6, null);
  t.equal(s.tripletCount, 8);
  t.equal(s.activeCount, 0);
  t.equal(s.loss, 0, 'no active triplet: loss 0 (reduction all)');
  t.equal(b.filter((x) => x > 0).length, 0);
  const both = createBatchObjective(1, 1, 6, {
    margin,
    loss: 'hinge',
    distance: 'squared',
    normalize: false,
    mining: 'semihard+batchhard',
  });
  t.ok(Math.abs(both.evaluate(W, X, labels, 6, null).loss - v.loss) < 1e-12, 'sum: semihard contributes 0 here');
  t.end();
});

t.test('P×K sampler', (t) => {
  // labels: 0 ×10, 1 ×10, 2 ×3, 3 ×1, 4 ×10
  const lab: number[] = [];
  for (const [y, c] of [
    [0, 10],
    [1, 10],
    [2, 3],
    [3, 1],
    [4, 10],
  ])
    for (let i = 0; i < c; i++) lab.push(y);
  const labels = Int32Array.from(lab);
  const s = createPKSampler(labels, null, 3, 4, 42);
  const rows = new Int32Array(12);
  const out = new Int32Array(12);
  const seen = new Map<number, number>();
  for (let it = 0; it < 50; it++) {
    const B = s.next(rows, out);
    const per = new Map<number, Set<number>>();
    for (let i = 0; i < B; i++) {
      t.equal(labels[rows[i]], out[i]);
      if (!per.has(out[i])) per.set(out[i], new Set());
      per.get(out[i])!.add(rows[i]);
    }
    if (per.size !== 3) t.fail(`batch ${it} has ${per.size} labels`);
    let total = 0;
    for (const [y, set] of per) {
      const want = Math.min(4, lab.filter((v) => v === y).length);
      if (set.size !== want) t.fail(`label ${y}: ${set.size} distinct rows, expected ${want}`);
      total += set.size;
      seen.set(y, (seen.get(y) ?? 0) + 1);
    }
    t.equal(B, total);
  }
  const counts = [...seen.values()];
  t.ok(Math.max(...counts) - Math.min(...counts) <= 2, `labels visited evenly ${JSON.stringify([...seen])}`);
  // determinism and seed dependence
  const a = createPKSampler(labels, null, 3, 4, 7);
  const b = createPKSampler(labels, null, 3, 4, 7);
  const c = createPKSampler(labels, null, 3, 4, 8);
  const ra = new Int32Array(12), rb = new Int32Array(12), rc = new Int32Array(12), l = new Int32Array(12); // prettier-ignore
  let differ = false;
  for (let i = 0; i < 10; i++) {
    a.next(ra, l);
    b.next(rb, l);
    c.next(rc, l);
    t.same(Array.from(ra), Array.from(rb));
    if (ra.some((v, j) => v !== rc[j])) differ = true;
  }
  t.ok(differ, 'another seed gives other batches');
  // fewer labels than P: every batch takes all of them
  const few = createPKSampler(Int32Array.from([5, 5, 6]), null, 4, 2, 1);
  const fr = new Int32Array(8);
  const fl = new Int32Array(8);
  t.equal(few.next(fr, fl), 3);
  // a subset of rows
  const sub = createPKSampler(labels, Int32Array.from([0, 1, 10, 11]), 2, 2, 3);
  const sr = new Int32Array(4);
  t.equal(sub.next(sr, new Int32Array(4)), 4);
  t.same(
    Array.from(sr).sort((x, y) => x - y),
    [0, 1, 10, 11],
  );
  t.end();
});

t.test('validation split rule', (t) => {
  const make = (L: number, per: number) => {
    const lab = new Int32Array(L * per);
    for (let i = 0; i < lab.length; i++) lab[i] = Math.floor(i / per);
    return lab;
  };
  const many = make(40, 5);
  const s = splitSamples(many, many.length, 0.1, 'auto', 1);
  t.equal(s.kind, 'labels');
  const vl = new Set(Array.from(s.validation, (r) => many[r]));
  const tl = new Set(Array.from(s.train, (r) => many[r]));
  t.equal(vl.size, 4, '10% of 40 labels');
  t.ok(
    [...vl].every((y) => !tl.has(y)),
    'validation labels unseen in training',
  );
  const few = make(10, 20);
  const f = splitSamples(few, few.length, 0.1, 'auto', 1);
  t.equal(f.kind, 'samples');
  t.equal(f.validation.length, 20, '2 of each label');
  t.equal(new Set(Array.from(f.train, (r) => few[r])).size, 10, 'every label still trained on');
  t.equal(splitSamples(few, few.length, 0, 'auto', 1).kind, 'none');
  t.equal(splitSamples(make(3, 2), 6, 0.5, 'auto', 1).kind, 'none', 'nothing left to hold out: keeps ≥ 2 per label');
  t.equal(splitSamples(few, few.length, 0.2, 'labels', 1).kind, 'labels', 'forced');
  const trip = sampleTriplets(few, few.length, 100, createRng(2));
  for (let i = 0; i < 100; i++) {
    const [a, p, n] = [trip[3 * i], trip[3 * i + 1], trip[3 * i + 2]];
    if (!(a !== p && few[a] === few[p] && few[n] !== few[a])) t.fail(`bad triplet ${a} ${p} ${n}`);
  }
  t.equal(sampleTriplets(Int32Array.from([1, 1, 1]), 3, 10, createRng(1)).length, 0, 'one label: no triplet');
  t.end();
});

/** c Gaussian clusters in d dims (centres on a scaled simplex-ish random layout), per samples each. */
function clusters(c: number, per: number, d: number, seed: number, spread = 1): LabelledSamples {
  const rng = createRng(seed);
  const centres = new Float64Array(c * d);
  for (let i = 0; i < centres.length; i++) centres[i] = 2.5 * rng.normal();
  const n = c * per;
  const X = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % c;
    labels[i] = y * 3 + 1; // arbitrary label values
    for (let j = 0; j < d; j++) X[i * d + j] = centres[y * d + j] + spread * rng.normal();
  }
  return { n, d, X, labels };
}

const quick = (over: Partial<MinedTrainParams> = {}): MinedTrainParams => ({
  ...DEFAULT_MINED_PARAMS,
  outputDimension: 4,
  maxIterations: 300,
  evaluationInterval: 50,
  ...over,
});

t.test('trainMined: deterministic for a seed, learns, reports validation figures', (t) => {
  const data = clusters(30, 12, 10, 3, 2.5);
  const progress: MinedProgress[] = [];
  const a = trainMined(data, quick({ seed: 5 }), { onProgress: (p) => progress.push(p), progressIntervalMs: 0 });
  const b = trainMined(data, quick({ seed: 5 }));
  t.same(Array.from(a.W), Array.from(b.W), 'bit-identical W');
  const c = trainMined(data, quick({ seed: 6 }));
  t.notSame(Array.from(a.W), Array.from(c.W), 'seed matters');
  t.equal(a.metrics.validationSplit, 'labels', '30 labels ≥ 20: whole labels held out');
  t.equal(a.metrics.validationLabels, 3);
  t.ok(a.W.every((x) => Number.isFinite(x)));
  const withVal = progress.filter((p) => p.mapAtR !== undefined);
  t.ok(withVal.length >= 2, 'progress carries validation figures');
  const first = withVal[0];
  t.equal(first.validationIteration, 0);
  t.ok(a.metrics.validation !== undefined);
  t.ok(
    a.metrics.validation!.mapAtR! >= first.mapAtR! - 1e-9,
    `kept W is no worse than the start on validation (${first.mapAtR} → ${a.metrics.validation!.mapAtR})`,
  );
  for (const key of ['validationLoss', 'validationTripletAccuracy', 'precisionAt1', 'rPrecision', 'mapAtR'] as const) {
    t.ok(Number.isFinite(withVal[withVal.length - 1][key]), `${key} reported`);
  }
  t.equal(progress[progress.length - 1].iteration, a.metrics.iterations, 'final report');
  t.end();
});

t.test('trainMined: learns a separating map on clusters (no validation)', (t) => {
  const data = clusters(8, 20, 12, 9, 2);
  const r = trainMined(data, quick({ validationFraction: 0, maxIterations: 400, batchSize: 64 }));
  t.equal(r.metrics.validationSplit, 'none');
  t.equal(r.metrics.iterations, 400);
  t.equal(r.metrics.bestIteration, 400);
  t.ok(r.metrics.trainLoss < 0.05, `train loss ${r.metrics.trainLoss}`);
  t.same(r.metrics.warnings, []);
  t.end();
});

t.test('trainMined: every variant stays finite on awkward data', (t) => {
  const awkward: Array<[string, LabelledSamples]> = [];
  const base = clusters(5, 4, 5, 1);
  awkward.push(['clusters', base]);
  awkward.push(['one label', { ...base, labels: new Int32Array(base.n).fill(2) }]);
  awkward.push(['all singletons', { ...base, labels: Int32Array.from({ length: base.n }, (_, i) => i) }]);
  awkward.push(['duplicated rows', { ...base, X: new Float32Array(base.n * base.d).fill(1) }]);
  awkward.push(['zero rows', { ...base, X: new Float32Array(base.n * base.d) }]);
  for (const [name, data] of awkward) {
    for (const mining of ['semihard', 'batchhard', 'semihard+batchhard', 'none'] as MiningName[]) {
      for (const loss of ['hinge', 'softplus'] as const) {
        for (const distance of ['squared', 'euclidean'] as const) {
          for (const normalize of [true, false]) {
            const r = trainMined(
              data,
              quick({
                mining,
                loss,
                distance,
                normalize,
                maxIterations: 20,
                evaluationInterval: 5,
                outputDimension: 3,
                init: 'uniform',
              }),
            );
            const tag = `${name} ${mining} ${loss} ${distance} normalize=${normalize}`;
            if (!r.W.every((x) => Number.isFinite(x))) t.fail(`${tag}: non-finite W`);
            if (!Number.isFinite(r.metrics.trainLoss)) t.fail(`${tag}: non-finite loss`);
            // null: nothing to average (one label forms no validation triplet, 0071); never NaN
            const figures = r.metrics.validation ? Object.values(r.metrics.validation) : [];
            if (!figures.every((v) => v === null || Number.isFinite(v))) t.fail(`${tag}: non-finite validation`);
          }
        }
      }
    }
  }
  const single = trainMined(awkward[2][1], quick({ maxIterations: 5 }));
  t.match(single.metrics.warnings.join('\n'), /no positive pairs/);
  const pcaZero = trainMined(awkward[4][1], quick({ maxIterations: 5 }));
  t.ok(
    pcaZero.W.every((x) => Number.isFinite(x)),
    'PCA on zero data is finite',
  );
  t.pass('no NaN anywhere');
  t.end();
});

t.test('trainMined: shouldStop, early stopping, input validation', (t) => {
  const data = clusters(30, 10, 8, 4, 2);
  let polls = 0;
  const r = trainMined(data, quick({ maxIterations: 1000 }), { shouldStop: () => ++polls > 30 });
  t.equal(r.metrics.stopReason, 'cancelled');
  t.equal(r.metrics.iterations, 30);
  t.ok(r.W.every((x) => Number.isFinite(x)));
  // a learning rate of ~0 cannot improve anything: stops after `patience` stale evaluations past earlyStoppingStart
  const flat = trainMined(
    data,
    quick({ maxIterations: 2000, learningRate: 1e-12, patience: 3, earlyStoppingStart: 0, evaluationInterval: 10 }),
  );
  t.equal(flat.metrics.stopReason, 'no_progress');
  t.ok(flat.metrics.earlyStopped);
  t.equal(flat.metrics.iterations, 30);
  t.throws(() => trainMined(data, quick({ samplesPerLabel: 1 })), RangeError);
  t.throws(() => trainMined(data, quick({ batchSize: 10, samplesPerLabel: 8 })), RangeError);
  t.throws(() => trainMined({ ...data, labels: new Int32Array(3) }, quick()), RangeError);
  t.end();
});

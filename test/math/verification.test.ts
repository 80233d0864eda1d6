// Verification and identification metrics: edges (one label, no genuine pairs, all ties, FARs the
// data cannot support), the impostor sample, the exact selection, and a brute-force check of
// scikit-learn's roc_curve semantics on many small tie-heavy sets.
import t from 'tap';
import { squaredDistance } from '../../src/math/distance.js';
import { createRng } from '../../src/math/rng.js';
import { genuineStream, impostorStream, pairCounts } from '../../src/math/verification/pairs.js';
import { addImpostors, createStaircase, equalErrorRate, finishStaircase } from '../../src/math/verification/roc.js';
import {
  gallerySplit,
  identificationMetrics,
  selectRanks,
  verificationMetrics,
} from '../../src/math/verification/index.js';

/** Every pair as (distance, genuine), the way sklearn sees y_score = −d and y_true. */
function allPairs(E: Float64Array, n: number, k: number, labels: Int32Array) {
  const out: { d: number; gen: boolean }[] = [];
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++)
      out.push({ d: squaredDistance.pair(E, i * k, E, j * k, k), gen: labels[i] === labels[j] });
  return out;
}

/** roc_curve(drop_intermediate=False) on −distance, written the plain way: sort everything. */
function bruteRoc(pairs: { d: number; gen: boolean }[]) {
  const s = [...pairs].sort((a, b) => a.d - b.d);
  const fps = [0];
  const tps = [0];
  const thr = [-Infinity];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i].gen) tp++;
    else fp++;
    if (i === s.length - 1 || s[i + 1].d !== s[i].d) {
      fps.push(fp);
      tps.push(tp);
      thr.push(s[i].d);
    }
  }
  const fpr = fps.map((v) => v / fp);
  const tpr = tps.map((v) => v / tp);
  return { fpr, tpr, thr };
}

function bruteTarAt(roc: ReturnType<typeof bruteRoc>, far: number) {
  let i = 0;
  while (i + 1 < roc.fpr.length && roc.fpr[i + 1] <= far) i++;
  return { tar: roc.tpr[i], threshold: roc.thr[i] === -Infinity ? null : roc.thr[i] };
}

function bruteEer(roc: ReturnType<typeof bruteRoc>) {
  const i = roc.fpr.findIndex((f, j) => f >= 1 - roc.tpr[j]);
  const [a0, b0, a1, b1] = [roc.fpr[i - 1], roc.tpr[i - 1], roc.fpr[i], roc.tpr[i]];
  const s = (1 - a0 - b0) / (a1 - a0 + (b1 - b0));
  return { eer: a0 + s * (a1 - a0), threshold: roc.thr[i] };
}

function bruteAuc(roc: ReturnType<typeof bruteRoc>) {
  let a = 0;
  for (let i = 1; i < roc.fpr.length; i++) a += ((roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1])) / 2;
  return a;
}

/**
 * n integer points in k dimensions with values in 0..span, labels in 0..L: many tied distances
 * (span 0: continuous values in [0, 3), no ties).
 */
function tiedSet(seed: number, n: number, k: number, span: number, L: number) {
  const rng = createRng(seed);
  const E = new Float64Array(n * k);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(L);
    for (let r = 0; r < k; r++) E[i * k + r] = (span > 0 ? rng.int(span + 1) : 3 * rng.uniform()) + (labels[i] % 2);
  }
  return { E, labels };
}

t.test('one label: no impostors, every figure null with its reason', async (t) => {
  const E = new Float64Array([0, 1, 2, 3]);
  const labels = new Int32Array([7, 7, 7, 7]);
  const v = verificationMetrics(E, 4, 1, labels);
  t.equal(v.genuineCount, 6);
  t.equal(v.impostorCount, 0);
  t.match(v.reason, /no impostor pairs/);
  t.same([v.eer, v.eerThreshold, v.auc, v.curve], [null, null, null, null]);
  for (const p of v.tarAtFar) t.same([p.tar, p.threshold, p.reason], [null, null, v.reason]);
  const id = identificationMetrics(E, 4, 1, labels);
  t.same(id.unknownLabels, [], 'the only label is never held out');
  t.equal(id.galleryCount, 1);
  t.same(
    id.cmc.map((c) => c.rate),
    [1, 1, 1],
    'one gallery entry: every probe at rank 1',
  );
  for (const p of id.openSet) t.match(p, { dir: null, threshold: null, reason: /no unknown probes/ });
});

t.test('no genuine pairs: TAR, EER and AUC null with the reason; no known probes', async (t) => {
  const E = new Float64Array([0, 1, 2, 3, 4]);
  const labels = new Int32Array([0, 1, 2, 3, 4]);
  const v = verificationMetrics(E, 5, 1, labels);
  t.equal(v.genuineCount, 0);
  t.equal(v.impostorCount, 10);
  t.match(v.reason, /no genuine pairs/);
  t.same(
    v.tarAtFar.map((p) => p.tar),
    [null, null, null, null, null, null],
  );
  const id = identificationMetrics(E, 5, 1, labels, { unknownFraction: 0.4 });
  t.equal(id.knownProbeCount, 0);
  t.equal(id.unknownProbeCount, 2);
  t.match(id.reason, /no known probes/);
  t.same(
    id.cmc.map((c) => c.rate),
    [null, null, null],
  );
  const empty = verificationMetrics(new Float64Array([1]), 1, 1, new Int32Array([0]));
  t.match(empty.reason, /no genuine and no impostor pairs/);
});

t.test('all distances tied: nothing can be accepted below a FAR of 1; EER ½ at that distance; AUC ½', async (t) => {
  const n = 40;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 4);
  const v = verificationMetrics(new Float64Array(n * 2).fill(3), n, 2, labels);
  t.equal(v.impostorCount, 600);
  t.same(v.tarAtFar.slice(0, 2), [
    { far: 0.1, tar: 0, threshold: null, reason: null },
    { far: 0.01, tar: 0, threshold: null, reason: null },
  ]);
  t.equal(v.eer, 0.5);
  t.equal(v.eerThreshold, 0);
  t.equal(v.auc, 0.5);
});

t.test('a FAR the data cannot support is null with how many impostors it needs', async (t) => {
  const { E, labels } = tiedSet(1, 50, 2, 6, 5); // ~980 impostor pairs
  const v = verificationMetrics(E, 50, 2, labels, { fars: [0.3, 1e-3, 1e-6] });
  const N = v.impostorCount;
  t.ok(N > 4 && N < 1000, `${N} impostors`);
  t.ok(v.tarAtFar[0].tar !== null && v.tarAtFar[0].reason === null, 'FAR 0.3 needs 4');
  t.same(v.tarAtFar[1], {
    far: 1e-3,
    tar: null,
    threshold: null,
    reason: `needs at least 1000 impostor pairs, has ${N}`,
  });
  t.equal(v.tarAtFar[2].reason, `needs at least 1000000 impostor pairs, has ${N}`);
  t.throws(() => verificationMetrics(E, 50, 2, labels, { fars: [1] }), RangeError);
  t.throws(() => verificationMetrics(E, 50, 2, labels, { fars: [0] }), RangeError);
  t.throws(() => identificationMetrics(E, 50, 2, labels, { fars: [1.5] }), RangeError);
  const id = identificationMetrics(E, 50, 2, labels, { unknownFraction: 0.4, fars: [0.5, 1e-3] });
  t.equal(id.openSet[0].reason, null);
  t.match(id.openSet[1].reason, /needs at least 1000 unknown probes, has \d+/);
});

t.test(
  'roc_curve semantics, brute force, on 60 small sets (two in three tie-heavy) and tiny selection budgets',
  async (t) => {
    let gapCrossings = 0;
    let genuineCrossings = 0;
    const fars = [0.5, 0.2, 0.1, 0.05, 0.02, 0.01];
    for (let seed = 0; seed < 60; seed++) {
      const n = 20 + (seed % 7) * 9;
      const k = 1 + (seed % 3);
      const { E, labels } = tiedSet(seed, n, k, seed % 3 === 0 ? 0 : 1 + (seed % 5), 2 + (seed % 6));
      const pairs = allPairs(E, n, k, labels);
      if (!pairs.some((p) => p.gen) || pairs.every((p) => p.gen)) continue;
      const roc = bruteRoc(pairs);
      const select = { bins: 2 + (seed % 4), budget: 1 + (seed % 9) };
      const v = verificationMetrics(E, n, k, labels, { distance: squaredDistance, fars, select });
      for (const [i, far] of fars.entries()) {
        const p = v.tarAtFar[i];
        if (p.reason) continue;
        const want = bruteTarAt(roc, far);
        t.equal(p.tar, want.tar, `seed ${seed} TAR@${far}`);
        t.equal(p.threshold, want.threshold, `seed ${seed} threshold@${far}`);
      }
      const eer = bruteEer(roc);
      t.ok(Math.abs(v.eer! - eer.eer) < 1e-12, `seed ${seed} EER ${v.eer} vs ${eer.eer}`);
      t.equal(v.eerThreshold, eer.threshold, `seed ${seed} EER threshold`);
      t.ok(Math.abs(v.auc! - bruteAuc(roc)) < 1e-12, `seed ${seed} AUC`);
      // which branch of the EER found the crossing: a run of impostors, or a genuine distance
      const stairs = createStaircase(Float64Array.from(pairs.filter((p) => p.gen).map((p) => p.d)).sort());
      const imp = Float64Array.from(pairs.filter((p) => !p.gen).map((p) => p.d));
      addImpostors(stairs, imp, imp.length);
      finishStaircase(stairs);
      if (equalErrorRate(stairs).rank !== null) gapCrossings++;
      else genuineCrossings++;
    }
    t.ok(gapCrossings > 0 && genuineCrossings > 0, `both crossings seen (${gapCrossings}, ${genuineCrossings})`);
  },
);

t.test('impostor sample: exactly the stated count, seeded, a subset of the impostor pairs', async (t) => {
  const { E, labels } = tiedSet(9, 120, 3, 50, 6);
  const counts = pairCounts(labels, 120);
  const a = verificationMetrics(E, 120, 3, labels, { maxImpostorPairs: 1000, seed: 4, fars: [0.01] });
  const b = verificationMetrics(E, 120, 3, labels, { maxImpostorPairs: 1000, seed: 4, fars: [0.01] });
  const c = verificationMetrics(E, 120, 3, labels, { maxImpostorPairs: 1000, seed: 5, fars: [0.01] });
  t.same(a, b, 'same seed, same figures');
  t.not(a.auc, c.auc, 'another seed, another sample');
  t.same([a.impostorCount, a.impostorTotal, a.impostorSampled], [1000, counts.impostors, true]);
  const full = verificationMetrics(E, 120, 3, labels, { fars: [0.01] });
  t.same([full.impostorCount, full.impostorSampled], [counts.impostors, false]);
  t.ok(Math.abs(a.auc! - full.auc!) < 0.05, `sampled AUC ${a.auc} near the full ${full.auc}`);
  // the stream yields impostor distances only, and the same ones on every pass
  const plan = { total: counts.impostors, count: 1000, seed: 4 };
  const passes = [0, 1].map(() => {
    const got: number[] = [];
    impostorStream({ E, n: 120, k: 3, labels }, squaredDistance, plan)((buf, len) => got.push(...buf.subarray(0, len)));
    return got;
  });
  t.same(passes[0], passes[1]);
  t.equal(passes[0].length, 1000);
  const genuine: number[] = [];
  const all = { total: counts.genuine, count: counts.genuine, seed: 0 };
  genuineStream({ E, n: 120, k: 3, labels }, squaredDistance, all)((buf, len) => genuine.push(...buf.subarray(0, len)));
  t.equal(genuine.length, counts.genuine);
  // genuine pairs sampled the same way, from createRng(seed + 1)
  const g = verificationMetrics(E, 120, 3, labels, { maxGenuinePairs: 300, seed: 4, fars: [0.01] });
  t.same([g.genuineCount, g.genuineTotal, g.genuineSampled], [300, counts.genuine, true]);
  t.same(verificationMetrics(E, 120, 3, labels, { maxGenuinePairs: 300, seed: 4, fars: [0.01] }), g);
  t.throws(() => verificationMetrics(E, 120, 3, labels, { maxGenuinePairs: 0 }), /maxGenuinePairs must be/);
  t.throws(() => verificationMetrics(E, 120, 3, labels, { maxImpostorPairs: 1.5 }), /maxImpostorPairs must be/);
});

t.test('selectRanks: exact order statistics and the value below, ties included', async (t) => {
  const rng = createRng(3);
  const values = Float64Array.from({ length: 5000 }, () => Math.floor(rng.uniform() * 300) / 7);
  values[17] = 1e6; // an outlier stretches the first histogram
  const sorted = Float64Array.from(values).sort();
  const stream = (sink: (b: Float64Array, l: number) => void) => {
    for (let o = 0; o < values.length; o += 333)
      sink(values.subarray(o, Math.min(values.length, o + 333)), Math.min(333, values.length - o));
  };
  const ranks = [1, 2, 50, 2500, 4999, 5000];
  for (const opts of [
    { bins: 2, budget: 1 },
    { bins: 64, budget: 100 },
    { bins: 4096, budget: 65536 },
  ]) {
    const { values: got, passes } = selectRanks(stream, 5000, sorted[0], sorted[4999], ranks, opts);
    for (const [i, r] of ranks.entries()) {
      const v = sorted[r - 1];
      const below = sorted.filter((x) => x < v);
      t.same(got[i], { value: v, below: below.length ? below[below.length - 1] : null }, `rank ${r} bins ${opts.bins}`);
    }
    t.ok(passes >= 1, `${passes} passes`);
  }
  t.throws(() => selectRanks(stream, 5000, 0, 1, [0]), RangeError);
});

t.test('NaN distances are refused', async (t) => {
  const E = new Float64Array([0, NaN, 1, 2]);
  t.throws(() => verificationMetrics(E, 4, 1, new Int32Array([0, 0, 1, 1])), /NaN/);
  t.throws(() => verificationMetrics(E, 4, 1, new Int32Array([0, 1, 0, 1])), /NaN/);
});

t.test('curve: at most 1,000 points, log-spaced from 1/N to 1, TAR nondecreasing up to 1', async (t) => {
  const { E, labels } = tiedSet(2, 200, 4, 20, 10);
  const v = verificationMetrics(E, 200, 4, labels, { curvePoints: 5000 });
  const c = v.curve!;
  t.equal(c.length, 1000);
  t.ok(Math.abs(c[0].far - 1 / v.impostorCount) < 1e-15);
  t.same(c[c.length - 1], { far: 1, tar: 1 });
  t.ok(
    c.every((p, i) => i === 0 || (p.far > c[i - 1].far && p.tar >= c[i - 1].tar)),
    'monotone',
  );
  const ratio = c[1].far / c[0].far;
  t.ok(Math.abs(c[501].far / c[500].far - ratio) < 1e-9, 'log-spaced');
  t.equal(verificationMetrics(E, 200, 4, labels).curve, null, 'no curve unless asked');
});

t.test('gallerySplit: one gallery sample per known label, disjoint, seeded', async (t) => {
  const labels = Int32Array.from({ length: 90 }, (_, i) => (i * 7) % 12);
  const s = gallerySplit(labels, 90, { seed: 8, unknownFraction: 0.25 });
  t.equal(s.unknownLabels.length, 3);
  t.equal(s.gallery.length, 9);
  t.same(new Set(Array.from(s.gallery, (i) => labels[i])).size, 9, 'one per label');
  const all = [...s.gallery, ...s.knownProbes, ...s.unknownProbes].sort((a, b) => a - b);
  t.same(
    all,
    Array.from({ length: 90 }, (_, i) => i),
    'every sample exactly once',
  );
  t.ok(Array.from(s.unknownProbes).every((i) => s.unknownLabels.includes(labels[i])));
  t.ok(Array.from(s.knownProbes).every((i) => !s.unknownLabels.includes(labels[i])));
  t.same(gallerySplit(labels, 90, { seed: 8, unknownFraction: 0.25 }), s, 'deterministic');
  t.notSame(gallerySplit(labels, 90, { seed: 9, unknownFraction: 0.25 }).gallery, s.gallery, 'another seed');
  t.same(gallerySplit(labels, 90).unknownLabels, [], 'closed set by default in the split');
  t.throws(() => gallerySplit(labels, 90, { unknownFraction: 1 }), RangeError);
});

t.test('identification by hand: gallery ties broken by sample index', async (t) => {
  // every sample at x = 1, so every distance ties at 0 whichever sample the split puts in the gallery
  const E = new Float64Array([1, 1, 1]);
  // label 0 (sample 0) is alone, so in the gallery; label 1's gallery sample has a higher index
  const behind = identificationMetrics(E, 3, 1, new Int32Array([0, 1, 1]), { unknownFraction: 0, ranks: [1, 2] });
  t.same(behind.cmc, [
    { rank: 1, rate: 0 },
    { rank: 2, rate: 1 },
  ]);
  // label 0 is now sample 2: the own gallery sample (0 or 1) comes first
  const ahead = identificationMetrics(E, 3, 1, new Int32Array([1, 1, 0]), { unknownFraction: 0, ranks: [1, 2] });
  t.same(ahead.cmc, [
    { rank: 1, rate: 1 },
    { rank: 2, rate: 1 },
  ]);
  t.same([ahead.galleryCount, ahead.knownProbeCount, ahead.unknownProbeCount], [2, 1, 0]);
});

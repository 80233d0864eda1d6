// A gallery and a probe set of their own, stacked (gallerySplitOf + identifySplit): the split,
// the nearest same-label gallery sample for the rank, and the open set.
import t from 'tap';
import {
  crossPairCounts,
  crossVerificationMetrics,
  gallerySplitOf,
  identifySplit,
  NO_LABEL,
} from '../../src/math/verification/index.js';

t.test('gallery rows first, probes known by label', (t) => {
  // gallery: label 1 at 0 and 10, label 2 at 4; probes: 1 near 10, 2 near 4, 3 (unknown) at 7
  const E = Float64Array.from([0, 10, 4, 9, 4.5, 7]);
  const labels = Int32Array.from([1, 1, 2, 1, 2, 3]);
  const split = gallerySplitOf(labels, 6, 3);
  t.same(Array.from(split.gallery), [0, 1, 2]);
  t.same(Array.from(split.knownProbes), [3, 4]);
  t.same(Array.from(split.unknownProbes), [5]);
  t.same(split.unknownLabels, [3]);
  const m = identifySplit(E, 1, labels, split, { ranks: [1], fars: [0.5] });
  t.same(m.cmc, [{ rank: 1, rate: 1 }], 'the nearest sample of the label counts, not the last');
  t.match(m, { galleryCount: 3, knownProbeCount: 2, unknownProbeCount: 1 });
  t.equal(m.openSet[0].reason, 'needs at least 2 unknown probes, has 1');
  t.throws(() => gallerySplitOf(labels, 6, 0), RangeError);
  t.end();
});

t.test('probe × item verification: only cross pairs, unlabelled items are impostors, seeded samples', (t) => {
  // items: 0 (label 1) at 0, 1 (label 2) at 10, 2 (no label) at 5; probes: label 1 at 1, label 2 at 9, label 3 at 4
  const E = Float64Array.from([0, 10, 5, 1, 9, 4]);
  const labels = Int32Array.from([1, 2, NO_LABEL, 1, 2, 3]);
  t.same(crossPairCounts(labels, 6, 3), { genuine: 2, impostors: 7 });
  const m = crossVerificationMetrics(E, 6, 1, labels, 3, { fars: [0.5], curvePoints: 0 });
  t.match(m, { genuineCount: 2, impostorCount: 7, genuineTotal: 2, impostorTotal: 7 });
  // genuine distances 1, 1; impostors 9, 4 | 9, 4 | 4, 6, 1 (probes × items 0-2, own-label pairs left out)
  t.equal(m.auc, (2 * 6 + 2 * 0.5) / (2 * 7), 'AUC: each genuine 1 beats 6 impostors and ties one');
  t.equal(m.tarAtFar[0].tar, 1);
  const none = crossVerificationMetrics(E, 6, 1, Int32Array.from([1, 1, 1, 2, 2, 2]), 3);
  t.equal(none.reason, "no genuine pairs (no probe's label is enrolled)");
  const all = crossVerificationMetrics(E, 6, 1, Int32Array.from([1, 1, 1, 1, 1, 1]), 3);
  t.equal(all.reason, 'no impostor pairs (every enrolled item has the label of every probe)');
  // the sample: the same on every call with a seed, exactly maxImpostorPairs
  const n = 60;
  const big = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) * 5);
  const lab = Int32Array.from({ length: n }, (_, i) => i % 7);
  const s1 = crossVerificationMetrics(big, n, 1, lab, 20, { maxImpostorPairs: 300, seed: 2 });
  const s2 = crossVerificationMetrics(big, n, 1, lab, 20, { maxImpostorPairs: 300, seed: 2 });
  const s3 = crossVerificationMetrics(big, n, 1, lab, 20, { maxImpostorPairs: 300, seed: 3 });
  const full = crossPairCounts(lab, n, 20);
  t.equal(full.genuine + full.impostors, 40 * 20, 'every probe × item pair, once');
  t.match(s1, { impostorCount: 300, impostorTotal: full.impostors, impostorSampled: true, genuineSampled: false });
  t.same(s1, s2, 'same seed, same sample');
  t.not(s1.auc, s3.auc, 'another seed, another sample');
  t.throws(() => crossVerificationMetrics(big, n, 1, lab, n + 1), RangeError);
  t.end();
});

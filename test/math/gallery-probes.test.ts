// A gallery and a probe set of their own, stacked (gallerySplitOf + identifySplit): the split,
// the nearest same-label gallery sample for the rank, and the open set.
import t from 'tap';
import { gallerySplitOf, identifySplit } from '../../src/math/verification/index.js';

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

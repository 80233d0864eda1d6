// Verification and identification metrics against the numpy reference
// (test/fixtures-gen/verification_reference.py: scikit-learn's roc_curve re-implemented) on random
// data, on tie-heavy integer data and on the shared digits set (1,797 rows, all pairs and a seeded
// impostor sample): TAR within 1e-3 at every FAR, EER within 1e-3, AUC within 1e-6, CMC exact.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { distanceByName } from '../../src/math/distance.js';
import { gallerySplit, identificationMetrics, verificationMetrics } from '../../src/math/verification/index.js';
import type { VerificationOptions } from '../../src/math/verification/index.js';
import { SHARED, flat64, readJson } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/verification/', import.meta.url));

interface Reference {
  metric: 'euclidean' | 'squared';
  E?: number[][];
  labels?: number[];
  verification: {
    genuineCount: number;
    impostorCount: number;
    impostorTotal?: number;
    genuineTotal?: number;
    maxImpostorPairs?: number;
    maxGenuinePairs?: number;
    seed?: number;
    tarAtFar: { far: number; tar: number | null; threshold: number | null }[];
    eer: number;
    eerThreshold: number;
    auc: number;
    curve?: { far: number; tar: number }[];
  };
  identification?: {
    seed: number;
    unknownFraction: number;
    ranks: number[];
    fars: number[];
    gallery: number[];
    unknownLabels: number[];
    knownProbeCount: number;
    unknownProbeCount: number;
    cmc: { rank: number; rate: number }[];
    openSet: { far: number; dir: number | null; threshold: number | null }[];
  };
}

/** The shared digits set as the reference reads it: train.csv then test.csv, raw features. */
function digits(): { E: Float64Array; labels: Int32Array; n: number; k: number } {
  const rows: number[][] = [];
  for (const name of ['train.csv', 'test.csv']) {
    const lines = readFileSync(`${SHARED}/data/digits/${name}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) rows.push(line.split(',').map(Number));
  }
  return {
    E: flat64(rows.map((r) => r.slice(1))),
    labels: Int32Array.from(rows, (r) => r[0]),
    n: rows.length,
    k: rows[0].length - 1,
  };
}

function load(name: string) {
  const ref = readJson<Reference>(`${FIXTURES}${name}.json`);
  if (!ref.E) return { ref, ...digits() };
  return { ref, E: flat64(ref.E), labels: Int32Array.from(ref.labels!), n: ref.E.length, k: ref.E[0].length };
}

const same = (a: number | null, b: number | null, tol: number) =>
  a === null || b === null ? a === b : Math.abs(a - b) <= tol;

function checkVerification(t: Test, name: string, extra: VerificationOptions = {}) {
  const { ref, E, labels, n, k } = load(name);
  const want = ref.verification;
  const distance = distanceByName(ref.metric);
  const opts: VerificationOptions = {
    distance,
    maxImpostorPairs: want.maxImpostorPairs,
    maxGenuinePairs: want.maxGenuinePairs,
    seed: want.seed,
    curvePoints: want.curve?.length,
    ...extra,
  };
  const got = verificationMetrics(E, n, k, labels, opts);
  t.equal(got.genuineCount, want.genuineCount, 'genuine pairs');
  t.equal(got.impostorCount, want.impostorCount, 'impostor pairs');
  if (want.impostorTotal !== undefined) {
    t.equal(got.impostorTotal, want.impostorTotal, 'impostor pairs before sampling');
    t.ok(got.impostorSampled);
  }
  if (want.genuineTotal !== undefined) {
    t.equal(got.genuineTotal, want.genuineTotal, 'genuine pairs before sampling');
    t.ok(got.genuineSampled);
  }
  t.equal(got.tarAtFar.length, want.tarAtFar.length);
  for (const [i, w] of want.tarAtFar.entries()) {
    const g = got.tarAtFar[i];
    t.equal(g.far, w.far);
    t.ok(same(g.tar, w.tar, 1e-3), `TAR@FAR=${w.far}: ${g.tar} vs ${w.tar}`);
    t.ok(same(g.threshold, w.threshold, 1e-12), `threshold@FAR=${w.far}: ${g.threshold} vs ${w.threshold}`);
    t.equal(g.reason === null, w.tar !== null, `reason only where the reference has no value (${g.reason})`);
  }
  t.ok(same(got.eer, want.eer, 1e-3), `EER ${got.eer} vs ${want.eer}`);
  t.ok(same(got.eerThreshold, want.eerThreshold, 1e-12), `EER threshold ${got.eerThreshold} vs ${want.eerThreshold}`);
  t.ok(same(got.auc, want.auc, 1e-6), `AUC ${got.auc} vs ${want.auc}`);
  if (want.curve) {
    t.equal(got.curve?.length, want.curve.length, 'curve points');
    const bad = want.curve.findIndex(
      (w, i) => !(same(got.curve![i].far, w.far, 1e-12) && same(got.curve![i].tar, w.tar, 1e-3)),
    );
    t.equal(bad, -1, `every curve point matches${bad >= 0 ? ` (first bad: ${bad})` : ''}`);
  }
  return got;
}

function checkIdentification(t: Test, name: string) {
  const { ref, E, labels, n, k } = load(name);
  const want = ref.identification!;
  const split = gallerySplit(labels, n, { seed: want.seed, unknownFraction: want.unknownFraction });
  t.same(Array.from(split.gallery), want.gallery, 'the same gallery (Mulberry32 split reproduced)');
  t.same(split.unknownLabels, want.unknownLabels, 'the same unknown labels');
  const got = identificationMetrics(E, n, k, labels, {
    distance: distanceByName(ref.metric),
    seed: want.seed,
    unknownFraction: want.unknownFraction,
    ranks: want.ranks,
    fars: want.fars,
  });
  t.equal(got.knownProbeCount, want.knownProbeCount);
  t.equal(got.unknownProbeCount, want.unknownProbeCount);
  t.same(got.cmc, want.cmc, 'CMC exact');
  for (const [i, w] of want.openSet.entries()) {
    const g = got.openSet[i];
    t.equal(g.dir, w.dir, `DIR@FPIR=${w.far}`);
    t.ok(same(g.threshold, w.threshold, 1e-12), `open-set threshold@${w.far}: ${g.threshold} vs ${w.threshold}`);
  }
}

for (const name of ['random', 'ties', 'digits']) {
  t.test(`${name}: verification as roc_curve`, async (t) => {
    checkVerification(t, name);
  });
  t.test(`${name}: identification as the reference`, async (t) => {
    checkIdentification(t, name);
  });
}

t.test(
  'digits: seeded samples of 200,000 impostor and 50,000 genuine pairs, as the reference draws them',
  async (t) => {
    checkVerification(t, 'digits-sampled');
  },
);

t.test('the threshold selection narrows by histogram when impostors exceed its budget', async (t) => {
  // a tiny budget forces narrowing passes on 77,862 impostors; every number must stay the same
  const got = checkVerification(t, 'random', { select: { bins: 16, budget: 32 } });
  t.ok(got.impostorPasses > 2, `${got.impostorPasses} passes over the impostors`);
  const ties = checkVerification(t, 'ties', { select: { bins: 4, budget: 8 } });
  t.ok(ties.impostorPasses >= 2, `${ties.impostorPasses} passes (tied ranges end without keeping values)`);
});

// Verification and identification in POST /models/:id/evaluate, through HTTP (app.inject) on a real
// SQLite file, against scikit-learn's roc_curve / roc_auc_score
// (test/fixtures-gen/evaluate_reference.py): random data and the shared digits (all 1.45 M impostor
// pairs, and a seeded sample), each embedded by an imported W. TAR within 1e-3 at every FAR, EER
// within 1e-3, AUC within 1e-6, thresholds and CMC exact to float rounding; then every edge.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import { close, createDataset, expectError, testApp } from '../helpers.js';
import { SHARED } from '../math/helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/verification/', import.meta.url));

interface RouteReference {
  body: Record<string, unknown>;
  X?: number[][];
  labels?: number[];
  W?: number[][];
  verification: {
    genuineCount: number;
    impostorCount: number;
    genuineTotal: number;
    impostorTotal: number;
    tarAtFar: { far: number; tar: number | null; threshold: number | null }[];
    eer: number;
    eerThreshold: number;
    auc: number;
    curve?: { far: number; tar: number }[];
  };
  identification?: {
    unknownLabels: number[];
    knownProbeCount: number;
    unknownProbeCount: number;
    cmc: { rank: number; rate: number }[];
    openSet: { far: number; dir: number | null; threshold: number | null }[];
  };
}

const fixture = (name: string) => JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as RouteReference;

async function upload(app: App, X: number[][], labels: (number | string)[]): Promise<string> {
  const id = await createDataset(app, X[0].length);
  const samples = X.map((vector, i) => ({ vector, label: labels[i] }));
  const r = await app.inject({ method: 'POST', url: `/datasets/${id}/samples`, payload: { samples } });
  if (r.statusCode !== 201) throw new Error(`upload failed: ${r.body}`);
  return id;
}

async function importModel(app: App, W: number[][]): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/models', payload: { W } });
  if (r.statusCode !== 201) throw new Error(`import failed: ${r.body}`);
  return r.json().id;
}

const evaluate = (app: App, model: string, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `/models/${model}/evaluate`, payload });

const identity = (d: number) => Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => +(i === j)));

/** train.csv then test.csv of the shared digits, as the reference reads them. */
function digits(): { X: number[][]; labels: number[] } {
  const X: number[][] = [];
  const labels: number[] = [];
  for (const name of ['train.csv', 'test.csv']) {
    const lines = readFileSync(`${SHARED}/data/digits/${name}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const row = line.split(',').map(Number);
      labels.push(row[0]);
      X.push(row.slice(1));
    }
  }
  return { X, labels };
}

function compareVerification(t: Test, got: any, want: RouteReference['verification']) {
  t.equal(got.distance, 'euclidean');
  t.equal(got.genuineCount, want.genuineCount, 'genuine pairs');
  t.equal(got.impostorCount, want.impostorCount, 'impostor pairs');
  t.equal(got.genuineTotal, want.genuineTotal);
  t.equal(got.impostorTotal, want.impostorTotal);
  t.equal(got.tarAtFar.length, want.tarAtFar.length);
  want.tarAtFar.forEach((w, i) => {
    const g = got.tarAtFar[i];
    t.equal(g.far, w.far);
    if (w.tar === null) {
      t.equal(g.tar, null, `FAR ${w.far}: unsupported`);
      t.match(g.reason, /^needs at least \d+ impostor pairs, has \d+$/);
      return;
    }
    t.ok(Math.abs(g.tar - w.tar) <= 1e-3, `TAR@${w.far}: ${g.tar} vs sklearn ${w.tar}`);
    if (w.threshold === null) t.equal(g.threshold, null);
    else close(t, g.threshold, w.threshold, 1e-9, `threshold@${w.far}`);
    t.equal(g.reason, null);
  });
  t.ok(Math.abs(got.eer - want.eer) <= 1e-3, `EER ${got.eer} vs sklearn ${want.eer}`);
  close(t, got.eerThreshold, want.eerThreshold, 1e-9, 'EER threshold');
  t.ok(Math.abs(got.auc - want.auc) <= 1e-6, `AUC ${got.auc} vs sklearn ${want.auc}`);
}

function compareIdentification(t: Test, got: any, want: NonNullable<RouteReference['identification']>) {
  t.same(got.unknownLabels, want.unknownLabels, 'the labels held out, by name');
  t.equal(got.knownProbeCount, want.knownProbeCount);
  t.equal(got.unknownProbeCount, want.unknownProbeCount);
  t.same(
    got.cmc.map((c: any) => [c.rank, c.rate]),
    want.cmc.map((c) => [c.rank, c.rate]),
    'CMC',
  );
  want.openSet.forEach((w, i) => {
    const g = got.openSet[i];
    t.equal(g.far, w.far);
    if (w.dir === null) t.equal(g.dir, null, `open set at ${w.far}: unsupported`);
    else {
      close(t, g.dir, w.dir, 1e-12, `DIR@${w.far}`);
      close(t, g.threshold, w.threshold!, 1e-9, `open-set threshold@${w.far}`);
    }
  });
}

t.test('random data, a scaled permutation W: sklearn roc_curve numbers and the curve', async (t) => {
  const ref = fixture('route-random.json');
  const app = await testApp(t);
  const ds = await upload(app, ref.X!, ref.labels!);
  const model = await importModel(app, ref.W!);
  const r = await evaluate(app, model, { datasetId: ds, ...ref.body });
  t.equal(r.statusCode, 200, r.statusCode === 200 ? 'ok' : r.body);
  const body = r.json();
  compareVerification(t, body.verification, ref.verification);
  t.equal(body.verification.impostorSampled, false);
  t.equal(body.verification.curve.length, 1000, '1,000 ROC points');
  let worst = 0;
  ref.verification.curve!.forEach((w, i) => {
    worst = Math.max(worst, Math.abs(body.verification.curve[i].tar - w.tar));
  });
  t.ok(worst <= 1e-3, `every curve point within 1e-3 of sklearn (worst ${worst})`);
  const fars = body.verification.curve.map((p: any) => p.far);
  t.ok(
    fars.every((f: number, i: number) => i === 0 || f > fars[i - 1]),
    'log-spaced, increasing',
  );
  t.equal(fars.at(-1), 1);
  compareIdentification(t, body.identification, ref.identification!);
  t.match(body.identification, { seed: 4, unknownFraction: 0.25 });
  t.ok(body.precisionAt1 > 0, 'the retrieval figures are still there');
});

t.test('digits, identity W: all 1.45 M impostor pairs, then a seeded sample', async (t) => {
  const full = fixture('route-digits.json');
  const sampled = fixture('route-digits-sampled.json');
  const { X, labels } = digits();
  const app = await testApp(t);
  const ds = await upload(app, X, labels);
  const model = await importModel(app, identity(64));

  const r = await evaluate(app, model, { datasetId: ds });
  t.equal(r.statusCode, 200, r.statusCode === 200 ? 'ok' : r.body);
  const body = r.json();
  compareVerification(t, body.verification, full.verification);
  t.match(body.verification, { impostorSampled: false, genuineSampled: false, seed: 0 });
  t.notOk('curve' in body.verification, 'no curve unless asked');
  t.ok(
    body.verification.tarAtFar.every((p: any) => p.tar !== null),
    '1e-6 is supported by 1.45 M impostors',
  );
  compareIdentification(t, body.identification, full.identification!);

  const s = await evaluate(app, model, { datasetId: ds, ...sampled.body });
  t.equal(s.statusCode, 200);
  const sv = s.json().verification;
  compareVerification(t, sv, sampled.verification);
  t.match(sv, {
    impostorSampled: true,
    genuineSampled: true,
    impostorCount: 200000,
    genuineCount: 50000,
    maxImpostorPairs: 200000,
    maxGenuinePairs: 50000,
    seed: 11,
  });
  t.equal(sv.tarAtFar.at(-1).tar, null, '1e-6 needs 10⁶ impostors; the sample has 200,000');
  t.equal(sv.tarAtFar.at(-1).reason, 'needs at least 1000000 impostor pairs, has 200000');
});

t.test('edges: one label, no genuine pairs, ties, unsupported FARs, one sample', async (t) => {
  const app = await testApp(t);
  const model = await importModel(app, identity(2));

  // one label: genuine pairs only, no impostors
  const one = await upload(
    app,
    [
      [0, 0],
      [1, 0],
      [0, 2],
    ],
    ['x', 'x', 'x'],
  );
  const a = (await evaluate(app, model, { datasetId: one })).json();
  t.match(a.verification, { genuineCount: 3, impostorCount: 0, eer: null, auc: null, eerThreshold: null });
  t.equal(a.verification.reason, 'no impostor pairs (fewer than two labels)');
  t.ok(a.verification.tarAtFar.every((p: any) => p.tar === null && p.reason === a.verification.reason));
  t.equal(a.identification.openSet[0].dir, null, 'no unknown probes with one label');
  t.equal(a.identification.cmc[0].rate, 1, 'the only label: its gallery sample ranks first');

  // every label once: impostors only, no genuine pairs, no known probes
  const distinct = await upload(
    app,
    [
      [0, 0],
      [1, 0],
      [0, 2],
      [3, 3],
    ],
    ['a', 'b', 'c', 'd'],
  );
  const b = (await evaluate(app, model, { datasetId: distinct })).json();
  t.match(b.verification, { genuineCount: 0, impostorCount: 6, eer: null, auc: null });
  t.equal(b.verification.reason, 'no genuine pairs (no label has two samples)');
  t.equal(b.identification.cmc[0].rate, null);
  t.match(b.identification.reason, /no known probes/);

  // ties: every genuine distance 1, every impostor distance 1 or 2 — tied pairs move together
  const tied = await upload(
    app,
    [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ],
    ['p', 'p', 'q', 'q'],
  );
  const c = (await evaluate(app, model, { datasetId: tied, verification: { fars: [0.5, 0.25] } })).json();
  // genuine (0,1) (2,3): 1, 1; impostors (0,2) (1,3): 1, 1 and (0,3) (1,2): √2, √2
  t.match(c.verification, { genuineCount: 2, impostorCount: 4 });
  t.same(
    c.verification.tarAtFar.map((p: any) => [p.far, p.tar, p.threshold]),
    [
      [0.5, 1, 1],
      [0.25, 0, null],
    ],
    'at FAR 0.5 the tie at 1 is accepted whole; at 0.25 nothing can be',
  );
  close(t, c.verification.auc, 0.75, 1e-15, 'AUC counts ties one half: (2·½·2 + 2·2)/(2·4)');
  // ROC (0, 0) → (½, 1) at distance 1: FAR = FRR where ½s = 1 − s on that segment
  close(t, c.verification.eer, 1 / 3, 1e-15, 'EER interpolated across the tied step');
  t.equal(c.verification.eerThreshold, 1);

  // FARs the data cannot support: 4 impostor pairs support 0.25 but not 0.2
  const d = (await evaluate(app, model, { datasetId: tied, verification: { fars: [0.25, 0.2, 1e-6] } })).json();
  t.same(
    d.verification.tarAtFar.map((p: any) => p.reason),
    [null, 'needs at least 5 impostor pairs, has 4', 'needs at least 1000000 impostor pairs, has 4'],
  );

  // one sample: no pairs at all, so no verification or identification (nor retrieval)
  const single = await upload(app, [[1, 2]], ['s']);
  const trip = await app.inject({
    method: 'POST',
    url: `/datasets/${single}/triplets`,
    payload: { triplets: [{ anchor: [0, 0], positive: [0, 1], negative: [3, 3] }] },
  });
  t.equal(trip.statusCode, 201);
  const e = (await evaluate(app, model, { datasetId: single })).json();
  t.notOk('verification' in e || 'identification' in e || 'precisionAt1' in e);
  t.equal(e.count, 1);
});

t.test('the sample is seeded and the options are checked', async (t) => {
  const app = await testApp(t);
  const model = await importModel(app, identity(2));
  const X = Array.from({ length: 40 }, (_, i) => [Math.sin(i * 1.7) + (i % 4), Math.cos(i * 2.3)]);
  const ds = await upload(
    app,
    X,
    X.map((_, i) => i % 4),
  );
  const run = async (verification: Record<string, unknown>) =>
    (await evaluate(app, model, { datasetId: ds, verification })).json().verification;
  const s1 = await run({ maxImpostorPairs: 100, seed: 3 });
  const s2 = await run({ maxImpostorPairs: 100, seed: 3 });
  const s3 = await run({ maxImpostorPairs: 100, seed: 4 });
  t.match(s1, { impostorCount: 100, impostorTotal: 600, impostorSampled: true, genuineSampled: false });
  t.same(s1, s2, 'the same seed, the same sample and numbers');
  t.not(s1.auc, s3.auc, 'another seed, another sample');

  for (const verification of [
    { fars: [0] },
    { fars: [1] },
    { fars: [] },
    { curve: 'yes' },
    { maxImpostorPairs: 0 },
    { x: 1 },
  ])
    expectError(t, await evaluate(app, model, { datasetId: ds, verification }), 400, 'VALIDATION_ERROR');
  for (const identification of [{ unknownFraction: 0.95 }, { ranks: [0] }, { fars: [2] }])
    expectError(t, await evaluate(app, model, { datasetId: ds, identification }), 400, 'VALIDATION_ERROR');
});

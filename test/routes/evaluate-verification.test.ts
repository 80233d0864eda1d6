// Verification and identification in POST /models/:id/evaluate, through HTTP (app.inject) on a real
// SQLite file, against scikit-learn's roc_curve / roc_auc_score
// (test/fixtures-gen/evaluate_reference.py): random data embedded by an imported W (a scaled
// permutation), with the 1,000-point curve; the seeded impostor sample; the options' checks.
// TAR within 1e-3 at every FAR, EER within 1e-3, AUC within 1e-6, thresholds and CMC exact to
// float rounding. Digits: evaluate-verification-digits.test.ts; edges: …-edges.test.ts.
import t from 'tap';
import { expectError, testApp } from '../helpers.js';
import {
  compareIdentification,
  compareVerification,
  evaluate,
  fixture,
  identity,
  importModel,
  upload,
} from './verification-route.js';

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

t.test('the sample is seeded and the options are checked', async (t) => {
  const app = await testApp(t, { config: { compute: { kernels: 'js', threads: 1, embedHelpers: 0, wide: 'off' } } });
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
  for (const identification of [{ unknownFraction: 0.95 }, { ranks: [0] }, { fars: [2] }, { fars: [1e-3, 0] }])
    expectError(t, await evaluate(app, model, { datasetId: ds, identification }), 400, 'VALIDATION_ERROR');
});

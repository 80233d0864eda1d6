// Verification and identification in POST /models/:id/evaluate on the shared digits (1,797
// samples, identity W), through HTTP, against scikit-learn (test/fixtures-gen/evaluate_reference.py):
// all 1.45 M impostor pairs (every FAR to 1e-6), then a seeded sample of 200,000 impostor and
// 50,000 genuine pairs.
import t from 'tap';
import { testApp } from '../helpers.js';
import {
  compareIdentification,
  compareVerification,
  digits,
  evaluate,
  fixture,
  identity,
  importModel,
  upload,
} from './verification-route.js';

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

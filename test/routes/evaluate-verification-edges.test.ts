// Verification and identification in POST /models/:id/evaluate at the edges: one label (no
// impostors), every label once (no genuine pairs), ties, FARs the data cannot support, one sample.
// The TypeScript kernels on one thread: these sets are tiny.
import t from 'tap';
import { close, testApp } from '../helpers.js';
import { evaluate, identity, importModel, upload } from './verification-route.js';

t.test('edges: one label, no genuine pairs, ties, unsupported FARs, one sample', async (t) => {
  const app = await testApp(t, { config: { compute: { kernels: 'js', threads: 1, embedHelpers: 0, wide: 'off' } } });
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
  // FARs 0.25 and 0.2 need 4 and 5 impostor pairs: the 4 here support the first only
  const c = (await evaluate(app, model, { datasetId: tied, verification: { fars: [0.5, 0.25, 0.2, 1e-6] } })).json();
  // genuine (0,1) (2,3): 1, 1; impostors (0,2) (1,3): 1, 1 and (0,3) (1,2): √2, √2
  t.match(c.verification, { genuineCount: 2, impostorCount: 4 });
  t.same(
    c.verification.tarAtFar.map((p: any) => [p.far, p.tar, p.threshold, p.reason]),
    [
      [0.5, 1, 1, null],
      [0.25, 0, null, null],
      [0.2, null, null, 'needs at least 5 impostor pairs, has 4'],
      [1e-6, null, null, 'needs at least 1000000 impostor pairs, has 4'],
    ],
    'at FAR 0.5 the tie at 1 is accepted whole; at 0.25 nothing can be; 0.2 and 1e-6 are unsupported',
  );
  close(t, c.verification.auc, 0.75, 1e-15, 'AUC counts ties one half: (2·½·2 + 2·2)/(2·4)');
  // ROC (0, 0) → (½, 1) at distance 1: FAR = FRR where ½s = 1 − s on that segment
  close(t, c.verification.eer, 1 / 3, 1e-15, 'EER interpolated across the tied step');
  t.equal(c.verification.eerThreshold, 1);

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

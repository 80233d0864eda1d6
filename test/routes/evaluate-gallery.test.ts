// POST /models/:id/evaluate with a galleryId (docs/decisions/0038): a gallery's items are the
// enrolled set, a dataset's labelled samples the probes. Through HTTP (app.inject) on SQLite and
// on PostgreSQL, against the numpy reference of test/fixtures-gen/gallery_probe_reference.py
// (TAR within 1e-3 at every FAR and every curve point, EER within 1e-3, AUC within 1e-6,
// thresholds and CMC exact to float rounding); the edges (no enrolled label, one label so no
// impostors, FARs the data cannot support) and the refusals.
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import type { Limits } from '../../src/config.js';
import { freshDatabase, inCi, unavailable } from '../store/pg-test-db.js';
import { createDataset, expectError, testApp } from '../helpers.js';
import {
  compareIdentification,
  compareVerification,
  evaluate,
  fixture,
  importModel,
  upload,
} from './verification-route.js';

interface Item {
  id: string;
  label?: string | number;
  input: number[];
}

const ref = fixture('route-gallery-probes.json') as ReturnType<typeof fixture> & { items: Item[] };

async function gallery(app: App, model: string, items: Item[]): Promise<string> {
  const g = await app.inject({ method: 'POST', url: '/galleries', payload: { model } });
  if (g.statusCode !== 201) throw new Error(g.body);
  const id = g.json().id as string;
  if (items.length > 0) {
    const r = await app.inject({ method: 'POST', url: `/galleries/${id}/items`, payload: { items } });
    if (r.statusCode !== 201) throw new Error(r.body);
  }
  return id;
}

const pg = await unavailable();
if (pg && inCi) t.fail(`the PostgreSQL half needs a server, and CI must not skip it: ${pg}`);
const backends: { name: string; skip: string | false; app: (t: Test, limits?: Partial<Limits>) => Promise<App> }[] = [
  { name: 'SQLite', skip: false, app: (t, limits) => testApp(t, { limits }) },
  {
    name: 'PostgreSQL',
    skip: pg ?? false,
    app: async (t, limits) => testApp(t, { limits, config: { databaseUrl: await freshDatabase(t) } }),
  },
];

for (const backend of backends) {
  t.test(backend.name, { skip: backend.skip }, async (t) => {
    t.test('the numpy reference: probe × item verification, CMC, open set', async (t) => {
      const app = await backend.app(t);
      const model = await importModel(app, ref.W!);
      const g = await gallery(app, model, ref.items);
      const ds = await upload(app, ref.X!, ref.labels!);
      const r = await evaluate(app, model, { datasetId: ds, galleryId: g, ...ref.body });
      t.equal(r.statusCode, 200, r.statusCode === 200 ? 'ok' : r.body);
      const body = r.json();
      compareVerification(t, body.verification, ref.verification);
      t.match(body.verification.tarAtFar[4], { far: 1e-5, tar: null, reason: /^needs at least 100000 impostor pairs/ });
      t.equal(body.verification.curve.length, 1000, '1,000 ROC points');
      let worst = 0;
      ref.verification.curve!.forEach((w, i) => {
        worst = Math.max(worst, Math.abs(body.verification.curve[i].tar - w.tar));
      });
      t.ok(worst <= 1e-3, `every curve point within 1e-3 of the reference (worst ${worst})`);
      compareIdentification(t, body.identification, ref.identification!);
      t.equal(body.identification.galleryCount, ref.items.length, 'every item is in the gallery');
      t.match(body.identification.openSet[2], { far: 0.01, dir: null, reason: /^needs at least 100 unknown probes/ });
      t.notOk('seed' in body.identification || 'unknownFraction' in body.identification, 'no seeded split');
      t.match(body, { model, loss: null, tripletAccuracy: null, activeFraction: null, count: 0 });
      t.notOk('precisionAt1' in body, 'no retrieval figures');
      t.same(body.gallery, {
        id: g,
        version: body.gallery.version,
        itemCount: ref.items.length,
        labelCount: 30,
        unlabelledCount: 2,
        datasetId: ds,
        probeCount: ref.labels!.length,
      });
      // an alias of the gallery's model works as the id does
      await app.inject({ method: 'PUT', url: '/aliases/faces', payload: { model } });
      const again = await evaluate(app, 'faces', { datasetId: ds, galleryId: g, ...ref.body });
      t.same(again.json().verification.tarAtFar, body.verification.tarAtFar, 'by alias: the same numbers');
    });

    t.test('edges: no enrolled label, one label (no impostors), unsupported FARs', async (t) => {
      const app = await backend.app(t);
      const model = await importModel(app, [
        [1, 0],
        [0, 1],
      ]);
      const probes = Array.from({ length: 12 }, (_, i) => [Math.cos(i), Math.sin(i)]);
      // labels "7" (a string) on the items, 7 and 8 (integers) on the probes: a label's type counts
      const g1 = await gallery(app, model, [
        { id: 'a', label: '7', input: [1, 0] },
        { id: 'b', label: '7', input: [0, 1] },
      ]);
      const ds1 = await upload(
        app,
        probes,
        probes.map((_, i) => 7 + (i % 2)),
      );
      const none = (await evaluate(app, model, { datasetId: ds1, galleryId: g1 })).json();
      t.match(none.verification, {
        genuineCount: 0,
        impostorCount: 24,
        eer: null,
        auc: null,
        reason: "no genuine pairs (no probe's label is enrolled)",
      });
      t.ok(
        none.verification.tarAtFar.every((p: any) => p.tar === null && p.reason === none.verification.reason),
        'every FAR null, with the reason',
      );
      t.match(none.identification, {
        galleryCount: 2,
        knownProbeCount: 0,
        unknownProbeCount: 12,
        unknownLabels: [7, 8],
        reason: "no known probes (no probe's label is enrolled in the gallery)",
      });
      t.ok(
        none.identification.cmc.every((c: any) => c.rate === null),
        'CMC null without known probes',
      );
      t.match(none.identification.openSet[0], { far: 0.1, dir: null, reason: none.identification.reason });
      t.match(none.identification.openSet[1], { far: 0.01, reason: 'needs at least 100 unknown probes, has 12' });

      // one label on both sides: every pair genuine
      const g2 = await gallery(app, model, [{ id: 'a', label: 'x', input: [1, 0] }]);
      const ds2 = await upload(
        app,
        probes,
        probes.map(() => 'x'),
      );
      const one = (await evaluate(app, model, { datasetId: ds2, galleryId: g2 })).json();
      t.match(one.verification, {
        genuineCount: 12,
        impostorCount: 0,
        reason: 'no impostor pairs (every enrolled item has the label of every probe)',
      });
      t.same(
        one.identification.cmc.map((c: any) => c.rate),
        [1, 1, 1],
        'the one item is every probe’s first',
      );
      t.match(one.identification.openSet[0], {
        dir: null,
        reason: 'no unknown probes (every label is in the gallery)',
      });
      t.match(one.gallery, { itemCount: 1, labelCount: 1, unlabelledCount: 0, probeCount: 12 });
    });

    t.test('refusals', async (t) => {
      const app = await backend.app(t);
      const model = await importModel(app, [
        [1, 0, 0],
        [0, 1, 0],
      ]);
      const other = await importModel(app, [
        [1, 0, 0],
        [0, 0, 1],
      ]);
      const g = await gallery(app, model, [{ id: 'a', label: 1, input: [1, 0, 0] }]);
      const ds = await upload(
        app,
        [
          [1, 0, 0],
          [0, 1, 0],
        ],
        [1, 2],
      );
      const ok = await evaluate(app, model, { datasetId: ds, galleryId: g });
      t.equal(ok.statusCode, 200, 'the baseline evaluates');
      const mismatch = await evaluate(app, other, { datasetId: ds, galleryId: g });
      expectError(t, mismatch, 409, 'GALLERY_MODEL_MISMATCH');
      t.match(mismatch.json().message, `POST /models/${model}/evaluate`);
      const ds2 = await upload(app, [[1, 0]], [1]);
      expectError(t, await evaluate(app, model, { datasetId: ds2, galleryId: g }), 400, 'DIMENSION_MISMATCH');
      const empty = await gallery(app, model, []);
      const e1 = await evaluate(app, model, { datasetId: ds, galleryId: empty });
      expectError(t, e1, 422, 'NO_SAMPLES');
      t.match(e1.json().message, `gallery ${empty} has no items`);
      const noSamples = await createDataset(app, 3);
      const e2 = await evaluate(app, model, { datasetId: noSamples, galleryId: g });
      expectError(t, e2, 422, 'NO_SAMPLES');
      t.match(e2.json().message, 'no labelled samples');
      expectError(t, await evaluate(app, model, { datasetId: ds, galleryId: 'gal_nope' }), 404, 'GALLERY_NOT_FOUND');
      expectError(t, await evaluate(app, model, { datasetId: ds, galleryId: g, margin: 1 }), 400, 'VALIDATION_ERROR');
      for (const identification of [{ unknownFraction: 0.5 }, { seed: 3 }, { fars: [0] }])
        expectError(
          t,
          await evaluate(app, model, { datasetId: ds, galleryId: g, identification }),
          400,
          'VALIDATION_ERROR',
        );
      expectError(
        t,
        await evaluate(app, model, { datasetId: ds, galleryId: g, verification: { fars: [1] } }),
        400,
        'VALIDATION_ERROR',
      );
    });

    t.test('the budgets are checked before anything is computed, and named', async (t) => {
      for (const [limits, name] of [
        [{ evaluationBytes: 64 * 1024 }, 'EVALUATION_MEMORY_MB'],
        [{ evaluationMaxWork: 1000 }, 'EVALUATION_MAX_WORK'],
      ] as const) {
        const app = await backend.app(t, limits);
        const model = await importModel(app, ref.W!);
        const g = await gallery(app, model, ref.items);
        const ds = await upload(app, ref.X!, ref.labels!);
        const r = await evaluate(app, model, { datasetId: ds, galleryId: g });
        expectError(t, r, 422, 'LIMIT_EXCEEDED');
        t.match(r.json().message, name);
        t.match(r.json().message, `gallery ${g} (69 items)`);
      }
    });
  });
}

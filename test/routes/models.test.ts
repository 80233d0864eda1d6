// Models: import, list, get, weights, evaluate, delete; through app.inject on a real SQLite file.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { close, createDataset, expectedEvaluation, expectError, makeTriplets, testApp } from '../helpers.js';

const importModel = (app: App, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/models', payload });
const evaluate = (app: App, id: string, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `/models/${id}/evaluate`, payload });

t.test('import, get, weights round trip, list', async (t) => {
  const app = await testApp(t);
  const W = [
    [0.1, 1 / 3, -2.5e-7, 123456.789],
    [Math.PI, -Math.E, 0, 1e-300],
    [-1, 2 ** -30, 3.4e38, 7],
  ];
  const r = await importModel(app, { W, name: 'from numpy' });
  t.equal(r.statusCode, 201);
  const m = r.json();
  t.match(m.id, /^mdl_/);
  t.match(m, { jobId: null, name: 'from numpy', inputDimension: 4, outputDimension: 3, normalize: false });
  t.same(m.metrics, {});
  t.ok(m.createdAt.endsWith('Z'));

  t.same((await app.inject({ url: `/models/${m.id}` })).json(), m);
  const w = await app.inject({ url: `/models/${m.id}/weights` });
  t.equal(w.statusCode, 200);
  t.same(w.json(), { rows: 3, cols: 4, normalize: false, W }, 'exactly the imported W (float64)');
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 4; j++) t.ok(Object.is(w.json().W[i][j], W[i][j]), `W[${i}][${j}] bit-exact`);

  const n = await importModel(app, {
    W: [
      [1, 0],
      [0, 1],
    ],
    normalize: true,
  });
  t.equal(n.statusCode, 201);
  t.equal(n.json().normalize, true);
  t.equal(n.json().name, null);
  t.equal((await app.inject({ url: `/models/${n.json().id}/weights` })).json().normalize, true);

  const ids = [m.id, n.json().id];
  for (let i = 0; i < 3; i++) ids.push((await importModel(app, { W: [[i + 1]] })).json().id);
  const want = [...ids].reverse();
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/models?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
    const body = (await app.inject({ url })).json();
    t.ok(body.items.length <= 2);
    seen.push(...body.items.map((x: any) => x.id));
    cursor = body.nextCursor;
    pages++;
  } while (cursor && pages < 10);
  t.equal(pages, 3);
  t.same(seen, want, 'every model once, newest first');
  const all = (await app.inject({ url: '/models' })).json();
  t.equal(all.items.length, 5);
  t.equal(all.nextCursor, null);
  expectError(t, await app.inject({ url: '/models?cursor=@@' }), 400, 'INVALID_CURSOR');
  expectError(t, await app.inject({ url: '/models?limit=1001' }), 400, 'VALIDATION_ERROR');
});

t.test('import rejects bad W', async (t) => {
  const app = await testApp(t, { limits: { maxDimension: 4, maxOutputDimension: 2 } });
  const ragged = await importModel(app, {
    W: [
      [1, 2, 3],
      [4, 5],
    ],
  });
  expectError(t, ragged, 400, 'DIMENSION_MISMATCH');
  t.match(ragged.json().message, 'W[1]');
  expectError(t, await importModel(app, { W: [] }), 400, 'VALIDATION_ERROR');
  expectError(t, await importModel(app, { W: [[]] }), 400, 'VALIDATION_ERROR');
  expectError(t, await importModel(app, {}), 400, 'VALIDATION_ERROR');
  expectError(t, await importModel(app, { W: [[1, 2]], bias: [0] }), 400, 'VALIDATION_ERROR');
  expectError(t, await importModel(app, { W: [[1, '2']] }), 400, 'VALIDATION_ERROR');
  expectError(t, await importModel(app, { W: [[1, 2]], normalize: 'yes' }), 400, 'VALIDATION_ERROR');
  const big = await importModel(app, { W: [[1, 1e39]] });
  expectError(t, big, 400, 'NON_FINITE_VALUE');
  t.match(big.json().message, 'W[0][1]');
  // zeros, and weights that float32 rounds to zero, would embed every input to 0
  for (const W of [[[0, 0]], [[1e-300, -1e-46]]]) {
    const zero = await importModel(app, { W });
    expectError(t, zero, 400, 'VALIDATION_ERROR');
    t.match(zero.json().message, 'non-zero in float32');
  }
  expectError(t, await importModel(app, { W: [[1, 2, 3, 4, 5]] }), 422, 'LIMIT_EXCEEDED');
  expectError(t, await importModel(app, { W: [[1], [2], [3]] }), 422, 'LIMIT_EXCEEDED');
  t.same((await app.inject({ url: '/models' })).json().items, [], 'nothing was stored');
  expectError(t, await app.inject({ url: '/models/mdl_nope' }), 404, 'MODEL_NOT_FOUND');
  expectError(t, await app.inject({ url: '/models/mdl_nope/weights' }), 404, 'MODEL_NOT_FOUND');
  t.equal((await importModel(app, { W: [[1e-300, 1e-30]] })).statusCode, 201, 'one weight float32 can hold is enough');
});

t.test('evaluate on a dataset matches an independent computation', async (t) => {
  const app = await testApp(t);
  const d = 4;
  const id = await createDataset(app, d, makeTriplets(60, d, 21));
  const stored = await app.services.store.readTriplets(id);
  // a W that gets some triplets right and some wrong
  const W = [
    [0.9, -0.4, 0.3, 0.05],
    [0.2, 0.7, -1.1, 0.4],
  ];
  const model = (await importModel(app, { W })).json();

  for (const margin of [undefined, 1.5]) {
    const r = await evaluate(app, model.id, margin === undefined ? { datasetId: id } : { datasetId: id, margin });
    t.equal(r.statusCode, 200);
    const got = r.json();
    const m = margin ?? 0.2;
    const want = expectedEvaluation(W, stored.data, stored.count, d, m, false);
    t.ok(want.nearestEdge > 1e-6, 'no triplet sits on a boundary (the counts are well defined)');
    t.equal(got.count, 60);
    t.equal(got.margin, m, 'the margin used (default 0.2 for an imported model)');
    // the core keeps a−p and a−n in float32, as the data are stored: agreement to float32 precision
    close(t, got.loss, want.loss, 1e-6, `loss at margin ${m}`);
    t.equal(got.tripletAccuracy, want.tripletAccuracy, `tripletAccuracy at margin ${m}`);
    t.equal(got.activeFraction, want.activeFraction, `activeFraction at margin ${m}`);
  }
  const acc = expectedEvaluation(W, stored.data, stored.count, d, 0.2, false).tripletAccuracy;
  t.ok(acc > 0 && acc < 1, `a discriminating case (accuracy ${acc})`);

  // a normalising model is evaluated on unit-norm embeddings
  const nm = (await importModel(app, { W, normalize: true })).json();
  const got = (await evaluate(app, nm.id, { datasetId: id, margin: 0.1 })).json();
  const want = expectedEvaluation(W, stored.data, stored.count, d, 0.1, true);
  t.ok(want.nearestEdge > 1e-6);
  close(t, got.loss, want.loss, 1e-6, 'normalised loss');
  t.equal(got.tripletAccuracy, want.tripletAccuracy);
  t.equal(got.activeFraction, want.activeFraction);
});

t.test('evaluate errors', async (t) => {
  const app = await testApp(t);
  const model = (
    await importModel(app, {
      W: [
        [1, 0, 0],
        [0, 1, 0],
      ],
    })
  ).json();
  const ds3 = await createDataset(app, 3, makeTriplets(5, 3));
  const ds4 = await createDataset(app, 4, makeTriplets(5, 4));
  const empty = await createDataset(app, 3);
  const mm = await evaluate(app, model.id, { datasetId: ds4 });
  expectError(t, mm, 400, 'DIMENSION_MISMATCH');
  t.match(mm.json().message, ds4);
  expectError(t, await evaluate(app, 'mdl_nope', { datasetId: ds3 }), 404, 'MODEL_NOT_FOUND');
  expectError(t, await evaluate(app, model.id, { datasetId: 'ds_nope' }), 404, 'DATASET_NOT_FOUND');
  expectError(t, await evaluate(app, model.id, { datasetId: empty }), 422, 'NO_TRIPLETS');
  expectError(t, await evaluate(app, model.id, {}), 400, 'VALIDATION_ERROR');
  expectError(t, await evaluate(app, model.id, { datasetId: ds3, k: 5 }), 400, 'VALIDATION_ERROR');
  expectError(t, await evaluate(app, model.id, { datasetId: ds3, margin: -0.1 }), 400, 'VALIDATION_ERROR');
  t.equal((await evaluate(app, model.id, { datasetId: ds3 })).statusCode, 200, 'a good request still works');
});

t.test('delete; the default model is the alias default, which keeps its model', async (t) => {
  // Before aliases, the default fell back to the next newest model on a delete; now it is the alias
  // `default` (the first model), which must be moved before its model can go.
  const app = await testApp(t);
  const older = (
    await importModel(app, {
      W: [
        [1, 0],
        [0, 1],
      ],
    })
  ).json().id;
  const newer = (
    await importModel(app, {
      W: [
        [2, 0],
        [0, 2],
      ],
    })
  ).json().id;
  const embed = () => app.inject({ method: 'POST', url: '/embed', payload: { inputs: [[1, 2]] } });

  let e = (await embed()).json();
  t.equal(e.model, older, 'the first model serves by default, not the newest');
  t.same(e.embeddings, [[1, 2]]);
  await app.inject({ method: 'PUT', url: '/aliases/default', payload: { model: newer } });
  e = (await embed()).json();
  t.equal(e.model, newer, 'once default points to it');
  t.same(e.embeddings, [[2, 4]]);

  expectError(t, await app.inject({ method: 'DELETE', url: `/models/${newer}` }), 409, 'MODEL_IN_USE');
  await app.inject({ method: 'PUT', url: '/aliases/default', payload: { model: older } });
  const del = await app.inject({ method: 'DELETE', url: `/models/${newer}` });
  t.equal(del.statusCode, 204);
  t.equal(del.body, '');
  expectError(t, await app.inject({ url: `/models/${newer}` }), 404, 'MODEL_NOT_FOUND');
  expectError(t, await app.inject({ url: `/models/${newer}/weights` }), 404, 'MODEL_NOT_FOUND');
  expectError(t, await app.inject({ method: 'DELETE', url: `/models/${newer}` }), 404, 'MODEL_NOT_FOUND');
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/embed', payload: { model: newer, inputs: [[1, 2]] } }),
    404,
    'MODEL_NOT_FOUND',
  );

  e = (await embed()).json();
  t.equal(e.model, older, 'served by default again');
  t.same(e.embeddings, [[1, 2]]);
  t.same(
    (await app.inject({ url: '/models' })).json().items.map((m: any) => m.id),
    [older],
  );

  t.equal((await app.inject({ method: 'DELETE', url: '/aliases/default' })).statusCode, 204);
  t.equal((await app.inject({ method: 'DELETE', url: `/models/${older}` })).statusCode, 204);
  expectError(t, await embed(), 409, 'NO_MODEL');
});

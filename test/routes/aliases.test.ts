// Model names and aliases through the HTTP API (docs/decisions/0030-model-aliases.md): the default
// never switches silently, a promoted job moves it when it succeeds and only then, an alias stands
// for a model id wherever a request names a model and the reply names the id, a model an alias
// points to cannot be deleted, and hostile alias names are refused.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { createDataset, expectError, makeTriplets, testApp, waitForJob } from '../helpers.js';

const train = async (app: App, payload: Record<string, unknown>) => {
  const r = await app.inject({ method: 'POST', url: '/train', payload });
  if (r.statusCode !== 202) throw new Error(`train: ${r.body}`);
  return r.json();
};
const put = (app: App, name: string, payload: unknown) =>
  app.inject({ method: 'PUT', url: `/aliases/${name}`, payload: payload as Record<string, unknown> });
const getAlias = async (app: App, name: string) => (await app.inject({ url: `/aliases/${name}` })).json();
const embed = (app: App, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/embed', payload });
const importModel = async (app: App, W: number[][], name?: string) =>
  (await app.inject({ method: 'POST', url: '/models', payload: { W, ...(name ? { name } : {}) } })).json().id as string;

t.test('no silent switch: the first model sets default, later ones move it only when promoted', async (t) => {
  const app = await testApp(t);
  const ds1 = await createDataset(app, 4, makeTriplets(30, 4, 1));
  expectError(t, await app.inject({ url: '/aliases/default' }), 404, 'ALIAS_NOT_FOUND');
  expectError(t, await embed(app, { inputs: [[1, 2, 3, 4]] }), 409, 'NO_MODEL');

  const j1 = await train(app, { datasetId: ds1, outputDimension: 2, maxIterations: 20, modelName: 'faces v1' });
  t.match(j1, { modelName: 'faces v1', promote: false });
  const done1 = await waitForJob(app, j1.id);
  t.equal(done1.status, 'succeeded');
  const first = done1.modelId as string;
  t.match(await getAlias(app, 'default'), { name: 'default', model: first, previousModel: null });
  t.equal((await app.inject({ url: `/models/${first}` })).json().name, 'faces v1', 'the model has its name');

  // An unrelated experiment on another dataset, another dimension: the default stays.
  const ds2 = await createDataset(app, 4, makeTriplets(30, 4, 9));
  const done2 = await waitForJob(app, (await train(app, { datasetId: ds2, outputDimension: 3, maxIterations: 20 })).id);
  t.equal(done2.status, 'succeeded');
  const e = await embed(app, { inputs: [[1, 2, 3, 4]] });
  t.equal(e.json().model, first, '/embed without model still uses the first model');
  t.equal(e.json().dimension, 2);
  const d = await app.inject({ method: 'POST', url: '/distances', payload: { a: [[1, 2, 3, 4]], b: [[0, 1, 0, 1]] } });
  t.equal(d.json().model, first, '/distances too');
  t.equal((await getAlias(app, 'default')).model, first);

  // Promoted: default moves when the job succeeds.
  const j3 = await train(app, { datasetId: ds2, outputDimension: 3, maxIterations: 20, promote: true });
  t.match(j3, { promote: true, modelName: null });
  const done3 = await waitForJob(app, j3.id);
  t.equal(done3.status, 'succeeded');
  t.match(await getAlias(app, 'default'), { model: done3.modelId, previousModel: first });
  t.equal((await embed(app, { inputs: [[1, 2, 3, 4]] })).json().model, done3.modelId, 'and serves from then on');
});

t.test('a promoted job that fails or is cancelled moves nothing', async (t) => {
  // 16 MiB of heap cannot even load the worker's code: every job fails (OUT_OF_MEMORY).
  const app = await testApp(t, { config: { jobHeapLimitMb: 16 } });
  const m = await importModel(app, [[1, 0, 0, 0]]);
  t.equal((await getAlias(app, 'default')).model, m, 'an imported first model sets default too');
  const ds = await createDataset(app, 4, makeTriplets(20, 4));
  const failed = await waitForJob(app, (await train(app, { datasetId: ds, outputDimension: 2, promote: true })).id);
  t.equal(failed.status, 'failed');
  t.equal((await getAlias(app, 'default')).model, m, 'a failed job moved nothing');

  const queued = await testApp(t, { build: { runJobs: false } });
  const q = await importModel(queued, [[1, 0, 0, 0]]);
  const qds = await createDataset(queued, 4, makeTriplets(20, 4));
  const job = await train(queued, { datasetId: qds, outputDimension: 2, promote: true });
  t.equal((await queued.inject({ method: 'POST', url: `/jobs/${job.id}/cancel` })).json().status, 'cancelled');
  t.match(await getAlias(queued, 'default'), { model: q, previousModel: null }, 'a cancelled job moved nothing');
});

t.test('aliases: set, move, list, get, delete; resolution wherever a model is named', async (t) => {
  const app = await testApp(t);
  const a = await importModel(app, [
    [1, 0],
    [0, 1],
  ]);
  const b = await importModel(app, [[2, 0]], 'b');

  const set = await put(app, 'faces-v1.2_x', { model: b });
  t.equal(set.statusCode, 200);
  t.match(set.json(), { name: 'faces-v1.2_x', model: b, previousModel: null });
  t.type(set.json().updatedAt, 'string');
  const viaAlias = await put(app, 'copy', { model: 'faces-v1.2_x' });
  t.match(viaAlias.json(), { name: 'copy', model: b }, 'an alias given as the model stores its model id');
  t.match((await put(app, 'copy', { model: a })).json(), { model: a, previousModel: b }, 'moved');

  // /embed, /distances, binary /embed, evaluate, GET /models/:id and its weights by alias
  const e = (await embed(app, { model: 'faces-v1.2_x', inputs: [[1, 2]] })).json();
  t.same(e, { model: b, dimension: 1, embeddings: [[2]] }, '/embed names the resolved id');
  const q = await app.inject({ method: 'POST', url: '/embed?model=copy', payload: { inputs: [[1, 2]] } });
  t.equal(q.json().model, a, '?model= takes an alias');
  const bin = await app.inject({
    method: 'POST',
    url: '/embed?model=faces-v1.2_x',
    headers: { 'content-type': 'application/octet-stream', accept: 'application/octet-stream' },
    payload: Buffer.from(new Float32Array([1, 2]).buffer),
  });
  t.equal(bin.statusCode, 200);
  t.equal(bin.headers['x-model-id'], b, 'binary replies name the id in X-Model-Id');
  const dist = await app.inject({
    method: 'POST',
    url: '/distances',
    payload: { model: 'copy', a: [[0, 0]], b: [[3, 4]] },
  });
  t.same(dist.json(), { model: a, metric: 'euclidean', distances: [[5]] });
  t.equal((await app.inject({ url: '/models/faces-v1.2_x' })).json().id, b);
  t.same((await app.inject({ url: '/models/copy/weights' })).json().W, [
    [1, 0],
    [0, 1],
  ]);
  const ds = await createDataset(app, 2, [{ anchor: [1, 0], positive: [1, 0.1], negative: [0, 1] }]);
  const ev = await app.inject({ method: 'POST', url: '/models/copy/evaluate', payload: { datasetId: ds } });
  t.equal(ev.statusCode, 200);
  t.equal(ev.json().model, a, 'evaluate names the resolved id');
  t.equal(ev.json().tripletAccuracy, 1);
  const evById = await app.inject({ method: 'POST', url: `/models/${a}/evaluate`, payload: { datasetId: ds } });
  t.equal(evById.json().model, a, 'and the id when named by id');
  expectError(t, await embed(app, { model: 'nope', inputs: [[1, 2]] }), 404, 'MODEL_NOT_FOUND');
  expectError(t, await app.inject({ url: '/models/nope' }), 404, 'MODEL_NOT_FOUND');

  // lists, paged
  const p1 = (await app.inject({ url: '/aliases?limit=2' })).json();
  t.same(
    p1.items.map((x: { name: string }) => x.name),
    ['copy', 'faces-v1.2_x'],
  );
  const p2 = (await app.inject({ url: `/aliases?limit=2&cursor=${p1.nextCursor}` })).json();
  t.same(
    p2.items.map((x: { name: string }) => x.name),
    ['default'],
  );
  t.equal(p2.nextCursor, null);

  // deletion: an aliased model is kept; an alias is deleted once
  const refused = await app.inject({ method: 'DELETE', url: `/models/${b}` });
  expectError(t, refused, 409, 'MODEL_IN_USE');
  t.match(refused.json().message, '"faces-v1.2_x"');
  t.equal((await app.inject({ url: `/models/${b}` })).statusCode, 200, 'still there');
  t.equal((await app.inject({ method: 'DELETE', url: '/aliases/faces-v1.2_x' })).statusCode, 204);
  expectError(t, await app.inject({ method: 'DELETE', url: '/aliases/faces-v1.2_x' }), 404, 'ALIAS_NOT_FOUND');
  expectError(t, await app.inject({ url: '/aliases/faces-v1.2_x' }), 404, 'ALIAS_NOT_FOUND');
  expectError(t, await embed(app, { model: 'faces-v1.2_x', inputs: [[1, 2]] }), 404, 'MODEL_NOT_FOUND');
  t.equal((await app.inject({ method: 'DELETE', url: `/models/${b}` })).statusCode, 204, 'deleted once free');

  // an alias cannot point to a deleted or unknown model
  expectError(t, await put(app, 'late', { model: b }), 404, 'MODEL_NOT_FOUND');
  expectError(t, await put(app, 'late', { model: 'mdl_nope' }), 404, 'MODEL_NOT_FOUND');
  expectError(t, await put(app, 'late', { model: 'no-such-alias' }), 404, 'MODEL_NOT_FOUND');
  expectError(t, await app.inject({ url: '/aliases/late' }), 404, 'ALIAS_NOT_FOUND');

  // no default: 409 NO_MODEL, named models still serve
  t.equal((await app.inject({ method: 'DELETE', url: '/aliases/default' })).statusCode, 204);
  const none = await embed(app, { inputs: [[1, 2]] });
  expectError(t, none, 409, 'NO_MODEL');
  t.match(none.json().message, 'PUT /aliases/default');
  expectError(t, await app.inject({ method: 'POST', url: '/distances', payload: { a: [[1, 2]] } }), 409, 'NO_MODEL');
  t.equal((await embed(app, { model: 'copy', inputs: [[1, 2]] })).statusCode, 200);
  t.equal((await put(app, 'default', { model: 'copy' })).json().model, a);
  t.equal((await embed(app, { inputs: [[1, 2]] })).json().model, a, 'default again');
});

t.test('PATCH /models/:id renames', async (t) => {
  const app = await testApp(t);
  const m = await importModel(app, [[1, 1]], 'before');
  const r = await app.inject({ method: 'PATCH', url: `/models/${m}`, payload: { name: 'after' } });
  t.equal(r.statusCode, 200);
  t.match(r.json(), { id: m, name: 'after' });
  t.equal((await app.inject({ url: `/models/${m}` })).json().name, 'after');
  t.equal((await app.inject({ method: 'PATCH', url: `/models/${m}`, payload: { name: null } })).json().name, null);
  t.equal((await embed(app, { model: m, inputs: [[1, 2]] })).json().embeddings[0][0], 3, 'still serves');
  expectError(
    t,
    await app.inject({ method: 'PATCH', url: '/models/mdl_nope', payload: { name: 'x' } }),
    404,
    'MODEL_NOT_FOUND',
  );
  for (const payload of [{}, { name: 'x'.repeat(201) }, { name: 3 }, { name: 'x', W: [[1]] }]) {
    expectError(t, await app.inject({ method: 'PATCH', url: `/models/${m}`, payload }), 400, 'VALIDATION_ERROR');
  }
  expectError(
    t,
    await app.inject({
      method: 'POST',
      url: '/train',
      payload: { triplets: makeTriplets(3, 2), outputDimension: 1, modelName: 'y'.repeat(201) },
    }),
    400,
    'VALIDATION_ERROR',
  );
  expectError(
    t,
    await app.inject({
      method: 'POST',
      url: '/train',
      payload: { triplets: makeTriplets(3, 2), outputDimension: 1, promote: 'yes' },
    }),
    400,
    'VALIDATION_ERROR',
  );
  t.equal((await app.inject({ url: '/jobs' })).json().items.length, 0, 'no job was queued');
});

t.test('hostile alias names answer 400 and change nothing', async (t) => {
  const app = await testApp(t);
  const m = await importModel(app, [[1, 1]]);
  const bad = [
    'mdl_lookalike',
    '-leading-hyphen',
    '.hidden',
    '_x',
    'a'.repeat(65),
    'sp%20ace',
    '..%2F..%2Fmodels',
    'caf%C3%A9',
    'a%2Fb',
    'semi%3Bcolon',
    '%F0%9F%98%80',
  ];
  for (const name of bad) {
    expectError(t, await put(app, name, { model: m }), 400, 'VALIDATION_ERROR');
    expectError(t, await app.inject({ url: `/aliases/${name}` }), 400, 'VALIDATION_ERROR');
    expectError(t, await app.inject({ method: 'DELETE', url: `/aliases/${name}` }), 400, 'VALIDATION_ERROR');
  }
  // a NUL is refused before the pattern is checked, as on every route (src/http/nul.ts)
  expectError(t, await put(app, 'nul%00', { model: m }), 400, 'INVALID_REQUEST');
  expectError(t, await app.inject({ url: '/aliases/nul%00' }), 400, 'INVALID_REQUEST');
  expectError(t, await app.inject({ method: 'DELETE', url: '/aliases/nul%00' }), 400, 'INVALID_REQUEST');
  t.equal((await put(app, 'a'.repeat(64), { model: m })).statusCode, 200, '64 characters is the longest');
  for (const payload of [{}, { model: '' }, { model: 7 }, { model: m, extra: 1 }, { model: 'x'.repeat(129) }]) {
    expectError(t, await put(app, 'ok', payload), 400, 'VALIDATION_ERROR');
  }
  const names = (await app.inject({ url: '/aliases' })).json().items.map((x: { name: string }) => x.name);
  t.same(names, ['a'.repeat(64), 'default'], 'nothing else was stored');
});

t.test('every alias change is one log line with where it pointed before and after', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const stream = { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
  const app = await testApp(t, { build: { logger: { level: 'info', stream } } });
  const changes = () => lines.filter((l) => 'alias' in l).map(({ alias, from, to }) => ({ alias, from, to }));
  const a = await importModel(app, [[1, 1]]);
  const b = await importModel(app, [[2, 2]]);
  await put(app, 'default', { model: b });
  await put(app, 'default', { model: b }); // no move, no line
  await app.inject({ method: 'DELETE', url: '/aliases/default' });
  t.same(changes(), [
    { alias: 'default', from: null, to: a },
    { alias: 'default', from: a, to: b },
    { alias: 'default', from: b, to: null },
  ]);
});

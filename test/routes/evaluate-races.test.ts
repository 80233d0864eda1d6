// An evaluation racing the deletion of its dataset or its model answers 200 (it read them first) or
// 404 naming what is gone, never 500; every read route still answers afterwards.
import t, { type Test } from 'tap';
import type { App } from '../../src/app-types.js';
import { createDataset, makeTriplets, testApp } from '../helpers.js';

const d = 16;
const W = Array.from({ length: 4 }, (_, i) => Array.from({ length: d }, (_, j) => ((i * 5 + j * 3) % 7) / 7 - 0.4));
const evaluate = (app: App, model: string, datasetId: string) =>
  app.inject({ method: 'POST', url: `/models/${model}/evaluate`, payload: { datasetId } });

function expectClean(t: Test, r: { statusCode: number; json: () => any }, codes: string[], what: string) {
  if (r.statusCode === 200) return t.pass(`${what}: 200`);
  t.equal(r.statusCode, 404, `${what}: ${r.statusCode}`);
  t.ok(codes.includes(r.json().code), `${what}: ${r.json().code}`);
}

t.test('evaluation racing a dataset delete or a model delete: 200 or 404, never 500', async (t) => {
  const app = await testApp(t);
  // The first model takes the alias `default` (which keeps it): the rounds delete later ones.
  await app.inject({ method: 'POST', url: '/models', payload: { W } });
  const triplets = makeTriplets(3000, d);
  for (let round = 0; round < 6; round++) {
    const model = (await app.inject({ method: 'POST', url: '/models', payload: { W } })).json().id as string;
    const ds = await createDataset(app, d, triplets);
    // Each delete is let go at a different point of the evaluation: before, during, after its reads.
    const later = (ms: number, f: () => Promise<unknown>) => new Promise((r) => setTimeout(r, ms)).then(f);
    const [evalDs, delDs] = await Promise.all([
      evaluate(app, model, ds),
      later(round * 3, () => app.inject({ method: 'DELETE', url: `/datasets/${ds}` })),
    ]);
    expectClean(t, evalDs, ['DATASET_NOT_FOUND'], `round ${round}, dataset deleted`);
    t.equal((delDs as { statusCode: number }).statusCode, 204, 'the dataset delete succeeds');

    const ds2 = await createDataset(app, d, triplets);
    const [evalModel, delModel] = await Promise.all([
      evaluate(app, model, ds2),
      later(round * 3, () => app.inject({ method: 'DELETE', url: `/models/${model}` })),
    ]);
    expectClean(t, evalModel, ['MODEL_NOT_FOUND'], `round ${round}, model deleted`);
    t.equal((delModel as { statusCode: number }).statusCode, 204, 'the model delete succeeds');
  }
  for (const url of ['/datasets', '/models', '/jobs', '/healthz', '/readyz']) {
    t.equal((await app.inject({ url })).statusCode, 200, `${url} answers`);
  }
});

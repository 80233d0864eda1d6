// ROLE: an `api` replica serves and queues but never trains; a `worker` replica trains what the
// others queue and answers only health and metrics. Two apps on one data folder stand for two
// replicas on one database.
import t from 'tap';
import { makeTriplets, tempDir, testApp } from '../helpers.js';

t.test('an api replica queues, a worker replica on the same store trains', async (t) => {
  const dataDir = tempDir(t);
  const api = await testApp(t, { dataDir, config: { role: 'api' } });
  const ds = (await api.inject({ method: 'POST', url: '/datasets', payload: { dimension: 3 } })).json();
  const up = await api.inject({
    method: 'POST',
    url: `/datasets/${ds.id}/triplets`,
    payload: { triplets: makeTriplets(20, 3) },
  });
  t.equal(up.statusCode, 201);
  const job = (
    await api.inject({ method: 'POST', url: '/train', payload: { datasetId: ds.id, outputDimension: 2 } })
  ).json();
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await api.inject({ url: `/jobs/${job.id}` })).json().status, 'queued', 'the api replica does not train');

  const worker = await testApp(t, { dataDir, config: { role: 'worker' } });
  let status = 'queued';
  for (let i = 0; i < 300 && status !== 'succeeded' && status !== 'failed'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await api.inject({ url: `/jobs/${job.id}` })).json().status;
  }
  t.equal(status, 'succeeded', 'the worker replica trained the job the api replica queued');
  const embed = await api.inject({ method: 'POST', url: '/embed', payload: { inputs: [[1, 2, 3]] } });
  t.equal(embed.statusCode, 200, 'the api replica serves the model the worker stored');

  // the alias `default` moved through the other replica is the api replica's within a second
  // (it cached the alias as it served; each process hears only its own writes on a shared file)
  const other = await worker.services.models.import({ W: [[1, 0, 0]] });
  t.equal(embed.json().model, (await api.inject({ url: '/aliases/default' })).json().model, 'the first model');
  await worker.services.aliases.set('default', other.id);
  await new Promise((r) => setTimeout(r, 1100));
  const next = await api.inject({ method: 'POST', url: '/embed', payload: { inputs: [[1, 2, 3]] } });
  t.equal(next.json().model, other.id, 'the alias is looked up again on a shared store');

  for (const url of ['/datasets', `/jobs/${job.id}`, '/models']) {
    const r = await worker.inject({ url });
    t.equal(r.statusCode, 404, `${url}: a worker replica serves no API`);
    t.equal(r.json().code, 'ROUTE_NOT_FOUND');
  }
  t.equal((await worker.inject({ url: '/healthz' })).statusCode, 200);
  t.equal((await worker.inject({ url: '/readyz' })).statusCode, 200);
  t.equal((await worker.inject({ url: '/metrics' })).statusCode, 200);
});

t.test('ROLE is checked at start-up', async (t) => {
  const { loadConfig } = await import('../../src/config.js');
  t.equal(loadConfig({}).role, 'all');
  t.equal(loadConfig({ ROLE: 'Worker' }).role, 'worker');
  t.throws(() => loadConfig({ ROLE: 'trainer' }), /ROLE must be all, api or worker/);
});

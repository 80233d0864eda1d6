// The thresholds of POST /models/:id/evaluate are in the metric a gallery search of that model uses
// by default (src/services/model-metric.ts): a model trained with `distance: squared` searches in
// squared_euclidean, so its thresholds are squared too, and one read off an evaluation passes as a
// search's maxDistance as it is. The same W imported (no training distance) is the euclidean twin.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { testApp, waitForJob } from '../helpers.js';
import { evaluate, upload } from './verification-route.js';

function clusters(): { X: number[][]; labels: number[] } {
  const X: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < 96; i++) {
    const c = i % 8;
    X.push([c + Math.sin(i * 1.3), (c % 3) + Math.cos(i * 0.7), Math.sin(i * 2.9) * 0.5, (c % 2) * 2 + 0.1 * i]);
    labels.push(c);
  }
  return { X, labels };
}

async function twins(app: App, datasetId: string): Promise<{ squared: string; euclidean: string }> {
  const r = await app.inject({
    method: 'POST',
    url: '/train',
    payload: { datasetId, outputDimension: 3, maxIterations: 40, seed: 2, distance: 'squared', validationFraction: 0 },
  });
  if (r.statusCode !== 202) throw new Error(r.body);
  const job = await waitForJob(app, r.json().id);
  const w = (await app.inject({ url: `/models/${job.modelId}/weights` })).json();
  const imported = await app.inject({ method: 'POST', url: '/models', payload: { W: w.W, normalize: w.normalize } });
  if (imported.statusCode !== 201) throw new Error(imported.body);
  return { squared: job.modelId as string, euclidean: imported.json().id as string };
}

const body = { verification: { fars: [0.05, 0.2] }, identification: { fars: [0.1, 0.5] } };
const square = (x: number | null) => (x === null ? null : x * x);

t.test('a squared-distance model: thresholds squared, the rates unchanged', async (t) => {
  const app = await testApp(t);
  const { X, labels } = clusters();
  const ds = await upload(app, X, labels);
  const m = await twins(app, ds);
  const sq = (await evaluate(app, m.squared, { datasetId: ds, ...body })).json();
  const eu = (await evaluate(app, m.euclidean, { datasetId: ds, ...body })).json();
  t.equal(sq.verification.distance, 'squared_euclidean');
  t.equal(eu.verification.distance, 'euclidean');
  t.ok(
    eu.verification.tarAtFar.some((p: { threshold: number | null }) => p.threshold !== null && p.threshold > 1e-3),
    'the data give thresholds to compare',
  );
  sq.verification.tarAtFar.forEach((p: { tar: number; threshold: number | null }, i: number) => {
    const e = eu.verification.tarAtFar[i];
    t.equal(p.tar, e.tar, `FAR ${e.far}: the same TAR`);
    t.ok(Math.abs((p.threshold ?? 0) - (square(e.threshold) ?? 0)) <= 1e-12 * Math.max(1, p.threshold ?? 0), 'squared');
  });
  t.equal(sq.verification.eer, eu.verification.eer);
  t.equal(sq.verification.auc, eu.verification.auc);
  t.ok(Math.abs(sq.verification.eerThreshold - square(eu.verification.eerThreshold)!) < 1e-12);
  sq.identification.openSet.forEach((p: { dir: number | null; threshold: number | null }, i: number) => {
    const e = eu.identification.openSet[i];
    t.equal(p.dir, e.dir);
    t.ok(Math.abs((p.threshold ?? 0) - (square(e.threshold) ?? 0)) <= 1e-12 * Math.max(1, p.threshold ?? 0));
  });

  // With a gallery: its evaluation's thresholds and its search default speak the same metric.
  const g = (await app.inject({ method: 'POST', url: '/galleries', payload: { model: m.squared } })).json().id;
  const items = X.slice(0, 48).map((input, i) => ({ id: `i${i}`, label: labels[i], input }));
  t.equal((await app.inject({ method: 'POST', url: `/galleries/${g}/items`, payload: { items } })).statusCode, 201);
  const probes = await upload(app, X.slice(48), labels.slice(48));
  const ge = (await evaluate(app, m.squared, { datasetId: probes, galleryId: g, ...body })).json();
  t.equal(ge.verification.distance, 'squared_euclidean');
  const threshold = ge.verification.tarAtFar.at(-1).threshold as number;
  const s = await app.inject({
    method: 'POST',
    url: `/galleries/${g}/search`,
    payload: { inputs: X.slice(48, 60), k: 48, maxDistance: threshold },
  });
  t.equal(s.statusCode, 200, s.body);
  const reply = s.json();
  t.equal(reply.metric, 'squared_euclidean', 'the search default is the same metric');
  const hits = reply.results.flat() as { distance: number }[];
  t.ok(hits.length > 0, 'the threshold accepts some items');
  t.ok(
    hits.every((h) => h.distance <= threshold),
    'every hit within it',
  );
});

// Progress points through the runner's write throttle: every phase change is stored (a
// `validating` point followed at once by a `training` one is not coalesced away), and every point
// carries etaMs (a number, or null when it cannot be estimated or nothing is left).
import t from 'tap';
import { createDataset, testApp, waitForJob } from '../helpers.js';

t.test('each validation of a mined job leaves a `validating` point; etaMs always present', async (t) => {
  const app = await testApp(t);
  const ds = await createDataset(app, 8);
  const samples = Array.from({ length: 240 }, (_, i) => ({
    vector: Array.from({ length: 8 }, (_, j) => Math.sin(i * 5 + j * 3) + (i % 6 === j ? 2 : 0)),
    label: i % 6,
  }));
  const up = await app.inject({ method: 'POST', url: `/datasets/${ds}/samples`, payload: { samples } });
  t.equal(up.statusCode, 201, 'uploaded');
  // an evaluation every 20 steps (each takes well under the 500 ms write interval), no early stop
  const payload = {
    datasetId: ds,
    outputDimension: 4,
    maxIterations: 200,
    evaluationInterval: 20,
    patience: 0,
    validationFraction: 0.34,
  };
  const job = (await app.inject({ method: 'POST', url: '/train', payload })).json();
  const done = await waitForJob(app, job.id);
  t.equal(done.status, 'succeeded', 'trained');
  const r = await app.inject({ url: `/jobs/${job.id}/events?format=json&limit=1000` });
  t.equal(r.statusCode, 200, 'the history');
  const points = r.json().items.map((e: any) => e.progress);
  const validating = points.filter((p: any) => p.phase === 'validating');
  t.same(
    validating.map((p: any) => p.iteration),
    [20, 40, 60, 80, 100, 120, 140, 160, 180, 200],
    'one `validating` point per evaluation, none coalesced into the `training` point after it',
  );
  for (let i = 1; i < points.length; i++) {
    if (points[i - 1].phase === 'validating') t.equal(points[i].phase, 'training', 'training resumes after it');
  }
  t.ok(
    points.every((p: any) => p.etaMs === null || (typeof p.etaMs === 'number' && p.etaMs >= 0)),
    'every point has etaMs, a number or null',
  );
  t.equal(points[0].phase, 'loading');
  t.equal(points[0].etaMs, null, 'loading: nothing to estimate yet');
  t.equal(points.at(-1).phase, 'saving');
  t.equal(points.at(-1).etaMs, null, 'saving: nothing left');
  const job2 = (await app.inject({ url: `/jobs/${job.id}` })).json();
  t.ok('etaMs' in job2.progress, 'the job record shows etaMs too');
});

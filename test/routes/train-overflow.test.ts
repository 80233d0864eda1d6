// A training job whose start map takes the triplets past float32 (features of 1e30 with the
// identity start) must fail and say why, not succeed with `stopReason: zero_loss`: the hinge took
// the NaN brackets of overflowed distances for inactive triplets and reported a loss of 0.
import t from 'tap';
import { createRng } from '../../src/math/rng.js';
import { testApp, waitForJob } from '../helpers.js';

t.test('identity start on features of 1e30: NON_FINITE_TRAINING, not a zero loss', async (t) => {
  const app = await testApp(t);
  const rng = createRng(9);
  const row = () => Array.from({ length: 6 }, () => rng.normal() * 1e30);
  const triplets = Array.from({ length: 40 }, () => {
    const anchor = row();
    return { anchor, positive: anchor.map((v) => v + rng.normal() * 5e29), negative: row() };
  });
  const ds = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 6 } })).json().id;
  const up = await app.inject({ method: 'POST', url: `/datasets/${ds}/triplets`, payload: { triplets } });
  t.equal(up.statusCode, 201, up.body);
  const r = await app.inject({
    method: 'POST',
    url: '/train',
    payload: { datasetId: ds, outputDimension: 3, init: 'identity', seed: 3 },
  });
  t.equal(r.statusCode, 202, r.body);
  const job = await waitForJob(app, r.json().id);
  t.equal(job.status, 'failed', `status ${job.status}, stopReason ${job.metrics?.stopReason}`);
  t.equal(job.error?.code, 'NON_FINITE_TRAINING');
  t.match(job.error?.message, /rescale/);
});

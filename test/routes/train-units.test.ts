// The same triplets in other units train the same way: the loss is dimensionless and the PCA start
// is rescaled to the data, but the full-batch optimisers' constants (first step ≤ 1, gradient
// tolerance 1e-8, the line search's 1e-14) were absolute in W's units, which are the inverse of the
// features'. At 1e-5 or 1e5 a job stopped at its start map after at most a few steps, at 1e±10
// and beyond at iteration 0 (gradient_tolerance or line_search_failed), and still succeeded.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { createRng } from '../../src/math/rng.js';
import { testApp, waitForJob } from '../helpers.js';

const d = 6;

/** 40 triplets whose positives lie near their anchors; separable by a 3-d map. */
function triplets(scale: number) {
  const rng = createRng(1);
  const row = () => Array.from({ length: d }, () => rng.normal());
  return Array.from({ length: 40 }, () => {
    const anchor = row();
    const positive = anchor.map((v) => v + 0.5 * rng.normal());
    const negative = row();
    return { anchor, positive, negative };
  }).map(({ anchor, positive, negative }) => ({
    anchor: anchor.map((v) => v * scale),
    positive: positive.map((v) => v * scale),
    negative: negative.map((v) => v * scale),
  }));
}

async function trainAt(app: App, scale: number, optimizer: string, preconditioner: string) {
  const ds = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: d } })).json().id;
  const up = await app.inject({
    method: 'POST',
    url: `/datasets/${ds}/triplets`,
    payload: { triplets: triplets(scale) },
  });
  if (up.statusCode !== 201) throw new Error(up.body);
  const r = await app.inject({
    method: 'POST',
    url: '/train',
    payload: { datasetId: ds, outputDimension: 3, seed: 3, optimizer, preconditioner },
  });
  if (r.statusCode !== 202) throw new Error(r.body);
  return waitForJob(app, r.json().id);
}

for (const [optimizer, preconditioner] of [
  ['lbfgs', 'whiten'],
  ['lbfgs', 'none'],
  ['cg', 'whiten'],
]) {
  t.test(`${optimizer}, ${preconditioner}: features from 1e-30 to 1e30 train to the same end`, async (t) => {
    const app = await testApp(t);
    const base = await trainAt(app, 1, optimizer, preconditioner);
    t.equal(base.metrics.stopReason, 'zero_loss', 'in the features’ own units: every triplet settled');
    for (const scale of [1e-30, 1e-10, 1e-5, 1e5, 1e10, 1e30]) {
      const job = await trainAt(app, scale, optimizer, preconditioner);
      const m = job.metrics;
      t.equal(job.status, 'succeeded');
      t.same(
        { stopReason: m.stopReason, trainLoss: m.trainLoss },
        { stopReason: 'zero_loss', trainLoss: 0 },
        `×${scale}: ${m.stopReason} after ${m.iterations} iterations, loss ${m.trainLoss}`,
      );
    }
  });
}

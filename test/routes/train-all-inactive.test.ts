// Triplet sets whose negatives are far beyond their positives while the anchors sit close together
// in the start map's units: their warnings do not call that a collapse. The collapse gauge read the
// anchors' spread alone; collapse (every bracket ≈ margin) is about the triplets' own distances.
import t, { type Test } from 'tap';
import { createRng } from '../../src/math/rng.js';
import { testApp, waitForJob } from '../helpers.js';

/** 20 triplets in 4-d, each negative 1000 past its anchor; the first `close` negatives nearer than the positive. */
function farNegatives(close: number) {
  const rng = createRng(5);
  return Array.from({ length: 20 }, (_, i) => {
    const anchor = Array.from({ length: 4 }, () => rng.normal());
    const negative = anchor.map((v) => v + (i < close ? 0.0005 : 1000));
    return { anchor, positive: anchor.map((v) => v + 0.001), negative };
  });
}

async function trainOn(t: Test, triplets: ReturnType<typeof farNegatives>) {
  const app = await testApp(t);
  const r = await app.inject({ method: 'POST', url: '/train', payload: { triplets, outputDimension: 2 } });
  t.equal(r.statusCode, 202, r.body);
  const job = await waitForJob(app, r.json().id);
  t.equal(job.status, 'succeeded');
  const W = (await app.inject({ url: `/models/${job.modelId}/weights` })).json().W as number[][];
  t.ok(W.flat().every(Number.isFinite), 'W is finite');
  return job.metrics as { warnings: string[]; stopReason: string; activeFraction: number };
}

t.test('every triplet inactive: zero_loss, a finite W, no collapse warning', async (t) => {
  const metrics = await trainOn(t, farNegatives(0));
  t.match(metrics, { stopReason: 'zero_loss', trainLoss: 0, activeFraction: 0 });
  t.same(
    metrics.warnings.filter((w) => w.startsWith('collapse')),
    [],
    'no collapse warning beside a zero loss',
  );
});

t.test('one triplet no map satisfies among far ones: no collapse warning', async (t) => {
  // its negative lies on the segment from the anchor to the positive: active under every W
  const metrics = await trainOn(t, farNegatives(1));
  t.equal(metrics.activeFraction, 0.05, 'that one triplet stays active');
  t.same(
    metrics.warnings.filter((w) => w.startsWith('collapse')),
    [],
    '19 negatives a margin and more past their positives are not a collapse',
  );
});

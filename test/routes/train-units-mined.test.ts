// Mined training (labelled samples, Adam) on the same samples in other units trains the same model:
// the loss is dimensionless, the PCA start and the `auto` learning rate follow the data, but Adam's
// ε (1e-8, added to the RMS of ∇W, which is about the features' unit) did not. With features of
// 1e-10 it outweighed the gradient, every step shrank, and the model stayed near its start:
// held-out MAP@R 0.24 for 0.54. Now Adam moves σ·W (src/math/training/scale.ts): samples whose RMS
// difference lies beyond 2^±8 train as they would at the nearer end, bit for bit up to σ.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { createRng } from '../../src/math/rng.js';
import { testApp, waitForJob } from '../helpers.js';

const d = 8;
const LABELS = 12;

/** Labels apart along 3 of the 8 features; the other 5 are louder noise. Centres fixed, samples by `seed`. */
function samples(seed: number, per: number, unit: number) {
  const c = createRng(1);
  const centres = Array.from({ length: LABELS }, () => Array.from({ length: 3 }, () => 2 * c.normal()));
  const rng = createRng(seed);
  return Array.from({ length: LABELS * per }, (_, i) => {
    const y = i % LABELS;
    const vector = Array.from({ length: d }, (_, j) =>
      j < 3 ? centres[y][j] + 0.5 * rng.normal() : 1.5 * rng.normal(),
    );
    return { label: `id-${y}`, vector: vector.map((v) => v * unit) };
  });
}

async function dataset(app: App, rows: ReturnType<typeof samples>): Promise<string> {
  const ds = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: d } })).json().id;
  const up = await app.inject({ method: 'POST', url: `/datasets/${ds}/samples`, payload: { samples: rows } });
  if (up.statusCode !== 201) throw new Error(up.body);
  return ds;
}

/** Trains on 12×12 samples in `unit` with the defaults (300 steps); W and the held-out figures. */
async function trainAt(app: App, unit: number) {
  const train = await dataset(app, samples(2, 12, unit));
  const r = await app.inject({
    method: 'POST',
    url: '/train',
    payload: { datasetId: train, outputDimension: 3, maxIterations: 300 },
  });
  if (r.statusCode !== 202) throw new Error(r.body);
  const job = await waitForJob(app, r.json().id);
  if (job.status !== 'succeeded') throw new Error(JSON.stringify(job));
  const heldOut = await dataset(app, samples(3, 12, unit));
  const ev = await app.inject({
    method: 'POST',
    url: `/models/${job.modelId}/evaluate`,
    payload: { datasetId: heldOut },
  });
  const { precisionAt1, mapAtR } = ev.json() as { precisionAt1: number; mapAtR: number };
  const W = (await app.inject({ url: `/models/${job.modelId}/weights` })).json().W as number[][];
  return { W: W.flat(), precisionAt1, mapAtR };
}

t.test('samples from 1e-13 to 1e13: the held-out figures of their own units', async (t) => {
  const app = await testApp(t);
  const base = await trainAt(app, 1);
  t.ok(base.mapAtR > 0.5, `in their own units the samples train: held-out MAP@R ${base.mapAtR}`);
  const runs = new Map<number, Awaited<ReturnType<typeof trainAt>>>();
  for (const unit of [2 ** -44, 2 ** -36, 1e-10, 1e10, 2 ** 36, 2 ** 44]) {
    const got = await trainAt(app, unit);
    runs.set(unit, got);
    t.ok(
      Math.abs(got.precisionAt1 - base.precisionAt1) <= 0.01 && Math.abs(got.mapAtR - base.mapAtR) <= 0.01,
      `×${unit}: precision@1 ${got.precisionAt1}, MAP@R ${got.mapAtR} (own units: ${base.precisionAt1}, ${base.mapAtR})`,
    );
  }
  // beyond the band a power of two changes no rounding: the model is the same, times the factor
  for (const [a, b] of [
    [-44, -36],
    [44, 36],
  ]) {
    t.same(
      runs.get(2 ** a)!.W,
      runs.get(2 ** b)!.W.map((w) => w * 2 ** (b - a)),
      `W at ×2^${a} is W at ×2^${b} times 2^${b - a}, bit for bit`,
    );
  }
});

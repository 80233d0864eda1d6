// A threshold read off POST /models/:id/evaluate, passed as a search's maxDistance, accepts exactly
// the pairs the evaluation counted at it: every sample enrolled in a gallery of the model and
// searched with that bound finds TAR·G genuine pairs and at most FAR·N impostors. For a model trained
// with `distance: squared` the search measures squared distances; a threshold computed as a
// euclidean distance and then squared, (√s)², can land an ulp below the pair's own s and lose it.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { testApp, waitForJob } from '../helpers.js';
import { evaluate, upload } from './verification-route.js';

function clusters(n: number): { X: number[][]; labels: number[] } {
  const X: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    X.push([c + Math.sin(i * 1.3), (c % 3) + Math.cos(i * 0.7), Math.sin(i * 2.9) * 0.5, (c % 2) * 2 + 0.01 * i]);
    labels.push(c);
  }
  return { X, labels };
}

async function trained(app: App, datasetId: string, distance: string): Promise<string> {
  const payload = { datasetId, outputDimension: 3, maxIterations: 60, seed: 3, distance, validationFraction: 0 };
  const r = await app.inject({ method: 'POST', url: '/train', payload });
  if (r.statusCode !== 202) throw new Error(r.body);
  const job = await waitForJob(app, r.json().id);
  if (job.status !== 'succeeded') throw new Error(JSON.stringify(job.error));
  return job.modelId as string;
}

/** Pairs i < j that a search of every sample with maxDistance accepts: genuine and impostor. */
async function accepted(app: App, gallery: string, X: number[][], labels: number[], maxDistance: number) {
  const r = await app.inject({
    method: 'POST',
    url: `/galleries/${gallery}/search`,
    payload: { inputs: X, k: X.length, maxDistance },
  });
  if (r.statusCode !== 200) throw new Error(r.body);
  let genuine = 0;
  let impostors = 0;
  (r.json().results as { id: string }[][]).forEach((hits, i) => {
    for (const h of hits) {
      const j = Number(h.id);
      if (j <= i) continue;
      if (labels[i] === labels[j]) genuine++;
      else impostors++;
    }
  });
  return { genuine, impostors };
}

for (const distance of ['squared', 'euclidean']) {
  t.test(
    `distance ${distance}: a search at each evaluated threshold accepts what the evaluation counted`,
    async (t) => {
      const app = await testApp(t);
      const { X, labels } = clusters(150);
      const ds = await upload(app, X, labels);
      const model = await trained(app, ds, distance);
      const g = (await app.inject({ method: 'POST', url: '/galleries', payload: { model } })).json().id;
      const items = X.map((input, i) => ({ id: String(i), label: labels[i], input }));
      t.equal((await app.inject({ method: 'POST', url: `/galleries/${g}/items`, payload: { items } })).statusCode, 201);
      let checked = 0;
      // 36 FARs from 0.5 down, 12 (the most a request takes) at a time
      for (let batch = 0; batch < 3; batch++) {
        const fars = Array.from({ length: 12 }, (_, i) => 0.5 * 10 ** (-(batch * 12 + i) / 12));
        const r = await evaluate(app, model, { datasetId: ds, verification: { fars } });
        t.equal(r.statusCode, 200, r.statusCode === 200 ? 'evaluated' : r.body);
        const v = r.json().verification;
        t.equal(v.distance, distance === 'squared' ? 'squared_euclidean' : 'euclidean');
        for (const p of v.tarAtFar as { far: number; tar: number | null; threshold: number | null }[]) {
          if (p.threshold === null || p.tar === null) continue;
          const got = await accepted(app, g, X, labels, p.threshold);
          t.equal(got.genuine, Math.round(p.tar * v.genuineCount), `FAR ${p.far}: TAR·G genuine pairs accepted`);
          t.ok(got.impostors <= Math.floor(p.far * v.impostorCount), `FAR ${p.far}: within FAR·N impostors`);
          checked++;
        }
      }
      t.ok(checked >= 20, `${checked} thresholds checked`);
    },
  );
}

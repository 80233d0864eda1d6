// precision@1, R-precision and MAP@R of POST /models/:id/evaluate against a brute force: every
// neighbour at its float64 distance from differences, ties by sample index. Above a few hundred
// samples the service screens neighbours with the kernels' float32 Gram form; on embeddings far
// from the origin its rounding exceeded the gaps between neighbours (precision@1 0.815 served for
// 0.87), and on lattice points it split exact ties in no particular order.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { rng, testApp } from '../helpers.js';
import { evaluate, identity, upload } from './verification-route.js';

const D = 8;

/** The brute force: leave-one-out ranking by (squared distance from differences, index). */
function reference(E: number[][], labels: number[]) {
  const n = E.length;
  let p1 = 0;
  let rp = 0;
  let map = 0;
  let queries = 0;
  for (let i = 0; i < n; i++) {
    const R = labels.filter((l) => l === labels[i]).length - 1;
    if (R === 0) continue;
    const ranked = E.map((e, j) => {
      let s = 0;
      for (let r = 0; r < D; r++) s += (E[i][r] - e[r]) * (E[i][r] - e[r]);
      return { j, s };
    })
      .filter((x) => x.j !== i)
      .sort((a, b) => a.s - b.s || a.j - b.j)
      .slice(0, R);
    let hits = 0;
    let ap = 0;
    ranked.forEach((x, at) => {
      if (labels[x.j] !== labels[i]) return;
      hits++;
      ap += hits / (at + 1);
    });
    p1 += labels[ranked[0].j] === labels[i] ? 1 : 0;
    rp += hits / R;
    map += ap / R;
    queries++;
  }
  return { precisionAt1: p1 / queries, rPrecision: rp / queries, mapAtR: map / queries, queryCount: queries };
}

async function embeddings(app: App, model: string, inputs: number[][]): Promise<number[][]> {
  const r = await app.inject({ method: 'POST', url: '/embed', payload: { model, inputs } });
  return (r.json().embeddings as number[][]).map((e) => e.map(Math.fround));
}

const sets: { name: string; point: (r: () => number, label: number) => number[] }[] = [
  {
    name: 'far from the origin',
    point: (r, l) => Array.from({ length: D }, (_, c) => 1000 + 0.5 * Math.sin(l * 7 + c) + 0.3 * (r() * 2 - 1)),
  },
  { name: 'lattice ties', point: (r) => Array.from({ length: D }, () => Math.floor(r() * 3) * 0.1) },
  {
    name: 'tiny values',
    point: (r, l) => Array.from({ length: D }, (_, c) => (Math.sin(l * 7 + c) + 0.6 * (r() * 2 - 1)) * 1e-25),
  },
];

for (const { name, point } of sets) {
  for (const normalize of [false, true]) {
    t.test(`${name}${normalize ? ', unit norm' : ''}: the brute force's figures`, async (t) => {
      const app = await testApp(t);
      const r = rng(name.length + (normalize ? 1 : 0));
      const n = 400;
      const labels = Array.from({ length: n }, () => Math.floor(r() * 20));
      const X = labels.map((l) => point(r, l));
      const ds = await upload(app, X, labels);
      const res = await app.inject({ method: 'POST', url: '/models', payload: { W: identity(D), normalize } });
      const model = res.json().id as string;
      const got = (await evaluate(app, model, { datasetId: ds })).json();
      const want = reference(await embeddings(app, model, X), labels);
      t.equal(got.queryCount, want.queryCount);
      for (const key of ['precisionAt1', 'rPrecision', 'mapAtR'] as const)
        t.ok(Math.abs(got[key] - want[key]) <= 1e-12, `${key}: ${got[key]} (brute force ${want[key]})`);
    });
  }
}

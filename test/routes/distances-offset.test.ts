// POST /distances on embeddings far from the origin, or tiny: a request large enough for the kernels' Gram
// form (na·nb·k ≥ 65,536) must give the distances a small one gives, those of a float64 brute
// force. The float32 product's error is relative to ‖x‖‖y‖: at an offset of 1,000 with neighbours
// ~1 apart, 64×64 distances came back up to 27% off, and a pair's distance depended on what else
// the request held.
import t from 'tap';
import { rng, testApp } from '../helpers.js';

const D = 16;

function bruteForce(a: number[], b: number[], metric: string): number {
  let s = 0;
  for (let r = 0; r < D; r++) s += (Math.fround(a[r]) - Math.fround(b[r])) ** 2;
  return metric === 'euclidean' ? Math.sqrt(s) : s;
}

t.test('far from the origin: large requests give the brute force distances', async (t) => {
  const app = await testApp(t);
  const W = Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => +(i === j)));
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W } })).json().id;
  const r = rng(3);
  // far from the origin, and values whose float32 products underflow (1e-25 · 1e-25 < 2⁻¹⁴⁹)
  for (const [offset, unit] of [
    [100, 1],
    [1000, 1],
    [0, 1e-25],
  ]) {
    const rows = (n: number) =>
      Array.from({ length: n }, () => Array.from({ length: D }, () => offset + (r() * 2 - 1) * unit));
    const a = rows(80);
    const b = rows(70);
    // a squared distance of 1e-25 values, 1e-50, is below float32's range: the reply holds 0 either way
    for (const metric of unit < 1e-20 ? ['euclidean'] : ['euclidean', 'squared_euclidean']) {
      const res = await app.inject({ method: 'POST', url: '/distances', payload: { model, a, b, metric } });
      t.equal(res.statusCode, 200);
      const got = res.json().distances as number[][];
      let worst = 0;
      a.forEach((x, i) =>
        b.forEach((y, j) => {
          const want = bruteForce(x, y, metric);
          worst = Math.max(worst, Math.abs(got[i][j] - want) / want);
        }),
      );
      t.ok(worst < 1e-4, `offset ${offset}, unit ${unit}, ${metric}: worst relative error ${worst.toExponential(2)}`);
      // the same pair alone (the direct form)
      const one = await app.inject({
        method: 'POST',
        url: '/distances',
        payload: { model, a: [a[7]], b: [b[9]], metric },
      });
      const alone = one.json().distances[0][0] as number;
      t.ok(
        Math.abs(got[7][9] - alone) / alone < 1e-4,
        `offset ${offset}, unit ${unit}, ${metric}: as in a request of one pair`,
      );
    }
  }
});

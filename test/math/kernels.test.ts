// The blocked kernels against naive loops, over shapes that exercise every remainder path.
import t from 'tap';
import { jsKernels } from '../../src/math/kernels/js.js';
import { createRng } from '../../src/math/rng.js';

t.test('project and accumulate match naive loops', (t) => {
  const rng = createRng(3);
  for (const [m, d, k] of [
    [1, 1, 1],
    [3, 5, 3],
    [7, 6, 5],
    [70, 9, 8],
    [33, 2, 4],
  ]) {
    const X = new Float32Array(m * d).map(() => rng.range(-1, 1));
    const W = new Float64Array(k * d).map(() => rng.range(-1, 1));
    const Y = new Float64Array(m * k);
    jsKernels.project(W, k, d, X, m, Y);
    let err = 0;
    for (let i = 0; i < m; i++)
      for (let r = 0; r < k; r++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += W[r * d + j] * X[i * d + j];
        err = Math.max(err, Math.abs(s - Y[i * k + r]));
      }
    t.ok(err < 1e-12, `project m=${m} d=${d} k=${k}`);
    const rows = new Int32Array(m);
    let count = 0;
    for (let i = 0; i < m; i++) if (rng.uniform() < 0.7) rows[count++] = i;
    const G = new Float64Array(k * d).fill(0.5);
    jsKernels.accumulate(G, k, d, Y, X, rows, count);
    err = 0;
    for (let r = 0; r < k; r++)
      for (let j = 0; j < d; j++) {
        let s = 0.5;
        for (let q = 0; q < count; q++) s += Y[rows[q] * k + r] * X[rows[q] * d + j];
        err = Math.max(err, Math.abs(s - G[r * d + j]));
      }
    t.ok(err < 1e-12, `accumulate m=${m} d=${d} k=${k} (${count} rows)`);
  }
  t.end();
});

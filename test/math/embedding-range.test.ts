// firstUnsafeRow: the bound's fast path and the exact path agree with a direct float64 embedding.
import t from 'tap';
import { firstUnsafeRow, largestSafeValue } from '../../src/math/embedding-range.js';

/** The first row whose float64 embedding has a value past the safe one, measured directly. */
function direct(W: number[][], X: number[][]): number {
  const safe = largestSafeValue(W.length);
  return X.findIndex((x) => W.some((w) => !(Math.abs(w.reduce((s, v, j) => s + v * x[j], 0)) <= safe)));
}

t.test('safe, unsafe and cancelling rows', async (t) => {
  const cases: [string, number[][], number[][]][] = [
    ['ordinary data', [[1, 2], [3, -4]], [[0.5, 1], [100, -7], [1e6, 1e6]]],
    ['the second row overflows', [[1, 1], [0, 1]], [[1, 1], [3e38, 3e38], [1, 1]]],
    ['huge weights that cancel on the data', [[1e30, -1e30], [0, 1]], [[1, 1], [2, 2]]],
    ['huge weights that do not', [[1e30, -1e30], [0, 1]], [[1, 1], [2, 1]]],
    ['a NaN-free overflow past the distance range only', [[1e19, 0], [0, 0]], [[1, 0]]],
  ]; // prettier-ignore
  for (const [name, W, X] of cases) {
    const k = W.length;
    const d = W[0].length;
    const got = firstUnsafeRow(Float64Array.from(W.flat()), k, d, Float32Array.from(X.flat()), X.length);
    t.equal(got, direct(W, X), name);
  }
  t.equal(
    direct(
      [
        [1, 1],
        [0, 1],
      ],
      [
        [1, 1],
        [3e38, 3e38],
      ],
    ),
    1,
    'the reference itself finds the row',
  );
  t.ok(largestSafeValue(2) < 1e19 && largestSafeValue(2) > 1e18, 'k 2: distances of values near 6.5e18 overflow');
});

// The step bounds behind the inactive-triplet skip: the spectral bound is never below ‖D‖₂ (the
// largest singular value, from ml-matrix's SVD) and never above ‖D‖_F, and it is close to ‖D‖₂.
import t from 'tap';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { frobeniusDistance, spectralNormBound } from '../../src/math/inactive-bound.js';
import { createRng } from '../../src/math/rng.js';

function largestSingularValue(D: Float64Array, r: number, c: number): number {
  const rows = Array.from({ length: r }, (_, i) => Array.from(D.subarray(i * c, (i + 1) * c)));
  return new SingularValueDecomposition(new Matrix(rows), { computeLeftSingularVectors: false }).diagonal[0];
}

t.test('spectralNormBound: between ‖D‖₂ and ‖D‖_F, within the rank factor of ‖D‖₂', async (t) => {
  const rng = createRng(5);
  const cases: Array<[string, number, number, (i: number, j: number) => number]> = [
    ['wide, full rank', 8, 40, () => rng.normal()],
    ['tall, full rank', 40, 8, () => rng.normal()],
    ['square, one large direction', 16, 16, (i, j) => (i === j ? (i === 0 ? 10 : 0.1) : 0) + 0.01 * rng.normal()],
    ['rank one', 12, 30, (i, j) => (i + 1) * Math.sin(j + 1)],
    ['tiny values', 6, 9, () => 1e-150 * rng.normal()],
    ['huge values', 5, 7, () => 1e150 * rng.normal()],
  ];
  const zeros = new Float64Array(12);
  for (const [name, r, c, f] of cases) {
    const D = Float64Array.from({ length: r * c }, (_, x) => f(Math.floor(x / c), x % c));
    const bound = spectralNormBound(D, r, c);
    const exact = largestSingularValue(D, r, c);
    const frobenius = frobeniusDistance(D, new Float64Array(r * c), r * c);
    t.ok(bound >= exact, `${name}: ${bound} ≥ ‖D‖₂ ${exact}`);
    t.ok(bound <= frobenius * (1 + 1e-8), `${name}: ≤ ‖D‖_F ${frobenius}`);
    // ‖M^(2^q)‖_F^(1/2^q) ≤ λ_max·rank^(1/2^q), with q = 5 squarings and rank ≤ min(r, c)
    t.ok(bound <= exact * Math.min(r, c) ** (1 / 64) * (1 + 1e-8), `${name}: within the rank factor`);
  }
  t.equal(spectralNormBound(zeros, 3, 4), 0, 'zero for a zero step');
});

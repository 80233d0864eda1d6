// Whitening as a preconditioner: R and R⁻¹ are inverses and R² is (C/c̄ + ε)⁻¹ on an exact
// spectrum, the low-rank form with a tail agrees with the full matrix, and training on an
// ill-conditioned set reaches a lower loss in the same iterations than the plain problem, with the
// same loss function (W maps back exactly) and deterministically; float64 with the JS kernels,
// and the WebAssembly kernels within float32 tolerance.
import t from 'tap';
import { createCompute } from '../../src/compute/index.js';
import { initW, initWithSpectrum } from '../../src/math/init.js';
import { jsKernels } from '../../src/math/kernels/js.js';
import { createTripletObjective } from '../../src/math/losses.js';
import { createRng } from '../../src/math/rng.js';
import { DEFAULT_TRAIN_PARAMS } from '../../src/math/defaults.js';
import { train } from '../../src/math/train.js';
import type { TrainParams, TripletSet } from '../../src/math/types.js';
import { createWhitening, WHITEN_EPSILON, type Spectrum } from '../../src/math/whitening.js';

/** Triplets whose features have variances spread over four orders of magnitude. */
function anisotropicSet(m: number, d: number, seed: number): TripletSet {
  const rng = createRng(seed);
  const scale = Float64Array.from({ length: d }, (_, j) => 10 ** (2 - (4 * j) / (d - 1)));
  const rows = () => new Float32Array(m * d);
  const [anchors, positives, negatives] = [rows(), rows(), rows()];
  for (let i = 0; i < m; i++) {
    const centre = Float64Array.from({ length: d }, () => rng.normal());
    const other = Float64Array.from({ length: d }, () => rng.normal());
    for (let j = 0; j < d; j++) {
      anchors[i * d + j] = scale[j] * (centre[j] + 0.3 * rng.normal());
      positives[i * d + j] = scale[j] * (centre[j] + 0.3 * rng.normal());
      negatives[i * d + j] = scale[j] * (other[j] + 0.3 * rng.normal());
    }
  }
  return { m, d, anchors, positives, negatives };
}

const randomRows = (rows: number, d: number, seed: number) => {
  const rng = createRng(seed);
  return Float64Array.from({ length: rows * d }, () => rng.normal());
};

const maxAbs = (a: Float64Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

t.test('R and R⁻¹ are inverses; R² is (C/c̄ + ε)⁻¹ on an exact spectrum', async (t) => {
  const d = 6;
  const set = anisotropicSet(300, d, 1);
  const { spectrum } = initWithSpectrum({ init: 'pca', k: 2, d, seed: 3 }, set);
  t.equal(spectrum.count, d, 'the exact path keeps all d pairs');
  const wh = createWhitening(spectrum, jsKernels);
  const A = randomRows(4, d, 2);
  const B = new Float64Array(A.length);
  const back = new Float64Array(A.length);
  wh.apply(A, 4, B);
  wh.applyInverse(B, 4, back);
  t.ok(maxAbs(back, A) < 1e-12, 'A·R·R⁻¹ = A');
  // C from the eigenpairs; then A·R·R·(C/c̄ + ε) = A
  const C = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let p = 0; p < d; p++)
      for (let q = 0; q < d; q++)
        C[p * d + q] += spectrum.values[i] * spectrum.vectors[i * d + p] * spectrum.vectors[i * d + q];
  const RR = new Float64Array(A.length);
  wh.apply(B, 4, RR);
  const out = new Float64Array(A.length);
  for (let r = 0; r < 4; r++)
    for (let q = 0; q < d; q++) {
      let s = WHITEN_EPSILON * RR[r * d + q];
      for (let p = 0; p < d; p++) s += (RR[r * d + p] * C[p * d + q]) / spectrum.meanVariance;
      out[r * d + q] = s;
    }
  t.ok(maxAbs(out, A) < 1e-9, 'A·R²·(C/c̄ + ε) = A');
});

t.test('the low-rank form: the top pairs whitened, the rest scaled by one factor', async (t) => {
  const d = 5;
  // an orthonormal basis (the coordinate axes, permuted) with known variances
  const variances = [9, 4, 1, 1, 1];
  const vectors = new Float64Array(d * d);
  [2, 0, 4, 1, 3].forEach((axis, i) => (vectors[i * d + axis] = 1));
  const full: Spectrum = { d, count: d, values: Float64Array.from(variances), vectors, meanVariance: 16 / d };
  const low: Spectrum = { ...full, count: 2, values: full.values.subarray(0, 2), vectors: vectors.subarray(0, 2 * d) };
  const A = randomRows(3, d, 4);
  const a = new Float64Array(A.length);
  const b = new Float64Array(A.length);
  createWhitening(full, jsKernels).apply(A, 3, a);
  createWhitening(low, jsKernels).apply(A, 3, b);
  t.ok(maxAbs(a, b) < 1e-12, 'equal when the rest share one variance');
});

t.test('training: a lower loss in the same iterations, the same loss function, deterministic', async (t) => {
  const set = anisotropicSet(400, 12, 5);
  const params = (preconditioner: TrainParams['preconditioner']): TrainParams => ({
    ...DEFAULT_TRAIN_PARAMS,
    outputDimension: 4,
    maxIterations: 15,
    gradientTolerance: 0,
    weightDecay: 1e-4,
    preconditioner,
  });
  const plain = train(set, params('none'));
  const whitened = train(set, params('whiten'));
  t.ok(
    whitened.metrics.trainLoss < plain.metrics.trainLoss,
    `15 iterations: ${whitened.metrics.trainLoss} whitened against ${plain.metrics.trainLoss} plain`,
  );
  const objective = createTripletObjective(set, { margin: params('none').margin, normalize: false, weightDecay: 1e-4 });
  const g = new Float64Array(whitened.W.length);
  t.equal(
    objective.evaluate(whitened.W, 4, g).loss,
    whitened.metrics.trainLoss,
    'the reported loss is the plain loss at W',
  );
  t.same(train(set, params('whiten')).W, whitened.W, 'deterministic');
});

t.test('WebAssembly kernels: whitening within float32 tolerance of the JS one', async (t) => {
  const compute = await createCompute({ kernels: 'wasm' });
  t.teardown(() => compute.close());
  const d = 40;
  const set = anisotropicSet(200, d, 7);
  const { spectrum } = initWithSpectrum({ init: 'pca', k: 8, d, seed: 1 }, set);
  const A = randomRows(8, d, 9);
  const js = new Float64Array(A.length);
  const wasm = new Float64Array(A.length);
  createWhitening(spectrum, jsKernels).apply(A, 8, js);
  createWhitening(spectrum, compute.kernels).apply(A, 8, wasm);
  const scale = js.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  t.ok(maxAbs(js, wasm) <= 1e-5 * scale, `max error ${maxAbs(js, wasm)} of ${scale}`);
});

t.test('beside a non-PCA start above d 256: a randomized spectrum of at most 128 pairs', async (t) => {
  const d = 300;
  const set = anisotropicSet(150, d, 11);
  const init = { init: 'uniform', k: 200, d, seed: 2 } as const;
  const { W, spectrum } = initWithSpectrum(init, set);
  t.equal(spectrum.count, 128, 'spectrumRank caps the pairs, so no d×d decomposition runs');
  t.same(W, initW(init, set), "the start is initW's");
  t.ok(spectrum.values[0] >= spectrum.values[127] && spectrum.values[127] > 0, 'sorted, positive');
});

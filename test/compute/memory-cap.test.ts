// A training job's WebAssembly memory cannot grow past its allowance: the allocation fails with a
// RangeError the worker reports as OUT_OF_MEMORY, and nothing else is disturbed.
import t from 'tap';
import { createCompute, createSharedMemory } from '../../src/compute/index.js';
import { checkTrainedW, memoryError } from '../../src/compute/worker-checks.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';

t.test('createSharedMemory caps the maximum at the allowance', async (t) => {
  t.equal(createSharedMemory(16, 2 * 1024 * 1024).buffer.byteLength, 1024 * 1024);
  const m = createSharedMemory(16, 2 * 1024 * 1024);
  t.throws(() => m.grow(64), RangeError);
});

t.test('an objective larger than the allowance fails as OUT_OF_MEMORY', { skip: !wasmSimdSupported() }, async (t) => {
  const compute = await createCompute({ kernels: 'wasm', threads: 1, maxMemoryBytes: 4 * 1024 * 1024 });
  t.teardown(() => compute.close());
  const m = 20000;
  const d = 64;
  const rows = () => new Float32Array(m * d);
  const set = { m, d, anchors: rows(), positives: rows(), negatives: rows() };
  let caught: unknown;
  try {
    compute.kernels.createObjective!(set, { margin: 0.2, normalize: false, weightDecay: 0 });
  } catch (e) {
    caught = e;
  }
  t.match(memoryError(caught), { code: 'OUT_OF_MEMORY', message: /memory allowance/ });
  t.equal(memoryError(new RangeError('index out of range')), undefined, 'other errors are not memory errors');
});

t.test('checkTrainedW: finite loss, finite W within float32', async (t) => {
  t.doesNotThrow(() => checkTrainedW(Float64Array.of(1, -3.4e38), 0.5));
  t.throws(() => checkTrainedW(Float64Array.of(1), NaN), { code: 'NON_FINITE_TRAINING' });
  t.throws(() => checkTrainedW(Float64Array.of(1, 3.9e39), 1), { code: 'NON_FINITE_TRAINING', message: /float32/ });
  t.throws(() => checkTrainedW(Float64Array.of(-Infinity), 1), { code: 'NON_FINITE_TRAINING' });
});

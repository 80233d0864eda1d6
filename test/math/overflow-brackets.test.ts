// A triplet whose distances overflow float32 (the WebAssembly kernels square float32 lanes: ∞ − ∞
// is NaN) is not an inactive triplet: the hinge skipped it like one, so at a W that maps the data
// past float32 every triplet was "inactive" and the loss claimed 0. The loss must be NaN there (the
// line search refuses such a step; the worker reports NON_FINITE_TRAINING), or its true value.
import t from 'tap';
import { createCompute } from '../../src/compute/index.js';
import { createIndexedObjective } from '../../src/math/indexed-objective.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';
import { createTripletObjective } from '../../src/math/losses.js';
import { createRng } from '../../src/math/rng.js';
import type { IndexedTripletSet, TripletSet } from '../../src/math/types.js';

const d = 6;
const m = 40;
const n = 30;

/** Samples of magnitude 1e30 (finite float32) and triplets over them, as rows and as indices. */
function sets(): { rows: TripletSet; indexed: IndexedTripletSet } {
  const rng = createRng(4);
  const samples = Float32Array.from({ length: n * d }, () => rng.normal() * 1e30);
  // anchor, positive and negative distinct: every distance overflows, none is 0
  const refs = Int32Array.from({ length: 3 * m }, (_, r) => (Math.floor(r / 3) + (r % 3) * 10) % n);
  const gather = (s: number) => {
    const out = new Float32Array(m * d);
    for (let i = 0; i < m; i++) out.set(samples.subarray(refs[3 * i + s] * d, (refs[3 * i + s] + 1) * d), i * d);
    return out;
  };
  return {
    rows: { d, m, anchors: gather(0), positives: gather(1), negatives: gather(2) },
    indexed: { d, m, n, samples, refs },
  };
}

const identity = Float64Array.from({ length: d * d }, (_, i) => +(Math.floor(i / d) === i % d));
const opts = { margin: 0.2, normalize: false, weightDecay: 0 };

t.test('distances past float32: the loss is not 0', async (t) => {
  const { rows, indexed } = sets();
  const backends: ('js' | 'wasm')[] = wasmSimdSupported() ? ['js', 'wasm'] : ['js'];
  for (const kind of backends) {
    const compute = await createCompute({ kernels: kind, threads: 1 });
    t.teardown(() => compute.close());
    for (const [name, objective] of [
      ['triplet rows', createTripletObjective(rows, opts, compute.kernels)],
      ['indexed triplets', createIndexedObjective(indexed, opts, compute.kernels)],
    ] as const) {
      const g = new Float64Array(d * d);
      const v = objective.evaluate(identity, d, g);
      objective.dispose?.();
      // true value ~1e59 (float64 throughout), or NaN where float32 overflowed; never a claimed 0
      t.ok(Number.isNaN(v.loss) || v.loss > 1e50, `${kind}, ${name}: loss ${v.loss}`);
    }
  }
});

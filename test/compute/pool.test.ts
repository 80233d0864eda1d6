// The compute edge: backend choice, env parsing, and the worker pool (also from inside a worker).
import { Worker } from 'node:worker_threads';
import t from 'tap';
import {
  createCompute,
  createServingCompute,
  localKernels,
  resolveKernelChoice,
  startHelpers,
  useWideKernels,
} from '../../src/compute/index.js';
import { loadConfig } from '../../src/config.js';
import { jsKernels } from '../../src/math/kernels/js.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';
import { createRng } from '../../src/math/rng.js';
import { train } from '../../src/math/train.js';
import { randomSet } from '../math/helpers.js';

t.test('TRIPLET_KERNELS, TRIPLET_THREADS, TRIPLET_EMBED_HELPERS are read by loadConfig', (t) => {
  const compute = (env: Record<string, string>) => loadConfig(env).compute;
  t.equal(compute({}).kernels, 'auto');
  t.equal(compute({ TRIPLET_KERNELS: 'js' }).kernels, 'js');
  t.equal(compute({ TRIPLET_KERNELS: ' WASM ' }).kernels, 'wasm');
  t.throws(() => compute({ TRIPLET_KERNELS: 'gpu' }), /TRIPLET_KERNELS must be auto, js or wasm/);
  t.equal(compute({ TRIPLET_THREADS: '3' }).threads, 3);
  t.ok(compute({}).threads >= 1);
  t.throws(() => compute({ TRIPLET_THREADS: '0' }), /TRIPLET_THREADS/);
  t.equal(compute({ TRIPLET_EMBED_HELPERS: '0' }).embedHelpers, 0);
  t.equal(compute({ TRIPLET_EMBED_HELPERS: '2' }).embedHelpers, 2);
  t.ok(compute({}).embedHelpers >= 1);
  t.throws(() => compute({ TRIPLET_EMBED_HELPERS: '-1' }), /TRIPLET_EMBED_HELPERS/);
  t.end();
});

t.test('serving kernels: one set per app, closed with it; the JS fallback has no staging', async (t) => {
  const js = createServingCompute({ kernels: 'js', embedHelpers: 1, wide: 'auto' });
  t.equal(js.kernels, jsKernels);
  await js.close();
  if (wasmSimdSupported()) {
    const a = createServingCompute({ kernels: 'wasm', embedHelpers: 1, wide: 'auto' });
    const b = createServingCompute({ kernels: 'auto', embedHelpers: 0, wide: 'auto' });
    t.not(a.kernels, b.kernels, 'each app its own memory');
    t.type(b.kernels.stage, 'function');
    const staged = a.kernels.stage!(8);
    staged.write(new Uint8Array(new Float32Array([1, 2]).buffer), 0);
    t.equal(staged.value(1), 2);
    staged.release();
    await a.close();
    await b.close();
  }
});

t.test('backend choice', async (t) => {
  t.equal(resolveKernelChoice('js'), 'js');
  t.equal(resolveKernelChoice('auto'), wasmSimdSupported() ? 'wasm' : 'js');
  const js = await createCompute({ kernels: 'js', threads: 2 });
  t.equal(js.kernels, jsKernels, 'forced js gives the TypeScript kernels');
  t.equal(js.threads, 1);
  await js.close();
  t.equal(localKernels('js'), jsKernels);
  if (wasmSimdSupported()) {
    // wide where V8's revectorizer makes them 256-bit (Node ≥ 24 on x64 with AVX2)
    t.equal(localKernels('wasm').name, useWideKernels() ? 'wasm-simd-wide' : 'wasm-simd');
    t.equal(localKernels('wasm'), localKernels('auto'), 'one local backend per thread');
  }
});

t.test(
  'a pool created inside a worker thread gives the same W as one thread here',
  { skip: !wasmSimdSupported() },
  async (t) => {
    const rng = createRng(21);
    const set = randomSet(rng, 2500, 16);
    const params = {
      outputDimension: 4,
      margin: 0.2,
      optimizer: 'cg' as const,
      maxIterations: 10,
      normalize: false,
      weightDecay: 0.001,
      init: 'uniform' as const,
      seed: 1,
      gradientTolerance: 1e-8,
      historySize: 5,
    };
    const c = await createCompute({ kernels: 'wasm', threads: 1 });
    const here = train(set, params, {}, c.kernels).W;
    await c.close();
    const w = new Worker(new URL('./nested-worker.mjs', import.meta.url), { workerData: { set, params, threads: 2 } });
    const msg = await new Promise<{ W: Float64Array; name: string }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    t.equal(msg.name, 'wasm-simd×2');
    t.same(Array.from(msg.W), Array.from(here), 'bit-identical');
    await w.terminate();
  },
);

t.test('a closed pool refuses work', { skip: !wasmSimdSupported() }, async (t) => {
  const c = await createCompute({ kernels: 'wasm', threads: 2 });
  await c.close();
  const set = randomSet(createRng(1), 3000, 8);
  t.throws(
    () =>
      c.kernels.createObjective!(set, { margin: 0.1, normalize: false, weightDecay: 0 }).evaluate(
        new Float64Array(16),
        2,
        null,
      ),
    /closed/,
  );
});

t.test('helper threads started before the memory make the same pool', { skip: !wasmSimdSupported() }, async (t) => {
  const set = randomSet(createRng(5), 3000, 12);
  const opts = { margin: 0.2, normalize: false, weightDecay: 0 };
  const W = Float64Array.from({ length: 3 * 12 }, (_, i) => Math.sin(i));
  const gradient = async (helpers?: ReturnType<typeof startHelpers>) => {
    const c = await createCompute({ kernels: 'wasm', threads: 3, helpers });
    const g = new Float64Array(W.length);
    c.kernels.createObjective!(set, opts).evaluate(W, 3, g);
    await c.close();
    return { g, name: c.kernels.name };
  };
  const fresh = await gradient();
  const helpers = startHelpers(3);
  t.equal(helpers.waiting, 2, 'two helpers wait for a memory');
  const early = await gradient(helpers);
  t.equal(helpers.waiting, 0, 'the pool took them');
  t.equal(early.name, 'wasm-simd' + (fresh.name.includes('wide') ? '-wide' : '') + '×3', 'three threads');
  t.same(early.g, fresh.g, 'bit-identical to a pool that started its own helpers');
  const other = startHelpers(2);
  const mismatched = await gradient(other);
  t.equal(other.waiting, 0, 'a pool of another size stopped them');
  t.same(mismatched.g, fresh.g, 'helpers started for another thread count are stopped and replaced');
  await other.stop();
  t.pass('stop after use is a no-op');
});

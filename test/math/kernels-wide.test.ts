// The wide (4 rows × 16 outputs) tiles against the narrow ones, bit for bit, on shapes that leave
// an odd panel, an odd gradient strip and row remainders; the runtime detection; and, where this
// runtime has V8's revectorizer (Node ≥ 24 on x64 with AVX2), the same results from a process
// that fuses the tiles into 256-bit code as from one that does not.
// On runtimes without the revectorizer the wide tiles run as plain 128-bit code (slower, the
// same values), so the bit-for-bit checks run everywhere.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { createCompute, revectorizerAvailable, runtimeFacts, useWideKernels, wideChoiceFromEnv } from '../../src/compute/index.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';
import type { WasmKernels } from '../../src/math/kernels/wasm.js';
import { createTripletObjective } from '../../src/math/losses.js';
import { createRng } from '../../src/math/rng.js';
import type { LossOptions } from '../../src/math/types.js';
import { randomSet } from './helpers.js';

const simd = wasmSimdSupported();
const PROBE = fileURLToPath(new URL('./wide-probe.ts', import.meta.url));

t.test('TRIPLET_WIDE_KERNELS', (t) => {
  t.equal(wideChoiceFromEnv({}), 'auto');
  t.equal(wideChoiceFromEnv({ TRIPLET_WIDE_KERNELS: ' OFF ' }), 'off');
  t.equal(wideChoiceFromEnv({ TRIPLET_WIDE_KERNELS: 'on' }), 'on');
  t.throws(() => wideChoiceFromEnv({ TRIPLET_WIDE_KERNELS: 'yes' }), RangeError);
  t.end();
});

t.test('revectorizer detection', (t) => {
  const avx2 = ['fpu', 'sse4_2', 'avx', 'avx2', 'fma'];
  t.equal(revectorizerAvailable({ arch: 'x64', v8: '13.6.233.17-node.37', cpuFlags: avx2 }), true, 'Node 24 on x64 with AVX2');
  t.equal(revectorizerAvailable({ arch: 'x64', v8: '14.1.146.11-node.14', cpuFlags: avx2 }), true, 'later V8');
  t.equal(revectorizerAvailable({ arch: 'x64', v8: '12.4.254.21-node.33', cpuFlags: avx2 }), false, 'Node 22: flag present, loops not fused');
  t.equal(revectorizerAvailable({ arch: 'x64', v8: '11.3.244.8-node.30', cpuFlags: avx2 }), false, 'Node 20: no flag');
  t.equal(revectorizerAvailable({ arch: 'x64', v8: '13.6.233.17', cpuFlags: ['sse4_2', 'avx'] }), false, 'no AVX2');
  t.equal(revectorizerAvailable({ arch: 'x64', v8: '13.6.233.17', cpuFlags: null }), false, 'CPU unknown');
  t.equal(revectorizerAvailable({ arch: 'arm64', v8: '13.6.233.17', cpuFlags: ['fp', 'asimd'] }), false, 'arm64');
  const no = { arch: 'arm64', v8: '13.6.233.17', cpuFlags: null };
  t.equal(useWideKernels('off', { arch: 'x64', v8: '13.6', cpuFlags: avx2 }), false, 'off wins');
  t.equal(useWideKernels('auto', no), false, 'auto follows the detection');
  t.equal(useWideKernels('auto'), revectorizerAvailable(runtimeFacts()), 'auto on this runtime');
  t.end();
});

if (simd) {
  const cases: [string, LossOptions][] = [
    ['hinged', { margin: 0.2, normalize: false, weightDecay: 0 }],
    ['hinged wd', { margin: 0.5, normalize: false, weightDecay: 0.01 }],
    ['no hinge', { margin: 0.2, normalize: false, weightDecay: 0, hinge: 'none' }],
    ['normalised', { margin: 0.2, normalize: true, weightDecay: 0 }],
  ];
  // d → ld = 8⌈d/8⌉ gives ld/8 strips (odd for 13, 20, 130); k → 8⌈k/8⌉/8 panels (odd for 5, 24, 33)
  const shapes: [number, number, number][] = [[1, 1, 1], [37, 13, 5], [300, 64, 16], [1100, 130, 33], [2051, 20, 24], [513, 48, 40]];

  t.test('wide tiles = narrow tiles, bit for bit: loss, counts, gradient, embeddings', async (t) => {
    for (const threads of [1, 2]) {
      for (const earlyExit of [true, false]) {
        const [narrow, wide] = await Promise.all([false, true].map((w) => createCompute({ kernels: 'wasm', threads, earlyExit, wide: w })));
        t.teardown(() => Promise.all([narrow.close(), wide.close()]));
        const rng = createRng(31 + threads);
        for (const [m, d, k] of shapes) {
          const set = randomSet(rng, m, d);
          // rows of W scaled down one by one: early exits happen at the first panels
          const W = new Float64Array(k * d).map((_, i) => rng.range(-1, 1) / Math.sqrt(d) / (1 + Math.floor(i / d)));
          for (const [name, opts] of cases) {
            const label = `m=${m} d=${d} k=${k} ${name}, ${threads} thread(s), early exit ${earlyExit}`;
            const [a, b] = [narrow, wide].map((c) => {
              const obj = createTripletObjective(set, opts, c.kernels);
              const g = new Float64Array(k * d);
              const v = obj.evaluate(W, k, g);
              obj.dispose?.();
              return { v, g: Array.from(g) };
            });
            t.same(b.v, a.v, `${label}: loss and counts`);
            t.same(b.g, a.g, `${label}: gradient`);
          }
          for (const n of [1, 3, 4, 7, 64, 257]) {
            const X = new Float32Array(n * d).map(() => rng.range(-2, 2));
            const [ya, yb] = [narrow, wide].map((c) => {
              const p = (c.kernels as WasmKernels).prepareProjection(W, k, d);
              const y = new Float32Array(n * k);
              p.embed(X, n, n % 2 === 1, y);
              p.dispose();
              return Array.from(y);
            });
            t.same(yb, ya, `m=${m} d=${d} k=${k}: embedding ${n} rows (normalised ${n % 2 === 1}), ${threads} thread(s)`);
          }
        }
      }
    }
  });

  t.test('wide tiles with the early exit: groups still dropped two panels at a time', async (t) => {
    // positives near, most negatives far: most triplets settle in the first panels
    const rng = createRng(9);
    const m = 1200, d = 40, k = 48;
    const set = randomSet(rng, m, d);
    for (let i = 0; i < m * d; i++) {
      set.positives[i] = set.anchors[i] + 0.1 * (set.positives[i] as number);
      set.negatives[i] = 3 * (set.negatives[i] as number);
    }
    const W = new Float64Array(k * d).map((_, i) => rng.range(-1, 1) / (1 + Math.floor(i / d)));
    const out: { loss: number; g: number[]; exits: number }[] = [];
    for (const [wide, earlyExit] of [[true, true], [false, false]]) {
      const c = await createCompute({ kernels: 'wasm', threads: 1, wide, earlyExit });
      const obj = (c.kernels as WasmKernels).createObjective(set, { margin: 0.2, normalize: false, weightDecay: 0 });
      const g = new Float64Array(k * d);
      const v = obj.evaluate(W, k, g);
      out.push({ loss: v.loss, g: Array.from(g), exits: obj.lastEarlyExits });
      obj.dispose();
      await c.close();
    }
    t.ok(out[0].exits > m / 2, `${out[0].exits} of ${m} negatives stopped early`);
    t.equal(out[0].loss, out[1].loss, 'loss as the full narrow product');
    t.same(out[0].g, out[1].g, 'gradient as the full narrow product');
  });

  const revec = revectorizerAvailable(runtimeFacts());
  t.test('a process with V8\'s revectorizer computes the same bits as one without', { skip: revec ? false : `needs V8 ≥ 13 on x64 with AVX2 (Node ≥ 24; this is V8 ${process.versions.v8} on ${process.arch})` }, (t) => {
    const run = (wide: string) => {
      const r = spawnSync(process.execPath, ['--import=tsx', PROBE], { encoding: 'utf8', env: { ...process.env, TRIPLET_WIDE_KERNELS: wide }, timeout: 120_000 });
      t.equal(r.status, 0, `probe with TRIPLET_WIDE_KERNELS=${wide} exits 0 ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
    };
    const [on, off] = [run('auto'), run('off')];
    t.equal(on.wide, true, 'auto turns the wide kernels on here');
    t.equal(off.wide, false, 'off keeps them off');
    t.ok(on.digest && on.digest === off.digest, `training, loss, gradient and embeddings hash alike (${on.digest})`);
    t.end();
  });
}


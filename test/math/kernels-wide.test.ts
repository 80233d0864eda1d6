// The wide (4 rows × 16 outputs) tiles against the narrow ones, bit for bit, on shapes that leave
// an odd panel, an odd gradient strip and row remainders; the runtime detection; and, where this
// runtime has V8's revectorizer (Node ≥ 24 on x64 with AVX2), the same results from a process
// that fuses the tiles into 256-bit code as from one that does not.
// On runtimes without the revectorizer the wide tiles run as plain 128-bit code (slower, the
// same values), so the bit-for-bit checks run everywhere.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import {
  createCompute,
  decideWide,
  revectorizerAvailable,
  runtimeFacts,
  useWideKernels,
} from '../../src/compute/index.js';
import { loadConfig } from '../../src/config.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';
import type { WasmKernels } from '../../src/math/kernels/wasm.js';
import { createTripletObjective } from '../../src/math/losses.js';
import { createRng } from '../../src/math/rng.js';
import type { LossOptions } from '../../src/math/types.js';
import { randomSet, settledSet } from './helpers.js';

const simd = wasmSimdSupported();
const PROBE = fileURLToPath(new URL('./wide-probe.ts', import.meta.url));

t.test('TRIPLET_WIDE_KERNELS', (t) => {
  const wide = (env: Record<string, string>) => loadConfig(env).compute.wide;
  t.equal(wide({}), 'auto');
  t.equal(wide({ TRIPLET_WIDE_KERNELS: ' OFF ' }), 'off');
  t.equal(wide({ TRIPLET_WIDE_KERNELS: 'on' }), 'on');
  t.throws(() => wide({ TRIPLET_WIDE_KERNELS: 'yes' }), /TRIPLET_WIDE_KERNELS must be auto, on or off/);
  t.end();
});

t.test('revectorizer detection', (t) => {
  const avx2 = ['fpu', 'sse4_2', 'avx', 'avx2', 'fma'];
  const node24 = { arch: 'x64', v8: '13.6.233.17-node.37', revecBuilt: true, cpuFlags: avx2 };
  t.equal(revectorizerAvailable(node24), true, 'Node 24 on x64 with AVX2');
  t.equal(revectorizerAvailable({ ...node24, v8: '14.1.146.11-node.14' }), true, 'later V8');
  t.equal(
    revectorizerAvailable({ ...node24, v8: '12.4.254.21-node.33' }),
    false,
    'Node 22: pass built, loops not fused',
  );
  t.equal(revectorizerAvailable({ ...node24, v8: '11.3.244.8-node.30', revecBuilt: false }), false, 'Node 20: no pass');
  t.equal(revectorizerAvailable({ ...node24, revecBuilt: false }), false, 'a build without the pass');
  t.equal(revectorizerAvailable({ ...node24, cpuFlags: ['sse4_2', 'avx'] }), false, 'no AVX2');
  t.equal(revectorizerAvailable({ ...node24, cpuFlags: null }), false, 'CPU unknown');
  t.equal(revectorizerAvailable({ ...node24, arch: 'arm64', cpuFlags: ['fp', 'asimd'] }), false, 'arm64');
  t.same(decideWide('auto', node24), { wide: true, revectorize: true }, 'auto where it works');
  t.same(decideWide('auto', { ...node24, cpuFlags: null }), { wide: false, revectorize: false }, 'auto elsewhere');
  t.same(decideWide('off', node24), { wide: false, revectorize: false }, 'off wins');
  t.same(
    decideWide('on', { ...node24, v8: '11.3.244.8', revecBuilt: false }),
    { wide: true, revectorize: false },
    'on without the pass: the tiles only, no flag V8 would reject',
  );
  t.same(
    decideWide('on', { ...node24, arch: 'arm64' }),
    { wide: true, revectorize: true },
    'on where the pass is built: both',
  );
  t.equal(useWideKernels('auto'), revectorizerAvailable(runtimeFacts()), 'auto on this runtime');
  t.equal(useWideKernels('off'), false);
  t.end();
});

if (simd) {
  const cases: [string, LossOptions][] = [
    ['hinged', { margin: 0.2, normalize: false, weightDecay: 0 }],
    ['hinged wd', { margin: 0.5, normalize: false, weightDecay: 0.01 }],
    ['no hinge', { margin: 0.2, normalize: false, weightDecay: 0, hinge: 'none' }],
    ['normalised', { margin: 0.2, normalize: true, weightDecay: 0 }],
  ];
  // d → ld = 8⌈d/8⌉ gives ld/8 strips (odd for 20 and 130); k → 8⌈k/8⌉/8 panels (odd for 5, 24 and 33)
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [37, 13, 5],
    [300, 64, 16],
    [1100, 130, 33],
    [2051, 20, 24],
    [513, 48, 40],
  ];

  t.test('wide tiles = narrow tiles, bit for bit: loss, counts, gradient, embeddings', async (t) => {
    for (const threads of [1, 2]) {
      for (const earlyExit of [true, false]) {
        const [narrow, wide] = await Promise.all(
          [false, true].map((w) => createCompute({ kernels: 'wasm', threads, earlyExit, wide: w ? 'on' : 'off' })),
        );
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
            t.same(
              yb,
              ya,
              `m=${m} d=${d} k=${k}: embedding ${n} rows (normalised ${n % 2 === 1}), ${threads} thread(s)`,
            );
          }
        }
      }
    }
  });

  t.test('wide tiles with the early exit: groups still dropped two panels at a time', async (t) => {
    // positives near, most negatives far: most triplets settle in the first panels
    const rng = createRng(9);
    const m = 1200,
      d = 40,
      k = 48;
    const set = settledSet(rng, m, d);
    const W = new Float64Array(k * d).map((_, i) => rng.range(-1, 1) / (1 + Math.floor(i / d)));
    const out: { loss: number; g: number[]; exits: number }[] = [];
    for (const [wide, earlyExit] of [
      [true, true],
      [false, false],
    ]) {
      const c = await createCompute({ kernels: 'wasm', threads: 1, wide: wide ? 'on' : 'off', earlyExit });
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

  t.test('Kernels.accumulate: wide = narrow, bit for bit', async (t) => {
    const [narrow, wide] = await Promise.all(
      [false, true].map((w) => createCompute({ kernels: 'wasm', threads: 1, wide: w ? 'on' : 'off' })),
    );
    t.teardown(() => Promise.all([narrow.close(), wide.close()]));
    const rng = createRng(4);
    for (const [m, d, k] of [
      [50, 20, 24],
      [300, 130, 33],
      [97, 64, 16],
    ] as const) {
      const C = new Float64Array(m * k).map(() => rng.range(-1, 1));
      const X = new Float32Array(m * d).map(() => rng.range(-1, 1));
      const rows = Int32Array.from({ length: m }, (_, i) => i).filter((i) => i % 3 !== 1);
      const [a, b] = [narrow, wide].map((c) => {
        const G = new Float64Array(k * d).map((_, i) => i * 1e-3);
        c.kernels.accumulate(G, k, d, C, X, rows, rows.length);
        return Array.from(G);
      });
      t.same(b, a, `m=${m} d=${d} k=${k}`);
    }
  });

  const revec = revectorizerAvailable(runtimeFacts());
  t.test(
    "a process with V8's revectorizer computes the same bits as one without",
    {
      skip: revec
        ? false
        : `needs V8 ≥ 13 on x64 with AVX2 (Node ≥ 24; this is V8 ${process.versions.v8} on ${process.arch})`,
    },
    (t) => {
      const run = (wide: string) => {
        // --trace-wasm-revectorize: V8 reports each function it revectorizes, so the test knows the
        // pass really ran in the one child and not in the other
        const r = spawnSync(process.execPath, ['--trace-wasm-revectorize', '--import=tsx', PROBE], {
          encoding: 'utf8',
          env: { ...process.env, TRIPLET_WIDE_KERNELS: wide },
          timeout: 120_000,
        });
        t.equal(r.status, 0, `probe with TRIPLET_WIDE_KERNELS=${wide} exits 0 ${r.stderr}`);
        const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
        let out: { wide?: boolean; digest?: string } = {};
        try {
          out = JSON.parse(last);
        } catch {
          t.fail(`probe printed no result: ${last.slice(0, 200)}`);
        }
        return { ...out, fused: /Begin revec function/.test(r.stdout ?? '') };
      };
      const [on, off] = [run('auto'), run('off')];
      t.equal(on.wide, true, 'auto turns the wide kernels on here');
      t.equal(on.fused, true, 'and V8 revectorized kernel functions');
      t.equal(off.wide, false, 'off keeps them off');
      t.equal(off.fused, false, 'and V8 revectorized nothing');
      t.ok(on.digest && on.digest === off.digest, `training, loss, gradient and embeddings hash alike (${on.digest})`);
      t.end();
    },
  );
}

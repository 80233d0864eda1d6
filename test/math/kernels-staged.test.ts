// Staged binary rows (Kernels.stage + Projection.embedStaged): the serving path that copies a body
// once into WebAssembly memory and embeds it in place, inline or on a helper thread.
import t, { type Test } from 'tap';
import { createAsyncRunner, createServingCompute, loadKernelModule } from '../../src/compute/index.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';
import { NonFiniteInputError } from '../../src/math/kernels/types.js';
import { ASYNC_MIN_WORK, type WasmKernels } from '../../src/math/kernels/wasm.js';
import { createRng } from '../../src/math/rng.js';

const simd = wasmSimdSupported();

/** The serving thread's kernels as an app creates them, closed when the test ends. */
function servingKernels(t: Test, helpers: number): WasmKernels {
  const c = createServingCompute({ kernels: 'wasm', embedHelpers: helpers, wide: 'auto' });
  t.teardown(() => c.close());
  return c.kernels as WasmKernels;
}

function random(seed: number, n: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1);
}

function stageRows(kern: WasmKernels, X: Float32Array) {
  const rows = kern.stage(X.byteLength);
  const bytes = new Uint8Array(X.buffer, X.byteOffset, X.byteLength);
  // in uneven chunks, as a socket delivers them
  for (let o = 0; o < bytes.byteLength; o += 1000)
    rows.write(bytes.subarray(o, Math.min(bytes.byteLength, o + 1000)), o);
  return rows;
}

t.test('embedStaged equals embed, inline and on helper threads', { skip: !simd }, async (t) => {
  for (const helpers of [0, 1, 2]) {
    const kern = servingKernels(t, helpers);
    for (const [k, d, n, normalize] of [
      [64, 130, 200, false],
      [64, 128, 160, true],
      [3, 4, 5, false],
    ] as const) {
      const W = Float64Array.from(random(k * d, k * d));
      const X = random(n + d, n * d);
      const p = kern.prepareProjection(W, k, d);
      const want = new Float32Array(n * k);
      p.embed(X, n, normalize, want);
      const rows = stageRows(kern, X);
      const got = await p.embedStaged!(rows, n, normalize);
      t.same(
        got,
        want,
        `helpers=${helpers} k=${k} d=${d} n=${n} (${n * k * d >= ASYNC_MIN_WORK ? 'helper' : 'inline'})`,
      );
      // several at once: each job has its own blocks
      const many = await Promise.all([0, 1, 2].map(() => p.embedStaged!(rows, n, normalize)));
      for (const m of many) t.same(m, want, 'concurrent jobs agree');
      rows.release();
      rows.release(); // idempotent
      p.dispose();
    }
  }
});

t.test('embedStaged reports the first non-finite value and computes nothing', { skip: !simd }, async (t) => {
  const kern = servingKernels(t, 1);
  const k = 32,
    d = 129,
    n = 300;
  const p = kern.prepareProjection(Float64Array.from(random(1, k * d)), k, d);
  for (const [row, col, v] of [
    [0, 0, NaN],
    [217, 128, Infinity],
    [299, 5, -Infinity],
  ] as const) {
    const X = random(2, n * d);
    X[row * d + col] = v;
    if (row + 1 < n) X[(row + 1) * d] = NaN; // a later bad value must not be the one reported
    const rows = stageRows(kern, X);
    let err: unknown = null;
    try {
      await p.embedStaged!(rows, n, false);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof NonFiniteInputError, `rejects for a bad value at ${row},${col}`);
    const e = err as NonFiniteInputError;
    t.same([e.row, e.column, String(e.value)], [row, col, String(v)], 'names the first bad value');
    rows.release();
  }
  p.dispose();
  t.throws(() => kern.stage(-1), RangeError);
});

t.test('async runner: helpers start on demand and close', { skip: !simd }, async (t) => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
  const r = createAsyncRunner(loadKernelModule(), memory, 2);
  t.equal(r.helpers, 2);
  await r.close();
  await t.rejects(r.run(5, 0, 1), /closed/);
});

t.test('staged writes land byte for byte, however source and target are aligned', { skip: !simd }, async (t) => {
  // chunks at every offset mod 8 from buffers at every byteOffset mod 8, small and over 64 KB:
  // misaligned ones go through the backend's bounce copy (copyIntoShared)
  const kern = servingKernels(t, 0);
  const rng = createRng(17);
  const total = 400_003 * 4;
  const bytes = Uint8Array.from({ length: total }, () => Math.floor(rng.uniform() * 256));
  const rows = kern.stage(total);
  let wrong = 0;
  const sizes = [1, 7, 1023, 1024, 4097, 65_535, 65_536, 65_537, 200_001];
  for (let o = 0, i = 0; o < total; i++) {
    const n = Math.min(sizes[i % sizes.length], total - o);
    const shift = i % 8;
    const holder = new Uint8Array(n + 8); // the chunk at byteOffset `shift` of its own buffer
    holder.set(bytes.subarray(o, o + n), shift);
    rows.write(holder.subarray(shift, shift + n), o);
    o += n;
  }
  const got = new Float32Array(total / 4);
  for (let i = 0; i < got.length; i++) got[i] = rows.value(i);
  const want = new Float32Array(bytes.buffer);
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i]) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) wrong++;
  t.equal(wrong, 0, `${total} bytes written in ${sizes.length} sizes at 8 alignments`);
  rows.release();
});

// Two kernel builds side by side in one run: `npm run bench -- --ab <other.wasm> [--d --k --m --normalize --runs]`.
// Both evaluate the same training step on the same data in this process, one thread each,
// alternating run by run, so a shared, noisy machine slows both alike. Prints each build's
// fastest and median run, the ratio, and the largest gradient difference (0 = bit-identical).
// Both sides run under this checkout's TypeScript side (argument layout, chunk size), so the other
// build must share its argument layout.
//
// Build the other side from any revision, e.g.
//   git show <rev>:src/math/kernels/wasm/kernels.ts > /tmp/k.ts && npx asc /tmp/k.ts -o /tmp/k.wasm \
//     -O3 --noAssert --runtime stub --importMemory --sharedMemory --initialMemory 1 \
//     --maximumMemory 65536 --noExportMemory --enable simd,threads --use abort=
import { loadConfig } from '../src/config.js';
import { readFileSync } from 'node:fs';
import { KERNELS_WASM_PATH } from '../src/compute/module.js';
import { useWideKernels } from '../src/compute/revectorize.js';
import { WasmHeap } from '../src/math/kernels/heap.js';
import { createWasmKernels, type WasmObjective } from '../src/math/kernels/wasm.js';
import { median, normals, stepData } from './data.js';

export interface AbOptions {
  other: string;
  d: number;
  k: number;
  m: number;
  normalize: boolean;
  runs: number;
}

function objectiveFor(
  path: string,
  set: Parameters<ReturnType<typeof createWasmKernels>['createObjective']>[0],
  normalize: boolean,
): WasmObjective {
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
  const kernels = createWasmKernels({
    module: new WebAssembly.Module(readFileSync(path)),
    memory,
    heap: new WasmHeap(memory),
  });
  return kernels.createObjective(set, { margin: 0.2, normalize, weightDecay: 0 });
}

export function abCli(o: AbOptions): string {
  const { d, k, m } = o;
  const { set, W } = stepData(d, k, m);
  const sides = [
    { name: 'built', path: KERNELS_WASM_PATH },
    { name: 'other', path: o.other },
  ].map((s) => ({
    ...s,
    obj: objectiveFor(s.path, set, o.normalize),
    grad: new Float64Array(k * d),
    ms: [] as number[],
  }));
  for (const s of sides) s.obj.evaluate(W, k, s.grad); // warm-up, and the gradients to compare
  let maxDiff = 0;
  for (let i = 0; i < k * d; i++) maxDiff = Math.max(maxDiff, Math.abs(sides[0].grad[i] - sides[1].grad[i]));
  for (let r = 0; r < o.runs; r++) {
    for (const s of sides) {
      const t0 = performance.now();
      s.obj.evaluate(W, k, s.grad);
      s.ms.push(performance.now() - t0);
    }
  }
  for (const s of sides) s.obj.dispose();
  const [a, b] = sides.map((s) => ({ min: Math.min(...s.ms), med: median(s.ms) }));
  return [
    `training step d=${d} k=${k} m=${m}${o.normalize ? ' normalised' : ''}, 1 thread, ${o.runs} alternating runs each`,
    `  built ${KERNELS_WASM_PATH}: fastest ${a.min.toFixed(1)} ms, median ${a.med.toFixed(1)} ms`,
    `  other ${o.other}: fastest ${b.min.toFixed(1)} ms, median ${b.med.toFixed(1)} ms`,
    `  built/other: ${(a.min / b.min).toFixed(3)} (fastest), ${(a.med / b.med).toFixed(3)} (median); largest gradient difference ${maxDiff.toExponential(2)}`,
  ].join('\n');
}

export interface AbWideOptions {
  d: number;
  k: number;
  m: number;
  normalize: boolean;
  runs: number;
}

/**
 * `npm run bench -- --ab-wide`: this build's narrow (4×8) against its wide (4×16) tiles, one thread,
 * alternating, on this runtime as the service would set it up (useWideKernels: on Node ≥ 24 with
 * AVX2 the revectorizer is on, for both sides). Also times a 256-row embedding.
 */
export function abWideCli(o: AbWideOptions): string {
  const { d, k, m } = o;
  const detected = useWideKernels(loadConfig().compute.wide);
  const { set, W, rng } = stepData(d, k, m);
  const X = Float32Array.from(normals(rng, 256 * d));
  const module = new WebAssembly.Module(readFileSync(KERNELS_WASM_PATH));
  const sides = [false, true].map((wide) => {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
    const kernels = createWasmKernels({ module, memory, heap: new WasmHeap(memory), wide });
    const obj = kernels.createObjective(set, { margin: 0.2, normalize: o.normalize, weightDecay: 0 });
    const proj = kernels.prepareProjection(W, k, d);
    return {
      wide,
      obj,
      proj,
      grad: new Float64Array(k * d),
      y: new Float32Array(256 * k),
      ms: [] as number[],
      embedMs: [] as number[],
    };
  });
  for (const s of sides) {
    for (let i = 0; i < 3; i++) s.obj.evaluate(W, k, s.grad); // warm-up: V8 optimises hot functions later
    for (let i = 0; i < 50; i++) s.proj.embed(X, 256, false, s.y);
  }
  let same = true;
  for (let i = 0; i < k * d; i++) same &&= Object.is(sides[0].grad[i], sides[1].grad[i]);
  for (let i = 0; i < 256 * k; i++) same &&= Object.is(sides[0].y[i], sides[1].y[i]);
  for (let r = 0; r < o.runs; r++) {
    for (const s of sides) {
      let t0 = performance.now();
      s.obj.evaluate(W, k, s.grad);
      s.ms.push(performance.now() - t0);
      t0 = performance.now();
      for (let i = 0; i < 20; i++) s.proj.embed(X, 256, false, s.y);
      s.embedMs.push((performance.now() - t0) / 20);
    }
  }
  for (const s of sides) {
    s.obj.dispose();
    s.proj.dispose();
  }
  const [a, b] = sides.map((s) => ({ min: Math.min(...s.ms), med: median(s.ms), emb: median(s.embedMs) }));
  return [
    `narrow against wide tiles, node ${process.version} (V8 ${process.versions.v8}), revectorizer ${detected ? 'on' : 'off'}; d=${d} k=${k} m=${m}${o.normalize ? ' normalised' : ''}, 1 thread, ${o.runs} alternating runs each`,
    `  narrow 4×8:  step fastest ${a.min.toFixed(1)} ms, median ${a.med.toFixed(1)} ms; embed 256 rows ${a.emb.toFixed(3)} ms`,
    `  wide 4×16:   step fastest ${b.min.toFixed(1)} ms, median ${b.med.toFixed(1)} ms; embed 256 rows ${b.emb.toFixed(3)} ms`,
    `  wide/narrow: ${(b.med / a.med).toFixed(3)} (step, median), ${(b.emb / a.emb).toFixed(3)} (embed); results ${same ? 'bit-identical' : 'DIFFER'}`,
  ].join('\n');
}

// Shared by the benchmarks: seeded data like numpy_triplet_bench.py's, and a median.
import { createRng } from '../src/math/rng.js';
import type { TripletSet } from '../src/math/types.js';

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Standard normal via Box–Muller on the project's seeded generator. */
export function normals(rng: ReturnType<typeof createRng>, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng.uniform(), 1e-300);
    const v = rng.uniform();
    const r = Math.sqrt(-2 * Math.log(u)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * The training step's data as numpy_triplet_bench.py makes it: A, P, N standard normal and W
 * ~ N(0, 1/d), from seed 0 (then the returned rng, for anything more the caller draws).
 */
export function stepData(
  d: number,
  k: number,
  m: number,
): { set: TripletSet; W: Float64Array; rng: ReturnType<typeof createRng> } {
  const rng = createRng(0);
  const set = { m, d, anchors: normals(rng, m * d), positives: normals(rng, m * d), negatives: normals(rng, m * d) };
  const W = Float64Array.from(normals(rng, k * d, 1 / Math.sqrt(d)));
  return { set, W, rng };
}

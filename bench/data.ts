// Shared by the benchmarks: seeded data like numpy_triplet_bench.py's, and a median.
import { createRng } from '../src/math/rng.js';
import type { TripletSet } from '../src/math/types.js';

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** CPU time of this process, every thread (a pool's helpers too), in ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

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

/**
 * Rows like a face gallery's embeddings: `identities` centres, `perIdentity` samples each, in `dim`
 * values. The centres are standard normal in a `latent`-dimensional subspace (a fixed random map to
 * `dim`), each sample its centre plus isotropic noise of `spread` per value, so the data has a low
 * intrinsic dimension and clusters, as trained embeddings do (random full-rank normals are HNSW's
 * worst case). Row i belongs to identity ⌊i / perIdentity⌋. `probe` draws fresh samples of
 * identities chosen at random: the queries a retrieval app sends.
 */
export function clusteredRows(
  seed: number,
  o: { identities: number; perIdentity: number; dim: number; latent?: number; spread?: number },
): { rows: Float32Array; n: number; probe(count: number): Float32Array } {
  const rng = createRng(seed);
  const latent = o.latent ?? 32;
  const spread = o.spread ?? 0.25;
  const map = normals(rng, latent * o.dim, 1 / Math.sqrt(latent));
  const centres = new Float32Array(o.identities * o.dim);
  for (let c = 0; c < o.identities; c++) {
    const z = normals(rng, latent);
    for (let r = 0; r < o.dim; r++) {
      let s = 0;
      for (let l = 0; l < latent; l++) s += z[l] * map[l * o.dim + r];
      centres[c * o.dim + r] = s;
    }
  }
  const sample = (out: Float32Array, at: number, c: number) => {
    const noise = normals(rng, o.dim, spread);
    for (let r = 0; r < o.dim; r++) out[at + r] = centres[c * o.dim + r] + noise[r];
  };
  const n = o.identities * o.perIdentity;
  const rows = new Float32Array(n * o.dim);
  for (let i = 0; i < n; i++) sample(rows, i * o.dim, Math.floor(i / o.perIdentity));
  return {
    rows,
    n,
    probe(count: number) {
      const q = new Float32Array(count * o.dim);
      for (let j = 0; j < count; j++) sample(q, j * o.dim, rng.int(o.identities));
      return q;
    },
  };
}

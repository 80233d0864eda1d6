// One Distance object for losses, miners, metrics and serving, as pytorch-metric-learning injects a
// distance into its losses and miners. Each distance knows its direct form (from differences), its
// Gram form (from norms and a dot product, for products that come from the kernels) and its
// derivative; the block loops that apply them live in distances.ts, the batch loss and the metrics.
import type { DataArray } from './types.js';

/** Every distance the core knows. */
export type DistanceKind = 'squared' | 'euclidean' | 'cosine';

/** The HTTP API's spelling of the same three (`squared_euclidean` is `squared`). */
export type Metric = 'euclidean' | 'squared_euclidean' | 'cosine';

/**
 * Squared distances at or below this give the losses' euclidean distance √ε and zero gradient:
 * the derivative of √s at s = 0 does not exist, and coincident points (zero-distance positive
 * pairs) are common in a batch.
 */
export const EUCLIDEAN_EPSILON = 1e-12;

export interface Distance {
  readonly name: DistanceKind;
  /** d(x, y) for x = Ea[ao..ao+k) and y = Eb[bo..bo+k), from differences (exact for near-identical rows). */
  pair(Ea: DataArray, ao: number, Eb: DataArray, bo: number, k: number): number;
  /** d(x, y) from ‖x‖², ‖y‖² and xᵀy. Cancellation blurs tiny distances: use `pair` where they matter. */
  fromGram(sx: number, sy: number, dot: number): number;
  /** d(x, x) for a row with ‖x‖² = sx, which the Gram form only approximates. */
  self(sx: number): number;
  /** d as a function of the squared euclidean distance, for the distances that are one; null otherwise. */
  readonly fromSquared: ((s: number) => number) | null;
  /**
   * Backward pass of one pair: adds g·∂d(eᵢ, eⱼ)/∂eᵢ into G[io..io+k) and g·∂d/∂eⱼ into G[jo..jo+k),
   * where eᵢ = E[io..io+k), eⱼ = E[jo..jo+k), s = ‖eᵢ − eⱼ‖² and dist = d(eᵢ, eⱼ) from the forward pass.
   */
  backprop(
    g: number,
    E: Float64Array,
    io: number,
    jo: number,
    k: number,
    s: number,
    dist: number,
    G: Float64Array,
  ): void;
}

function squaredDifference(Ea: DataArray, ao: number, Eb: DataArray, bo: number, k: number): number {
  let s = 0;
  for (let r = 0; r < k; r++) {
    const v = Ea[ao + r] - Eb[bo + r];
    s += v * v;
  }
  return s;
}

/** G[io..] += c·(eᵢ − eⱼ), G[jo..] −= c·(eᵢ − eⱼ): the gradient of any function of ‖eᵢ − eⱼ‖². */
function addDifference(c: number, E: Float64Array, io: number, jo: number, k: number, G: Float64Array): void {
  for (let r = 0; r < k; r++) {
    const v = c * (E[io + r] - E[jo + r]);
    G[io + r] += v;
    G[jo + r] -= v;
  }
}

/** ‖x − y‖², computed from differences so it is never negative. */
export const squaredDistance: Distance = Object.freeze({
  name: 'squared' as const,
  pair: (Ea: DataArray, ao: number, Eb: DataArray, bo: number, k: number) =>
    Math.max(0, squaredDifference(Ea, ao, Eb, bo, k)),
  fromGram: (sx: number, sy: number, dot: number) => Math.max(0, sx + sy - 2 * dot),
  self: () => 0,
  fromSquared: (s: number) => s,
  backprop(g: number, E: Float64Array, io: number, jo: number, k: number, _s: number, _dist: number, G: Float64Array) {
    addDifference(2 * g, E, io, jo, k, G);
  },
});

/**
 * √max(‖x − y‖², floor). The floor is 0 for reporting and ranking (exact distances); the losses use
 * EUCLIDEAN_EPSILON, below which the distance is the constant √ε and carries no gradient.
 */
export function createEuclideanDistance(floor = 0): Distance {
  if (!(floor >= 0 && Number.isFinite(floor)))
    throw new RangeError(`euclidean floor must be finite and ≥ 0 (got ${floor})`);
  const fromSquared = (s: number) => Math.sqrt(Math.max(s, floor));
  return Object.freeze({
    name: 'euclidean' as const,
    pair: (Ea: DataArray, ao: number, Eb: DataArray, bo: number, k: number) =>
      fromSquared(squaredDifference(Ea, ao, Eb, bo, k)),
    fromGram: (sx: number, sy: number, dot: number) => Math.sqrt(Math.max(floor, sx + sy - 2 * dot)),
    self: () => Math.sqrt(floor),
    fromSquared,
    backprop(g: number, E: Float64Array, io: number, jo: number, k: number, s: number, dist: number, G: Float64Array) {
      if (!(s > floor)) return; // d = √floor is constant there
      addDifference(g / dist, E, io, jo, k, G);
    },
  });
}

/** Exact euclidean distance (floor 0). */
export const euclideanDistance: Distance = createEuclideanDistance(0);

/** The losses' euclidean distance, floored at EUCLIDEAN_EPSILON. */
export const smoothEuclideanDistance: Distance = createEuclideanDistance(EUCLIDEAN_EPSILON);

/**
 * 1 − xᵀy/(‖x‖‖y‖), clamped to [0, 2]. A zero vector has no direction: it is treated as orthogonal to
 * everything (distance 1, zero gradient).
 */
export const cosineDistance: Distance = Object.freeze({
  name: 'cosine' as const,
  pair(Ea: DataArray, ao: number, Eb: DataArray, bo: number, k: number) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let r = 0; r < k; r++) {
      const x = Ea[ao + r];
      const y = Eb[bo + r];
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    if (na === 0 || nb === 0) return 1;
    const cos = dot / Math.sqrt(na * nb);
    return Math.min(2, Math.max(0, 1 - cos));
  },
  fromGram(sx: number, sy: number, dot: number) {
    if (sx === 0 || sy === 0) return 1;
    return Math.min(2, Math.max(0, 1 - dot / Math.sqrt(sx * sy)));
  },
  self: (sx: number) => (sx !== 0 ? 0 : 1),
  fromSquared: null,
  backprop(g: number, E: Float64Array, io: number, jo: number, k: number, _s: number, _dist: number, G: Float64Array) {
    let dot = 0;
    let sx = 0;
    let sy = 0;
    for (let r = 0; r < k; r++) {
      const x = E[io + r];
      const y = E[jo + r];
      dot += x * y;
      sx += x * x;
      sy += y * y;
    }
    if (sx === 0 || sy === 0) return;
    const inv = 1 / Math.sqrt(sx * sy);
    const cos = dot * inv;
    if (!(cos > -1 && cos < 1)) return; // the clamp holds d constant at the ends
    // ∂d/∂x = −(y/(‖x‖‖y‖) − cos·x/‖x‖²), and symmetrically for y
    for (let r = 0; r < k; r++) {
      const x = E[io + r];
      const y = E[jo + r];
      G[io + r] -= g * (y * inv - (cos * x) / sx);
      G[jo + r] -= g * (x * inv - (cos * y) / sy);
    }
  },
});

/**
 * The distance called `name` (`squared_euclidean` is the API's name for `squared`). With
 * `{ smooth: true }` euclidean is the losses' floored one (smoothEuclideanDistance).
 */
export function distanceByName(name: DistanceKind | Metric, opts: { smooth?: boolean } = {}): Distance {
  switch (name) {
    case 'squared':
    case 'squared_euclidean':
      return squaredDistance;
    case 'euclidean':
      return opts.smooth ? smoothEuclideanDistance : euclideanDistance;
    case 'cosine':
      return cosineDistance;
    default:
      throw new RangeError(`unknown distance ${String(name)}`);
  }
}

// Shapes of exact gallery search (pure core): row-major typed arrays in, item indexes out.
import type { Distance, DistanceKind, Metric } from '../distance.js';

/** A distance the search ranks by: squared euclidean, euclidean (ranked on its square) or cosine. */
export type SearchMetric = Distance | DistanceKind | Metric;

export interface SearchOptions {
  /** results per query (at most n are returned); a positive integer */
  k: number;
  metric: SearchMetric;
  /** keep only items at distance ≤ maxDistance (finite, ≥ 0); omitted: no limit */
  maxDistance?: number;
  /**
   * bytes of one block of products (b queries × C gallery rows × 4 bytes, b ≤ QUERY_BATCH,
   * C a multiple of 8 and at least 8; see exact.ts). Default SEARCH_BLOCK_BYTES.
   */
  blockBytes?: number;
}

/** One query's results, nearest first, ties by item index. */
export interface SearchHits {
  /** item indexes into the gallery (the caller maps them to ids) */
  indexes: Int32Array;
  /** the distances, from the direct form in float64 (Distance.pair) */
  distances: Float64Array;
}

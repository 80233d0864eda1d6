// Exact batched top-k search: q queries against a prepared gallery, nearest first, ties by index.
//
// Memory. Queries go in batches of at most QUERY_BATCH; each batch scans the gallery in blocks of
// R rows, whose products (R × stride float32, stride = the batch's q rounded up to 8) are the only
// large scratch: R = ⌊blockBytes / (4·stride)⌋, so a block takes at most blockBytes (default
// SEARCH_BLOCK_BYTES = 4 MiB: 16,384 rows for a batch of 64, 131,072 for one query), whatever n.
// Beside it: the gallery's one resident copy (n·⌈k/8⌉·8·4 bytes, made by createGallery) and the
// heaps (q·k·12 bytes).
//
// Ranking. The blocks give dot products xᵀy (float32 in the WebAssembly kernels); the scan ranks by
// the Gram form — ‖x‖² + ‖y‖² − 2xᵀy for the euclidean distances (euclidean ranked on its square),
// 1 − xᵀy/(‖x‖‖y‖) for cosine — and keeps a bounded max-heap per query (top-k.ts). The k kept
// are then rescored with the direct form (Distance.pair, float64, exact for near-identical rows),
// filtered by maxDistance and sorted by (distance, index). So distances and their order are
// exact; which item takes the k-th place among items within the float32 dot product's error
// (≤ k_dim·2⁻²⁴·‖x‖‖y‖) of each other follows the Gram form, as a float32 brute force would.
// Rows are scanned in ascending index order, so an item as far as the heap's root never displaces
// it: ties go to the smaller index without a second comparison in the hot loop.
import { distanceByName, type Distance } from '../distance.js';
import type { RowProducts } from '../kernels/types.js';
import type { DataArray } from '../types.js';
import { assertFiniteRows, assertMaxDistance, assertShape, assertTopK } from './checks.js';
import type { Gallery } from './gallery.js';
import { TopK, worse } from './top-k.js';
import type { SearchHits, SearchOptions } from './types.js';

/** Default bytes of one block of products (see the file's comment). */
export const SEARCH_BLOCK_BYTES = 4 * 1024 * 1024;
/** Queries per batch: their panels (q·k·4 bytes, 128 KiB at k = 128) stay in L2 while rows stream. */
export const QUERY_BATCH = 256;
/**
 * Bound on the float32 dot product's error relative to ‖x‖‖y‖, per value of k: γ_k ≈ k·2⁻²⁴ for
 * any summation order, doubled. maxDistance is applied to the Gram form with this slack and then
 * exactly to the rescored distance, so no item within maxDistance is lost to rounding.
 */
const DOT_SLACK_PER_DIM = 2 ** -23;

/** The k nearest gallery items to each of the q queries (Q, q×k row-major). */
export function exactSearch(gallery: Gallery, Q: DataArray, q: number, opts: SearchOptions): SearchHits[] {
  const { n, k } = gallery;
  assertShape('queries', Q, q, k);
  assertFiniteRows('queries', Q, q, k);
  assertTopK(opts.k);
  assertMaxDistance(opts.maxDistance);
  const blockBytes = opts.blockBytes ?? SEARCH_BLOCK_BYTES;
  if (!(Number.isInteger(blockBytes) && blockBytes >= 1))
    throw new RangeError(`blockBytes must be a positive integer (got ${blockBytes})`);
  const distance = typeof opts.metric === 'string' ? distanceByName(opts.metric) : opts.metric;
  const cosine = distance.name === 'cosine';
  const top = Math.min(opts.k, n);
  const hits: SearchHits[] = [];
  for (let b0 = 0; b0 < q; b0 += QUERY_BATCH) {
    const qb = Math.min(QUERY_BATCH, q - b0);
    const Qb = Q.subarray(b0 * k, (b0 + qb) * k);
    const heaps = Array.from({ length: qb }, () => new TopK(top));
    if (top > 0) {
      const limits = selectionLimits(gallery, Qb, qb, distance, opts.maxDistance);
      const products = gallery.against(Qb, qb);
      try {
        scanBlocks(gallery, products, Qb, qb, cosine, limits, heaps, blockBytes);
      } finally {
        products.dispose();
      }
    }
    for (let j = 0; j < qb; j++) hits.push(rescore(gallery, Qb, j, heaps[j], distance, opts.maxDistance));
  }
  return hits;
}

/** Per query: the largest Gram-form value that may still be within maxDistance (+∞ without one). */
function selectionLimits(
  gallery: Gallery,
  Q: DataArray,
  q: number,
  distance: Distance,
  maxDistance: number | undefined,
): Float64Array {
  const limits = new Float64Array(q).fill(Infinity);
  if (maxDistance === undefined) return limits;
  const { k, squaredNorms } = gallery;
  const slack = k * DOT_SLACK_PER_DIM;
  if (distance.name === 'cosine') return limits.fill(maxDistance + slack);
  // the euclidean distances rank on the square: |2·err(xᵀy)| ≤ slack·‖x‖‖y‖ ≤ slack·(‖x‖² + ‖y‖²)/2
  const limit = distance.name === 'squared' ? maxDistance : maxDistance * maxDistance;
  let maxNorm = 0;
  for (let i = 0; i < squaredNorms.length; i++) maxNorm = Math.max(maxNorm, squaredNorms[i]);
  for (let j = 0; j < q; j++) limits[j] = limit + slack * (maxNorm + squaredNormOf(Q, j, k));
  return limits;
}

function squaredNormOf(Q: DataArray, j: number, k: number): number {
  let s = 0;
  for (let r = 0; r < k; r++) s += Q[j * k + r] * Q[j * k + r];
  return s;
}

/** Every block of rows through the products, each scanned into the queries' heaps. */
function scanBlocks(
  gallery: Gallery,
  products: RowProducts,
  Q: DataArray,
  q: number,
  cosine: boolean,
  limits: Float64Array,
  heaps: TopK[],
  blockBytes: number,
): void {
  const { n, k } = gallery;
  const stride = products.stride;
  const rows = Math.max(1, Math.floor(blockBytes / (4 * stride)));
  // bars[j]: a candidate enters query j's heap only at or below it — the limit, then min(root, limit)
  const bars = Float64Array.from(limits);
  const perQuery = new Float64Array(q);
  for (let j = 0; j < q; j++) {
    const s = squaredNormOf(Q, j, k);
    perQuery[j] = cosine ? (s > 0 ? 1 / Math.sqrt(s) : 0) : s;
  }
  const perRow = cosine ? gallery.inverseNorms() : gallery.squaredNorms;
  const scan = cosine ? scanCosine : scanSquared;
  for (let r0 = 0; r0 < n; r0 += rows) {
    const r1 = Math.min(n, r0 + rows);
    scan(products.block(r0, r1), stride, r0, r1, perRow, perQuery, limits, bars, heaps);
  }
}

type Scan = (
  P: DataArray,
  stride: number,
  r0: number,
  r1: number,
  perRow: Float64Array,
  perQuery: Float64Array,
  limits: Float64Array,
  bars: Float64Array,
  heaps: TopK[],
) => void;

/** ‖x‖² + ‖y‖² − 2xᵀy; row by row so P is read in order. */
const scanSquared: Scan = (P, stride, r0, r1, norms, qNorms, limits, bars, heaps) => {
  const q = heaps.length;
  for (let i = r0; i < r1; i++) {
    const o = (i - r0) * stride;
    const s = norms[i];
    for (let j = 0; j < q; j++) {
      const v = s + qNorms[j] - 2 * P[o + j];
      if (v <= bars[j]) admit(heaps[j], v, i, j, limits, bars);
    }
  }
};

/** 1 − xᵀy/(‖x‖‖y‖) with zero rows at 1 (their inverse norm is 0), unclamped: the clamp keeps order. */
const scanCosine: Scan = (P, stride, r0, r1, inv, qInv, limits, bars, heaps) => {
  const q = heaps.length;
  for (let i = r0; i < r1; i++) {
    const o = (i - r0) * stride;
    const a = inv[i];
    for (let j = 0; j < q; j++) {
      const v = 1 - P[o + j] * a * qInv[j];
      if (v <= bars[j]) admit(heaps[j], v, i, j, limits, bars);
    }
  }
};

function admit(heap: TopK, v: number, i: number, j: number, limits: Float64Array, bars: Float64Array): void {
  if (heap.offer(v, i) && heap.full) bars[j] = Math.min(heap.dist[0], limits[j]);
}

/** The heap's items at their exact distances, within maxDistance, by (distance, index). */
function rescore(
  gallery: Gallery,
  Q: DataArray,
  j: number,
  heap: TopK,
  distance: Distance,
  maxDistance: number | undefined,
): SearchHits {
  const { k, rows } = gallery;
  const order: number[] = [];
  const exact = new Float64Array(heap.size);
  for (let t = 0; t < heap.size; t++) {
    exact[t] = distance.pair(rows, heap.idx[t] * k, Q, j * k, k);
    if (maxDistance === undefined || exact[t] <= maxDistance) order.push(t);
  }
  order.sort((a, b) => (worse(exact[a], heap.idx[a], exact[b], heap.idx[b]) ? 1 : -1));
  const indexes = new Int32Array(order.length);
  const distances = new Float64Array(order.length);
  for (let t = 0; t < order.length; t++) {
    indexes[t] = heap.idx[order[t]];
    distances[t] = exact[order[t]];
  }
  return { indexes, distances };
}

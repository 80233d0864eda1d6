// Exact batched top-k search: q queries against a prepared gallery, nearest first, ties by index.
//
// Memory. Queries go in batches of at most QUERY_BATCH (b queries); each batch scans the gallery
// in blocks of C rows, whose products — a b × C block, float32 in the WebAssembly kernels — are
// the only large scratch: C = ⌊blockBytes / (4·b)⌋ rounded down to a multiple of 8 (at least 8),
// so a block takes at most max(blockBytes, 32·b) bytes whatever n is. With the default
// SEARCH_BLOCK_BYTES = 4 MiB that is 16,384 rows for a batch of 64 and the whole of a
// 1,000,000-row gallery for one query. Beside it: the gallery's one copy in the kernels
// (⌈n/8⌉·8 · ⌈k/8⌉·8 · 4 bytes, made by createGallery) and the heaps (q·k·12 bytes).
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
import { ROW_PRODUCTS_ALIGN, type RowProducts } from '../kernels/types.js';
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
  const cols = Math.max(ROW_PRODUCTS_ALIGN, Math.floor(blockBytes / (4 * q) / ROW_PRODUCTS_ALIGN) * ROW_PRODUCTS_ALIGN);
  // bars[j]: a candidate enters query j's heap only at or below it — the limit, then min(root, limit)
  const bars = Float64Array.from(limits);
  const perQuery = new Float64Array(q);
  for (let j = 0; j < q; j++) {
    const s = squaredNormOf(Q, j, k);
    perQuery[j] = cosine ? (s > 0 ? 1 / Math.sqrt(s) : 0) : s;
  }
  const perRow = cosine ? gallery.inverseNorms() : gallery.squaredNorms;
  const scan = cosine ? scanCosine : scanSquared;
  for (let r0 = 0; r0 < n; r0 += cols) {
    const r1 = Math.min(n, r0 + cols);
    const { values, stride } = products.block(r0, r1);
    for (let j = 0; j < q; j++)
      scan(values, j * stride - r0, r0, r1, perRow, perQuery[j], limits[j], bars, j, heaps[j]);
  }
}

/** One query over one block: P[at + i] is the product of row i with the query, r0 ≤ i < r1. */
type Scan = (
  P: DataArray,
  at: number,
  r0: number,
  r1: number,
  perRow: Float64Array,
  perQuery: number,
  limit: number,
  bars: Float64Array,
  j: number,
  heap: TopK,
) => void;

/** ‖x‖² + ‖y‖² − 2xᵀy. */
const scanSquared: Scan = (P, at, r0, r1, norms, qNorm, limit, bars, j, heap) => {
  let bar = bars[j];
  for (let i = r0; i < r1; i++) {
    const v = norms[i] + qNorm - 2 * P[at + i];
    if (v <= bar) bar = admit(heap, v, i, limit, bar);
  }
  bars[j] = bar;
};

/** 1 − xᵀy/(‖x‖‖y‖) with zero rows at 1 (their inverse norm is 0), unclamped: the clamp keeps order. */
const scanCosine: Scan = (P, at, r0, r1, inv, qInv, limit, bars, j, heap) => {
  let bar = bars[j];
  for (let i = r0; i < r1; i++) {
    const v = 1 - P[at + i] * inv[i] * qInv;
    if (v <= bar) bar = admit(heap, v, i, limit, bar);
  }
  bars[j] = bar;
};

/** Offers (v, i) to the heap; returns the new bar: the limit, then min(root, limit) once full. */
function admit(heap: TopK, v: number, i: number, limit: number, bar: number): number {
  if (heap.offer(v, i) && heap.full) return Math.min(heap.dist[0], limit);
  return bar;
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

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
// Ranking. The blocks give dot products xᵀy (float32 in the WebAssembly kernels), from which the
// scan forms the Gram form — ‖x‖² + ‖y‖² − 2xᵀy for the euclidean distances (euclidean screened
// on its square), 1 − xᵀy/(‖x‖‖y‖) for cosine. The Gram form only screens: it is within a proven
// slack of the exact value (the float32 dot product's error, k·2⁻²³·(‖x‖² + ‖y‖²) at most, which
// on rows far from the origin can exceed the distances between them), so a row whose Gram value
// is more than that slack past the heap's root cannot belong in the top k and is skipped with one
// comparison. Every other row gets its exact distance (Distance.pair, float64 from differences)
// and is offered to a bounded max-heap per query (top-k.ts) on (exact distance, index). So the
// items, their distances and their order are those of a float64 brute force, ties by index
// (rows are scanned in ascending order: an item as far as the root never displaces it).
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
 * any summation order, doubled; one more k's worth covers the rounding of float64 inputs to
 * float32 and the float64 norms and sums. The Gram form is within (k + 1)·this·(‖x‖² + ‖y‖²) of
 * the exact squared distance (within (k + 1)·this of the exact cosine distance).
 */
const DOT_SLACK_PER_DIM = 2 ** -23;
/**
 * The absolute error a float32 product can add where it underflows (rows of magnitude ≲ 1e-19:
 * products below 2⁻¹²⁶ lose their relative precision, below 2⁻¹⁴⁹ vanish), per value of k, doubled.
 * On such rows the screen lets (almost) every row through: exact, at a brute force's cost.
 */
const UNDERFLOW_PER_DIM = 2 ** -148;
/** Relative widening of a squared bar taken from a euclidean distance e: any s with √s ≤ e has s ≤ e²·(1 + 2⁻⁵⁰). */
const SQRT_PAD = 1 + 2 ** -50;

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
    const tops = Array.from({ length: qb }, (_, j) => new ExactTop(gallery, Qb, j, top, distance, opts.maxDistance));
    if (top > 0) {
      const products = gallery.against(Qb, qb);
      try {
        scanBlocks(gallery, products, Qb, qb, cosine, tops, blockBytes);
      } finally {
        products.dispose();
      }
    }
    for (const t of tops) hits.push(t.hits());
  }
  return hits;
}

/**
 * One query's exact top k: the rows the Gram screen lets through get their exact distance and go
 * into a heap on (exact distance, index). `bar` is the largest Gram value that may still belong:
 * the exact root (or maxDistance) in the Gram form's units, plus the screen's slack.
 */
class ExactTop {
  readonly heap: TopK;
  bar: number;
  /** the Gram form's worst error for this query against any row */
  private readonly slack: number;
  /** maxDistance in the Gram form's units, plus the slack (+∞ without one) */
  private readonly limit: number;
  private readonly qo: number;
  /** the exact distance's units → the Gram form's: squared for euclidean (a padded square), else as is */
  private readonly toGram: (d: number) => number;

  constructor(
    private readonly gallery: Gallery,
    private readonly Q: DataArray,
    j: number,
    top: number,
    private readonly distance: Distance,
    private readonly maxDistance: number | undefined,
  ) {
    const { k } = gallery;
    this.heap = new TopK(top);
    this.qo = j * k;
    const perDim = (k + 1) * DOT_SLACK_PER_DIM;
    const qNorm = squaredNormOf(Q, j, k);
    if (distance.name === 'cosine') {
      const qInv = qNorm > 0 ? 1 / Math.sqrt(qNorm) : 0;
      this.slack = perDim + 2 ** -40 + UNDERFLOW_PER_DIM * k * gallery.maxInverseNorm() * qInv;
      this.toGram = (d) => d;
    } else {
      this.slack = perDim * (gallery.maxSquaredNorm + qNorm) + 2 * UNDERFLOW_PER_DIM * k;
      this.toGram = distance.name === 'euclidean' ? (d) => d * d * SQRT_PAD : (d) => d;
    }
    this.limit = maxDistance === undefined ? Infinity : this.toGram(maxDistance) + this.slack;
    this.bar = this.limit;
  }

  /** Offers row i (its Gram value was ≤ bar) at its exact distance; returns the new bar. */
  admit(i: number): number {
    const { gallery, heap } = this;
    const d = this.distance.pair(gallery.rows, i * gallery.k, this.Q, this.qo, gallery.k);
    if (this.maxDistance !== undefined && !(d <= this.maxDistance)) return this.bar;
    if (heap.offer(d, i) && heap.full) this.bar = Math.min(this.limit, this.toGram(heap.dist[0]) + this.slack);
    return this.bar;
  }

  /** The heap's items by (distance, index). */
  hits(): SearchHits {
    const { heap } = this;
    const order = Array.from({ length: heap.size }, (_, t) => t);
    order.sort((a, b) => (worse(heap.dist[a], heap.idx[a], heap.dist[b], heap.idx[b]) ? 1 : -1));
    return {
      indexes: Int32Array.from(order, (t) => heap.idx[t]),
      distances: Float64Array.from(order, (t) => heap.dist[t]),
    };
  }
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
  tops: ExactTop[],
  blockBytes: number,
): void {
  const { n, k } = gallery;
  const cols = Math.max(ROW_PRODUCTS_ALIGN, Math.floor(blockBytes / (4 * q) / ROW_PRODUCTS_ALIGN) * ROW_PRODUCTS_ALIGN);
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
    for (let j = 0; j < q; j++) scan(values, j * stride - r0, r0, r1, perRow, perQuery[j], tops[j]);
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
  top: ExactTop,
) => void;

/** ‖x‖² + ‖y‖² − 2xᵀy. */
const scanSquared: Scan = (P, at, r0, r1, norms, qNorm, top) => {
  let bar = top.bar;
  for (let i = r0; i < r1; i++) {
    const v = norms[i] + qNorm - 2 * P[at + i];
    if (v <= bar) bar = top.admit(i);
  }
};

/** 1 − xᵀy/(‖x‖‖y‖) with zero rows at 1 (their inverse norm is 0), unclamped: the slack covers the clamp. */
const scanCosine: Scan = (P, at, r0, r1, inv, qInv, top) => {
  let bar = top.bar;
  for (let i = r0; i < r1; i++) {
    const v = 1 - P[at + i] * inv[i] * qInv;
    if (v <= bar) bar = top.admit(i);
  }
};

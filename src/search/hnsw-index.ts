// An approximate top-k index over a gallery's embeddings: HNSW graphs from hnswlib-node
// (docs/decisions/0032-hnsw-index.md), in the shapes of exact search (src/math/search).
//
// Why here and not in src/math/search: it wraps a native addon, and the math core imports no
// package but numerics (test/architecture.test.ts). It reuses the core's checks, distances and
// SearchHits, so an exact and an approximate answer read the same.
//
// Items are the caller's item indexes (the gallery's row numbers), used as hnswlib labels. The
// native index keeps its own float32 copy of every row; the hits it finds are rescored from that
// copy in float64 with the direct form (Distance.pair) and sorted by (distance, index), as
// exactSearch does, so both agree on every item both return: exactly for squared and euclidean,
// to float32 rounding for cosine (hnswlib stores cosine rows as unit vectors).
//
// Updates. hnswlib marks removed items deleted (they stay in the graph as waypoints and keep their
// memory) and updates a live item's row in place, relinking its neighbours. A removed index that
// comes back takes its old slot again. Replacing deleted slots by other labels
// (allowReplaceDeleted) is off: hnswlib 0.8's replacement erases the label map entry of the slot's
// previous label even when that label has since been added again elsewhere, which would leave an
// item that can no longer be removed. So `deleted` only grows: rebuild when it is a large share.
//
// Determinism: one thread, levels drawn from hnswlib's generator seeded with `seed`, so the same
// rows in the same order with the same parameters give the same graph and the same answers.
// Everything here is synchronous and single-threaded: a build of 10⁵–10⁶ rows takes tens of
// seconds to many minutes, so it belongs in a worker, never on the HTTP thread.
import { createRequire } from 'node:module';
import type { HierarchicalNSW as NativeIndex } from 'hnswlib-node';
import { distanceByName, type Distance } from '../math/distance.js';
import { createRng } from '../math/rng.js';
import { assertFiniteRows, assertShape, assertTopK, assertMaxDistance } from '../math/search/checks.js';
import { exactSearch } from '../math/search/exact.js';
import type { Gallery } from '../math/search/gallery.js';
import type { SearchHits } from '../math/search/types.js';
import type { DataArray } from '../math/types.js';

// hnswlib-node is CommonJS; loaded through require so that a missing or broken addon fails here,
// with its own message, only for callers that build an index.
const require = createRequire(import.meta.url);

export type HnswMetric = 'squared' | 'euclidean' | 'cosine';

export interface HnswParams {
  /** links per node above layer 0 (2M on layer 0): memory and recall grow with it */
  M: number;
  /** candidate list while inserting: build time and graph quality grow with it */
  efConstruction: number;
  /** candidate list while searching, unless a search names its own ef (at least the k asked) */
  efSearch: number;
  /** seeds the level of each inserted node */
  seed: number;
}

/**
 * recall@10 ≥ 0.95 on clustered 128-d data at 2·10⁵ and 10⁶ rows, where ef 40 already reached it
 * (docs/performance.md, "Gallery search (HNSW)"); random full-rank data needs a much larger
 * efSearch (decisions 0026, 0032): measure with measureRecall on the real embeddings.
 */
export const HNSW_DEFAULTS: Readonly<HnswParams> = Object.freeze({
  M: 16,
  efConstruction: 200,
  efSearch: 64,
  seed: 100,
});

export interface HnswSearchOptions {
  /** results per query (at most the live items); a positive integer */
  k: number;
  /** candidate list of this search (default: the index's efSearch); raised to k when smaller */
  ef?: number;
  /** keep only items at distance ≤ maxDistance (applied after the approximate search) */
  maxDistance?: number;
}

export interface HnswIndex {
  readonly k: number;
  readonly metric: HnswMetric;
  readonly params: Readonly<HnswParams>;
  /** live items */
  readonly size: number;
  /** removed items whose slots the graph still holds */
  readonly deleted: number;
  /** slots allocated (grows by doubling) */
  readonly capacity: number;
  has(index: number): boolean;
  /** Adds item `index` with `row` (k values), or replaces its row when it is already there. */
  upsert(index: number, row: DataArray): void;
  /** Removes item `index`; false when it was not there. */
  remove(index: number): boolean;
  /** The approximate k nearest items to each of q queries (Q, q×k), nearest first, ties by index. */
  search(Q: DataArray, q: number, opts: HnswSearchOptions): SearchHits[];
}

export interface HnswBuildOptions extends Partial<HnswParams> {
  metric: HnswMetric;
  /** slots to allocate at first (default n, at least 16) */
  capacity?: number;
}

const SPACE: Record<HnswMetric, 'l2' | 'cosine'> = { squared: 'l2', euclidean: 'l2', cosine: 'cosine' };
const MIN_CAPACITY = 16;

/** Checks the rows (RangeError naming `rows`) and builds an index of items 0..n−1. */
export function buildHnswIndex(rows: DataArray, n: number, k: number, opts: HnswBuildOptions): HnswIndex {
  assertShape('rows', rows, n, k);
  assertFiniteRows('rows', rows, n, k);
  const params = checkParams(opts);
  const metric = opts.metric;
  if (!(metric in SPACE)) throw new RangeError(`metric must be squared, euclidean or cosine (got ${String(metric)})`);
  const capacity = opts.capacity ?? Math.max(n, MIN_CAPACITY);
  if (!(Number.isInteger(capacity) && capacity >= n && capacity >= 1))
    throw new RangeError(`capacity must be an integer ≥ n and ≥ 1 (got ${capacity})`);
  const { HierarchicalNSW } = require('hnswlib-node') as typeof import('hnswlib-node');
  const native = new HierarchicalNSW(SPACE[metric], k);
  native.initIndex({
    maxElements: capacity,
    m: params.M,
    efConstruction: params.efConstruction,
    randomSeed: params.seed,
    allowReplaceDeleted: false,
  });
  const index = new NativeHnswIndex(native, k, metric, params);
  for (let i = 0; i < n; i++) index.insert(i, rows, i * k);
  return index;
}

function checkParams(opts: Partial<HnswParams>): HnswParams {
  const p = { ...HNSW_DEFAULTS, ...stripUndefined(opts) };
  const int = (name: keyof HnswParams, lo: number, hi: number) => {
    const v = p[name];
    if (!(Number.isInteger(v) && v >= lo && v <= hi))
      throw new RangeError(`${name} must be an integer in [${lo}, ${hi}] (got ${v})`);
  };
  int('M', 2, 256);
  int('efConstruction', 1, 100_000);
  int('efSearch', 1, 100_000);
  int('seed', 0, 2 ** 31 - 1);
  return { M: p.M, efConstruction: p.efConstruction, efSearch: p.efSearch, seed: p.seed };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function assertItemIndex(index: number): void {
  if (!(Number.isInteger(index) && index >= 0 && index <= 0xffffffff))
    throw new RangeError(`index must be an integer in [0, 2³²) (got ${index})`);
}

class NativeHnswIndex implements HnswIndex {
  private readonly live = new Set<number>();
  /** labels hnswlib has a slot for, live or marked deleted */
  private readonly slots = new Set<number>();
  private readonly distance: Distance;
  private readonly scratch: Float64Array;

  constructor(
    private readonly native: NativeIndex,
    readonly k: number,
    readonly metric: HnswMetric,
    readonly params: Readonly<HnswParams>,
  ) {
    this.distance = distanceByName(metric);
    this.scratch = new Float64Array(k);
  }

  get size(): number {
    return this.live.size;
  }

  get deleted(): number {
    return this.slots.size - this.live.size;
  }

  get capacity(): number {
    return this.native.getMaxElements();
  }

  has(index: number): boolean {
    return this.live.has(index);
  }

  upsert(index: number, row: DataArray): void {
    assertItemIndex(index);
    assertShape('row', row, 1, this.k);
    assertFiniteRows('row', row, 1, this.k);
    this.insert(index, row, 0);
  }

  /** Adds or replaces without checks (the caller checked the row). */
  insert(index: number, rows: DataArray, at: number): void {
    if (!this.slots.has(index) && this.slots.size >= this.capacity) this.native.resizeIndex(2 * this.capacity);
    // a label hnswlib knows, live or deleted, is updated in place (and undeleted); a new one appended
    this.native.addPoint(Array.from(rows.subarray(at, at + this.k)), index);
    this.slots.add(index);
    this.live.add(index);
  }

  remove(index: number): boolean {
    if (!this.live.has(index)) return false;
    this.native.markDelete(index);
    this.live.delete(index);
    return true;
  }

  search(Q: DataArray, q: number, opts: HnswSearchOptions): SearchHits[] {
    const { k } = this;
    assertShape('queries', Q, q, k);
    assertFiniteRows('queries', Q, q, k);
    assertTopK(opts.k);
    assertMaxDistance(opts.maxDistance);
    const ef = opts.ef ?? this.params.efSearch;
    if (!(Number.isInteger(ef) && ef >= 1 && ef <= 100_000))
      throw new RangeError(`ef must be an integer in [1, 100000] (got ${ef})`);
    const top = Math.min(opts.k, this.live.size);
    this.native.setEf(Math.max(ef, top));
    const hits: SearchHits[] = [];
    for (let j = 0; j < q; j++) {
      if (top === 0) {
        hits.push({ indexes: new Int32Array(0), distances: new Float64Array(0) });
        continue;
      }
      const found = this.native.searchKnn(Array.from(Q.subarray(j * k, (j + 1) * k)), top).neighbors;
      hits.push(this.rescore(found, Q, j * k, opts.maxDistance));
    }
    return hits;
  }

  /** The found items at their exact distances from the stored rows, within maxDistance, by (distance, index). */
  private rescore(found: number[], Q: DataArray, qo: number, maxDistance: number | undefined): SearchHits {
    const exact = found.map((label) => {
      this.scratch.set(this.native.getPoint(label));
      return this.distance.pair(this.scratch, 0, Q, qo, this.k);
    });
    const order = found
      .map((_, t) => t)
      .filter((t) => maxDistance === undefined || exact[t] <= maxDistance)
      .sort((a, b) => exact[a] - exact[b] || found[a] - found[b]);
    return {
      indexes: Int32Array.from(order, (t) => found[t]),
      distances: Float64Array.from(order, (t) => exact[t]),
    };
  }
}

export interface RecallOptions {
  /** queries drawn from the gallery's rows (default 200, at most n) */
  sample?: number;
  k?: number;
  ef?: number;
  /** picks the rows (default 0) */
  seed?: number;
}

export interface RecallReport {
  /** mean over the queries of |approximate top-k ∩ exact top-k| / |exact top-k| */
  recall: number;
  queries: number;
  k: number;
  ef: number;
}

/**
 * recall@k of the index against exact search over `gallery`, whose row i must be item i of the
 * index (the same rows, no others). Queries are a seeded sample of the gallery's own rows, each
 * its own nearest item, as a re-enrolled face would be.
 */
export function measureRecall(index: HnswIndex, gallery: Gallery, opts: RecallOptions = {}): RecallReport {
  if (gallery.k !== index.k) throw new RangeError(`gallery: dimension ${gallery.k}, the index has ${index.k}`);
  const k = opts.k ?? 10;
  const ef = opts.ef ?? index.params.efSearch;
  const sample = Math.min(opts.sample ?? 200, gallery.n);
  if (!(Number.isInteger(sample) && sample >= 0)) throw new RangeError(`sample must be an integer ≥ 0 (got ${sample})`);
  const rng = createRng(opts.seed ?? 0);
  const Q = new Float32Array(sample * gallery.k);
  for (let j = 0; j < sample; j++) {
    const i = rng.int(gallery.n);
    Q.set(gallery.rows.subarray(i * gallery.k, (i + 1) * gallery.k), j * gallery.k);
  }
  const exact = exactSearch(gallery, Q, sample, { k, metric: index.metric });
  const approx = index.search(Q, sample, { k, ef });
  let sum = 0;
  for (let j = 0; j < sample; j++) {
    const want = new Set(exact[j].indexes);
    let got = 0;
    for (const i of approx[j].indexes) if (want.has(i)) got++;
    sum += want.size ? got / want.size : 1;
  }
  return { recall: sample ? sum / sample : 1, queries: sample, k, ef };
}

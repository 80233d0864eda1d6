// Gallery embeddings in memory for search, per replica: one entry per gallery, prepared for the
// exact search (src/math/search: norms, the kernels' resident copy), kept while its version is the
// gallery's. A search reads the gallery's record first (one row) and reloads when another write —
// on this replica or another — bumped the version. Evicts the least recently used past
// GALLERY_CACHE_BYTES (src/domain/costs.ts galleryCacheBytes). docs/decisions/0031-galleries.md.
//
// An hnsw gallery's entry also owns its HNSW index in the HNSW thread: loading a version asks the
// thread to build one (with recall@10 measured), replacing a version drops the old one, eviction
// and deletion dispose it. Until it is ready, searches are exact. docs/decisions/0036-hnsw-galleries.md.
//
// The store's change feed says when a gallery's items changed or it was deleted, on any replica:
// its entry is dropped then, not at its next search here, so an erased item (or a deleted
// gallery) does not stay in this replica's memory or HNSW thread; a load under way meanwhile is
// given to its searches but not kept.
import { formatBytes, galleryCacheBytes, hnswIndexCost } from '../domain/costs.js';
import type { GalleryIndexStatus, GalleryRecord, HnswState } from '../domain/galleries.js';
import { unprocessable } from '../errors.js';
import type { Kernels } from '../math/kernels/types.js';
import { createGallery, type Gallery } from '../math/search/index.js';
import { HNSW_DEFAULTS } from '../search/hnsw-index.js';
import { BuildCancelled, HnswThread } from '../search/hnsw-thread.js';
import type { Label, Store } from '../store/types.js';

/** A version's HNSW index as this replica holds it. */
export interface CachedHnsw {
  /** the index's name in the HNSW thread */
  key: string;
  state: HnswState;
  recallAt10: number | null;
  buildMs: number | null;
  error?: string;
}

export interface CachedGallery {
  id: string;
  version: number;
  /** the model the embeddings are of */
  modelId: string;
  /** prepared rows; null for an empty gallery */
  rows: Gallery | null;
  n: number;
  k: number;
  /** in item-id order (UTF-8 bytes): exactSearch's ties by index are ties by id */
  ids: string[];
  labels: (Label | null)[];
  /** the longest JSON of an id and of a label, for the reply's bound */
  maxIdJson: number;
  maxLabelJson: number;
  bytes: number;
  /** searches using it now: an entry evicted meanwhile is disposed when the last one ends */
  users: number;
  evicted: boolean;
  /** hnsw galleries only */
  hnsw: CachedHnsw | null;
}

export class GalleryCache {
  private entries = new Map<string, CachedGallery>();
  private used = 0;
  /** loads under way by gallery id and version, so concurrent searches read once */
  private loading = new Map<string, Promise<CachedGallery>>();
  /** started on the first hnsw build */
  readonly hnswThread = new HnswThread();
  /** builds asked for: each entry's index gets its own key */
  private builds = 0;
  /** per gallery with a load under way, bumped when it is invalidated: a load begun before is not kept */
  private generations = new Map<string, number>();
  private readonly unwatch: () => void;

  constructor(
    private readonly store: Store,
    private readonly budget: number,
    private readonly kernels: Kernels | undefined,
  ) {
    this.unwatch = store.watch((change) => {
      if (change.kind === 'change' && change.table === 'galleries') this.invalidate(change.id);
      // events may have been missed: any gallery may have lost items
      else if (change.kind === 'resync') for (const id of [...this.entries.keys()]) this.invalidate(id);
    });
  }

  /** The index of the gallery's cached version, per replica; `none` when no version is loaded here. */
  indexStatus(g: GalleryRecord): GalleryIndexStatus {
    if (g.index !== 'hnsw') return { kind: g.index };
    const e = this.entries.get(g.id);
    if (!e?.hnsw) return { kind: 'hnsw', state: 'none', builtVersion: null, recallAt10: null, buildMs: null };
    const { state, recallAt10, buildMs, error } = e.hnsw;
    return {
      kind: 'hnsw',
      state,
      builtVersion: state === 'ready' ? e.version : null,
      recallAt10,
      buildMs,
      ...(error ? { error } : {}),
    };
  }

  /** The key of the gallery's index in the HNSW thread, while this replica holds one. */
  hnswKey(id: string): string | undefined {
    return this.entries.get(id)?.hnsw?.key;
  }

  /** Loads the gallery's current version in the background (an hnsw gallery starts its build). */
  warm(g: GalleryRecord): void {
    const hit = this.entries.get(g.id);
    if (hit && hit.version >= g.version) return;
    this.acquire(g).then(
      (e) => this.release(e),
      () => undefined, // over budget or gone: the next search answers the reason
    );
  }

  async close(): Promise<void> {
    this.unwatch();
    await this.hnswThread.close();
  }

  get bytes(): number {
    return this.used;
  }

  /**
   * The gallery's entry at `g.version` or newer, held for the caller until release(). The
   * estimate is checked against the budget before anything is read: a gallery larger than the
   * whole cache is refused (422 BUDGET_EXCEEDED).
   */
  async acquire(g: GalleryRecord): Promise<CachedGallery> {
    const hit = this.entries.get(g.id);
    if (hit && hit.version >= g.version) {
      this.entries.delete(g.id);
      this.entries.set(g.id, hit);
      hit.users++;
      return hit;
    }
    this.checkBudget(g);
    const key = `${g.id}@${g.version}`;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.load(g.id).finally(() => {
        this.loading.delete(key);
        if (!this.isLoading(g.id)) this.generations.delete(g.id);
      });
      this.loading.set(key, pending);
    }
    const entry = await pending;
    entry.users++;
    return entry;
  }

  release(entry: CachedGallery): void {
    entry.users--;
    if (entry.users === 0 && entry.evicted) this.free(entry);
  }

  private free(e: CachedGallery): void {
    e.rows?.dispose();
    if (e.hnsw) {
      this.hnswThread.dispose(e.hnsw.key);
      e.hnsw.state = 'none';
    }
  }

  /**
   * Forgets a gallery whose items changed or that was deleted (here, or by the feed): its entry is
   * dropped, and a load of it under way is not kept.
   */
  invalidate(id: string): void {
    if (this.isLoading(id)) this.generations.set(id, (this.generations.get(id) ?? 0) + 1);
    this.drop(id);
  }

  private isLoading(id: string): boolean {
    for (const key of this.loading.keys()) if (key.startsWith(`${id}@`)) return true;
    return false;
  }

  /** Drops a gallery's entry; its memory goes once no search uses it. */
  private drop(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.used -= e.bytes;
    e.evicted = true;
    if (e.users === 0) this.free(e);
  }

  private checkBudget(g: GalleryRecord): void {
    // the ids' length is not known before the read: this is the floor, checked again once read
    const exact = entryBytes(g, g.itemCount, g.embeddingDimension, 0);
    if (exact > this.budget)
      throw unprocessable(
        'BUDGET_EXCEEDED',
        `gallery ${g.id} (${g.itemCount} items × ${g.embeddingDimension}) takes at least ${formatBytes(exact)} in memory ` +
          `(n·k·4 + ceil8(n)·ceil8(k)·4 + 16n + 64n + ids and labels${g.index === 'hnsw' ? ' + the HNSW index' : ''}), over the gallery cache budget of ${formatBytes(this.budget)} (GALLERY_CACHE_BYTES)`,
      );
  }

  private async load(id: string): Promise<CachedGallery> {
    const generation = this.generations.get(id);
    const read = await this.store.readGalleryEmbeddings(id);
    const { gallery: g, ids, labels, embeddings } = read;
    const n = ids.length;
    const k = g.embeddingDimension;
    const bytes = entryBytes(g, n, k, textUnits(ids, labels));
    if (bytes > this.budget)
      throw unprocessable(
        'BUDGET_EXCEEDED',
        `gallery ${id} takes ${formatBytes(bytes)} in memory, over the gallery cache budget of ${formatBytes(this.budget)} (GALLERY_CACHE_BYTES)`,
      );
    const current = this.entries.get(id);
    if (current && current.version >= g.version) return current;
    // Invalidated while it was read (an erasure, a delete): its searches get it, the cache does not.
    const kept = generation === this.generations.get(id);
    if (kept) this.evictFor(bytes, id);
    const entry: CachedGallery = {
      id,
      version: g.version,
      modelId: g.model,
      rows: n > 0 ? createGallery(embeddings, n, k, this.kernels) : null,
      n,
      k,
      ids,
      labels,
      maxIdJson: maxJsonBytes(ids, 2),
      maxLabelJson: maxJsonBytes(labels, 4),
      bytes,
      users: 0,
      evicted: !kept,
      hnsw: null,
    };
    if (!kept) return entry;
    this.entries.set(id, entry);
    this.used += bytes;
    if (g.index === 'hnsw') this.startBuild(entry, embeddings);
    return entry;
  }

  /** Asks the HNSW thread for the entry's index; the entry reads `ready` once it is built and measured. */
  private startBuild(entry: CachedGallery, rows: Float32Array): void {
    const hnsw: CachedHnsw = {
      // unique per entry: a version reloaded after eviction must not share the old entry's key,
      // or the old entry's dispose would cancel the new entry's build
      key: `${entry.id}@${entry.version}#${++this.builds}`,
      state: 'building',
      recallAt10: null,
      buildMs: null,
    };
    entry.hnsw = hnsw;
    if (entry.n === 0) {
      Object.assign(hnsw, { state: 'ready', buildMs: 0 });
      return;
    }
    this.hnswThread.build(hnsw.key, entry.id, rows, entry.n, entry.k, {}).then(
      (built) => {
        if (hnsw.state !== 'building') return; // evicted meanwhile: its dispose is queued after the build
        Object.assign(hnsw, { state: 'ready', recallAt10: built.recallAt10, buildMs: Math.round(built.buildMs) });
      },
      (err: Error) => {
        if (hnsw.state !== 'building') return;
        // a newer version of the gallery replaced this one before its build began
        if (err instanceof BuildCancelled) hnsw.state = 'none';
        else Object.assign(hnsw, { state: 'failed', error: err.message });
      },
    );
  }

  /** Evicts the least recently used (and an older version of `id`) until `bytes` more fit. */
  private evictFor(bytes: number, id: string): void {
    this.drop(id);
    while (this.entries.size > 0 && this.used + bytes > this.budget) this.drop(this.entries.keys().next().value!);
  }
}

/** An entry's bytes: the rows as galleryCacheBytes counts them, and for an hnsw gallery its index. */
function entryBytes(g: GalleryRecord, n: number, k: number, textUnits: number): number {
  const rows = galleryCacheBytes(n, k, textUnits);
  return g.index === 'hnsw' ? rows + hnswIndexCost(Math.max(n, 16), k, HNSW_DEFAULTS.M).bytes : rows;
}

/** UTF-16 units of the ids and the string labels: the strings the entry holds. */
function textUnits(ids: string[], labels: readonly unknown[]): number {
  let units = 0;
  for (const id of ids) units += id.length;
  for (const label of labels) if (typeof label === 'string') units += label.length;
  return units;
}

/**
 * The longest JSON text of one of xs, in UTF-8 bytes, as a reply carries it (a '€' is one UTF-16
 * unit and three bytes), and at least `floor`.
 */
function maxJsonBytes(xs: readonly unknown[], floor: number): number {
  let most = floor;
  for (const x of xs) most = Math.max(most, Buffer.byteLength(JSON.stringify(x)));
  return most;
}

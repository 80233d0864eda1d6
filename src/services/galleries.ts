// Galleries: items bound to one model, embedded on upload, searched exactly. Uploads are staged
// batch by batch (bounded memory) and committed all or nothing; searches answer from the cached
// embeddings of the gallery's current version. docs/decisions/0031-galleries.md.
import type { Limits } from '../config.js';
import { formatBytes, searchReplyBytes } from '../domain/costs.js';
import { isFinished } from '../domain/records.js';
import {
  MAX_ITEM_ID_LENGTH,
  type GalleryIndexKind,
  type GalleryIndexStatus,
  type GalleryRecord,
} from '../domain/galleries.js';
import { AppError, badRequest, conflict, notFound, tooLarge, unprocessable } from '../errors.js';
import type { Kernels, Metric } from '../math/index.js';
import { exactSearch } from '../math/search/index.js';
import { newId } from '../store/ids.js';
import type { Label, LabelType, Page, PageRequest, Store } from '../store/types.js';
import { GalleryCache, type CachedGallery } from './gallery-cache.js';
import { idempotentWrite, type IdempotencyTicket } from './idempotency.js';
import { defaultMetric } from './model-metric.js';
import type { LoadedModel, ModelService } from './models.js';
import { checkSearchable, type ServingService } from './serving.js';
import { inSlices, rowsPerSlice } from './slices.js';

/** Items decoded from an upload (src/http/gallery-items.ts): count ids and labels, count×d features. */
export interface ItemBatch {
  ids: string[];
  labels: (Label | null)[];
  features: Float32Array;
  count: number;
}

/** Queries decoded from a search request: count rows of features (d) or of embeddings (k). */
export interface SearchQueries {
  kind: 'inputs' | 'embeddings';
  data: Float32Array;
  count: number;
}

export interface SearchOptions {
  k: number;
  maxDistance?: number;
  metric?: Metric;
}

export interface SearchResult {
  model: string;
  metric: Metric;
  version: number;
  /** what answered: the HNSW index, or exact search (an exact gallery, an index not built yet, cosine) */
  index: GalleryIndexKind;
  results: { id: string; label: Label | null; distance: number }[][];
}

type Hits = { indexes: ArrayLike<number>; distances: ArrayLike<number> }[];

/** multiply-adds of one slice of a search: the event loop runs between slices */
const SEARCH_SLICE_MACS = 2 ** 27;
/** Hits of an HNSW answer turned into reply objects between two turns of the event loop. */
const SHAPE_SLICE_HITS = 20_000;

export class GalleryService {
  readonly cache: GalleryCache;

  constructor(
    private readonly store: Store,
    private readonly models: ModelService,
    private readonly serving: ServingService,
    private readonly limits: Limits,
    kernels: Kernels | undefined,
    /** cancels a job (the runner's cancel): a gallery's reindex ends with the gallery */
    private readonly cancelJob: (id: string) => Promise<unknown>,
  ) {
    this.cache = new GalleryCache(store, limits.galleryCacheBytes, kernels);
  }

  async create(input: { name?: string; model: string; index?: GalleryIndexKind }): Promise<GalleryRecord> {
    const m = await this.models.resolve(input.model);
    return this.store.createGallery({
      name: input.name ?? null,
      modelId: m.record.id,
      dimension: m.d,
      embeddingDimension: m.k,
      index: input.index ?? 'exact',
    });
  }

  async get(id: string): Promise<GalleryRecord> {
    const g = await this.store.getGallery(id);
    if (!g) throw notFound('GALLERY_NOT_FOUND', `gallery ${id} does not exist`);
    return g;
  }

  /** The record, its label count and this replica's index (an hnsw gallery's current version starts loading). */
  async detail(id: string): Promise<GalleryRecord & { labelCount: number; indexStatus: GalleryIndexStatus }> {
    const g = await this.get(id);
    const labelCount = await this.store.countGalleryLabels(id);
    if (g.index === 'hnsw') this.cache.warm(g);
    return { ...g, labelCount, indexStatus: this.cache.indexStatus(g) };
  }

  close(): Promise<void> {
    return this.cache.close();
  }

  list(page: PageRequest): Promise<Page<GalleryRecord>> {
    return this.store.listGalleries(page);
  }

  /** Deletes the gallery; a reindex job moving it is cancelled first, so it ends cancelled, not failed. */
  async delete(id: string): Promise<void> {
    const reindexJob = (await this.store.getGallery(id))?.reindexJob;
    // A holder job that was never stored (left by a version that marked before queueing) has nothing to cancel.
    const job = reindexJob ? await this.store.getJob(reindexJob) : undefined;
    if (job && !isFinished(job.status)) await this.cancelJob(job.id);
    const deleted = await this.store.deleteGallery(id);
    // at once here; other replicas hear it on the change feed
    this.cache.invalidate(id);
    if (!deleted) throw notFound('GALLERY_NOT_FOUND', `gallery ${id} does not exist`);
  }

  /** The gallery an upload of `rows` items goes to (when known before decoding), once the limits allow them. */
  async uploadTarget(id: string, rows?: number): Promise<GalleryRecord> {
    const g = await this.get(id);
    if (rows !== undefined) this.checkRequestSize(rows);
    return g;
  }

  private checkRequestSize(n: number): void {
    if (n > this.limits.galleryItemsPerRequest)
      throw tooLarge(
        'BATCH_TOO_LARGE',
        `the upload has more than ${this.limits.galleryItemsPerRequest} items (GALLERY_ITEMS_PER_REQUEST)`,
      );
  }

  /**
   * Embeds and stages each batch as it arrives, then commits them all or none: an existing id is
   * replaced. Ids are checked (1–256 characters, none twice in one request) before anything is
   * staged; memory is one batch and the request's ids (at most GALLERY_ITEMS_PER_REQUEST).
   */
  async upsert(
    g: GalleryRecord,
    batches: AsyncIterable<ItemBatch> | Iterable<ItemBatch>,
    ticket?: IdempotencyTicket,
  ): Promise<{ added: number; itemCount: number; version: number; model: string }> {
    const m = await this.models.resolve(g.model);
    const seen = new Set<string>();
    const uploadId = newId('up');
    let n = 0;
    try {
      for await (const b of batches) {
        this.checkRequestSize(n + b.count);
        if (n + b.count > this.limits.galleryMaxItems)
          throw unprocessable(
            'LIMIT_EXCEEDED',
            `gallery ${g.id} would hold more than ${this.limits.galleryMaxItems} items (GALLERY_MAX_ITEMS)`,
          );
        b.ids.forEach((id, i) => {
          if (id.length < 1 || id.length > MAX_ITEM_ID_LENGTH)
            throw badRequest('VALIDATION_ERROR', `item ${n + i}: an id has 1–${MAX_ITEM_ID_LENGTH} characters`);
          if (seen.has(id))
            throw badRequest('VALIDATION_ERROR', `item ${n + i}: id ${JSON.stringify(id)} is given twice`);
          seen.add(id);
        });
        const e = await this.serving.embedInSlices(m, b.features.subarray(0, b.count * m.d), b.count);
        checkSearchable(e.data, b.count, m.k, 'item', n);
        await this.store.stageGalleryItems(
          uploadId,
          g.id,
          b.ids,
          b.labels,
          b.features.subarray(0, b.count * m.d),
          e.data,
        );
        n += b.count;
      }
      if (n === 0) throw badRequest('EMPTY_BATCH', 'the upload holds no items');
      // The Idempotency-Key goes in the commit's transaction, with the reply the commit gives.
      const idempotency = ticket
        ? idempotentWrite(ticket, 201, { added: n, model: m.record.id }, { itemCount: 'itemCount', version: 'version' })
        : undefined;
      const limit = { max: this.limits.galleryMaxItems, setting: 'GALLERY_MAX_ITEMS' };
      const after = await this.store.commitGalleryItems(uploadId, g.id, m.record.id, n, limit, { idempotency });
      return { added: n, itemCount: after.itemCount, version: after.version, model: after.model };
    } catch (e) {
      if (this.store.isOpen()) await this.store.discardGalleryItems(uploadId);
      throw e;
    }
  }

  async deleteItem(id: string, itemId: string): Promise<{ deleted: number; itemCount: number; version: number }> {
    const { deleted, gallery } = await this.store.deleteGalleryItem(id, itemId);
    // the erased item leaves this replica's memory now, not at the gallery's next search here
    if (deleted > 0) this.cache.invalidate(id);
    if (deleted === 0) throw notFound('ITEM_NOT_FOUND', `gallery ${id} has no item ${JSON.stringify(itemId)}`);
    return { deleted, itemCount: gallery.itemCount, version: gallery.version };
  }

  async deleteLabel(
    id: string,
    label: string,
    type?: LabelType,
  ): Promise<{ deleted: number; itemCount: number; version: number }> {
    const { deleted, gallery } = await this.store.deleteGalleryLabel(id, label, type);
    if (deleted > 0) this.cache.invalidate(id);
    return { deleted, itemCount: gallery.itemCount, version: gallery.version };
  }

  /**
   * The gallery's model and the query count, checked before the queries are decoded: queries per
   * request (GALLERY_MAX_QUERIES) and the work, queries × items × k (GALLERY_SEARCH_MAX_WORK).
   */
  async searchTarget(id: string, queries: number): Promise<{ gallery: GalleryRecord; model: LoadedModel }> {
    const g = await this.get(id);
    if (queries > this.limits.galleryMaxQueries)
      throw tooLarge(
        'BATCH_TOO_LARGE',
        `${queries} queries; the limit is ${this.limits.galleryMaxQueries} a request (GALLERY_MAX_QUERIES)`,
      );
    const work = queries * g.itemCount * g.embeddingDimension;
    if (work > this.limits.gallerySearchMaxWork)
      throw unprocessable(
        'BUDGET_EXCEEDED',
        `${queries} queries × ${g.itemCount} items × ${g.embeddingDimension} is ${work} multiply-adds, over the limit of ` +
          `${this.limits.gallerySearchMaxWork} (GALLERY_SEARCH_MAX_WORK); send fewer queries per request`,
      );
    return { gallery: g, model: await this.models.resolve(g.model) };
  }

  /** Up to k nearest items per query, nearest first, ties by id; from the gallery's current version. */
  async search(g: GalleryRecord, q: SearchQueries, opts: SearchOptions): Promise<SearchResult> {
    const entry = await this.cache.acquire(g);
    try {
      // The entry may be newer than g (a reindex committed meanwhile): its model is the one to use
      // for inputs. Embeddings were checked against g's model, and are of no use for another one.
      if (q.kind === 'embeddings' && entry.modelId !== g.model)
        throw conflict(
          'GALLERY_MODEL_CHANGED',
          `gallery ${g.id} moved from model ${g.model} to ${entry.modelId} (a reindex committed) while the search ` +
            `began; embed the queries with ${entry.modelId}, or send inputs`,
        );
      const m = await this.models.resolve(entry.modelId);
      const width = q.kind === 'inputs' ? m.d : entry.k;
      if (q.data.length !== q.count * width)
        throw badRequest(
          'DIMENSION_MISMATCH',
          `the queries have ${q.data.length / q.count} values each; gallery ${g.id} expects ${width} (${q.kind})`,
        );
      const metric = opts.metric ?? defaultMetric(m);
      const top = Math.min(opts.k, entry.n);
      this.checkReply(entry, q.count, top);
      const Q = q.kind === 'inputs' ? (await this.serving.embedInSlices(m, q.data, q.count)).data : q.data;
      checkSearchable(Q, q.count, entry.k, 'query');
      const approx = await this.runHnsw(entry, Q, q.count, top, metric, opts.maxDistance);
      const results = approx ?? (await this.run(entry, Q, q.count, { ...opts, metric }));
      return { model: entry.modelId, metric, version: entry.version, index: approx ? 'hnsw' : 'exact', results };
    } finally {
      this.cache.release(entry);
    }
  }

  private checkReply(entry: CachedGallery, queries: number, hits: number): void {
    const bytes = searchReplyBytes(queries, hits, entry.maxIdJson, entry.maxLabelJson);
    if (bytes > this.limits.replyBytesLimit)
      throw new AppError(
        413,
        'REPLY_TOO_LARGE',
        `${queries} queries × ${hits} hits would take up to ${formatBytes(bytes)}, over the reply limit of ` +
          `${formatBytes(this.limits.replyBytesLimit)} (REPLY_BYTES_LIMIT); ask for fewer queries or a smaller k`,
      );
  }

  /**
   * The entry's HNSW index in its thread, when it is ready, the metric one of its L2 graph's
   * (euclidean answered as the square root of squared) and no build is queued before the search;
   * undefined otherwise, or when the thread fails: exact search answers then.
   */
  private async runHnsw(
    entry: CachedGallery,
    Q: Float32Array,
    count: number,
    top: number,
    metric: Metric,
    maxDistance: number | undefined,
  ): Promise<SearchResult['results'] | undefined> {
    const h = entry.hnsw;
    if (!h || h.state !== 'ready' || metric === 'cosine' || this.cache.hnswThread.busy || top === 0) return undefined;
    const root = metric === 'euclidean';
    const bound = maxDistance !== undefined && root ? maxDistance * maxDistance : maxDistance;
    try {
      const found = await this.cache.hnswThread.search(h.key, Q, count, top, bound);
      // the thread searched; shaping hundreds of thousands of hits here is still work for the
      // event loop, so it goes in slices with the loop let run between them
      const out: SearchResult['results'] = [];
      await inSlices(count, Math.max(1, Math.floor(SHAPE_SLICE_HITS / top)), (q0, q1) => {
        const hits: Hits = found.indexes.slice(q0, q1).map((indexes, i) => ({
          indexes,
          distances: root ? found.distances[q0 + i].map(Math.sqrt) : found.distances[q0 + i],
        }));
        out.push(...this.shape(entry, hits));
      });
      return out;
    } catch {
      return undefined;
    }
  }

  private shape(entry: CachedGallery, hits: Hits): SearchResult['results'] {
    return hits.map((h) => {
      const row: SearchResult['results'][number] = [];
      for (let t = 0; t < h.indexes.length; t++) {
        const i = h.indexes[t];
        row.push({ id: entry.ids[i], label: entry.labels[i], distance: h.distances[t] });
      }
      return row;
    });
  }

  /** exactSearch in slices of queries of about SEARCH_SLICE_MACS, the event loop let run between them. */
  private async run(
    entry: CachedGallery,
    Q: Float32Array,
    count: number,
    opts: Required<Pick<SearchOptions, 'k' | 'metric'>> & SearchOptions,
  ) {
    const out: SearchResult['results'] = [];
    if (!entry.rows) return Array.from({ length: count }, () => []);
    const k = entry.k;
    const rows = entry.rows;
    await inSlices(count, rowsPerSlice(entry.n * k, SEARCH_SLICE_MACS), (q0, q1) => {
      const hits = exactSearch(rows, Q.subarray(q0 * k, q1 * k), q1 - q0, {
        k: opts.k,
        metric: opts.metric,
        maxDistance: opts.maxDistance,
      });
      out.push(...this.shape(entry, hits));
    });
    return out;
  }
}

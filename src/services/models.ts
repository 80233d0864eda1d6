// Models: immutable W plus metadata. Loaded weights are cached, since a model's W never changes.
// A request names a model by id or alias (src/domain/aliases.ts); aliases resolve through a cache
// the change feed keeps true (docs/decisions/0030-model-aliases.md).
import type { Limits } from '../config.js';
import { DEFAULT_ALIAS, isModelId } from '../domain/aliases.js';
import { formatBytes, modelCacheBytes } from '../domain/costs.js';
import { AppError, badRequest, conflict, notFound, unprocessable } from '../errors.js';
import type { ImportModelBody } from '../schemas/models.js';
import type { ModelRecord, Page, PageRequest, Store, StoreChange } from '../store/types.js';
import type { AliasLog } from './aliases.js';
import { checkFinite32 } from './vectors.js';

export interface LoadedModel {
  record: ModelRecord;
  /** k×d row-major */
  W: Float64Array;
  k: number;
  d: number;
}

/** Rows of W written per chunk of the weights reply. */
const WEIGHT_ROWS_PER_CHUNK = 8;

/**
 * Keeps the most recently used models' weights in memory, up to MODEL_CACHE_BYTES of them
 * (src/domain/costs.ts modelCacheBytes: W plus the kernels' packed copy), and the model id of each
 * alias used. The store's change feed keeps both true to the database, whichever replica writes it
 * (docs/decisions/0022-change-feed-listen-notify.md, 0030-model-aliases.md).
 */
export class ModelService {
  private cache = new Map<string, LoadedModel>();
  private cachedBytes = 0;
  /** loads under way, so concurrent requests for one model read its weights once */
  private loading = new Map<string, Promise<LoadedModel>>();
  /** the cache's last (most recent) entry */
  private lastUsed: string | undefined;
  /** alias name → the model id it pointed to when looked up, and when (Date.now()); existing aliases only */
  private aliases = new Map<string, { model: string; at: number }>();
  /** bumped when the aliases are invalidated: a lookup begun before is not kept */
  private aliasEpoch = 0;
  /** bumped when the feed drops models: a load begun before is not cached */
  private cacheEpoch = 0;
  /** false while the store's change feed is down (changes are being missed) */
  private feedUp = true;

  /**
   * `aliasTtlMs`: how long an alias's model id is trusted when the change feed cannot tell of every
   * change: while the feed is down, or always when `feedSeesEveryWriter` is false (a SQLite file
   * shared by two processes: each hears its own writes only). Infinity: never looked up again but
   * on a change.
   */
  constructor(
    private readonly store: Store,
    private readonly limits: Limits,
    private readonly aliasTtlMs = Infinity,
    private readonly feedSeesEveryWriter = true,
    private readonly log?: AliasLog,
  ) {
    store.watch((change) => this.onChange(change));
  }

  /**
   * An alias or a model written or deleted by any replica. A changed or deleted model is dropped
   * (a rename too: its record is cached with W). A new model may have set `default` (the first
   * one does, and SQLite's feed, derived from the call, cannot tell), so aliases are looked up again.
   */
  private onChange(change: StoreChange): void {
    if (change.kind === 'change') {
      if (change.table === 'aliases') return this.invalidateAliases();
      if (change.table !== 'models') return;
      if (change.op !== 'insert') this.forget(change.id);
      else this.invalidateAliases();
    } else if (change.kind === 'lost') {
      this.feedUp = false;
    } else {
      // Deletions may have been missed: every cached model is read again on its next use.
      this.feedUp = true;
      for (const id of [...this.cache.keys()]) this.forget(id);
      this.invalidateAliases();
    }
  }

  /** Drops a model deleted elsewhere, and any load of it under way, so the next use reads the store. */
  private forget(id: string): void {
    this.cacheEpoch++;
    this.loading.delete(id);
    this.drop(id);
  }

  list(page: PageRequest): Promise<Page<ModelRecord>> {
    return this.store.listModels(page);
  }

  async get(id: string): Promise<ModelRecord> {
    const m = await this.store.getModel(id);
    if (!m) throw notFound('MODEL_NOT_FOUND', `model ${id} does not exist`);
    return m;
  }

  /** A model named by id or alias (GET /models/:id). */
  async getByRef(ref: string): Promise<ModelRecord> {
    return this.get(await this.resolveId(ref));
  }

  /** A model's weights, from the cache or the store (verified there). */
  async load(id: string): Promise<LoadedModel> {
    const hit = this.cache.get(id);
    if (hit) {
      // Refresh its place: Map keeps insertion order, so the first entry is the least recent.
      // Not for the model used last (every request, when one model serves them all): deleting
      // and re-adding a key cost more than the rest of the lookup.
      if (id !== this.lastUsed) {
        this.cache.delete(id);
        this.cache.set(id, hit);
        this.lastUsed = id;
      }
      return hit;
    }
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.read(id).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  /**
   * Reads a model's weights into the cache, evicting the least recently used until they fit. A
   * model larger than the whole cache is refused before its weights are read: serving it uncached
   * would read and pack it again for every request, and concurrent requests would hold one copy each.
   */
  private async read(id: string): Promise<LoadedModel> {
    const epoch = this.cacheEpoch;
    const record = await this.get(id);
    const bytes = modelCacheBytes(record.outputDimension, record.inputDimension);
    const budget = this.limits.modelCacheBytes;
    if (bytes > budget) {
      throw unprocessable(
        'BUDGET_EXCEEDED',
        `model ${id} is ${record.outputDimension}×${record.inputDimension}: loaded it takes ${formatBytes(bytes)} (k·d·8 + ceil8(k)·ceil8(d)·4), over the model cache budget of ${formatBytes(budget)} (MODEL_CACHE_BYTES)`,
      );
    }
    const W = await this.store.getModelWeights(id);
    if (!W) throw notFound('MODEL_NOT_FOUND', `model ${id} does not exist`);
    const loaded = { record, W, k: record.outputDimension, d: record.inputDimension };
    // Deleted while it was read, maybe: this request gets it, the cache does not keep it.
    if (epoch !== this.cacheEpoch) return loaded;
    this.evictFor(bytes);
    this.cache.set(id, loaded);
    this.cachedBytes += bytes;
    this.lastUsed = id;
    return loaded;
  }

  private evictFor(bytes: number): void {
    while (this.cache.size > 0 && this.cachedBytes + bytes > this.limits.modelCacheBytes) {
      this.drop(this.cache.keys().next().value!);
    }
  }

  private drop(id: string): void {
    const m = this.cache.get(id);
    if (!m) return;
    this.cache.delete(id);
    this.cachedBytes -= modelCacheBytes(m.k, m.d);
    if (this.lastUsed === id) this.lastUsed = undefined;
  }

  /** Bytes of the models in the cache (modelCacheBytes each). */
  get cacheBytes(): number {
    return this.cachedBytes;
  }

  /** The model a request names by id or alias, or the alias `default`'s when it names none. */
  async resolve(ref: string | undefined): Promise<LoadedModel> {
    return this.load(await this.resolveId(ref));
  }

  /**
   * The model id a reference stands for: an id as it is (its existence is the loader's to check),
   * an alias through the cache. No model named and no `default`: 409 NO_MODEL; an unknown alias:
   * 404 MODEL_NOT_FOUND (the field names a model, whichever way).
   */
  async resolveId(ref: string | undefined): Promise<string> {
    if (ref !== undefined && isModelId(ref)) return ref;
    const id = await this.aliasTarget(ref ?? DEFAULT_ALIAS);
    if (id !== undefined) return id;
    if (ref === undefined)
      throw conflict(
        'NO_MODEL',
        `no model is named and the alias "${DEFAULT_ALIAS}" is not set: name one, set it with PUT /aliases/${DEFAULT_ALIAS}, ` +
          'or train (POST /train) or import (POST /models) a first model, which sets it',
      );
    throw notFound('MODEL_NOT_FOUND', `no model has the id or alias "${ref}"`);
  }

  /** The alias's model id, from the cache while the feed vouches for it (or within aliasTtlMs); undefined when unset. */
  private async aliasTarget(name: string): Promise<string | undefined> {
    const hit = this.aliases.get(name);
    const trusted = this.feedUp && this.feedSeesEveryWriter;
    if (hit && (trusted || Date.now() - hit.at <= this.aliasTtlMs)) return hit.model;
    const epoch = this.aliasEpoch;
    const alias = await this.store.getAlias(name);
    // Unknown names are not kept: any string a request sends would otherwise grow the map.
    if (!alias) {
      this.aliases.delete(name);
      return undefined;
    }
    // An alias changed meanwhile: this request uses what it read; the next looks again.
    if (epoch === this.aliasEpoch) this.aliases.set(name, { model: alias.model, at: Date.now() });
    return alias.model;
  }

  /** Called whenever an alias may have moved: here (a PUT, a promoted job), or (by the feed) elsewhere. */
  invalidateAliases(): void {
    this.aliases.clear();
    this.aliasEpoch++;
  }

  async import(body: ImportModelBody): Promise<ModelRecord> {
    const k = body.W.length;
    const d = body.W[0].length;
    if (d > this.limits.maxDimension || k > this.limits.maxOutputDimension) {
      throw new AppError(
        422,
        'LIMIT_EXCEEDED',
        `W is ${k}×${d}; limits are ${this.limits.maxOutputDimension} rows (MAX_OUTPUT_DIMENSION) and ${this.limits.maxDimension} columns (MAX_DIMENSION)`,
      );
    }
    const W = new Float64Array(k * d);
    let largest = 0;
    body.W.forEach((row, i) => {
      if (row.length !== d) throw badRequest('DIMENSION_MISMATCH', `W[${i}] has ${row.length} values, W[0] has ${d}`);
      row.forEach((v, j) => {
        checkFinite32(v, `W[${i}][${j}]`);
        W[i * d + j] = v;
        largest = Math.max(largest, Math.abs(Math.fround(v)));
      });
    });
    // Serving computes in float32, where such a W (zeros, or weights like 1e-300 that round to 0)
    // maps every input to 0: each search would be a tie, each distance 0.
    if (largest === 0)
      throw badRequest('VALIDATION_ERROR', 'W has no weight that is non-zero in float32: every input would embed to 0');
    const rec = await this.store.createModel({
      jobId: null,
      name: body.name ?? null,
      inputDimension: d,
      outputDimension: k,
      normalize: body.normalize ?? false,
      trainingParams: null,
      metrics: {},
      weights: W,
    });
    this.invalidateAliases();
    if (this.log) {
      // The first model sets `default` in its own transaction; said here, where it was asked for.
      const d = await this.store.getAlias(DEFAULT_ALIAS);
      if (d?.model === rec.id && d.previousModel === null) this.log(d, `the first model, ${rec.id}, was imported`);
    }
    return rec;
  }

  /** Refused with 409 MODEL_IN_USE while an alias points to it (the store checks, in the delete's transaction). */
  async delete(id: string): Promise<void> {
    if (!(await this.store.deleteModel(id))) throw notFound('MODEL_NOT_FOUND', `model ${id} does not exist`);
    this.drop(id);
  }

  async rename(id: string, name: string | null): Promise<ModelRecord> {
    const m = await this.store.renameModel(id, name);
    if (!m) throw notFound('MODEL_NOT_FOUND', `model ${id} does not exist`);
    // the cached record carries the name: read again on next use
    this.forget(id);
    return m;
  }

  /**
   * GET /models/:id/weights as JSON text in chunks of a few rows ({rows, cols, normalize, W}): the
   * reply is never built whole (k·d numbers as number[][] and their text took several times W's
   * bytes), so its memory is the cached W plus one chunk whatever the model's size. Checked before
   * the first byte: a stored weight that is not finite (JSON has no such number) is refused.
   */
  async weightsJson(ref: string): Promise<Iterable<string>> {
    const m = await this.resolve(ref);
    const id = m.record.id;
    const bad = m.W.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw unprocessable(
        'NON_FINITE_VALUE',
        `model ${id} holds a weight that is not a finite number (W[${Math.floor(bad / m.d)}][${bad % m.d}])`,
      );
    }
    return weightChunks(m);
  }
}

function* weightChunks(m: LoadedModel): Generator<string> {
  yield `{"rows":${m.k},"cols":${m.d},"normalize":${m.record.normalize},"W":[`;
  for (let r0 = 0; r0 < m.k; r0 += WEIGHT_ROWS_PER_CHUNK) {
    const rows: string[] = [];
    for (let r = r0; r < Math.min(m.k, r0 + WEIGHT_ROWS_PER_CHUNK); r++) {
      rows.push(`[${m.W.subarray(r * m.d, (r + 1) * m.d).join(',')}]`);
    }
    yield (r0 > 0 ? ',' : '') + rows.join(',');
  }
  yield ']}';
}

// Models: immutable W plus metadata. Loaded weights are cached, since a model never changes.
import type { Limits } from '../config.js';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import type { ImportModelBody } from '../schemas/models.js';
import type { ModelRecord, Page, PageRequest, Store } from '../store/types.js';
import { checkFinite32 } from './vectors.js';

export interface LoadedModel {
  record: ModelRecord;
  /** k×d row-major */
  W: Float64Array;
  k: number;
  d: number;
}

/** Keeps the most recently used models' weights in memory. */
const CACHE_SIZE = 32;

export class ModelService {
  private cache = new Map<string, LoadedModel>();
  /** the cache's last (most recent) entry */
  private lastUsed: string | undefined;
  /** id of the newest model; undefined = not looked up yet, null = there is none */
  private newest: string | null | undefined;

  constructor(
    private readonly store: Store,
    private readonly limits: Limits,
  ) {}

  list(page: PageRequest): Promise<Page<ModelRecord>> {
    return this.store.listModels(page);
  }

  async get(id: string): Promise<ModelRecord> {
    const m = await this.store.getModel(id);
    if (!m) throw notFound('MODEL_NOT_FOUND', `model ${id} does not exist`);
    return m;
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
    const record = await this.get(id);
    const W = await this.store.getModelWeights(id);
    if (!W) throw notFound('MODEL_NOT_FOUND', `model ${id} does not exist`);
    const loaded = { record, W, k: record.outputDimension, d: record.inputDimension };
    this.cache.set(id, loaded);
    this.lastUsed = id;
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    return loaded;
  }

  /** The named model, or the newest one when none is named. */
  async resolve(id: string | undefined): Promise<LoadedModel> {
    if (id !== undefined) return this.load(id);
    if (this.newest === undefined) this.newest = (await this.store.newestModel())?.id ?? null;
    if (this.newest === null)
      throw conflict('NO_MODEL', 'there is no model yet: train one with POST /train or import one with POST /models');
    return this.load(this.newest);
  }

  /** Called whenever a model is written or deleted, here or by the job runner. */
  invalidateNewest(): void {
    this.newest = undefined;
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
    body.W.forEach((row, i) => {
      if (row.length !== d) throw badRequest('DIMENSION_MISMATCH', `W[${i}] has ${row.length} values, W[0] has ${d}`);
      row.forEach((v, j) => {
        checkFinite32(v, `W[${i}][${j}]`);
        W[i * d + j] = v;
      });
    });
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
    this.invalidateNewest();
    return rec;
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.deleteModel(id))) throw notFound('MODEL_NOT_FOUND', `model ${id} does not exist`);
    this.cache.delete(id);
    this.invalidateNewest();
  }

  async weightsAsRows(id: string): Promise<{ rows: number; cols: number; normalize: boolean; W: number[][] }> {
    const m = await this.load(id);
    const W: number[][] = [];
    for (let i = 0; i < m.k; i++) W.push(Array.from(m.W.subarray(i * m.d, (i + 1) * m.d)));
    return { rows: m.k, cols: m.d, normalize: m.record.normalize, W };
  }
}

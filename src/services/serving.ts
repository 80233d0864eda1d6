// Embeddings and distances on a learned map. The numbers come from src/math; this file shapes them.
// Request rows arrive decoded (src/http): float32 rows, or a binary body staged by stage().
import type { Limits } from '../config.js';
import { distancesReplyBytes, embedReplyBytes, formatBytes, type EmbedFormat } from '../domain/costs.js';
import { AppError, badRequest, unprocessable } from '../errors.js';

import { firstUnsafeEmbedding } from '../math/embedding-range.js';
import { NORM_EPSILON, pairwiseDistances, type Kernels, type Metric } from '../math/index.js';
import { NonFiniteInputError, type Projection, type StagedRows } from '../math/kernels/types.js';
import type { ModelService, LoadedModel } from './models.js';
import { inSlices, rowsPerSlice } from './slices.js';
import { batchLimit, checkFiniteArray, firstNonFinite } from './vectors.js';

/** multiply-adds of one slice of an /embed or /distances request: a few milliseconds on the kernels */
const SLICE_MACS = 2 ** 25;

export type DistanceMetric = Metric;
export type { EmbedFormat };
/** A binary body staged for the kernels (stage()); routes and src/http name it from here. */
export type { StagedRows, LoadedModel };

/** count rows of d float32 values, decoded from a request. */
export interface Rows {
  data: Float32Array;
  count: number;
}

export interface Embedded {
  model: LoadedModel;
  rows: number;
  /** rows×k float32 */
  data: Float32Array;
}

export class ServingService {
  /**
   * One prepared projection per loaded model (W packed for the kernels once, not per request),
   * freed when the model's weights are garbage-collected. Keyed by the W array: a loaded model's
   * weights never change.
   */
  private readonly projections = new WeakMap<Float64Array, Projection>();
  private readonly release = new FinalizationRegistry<Projection>((p) => p.dispose());

  /**
   * `kernels`: the HTTP thread's (createServingCompute): never blocking, large binary batches
   * computed on helper threads.
   */
  constructor(
    private readonly models: ModelService,
    private readonly limits: Limits,
    private readonly kernels: Kernels,
  ) {}

  /**
   * A block of `bytes` bytes for a binary body, in the kernels' memory when they can stage (the
   * body is copied there once, chunk by chunk, and embedded in place), else a Buffer.
   */
  stage(bytes: number): StagedRows {
    return this.kernels.stage ? this.kernels.stage(bytes) : bufferRows(bytes);
  }

  private projection(model: LoadedModel): Projection {
    let p = this.projections.get(model.W);
    if (!p) {
      const k = this.kernels;
      p = k.prepareProjection
        ? k.prepareProjection(model.W, model.k, model.d)
        : jsProjection(k, model.W, model.k, model.d);
      this.projections.set(model.W, p);
      this.release.register(model.W, p);
    }
    return p;
  }

  /** n rows of X (n×d float32) through model's map: n×k float32. */
  embed(model: LoadedModel, X: Float32Array, n: number): Embedded {
    const out = new Float32Array(n * model.k);
    this.projection(model).embed(X, n, model.record.normalize, out);
    return finiteEmbedded({ model, rows: n, data: out });
  }

  /**
   * embed() in slices of rows of about SLICE_MACS multiply-adds, the event loop let run between
   * them: 4,096 rows of a 64→1024 model are 2.7·10⁸ of them, which would hold every other request.
   * (The projection lives as long as `model` is referenced, so it survives the pauses.)
   */
  async embedInSlices(model: LoadedModel, X: Float32Array, n: number): Promise<Embedded> {
    const { d, k } = model;
    const per = rowsPerSlice(d * k, SLICE_MACS);
    if (n <= per) return this.embed(model, X, n);
    const out = new Float32Array(n * k);
    const p = this.projection(model);
    await inSlices(n, per, (from, to) =>
      p.embed(X.subarray(from * d, to * d), to - from, model.record.normalize, out.subarray(from * k, to * k)),
    );
    return finiteEmbedded({ model, rows: n, data: out });
  }

  /** Refuses, before anything is computed, a reply over REPLY_BYTES_LIMIT (formulas: src/domain/costs.ts). */
  private checkReply(bytes: number, what: string): void {
    const limit = this.limits.replyBytesLimit;
    if (bytes > limit) {
      throw new AppError(
        413,
        'REPLY_TOO_LARGE',
        `${what} would take up to ${formatBytes(bytes)}, over the reply limit of ${formatBytes(limit)} (REPLY_BYTES_LIMIT); ask for fewer rows${what.startsWith('embeddings') ? ' or a binary reply (Accept: application/octet-stream)' : ''}`,
      );
    }
  }

  private checkEmbedReply(m: LoadedModel, rows: number, format: EmbedFormat): void {
    this.checkReply(embedReplyBytes(rows, m.k, format), `embeddings of ${rows} rows × ${m.k} values as ${format}`);
  }

  private owner(m: LoadedModel) {
    return `model ${m.record.id}`;
  }

  /**
   * The model a request of `rows` rows names by id or alias (the alias `default` when none), once
   * MAX_BATCH allows them: checked before the rows are decoded, which needs the model's dimension.
   */
  async modelFor(
    modelRef: string | undefined,
    rows: number,
    field: string,
    format: EmbedFormat = 'json',
  ): Promise<LoadedModel> {
    batchLimit(rows, this.limits.maxBatch, field);
    const m = await this.models.resolve(modelRef);
    this.checkEmbedReply(m, rows, format);
    return m;
  }

  /** Rows in a binary body of byteLength bytes for model m, checked against ?rows= and MAX_BATCH. */
  private binaryRows(m: LoadedModel, byteLength: number, rows: number | undefined): number {
    const rowBytes = 4 * m.d;
    if (byteLength === 0) throw badRequest('EMPTY_BATCH', 'the body holds no rows');
    if (byteLength % rowBytes !== 0) {
      throw badRequest(
        'DIMENSION_MISMATCH',
        `body is ${byteLength} bytes, not a whole number of ${m.d}-value float32 rows for ${this.owner(m)}`,
      );
    }
    const n = byteLength / rowBytes;
    if (rows !== undefined && rows !== n)
      throw badRequest('DIMENSION_MISMATCH', `rows=${rows} but the body holds ${n} rows of ${m.d} float32 values`);
    batchLimit(n, this.limits.maxBatch, 'body');
    return n;
  }

  /**
   * A staged binary body (this.stage): n×d little-endian float32; rows, when given, must match.
   * Does not release the block.
   */
  async embedStaged(
    modelRef: string | undefined,
    body: StagedRows,
    rows: number | undefined,
    format: EmbedFormat = 'binary',
  ): Promise<Embedded> {
    const m = await this.models.resolve(modelRef);
    const n = this.binaryRows(m, body.byteLength, rows);
    this.checkEmbedReply(m, n, format);
    const p = this.projection(m);
    if (p.embedStaged && !(body instanceof BufferRows)) {
      try {
        return finiteEmbedded({ model: m, rows: n, data: await p.embedStaged(body, n, m.record.normalize) });
      } catch (e) {
        if (e instanceof NonFiniteInputError) throw badRequest('NON_FINITE_VALUE', `body: ${e.message}`);
        throw e;
      }
    }
    const X = (body as BufferRows).floats();
    checkFiniteArray(X, m.d, 'body');
    return this.embedInSlices(m, X, n);
  }

  /** The model for a distances request, once MAX_BATCH, MAX_DISTANCE_PAIRS and DISTANCES_MAX_WORK allow its rows. */
  async modelForDistances(modelRef: string | undefined, na: number, nb: number | undefined): Promise<LoadedModel> {
    batchLimit(na, this.limits.maxBatch, 'a');
    if (nb !== undefined) batchLimit(nb, this.limits.maxBatch, 'b');
    const cols = nb ?? na;
    if (na * cols > this.limits.maxDistancePairs) {
      throw new AppError(
        413,
        'BATCH_TOO_LARGE',
        `${na}×${cols} distances is over the limit of ${this.limits.maxDistancePairs} (MAX_DISTANCE_PAIRS)`,
      );
    }
    this.checkReply(distancesReplyBytes(na, cols), `${na}×${cols} distances as JSON`);
    const m = await this.models.resolve(modelRef);
    // the CPU of the request: it runs in slices, but a k of thousands makes even allowed pairs long
    const rows = na + (nb ?? 0);
    const work = rows * m.k * m.d + na * cols * m.k;
    if (work > this.limits.distancesMaxWork)
      throw unprocessable(
        'BUDGET_EXCEEDED',
        `${rows} rows × k ${m.k} × d ${m.d} to embed plus ${na}×${cols} pairs × k ${m.k} is ${work} multiply-adds, ` +
          `over the limit of ${this.limits.distancesMaxWork} (DISTANCES_MAX_WORK); send fewer rows per request`,
      );
    return m;
  }

  /**
   * distances[i][j] between the embeddings of a's row i and b's row j (a's, without b). Computed
   * in slices of a's rows of about SLICE_MACS multiply-adds, with the event loop let run
   * between them: a large request (1,400² pairs of a k = 1024 model is 2·10⁹) would otherwise hold
   * every other request, /healthz included, for its whole length.
   */
  async distances(m: LoadedModel, a: Rows, b: Rows | undefined, metric: DistanceMetric) {
    const Ea = (await this.embedInSlices(m, a.data, a.count)).data;
    const nb = b ? b.count : a.count;
    const Eb = b ? (await this.embedInSlices(m, b.data, b.count)).data : Ea;
    const k = m.k;
    const D = new Float64Array(a.count * nb);
    await inSlices(a.count, rowsPerSlice(nb * k, SLICE_MACS), (from, to) =>
      pairwiseDistances(
        Ea.subarray(from * k, to * k),
        to - from,
        Eb,
        nb,
        k,
        metric,
        D.subarray(from * nb, to * nb),
        this.kernels,
      ),
    );
    // float32, as /embed's values: the distances of float32 embeddings have no more digits than that.
    // Checked after the rounding, which overflows a float64 distance past 3.4e38.
    const data = Float32Array.from(D);
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      // e.g. cosine of embeddings whose squared norm overflows: the inputs' scale, not a fault here
      throw unprocessable(
        'NON_FINITE_VALUE',
        `the ${metric} distance of a[${Math.floor(bad / nb)}] and ${b ? 'b' : 'a'}[${bad % nb}] is not a finite float32: the embeddings' values are too large for it; rescale the vectors`,
      );
    }
    return { model: m.record.id, metric, rows: a.count, cols: nb, data };
  }
}

/** An embedding that overflows float32 (|W·x| past ±3.4e38) cannot be answered as a number: 422. */
function finiteEmbedded(e: Embedded): Embedded {
  const i = firstNonFinite(e.data);
  if (i >= 0) {
    throw unprocessable(
      'NON_FINITE_VALUE',
      `the embedding of row ${Math.floor(i / e.model.k)} by model ${e.model.record.id} is not a finite float32 (value ${i % e.model.k} is ${e.data[i]}): the input's values are too large for this model; rescale them`,
    );
  }
  return e;
}

/**
 * n k-dimensional embeddings a gallery stores or is searched with, refused (422) past the range
 * where every distance between two of them is a finite float32 (largestSafeValue): the HNSW index
 * computes in float32, and a reply cannot say Infinity. `what` names a row, e.g. "item", and
 * `first` is E's first row's number in the request.
 */
export function checkSearchable(E: Float32Array, n: number, k: number, what: string, first = 0): Float32Array {
  const bad = firstUnsafeEmbedding(E, n, k);
  if (bad)
    throw unprocessable(
      'NON_FINITE_VALUE',
      `${what} ${first + bad.row} has embedding value ${bad.value.toPrecision(4)}, past ±${bad.safe.toPrecision(3)}, where distances between ` +
        'embeddings overflow float32; rescale the inputs or the model',
    );
  return E;
}

/** Staging for kernels without their own memory: a plain Buffer. */
class BufferRows implements StagedRows {
  private readonly buf: Buffer;
  constructor(readonly byteLength: number) {
    this.buf = Buffer.allocUnsafeSlow(byteLength);
  }
  write(chunk: Uint8Array, offset: number): void {
    this.buf.set(chunk, offset);
  }
  value(i: number): number {
    return this.buf.readFloatLE(i * 4);
  }
  /** The block as float32, once its length is known to be whole rows (a slow Buffer starts aligned). */
  floats(): Float32Array {
    return new Float32Array(this.buf.buffer, this.buf.byteOffset, this.byteLength / 4);
  }
  release(): void {}
}
const bufferRows = (bytes: number) => new BufferRows(bytes);

/** The same Projection shape over kernels without one (the pure-TypeScript fallback, float64). */
function jsProjection(kernels: Kernels, W: Float64Array, k: number, d: number): Projection {
  let Y = new Float64Array(0);
  return {
    k,
    d,
    embed(X, n, normalize, out) {
      if (Y.length < n * k) Y = new Float64Array(n * k);
      kernels.project(W, k, d, X, n, Y);
      for (let i = 0; i < n; i++) {
        let ss = 0;
        for (let r = 0; r < k; r++) ss += Y[i * k + r] * Y[i * k + r];
        const inv = normalize ? 1 / Math.max(Math.sqrt(ss), NORM_EPSILON) : 1;
        for (let r = 0; r < k; r++) out[i * k + r] = Y[i * k + r] * inv;
      }
    },
    dispose() {},
  };
}

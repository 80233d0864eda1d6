// Embeddings and distances on a learned map. The numbers come from src/math; this file shapes them.
import type { Limits } from '../config.js';
import { AppError, badRequest } from '../errors.js';

import { NORM_EPSILON, pairwiseDistances, type Kernels, type Metric } from '../math/index.js';
import { NonFiniteInputError, type Projection, type StagedRows } from '../math/kernels/types.js';

export type DistanceMetric = Metric;
import type { ModelService, LoadedModel } from './models.js';
import { batchLimit, checkFiniteArray, decodeBase64Row, encodeBase64Row, float32View, packRows, writeRow } from './vectors.js';
import { MAX_VALUE_BYTES, writeRows } from '../http/float32-json.js';

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

  private run(model: LoadedModel, X: Float32Array, n: number): Embedded {
    const out = new Float32Array(n * model.k);
    this.projection(model).embed(X, n, model.record.normalize, out);
    return { model, rows: n, data: out };
  }

  private owner(m: LoadedModel) {
    return `model ${m.record.id}`;
  }

  /** JSON rows, or base64 strings of float32 rows. */
  async embedJson(modelId: string | undefined, inputs: (number[] | string)[], encoding: 'float' | 'base64'): Promise<Embedded> {
    batchLimit(inputs.length, this.limits.maxBatch, 'inputs');
    const m = await this.models.resolve(modelId);
    const X = new Float32Array(inputs.length * m.d);
    for (let i = 0; i < inputs.length; i++) {
      const row = inputs[i];
      if (encoding === 'base64') {
        if (typeof row !== 'string') throw badRequest('VALIDATION_ERROR', `inputs[${i}] must be a base64 string when encoding is base64`);
        decodeBase64Row(row, X, i * m.d, m.d, `inputs[${i}]`, this.owner(m));
      } else {
        if (typeof row === 'string') throw badRequest('VALIDATION_ERROR', `inputs[${i}] must be an array of numbers (set "encoding": "base64" for strings)`);
        writeRow(row, X, i * m.d, m.d, `inputs[${i}]`, this.owner(m));
      }
    }
    return this.run(m, X, inputs.length);
  }

  /** Rows in a binary body of byteLength bytes for model m, checked against ?rows= and MAX_BATCH. */
  private binaryRows(m: LoadedModel, byteLength: number, rows: number | undefined): number {
    const rowBytes = 4 * m.d;
    if (byteLength === 0) throw badRequest('EMPTY_BATCH', 'the body holds no rows');
    if (byteLength % rowBytes !== 0) {
      throw badRequest('DIMENSION_MISMATCH', `body is ${byteLength} bytes, not a whole number of ${m.d}-value float32 rows for ${this.owner(m)}`);
    }
    const n = byteLength / rowBytes;
    if (rows !== undefined && rows !== n) throw badRequest('DIMENSION_MISMATCH', `rows=${rows} but the body holds ${n} rows of ${m.d} float32 values`);
    batchLimit(n, this.limits.maxBatch, 'body');
    return n;
  }

  /**
   * A staged binary body (this.stage): n×d little-endian float32; rows, when given, must match.
   * Does not release the block.
   */
  async embedStaged(modelId: string | undefined, body: StagedRows, rows: number | undefined): Promise<Embedded> {
    const m = await this.models.resolve(modelId);
    const n = this.binaryRows(m, body.byteLength, rows);
    const p = this.projection(m);
    if (p.embedStaged && !(body instanceof BufferRows)) {
      try {
        return { model: m, rows: n, data: await p.embedStaged(body, n, m.record.normalize) };
      } catch (e) {
        if (e instanceof NonFiniteInputError) throw badRequest('NON_FINITE_VALUE', `body: ${e.message}`);
        throw e;
      }
    }
    const X = float32View((body as BufferRows).buf);
    checkFiniteArray(X, m.d, 'body');
    return this.run(m, X, n);
  }

  /**
   * The whole JSON reply for float rows: {"model","dimension","embeddings"} as EmbedReply
   * describes, the rows written as ASCII bytes in one pass, each value as float32-exact short text
   * (float32-json.ts), with no number[][] built and no JSON.stringify pass over them. A string,
   * so Node sends it in one write with the headers.
   */
  static jsonBody(e: Embedded): string {
    const k = e.model.k;
    const buf = Buffer.allocUnsafe(e.rows * (k * MAX_VALUE_BYTES + 2) + 2);
    const end = writeRows(buf, 0, e.data, e.rows, k);
    return `{"model":${JSON.stringify(e.model.record.id)},"dimension":${k},"embeddings":${buf.toString('latin1', 0, end)}}`;
  }

  static toBase64(e: Embedded): string[] {
    const out: string[] = new Array(e.rows);
    for (let i = 0; i < e.rows; i++) out[i] = encodeBase64Row(e.data, i * e.model.k, e.model.k);
    return out;
  }

  async distances(modelId: string | undefined, a: number[][], b: number[][] | undefined, metric: DistanceMetric) {
    batchLimit(a.length, this.limits.maxBatch, 'a');
    if (b) batchLimit(b.length, this.limits.maxBatch, 'b');
    const nb = b ? b.length : a.length;
    if (a.length * nb > this.limits.maxDistancePairs) {
      throw new AppError(413, 'BATCH_TOO_LARGE', `${a.length}×${nb} distances is over the limit of ${this.limits.maxDistancePairs} (MAX_DISTANCE_PAIRS)`);
    }
    const m = await this.models.resolve(modelId);
    const Ea = this.run(m, packRows(a, m.d, 'a', this.owner(m)), a.length).data;
    const Eb = b ? this.run(m, packRows(b, m.d, 'b', this.owner(m)), b.length).data : Ea;
    const D = new Float64Array(a.length * nb);
    pairwiseDistances(Ea, a.length, Eb, nb, m.k, metric, D, this.kernels);
    const distances: number[][] = new Array(a.length);
    for (let i = 0; i < a.length; i++) distances[i] = Array.from(D.subarray(i * nb, (i + 1) * nb));
    return { model: m.record.id, metric, distances };
  }
}

/** Staging for kernels without their own memory: a plain Buffer. */
class BufferRows implements StagedRows {
  readonly buf: Buffer;
  constructor(readonly byteLength: number) {
    this.buf = Buffer.allocUnsafeSlow(byteLength);
  }
  write(chunk: Uint8Array, offset: number): void {
    this.buf.set(chunk, offset);
  }
  value(i: number): number {
    return this.buf.readFloatLE(i * 4);
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

// Datasets, their triplets and labelled samples: create, list, delete, and all-or-nothing uploads
// of rows decoded by src/http (one batch from a JSON body, or a stream of batches from NDJSON or
// binary).
import type { Limits } from '../config.js';
import { AppError, badRequest, notFound, tooLarge } from '../errors.js';
import type { TripletData } from '../jobs/messages.js';
import { runTask, TaskAbortedError } from '../jobs/worker-pool.js';
import { newId } from '../store/ids.js';
import type {
  CapacityLimit,
  ChunkKind,
  CommitOptions,
  DatasetRecord,
  Label,
  LabelCount,
  LabelErasure,
  Page,
  PageRequest,
  Store,
} from '../store/types.js';
import { idempotentWrite, type IdempotencyTicket } from './idempotency.js';
import { clientGone, TaskGate } from './task-gate.js';

/** The largest write of gathered index triplets to the store in one go. */
const STAGE_CHUNK_BYTES = 4 * 1024 * 1024;

export interface AppendResult {
  added: number;
  tripletCount: number;
}

export interface AppendSamplesResult {
  added: number;
  sampleCount: number;
}

/** Rows decoded from a request body (src/http): count rows of float32, and a label per row for samples. */
export interface RowBatch {
  data: Float32Array;
  count: number;
  labels?: Label[];
}

export type AppendResultOf<K extends ChunkKind> = K extends 'triplets' ? AppendResult : AppendSamplesResult;

export type { ChunkKind, Label };

export class DatasetService {
  constructor(
    private readonly store: Store,
    private readonly limits: Limits,
  ) {}

  async create(input: { name?: string; dimension: number }): Promise<DatasetRecord> {
    if (input.dimension > this.limits.maxDimension) {
      throw new AppError(
        422,
        'LIMIT_EXCEEDED',
        `dimension ${input.dimension} is over the limit of ${this.limits.maxDimension} (MAX_DIMENSION)`,
      );
    }
    return this.store.createDataset({ name: input.name ?? null, dimension: input.dimension });
  }

  async get(id: string): Promise<DatasetRecord> {
    const ds = await this.store.getDataset(id);
    if (!ds) throw notFound('DATASET_NOT_FOUND', `dataset ${id} does not exist`);
    return ds;
  }

  list(page: PageRequest): Promise<Page<DatasetRecord>> {
    return this.store.listDatasets(page);
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    // The store refuses (409 DATASET_IN_USE) inside the delete's own transaction: a check here
    // and a delete after it would let a POST /train queue a job in between.
    await this.store.deleteDataset(id);
  }

  /** The per-dataset cap of a kind, checked again inside the transaction that commits. */
  private capacity(kind: ChunkKind): CapacityLimit {
    return kind === 'triplets'
      ? { max: this.limits.maxTripletsPerDataset, setting: 'MAX_TRIPLETS_PER_DATASET' }
      : { max: this.limits.maxSamplesPerDataset, setting: 'MAX_SAMPLES_PER_DATASET' };
  }

  private checkCapacity(ds: DatasetRecord, kind: ChunkKind, adding: number): void {
    const have = kind === 'triplets' ? ds.tripletCount : ds.sampleCount;
    const limit = kind === 'triplets' ? this.limits.maxTripletsPerDataset : this.limits.maxSamplesPerDataset;
    if (have + adding > limit) {
      const name = kind === 'triplets' ? 'MAX_TRIPLETS_PER_DATASET' : 'MAX_SAMPLES_PER_DATASET';
      throw new AppError(
        422,
        'LIMIT_EXCEEDED',
        `dataset ${ds.id} would hold ${have + adding} ${kind}; the limit is ${limit} (${name})`,
      );
    }
  }

  private checkRequestSize(n: number, field: string): void {
    if (n > this.limits.maxTripletsPerRequest) {
      throw tooLarge(
        'BATCH_TOO_LARGE',
        `${field} has ${n} items; the limit is ${this.limits.maxTripletsPerRequest} (MAX_TRIPLETS_PER_REQUEST)`,
      );
    }
  }

  /** At most one gather runs at a time (each may use the whole INDEX_TRIPLETS_MEMORY_MB); a few wait. */
  private readonly gathers = new TaskGate('indexTriplets resolution', 1, 8, 1);

  /**
   * Triplets given as indices into the dataset's samples; stored as vectors like any triplet.
   * The indices are checked and the cost worked out before anything is read; the samples are
   * read once and handed (not copied) to a worker that gathers the rows, off the main thread.
   */
  async appendIndexTriplets(
    id: string,
    index: number[][],
    signal?: AbortSignal,
    ticket?: IdempotencyTicket,
  ): Promise<AppendResult> {
    const ds = await this.get(id);
    this.checkRequestSize(index.length, 'indexTriplets');
    this.checkCapacity(ds, 'triplets', index.length);
    if (ds.sampleCount === 0)
      throw new AppError(422, 'NO_SAMPLES', `dataset ${ds.id} has no samples for indexTriplets to refer to`);
    this.checkGatherBudget(ds, index.length);
    const indices = flatIndices(index, ds);
    // kept with the rows, so an erasure of samples finds and renumbers them (the task takes `indices`)
    const refs = indices.slice();
    return this.gathers.run(async () => {
      const stored = await this.store.readSamples(ds.id);
      if (signal?.aborted) throw clientGone('indexTriplets resolution');
      const samples = { count: stored.count, dimension: stored.dimension, data: stored.data };
      let triplets: TripletData;
      try {
        triplets = await runTask(
          { kind: 'gatherTriplets', samples, indices },
          (m) => (m.type === 'gathered' ? m.triplets : undefined),
          { signal },
        );
      } catch (e) {
        if (e instanceof TaskAbortedError) throw clientGone('indexTriplets resolution');
        const err = e as Error & { code?: string };
        if (err.code === 'INDEX_OUT_OF_RANGE')
          throw badRequest('INDEX_OUT_OF_RANGE', `dataset ${ds.id}: ${err.message}`);
        throw new AppError(500, 'INTERNAL_ERROR', `indexTriplets resolution failed: ${err.message}`);
      }
      return this.storeGathered(ds, triplets, { refs, epoch: stored.epoch, ticket }, signal);
    }, signal);
  }

  /**
   * Stores gathered triplets all or nothing, as staged chunks of at most STAGE_CHUNK_BYTES: the
   * store writes on the caller's thread, and one write of the whole budget would hold the event
   * loop for as long as it takes; between chunks other requests get their turn.
   */
  private async storeGathered(
    ds: DatasetRecord,
    triplets: TripletData,
    from: { refs: Int32Array; epoch?: number; ticket?: IdempotencyTicket },
    signal?: AbortSignal,
  ): Promise<AppendResult> {
    const rowFloats = 3 * triplets.dimension;
    const perChunk = Math.max(1, Math.floor(STAGE_CHUNK_BYTES / (4 * rowFloats)));
    const uploadId = newId('up');
    try {
      for (let i = 0; i < triplets.count; i += perChunk) {
        const rows = Math.min(perChunk, triplets.count - i);
        const chunk = triplets.data.subarray(i * rowFloats, (i + rows) * rowFloats);
        await this.store.stageIndexTriplets(uploadId, ds.id, chunk, from.refs.subarray(i * 3, (i + rows) * 3));
        await new Promise((resolve) => setImmediate(resolve));
        // a client that hung up is not answered: its rows are not kept either
        if (signal?.aborted) throw clientGone('indexTriplets resolution');
      }
      const after = await this.store.commitStaged(
        uploadId,
        ds.id,
        'triplets',
        triplets.count,
        this.capacity('triplets'),
        {
          samplesEpoch: from.epoch,
          ...this.once('triplets', triplets.count, from.ticket),
        },
      );
      return { added: triplets.count, tripletCount: after.tripletCount };
    } catch (e) {
      if (this.store.isOpen()) await this.store.discardStaged(uploadId);
      throw e;
    }
  }

  /** Peak bytes of a gather: the samples read (n·d·4) plus the triplet rows built (3m·d·4). */
  private checkGatherBudget(ds: DatasetRecord, m: number): void {
    const bytes = indexTripletsBytes(ds.sampleCount, m, ds.dimension);
    const limit = this.limits.indexTripletsBytes;
    if (bytes > limit) {
      throw new AppError(
        422,
        'LIMIT_EXCEEDED',
        `indexTriplets on dataset ${ds.id} (${ds.sampleCount} samples, ${m} triplets, dimension ${ds.dimension}) ` +
          `needs ${mib(bytes)} MiB, 4·d·(samples + 3·triplets) bytes; the budget is ${mib(limit)} MiB ` +
          '(INDEX_TRIPLETS_MEMORY_MB)',
      );
    }
  }

  /**
   * The dataset an upload of `rows` rows of a kind goes to, once the per-request and per-dataset
   * limits allow them: checked before a body's rows are decoded, so an oversized request is
   * refused as such whatever its values.
   */
  async uploadTarget(id: string, kind: ChunkKind, rows: number): Promise<DatasetRecord> {
    const ds = await this.get(id);
    this.checkRequestSize(rows, kind);
    this.checkCapacity(ds, kind, rows);
    return ds;
  }

  /** Appends one decoded batch (a JSON body's rows) in one transaction, with its Idempotency-Key if any. */
  async append<K extends ChunkKind>(
    ds: DatasetRecord,
    kind: K,
    batch: RowBatch,
    ticket?: IdempotencyTicket,
  ): Promise<AppendResultOf<K>> {
    this.checkRequestSize(batch.count, kind);
    this.checkCapacity(ds, kind, batch.count);
    const once = this.once(kind, batch.count, ticket);
    const after =
      kind === 'triplets'
        ? await this.store.appendTriplets(ds.id, batch.data, batch.count, this.capacity(kind), once)
        : await this.store.appendSamples(ds.id, batch.data, batch.labels ?? [], this.capacity(kind), once);
    return resultOf(kind, batch.count, after);
  }

  /** The Idempotency-Key to record with a commit of `added` rows: its reply is the append's (201). */
  private once(kind: ChunkKind, added: number, ticket?: IdempotencyTicket): CommitOptions {
    if (!ticket) return {};
    const field = kind === 'triplets' ? 'tripletCount' : 'sampleCount';
    const counts: Record<string, typeof field> = { [field]: field };
    return { idempotency: idempotentWrite(ticket, 201, { added }, counts) };
  }

  /** The dataset's labels with their sample counts, integers first, then strings. */
  async labels(id: string, page: PageRequest): Promise<Page<LabelCount>> {
    return this.store.listLabels(id, page);
  }

  /**
   * Erases one label's samples and the triplets that use them (docs/decisions/0034-identity-level-data.md).
   * 409 while a queued or running job uses the dataset: the store checks inside the erasure's own
   * transaction, where no job can be queued between the check and the erasure.
   */
  async eraseLabel(id: string, label: Label): Promise<LabelErasure> {
    await this.get(id);
    return this.store.eraseLabel(id, label);
  }

  /**
   * Appends a streamed upload's batches (NDJSON or binary, decoded by src/http): each is staged
   * under one upload id as it arrives, and all are committed at the end or none. The iterable may
   * reuse a batch's memory once the next is asked for: each is staged before that.
   */
  async appendStream<K extends ChunkKind>(
    ds: DatasetRecord,
    kind: K,
    batches: AsyncIterable<RowBatch>,
    ticket?: IdempotencyTicket,
  ): Promise<AppendResultOf<K>> {
    const uploadId = newId('up');
    let n = 0;
    let after: DatasetRecord;
    try {
      for await (const b of batches) {
        this.checkCapacity(ds, kind, n + b.count);
        await this.store.stageChunk(uploadId, ds.id, kind, b.data, b.count, kind === 'samples' ? b.labels : undefined);
        n += b.count;
      }
      if (n === 0) throw badRequest('EMPTY_BATCH', `the upload holds no ${kind}`);
      // the body was read to its end: its hash is whole
      after = await this.store.commitStaged(uploadId, ds.id, kind, n, this.capacity(kind), this.once(kind, n, ticket));
    } catch (e) {
      if (this.store.isOpen()) await this.store.discardStaged(uploadId);
      throw e;
    }
    return resultOf(kind, n, after);
  }
}

/** Bytes an indexTriplets request holds at its peak: n samples read, 3m rows built, of d float32 each. */
export function indexTripletsBytes(n: number, m: number, d: number): number {
  return 4 * d * (n + 3 * m);
}

const mib = (bytes: number) => Math.ceil(bytes / 2 ** 20);

/** The indices as one Int32Array, each checked against the dataset's sample count first. */
function flatIndices(index: number[][], ds: DatasetRecord): Int32Array {
  const out = new Int32Array(index.length * 3);
  index.forEach((t, i) => {
    if (t.length !== 3) throw badRequest('VALIDATION_ERROR', `indexTriplets[${i}] must hold 3 indices`);
    t.forEach((s, j) => {
      if (!Number.isInteger(s) || s < 0 || s >= ds.sampleCount) {
        throw badRequest(
          'INDEX_OUT_OF_RANGE',
          `indexTriplets[${i}][${j}] is ${s}, but dataset ${ds.id} has ${ds.sampleCount} samples`,
        );
      }
      out[i * 3 + j] = s;
    });
  });
  return out;
}

function resultOf<K extends ChunkKind>(kind: K, added: number, ds: DatasetRecord): AppendResultOf<K> {
  const result =
    kind === 'triplets' ? { added, tripletCount: ds.tripletCount } : { added, sampleCount: ds.sampleCount };
  return result as AppendResultOf<K>;
}

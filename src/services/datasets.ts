// Datasets and their triplets: create, list, delete, and all-or-nothing uploads in three formats.
import type { Readable } from 'node:stream';
import type { Limits } from '../config.js';
import { AppError, badRequest, conflict, notFound, tooLarge } from '../errors.js';
import type { TripletInput } from '../schemas/datasets.js';
import { newId } from '../store/ids.js';
import type { DatasetRecord, Page, PageRequest, Store } from '../store/types.js';
import { lines, records } from './streams.js';
import { checkFiniteArray, float32View, writeRow } from './vectors.js';

export interface AppendResult {
  added: number;
  tripletCount: number;
}

/** Bytes of float32 per staged chunk of a streamed upload: large enough to amortise a commit. */
const CHUNK_BYTES = 4 * 1024 * 1024;

export class DatasetService {
  constructor(
    private readonly store: Store,
    private readonly limits: Limits,
  ) {}

  create(input: { name?: string; dimension: number }): DatasetRecord {
    if (input.dimension > this.limits.maxDimension) {
      throw new AppError(422, 'LIMIT_EXCEEDED', `dimension ${input.dimension} is over the limit of ${this.limits.maxDimension} (MAX_DIMENSION)`);
    }
    return this.store.createDataset({ name: input.name ?? null, dimension: input.dimension });
  }

  get(id: string): DatasetRecord {
    const ds = this.store.getDataset(id);
    if (!ds) throw notFound('DATASET_NOT_FOUND', `dataset ${id} does not exist`);
    return ds;
  }

  list(page: PageRequest): Page<DatasetRecord> {
    return this.store.listDatasets(page);
  }

  delete(id: string): void {
    this.get(id);
    if (this.store.activeJobsForDataset(id) > 0) {
      throw conflict('DATASET_IN_USE', `dataset ${id} is used by a queued or running job`);
    }
    this.store.deleteDataset(id);
  }

  private checkCapacity(ds: DatasetRecord, adding: number): void {
    if (ds.tripletCount + adding > this.limits.maxTripletsPerDataset) {
      throw new AppError(
        422,
        'LIMIT_EXCEEDED',
        `dataset ${ds.id} would hold ${ds.tripletCount + adding} triplets; the limit is ${this.limits.maxTripletsPerDataset} (MAX_TRIPLETS_PER_DATASET)`,
      );
    }
  }

  /** JSON upload: every value checked, then one transaction. */
  appendJson(id: string, triplets: TripletInput[]): AppendResult {
    const ds = this.get(id);
    if (triplets.length > this.limits.maxTripletsPerRequest) {
      throw tooLarge('BATCH_TOO_LARGE', `triplets has ${triplets.length} items; the limit is ${this.limits.maxTripletsPerRequest} (MAX_TRIPLETS_PER_REQUEST)`);
    }
    this.checkCapacity(ds, triplets.length);
    const data = packTriplets(triplets, ds.dimension, `dataset ${ds.id}`);
    const after = this.store.appendTriplets(ds.id, data, triplets.length);
    return { added: triplets.length, tripletCount: after.tripletCount };
  }

  /** NDJSON upload: parsed line by line into staged chunks, committed at the end or discarded. */
  async appendNdjson(id: string, body: Readable): Promise<AppendResult> {
    const ds = this.get(id);
    const d = ds.dimension;
    const per = 3 * d;
    const slab = Math.max(1, Math.floor(CHUNK_BYTES / (per * 4)));
    const buf = new Float32Array(slab * per);
    const owner = `dataset ${ds.id}`;
    return this.staged(ds, async (stage) => {
      let n = 0;
      let inBuf = 0;
      let lineNo = 0;
      // A line holds three vectors of d numbers; 64 bytes a number is far beyond any real formatting.
      for await (const line of lines(body, { maxLine: 64 * per + 1024, maxTotal: this.limits.uploadLimit })) {
        lineNo++;
        if (line.trim() === '') continue;
        const t = parseTripletLine(line, lineNo);
        writeTriplet(t, buf, inBuf * per, d, `line ${lineNo}`, owner);
        inBuf++;
        n++;
        if (inBuf === slab) {
          stage(buf, inBuf);
          inBuf = 0;
        }
      }
      if (inBuf > 0) stage(buf.subarray(0, inBuf * per), inBuf);
      return n;
    });
  }

  /** Binary upload: n × 3 × d little-endian float32, streamed in whole-triplet slabs. */
  async appendBinary(id: string, body: Readable): Promise<AppendResult> {
    const ds = this.get(id);
    const per = 3 * ds.dimension;
    const slab = Math.max(1, Math.floor(CHUNK_BYTES / (per * 4)));
    return this.staged(ds, async (stage) => {
      let n = 0;
      for await (const bytes of records(body, { recordBytes: per * 4, slabRecords: slab, maxTotal: this.limits.uploadLimit })) {
        const values = float32View(bytes);
        const count = values.length / per;
        try {
          checkFiniteArray(values, per, 'body');
        } catch (e) {
          // Name the triplet within the whole upload, not within this slab.
          const m = /row (\d+), value (\d+)/.exec((e as Error).message);
          if (m) throw badRequest('NON_FINITE_VALUE', `triplet ${n + Number(m[1])}, value ${m[2]} is not finite`);
          throw e;
        }
        stage(values, count);
        n += count;
      }
      return n;
    });
  }

  /** Runs an upload whose chunks are staged; commits all of them at once or none. */
  private async staged(ds: DatasetRecord, body: (stage: (data: Float32Array, count: number) => void) => Promise<number>): Promise<AppendResult> {
    const uploadId = newId('up');
    let staged = 0;
    const stage = (data: Float32Array, count: number) => {
      this.checkCapacity(ds, staged + count);
      this.store.stageTriplets(uploadId, ds.id, data, count);
      staged += count;
    };
    try {
      const n = await body(stage);
      if (n === 0) throw badRequest('EMPTY_BATCH', 'the upload holds no triplets');
      const after = this.store.commitStaged(uploadId, ds.id, n);
      return { added: n, tripletCount: after.tripletCount };
    } catch (e) {
      if (this.store.isOpen()) this.store.discardStaged(uploadId);
      throw e;
    }
  }
}

export function packTriplets(triplets: TripletInput[], d: number, owner: string): Float32Array {
  const per = 3 * d;
  const out = new Float32Array(triplets.length * per);
  for (let i = 0; i < triplets.length; i++) writeTriplet(triplets[i], out, i * per, d, `triplets[${i}]`, owner);
  return out;
}

function writeTriplet(t: TripletInput, out: Float32Array, offset: number, d: number, field: string, owner: string): void {
  writeRow(t.anchor, out, offset, d, `${field}.anchor`, owner);
  writeRow(t.positive, out, offset + d, d, `${field}.positive`, owner);
  writeRow(t.negative, out, offset + 2 * d, d, `${field}.negative`, owner);
}

const TRIPLET_KEYS = ['anchor', 'positive', 'negative'] as const;

/** One NDJSON line → a triplet, or a 400 naming the line and the field. */
function parseTripletLine(line: string, lineNo: number): TripletInput {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw badRequest('INVALID_JSON', `line ${lineNo} is not valid JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw badRequest('VALIDATION_ERROR', `line ${lineNo} must be an object with anchor, positive and negative`);
  }
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(TRIPLET_KEYS as readonly string[]).includes(key)) {
      throw badRequest('VALIDATION_ERROR', `line ${lineNo} has an unknown field "${key}"`);
    }
  }
  for (const key of TRIPLET_KEYS) {
    if (!Array.isArray(o[key])) throw badRequest('VALIDATION_ERROR', `line ${lineNo}.${key} must be an array of numbers`);
  }
  return o as unknown as TripletInput;
}

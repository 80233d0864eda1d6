// Datasets, their triplets and labelled samples: create, list, delete, and all-or-nothing uploads
// in three formats (JSON, streamed NDJSON, streamed binary).
import type { Readable } from 'node:stream';
import type { Limits } from '../config.js';
import { AppError, badRequest, conflict, notFound, tooLarge } from '../errors.js';
import type { SampleInput, TripletInput } from '../schemas/datasets.js';
import { newId } from '../store/ids.js';
import type { CapacityLimit, ChunkKind, DatasetRecord, Label, Page, PageRequest, Store } from '../store/types.js';
import { lines, records } from '../http/streams.js';
import { checkFinite32, checkFiniteArray, float32View, writeRow } from './vectors.js';

export interface AppendResult {
  added: number;
  tripletCount: number;
}

export interface AppendSamplesResult {
  added: number;
  sampleCount: number;
}

/** Bytes of float32 per staged chunk of a streamed upload: large enough to amortise a commit. */
const CHUNK_BYTES = 4 * 1024 * 1024;

type Stage = (data: Float32Array, count: number, labels?: Label[]) => Promise<void>;

export class DatasetService {
  constructor(
    private readonly store: Store,
    private readonly limits: Limits,
  ) {}

  async create(input: { name?: string; dimension: number }): Promise<DatasetRecord> {
    if (input.dimension > this.limits.maxDimension) {
      throw new AppError(422, 'LIMIT_EXCEEDED', `dimension ${input.dimension} is over the limit of ${this.limits.maxDimension} (MAX_DIMENSION)`);
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
    if ((await this.store.activeJobsForDataset(id)) > 0) {
      throw conflict('DATASET_IN_USE', `dataset ${id} is used by a queued or running job`);
    }
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
      throw new AppError(422, 'LIMIT_EXCEEDED', `dataset ${ds.id} would hold ${have + adding} ${kind}; the limit is ${limit} (${name})`);
    }
  }

  private checkRequestSize(n: number, field: string): void {
    if (n > this.limits.maxTripletsPerRequest) {
      throw tooLarge('BATCH_TOO_LARGE', `${field} has ${n} items; the limit is ${this.limits.maxTripletsPerRequest} (MAX_TRIPLETS_PER_REQUEST)`);
    }
  }

  /** JSON upload of vector triplets: every value checked, then one transaction. */
  async appendJson(id: string, triplets: TripletInput[]): Promise<AppendResult> {
    const ds = await this.get(id);
    this.checkRequestSize(triplets.length, 'triplets');
    this.checkCapacity(ds, 'triplets', triplets.length);
    const data = packTriplets(triplets, ds.dimension, `dataset ${ds.id}`);
    const after = await this.store.appendTriplets(ds.id, data, triplets.length, this.capacity('triplets'));
    return { added: triplets.length, tripletCount: after.tripletCount };
  }

  /** Triplets given as indices into the dataset's samples; stored as vectors like any triplet. */
  async appendIndexTriplets(id: string, index: number[][]): Promise<AppendResult> {
    const ds = await this.get(id);
    this.checkRequestSize(index.length, 'indexTriplets');
    this.checkCapacity(ds, 'triplets', index.length);
    if (ds.sampleCount === 0) throw new AppError(422, 'NO_SAMPLES', `dataset ${ds.id} has no samples for indexTriplets to refer to`);
    const samples = await this.store.readSamples(ds.id);
    const d = ds.dimension;
    const out = new Float32Array(index.length * 3 * d);
    index.forEach((t, i) =>
      t.forEach((s, j) => {
        if (s >= samples.count) {
          throw badRequest('INDEX_OUT_OF_RANGE', `indexTriplets[${i}][${j}] is ${s}, but dataset ${ds.id} has ${samples.count} samples`);
        }
        out.set(samples.data.subarray(s * d, (s + 1) * d), (i * 3 + j) * d);
      }),
    );
    const after = await this.store.appendTriplets(ds.id, out, index.length, this.capacity('triplets'));
    return { added: index.length, tripletCount: after.tripletCount };
  }

  /** JSON upload of labelled samples, all or nothing. */
  async appendSamplesJson(id: string, samples: SampleInput[]): Promise<AppendSamplesResult> {
    const ds = await this.get(id);
    this.checkRequestSize(samples.length, 'samples');
    this.checkCapacity(ds, 'samples', samples.length);
    const d = ds.dimension;
    const data = new Float32Array(samples.length * d);
    const labels = samples.map((s, i) => {
      writeRow(s.vector, data, i * d, d, `samples[${i}].vector`, `dataset ${ds.id}`);
      return checkLabel(s.label, `samples[${i}].label`);
    });
    const after = await this.store.appendSamples(ds.id, data, labels, this.capacity('samples'));
    return { added: samples.length, sampleCount: after.sampleCount };
  }

  /** NDJSON upload: parsed line by line into staged chunks, committed at the end or discarded. */
  async appendNdjson(id: string, body: Readable): Promise<AppendResult> {
    const ds = await this.get(id);
    const per = 3 * ds.dimension;
    const owner = `dataset ${ds.id}`;
    const n = await this.streamLines(ds, 'triplets', per, body, (line, lineNo, buf, offset) => {
      const t = parseObjectLine(line, lineNo, TRIPLET_KEYS) as unknown as TripletInput;
      writeTriplet(t, buf, offset, ds.dimension, `line ${lineNo}`, owner);
      return undefined;
    });
    return { added: n, tripletCount: (await this.get(id)).tripletCount };
  }

  async appendSamplesNdjson(id: string, body: Readable): Promise<AppendSamplesResult> {
    const ds = await this.get(id);
    const d = ds.dimension;
    const owner = `dataset ${ds.id}`;
    const n = await this.streamLines(ds, 'samples', d, body, (line, lineNo, buf, offset) => {
      const s = parseObjectLine(line, lineNo, SAMPLE_KEYS) as unknown as SampleInput;
      if (!Array.isArray(s.vector)) throw badRequest('VALIDATION_ERROR', `line ${lineNo}.vector must be an array of numbers`);
      writeRow(s.vector, buf, offset, d, `line ${lineNo}.vector`, owner);
      return checkLabel(s.label, `line ${lineNo}.label`);
    });
    return { added: n, sampleCount: (await this.get(id)).sampleCount };
  }

  /** Shared NDJSON loop: each non-blank line fills one row of a slab; full slabs are staged. */
  private async streamLines(
    ds: DatasetRecord,
    kind: ChunkKind,
    rowFloats: number,
    body: Readable,
    parseInto: (line: string, lineNo: number, buf: Float32Array, offset: number) => Label | undefined,
  ): Promise<number> {
    const slab = Math.max(1, Math.floor(CHUNK_BYTES / (rowFloats * 4)));
    const buf = new Float32Array(slab * rowFloats);
    let labels: Label[] = [];
    return this.staged(ds, kind, async (stage) => {
      let n = 0;
      let inBuf = 0;
      let lineNo = 0;
      // A number takes at most ~25 characters in JSON; 64 a value leaves room for any formatting.
      for await (const line of lines(body, { maxLine: 64 * rowFloats + 1024, maxTotal: this.limits.uploadLimit })) {
        lineNo++;
        if (line.trim() === '') continue;
        const label = parseInto(line, lineNo, buf, inBuf * rowFloats);
        if (label !== undefined) labels.push(label);
        inBuf++;
        n++;
        if (inBuf === slab) {
          await stage(buf, inBuf, kind === 'samples' ? labels : undefined);
          inBuf = 0;
          labels = [];
        }
      }
      if (inBuf > 0) await stage(buf.subarray(0, inBuf * rowFloats), inBuf, kind === 'samples' ? labels : undefined);
      return n;
    });
  }

  /** Binary upload: n × 3 × d little-endian float32, streamed in whole-triplet slabs. */
  async appendBinary(id: string, body: Readable): Promise<AppendResult> {
    const ds = await this.get(id);
    const per = 3 * ds.dimension;
    const slab = Math.max(1, Math.floor(CHUNK_BYTES / (per * 4)));
    const n = await this.staged(ds, 'triplets', async (stage) => {
      let count = 0;
      for await (const bytes of records(body, { recordBytes: per * 4, slabRecords: slab, maxTotal: this.limits.uploadLimit })) {
        const values = float32View(bytes);
        const rows = values.length / per;
        checkFiniteRows(values, per, count, 'triplet');
        await stage(values, rows);
        count += rows;
      }
      return count;
    });
    return { added: n, tripletCount: (await this.get(id)).tripletCount };
  }

  /**
   * Binary samples: per sample a little-endian int32 label, then d float32 values
   * (4·(d+1) bytes a sample). Binary labels are integers.
   */
  async appendSamplesBinary(id: string, body: Readable): Promise<AppendSamplesResult> {
    const ds = await this.get(id);
    const d = ds.dimension;
    const recordBytes = 4 * (d + 1);
    const slab = Math.max(1, Math.floor(CHUNK_BYTES / recordBytes));
    const n = await this.staged(ds, 'samples', async (stage) => {
      let count = 0;
      for await (const bytes of records(body, { recordBytes, slabRecords: slab, maxTotal: this.limits.uploadLimit })) {
        const rows = bytes.byteLength / recordBytes;
        const data = new Float32Array(rows * d);
        const labels: Label[] = new Array(rows);
        for (let i = 0; i < rows; i++) {
          labels[i] = bytes.readInt32LE(i * recordBytes);
          for (let j = 0; j < d; j++) data[i * d + j] = bytes.readFloatLE(i * recordBytes + 4 + 4 * j);
        }
        checkFiniteRows(data, d, count, 'sample');
        await stage(data, rows, labels);
        count += rows;
      }
      return count;
    });
    return { added: n, sampleCount: (await this.get(id)).sampleCount };
  }

  /** Runs an upload whose chunks are staged; commits all of them at once or none. */
  private async staged(ds: DatasetRecord, kind: ChunkKind, body: (stage: Stage) => Promise<number>): Promise<number> {
    const uploadId = newId('up');
    let staged = 0;
    const stage: Stage = async (data, count, labels) => {
      this.checkCapacity(ds, kind, staged + count);
      await this.store.stageChunk(uploadId, ds.id, kind, data, count, labels);
      staged += count;
    };
    try {
      const n = await body(stage);
      if (n === 0) throw badRequest('EMPTY_BATCH', `the upload holds no ${kind}`);
      await this.store.commitStaged(uploadId, ds.id, kind, n, this.capacity(kind));
      return n;
    } catch (e) {
      if (this.store.isOpen()) await this.store.discardStaged(uploadId);
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

/** Names the first non-finite value by its row within the whole upload. */
function checkFiniteRows(values: Float32Array, rowLength: number, firstRow: number, what: string): void {
  try {
    checkFiniteArray(values, rowLength, 'body');
  } catch (e) {
    const m = /row (\d+), value (\d+)/.exec((e as Error).message);
    if (m) throw badRequest('NON_FINITE_VALUE', `${what} ${firstRow + Number(m[1])}, value ${m[2]} is not finite`);
    throw e;
  }
}

function checkLabel(label: unknown, field: string): Label {
  if (typeof label === 'string' && label.length > 0 && label.length <= 256) return label;
  if (typeof label === 'number' && Number.isSafeInteger(label)) {
    checkFinite32(label, field);
    return label;
  }
  throw badRequest('VALIDATION_ERROR', `${field} must be a non-empty string (at most 256 characters) or an integer`);
}

const TRIPLET_KEYS = ['anchor', 'positive', 'negative'] as const;
const SAMPLE_KEYS = ['vector', 'label'] as const;

/** One NDJSON line → an object with exactly the given keys, or a 400 naming the line and field. */
function parseObjectLine(line: string, lineNo: number, keys: readonly string[]): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw badRequest('INVALID_JSON', `line ${lineNo} is not valid JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw badRequest('VALIDATION_ERROR', `line ${lineNo} must be an object with ${keys.join(', ')}`);
  }
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!keys.includes(key)) throw badRequest('VALIDATION_ERROR', `line ${lineNo} has an unknown field "${key}"`);
  }
  for (const key of keys) {
    if (o[key] === undefined) throw badRequest('VALIDATION_ERROR', `line ${lineNo} must have property "${key}"`);
  }
  for (const key of keys) {
    if (key !== 'label' && !Array.isArray(o[key])) throw badRequest('VALIDATION_ERROR', `line ${lineNo}.${key} must be an array of numbers`);
  }
  return o;
}

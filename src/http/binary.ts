// Binary dataset uploads, decoded into float32 batches of whole records:
//   triplets: n × 3 × d little-endian float32 (anchor, positive, negative back to back);
//   samples:  per sample a little-endian int32 label, then d little-endian float32 values.
import type { Readable } from 'node:stream';
import { badRequest } from '../errors.js';
import type { ChunkKind, Label, RowBatch } from '../services/datasets.js';
import { firstNonFinite } from '../services/vectors.js';
import { float32View } from './rows.js';
import { slabRows } from './slabs.js';
import { records } from './streams.js';

export interface BinaryUpload {
  kind: ChunkKind;
  /** the dataset's vector length */
  dimension: number;
  /** bytes the whole body may take (UPLOAD_LIMIT_BYTES) */
  maxTotal: number;
}

/** Bytes of one record of the upload. */
export function recordBytes(kind: ChunkKind, d: number): number {
  return kind === 'triplets' ? 3 * d * 4 : 4 * (d + 1);
}

/** Names the first non-finite value by its record within the whole upload. */
function checkFiniteRows(values: Float32Array, rowLength: number, firstRow: number, what: string): void {
  const i = firstNonFinite(values);
  if (i >= 0) {
    throw badRequest(
      'NON_FINITE_VALUE',
      `${what} ${firstRow + Math.floor(i / rowLength)}, value ${i % rowLength} is not finite`,
    );
  }
}

/** A slab of sample records → their vectors and labels. */
function samplesOf(bytes: Buffer, d: number): { data: Float32Array; labels: Label[] } {
  const size = 4 * (d + 1);
  const rows = bytes.byteLength / size;
  const data = new Float32Array(rows * d);
  const labels: Label[] = new Array(rows);
  for (let i = 0; i < rows; i++) {
    labels[i] = bytes.readInt32LE(i * size);
    for (let j = 0; j < d; j++) data[i * d + j] = bytes.readFloatLE(i * size + 4 + 4 * j);
  }
  return { data, labels };
}

/**
 * Yields the upload's records in slabs of up to CHUNK_BYTES, every value checked finite; a body
 * that ends inside a record is a 400 DIMENSION_MISMATCH. A batch is valid until the next one is
 * asked for.
 */
export async function* decodeBinary(body: Readable, u: BinaryUpload): AsyncGenerator<RowBatch> {
  const d = u.dimension;
  const size = recordBytes(u.kind, d);
  let count = 0;
  for await (const bytes of records(body, { recordBytes: size, slabRecords: slabRows(size), maxTotal: u.maxTotal })) {
    const rows = bytes.byteLength / size;
    if (u.kind === 'triplets') {
      const data = float32View(bytes);
      checkFiniteRows(data, 3 * d, count, 'triplet');
      yield { data, count: rows };
    } else {
      const { data, labels } = samplesOf(bytes, d);
      checkFiniteRows(data, d, count, 'sample');
      yield { data, count: rows, labels };
    }
    count += rows;
  }
}

// PostgreSQL rows to the domain's records and back: timestamps, cursors, vector bytes, checksums.
// pg returns timestamptz as Date, bigint (seq, COUNT) as string, json already parsed, bytea as Buffer.
import { createHash } from 'node:crypto';
import { invalidError } from '../domain/errors.js';
import { finiteProgress } from '../domain/records.js';
import type { TrainingParams } from '../domain/training.js';
import type { DatasetRecord, JobError, JobRecord, JobStatus, ModelRecord, Page } from './types.js';

export type Row = Record<string, unknown>;

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : null);

/** A JSON column's value as a parameter: null stays SQL NULL rather than the JSON literal. */
export const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

/** The bytes of a typed array, exactly its own view (a subarray is not its whole buffer). */
export function bytesOf(a: Float32Array | Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function checksum(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

// Cursors are SQLite's: base64url of the row's seq, so a client sees one format on either backend.
export function encodeCursor(seq: string | number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

/** The seq to list below; without a cursor, above every row. */
export function decodeCursor(cursor: string | undefined): string {
  if (cursor === undefined || cursor === '') return String(Number.MAX_SAFE_INTEGER);
  const s = Buffer.from(cursor, 'base64url').toString();
  if (!/^\d{1,15}$/.test(s)) throw invalidError('INVALID_CURSOR', `cursor "${cursor}" is not one this service issued`);
  return s;
}

export function page<T>(rows: Row[], limit: number, map: (r: Row) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), nextCursor: more ? encodeCursor(kept[kept.length - 1].seq as string) : null };
}

export function datasetFromRow(r: Row): DatasetRecord {
  return {
    id: r.id as string,
    name: (r.name as string | null) ?? null,
    dimension: r.dimension as number,
    tripletCount: r.triplet_count as number,
    sampleCount: r.sample_count as number,
    createdAt: iso(r.created_at)!,
  };
}

export function jobFromRow(r: Row): JobRecord {
  return {
    id: r.id as string,
    status: r.status as JobStatus,
    datasetId: r.dataset_id as string,
    params: r.params as TrainingParams,
    progress: finiteProgress(r.progress),
    metrics: (r.metrics as Record<string, unknown> | null) ?? null,
    modelId: (r.model_id as string | null) ?? null,
    error: (r.error as JobError | null) ?? null,
    createdAt: iso(r.created_at)!,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  };
}

export const MODEL_COLUMNS =
  'seq, id, job_id, name, input_dimension, output_dimension, normalize, training_params, metrics, created_at';

export function modelFromRow(r: Row): ModelRecord {
  return {
    id: r.id as string,
    jobId: (r.job_id as string | null) ?? null,
    name: (r.name as string | null) ?? null,
    inputDimension: r.input_dimension as number,
    outputDimension: r.output_dimension as number,
    normalize: r.normalize === true,
    trainingParams: (r.training_params as TrainingParams | null) ?? null,
    metrics: (r.metrics as Record<string, unknown> | null) ?? {},
    createdAt: iso(r.created_at)!,
  };
}

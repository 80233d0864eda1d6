// What both backends do alike with rows: JSON parameters, vector bytes, weight checksums, and the
// cursor format (base64url of a row's seq), so a client sees one format on either backend.
import { createHash } from 'node:crypto';
import { conflictError, invalidError, notFoundError } from '../domain/errors.js';
import { finiteProgress, type JobKind } from '../domain/records.js';
import type { TrainingParams } from '../domain/training.js';
import {
  isFinished,
  type JobError,
  type JobEvent,
  type JobRecord,
  type JobStatus,
  type LeaseRenewal,
  type NewJob,
  type Page,
  type ReindexTarget,
} from './types.js';

export type Row = Record<string, unknown>;

/** A JSON column's value as a parameter: null stays SQL NULL rather than the JSON literal. */
export const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

/** The bytes of a typed array, exactly its own view (a subarray is not its whole buffer). */
export function bytesOf(a: Float32Array | Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function checksum(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

export function encodeCursor(seq: string | number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

/** The seq (decimal digits) to list below; without a cursor, above every row. */
export function decodeCursor(cursor: string | undefined): string {
  if (cursor === undefined || cursor === '') return String(Number.MAX_SAFE_INTEGER);
  const s = Buffer.from(cursor, 'base64url').toString();
  if (!/^\d{1,15}$/.test(s)) throw invalidError('INVALID_CURSOR', `cursor "${cursor}" is not one this service issued`);
  return s;
}

/**
 * The most progress points kept per job (docs/decisions/0037-training-history.md): every point until
 * full, then every second one but the newest is dropped, so older stretches are the sparser.
 */
export const JOB_EVENTS_KEPT = 1000;

/** One page of a job's progress points fetched with limit + 1; the cursor is the last seq. */
export function eventPage(rows: Row[], limit: number, map: (r: Row) => JobEvent): Page<JobEvent> {
  const more = rows.length > limit;
  const items = (more ? rows.slice(0, limit) : rows).map(map);
  return { items, nextCursor: more ? String(items[items.length - 1].seq) : null };
}

/** One page of rows fetched with limit + 1: the extra row only says there is a next page. */
export function page<T>(rows: Row[], limit: number, map: (r: Row) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), nextCursor: more ? encodeCursor(kept[kept.length - 1].seq as string | number) : null };
}

/** Why a renewal was refused, from the job's status and lease owner as they are now. */
export function refusedRenewal(row: { status: string; lease_owner: string | null } | undefined): LeaseRenewal {
  if (!row) return { held: false, reason: 'missing', status: null };
  const status = row.status as JobStatus;
  if (isFinished(status)) return { held: false, reason: 'finished', status };
  if (status === 'queued') return { held: false, reason: 'requeued', status };
  return { held: false, reason: 'taken', status };
}

/** Checkpoints are stored with their SHA-256; a read that does not match refuses them. */
export function checkCheckpoint(id: string, data: Uint8Array, sum: string): void {
  if (checksum(data) !== sum) throw new Error(`the checkpoint of job ${id} failed its integrity check (checksum)`);
}

/**
 * Fencing for a write that ends a job: throws unless the job runs under `owner`. JOB_FINISHED when
 * it has ended (cancelled meanwhile, say), LEASE_LOST when it was requeued or another owner runs it.
 */
export function refuseUnlessHeld(id: string, owner: string, row: Row | undefined): void {
  if (!row) throw notFoundError('JOB_NOT_FOUND', `job ${id} does not exist`);
  const status = row.status as JobStatus;
  if (isFinished(status)) throw conflictError('JOB_FINISHED', `job ${id} is no longer running (it is ${status})`);
  if (status !== 'running' || row.lease_owner !== owner)
    throw conflictError(
      'LEASE_LOST',
      `job ${id} is no longer held by runner ${owner}: its lease expired and it was ${status === 'queued' ? 'requeued' : `taken by ${String(row.lease_owner)}`}`,
    );
}

/**
 * Deleting a model something points to is refused: MODEL_IN_USE, naming what. `aliases`: the
 * aliases that point to it, by name.
 */
export function refuseModelInUse(id: string, aliases: string[]): void {
  if (aliases.length === 0) return;
  const list = aliases.map((a) => `"${a}"`).join(', ');
  throw conflictError(
    'MODEL_IN_USE',
    `model ${id} is in use: ${aliases.length === 1 ? 'the alias' : 'the aliases'} ${list} ${aliases.length === 1 ? 'points' : 'point'} to it; move or delete ${aliases.length === 1 ? 'it' : 'them'} first`,
  );
}

/**
 * The columns a new job is inserted with, on either backend: `params` holds the parameters of its
 * kind. A reindex job's `fromModelId` is the gallery's model as its queueing transaction read it.
 */
export function newJobColumns(
  id: string,
  input: NewJob,
  fromModelId: string | null,
): {
  id: string;
  kind: JobKind;
  datasetId: string | null;
  galleryId: string | null;
  params: string;
  modelName: string | null;
  promote: boolean;
} {
  if (input.kind === 'reindex') {
    const { galleryId, modelId } = input.reindex;
    const target: ReindexTarget = { galleryId, modelId, fromModelId: fromModelId! };
    return {
      id,
      kind: 'reindex',
      datasetId: null,
      galleryId,
      params: JSON.stringify(target),
      modelName: null,
      promote: false,
    };
  }
  return {
    id,
    kind: 'train',
    datasetId: input.datasetId,
    galleryId: null,
    params: JSON.stringify(input.params),
    modelName: input.modelName ?? null,
    promote: input.promote ?? false,
  };
}

/**
 * A job row (its JSON columns parsed, timestamps as ISO strings) → the record: `params` is the
 * training parameters of a training job, the target of a reindex job.
 */
export function jobRecord(
  r: Row,
  json: { params: unknown; progress: unknown; metrics: unknown; error: unknown },
  times: {
    createdAt: string;
    startedAt: string | null;
    finishedAt: string | null;
  },
): JobRecord {
  const kind = ((r.kind as string | undefined) ?? 'train') as JobKind;
  return {
    id: r.id as string,
    status: r.status as JobStatus,
    kind,
    datasetId: (r.dataset_id as string | null) ?? null,
    params: kind === 'train' ? (json.params as TrainingParams) : null,
    reindex: kind === 'reindex' ? (json.params as ReindexTarget) : null,
    progress: finiteProgress(json.progress),
    metrics: (json.metrics as Record<string, unknown> | null) ?? null,
    modelId: (r.model_id as string | null) ?? null,
    error: (json.error as JobError | null) ?? null,
    ...times,
    attempts: r.attempts as number,
    resumedFromIteration: (r.resumed_from_iteration as number | null) ?? null,
    modelName: (r.model_name as string | null) ?? null,
    // SQLite stores 0/1, PostgreSQL a boolean
    promote: r.promote === true || r.promote === 1,
  };
}

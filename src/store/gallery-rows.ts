// What both backends do alike with gallery rows: labels as JSON text, the keys a label query
// matches, the checks of a reindex's fencing, and float32 blobs packed into one array.
import { conflictError, invalidError, notFoundError } from '../domain/errors.js';
import type { GalleryRecord, LabelType } from '../domain/galleries.js';
import type { Row } from './rows.js';
import type { Label } from './types.js';

/** A timestamp column: ISO text (SQLite) or a Date (PostgreSQL). */
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

/** A galleries row of either backend (PostgreSQL returns bigint as a string, timestamps as Date). */
export function galleryFromRow(r: Row): GalleryRecord {
  return {
    id: r.id as string,
    name: (r.name as string | null) ?? null,
    model: r.model_id as string,
    dimension: Number(r.dimension),
    embeddingDimension: Number(r.embedding_dimension),
    index: r.index_kind as GalleryRecord['index'],
    version: Number(r.version),
    itemCount: Number(r.item_count),
    pendingModel: (r.pending_model_id as string | null) ?? null,
    reindexJob: (r.reindex_job_id as string | null) ?? null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

/** A label as stored: JSON text (a string stays quoted, an integer does not), null without one. */
export const labelText = (label: Label | null | undefined): string | null =>
  label === null || label === undefined ? null : JSON.stringify(label);

export const labelOf = (text: unknown): Label | null => (typeof text === 'string' ? (JSON.parse(text) as Label) : null);

/**
 * The stored forms `?label=X` matches: the string X, and the integer X when X is an integer's
 * decimal form, or only the one `type` says. Unsaid, the two can name two identities of one
 * gallery; the store then refuses to choose (refuseAmbiguousLabel).
 */
export function labelKeys(label: string, type?: LabelType): string[] {
  const integer = /^-?(0|[1-9]\d{0,15})$/.test(label) && Number.isSafeInteger(Number(label));
  if (type === 'integer' && !integer)
    throw invalidError(
      'VALIDATION_ERROR',
      `querystring/label ${JSON.stringify(label)} is not an integer (labelType=integer)`,
    );
  const keys = type === 'integer' ? [] : [JSON.stringify(label)];
  if (integer && type !== 'string') keys.push(String(Number(label)));
  return keys;
}

/** Throws VALIDATION_ERROR when `found`, the distinct stored labels an unsaid `?label=X` matched, are two identities. */
export function refuseAmbiguousLabel(label: string, found: number): void {
  if (found > 1)
    throw invalidError(
      'VALIDATION_ERROR',
      `querystring/label ${JSON.stringify(label)} names two identities of this gallery, the string and the integer; ` +
        'say which with labelType=string or labelType=integer',
    );
}

export const galleryNotFound = (id: string) => notFoundError('GALLERY_NOT_FOUND', `gallery ${id} does not exist`);

/** Throws unless the gallery's reindex is held by jobId. */
export function refuseUnlessReindexHeld(
  galleryId: string,
  jobId: string,
  row: Record<string, unknown> | undefined,
): void {
  if (!row) throw galleryNotFound(galleryId);
  if (row.reindex_job_id !== jobId)
    throw conflictError(
      'REINDEX_NOT_HELD',
      `job ${jobId} no longer holds the reindex of gallery ${galleryId}` +
        (row.reindex_job_id ? ` (job ${String(row.reindex_job_id)} does)` : ''),
    );
}

export const reindexPending = (galleryId: string, jobId: unknown) =>
  conflictError(
    'REINDEX_PENDING',
    `gallery ${galleryId} is already being reindexed by job ${String(jobId)}; follow it at /jobs/${String(jobId)}, or cancel it first`,
  );

export const modelUnchanged = (galleryId: string, modelId: string) =>
  conflictError('MODEL_UNCHANGED', `gallery ${galleryId} is already on model ${modelId}`);

export const modelChanged = (galleryId: string, modelId: string, now: unknown) =>
  conflictError(
    'GALLERY_MODEL_CHANGED',
    `gallery ${galleryId} moved to model ${String(now)} while this upload was embedded with ${modelId}; send it again`,
  );

export const modelInUse = (modelId: string, galleryId: unknown) =>
  conflictError('MODEL_IN_USE', `model ${modelId} is used by gallery ${String(galleryId)}; delete or reindex it first`);

/** n blobs of `width` float32 values each, checked, into one array. */
export function packBlobs(blobs: Uint8Array[], width: number, what: string): Float32Array {
  const out = new Float32Array(blobs.length * width);
  const bytes = new Uint8Array(out.buffer);
  blobs.forEach((b, i) => {
    if (b.byteLength !== width * 4) throw new Error(`corrupt ${what}: ${b.byteLength} bytes, expected ${width * 4}`);
    // through a byte view: blobs are not guaranteed to be 4-byte aligned
    bytes.set(b, i * width * 4);
  });
  return out;
}

/** Row i of an n×width float32 array as bytes, for a blob. */
export function rowBytes(a: Float32Array, i: number, width: number): Buffer {
  return Buffer.from(a.buffer, a.byteOffset + i * width * 4, width * 4);
}

export const dimensionMismatch = (galleryId: string, d: number, modelId: string, md: number) =>
  invalidError(
    'DIMENSION_MISMATCH',
    `gallery ${galleryId} holds ${d}-value features; model ${modelId} takes ${md} inputs`,
  );

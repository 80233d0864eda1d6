// Errors of the domain (store and services), free of HTTP: each names what went wrong with a
// stable code and a kind; src/error-handler.ts maps the kind to a status code.

/** Stable error codes, documented in the README. */
export const ErrorCodes = [
  'VALIDATION_ERROR',
  'INVALID_JSON',
  'INVALID_BODY',
  'DIMENSION_MISMATCH',
  'NON_FINITE_VALUE',
  'EMPTY_BATCH',
  'BODY_TOO_LARGE',
  'BATCH_TOO_LARGE',
  'LIMIT_EXCEEDED',
  'UNSUPPORTED_MEDIA_TYPE',
  'NOT_ACCEPTABLE',
  'DATASET_NOT_FOUND',
  'JOB_NOT_FOUND',
  'MODEL_NOT_FOUND',
  'ROUTE_NOT_FOUND',
  'UNAUTHORIZED',
  'DATASET_IN_USE',
  'JOB_FINISHED',
  'LEASE_LOST',
  'NO_MODEL',
  'NO_TRIPLETS',
  'NO_SAMPLES',
  'INDEX_OUT_OF_RANGE',
  'INVALID_CURSOR',
  'QUEUE_FULL',
  'SHUTTING_DOWN',
  'OVERLOADED',
  'STORAGE_UNAVAILABLE',
  'STORAGE_FULL',
  'INTERNAL_ERROR',
  'CLIENT_CLOSED_REQUEST',
  'INVALID_REQUEST',
  'HEADERS_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'BODY_TIMEOUT',
  'CLIENT_ABORTED',
  'CONNECTION_LIMIT',
  'STAGING_FULL',
  'INVALID_UTF8',
  'BUDGET_EXCEEDED',
  'REPLY_TOO_LARGE',
  // galleries (docs/decisions/0031-galleries.md)
  'GALLERY_NOT_FOUND',
  'ITEM_NOT_FOUND',
  'MODEL_IN_USE',
  'GALLERY_MODEL_CHANGED',
  'REINDEX_PENDING',
  'REINDEX_NOT_HELD',
  'ALIAS_NOT_FOUND',
  'LABEL_NOT_FOUND',
  'DATASET_CHANGED',
  'INVALID_IDEMPOTENCY_KEY',
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_KEY_IN_FLIGHT',
  // reindex jobs (docs/decisions/0033-reindex-jobs.md)
  'MODEL_UNCHANGED',
  // a training batch larger than the dataset can fill (docs/decisions/0048-batch-the-data-can-fill.md)
  'BATCH_EXCEEDS_DATA',
  // a gallery evaluated with another model than its own (docs/decisions/0038)
  'GALLERY_MODEL_MISMATCH',
  // a write from another web site (docs/decisions/0069-cross-origin-writes.md)
  'CROSS_ORIGIN',
] as const;
export type ErrorCode = (typeof ErrorCodes)[number];

/** What kind of failure, independent of any protocol. */
export type DomainErrorKind = 'not_found' | 'conflict' | 'invalid' | 'limit' | 'busy' | 'unavailable' | 'storage_full';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFoundError = (code: ErrorCode, message: string) => new DomainError('not_found', code, message);
export const conflictError = (code: ErrorCode, message: string) => new DomainError('conflict', code, message);
export const invalidError = (code: ErrorCode, message: string) => new DomainError('invalid', code, message);
export const limitError = (message: string) => new DomainError('limit', 'LIMIT_EXCEEDED', message);
/** Too much is queued already: the same request may pass later. */
export const queueFullError = (message: string) => new DomainError('busy', 'QUEUE_FULL', message);
/** A dataset that a queued or running job uses cannot be deleted or have a label erased. */
export const datasetInUseError = (id: string) =>
  conflictError('DATASET_IN_USE', `dataset ${id} is used by a queued or running job; retry once it has ended`);
/** The storage cannot take the request now (a lost or unwritable database, a broken connection). */
export const unavailableError = (message: string) => new DomainError('unavailable', 'STORAGE_UNAVAILABLE', message);
/** The storage is out of room (SQLITE_FULL, ENOSPC, PostgreSQL's disk_full). */
export const storageFullError = (message: string) => new DomainError('storage_full', 'STORAGE_FULL', message);

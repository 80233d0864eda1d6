// The one error type with stable codes, and the shape every error reply takes.
import { STATUS_CODES } from 'node:http';

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
  'NO_MODEL',
  'NO_TRIPLETS',
  'NO_SAMPLES',
  'INDEX_OUT_OF_RANGE',
  'INVALID_CURSOR',
  'QUEUE_FULL',
  'SHUTTING_DOWN',
  'OVERLOADED',
  'INTERNAL_ERROR',
] as const;
export type ErrorCode = (typeof ErrorCodes)[number];

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

export const badRequest = (code: ErrorCode, message: string) => new AppError(400, code, message);
export const notFound = (code: ErrorCode, message: string) => new AppError(404, code, message);
export const conflict = (code: ErrorCode, message: string) => new AppError(409, code, message);
export const unprocessable = (code: ErrorCode, message: string) => new AppError(422, code, message);
export const tooLarge = (code: ErrorCode, message: string) => new AppError(413, code, message);

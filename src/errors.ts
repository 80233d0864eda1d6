// The HTTP error type with stable codes, and the shape every error reply takes.
import { STATUS_CODES } from 'node:http';

import { ErrorCodes, type ErrorCode } from './domain/errors.js';

export { ErrorCodes, type ErrorCode };

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
    /** reply headers that go with the refusal (retry-after, connection: close) */
    readonly headers: Record<string, string> = {},
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

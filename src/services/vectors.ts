// The value checks every route's rows share: float32 range, row length, finiteness, batch size.
// Decoding request bodies into rows is src/http's (rows.ts, ndjson.ts, binary.ts).
import { badRequest, AppError } from '../errors.js';

/**
 * A value that is finite in float64 can still overflow float32: we store float32. A value is
 * refused when its float32 (the nearest, as Math.fround and np.float32 round) is not finite, so
 * 3.4028235e38, which numpy prints for float32's largest value, is float32's largest value.
 */
export function checkFinite32(v: number, field: string): void {
  if (!Number.isFinite(Math.fround(v))) {
    throw badRequest('NON_FINITE_VALUE', `${field} is not a finite float32 value (${v})`);
  }
}

export function checkDimension(row: ArrayLike<number>, expected: number, field: string, owner: string): void {
  if (row.length !== expected) {
    throw badRequest('DIMENSION_MISMATCH', `${field} has ${row.length} values, ${owner} expects ${expected}`);
  }
}

/** Checks a float32 buffer for NaN and ±Infinity, naming the first bad value. */
export function checkFiniteArray(a: Float32Array, rowLength: number, field: string): void {
  const i = firstNonFinite(a);
  if (i >= 0) {
    throw badRequest(
      'NON_FINITE_VALUE',
      `${field}: row ${Math.floor(i / rowLength)}, value ${i % rowLength} is ${a[i]}`,
    );
  }
}

/** The index of the first NaN or ±Infinity in a, or -1. */
export function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

export function batchLimit(n: number, max: number, field: string): void {
  if (n > max) throw new AppError(413, 'BATCH_TOO_LARGE', `${field} has ${n} rows; the limit is ${max} (MAX_BATCH)`);
}

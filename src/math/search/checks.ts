// Argument checks of the search: every error is a RangeError that names the offending field.
import type { DataArray } from '../types.js';

/** Throws RangeError naming `field`, the row and the column of the first NaN or ±Infinity in A (rows×k). */
export function assertFiniteRows(field: string, A: DataArray, rows: number, k: number): void {
  const end = rows * k;
  for (let i = 0; i < end; i++) {
    const v = A[i];
    // v − v is NaN exactly for NaN and ±Infinity: one subtraction instead of two calls
    if (v - v !== 0) throw new RangeError(`${field}: row ${Math.floor(i / k)}, value ${i % k} is ${v}`);
  }
}

/** Throws RangeError naming `field` unless A holds rows×k values with rows and k integers (k ≥ 1). */
export function assertShape(field: string, A: DataArray, rows: number, k: number): void {
  if (!(Number.isInteger(k) && k >= 1))
    throw new RangeError(`${field}: dimension must be a positive integer (got ${k})`);
  if (!(Number.isInteger(rows) && rows >= 0))
    throw new RangeError(`${field}: row count must be an integer ≥ 0 (got ${rows})`);
  if (A.length < rows * k)
    throw new RangeError(`${field}: has ${A.length} values, expected ${rows}·${k} = ${rows * k}`);
}

export function assertTopK(k: number): void {
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`k must be a positive integer (got ${k})`);
}

export function assertMaxDistance(maxDistance: number | undefined): void {
  if (maxDistance === undefined) return;
  if (!(typeof maxDistance === 'number' && Number.isFinite(maxDistance) && maxDistance >= 0))
    throw new RangeError(`maxDistance must be a finite number ≥ 0 (got ${maxDistance})`);
}

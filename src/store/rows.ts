// What both backends do alike with rows: JSON parameters, vector bytes, weight checksums, and the
// cursor format (base64url of a row's seq), so a client sees one format on either backend.
import { createHash } from 'node:crypto';
import { invalidError } from '../domain/errors.js';
import type { Page } from './types.js';

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

/** One page of rows fetched with limit + 1: the extra row only says there is a next page. */
export function page<T>(rows: Row[], limit: number, map: (r: Row) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), nextCursor: more ? encodeCursor(kept[kept.length - 1].seq as string | number) : null };
}

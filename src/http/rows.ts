// Request rows → float32 and float32 → base64 rows: the codecs every body format shares. The
// checks on the values themselves are the services' (services/vectors.ts).
import { badRequest } from '../errors.js';
import { checkDimension, checkFinite32 } from '../services/vectors.js';

/** Copies one number[] row into out at offset, checking length and finiteness. */
export function writeRow(
  row: number[],
  out: Float32Array,
  offset: number,
  d: number,
  field: string,
  owner: string,
): void {
  checkDimension(row, d, field, owner);
  for (let j = 0; j < d; j++) {
    const v = row[j];
    if (typeof v !== 'number') throw badRequest('VALIDATION_ERROR', `${field}[${j}] must be a number`);
    checkFinite32(v, `${field}[${j}]`);
    out[offset + j] = v;
  }
}

/** number[][] → n×d float32, every row checked. */
export function packRows(rows: number[][], d: number, field: string, owner: string): Float32Array {
  const out = new Float32Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) writeRow(rows[i], out, i * d, d, `${field}[${i}]`, owner);
  return out;
}

/** A Buffer's bytes as float32 (copied when the buffer is not 4-byte aligned). */
export function float32View(buf: Buffer): Float32Array {
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const copy = new Float32Array(buf.byteLength / 4);
  new Uint8Array(copy.buffer).set(buf);
  return copy;
}

/** base64 of one row's float32 bytes → the row, checked. */
export function decodeBase64Row(
  s: string,
  out: Float32Array,
  offset: number,
  d: number,
  field: string,
  owner: string,
): void {
  const buf = Buffer.from(s, 'base64');
  if (buf.byteLength !== d * 4) {
    throw badRequest(
      'DIMENSION_MISMATCH',
      `${field} decodes to ${buf.byteLength / 4} float32 values, ${owner} expects ${d}`,
    );
  }
  const row = float32View(buf);
  for (let j = 0; j < d; j++) {
    if (!Number.isFinite(row[j])) throw badRequest('NON_FINITE_VALUE', `${field}[${j}] is ${row[j]}`);
    out[offset + j] = row[j];
  }
}

export function encodeBase64Row(a: Float32Array, offset: number, k: number): string {
  return Buffer.from(a.buffer, a.byteOffset + offset * 4, k * 4).toString('base64');
}

// Bounded readers over a request stream: whole bodies, lines (strict UTF-8), fixed-size records.
import type { Readable } from 'node:stream';
import { badRequest, tooLarge } from '../errors.js';
import { decodeUtf8 } from './utf8.js';

function tooBig(limit: number, what: string) {
  return tooLarge('BODY_TOO_LARGE', `${what} is larger than the limit of ${limit} bytes`);
}

/** Reads a whole body, refusing more than limit bytes. */
export async function readBody(stream: Readable, limit: number, what = 'request body'): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    size += b.byteLength;
    if (size > limit) throw tooBig(limit, what);
    parts.push(b);
  }
  return Buffer.concat(parts, size);
}

/**
 * Yields the lines of a stream one at a time (without the newline), holding at most one
 * partial line: memory stays bounded however large the upload.
 */
export async function* lines(stream: Readable, opts: { maxLine: number; maxTotal: number }): AsyncGenerator<string> {
  // One bound for every line, whether it arrived whole in one chunk or split across several.
  const checked = (bytes: number) => {
    if (bytes > opts.maxLine) throw tooLarge('BODY_TOO_LARGE', `a line is longer than ${opts.maxLine} bytes`);
  };
  let carry: Buffer = Buffer.alloc(0);
  let total = 0;
  let n = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    total += b.byteLength;
    if (total > opts.maxTotal) throw tooBig(opts.maxTotal, 'upload');
    const buf = carry.byteLength ? Buffer.concat([carry, b]) : b;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      checked(nl - start);
      yield decodeUtf8(buf.subarray(start, nl), `line ${++n}`);
      start = nl + 1;
    }
    carry = buf.subarray(start);
    checked(carry.byteLength);
  }
  if (carry.byteLength) yield decodeUtf8(carry, `line ${n + 1}`);
}

/** Yields whole records of recordBytes each, in slabs of up to slabRecords; errors on a ragged tail. */
export async function* records(
  stream: Readable,
  opts: { recordBytes: number; slabRecords: number; maxTotal: number },
): AsyncGenerator<Buffer> {
  const slabBytes = opts.recordBytes * opts.slabRecords;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    total += b.byteLength;
    if (total > opts.maxTotal) throw tooBig(opts.maxTotal, 'upload');
    pending.push(b);
    pendingBytes += b.byteLength;
    while (pendingBytes >= slabBytes) {
      const all = Buffer.concat(pending, pendingBytes);
      yield all.subarray(0, slabBytes);
      const rest = all.subarray(slabBytes);
      pending = rest.byteLength ? [rest] : [];
      pendingBytes = rest.byteLength;
    }
  }
  if (pendingBytes % opts.recordBytes !== 0) {
    throw badRequest(
      'DIMENSION_MISMATCH',
      `body is ${total} bytes, not a whole number of ${opts.recordBytes}-byte records`,
    );
  }
  if (pendingBytes) yield Buffer.concat(pending, pendingBytes);
}

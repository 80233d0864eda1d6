// Bounded readers over a request stream: lines (strict UTF-8) and fixed-size records.
import type { Readable } from 'node:stream';
import { badRequest, tooLarge } from '../errors.js';
import { bodyHashOf } from './body-hash.js';
import { budgetOf, Held } from './staged-body.js';
import { decodeUtf8 } from './utf8.js';

/**
 * The chunks of a stream, in paused mode. Unlike `for await (… of stream)` it never destroys the
 * stream when the reader stops or the stream errors: the stream is the request itself, and
 * destroying it would close the socket before the answer (413, 408) is written.
 */
export async function* chunks(stream: Readable): AsyncGenerator<Buffer> {
  let wake: (() => void) | undefined;
  let failed: Error | undefined;
  let ended = false;
  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onEnd = () => {
    ended = true;
    signal();
  };
  const onError = (e: Error) => {
    failed ??= e;
    signal();
  };
  // A request closes after its end too (auto-destroy): only a close before the end is an early one.
  const onClose = () => {
    if (!ended && !stream.readableEnded)
      onError(badRequest('INVALID_BODY', 'the body ended early (connection closed)'));
  };
  stream.on('readable', signal).on('end', onEnd).on('error', onError).on('close', onClose);
  try {
    for (;;) {
      if (failed) throw failed;
      const chunk = stream.read() as Buffer | null;
      if (chunk !== null) {
        bodyHashOf(stream)?.update(chunk);
        yield chunk;
      } else if (ended || stream.readableEnded) return;
      else if (stream.destroyed) throw failed ?? badRequest('INVALID_BODY', 'the body ended early (connection closed)');
      else await new Promise<void>((r) => (wake = r));
    }
  } finally {
    stream.off('readable', signal).off('end', onEnd).off('error', onError).off('close', onClose);
  }
}

function tooBig(limit: number, what: string) {
  return tooLarge('BODY_TOO_LARGE', `${what} is larger than the limit of ${limit} bytes`);
}

/**
 * Yields the lines of a stream one at a time (without the newline), holding at most one
 * partial line: memory stays bounded however large the upload. A partial line is kept as the
 * chunks it came in and joined once its newline arrives, so a long line sent in small pieces
 * costs time linear in its length. What is held counts against the stream's staging budget.
 */
export async function* lines(stream: Readable, opts: { maxLine: number; maxTotal: number }): AsyncGenerator<string> {
  // One bound for every line, whether it arrived whole in one chunk or split across several.
  const checked = (bytes: number) => {
    if (bytes > opts.maxLine) throw tooLarge('BODY_TOO_LARGE', `a line is longer than ${opts.maxLine} bytes`);
  };
  const held = new Held(budgetOf(stream));
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let total = 0;
  let n = 0;
  try {
    for await (const chunk of chunks(stream)) {
      const b = chunk as Buffer;
      total += b.byteLength;
      if (total > opts.maxTotal) throw tooBig(opts.maxTotal, 'upload');
      let start = 0;
      for (let nl = b.indexOf(10, start); nl !== -1; nl = b.indexOf(10, start)) {
        checked(carryBytes + nl - start);
        const line = carryBytes ? Buffer.concat([...carry, b.subarray(start, nl)]) : b.subarray(start, nl);
        carry = [];
        carryBytes = 0;
        held.set(0);
        yield decodeUtf8(line, `line ${++n}`);
        start = nl + 1;
      }
      if (start < b.byteLength) {
        carry.push(b.subarray(start));
        carryBytes += b.byteLength - start;
        checked(carryBytes);
        held.set(carryBytes);
      }
    }
    if (carryBytes) yield decodeUtf8(Buffer.concat(carry, carryBytes), `line ${n + 1}`);
  } finally {
    held.set(0);
  }
}

/** Yields whole records of recordBytes each, in slabs of up to slabRecords; errors on a ragged tail. */
export async function* records(
  stream: Readable,
  opts: { recordBytes: number; slabRecords: number; maxTotal: number },
): AsyncGenerator<Buffer> {
  const slabBytes = opts.recordBytes * opts.slabRecords;
  const held = new Held(budgetOf(stream));
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  try {
    for await (const chunk of chunks(stream)) {
      const b = chunk as Buffer;
      total += b.byteLength;
      if (total > opts.maxTotal) throw tooBig(opts.maxTotal, 'upload');
      pending.push(b);
      pendingBytes += b.byteLength;
      held.set(pendingBytes);
      while (pendingBytes >= slabBytes) {
        const all = Buffer.concat(pending, pendingBytes);
        yield all.subarray(0, slabBytes);
        const rest = all.subarray(slabBytes);
        pending = rest.byteLength ? [rest] : [];
        pendingBytes = rest.byteLength;
        held.set(pendingBytes);
      }
    }
    if (pendingBytes % opts.recordBytes !== 0) {
      throw badRequest(
        'DIMENSION_MISMATCH',
        `body is ${total} bytes, not a whole number of ${opts.recordBytes}-byte records`,
      );
    }
    if (pendingBytes) yield Buffer.concat(pending, pendingBytes);
  } finally {
    held.set(0);
  }
}

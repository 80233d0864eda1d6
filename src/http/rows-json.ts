// JSON replies of float32 rows (/embed, /distances): small ones built in one go, large ones written
// a slice at a time as the socket takes them.
//
// Formatting a value costs ~0.1–0.3 µs, so a reply of millions of values built in one go holds the
// event loop for seconds (every other request, /healthz included, waits behind it). As a stream, a
// slice of about SLICE_BYTES is formatted per read, and the next only when the socket asks for more:
// the loop runs between slices, a slow reader costs memory of a slice or two instead of the whole
// reply, and a client that hangs up stops the formatting (the stream is destroyed with the response).
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { MAX_VALUE_BYTES, writeRowRange, writeRows } from './float32-json.js';

/** bytes formatted per read: small enough to keep the loop responsive, large enough to be cheap */
export const SLICE_BYTES = 64 * 1024;
/** Below this many bytes at most, a reply is built in one go (one write, with the headers). */
export const STREAM_THRESHOLD_BYTES = 256 * 1024;

/** Most bytes the rows can take as JSON text: each value at most MAX_VALUE_BYTES, plus brackets and commas. */
export function rowsJsonBytes(rows: number, k: number): number {
  return rows * (k * MAX_VALUE_BYTES + 2) + 2;
}

/**
 * `head`, then slice(from) for from = 0, … until `count` items are out, then `tail`: one slice per
 * read, formatted only when the socket asks for more. Text is UTF-8.
 */
export function slicedStream(
  head: string,
  count: number,
  slice: (from: number) => { data: string | Buffer; to: number },
  tail: string,
): Readable {
  let next = -1; // -1: the head is still to go
  return new Readable({
    highWaterMark: SLICE_BYTES,
    read() {
      if (next < 0) {
        next = 0;
        this.push(head);
        return;
      }
      if (next >= count) {
        this.push(tail);
        this.push(null);
        return;
      }
      const { data, to } = slice(next);
      next = to;
      this.push(data);
    },
  });
}

/** `${head}[[…],…,[…]]${tail}`: the rows×k values of x as float32-exact JSON numbers. */
export function rowsJsonStream(head: string, x: Float32Array, rows: number, k: number, tail: string): Readable {
  const rowBytes = k * MAX_VALUE_BYTES + 2;
  const perSlice = Math.max(1, Math.floor(SLICE_BYTES / rowBytes));
  return slicedStream(
    `${head}[`,
    rows,
    (from) => {
      const to = Math.min(rows, from + perSlice);
      const buf = Buffer.allocUnsafe((to - from) * rowBytes + 1);
      const end = writeRowRange(buf, 0, x, from, to, k);
      return { data: buf.subarray(0, end), to };
    },
    `]${tail}`,
  );
}

/**
 * `${head}[[…],…]${tail}` for rows×k float32 values: one string when it is small (Node sends it
 * with the headers in one write), else a stream (see above).
 */
export function rowsJson(head: string, x: Float32Array, rows: number, k: number, tail: string): string | Readable {
  const most = rowsJsonBytes(rows, k);
  if (most > STREAM_THRESHOLD_BYTES) return rowsJsonStream(head, x, rows, k, tail);
  const buf = Buffer.allocUnsafe(most);
  const end = writeRows(buf, 0, x, rows, k);
  return `${head}${buf.toString('latin1', 0, end)}${tail}`;
}

/** Sends rowsJson's text or stream as the JSON reply (the route's schema describes its shape). */
export function sendRowsJson(
  reply: FastifyReply,
  head: string,
  x: Float32Array,
  rows: number,
  k: number,
  tail: string,
) {
  return reply.type('application/json; charset=utf-8').send(rowsJson(head, x, rows, k, tail));
}

// JSON replies of float32 rows: one string when small, a stream of bounded slices when large, with
// the same text either way; a destroyed stream (the client hung up) formats nothing more.
import t from 'tap';
import { writeRows } from '../../src/http/float32-json.js';
import { rowsJson, rowsJsonBytes, SLICE_BYTES, STREAM_THRESHOLD_BYTES } from '../../src/http/rows-json.js';
import type { Readable } from 'node:stream';

const matrix = (rows: number, k: number) =>
  Float32Array.from({ length: rows * k }, (_, i) => Math.fround(Math.sin(i * 0.37) * 10 ** ((i % 13) - 6)));

function oneShot(x: Float32Array, rows: number, k: number): string {
  const buf = Buffer.allocUnsafe(rowsJsonBytes(rows, k));
  return buf.toString('latin1', 0, writeRows(buf, 0, x, rows, k));
}

t.test('a small reply is one string', async (t) => {
  const x = matrix(3, 4);
  const r = rowsJson('{"a":', x, 3, 4, '}');
  t.type(r, 'string');
  t.equal(r, `{"a":${oneShot(x, 3, 4)}}`);
  t.same(
    JSON.parse(r as string)
      .a.flat()
      .map(Math.fround),
    Array.from(x),
  );
});

t.test('a large reply streams in slices, and joins to the same text', async (t) => {
  for (const [rows, k] of [
    [5000, 64],
    [3, 40_000], // rows wider than a slice: one row a slice
    [1, 1],
  ]) {
    const x = matrix(rows, k);
    const big = rowsJsonBytes(rows, k) > STREAM_THRESHOLD_BYTES;
    const r = rowsJson('{"m":"x","d":', x, rows, k, '}');
    if (!big) {
      t.type(r, 'string', `${rows}×${k}: small`);
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const c of r as Readable) chunks.push(Buffer.from(c as Buffer));
    const text = Buffer.concat(chunks).toString('latin1');
    t.equal(text, `{"m":"x","d":${oneShot(x, rows, k)}}`, `${rows}×${k}: the same text`);
    const widest = Math.max(...chunks.map((c) => c.length));
    const rowBytes = rowsJsonBytes(1, k);
    t.ok(
      widest <= Math.max(SLICE_BYTES, rowBytes) + 2,
      `${rows}×${k}: ${chunks.length} chunks, at most ${widest} bytes`,
    );
    t.ok(chunks.length > 2, 'more than one slice');
  }
});

t.test('a destroyed stream formats no more slices', async (t) => {
  const rows = 20_000;
  const k = 64;
  const r = rowsJson('', matrix(rows, k), rows, k, '') as Readable;
  let bytes = 0;
  await new Promise<void>((resolve) => {
    r.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes > 2 * SLICE_BYTES) {
        r.destroy();
        resolve();
      }
    });
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(bytes < rowsJsonBytes(rows, k) / 4, `stopped after ${bytes} of up to ${rowsJsonBytes(rows, k)} bytes`);
  t.ok(r.destroyed);
});

// The binary upload decoder on its own: record layout, slabs, ragged tails, non-finite values.
import { Readable } from 'node:stream';
import t from 'tap';
import { decodeBinary, recordBytes, type BinaryUpload } from '../../src/http/binary.js';
import { slabRows } from '../../src/http/slabs.js';
import type { RowBatch } from '../../src/services/datasets.js';

const triplets = (d: number): BinaryUpload => ({ kind: 'triplets', dimension: d, maxTotal: 1 << 30 });
const samples = (d: number): BinaryUpload => ({ kind: 'samples', dimension: d, maxTotal: 1 << 30 });

/** The bytes as a stream of `chunk`-byte pieces, so records straddle chunks. */
function body(bytes: Buffer, chunk = 5): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(Buffer.from(bytes.subarray(i, i + chunk)));
  return Readable.from(parts);
}

const f32le = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

function sampleBytes(rows: [number, number[]][]): Buffer {
  return Buffer.concat(
    rows.map(([label, v]) => {
      const b = Buffer.alloc(4 * (v.length + 1));
      b.writeInt32LE(label, 0);
      v.forEach((x, j) => b.writeFloatLE(x, 4 + 4 * j));
      return b;
    }),
  );
}

async function collect(it: AsyncIterable<RowBatch>): Promise<RowBatch[]> {
  const out: RowBatch[] = [];
  for await (const b of it)
    out.push({ data: b.data.slice(), count: b.count, ...(b.labels ? { labels: [...b.labels] } : {}) });
  return out;
}

async function failure(bytes: Buffer, u: BinaryUpload): Promise<{ code: string; message: string }> {
  try {
    await collect(decodeBinary(body(bytes), u));
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('no error');
}

t.test('record sizes', async (t) => {
  t.equal(recordBytes('triplets', 4), 48);
  t.equal(recordBytes('samples', 4), 20, 'an int32 label and 4 float32 values');
});

t.test('triplets: n × 3 × d float32', async (t) => {
  const values = Array.from({ length: 2 * 3 * 2 }, (_, i) => i / 4);
  const [b, ...rest] = await collect(decodeBinary(body(f32le(values)), triplets(2)));
  t.equal(rest.length, 0);
  t.equal(b.count, 2);
  t.same(Array.from(b.data), values);
});

t.test('samples: int32 label, then d float32', async (t) => {
  const [b] = await collect(
    decodeBinary(
      body(
        sampleBytes([
          [7, [1, 2]],
          [-3, [3.5, 4]],
        ]),
      ),
      samples(2),
    ),
  );
  t.equal(b.count, 2);
  t.same(Array.from(b.data), [1, 2, 3.5, 4]);
  t.same(b.labels, [7, -3]);
});

t.test('slabs of whole records', async (t) => {
  const d = 1000;
  const slab = slabRows(recordBytes('triplets', d));
  const n = slab + 3;
  const values = new Float32Array(n * 3 * d).map((_, i) => Math.floor(i / (3 * d)));
  const batches = await collect(decodeBinary(body(Buffer.from(values.buffer), 65_537), triplets(d)));
  t.same(
    batches.map((b) => b.count),
    [slab, 3],
  );
  t.equal(batches[1].data[0], slab, 'the second slab starts with record `slab`');
});

t.test('a ragged tail is a DIMENSION_MISMATCH', async (t) => {
  const e = await failure(f32le(Array(3 * 2 * 2).fill(1)).subarray(0, 45), triplets(2));
  t.equal(e.code, 'DIMENSION_MISMATCH');
  t.match(e.message, 'body is 45 bytes, not a whole number of 24-byte records');
  const s = await failure(
    sampleBytes([
      [1, [1, 2]],
      [2, [3, 4]],
    ]).subarray(0, 13),
    samples(2),
  );
  t.equal(s.code, 'DIMENSION_MISMATCH');
});

t.test('non-finite values are named by record within the whole upload', async (t) => {
  const d = 1000;
  const slab = slabRows(recordBytes('triplets', d));
  const values = new Float32Array((slab + 2) * 3 * d).fill(1);
  values[(slab + 1) * 3 * d + 7] = NaN;
  const e = await failure(Buffer.from(values.buffer), triplets(d));
  t.equal(e.code, 'NON_FINITE_VALUE');
  t.match(e.message, `triplet ${slab + 1}, value 7 is not finite`);
  const s = await failure(
    sampleBytes([
      [1, [1, 2]],
      [2, [3, -Infinity]],
    ]),
    samples(2),
  );
  t.equal(s.code, 'NON_FINITE_VALUE');
  t.match(s.message, 'sample 1, value 1 is not finite');
});

t.test('the body bound', async (t) => {
  const e = await failure(f32le(Array(600).fill(1)), { ...triplets(2), maxTotal: 1000 });
  t.equal(e.code, 'BODY_TOO_LARGE');
});

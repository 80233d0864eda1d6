// The NDJSON upload decoder on its own: line numbering, schema errors, slab boundaries.
import { Readable } from 'node:stream';
import t from 'tap';
import { decodeNdjson, type NdjsonUpload } from '../../src/http/ndjson.js';
import { CHUNK_BYTES, slabRows } from '../../src/http/slabs.js';
import type { RowBatch } from '../../src/services/datasets.js';

const triplets = (d: number): NdjsonUpload => ({
  kind: 'triplets',
  dimension: d,
  owner: 'dataset ds_t',
  maxTotal: 1 << 30,
});
const samples = (d: number): NdjsonUpload => ({
  kind: 'samples',
  dimension: d,
  owner: 'dataset ds_t',
  maxTotal: 1 << 30,
});

/** The body as a stream of chunks of `chunk` bytes (lines split across chunks). */
function body(text: string, chunk = 7): Readable {
  const bytes = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  return Readable.from(parts);
}

/** Every batch copied (the decoder reuses its slab once the next batch is asked for). */
async function collect(it: AsyncIterable<RowBatch>): Promise<RowBatch[]> {
  const out: RowBatch[] = [];
  for await (const b of it)
    out.push({ data: b.data.slice(), count: b.count, ...(b.labels ? { labels: [...b.labels] } : {}) });
  return out;
}

async function failure(text: string, u: NdjsonUpload): Promise<{ code: string; message: string }> {
  try {
    await collect(decodeNdjson(body(text), u));
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('no error');
}

const line = (o: unknown) => JSON.stringify(o);
const tri = (i: number) => ({ anchor: [i, 1], positive: [i, 2], negative: [i, 3] });

t.test('triplets: rows in order, blank lines skipped, no final newline needed', async (t) => {
  const text = `${line(tri(0))}\n\n  \n${line(tri(1))}\n${line(tri(2))}`;
  const batches = await collect(decodeNdjson(body(text), triplets(2)));
  t.equal(batches.length, 1);
  t.equal(batches[0].count, 3);
  t.same(Array.from(batches[0].data), [0, 1, 0, 2, 0, 3, 1, 1, 1, 2, 1, 3, 2, 1, 2, 2, 2, 3]);
  t.equal(batches[0].labels, undefined, 'triplets carry no labels');
});

t.test('samples: vectors and labels', async (t) => {
  const text = [line({ vector: [1, 2], label: 'a' }), line({ vector: [3, 4], label: 7 })].join('\n');
  const [b] = await collect(decodeNdjson(body(text), samples(2)));
  t.same(Array.from(b.data), [1, 2, 3, 4]);
  t.same(b.labels, ['a', 7]);
});

t.test('slabs: full slabs of CHUNK_BYTES, then the rest', async (t) => {
  const d = 1000;
  const slab = slabRows(3 * d * 4);
  t.ok(slab * 3 * d * 4 <= CHUNK_BYTES);
  const n = 2 * slab + 5;
  const row = (i: number) =>
    line({ anchor: Array(d).fill(i), positive: Array(d).fill(i + 0.5), negative: Array(d).fill(-i) });
  const text = Array.from({ length: n }, (_, i) => row(i)).join('\n');
  const batches = await collect(decodeNdjson(body(text, 65_536), triplets(d)));
  t.same(
    batches.map((b) => b.count),
    [slab, slab, 5],
  );
  t.same(
    batches.map((b) => b.data.length),
    [slab * 3 * d, slab * 3 * d, 5 * 3 * d],
  );
  t.equal(batches[1].data[0], slab, 'the second slab starts with row `slab`');
  t.equal(batches[2].data[3 * d * 4 + 2 * d], -(2 * slab + 4), 'the last row is in the last slab');
});

t.test('errors name the line (blank lines counted) and the field', async (t) => {
  const before = `${line(tri(0))}\n\n${line(tri(1))}\n`; // the bad line is line 4
  const cases: [string, string, NdjsonUpload, string, RegExp][] = [
    ['not JSON', '{"anchor": [1,', triplets(2), 'INVALID_JSON', /^line 4 is not valid JSON/],
    ['NaN', '{"anchor":[NaN,1],"positive":[1,1],"negative":[1,1]}', triplets(2), 'INVALID_JSON', /^line 4 /],
    ['an array line', '[1,2,3]', triplets(2), 'VALIDATION_ERROR', /^line 4 must be object/],
    [
      'a missing field',
      line({ anchor: [1, 1], positive: [1, 1] }),
      triplets(2),
      'VALIDATION_ERROR',
      /^line 4 must have property "negative"/,
    ],
    [
      'an unknown field',
      line({ ...tri(1), label: 1 }),
      triplets(2),
      'VALIDATION_ERROR',
      /^line 4 has an unknown field "label"/,
    ],
    [
      'a string value',
      line({ ...tri(1), positive: [1, 'x'] }),
      triplets(2),
      'VALIDATION_ERROR',
      /^line 4\.positive\[1\] must be number/,
    ],
    ['an empty vector', line({ ...tri(1), negative: [] }), triplets(2), 'VALIDATION_ERROR', /^line 4\.negative /],
    [
      'a short vector',
      line({ ...tri(1), negative: [1] }),
      triplets(2),
      'DIMENSION_MISMATCH',
      /^line 4\.negative has 1 values, dataset ds_t expects 2/,
    ],
    [
      '1e400',
      '{"anchor":[1e400,1],"positive":[1,1],"negative":[1,1]}',
      triplets(2),
      'NON_FINITE_VALUE',
      /^line 4\.anchor\[0\]/,
    ],
    [
      'a float32 overflow',
      line({ ...tri(1), anchor: [1, 1e39] }),
      triplets(2),
      'NON_FINITE_VALUE',
      /^line 4\.anchor\[1\]/,
    ],
  ];
  for (const [what, bad, u, code, message] of cases) {
    const e = await failure(`${before}${bad}\n${line(tri(2))}\n`, u);
    t.equal(e.code, code, `${what}: ${code}`);
    t.match(e.message, message, `${what}: ${e.message}`);
  }
});

t.test('sample lines: the Sample schema, then label values', async (t) => {
  const ok = line({ vector: [1, 2], label: 'a' });
  const cases: [string, string, string, RegExp][] = [
    [
      'a boolean label',
      line({ vector: [1, 2], label: true }),
      'VALIDATION_ERROR',
      /^line 2\.label must be string, or must be integer/,
    ],
    ['a fractional label', line({ vector: [1, 2], label: 1.5 }), 'VALIDATION_ERROR', /^line 2\.label /],
    ['an empty label', line({ vector: [1, 2], label: '' }), 'VALIDATION_ERROR', /^line 2\.label /],
    [
      'an unsafe integer label',
      '{"vector":[1,2],"label":1e20}',
      'VALIDATION_ERROR',
      /^line 2\.label must be a non-empty string/,
    ],
    ['no vector', line({ label: 'a' }), 'VALIDATION_ERROR', /^line 2 must have property "vector"/],
    ['no label', line({ vector: [1, 2] }), 'VALIDATION_ERROR', /^line 2 must have property "label"/],
    ['a long vector', line({ vector: [1, 2, 3], label: 'a' }), 'DIMENSION_MISMATCH', /^line 2\.vector has 3 values/],
  ];
  for (const [what, bad, code, message] of cases) {
    const e = await failure(`${ok}\n${bad}\n`, samples(2));
    t.equal(e.code, code, `${what}: ${code}`);
    t.match(e.message, message, `${what}: ${e.message}`);
  }
});

t.test('an error after full slabs still stops the stream, with the right line', async (t) => {
  const d = 1000;
  const slab = slabRows(3 * d * 4);
  const row = line({ anchor: Array(d).fill(1), positive: Array(d).fill(2), negative: Array(d).fill(3) });
  const lines = Array.from({ length: slab + 3 }, () => row);
  lines[slab + 1] = line({ anchor: Array(d).fill(1), positive: Array(d).fill(2), negative: [3] });
  const seen: number[] = [];
  try {
    for await (const b of decodeNdjson(body(lines.join('\n'), 65_536), triplets(d))) seen.push(b.count);
    t.fail('no error');
  } catch (e) {
    t.match((e as Error).message, `line ${slab + 2}.negative`);
  }
  t.same(seen, [slab], 'the full slab before the bad line was yielded');
});

t.test('the body bound and the line bound', async (t) => {
  const text = `${line(tri(0))}\n`.repeat(100);
  const tooMuch = await failure(text, { ...triplets(2), maxTotal: 1000 });
  t.equal(tooMuch.code, 'BODY_TOO_LARGE');
  // d = 2: a line may take 64 bytes a value (6 values) plus 1 KiB
  const long = await failure(`${line(tri(0))}\n${' '.repeat(2000)}${line(tri(1))}\n`, triplets(2));
  t.equal(long.code, 'BODY_TOO_LARGE');
  t.match(long.message, 'a line is longer than');
});

// Gallery uploads → batches of items (ids, labels, d float32 features each), from a JSON body, an
// NDJSON stream (one item object per line) or a binary stream of records:
//
//   u16 LE  idBytes (1…1024)        the id, UTF-8, 1–256 characters
//   idBytes bytes
//   u8      labelKind               0: no label; 1: int32 LE label follows; 2: string label follows
//   [int32 LE]                      labelKind 1
//   [u16 LE labelBytes, bytes]      labelKind 2: UTF-8, 1–256 characters (labelBytes 1…1024)
//   d × f32 LE                      the input features (d = the gallery's dimension)
//
// Records are back to back with no padding. Memory: one slab of items (CHUNK_BYTES of features) and
// one record's carry; every value is checked (finite, length) as it is decoded.
import type { Readable } from 'node:stream';
import { badRequest, tooLarge } from '../errors.js';
import { GalleryItem, type GalleryItemInput } from '../schemas/galleries.js';
import type { ItemBatch } from '../services/galleries.js';
import type { Label } from '../store/types.js';
import { checkLabel } from './dataset-rows.js';
import { parseLine } from './ndjson.js';
import { checkNoNul } from './nul.js';
import { decodeBase64Row, writeRow } from './rows.js';
import { slabRows } from './slabs.js';
import { budgetOf, Held } from './staged-body.js';
import { chunks, lines } from './streams.js';
import { decodeUtf8 } from './utf8.js';
import { compileCheck, type ValueCheck } from './validation.js';

export interface ItemUpload {
  /** the gallery's input dimension */
  dimension: number;
  /** names the gallery in dimension errors */
  owner: string;
  /** bytes the whole body may take (UPLOAD_LIMIT_BYTES) */
  maxTotal: number;
}

const checkItem: ValueCheck<GalleryItemInput> = compileCheck(GalleryItem);
const MAX_TEXT_BYTES = 1024;

/** Grows a batch by doubling up to `slab` items, so a stalled stream holds little. */
class BatchBuilder {
  ids: string[] = [];
  labels: (Label | null)[] = [];
  features: Float32Array;
  constructor(
    private readonly d: number,
    private readonly slab: number,
  ) {
    this.features = new Float32Array(Math.min(slab, 16) * d);
  }
  get count(): number {
    return this.ids.length;
  }
  get full(): boolean {
    return this.ids.length >= this.slab;
  }
  /** Room for one more row; returns its offset in features. */
  next(): number {
    const n = this.ids.length;
    if ((n + 1) * this.d > this.features.length) {
      const grown = new Float32Array(Math.min(this.slab, 2 * (this.features.length / this.d)) * this.d);
      grown.set(this.features.subarray(0, n * this.d));
      this.features = grown;
    }
    return n * this.d;
  }
  take(): ItemBatch {
    const out = {
      ids: this.ids,
      labels: this.labels,
      features: this.features.subarray(0, this.ids.length * this.d),
      count: this.ids.length,
    };
    this.ids = [];
    this.labels = [];
    this.features = new Float32Array(this.features.length);
    return out;
  }
}

function writeInput(input: number[] | string, out: Float32Array, offset: number, u: ItemUpload, where: string): void {
  if (typeof input === 'string') decodeBase64Row(input, out, offset, u.dimension, `${where}.input`, u.owner);
  else writeRow(input, out, offset, u.dimension, `${where}.input`, u.owner);
}

/** A JSON body's items as one batch. */
export function jsonItems(items: GalleryItemInput[], encoding: 'float' | 'base64', u: ItemUpload): ItemBatch {
  const b = new BatchBuilder(u.dimension, items.length);
  items.forEach((it, i) => {
    const where = `items[${i}]`;
    if ((typeof it.input === 'string') !== (encoding === 'base64'))
      throw badRequest(
        'VALIDATION_ERROR',
        `${where}.input must be ${encoding === 'base64' ? 'a base64 string (encoding is base64)' : 'an array of numbers (set "encoding": "base64" for strings)'}`,
      );
    const at = b.next();
    writeInput(it.input, b.features, at, u, where);
    b.ids.push(it.id);
    b.labels.push(it.label === undefined ? null : checkLabel(it.label, `${where}.label`));
  });
  return b.take();
}

/** NDJSON: one item object per line (input as numbers or a base64 string); blank lines skipped. */
export async function* ndjsonItems(body: Readable, u: ItemUpload): AsyncGenerator<ItemBatch> {
  const b = new BatchBuilder(u.dimension, slabRows(4 * u.dimension));
  let lineNo = 0;
  for await (const line of lines(body, { maxLine: 64 * u.dimension + 4096, maxTotal: u.maxTotal })) {
    lineNo++;
    if (line.trim() === '') continue;
    const where = `line ${lineNo}`;
    const v = parseLine(line, where);
    checkItem(v, where);
    const at = b.next();
    writeInput(v.input, b.features, at, u, where);
    b.ids.push(v.id);
    b.labels.push(v.label === undefined ? null : checkLabel(v.label, `${where}.label`));
    if (b.full) yield b.take();
  }
  if (b.count > 0) yield b.take();
}

/** Reads the binary records above from a stream of chunks, holding one partial record at most. */
class RecordReader {
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;
  push(chunk: Buffer): void {
    this.buf = this.at < this.buf.length ? Buffer.concat([this.buf.subarray(this.at), chunk]) : chunk;
    this.at = 0;
  }
  get held(): number {
    return this.buf.length - this.at;
  }
  /** n bytes if they have arrived (advancing past them), else undefined (nothing consumed). */
  peek(offset: number, n: number): Buffer | undefined {
    return this.at + offset + n <= this.buf.length
      ? this.buf.subarray(this.at + offset, this.at + offset + n)
      : undefined;
  }
  skip(n: number): void {
    this.at += n;
  }
}

/** Binary records (layout at the top of this file). */
export async function* binaryItems(body: Readable, u: ItemUpload): AsyncGenerator<ItemBatch> {
  const d = u.dimension;
  const b = new BatchBuilder(d, slabRows(4 * d));
  const r = new RecordReader();
  const held = new Held(budgetOf(body));
  let total = 0;
  let record = 0;
  try {
    for await (const chunk of chunks(body)) {
      total += chunk.byteLength;
      if (total > u.maxTotal)
        throw tooLarge('BODY_TOO_LARGE', `the upload is over ${u.maxTotal} bytes (UPLOAD_LIMIT_BYTES)`);
      r.push(chunk);
      while (readRecord(r, b, u, record)) {
        record++;
        if (b.full) yield b.take();
      }
      held.set(r.held);
    }
    if (r.held > 0) throw badRequest('INVALID_BODY', `the body ends inside record ${record} (${r.held} bytes left)`);
    if (b.count > 0) yield b.take();
  } finally {
    held.set(0);
  }
}

/** One whole record into b, or false when it has not all arrived (nothing consumed then). */
function readRecord(r: RecordReader, b: BatchBuilder, u: ItemUpload, record: number): boolean {
  const where = `record ${record}`;
  const idHead = r.peek(0, 2);
  if (!idHead) return false;
  const idBytes = idHead.readUInt16LE(0);
  if (idBytes < 1 || idBytes > MAX_TEXT_BYTES)
    throw badRequest('INVALID_BODY', `${where}: the id takes ${idBytes} bytes; 1–${MAX_TEXT_BYTES} are allowed`);
  let off = 2 + idBytes;
  const kindByte = r.peek(off, 1);
  if (!kindByte) return false;
  const kind = kindByte[0];
  off += 1;
  let labelLen = 0;
  if (kind === 1) labelLen = 4;
  else if (kind === 2) {
    const lh = r.peek(off, 2);
    if (!lh) return false;
    labelLen = lh.readUInt16LE(0);
    if (labelLen < 1 || labelLen > MAX_TEXT_BYTES)
      throw badRequest('INVALID_BODY', `${where}: the label takes ${labelLen} bytes; 1–${MAX_TEXT_BYTES} are allowed`);
    off += 2;
  } else if (kind !== 0) throw badRequest('INVALID_BODY', `${where}: label kind ${kind} is not 0, 1 or 2`);
  const labelAt = off;
  off += labelLen;
  const vec = r.peek(off, 4 * u.dimension);
  if (!vec) return false;
  const id = decodeUtf8(r.peek(2, idBytes)!, `${where} id`);
  // JSON and NDJSON escape a NUL, which their scan refuses; here it is a plain 0x00 byte (nul.ts)
  checkNoNul(id, `${where}: the id`);
  let label: Label | null = null;
  if (kind === 1) label = r.peek(labelAt, 4)!.readInt32LE(0);
  else if (kind === 2) {
    const text = decodeUtf8(r.peek(labelAt, labelLen)!, `${where} label`);
    checkNoNul(text, `${where}: the label`);
    label = checkLabel(text, `${where} label`);
  }
  if (id.length > 256)
    throw badRequest('VALIDATION_ERROR', `${where}: the id is ${id.length} characters; 1–256 are allowed`);
  const at = b.next();
  for (let j = 0; j < u.dimension; j++) {
    const v = vec.readFloatLE(4 * j);
    if (!Number.isFinite(v)) throw badRequest('NON_FINITE_VALUE', `${where}, value ${j} is ${v}`);
    b.features[at + j] = v;
  }
  b.ids.push(id);
  b.labels.push(label);
  r.skip(off + 4 * u.dimension);
  return true;
}

/** Encodes items in the binary layout above (for clients and tests). */
export function encodeBinaryItems(items: { id: string; label?: Label; input: ArrayLike<number> }[]): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    const id = Buffer.from(it.id, 'utf8');
    const head = Buffer.alloc(2);
    head.writeUInt16LE(id.length);
    parts.push(head, id);
    if (it.label === undefined) parts.push(Buffer.from([0]));
    else if (typeof it.label === 'number') {
      const l = Buffer.alloc(5);
      l[0] = 1;
      l.writeInt32LE(it.label, 1);
      parts.push(l);
    } else {
      const s = Buffer.from(it.label, 'utf8');
      const l = Buffer.alloc(3);
      l[0] = 2;
      l.writeUInt16LE(s.length, 1);
      parts.push(l, s);
    }
    const v = Buffer.alloc(4 * it.input.length);
    for (let j = 0; j < it.input.length; j++) v.writeFloatLE(it.input[j], 4 * j);
    parts.push(v);
  }
  return Buffer.concat(parts);
}

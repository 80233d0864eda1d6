// NDJSON dataset uploads: one triplet or sample object per line, decoded into float32 batches.
// Each line is held to the same compiled schema as a JSON body's item (Triplet, Sample), then its
// values are checked and written into the current slab; errors name the line.
import type { Readable } from 'node:stream';
import { badRequest } from '../errors.js';
import { Sample, Triplet, type SampleInput, type TripletInput } from '../schemas/datasets.js';
import type { ChunkKind, Label, RowBatch } from '../services/datasets.js';
import { checkLabel, writeTriplet } from './dataset-rows.js';
import { checkJsonText } from './json-text.js';
import { writeRow } from './rows.js';
import { slabRows } from './slabs.js';
import { lines } from './streams.js';
import { compileCheck, type ValueCheck } from './validation.js';

export interface NdjsonUpload {
  kind: ChunkKind;
  /** the dataset's vector length */
  dimension: number;
  /** names the dataset in dimension errors */
  owner: string;
  /** bytes the whole body may take (UPLOAD_LIMIT_BYTES) */
  maxTotal: number;
}

const checkTriplet: ValueCheck<TripletInput> = compileCheck(Triplet);
const checkSample: ValueCheck<SampleInput> = compileCheck(Sample);

/** One line's JSON value, or a 400 naming the line: INVALID_JSON, or INVALID_UTF8 for a lone surrogate (json-text.ts). */
export function parseLine(line: string, where: string): unknown {
  checkJsonText(line, where);
  try {
    return JSON.parse(line);
  } catch {
    throw badRequest('INVALID_JSON', `${where} is not valid JSON`);
  }
}

/** Writes one line's row at out[offset]; returns its label (samples) or undefined (triplets). */
function lineWriter(
  u: NdjsonUpload,
): (line: string, where: string, out: Float32Array, offset: number) => Label | undefined {
  const d = u.dimension;
  if (u.kind === 'triplets') {
    return (line, where, out, offset) => {
      const v = parseLine(line, where);
      checkTriplet(v, where);
      writeTriplet(v, out, offset, d, where, u.owner);
      return undefined;
    };
  }
  return (line, where, out, offset) => {
    const v = parseLine(line, where);
    checkSample(v, where);
    writeRow(v.vector, out, offset, d, `${where}.vector`, u.owner);
    return checkLabel(v.label, `${where}.label`);
  };
}

/**
 * Yields the upload's rows in slabs of up to CHUNK_BYTES; blank lines are skipped but counted.
 * The slab's memory is reused: a batch is valid until the next one is asked for.
 */
export async function* decodeNdjson(body: Readable, u: NdjsonUpload): AsyncGenerator<RowBatch> {
  const rowFloats = u.kind === 'triplets' ? 3 * u.dimension : u.dimension;
  const slab = slabRows(rowFloats * 4);
  // The slab grows with the rows that arrived (doubling), so a connection that stalls after a few
  // lines holds little: no slab is reserved before its rows are there.
  let buf = new Float32Array(Math.min(slab, 16) * rowFloats);
  const write = lineWriter(u);
  const withLabels = u.kind === 'samples';
  let labels: Label[] = [];
  let rows = 0;
  let lineNo = 0;
  // A number takes at most ~25 characters in JSON; 64 a value leaves room for any formatting.
  for await (const line of lines(body, { maxLine: 64 * rowFloats + 1024, maxTotal: u.maxTotal })) {
    lineNo++;
    if (line.trim() === '') continue;
    if ((rows + 1) * rowFloats > buf.length) {
      const grown = new Float32Array(Math.min(slab, 2 * (buf.length / rowFloats)) * rowFloats);
      grown.set(buf.subarray(0, rows * rowFloats));
      buf = grown;
    }
    const label = write(line, `line ${lineNo}`, buf, rows * rowFloats);
    if (label !== undefined) labels.push(label);
    if (++rows === slab) {
      yield { data: buf, count: rows, ...(withLabels ? { labels } : {}) };
      rows = 0;
      labels = [];
    }
  }
  if (rows > 0) yield { data: buf.subarray(0, rows * rowFloats), count: rows, ...(withLabels ? { labels } : {}) };
}

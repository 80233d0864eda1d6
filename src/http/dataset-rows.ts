// Dataset upload rows from JSON values (a JSON body's items or an NDJSON line): triplets and
// labelled samples written into float32 rows, every value checked.
import { badRequest } from '../errors.js';
import type { SampleInput, TripletInput } from '../schemas/datasets.js';
import type { Label, RowBatch } from '../services/datasets.js';
import { checkFinite32 } from '../services/vectors.js';
import { writeRow } from './rows.js';

/** One triplet as 3·d floats at out[offset]: anchor, positive, negative back to back. */
export function writeTriplet(
  t: TripletInput,
  out: Float32Array,
  offset: number,
  d: number,
  field: string,
  owner: string,
): void {
  writeRow(t.anchor, out, offset, d, `${field}.anchor`, owner);
  writeRow(t.positive, out, offset + d, d, `${field}.positive`, owner);
  writeRow(t.negative, out, offset + 2 * d, d, `${field}.negative`, owner);
}

/**
 * A label as stored: the schema admits any string of 1–256 characters and any integer, but an
 * integer must also be exact (safe) and a float32-finite value.
 */
export function checkLabel(label: unknown, field: string): Label {
  if (typeof label === 'string' && label.length > 0 && label.length <= 256) return label;
  if (typeof label === 'number' && Number.isSafeInteger(label)) {
    checkFinite32(label, field);
    return label;
  }
  throw badRequest('VALIDATION_ERROR', `${field} must be a non-empty string (at most 256 characters) or an integer`);
}

/** A JSON body's triplets as one batch of n × 3·d floats. */
export function packTriplets(triplets: TripletInput[], d: number, owner: string): RowBatch {
  const per = 3 * d;
  const data = new Float32Array(triplets.length * per);
  for (let i = 0; i < triplets.length; i++) writeTriplet(triplets[i], data, i * per, d, `triplets[${i}]`, owner);
  return { data, count: triplets.length };
}

/** A JSON body's samples as one batch of n × d floats and n labels. */
export function packSamples(samples: SampleInput[], d: number, owner: string): RowBatch {
  const data = new Float32Array(samples.length * d);
  const labels = samples.map((s, i) => {
    writeRow(s.vector, data, i * d, d, `samples[${i}].vector`, owner);
    return checkLabel(s.label, `samples[${i}].label`);
  });
  return { data, count: samples.length, labels };
}

/** /train's inline triplets: their dimension is the first anchor's, and every row must match it. */
export function inlineTriplets(triplets: TripletInput[]): RowBatch & { dimension: number } {
  const dimension = triplets[0].anchor.length;
  return { ...packTriplets(triplets, dimension, 'the inline training set'), dimension };
}

// Erasing one label's samples from chunks, the same on every backend: a samples chunk is rewritten
// without the label's rows; a triplet chunk loses every row that uses an erased sample (by index
// for indexTriplets rows, by a byte-equal copy of its vector for rows uploaded as vectors), and
// the sample indices of the index triplets left are renumbered, as every later sample moved up.
// Pure: the backends read and write the chunks (docs/decisions/0034-identity-level-data.md).
import { createHash } from 'node:crypto';
import type { Label } from './types.js';

/** 1 and "1" are different labels (as in training: src/compute/training-data.ts). */
export const sameLabel = (a: Label, b: Label): boolean => typeof a === typeof b && a === b;

/**
 * The samples an erasure removed: their indices (in upload order, before it) and, when the dataset
 * holds triplets uploaded as vectors, a 128-bit digest of each one's bytes. Sized before the first
 * chunk is read, from the label's stored count s: 8·s bytes of indices plus, with digests,
 * 34·s (a table of 2s + 1 slots of 16 bytes and a mark), never a copy of the vectors (which grew
 * as s·4·d and ran the store's thread out of memory).
 */
export class ErasedSamples {
  /** ascending indices of the erased samples, as they were numbered before the erasure */
  private readonly at: Float64Array;
  private n = 0;
  private readonly digests: DigestSet | undefined;

  /** `expected`: the label's stored sample count; `vectors`: whether triplets must be matched by bytes */
  constructor(
    private readonly expected: number,
    vectors: boolean,
  ) {
    this.at = new Float64Array(expected);
    this.digests = vectors ? new DigestSet(expected) : undefined;
  }

  add(index: number, vector: Uint8Array): void {
    if (this.n === this.expected)
      throw new Error(`corrupt dataset: more samples of the label than the ${this.expected} counted`);
    this.at[this.n++] = index;
    this.digests?.add(vector);
  }

  get count(): number {
    return this.n;
  }

  get indices(): Float64Array {
    return this.at.subarray(0, this.n);
  }

  /** Whether the vector is byte-equal to an erased sample (by its digest). */
  holdsVector(vector: Uint8Array): boolean {
    if (!this.digests) throw new Error('ErasedSamples: built without digests, cannot match vectors');
    return this.digests.has(vector);
  }

  /** Whether sample i was erased (binary search). */
  erased(i: number): boolean {
    const at = this.below(i);
    return at < this.n && this.at[at] === i;
  }

  /** How many erased samples came before sample i: how far it moves up. */
  below(i: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.at[mid] < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * A set of byte strings by the first 128 bits of their SHA-256, in typed arrays: an open-addressing
 * table of 2n + 1 slots for n entries (load ≤ ½). Two different vectors of one digest are a
 * 2⁻¹²⁸ chance, far below a disk's error rate.
 */
class DigestSet {
  private readonly words: Uint32Array;
  private readonly used: Uint8Array;
  private readonly slots: number;

  constructor(n: number) {
    this.slots = 2 * n + 1;
    this.words = new Uint32Array(4 * this.slots);
    this.used = new Uint8Array(this.slots);
  }

  add(bytes: Uint8Array): void {
    const d = digest(bytes);
    const s = this.find(d);
    if (this.used[s]) return;
    this.used[s] = 1;
    this.words.set(d, 4 * s);
  }

  has(bytes: Uint8Array): boolean {
    return this.used[this.find(digest(bytes))] === 1;
  }

  /** The slot holding d, or the empty slot where it would go. */
  private find(d: Uint32Array): number {
    let s = d[0] % this.slots;
    for (;;) {
      if (!this.used[s]) return s;
      const w = 4 * s;
      const ws = this.words;
      if (ws[w] === d[0] && ws[w + 1] === d[1] && ws[w + 2] === d[2] && ws[w + 3] === d[3]) return s;
      s = s + 1 === this.slots ? 0 : s + 1;
    }
  }
}

function digest(bytes: Uint8Array): Uint32Array {
  const h = createHash('sha256').update(bytes).digest();
  return new Uint32Array([h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12)]);
}

/** A chunk's rows as kept: their bytes, labels (samples) or sample indices (index triplets), and count. */
export interface KeptChunk {
  count: number;
  data: Buffer;
  labels: Label[] | null;
  refs: Buffer | null;
}

/**
 * A samples chunk without the label's rows; the erased rows are added to `erased`, numbered from
 * `start` (the chunk's first sample's index in the dataset). Null when the chunk holds none.
 */
export function pruneSamples(
  chunk: { count: number; data: Uint8Array; labels: Label[] },
  dimension: number,
  label: Label,
  start: number,
  erased: ErasedSamples,
): KeptChunk | null {
  const rowBytes = dimension * 4;
  if (chunk.labels.length !== chunk.count || chunk.data.byteLength !== chunk.count * rowBytes)
    throw new Error('corrupt samples chunk: its labels or bytes do not match its count');
  const keep: number[] = [];
  chunk.labels.forEach((l, i) => {
    if (sameLabel(l, label)) erased.add(start + i, chunk.data.subarray(i * rowBytes, (i + 1) * rowBytes));
    else keep.push(i);
  });
  if (keep.length === chunk.count) return null;
  return {
    count: keep.length,
    data: gatherRows(chunk.data, keep, rowBytes),
    labels: keep.map((i) => chunk.labels[i]),
    refs: null,
  };
}

/**
 * A triplet chunk after an erasure: rows whose sample indices include an erased sample go, and
 * the others' indices are renumbered; rows without indices (uploaded as vectors, or stored before
 * indices were kept) go when one of their vectors is byte-equal to an erased sample's. Null when
 * nothing in the chunk changes.
 */
export function pruneTriplets(
  chunk: { count: number; data: Uint8Array; refs: Uint8Array | null },
  dimension: number,
  erased: ErasedSamples,
): KeptChunk | null {
  const vecBytes = dimension * 4;
  const rowBytes = 3 * vecBytes;
  if (chunk.data.byteLength !== chunk.count * rowBytes) throw new Error('corrupt triplets chunk: bytes do not match');
  const refs = chunk.refs ? int32s(chunk.refs) : null;
  if (refs && refs.length !== chunk.count * 3) throw new Error('corrupt triplets chunk: indices do not match');
  const keep: number[] = [];
  let renumbered = false;
  for (let r = 0; r < chunk.count; r++) {
    let gone = false;
    for (let j = 0; j < 3 && !gone; j++) {
      gone = refs
        ? erased.erased(refs[r * 3 + j])
        : erased.holdsVector(chunk.data.subarray(r * rowBytes + j * vecBytes, r * rowBytes + (j + 1) * vecBytes));
    }
    if (!gone) keep.push(r);
  }
  let newRefs: Buffer | null = null;
  if (refs) {
    const out = new Int32Array(keep.length * 3);
    keep.forEach((r, k) => {
      for (let j = 0; j < 3; j++) {
        const s = refs[r * 3 + j];
        const moved = s - erased.below(s);
        if (moved !== s) renumbered = true;
        out[k * 3 + j] = moved;
      }
    });
    newRefs = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }
  if (keep.length === chunk.count && !renumbered) return null;
  return { count: keep.length, data: gatherRows(chunk.data, keep, rowBytes), labels: null, refs: newRefs };
}

function gatherRows(data: Uint8Array, rows: number[], rowBytes: number): Buffer {
  const out = Buffer.allocUnsafe(rows.length * rowBytes);
  rows.forEach((r, k) => out.set(data.subarray(r * rowBytes, (r + 1) * rowBytes), k * rowBytes));
  return out;
}

/** Little-endian int32s from bytes at any alignment. */
function int32s(bytes: Uint8Array): Int32Array {
  const out = new Int32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

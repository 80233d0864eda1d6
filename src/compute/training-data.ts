// Stored training data → the math core's shapes: triplet matrices (optionally a seeded subset)
// and dense label ids. Pure; the runner and the evaluation service use the label ids, the worker
// the rest.
import type { IndexedTripletSet, TripletSet } from '../math/types.js';

/** Labels of any kind (strings, integers) → dense integer ids; "1" and 1 stay different labels. */
export function labelIds(labels: readonly (string | number)[]): Int32Array {
  const ids = new Map<string, number>();
  const out = new Int32Array(labels.length);
  labels.forEach((l, i) => {
    const key = `${typeof l}:${l}`;
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = ids.size));
    out[i] = id;
  });
  return out;
}

/** Triplets as stored: count × [a, p, n] × dimension. */
interface Triplets {
  count: number;
  dimension: number;
  data: Float32Array;
}

/** Copies the chosen triplets (by index, in the given order) into three m×d matrices. */
export function toTripletSet(stored: Triplets, indices?: Uint32Array): TripletSet {
  const d = stored.dimension;
  const m = indices ? indices.length : stored.count;
  const anchors = new Float32Array(m * d);
  const positives = new Float32Array(m * d);
  const negatives = new Float32Array(m * d);
  for (let i = 0; i < m; i++) {
    const src = (indices ? indices[i] : i) * 3 * d;
    anchors.set(stored.data.subarray(src, src + d), i * d);
    positives.set(stored.data.subarray(src + d, src + 2 * d), i * d);
    negatives.set(stored.data.subarray(src + 2 * d, src + 3 * d), i * d);
  }
  return { d, m, anchors, positives, negatives };
}

/** Triplets by sample index, as the worker gets them. */
interface IndexedTriplets {
  count: number;
  dimension: number;
  refs: Int32Array;
  samples: { count: number; data: Float32Array };
}

/** The chosen triplets (by index, in the given order) as indices into the shared samples. */
export function toIndexedSet(stored: IndexedTriplets, indices?: Uint32Array): IndexedTripletSet {
  const m = indices ? indices.length : stored.count;
  let refs = stored.refs;
  if (indices) {
    refs = new Int32Array(3 * m);
    for (let i = 0; i < m; i++) refs.set(stored.refs.subarray(3 * indices[i], 3 * indices[i] + 3), 3 * i);
  }
  return { d: stored.dimension, m, n: stored.samples.count, samples: stored.samples.data, refs };
}

/** The chosen triplets gathered into three m×d matrices (the validation part of a split). */
export function gatherTripletSet(stored: IndexedTriplets, indices: Uint32Array): TripletSet {
  const d = stored.dimension;
  const m = indices.length;
  const out = [0, 1, 2].map(() => new Float32Array(m * d));
  const X = stored.samples.data;
  for (let i = 0; i < m; i++)
    for (let s = 0; s < 3; s++) {
      const r = stored.refs[3 * indices[i] + s];
      out[s].set(X.subarray(r * d, (r + 1) * d), i * d);
    }
  return { d, m, anchors: out[0], positives: out[1], negatives: out[2] };
}

/** A seeded split: the first `train` indices train, the rest validate. Sorted within each part. */
export function splitIndices(
  count: number,
  validationFraction: number,
  random: () => number,
): { train: Uint32Array; validation: Uint32Array } {
  const nVal = Math.min(count - 1, Math.round(count * validationFraction));
  const idx = new Uint32Array(count);
  for (let i = 0; i < count; i++) idx[i] = i;
  // Fisher–Yates over the first nVal places is enough to draw a uniform subset.
  for (let i = 0; i < nVal; i++) {
    const j = i + Math.floor(random() * (count - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  const validation = idx.slice(0, nVal).sort();
  const train = idx.slice(nVal).sort();
  return { train, validation };
}

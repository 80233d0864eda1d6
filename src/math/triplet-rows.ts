// The two shapes of a full-batch triplet set, and row access that serves both: three m×d matrices
// (triplets sent as vectors), or n sample rows with m×3 indices into them (triplets sent as
// indexTriplets). The indexed shape holds each sample once however many triplets use it, which at
// face scale is several times less data to read, send and project (docs/decisions/0051).
import type { DataArray, IndexedTripletSet, Triplets } from './types.js';

export function isIndexed(set: Triplets): set is IndexedTripletSet {
  return 'refs' in set;
}

/** Where row i of stream s (0 anchors, 1 positives, 2 negatives) lives: [array, row of d values]. */
export function tripletRow(set: Triplets, s: 0 | 1 | 2, i: number): [DataArray, number] {
  if (isIndexed(set)) return [set.samples, set.refs[3 * i + s]];
  return [s === 0 ? set.anchors : s === 1 ? set.positives : set.negatives, i];
}

/** Throws on malformed indexed sets: sizes, and every index within [0, n). */
export function assertIndexedSet(set: IndexedTripletSet): void {
  const { m, d, n } = set;
  if (!(Number.isInteger(m) && m > 0 && Number.isInteger(d) && d > 0 && Number.isInteger(n) && n > 0))
    throw new RangeError(`indexed triplet set needs positive integer m, d and n (got m=${m}, d=${d}, n=${n})`);
  if (set.samples.length !== n * d)
    throw new RangeError(`samples has ${set.samples.length} values, expected n·d = ${n * d}`);
  if (set.refs.length !== 3 * m) throw new RangeError(`refs has ${set.refs.length} values, expected 3·m = ${3 * m}`);
  for (let i = 0; i < set.refs.length; i++) {
    const r = set.refs[i];
    if (!(r >= 0 && r < n)) throw new RangeError(`refs[${i}] is ${r}, outside [0, ${n})`);
  }
}

/**
 * out[2t], out[2t + 1] = ‖x_a − x_p‖², ‖x_a − x_n‖² of triplet list[t] (triplet t without a list),
 * t < count, summed in float64 over rows of `len` values at X[j·len].
 */
export function tripletSquaredDistances(
  refs: Int32Array,
  X: DataArray,
  len: number,
  list: Int32Array | null,
  count: number,
  out: Float64Array,
): void {
  for (let t = 0; t < count; t++) {
    const i = list === null ? t : list[t];
    const a = refs[3 * i] * len;
    const p = refs[3 * i + 1] * len;
    const q = refs[3 * i + 2] * len;
    let dp = 0;
    let dn = 0;
    for (let r = 0; r < len; r++) {
      const u = X[a + r] - X[p + r];
      const v = X[a + r] - X[q + r];
      dp += u * u;
      dn += v * v;
    }
    out[2 * t] = dp;
    out[2 * t + 1] = dn;
  }
}

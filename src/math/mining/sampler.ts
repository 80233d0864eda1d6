// Seeded P×K batch sampler: P labels per batch, K samples of each.
//
// - Labels are visited in epochs: a seeded permutation of all labels is consumed P at a time and
//   when fewer than P remain they complete the batch with the first labels of the next epoch's
//   permutation (which puts the remaining ones last), so every label appears exactly once per epoch.
//   With fewer than P labels in total every batch takes all of them.
// - Within a label, K distinct samples are drawn without replacement (partial Fisher–Yates on the
//   sampler's own copy of the row list). A label with fewer than K samples contributes all it has,
//   once each ("take what exists"): duplicated rows would only add zero-distance positive pairs,
//   which carry no gradient under the euclidean distance and shrink the useful batch. Batches can
//   therefore be smaller than P·K; `next` returns the actual size.
// - Single-sample labels are kept in the pool: they cannot anchor a triplet but serve as negatives.
import { createRng, type Rng, type RngState } from '../rng.js';

export interface PKSampler {
  /** P·K: the largest batch `next` can return */
  readonly maxBatch: number;
  /** number of distinct labels in the pool */
  readonly labelCount: number;
  /** Writes the sample rows of the next batch into rowsOut (grouped by label) and their labels into labelsOut; returns the batch size. */
  next(rowsOut: Int32Array, labelsOut: Int32Array): number;
  /** A copy of what carries from one batch to the next (for checkpoints). */
  snapshot(): SamplerState;
  /** Continues from a snapshot of a sampler over the same rows, P and K. */
  restore(s: SamplerState): void;
}

/** The sampler's state between batches. */
export interface SamplerState {
  rng: RngState;
  /** the rows grouped by label, each label's segment in its current partially shuffled order */
  pool: Int32Array;
  /** this epoch's label order */
  perm: Int32Array;
  /** labels of `perm` already taken this epoch */
  cursor: number;
}

export interface LabelGroups {
  /** distinct labels, in first-appearance order */
  labels: Int32Array;
  /** rows of label i are rows[offsets[i] .. offsets[i+1]) */
  offsets: Int32Array;
  rows: Int32Array;
}

/** Groups `rows` (indices into the sample set; all rows when null) by their label. */
export function groupByLabel(labels: Int32Array, rows: Int32Array | null): LabelGroups {
  const n = rows ? rows.length : labels.length;
  const slot = new Map<number, number>();
  const order: number[] = [];
  const counts: number[] = [];
  for (let t = 0; t < n; t++) {
    const y = labels[rows ? rows[t] : t];
    let s = slot.get(y);
    if (s === undefined) {
      s = order.length;
      slot.set(y, s);
      order.push(y);
      counts.push(0);
    }
    counts[s]++;
  }
  const offsets = new Int32Array(order.length + 1);
  for (let i = 0; i < order.length; i++) offsets[i + 1] = offsets[i] + counts[i];
  const fill = offsets.slice(0, order.length);
  const out = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    const r = rows ? rows[t] : t;
    out[fill[slot.get(labels[r]) as number]++] = r;
  }
  return { labels: Int32Array.from(order), offsets, rows: out };
}

function shuffle(a: Int32Array, lo: number, hi: number, rng: Rng): void {
  for (let i = hi - 1; i > lo; i--) {
    const j = lo + rng.int(i - lo + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

export function createPKSampler(
  labels: Int32Array,
  rows: Int32Array | null,
  P: number,
  K: number,
  seed: number | Rng,
): PKSampler {
  if (!(Number.isInteger(P) && P >= 1 && Number.isInteger(K) && K >= 1)) {
    throw new RangeError(`P and K must be positive integers (got P=${P}, K=${K})`);
  }
  const rng = typeof seed === 'number' ? createRng(seed) : seed;
  const g = groupByLabel(labels, rows);
  const L = g.labels.length;
  const pool = g.rows.slice(); // shuffled in place, per label segment
  const perm = new Int32Array(L);
  for (let i = 0; i < L; i++) perm[i] = i;
  let cursor = L; // forces a shuffle on the first batch
  const takeLabels = Math.min(P, L);
  let b = 0;
  let rowsOut: Int32Array = new Int32Array(0);
  let labelsOut: Int32Array = new Int32Array(0);
  const take = (li: number): void => {
    const lo = g.offsets[li];
    const c = g.offsets[li + 1] - lo;
    const t = Math.min(K, c);
    // partial Fisher–Yates: the first t slots become a uniform draw without replacement
    for (let i = 0; i < t && t < c; i++) {
      const j = lo + i + rng.int(c - i);
      const tmp = pool[lo + i];
      pool[lo + i] = pool[j];
      pool[j] = tmp;
    }
    const y = g.labels[li];
    for (let i = 0; i < t; i++) {
      rowsOut[b] = pool[lo + i];
      labelsOut[b] = y;
      b++;
    }
  };
  return {
    maxBatch: P * K,
    labelCount: L,
    next(rowsO, labelsO) {
      if (rowsO.length < P * K || labelsO.length < P * K)
        throw new RangeError(`output arrays need room for P·K = ${P * K} rows`);
      if (L === 0) return 0;
      rowsOut = rowsO;
      labelsOut = labelsO;
      b = 0;
      let need = takeLabels;
      if (cursor + need > L) {
        // finish the epoch with the r labels left, then start a new one whose first labels exclude them:
        // the new permutation is shuffle(the others) followed by shuffle(the r left), so every label
        // appears exactly once per epoch and a batch never repeats a label
        const r = L - cursor;
        for (let q = cursor; q < L; q++) take(perm[q]);
        need -= r;
        shuffle(perm, 0, cursor, rng);
        shuffle(perm, cursor, L, rng);
        cursor = 0;
      }
      for (let q = 0; q < need; q++) take(perm[cursor++]);
      return b;
    },
    snapshot: () => ({ rng: rng.getState(), pool: pool.slice(), perm: perm.slice(), cursor }),
    restore(s) {
      if (s.pool.length !== pool.length || s.perm.length !== L || !(s.cursor >= 0 && s.cursor <= L))
        throw new RangeError(`checkpoint: the sampler state is not of ${pool.length} rows in ${L} labels`);
      rng.setState(s.rng);
      pool.set(s.pool);
      perm.set(s.perm);
      cursor = s.cursor;
    },
  };
}

// Validation split for labelled samples, and fixed random triplets for scoring a split.
//
// Rule (validationSplit `auto`): with at least LABEL_SPLIT_MIN_LABELS labels that have ≥ 2 samples,
// hold out whole labels — max(2, round(fraction·L)) of them, seeded — so validation measures classes
// never seen in training (a face app meets new people). With fewer labels, holding out whole classes
// would remove a large share of the classes the map must separate, so hold out samples instead:
// round(fraction·c) of each label's c samples, keeping at least 2 in training. `labels` / `samples`
// force a mode; `labels` falls back to samples when fewer than 4 eligible labels exist (2 + 2).
// The split is `none` (no validation) when fraction is 0 or the held-out part has no label with
// two samples (nothing to retrieve).
import { createRng, type Rng } from '../rng.js';
import { groupByLabel } from './sampler.js';
import type { ValidationSplit } from './types.js';

export const LABEL_SPLIT_MIN_LABELS = 20;

export interface SampleSplit {
  kind: 'labels' | 'samples' | 'none';
  /** sorted row indices */
  train: Int32Array;
  /** sorted row indices (empty when kind is `none`) */
  validation: Int32Array;
}

function shuffleInPlace(a: Int32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

function allRows(n: number): Int32Array {
  const r = new Int32Array(n);
  for (let i = 0; i < n; i++) r[i] = i;
  return r;
}

function hasScorableLabel(labels: Int32Array, rows: Int32Array): boolean {
  const seen = new Set<number>();
  for (const r of rows) {
    if (seen.has(labels[r])) return true;
    seen.add(labels[r]);
  }
  return false;
}

export function splitSamples(
  labels: Int32Array,
  n: number,
  fraction: number,
  mode: ValidationSplit,
  seed: number,
): SampleSplit {
  const none: SampleSplit = { kind: 'none', train: allRows(n), validation: new Int32Array(0) };
  if (!(fraction > 0)) return none;
  const rng = createRng(seed);
  const g = groupByLabel(labels.subarray(0, n), null);
  const L = g.labels.length;
  const eligible: number[] = [];
  for (let i = 0; i < L; i++) if (g.offsets[i + 1] - g.offsets[i] >= 2) eligible.push(i);
  const byLabels =
    mode === 'labels' ? eligible.length >= 4 : mode === 'auto' && eligible.length >= LABEL_SPLIT_MIN_LABELS;
  const hold = new Uint8Array(n);
  let kind: SampleSplit['kind'];
  if (byLabels) {
    kind = 'labels';
    const order = Int32Array.from(eligible);
    shuffleInPlace(order, rng);
    const h = Math.min(eligible.length - 2, Math.max(2, Math.round(fraction * eligible.length)));
    for (let q = 0; q < h; q++) {
      const li = order[q];
      for (let t = g.offsets[li]; t < g.offsets[li + 1]; t++) hold[g.rows[t]] = 1;
    }
  } else {
    kind = 'samples';
    for (let li = 0; li < L; li++) {
      const lo = g.offsets[li];
      const c = g.offsets[li + 1] - lo;
      const h = Math.min(c - 2, Math.round(fraction * c));
      if (h <= 0) continue;
      const seg = g.rows.slice(lo, lo + c);
      shuffleInPlace(seg, rng);
      for (let q = 0; q < h; q++) hold[seg[q]] = 1;
    }
  }
  let nv = 0;
  for (let i = 0; i < n; i++) nv += hold[i];
  if (nv === 0) return none;
  const train = new Int32Array(n - nv);
  const validation = new Int32Array(nv);
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) {
    if (hold[i]) validation[b++] = i;
    else train[a++] = i;
  }
  if (!hasScorableLabel(labels, validation)) return none;
  return { kind, train, validation };
}

/** Seeded subsample of at most `max` rows, returned sorted (all rows when there are few enough). */
export function subsampleRows(rows: Int32Array, max: number, rng: Rng): Int32Array {
  if (rows.length <= max) return rows.slice();
  const a = rows.slice();
  for (let i = 0; i < max; i++) {
    const j = i + rng.int(a.length - i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a.slice(0, max).sort();
}

/**
 * Up to `count` random valid triplets (indices into `labels[0..n)`): anchor uniform among rows whose
 * label has ≥ 2 rows, positive uniform among the anchor's other rows, negative uniform among rows of
 * other labels. Fewer (possibly 0) when no valid triplet exists.
 */
export function sampleTriplets(labels: Int32Array, n: number, count: number, rng: Rng): Int32Array {
  const g = groupByLabel(labels.subarray(0, n), null);
  const L = g.labels.length;
  const slotOf = new Int32Array(n);
  for (let li = 0; li < L; li++) for (let t = g.offsets[li]; t < g.offsets[li + 1]; t++) slotOf[g.rows[t]] = li;
  const anchors: number[] = [];
  for (let i = 0; i < n; i++) {
    const li = slotOf[i];
    if (g.offsets[li + 1] - g.offsets[li] >= 2) anchors.push(i);
  }
  if (anchors.length === 0 || L < 2) return new Int32Array(0);
  const out = new Int32Array(3 * count);
  for (let t = 0; t < count; t++) {
    const a = anchors[rng.int(anchors.length)];
    const li = slotOf[a];
    const lo = g.offsets[li];
    const c = g.offsets[li + 1] - lo;
    let p = g.rows[lo + rng.int(c - 1)];
    if (p === a) p = g.rows[lo + c - 1]; // uniform over the c − 1 others
    // negatives: the rows outside the label's segment, in the grouped order
    const r = rng.int(n - c);
    const neg = g.rows[r < lo ? r : r + c];
    out[3 * t] = a;
    out[3 * t + 1] = p;
    out[3 * t + 2] = neg;
  }
  return out;
}

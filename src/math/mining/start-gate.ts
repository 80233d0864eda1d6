// How much the start map deserves to be kept: a gate g ∈ [0, 1] on the start pull's λ (start-pull.ts).
//
// A pull towards W₀ keeps what the start already gets right, and also what it gets wrong: the README's
// labelled-samples walk-through has its largest variance in a noise feature, the PCA start keeps that
// feature, and a strong pull held the map there (docs/decisions/0045, amendment). So the pull is scaled
// by evidence measured on the training samples before training: the start's leave-one-out
// precision@1, rescaled above chance, times how much of the raw features' own above-chance
// precision@1 it keeps (a start that loses what the raw neighbourhoods get right deserves less pull):
//
//   a = (p − c) / (1 − c) clamped to [0, 1]   (c: chance that a random other sample shares the label)
//   g = a_start · min(1, a_start / a_raw)     (a_raw ≤ 0: the raw features say nothing, factor 1)
//
// Its cost is n²·(d + k) for n rows, bounded by subsampling: n ≤ GATE_MAX_ROWS and n²·(d + k) ≤
// GATE_BUDGET. Pure; deterministic for the rows it is given (the caller subsamples them seeded).
import { labelCounts } from '../metrics.js';
import type { DataArray } from '../types.js';

/** at most this many training rows are scored */
export const GATE_MAX_ROWS = 2000;
/** at most this many multiply-adds for the two leave-one-out passes (under a second in plain JS: docs/decisions/0051) */
export const GATE_BUDGET = 3e8;

export interface StartGate {
  /** the gate, in [0, 1] */
  gate: number;
  /** leave-one-out precision@1 of the start map on the scored rows */
  start: number;
  /** the same for the raw features */
  raw: number;
  /** chance precision@1 (mean over scored queries of the share of other rows with the query's label) */
  chance: number;
  /** queries scored: rows with another row of their label among the scored ones */
  queries: number;
}

/** How many rows a gate over dimension d (raw) and k (start) may score within the budget. */
export function gateRowLimit(d: number, k: number): number {
  return Math.max(2, Math.min(GATE_MAX_ROWS, Math.floor(Math.sqrt(GATE_BUDGET / (d + k)))));
}

/** Leave-one-out nearest-neighbour hits (squared euclidean) over queries with a same-label row; `hit` marks each. */
export function nearestNeighbourHits(
  E: DataArray,
  n: number,
  dim: number,
  labels: Int32Array,
  counts: Map<number, number>,
  hit?: Uint8Array,
): number {
  let hits = 0;
  for (let i = 0; i < n; i++) {
    if ((counts.get(labels[i]) ?? 0) < 2) continue;
    let best = Infinity;
    let bestJ = -1;
    const io = i * dim;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const jo = j * dim;
      let s = 0;
      for (let c = 0; c < dim && s < best; c++) {
        const t = E[io + c] - E[jo + c];
        s += t * t;
      }
      if (s < best) {
        best = s;
        bestJ = j;
      }
    }
    if (bestJ >= 0 && labels[bestJ] === labels[i]) {
      hits++;
      if (hit) hit[i] = 1;
    }
  }
  return hits;
}

/** Mean over queries (rows with a same-label row) of the share of the other n − 1 rows with their label. */
export function chancePrecision(labels: Int32Array, counts: Map<number, number>): { chance: number; queries: number } {
  const n = labels.length;
  let sum = 0;
  let queries = 0;
  for (const y of labels) {
    const c = counts.get(y) ?? 0;
    if (c < 2) continue;
    sum += (c - 1) / (n - 1);
    queries++;
  }
  return { chance: queries > 0 ? sum / queries : 0, queries };
}

/** (p − c)/(1 − c) clamped to [0, 1]; 0 when chance is already certain. */
export function aboveChance(p: number, chance: number): number {
  if (chance >= 1) return 0;
  return Math.min(1, Math.max(0, (p - chance) / (1 - chance)));
}

/** The gate from the two above-chance precisions (see the header). */
export function gateOf(start: number, raw: number): number {
  return raw > 0 ? start * Math.min(1, start / raw) : start;
}

/**
 * The gate for n rows: X (n×d, raw features), E (n×k, the start map's embeddings, normalised as the
 * model's will be), their labels. No queries (no label with two rows): gate 0, nothing to trust.
 */
export function startGate(X: DataArray, d: number, E: DataArray, k: number, labels: Int32Array): StartGate {
  const n = labels.length;
  const counts = labelCounts(labels);
  const { chance, queries } = chancePrecision(labels, counts);
  if (queries === 0) return { gate: 0, start: 0, raw: 0, chance, queries };
  const start = nearestNeighbourHits(E, n, k, labels, counts) / queries;
  const raw = nearestNeighbourHits(X, n, d, labels, counts) / queries;
  return { gate: gateOf(aboveChance(start, chance), aboveChance(raw, chance)), start, raw, chance, queries };
}

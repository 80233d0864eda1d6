// Fixed scoring sets of trainMined: a copy of some rows, their labels and fixed random triplets
// among them, scored with the training distance.
import type { Distance } from '../distance.js';
import { createRng } from '../rng.js';
import type { DataArray } from '../types.js';
import { sampleTriplets } from './split.js';
import type { TripletLoss } from './triplet-loss.js';
import type { LabelledSamples } from './types.js';

/** fixed random triplets scored for validationLoss / validationTripletAccuracy and the final trainLoss */
export const EVAL_TRIPLETS = 5000;

export interface EvalSet {
  n: number;
  X: DataArray;
  labels: Int32Array;
  /** (a, p, n) row triples into X */
  triplets: Int32Array;
  /** n×k embeddings, filled by the caller before scoring */
  E: Float64Array;
}

export function gatherRows(X: DataArray, d: number, rows: Int32Array, out: DataArray): void {
  for (let t = 0; t < rows.length; t++) {
    const src = rows[t] * d;
    const dst = t * d;
    for (let j = 0; j < d; j++) out[dst + j] = X[src + j];
  }
}

export function gatherLabels(labels: Int32Array, rows: Int32Array): Int32Array {
  const out = new Int32Array(rows.length);
  for (let t = 0; t < rows.length; t++) out[t] = labels[rows[t]];
  return out;
}

/** A buffer of n·d values of the samples' own precision (float64 fixtures stay exact). */
export function rowsLike(s: LabelledSamples, n: number): DataArray {
  return s.X instanceof Float64Array ? new Float64Array(n * s.d) : new Float32Array(n * s.d);
}

export function makeEvalSet(s: LabelledSamples, rows: Int32Array, k: number, seed: number): EvalSet {
  const n = rows.length;
  const X = rowsLike(s, n);
  gatherRows(s.X, s.d, rows, X);
  const labels = gatherLabels(s.labels, rows);
  return {
    n,
    X,
    labels,
    triplets: sampleTriplets(labels, n, EVAL_TRIPLETS, createRng(seed)),
    E: new Float64Array(n * k),
  };
}

export interface TripletScores {
  loss: number;
  accuracy: number;
  activeFraction: number;
  meanAbsGap: number;
}

/**
 * Mean loss (reduction `all`), accuracy, active fraction and mean |d(a,p) − d(a,n)| over the set's
 * fixed triplets (E filled).
 */
export function scoreTriplets(
  es: EvalSet,
  k: number,
  distance: Distance,
  loss: TripletLoss,
  margin: number,
): TripletScores {
  const m = es.triplets.length / 3;
  if (m === 0) return { loss: 0, accuracy: 0, activeFraction: 0, meanAbsGap: 0 };
  let sum = 0;
  let correct = 0;
  let active = 0;
  let gap = 0;
  for (let t = 0; t < m; t++) {
    const ao = es.triplets[3 * t] * k;
    const dap = distance.pair(es.E, ao, es.E, es.triplets[3 * t + 1] * k, k);
    const dan = distance.pair(es.E, ao, es.E, es.triplets[3 * t + 2] * k, k);
    const v = dap - dan;
    sum += loss.value(v);
    if (dap < dan) correct++;
    if (v + margin > 0) active++;
    gap += Math.abs(v);
  }
  return { loss: sum / m, accuracy: correct / m, activeFraction: active / m, meanAbsGap: gap / m };
}

// `normalize: 'auto'`: whether the embeddings are unit-normalised. With validation on held-out labels,
// by a trial: both ways train the first NORMALIZE_TRIAL_FRACTION of the schedule side by side and the
// one with the better validation figure goes on (trainMined); otherwise by the start's evidence below.
// Held-out samples of the training labels do not judge it: they reward the way that fits those labels,
// which on MNIST was not the way that carried to new ones (docs/decisions/0065). The start cannot see
// how each way trains: on a face-like set whose start favours unit norm, plain embeddings trained to
// the better model, and validation said so by the trial's end (docs/decisions/0063).
//
// Unit norm discards one thing, the length of Wx. On face descriptors that length is mostly nuisance
// (image quality, contrast) and dropping it sharpens the neighbourhoods; where it carries the class
// (ink per digit, counts, a dominant identity direction) dropping it costs nearest neighbours that no
// training wins back (docs/decisions/0060, 0061). The start map W₀ (PCA, identity or uniform) is
// label-free, so its leave-one-out precision@1 on the training samples is a fair witness for classes it
// never saw: both ways of embedding are scored on the same seeded rows, query by query.
//
// Plain embeddings must win beyond chance, not by a few queries: without a length signal they train
// worse (an absolute margin a growing W can satisfy), and a strict win let a few queries flip the
// choice on a face-like set (0061). The test is McNemar's on the discordant queries (b found only
// plain, c only unit), with the continuity correction so that a handful of queries cannot pass it
// (4 to 0 gives 1.5; 6 to 0, whose exact one-sided p is 0.016, gives 2.04):
// z = sign(b − c)·(|b − c| − 1)/√(b + c) ≥ AUTO_PLAIN_Z. Cost: one product n·d·k and two
// leave-one-out passes n²·k, on the start gate's rows (n²·(d + k) ≤ GATE_BUDGET), so at most twice the
// gate's own. Pure; deterministic for its rows.
import { embed } from '../embed.js';
import { figureOf } from '../training/early-stopping.js';
import { normalizeRow } from '../losses.js';
import { labelCounts } from '../metrics.js';
import type { DataArray } from '../types.js';
import { chancePrecision, nearestNeighbourHits } from './start-gate.js';
import type { EarlyStoppingMetric, ValidationFigures } from './types.js';

/** One-sided z that plain embeddings must reach over unit norm (about p < 0.025). */
export const AUTO_PLAIN_Z = 2;

/**
 * Share of maxIterations that both ways train before the trial keeps one. On the default schedule the
 * validation figures ranked the two ways as at the end from two thirds of this on (step 200 of 300,
 * 0063); the loser's steps are the cost.
 */
export const NORMALIZE_TRIAL_FRACTION = 0.1;

export interface NormalizeChoice {
  normalize: boolean;
  /**
   * `start`: leave-one-out precision@1 of the start W₀ on training rows (absent in checkpoints
   * written before the trial); `validation`: the trial's validation figure
   */
  by?: 'start' | 'validation';
  /** the figure of plain embeddings Wx: see `by` */
  plain: number;
  /** the same for unit-norm embeddings Wx/‖Wx‖ */
  unit: number;
  /** queries scored (rows with another row of their label) */
  queries: number;
  /** by validation: the figure compared, and the steps each way trained before the choice */
  metric?: EarlyStoppingMetric;
  steps?: number;
  /**
   * McNemar's continuity-corrected z of plain over unit on the discordant queries (0 when they are
   * split evenly or absent); absent in checkpoints written before the test (0061)
   */
  z?: number;
}

/**
 * McNemar's z with the continuity correction, sign(b − c)·(|b − c| − 1)/√(b + c), where b counts the
 * queries only `a` found and c those only `b` found; 0 when |b − c| ≤ 1.
 */
export function discordantZ(a: Uint8Array, b: Uint8Array): number {
  let onlyA = 0;
  let onlyB = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] > b[i]) onlyA++;
    else if (b[i] > a[i]) onlyB++;
  }
  const lead = Math.abs(onlyA - onlyB);
  return lead <= 1 ? 0 : (Math.sign(onlyA - onlyB) * (lead - 1)) / Math.sqrt(onlyA + onlyB);
}

/** Chooses for the start W0 (k×d) over X (n×d) and their labels; no queries: unit norm. */
export function chooseNormalize(
  X: DataArray,
  d: number,
  W0: Float64Array,
  k: number,
  labels: Int32Array,
): NormalizeChoice {
  const n = labels.length;
  const counts = labelCounts(labels);
  const { queries } = chancePrecision(labels, counts);
  if (queries === 0) return { normalize: true, by: 'start', plain: 0, unit: 0, queries, z: 0 };
  const E = new Float64Array(n * k);
  embed(W0, k, d, X, n, false, E);
  const plainHits = new Uint8Array(n);
  const unitHits = new Uint8Array(n);
  const plain = nearestNeighbourHits(E, n, k, labels, counts, plainHits);
  for (let i = 0; i < n; i++) normalizeRow(E, i * k, k); // as embed's unit norm, without a second product
  const unit = nearestNeighbourHits(E, n, k, labels, counts, unitHits);
  const z = discordantZ(plainHits, unitHits);
  return { normalize: !(z >= AUTO_PLAIN_Z), by: 'start', plain: plain / queries, unit: unit / queries, queries, z };
}

/** Steps of the trial: NORMALIZE_TRIAL_FRACTION of the schedule, whole evaluations, at most all of it. */
export function normalizeTrialSteps(maxIterations: number, evaluationInterval: number): number {
  const evaluations = Math.max(1, Math.ceil((NORMALIZE_TRIAL_FRACTION * maxIterations) / evaluationInterval));
  return Math.min(maxIterations, evaluations * evaluationInterval);
}

/**
 * The trial's verdict from each way's latest validation figures. It compares the run's early-stopping
 * figure, except a validation loss, whose scale differs between unit and plain distances (MAP@R then).
 * Plain must gain more than minDelta: a tie keeps unit norm, the better default on face descriptors.
 */
export function trialChoice(
  figures: { unit: ValidationFigures; plain: ValidationFigures },
  o: { metric: EarlyStoppingMetric; minDelta: number; steps: number; queries: number },
): NormalizeChoice {
  const metric = o.metric === 'validationLoss' ? 'mapAtR' : o.metric;
  const plain = figureOf(figures.plain, metric);
  const unit = figureOf(figures.unit, metric);
  return {
    normalize: !(plain > unit + o.minDelta),
    by: 'validation',
    plain,
    unit,
    queries: o.queries,
    metric,
    steps: o.steps,
  };
}

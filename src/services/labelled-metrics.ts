// Verification and identification in POST /models/:id/evaluate (docs/decisions/0035): the
// request's options with their defaults, the cost of the pass (checked against the evaluation
// budgets before the worker allocates anything), and the reply's shape. The numbers come from
// src/math/verification on the evaluation worker.
import { AppError } from '../errors.js';
import type {
  EvaluateIdentificationOptions,
  EvaluateMetric,
  EvaluateResult,
  EvaluateVerificationOptions,
} from '../jobs/messages.js';
import {
  DEFAULT_FARS,
  DEFAULT_MAX_GENUINE_PAIRS,
  DEFAULT_MAX_IMPOSTOR_PAIRS,
  DEFAULT_SELECT,
  PAIR_CHUNK,
} from '../math/verification/index.js';
import type { EvaluateReply, IdentificationOptions, VerificationOptions } from '../schemas/models.js';

/** ROC points of `curve: true` (the core caps at 1,000). */
export const CURVE_POINTS = 1000;
export const DEFAULT_IDENTIFICATION = { unknownFraction: 0.2, ranks: [1, 5, 10], fars: [1e-1, 1e-2], seed: 0 };

/** Each FAR strictly between 0 and 1 (the schema's bounds are inclusive): 400 naming the field. */
function checkFars(fars: number[] | undefined, field: string): void {
  fars?.forEach((f, i) => {
    if (!(f > 0 && f < 1)) {
      throw new AppError(400, 'VALIDATION_ERROR', `body/${field}/${i} must be greater than 0 and less than 1`);
    }
  });
}

export function verificationOptions(o: VerificationOptions = {}): EvaluateVerificationOptions {
  checkFars(o.fars, 'verification/fars');
  return {
    fars: o.fars ?? [...DEFAULT_FARS],
    curvePoints: o.curve ? CURVE_POINTS : 0,
    maxImpostorPairs: o.maxImpostorPairs ?? DEFAULT_MAX_IMPOSTOR_PAIRS,
    maxGenuinePairs: o.maxGenuinePairs ?? DEFAULT_MAX_GENUINE_PAIRS,
    seed: o.seed ?? 0,
  };
}

export function identificationOptions(o: IdentificationOptions = {}): EvaluateIdentificationOptions {
  const d = DEFAULT_IDENTIFICATION;
  checkFars(o.fars, 'identification/fars');
  return {
    unknownFraction: o.unknownFraction ?? d.unknownFraction,
    ranks: o.ranks ?? [...d.ranks],
    fars: o.fars ?? [...d.fars],
    seed: o.seed ?? d.seed,
  };
}

/** What the cost of the pass depends on: known once the labels are read. */
export interface LabelledCounts {
  /** samples */
  n: number;
  /** genuine and impostor pairs in the data */
  genuine: number;
  impostors: number;
  /** distinct labels (the gallery has at most one sample of each) */
  labels: number;
}

/**
 * Passes over the impostor pairs: one to count them into the ROC staircase, then the threshold
 * selection's: one when N ≤ 65,536 (kept and sorted), else one histogram pass per factor 4,096 of
 * N/65,536 and a last one that keeps. Typical, not a bound: tie-heavy data may narrow more slowly.
 */
export function impostorPasses(N: number): number {
  if (N <= DEFAULT_SELECT.budget) return 2;
  return 2 + Math.ceil(Math.log(N / DEFAULT_SELECT.budget) / Math.log(DEFAULT_SELECT.bins));
}

/**
 * The verification and identification pass over n labelled embeddings of dimension k, with
 * G = min(genuine, maxGenuinePairs), N = min(impostors, maxImpostorPairs), P = impostorPasses(N),
 * F = the FARs, L = labels.
 * Bytes: the sorted genuine distances and the ROC staircase built from them (8 + 48 per genuine
 * pair), per threshold being selected (F + 1) the larger of a histogram (24·4,096) and the kept
 * values (8·65,536), a chunk of distances (8·65,536) per pass over the pairs (1 + P: each pass's
 * buffer is garbage only after it), the label groups, split and probe scores (96·n) and the curve
 * (16·1,000). Measured on digits (G = 160,596, P = 3): peak RSS +13.3 MB, formula 13.7 MB.
 * Work: 2 per genuine pair visited (label and sample draw) + G·(k + log₂G) (distances, sort);
 * per impostor pass 2 per pair of samples (label test and sample draw) + N·(k + 2); N·log₂G to
 * count impostors into the staircase; identification (n·L·(k + 2): every probe against a gallery of
 * one sample per label).
 */
export function verificationCost(
  c: LabelledCounts,
  k: number,
  v: EvaluateVerificationOptions,
): { bytes: number; work: number } {
  if (c.n < 2) return { bytes: 0, work: 0 };
  const pass = pairPassCost(c, (c.n * (c.n - 1)) / 2, k, v);
  return {
    bytes: pass.bytes + 96 * c.n,
    work: 2 * c.genuine + pass.work + c.n * Math.min(c.labels, c.n) * (k + 2),
  };
}

/**
 * The pass over the pairs that every verification makes (of a dataset's samples, or of probes
 * against a gallery), with G = min(genuine, maxGenuinePairs), N = min(impostors, maxImpostorPairs),
 * P = impostorPasses(N), F = the FARs, and `pairs` the pairs each impostor pass visits.
 * Bytes: 56·G + (F + 1)·max(8·65,536, 24·4,096) + (1 + P)·8·65,536 + 16·curve points.
 * Work: G·(k + log₂G) + P·(2·pairs + N·(k + 2)) + N·log₂G.
 */
export function pairPassCost(
  c: { genuine: number; impostors: number },
  pairs: number,
  k: number,
  v: EvaluateVerificationOptions,
): { bytes: number; work: number } {
  const G = Math.min(c.genuine, v.maxGenuinePairs);
  const N = Math.min(c.impostors, v.maxImpostorPairs);
  const logG = Math.log2(G + 1);
  const selection = Math.max(8 * DEFAULT_SELECT.budget, 24 * DEFAULT_SELECT.bins);
  const passes = impostorPasses(N);
  const bytes =
    56 * G +
    (v.fars.length + 1) * selection +
    (1 + passes) * 8 * PAIR_CHUNK +
    (v.curvePoints > 0 ? 16 * v.curvePoints : 0);
  return { bytes, work: G * (k + logG) + passes * (2 * pairs + N * (k + 2)) + N * logG };
}

/** An evaluation's reply but the model it names (the route's caller resolved that). */
export type EvaluateFigures = Omit<EvaluateReply, 'model'>;

/** The reply's verification and identification, from the worker's result (its pairs scored in `metric`). */
export function shapeLabelled(
  r: EvaluateResult,
  v: EvaluateVerificationOptions,
  id: EvaluateIdentificationOptions,
  labelNames: (string | number)[],
  metric: EvaluateMetric,
): EvaluateFigures {
  const { verification, identification, ...rest } = r;
  const out: EvaluateFigures = { ...rest };
  if (verification) {
    const { impostorPasses: _passes, curve, ...figures } = verification;
    out.verification = {
      distance: metric,
      ...figures,
      maxGenuinePairs: v.maxGenuinePairs,
      maxImpostorPairs: v.maxImpostorPairs,
      seed: v.seed,
      ...(curve ? { curve } : {}),
    };
  }
  if (identification) {
    out.identification = {
      seed: id.seed,
      unknownFraction: id.unknownFraction,
      ...identification,
      unknownLabels: identification.unknownLabels.map((l) => labelNames[l]),
    };
  }
  return out;
}

/** Each label id's name (the first stored label that got it: ids are given in order of appearance). */
export function labelNames(stored: readonly (string | number)[], ids: Int32Array): (string | number)[] {
  const names: (string | number)[] = [];
  for (let i = 0; i < ids.length; i++) if (names[ids[i]] === undefined) names[ids[i]] = stored[i];
  return names;
}

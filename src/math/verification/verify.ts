// Verification metrics of labelled embeddings: TAR at fixed FARs with their thresholds, EER, ROC
// AUC, over all genuine pairs and all (or a seeded sample of) impostor pairs. Scores are
// distances: lower = same identity, a pair is accepted when distance ≤ threshold (roc.ts).
import { euclideanDistance, type Distance } from '../distance.js';
import type { DataArray } from '../types.js';
import { genuineStream, impostorStream, pairCounts, type LabelledRows } from './pairs.js';
import {
  addImpostors,
  createStaircase,
  equalErrorRate,
  finishStaircase,
  genuineAcceptedWithin,
  largestGenuineBelow,
  maxCountAtRate,
  rocAuc,
  tarCurve,
  type Staircase,
} from './roc.js';
import { DEFAULT_SELECT, selectRanks, type SelectOptions } from './select.js';

/** FAR = 1e-1 … 1e-6. */
export const DEFAULT_FARS: readonly number[] = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

/** Impostor pairs used before sampling: 10 impostors at FAR = 1e-6; 80 MB if they were ever held. */
export const DEFAULT_MAX_IMPOSTOR_PAIRS = 10_000_000;

export interface VerificationOptions {
  /** default euclidean */
  distance?: Distance;
  /** FARs to report, each in (0, 1); default DEFAULT_FARS */
  fars?: readonly number[];
  /** above this many impostor pairs, a seeded uniform sample of exactly this many */
  maxImpostorPairs?: number;
  /** seed of the impostor sample (createRng) */
  seed?: number;
  /** ROC points to return (log-spaced in FAR, at most 1,000); 0 or absent: none */
  curvePoints?: number;
  /** histogram bins and kept-value budget of the threshold selection */
  select?: SelectOptions;
}

export interface TarAtFar {
  far: number;
  /** null when the data cannot support this FAR (see reason) */
  tar: number | null;
  /** largest distance accepted at this FAR; null when no pair can be accepted (or tar is null) */
  threshold: number | null;
  reason: string | null;
}

export interface VerificationMetrics {
  genuineCount: number;
  /** impostor pairs used (the sample size when sampled) */
  impostorCount: number;
  /** impostor pairs in the data */
  impostorTotal: number;
  impostorSampled: boolean;
  tarAtFar: TarAtFar[];
  eer: number | null;
  eerThreshold: number | null;
  auc: number | null;
  /** why eer and auc are null */
  reason: string | null;
  curve: { far: number; tar: number }[] | null;
  /** passes over the impostor pairs (1 for the counts, then the threshold selection's) */
  impostorPasses: number;
}

/** Impostors needed to report a FAR: ⌈1/FAR⌉ (a 1e-9 guard makes 1/1e-6 count as 10⁶). */
export function impostorsNeeded(far: number): number {
  return Math.ceil(1 / far - 1e-9);
}

function checkFars(fars: readonly number[]): void {
  for (const f of fars) if (!(f > 0 && f < 1)) throw new RangeError(`FAR must be in (0, 1) (got ${f})`);
}

/**
 * Verification metrics of the n rows of E (n×k) with their labels. Memory: 8·G bytes for the
 * sorted genuine distances plus 32·K for the staircase (K ≤ G distinct genuine values), 8·65,536
 * for the pair chunk, and per threshold still being selected 24·bins (narrowing) or 8·budget
 * (kept) bytes — nothing proportional to the impostor count. Work: G·k + G·log G for genuine
 * pairs; per impostor pass n(n−1)/2 label tests plus N·k (N impostors used), the first pass
 * adding N·log K; the selection takes 1 pass when N ≤ budget, typically 2–3 otherwise.
 */
export function verificationMetrics(
  E: DataArray,
  n: number,
  k: number,
  labels: Int32Array,
  opts: VerificationOptions = {},
): VerificationMetrics {
  if (labels.length < n || E.length < n * k) throw new RangeError('verificationMetrics: E or labels too short');
  const fars = opts.fars ?? DEFAULT_FARS;
  checkFars(fars);
  const distance = opts.distance ?? euclideanDistance;
  const maxImpostors = opts.maxImpostorPairs ?? DEFAULT_MAX_IMPOSTOR_PAIRS;
  if (!(Number.isInteger(maxImpostors) && maxImpostors >= 1)) throw new RangeError('maxImpostorPairs must be ≥ 1');
  const rows: LabelledRows = { E, n, k, labels };
  const counts = pairCounts(labels, n);
  const N = Math.min(counts.impostors, maxImpostors);
  const impostors = impostorStream(rows, distance, { total: counts.impostors, count: N, seed: opts.seed ?? 0 });

  const genuine = new Float64Array(counts.genuine);
  let g = 0;
  genuineStream(
    rows,
    distance,
  )((buf, len) => {
    genuine.set(buf.subarray(0, len), g);
    g += len;
  });
  genuine.sort();
  if (g > 0 && Number.isNaN(genuine[g - 1])) throw new RangeError('verification: a pair distance is NaN');

  const base = {
    genuineCount: counts.genuine,
    impostorCount: N,
    impostorTotal: counts.impostors,
    impostorSampled: N < counts.impostors,
  };
  const missing =
    counts.genuine === 0 && N === 0
      ? 'no genuine and no impostor pairs'
      : counts.genuine === 0
        ? 'no genuine pairs (no label has two samples)'
        : N === 0
          ? 'no impostor pairs (fewer than two labels)'
          : null;
  if (missing) {
    return {
      ...base,
      tarAtFar: fars.map((far) => ({ far, tar: null, threshold: null, reason: missing })),
      eer: null,
      eerThreshold: null,
      auc: null,
      reason: missing,
      curve: null,
      impostorPasses: 0,
    };
  }

  const stairs = createStaircase(genuine);
  impostors((buf, len) => addImpostors(stairs, buf, len));
  finishStaircase(stairs);
  return { ...base, ...fromStaircase(stairs, impostors, fars, opts) };
}

function fromStaircase(
  s: Staircase,
  impostors: ReturnType<typeof impostorStream>,
  fars: readonly number[],
  opts: VerificationOptions,
) {
  const N = s.impostors;
  const G = s.genuine;
  // the ranks whose impostor values the thresholds need: m+1 for each FAR (m = impostors allowed)
  const ranks: number[] = [];
  const plans = fars.map((far) => {
    const needed = impostorsNeeded(far);
    if (N < needed) return { far, m: -1, reason: `needs at least ${needed} impostor pairs, has ${N}` };
    const m = maxCountAtRate(far, N);
    ranks.push(m + 1);
    return { far, m, reason: null };
  });
  const eer = equalErrorRate(s);
  if (eer.rank !== null) ranks.push(eer.rank);
  const unique = [...new Set(ranks)];
  const sel = selectRanks(impostors, N, s.min, s.max, unique, opts.select ?? DEFAULT_SELECT);
  const at = new Map(unique.map((r, i) => [r, sel.values[i]]));

  const tarAtFar: TarAtFar[] = plans.map(({ far, m, reason }) => {
    if (reason) return { far, tar: null, threshold: null, reason };
    // accepted: every distance below v, the (m+1)-th smallest impostor; threshold = largest such distance
    const v = at.get(m + 1)!;
    const gen = largestGenuineBelow(s, v.value);
    const below = [gen, v.below].filter((x): x is number => x !== null);
    return {
      far,
      tar: genuineAcceptedWithin(s, m) / G,
      threshold: below.length > 0 ? Math.max(...below) : null,
      reason: null,
    };
  });
  return {
    tarAtFar,
    eer: eer.eer,
    eerThreshold: eer.rank !== null ? at.get(eer.rank)!.value : eer.threshold,
    auc: rocAuc(s),
    reason: null,
    curve: opts.curvePoints ? tarCurve(s, opts.curvePoints) : null,
    impostorPasses: 1 + sel.passes,
  };
}

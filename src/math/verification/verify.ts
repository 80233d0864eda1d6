// Verification metrics of labelled embeddings: TAR at fixed FARs with their thresholds, EER, ROC
// AUC, over all genuine pairs and all (or a seeded sample of) impostor pairs. Scores are
// distances: lower = same identity, a pair is accepted when distance ≤ threshold (roc.ts).
import { euclideanDistance, type Distance } from '../distance.js';
import type { DataArray } from '../types.js';
import { crossGenuineStream, crossImpostorStream, crossPairCounts } from './cross-pairs.js';
import {
  genuineStream,
  impostorStream,
  pairCounts,
  type LabelledRows,
  type PairPlan,
  type PairStream,
} from './pairs.js';
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

/** Impostor pairs used before sampling: 10 impostors at FAR = 1e-6 (they are streamed, never held). */
export const DEFAULT_MAX_IMPOSTOR_PAIRS = 10_000_000;

/** Genuine pairs used before sampling: TAR resolved to 1e-6; at most 56 MB while sorted (8 + 48 B each). */
export const DEFAULT_MAX_GENUINE_PAIRS = 1_000_000;

export interface VerificationOptions {
  /** default euclidean */
  distance?: Distance;
  /** FARs to report, each in (0, 1); default DEFAULT_FARS */
  fars?: readonly number[];
  /** above this many impostor pairs, a seeded uniform sample of exactly this many */
  maxImpostorPairs?: number;
  /** above this many genuine pairs, a seeded uniform sample of exactly this many */
  maxGenuinePairs?: number;
  /** seed of the samples: createRng(seed) draws the impostors', createRng(seed + 1) the genuine */
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
  /** genuine pairs used (the sample size when sampled) */
  genuineCount: number;
  /** genuine pairs in the data */
  genuineTotal: number;
  genuineSampled: boolean;
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
 * Verification metrics of the n rows of E (n×k) with their labels (docs/decisions/0027).
 * Memory (bytes): 8·G for the sorted genuine distances while the 48·K + 8 of the staircase are
 * built from them (K ≤ G distinct genuine values, G ≤ maxGenuinePairs), then the staircase only;
 * 8·65,536 for the pair chunk; per threshold still being selected 24·bins (narrowing) or
 * ≤ 8·budget (kept) — nothing proportional to the impostor count. Work: Σc²/2 pair visits (c
 * samples a label) and G·k + G·log G for genuine pairs; per impostor pass n(n−1)/2 label tests
 * plus N·k (N impostors used), the first pass adding N·log K; the selection takes ≤ 1 pass when
 * N ≤ budget, typically 2–3 otherwise.
 */
export function verificationMetrics(
  E: DataArray,
  n: number,
  k: number,
  labels: Int32Array,
  opts: VerificationOptions = {},
): VerificationMetrics {
  if (labels.length < n || E.length < n * k) throw new RangeError('verificationMetrics: E or labels too short');
  const distance = opts.distance ?? euclideanDistance;
  const rows: LabelledRows = { E, n, k, labels };
  return verifyPairs(
    {
      counts: pairCounts(labels, n),
      genuine: (plan) => genuineStream(rows, distance, plan),
      impostors: (plan) => impostorStream(rows, distance, plan),
      noGenuine: 'no genuine pairs (no label has two samples)',
      noImpostors: 'no impostor pairs (fewer than two labels)',
    },
    opts,
  );
}

/**
 * Verification of probes against an enrolled set (a gallery), stacked in E: rows 0..g−1 enrolled
 * (label −1: an item without a label), g..n−1 probes; the pairs are probe × enrolled only
 * (cross-pairs.ts). Memory and work as verificationMetrics with (n − g)·g pairs in place of n(n−1)/2.
 */
export function crossVerificationMetrics(
  E: DataArray,
  n: number,
  k: number,
  labels: Int32Array,
  g: number,
  opts: VerificationOptions = {},
): VerificationMetrics {
  if (labels.length < n || E.length < n * k) throw new RangeError('crossVerificationMetrics: E or labels too short');
  if (!(Number.isInteger(g) && g >= 0 && g <= n)) throw new RangeError(`enrolled rows must be in 0..${n} (got ${g})`);
  const distance = opts.distance ?? euclideanDistance;
  const rows: LabelledRows = { E, n, k, labels };
  return verifyPairs(
    {
      counts: crossPairCounts(labels, n, g),
      genuine: (plan) => crossGenuineStream(rows, g, distance, plan),
      impostors: (plan) => crossImpostorStream(rows, g, distance, plan),
      noGenuine: "no genuine pairs (no probe's label is enrolled)",
      noImpostors: 'no impostor pairs (every enrolled item has the label of every probe)',
    },
    opts,
  );
}

/** The pairs a verification runs over: their counts, seeded streams, and why a kind may be missing. */
interface PairSource {
  counts: { genuine: number; impostors: number };
  genuine: (plan: PairPlan) => PairStream;
  impostors: (plan: PairPlan) => PairStream;
  noGenuine: string;
  noImpostors: string;
}

function sampleSizes(opts: VerificationOptions): { maxImpostors: number; maxGenuine: number } {
  const maxImpostors = opts.maxImpostorPairs ?? DEFAULT_MAX_IMPOSTOR_PAIRS;
  const maxGenuine = opts.maxGenuinePairs ?? DEFAULT_MAX_GENUINE_PAIRS;
  for (const [name, v] of [
    ['maxImpostorPairs', maxImpostors],
    ['maxGenuinePairs', maxGenuine],
  ] as const)
    if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`${name} must be an integer ≥ 1 (got ${v})`);
  return { maxImpostors, maxGenuine };
}

/** Checks the options, draws the pairs and scores them: the part both kinds of verification share. */
function verifyPairs(src: PairSource, opts: VerificationOptions): VerificationMetrics {
  const fars = opts.fars ?? DEFAULT_FARS;
  checkFars(fars);
  const { maxImpostors, maxGenuine } = sampleSizes(opts);
  const { counts } = src;
  const seed = opts.seed ?? 0;
  const N = Math.min(counts.impostors, maxImpostors);
  const G = Math.min(counts.genuine, maxGenuine);
  const impostors = src.impostors({ total: counts.impostors, count: N, seed });
  const genuine = src.genuine({ total: counts.genuine, count: G, seed: seed + 1 });

  const base = {
    genuineCount: G,
    genuineTotal: counts.genuine,
    genuineSampled: G < counts.genuine,
    impostorCount: N,
    impostorTotal: counts.impostors,
    impostorSampled: N < counts.impostors,
  };
  const missing =
    G === 0 && N === 0
      ? 'no genuine and no impostor pairs'
      : G === 0
        ? src.noGenuine
        : N === 0
          ? src.noImpostors
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

  // the sorted genuine distances live only until the staircase holds their distinct values
  const stairs = createStaircase(sortedDistances(genuine, G));
  impostors((buf, len) => addImpostors(stairs, buf, len));
  finishStaircase(stairs);
  return { ...base, ...fromStaircase(stairs, impostors, fars, opts) };
}

function sortedDistances(stream: PairStream, count: number): Float64Array {
  const out = new Float64Array(count);
  let at = 0;
  stream((buf, len) => {
    out.set(buf.subarray(0, len), at);
    at += len;
  });
  out.sort();
  if (count > 0 && Number.isNaN(out[count - 1])) throw new RangeError('verification: a pair distance is NaN');
  return out;
}

function fromStaircase(s: Staircase, impostors: PairStream, fars: readonly number[], opts: VerificationOptions) {
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

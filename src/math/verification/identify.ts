// Identification on a gallery/probe split (split.ts): closed-set CMC for probes whose label is in
// the gallery, and open-set detection-and-identification rate (DIR) at a false-positive
// identification rate (FPIR, "FAR") measured on probes whose label is not.
import { euclideanDistance, type Distance } from '../distance.js';
import type { DataArray } from '../types.js';
import { maxCountAtRate } from './roc.js';
import { gallerySplit, type GallerySplit } from './split.js';
import { impostorsNeeded } from './verify.js';

export interface IdentificationOptions {
  distance?: Distance;
  seed?: number;
  /** fraction of labels held out of the gallery as unknown (open set); default 0.2 */
  unknownFraction?: number;
  /** CMC ranks; default 1, 5, 10 */
  ranks?: readonly number[];
  /** FPIRs for the open-set DIR; default 1e-1, 1e-2 */
  fars?: readonly number[];
  /** why cmc is null when no probe is known; default the seeded split's reason */
  noKnownReason?: string;
}

export interface OpenSetPoint {
  far: number;
  /** known probes whose nearest gallery sample has their label at distance ≤ threshold */
  dir: number | null;
  threshold: number | null;
  reason: string | null;
}

export interface IdentificationMetrics {
  galleryCount: number;
  knownProbeCount: number;
  unknownProbeCount: number;
  unknownLabels: number[];
  /** rate of known probes whose gallery sample is within the first `rank`; null without known probes */
  cmc: { rank: number; rate: number | null }[];
  openSet: OpenSetPoint[];
  reason: string | null;
}

interface ProbeResult {
  /** 1-based rank of the probe's own label (known probes), ties broken by gallery sample index */
  rank: number;
  /** distance to the nearest gallery sample and whether that sample has the probe's label */
  top: number;
  topCorrect: boolean;
}

/**
 * Ranks the gallery for one probe: gallery samples ordered by (distance, sample index) — a stable
 * argsort over the ascending gallery. Work |gallery|·k, memory none beyond the counters.
 */
function scoreProbe(
  E: DataArray,
  k: number,
  labels: Int32Array,
  gallery: Int32Array,
  p: number,
  distance: Distance,
): ProbeResult {
  const y = labels[p];
  let own = Infinity;
  let ownIdx = -1;
  let top = Infinity;
  let topIdx = -1;
  const d = new Float64Array(gallery.length);
  for (let g = 0; g < gallery.length; g++) {
    const gi = gallery[g];
    d[g] = distance.pair(E, p * k, E, gi * k, k);
    if (d[g] < top) {
      top = d[g];
      topIdx = gi;
    }
    // the nearest gallery sample of the probe's label (a gallery may hold several of a label)
    if (labels[gi] === y && d[g] < own) {
      own = d[g];
      ownIdx = gi;
    }
  }
  let rank = 1;
  if (ownIdx >= 0)
    for (let g = 0; g < gallery.length; g++) if (d[g] < own || (d[g] === own && gallery[g] < ownIdx)) rank++;
  return { rank, top, topCorrect: topIdx >= 0 && labels[topIdx] === y };
}

/**
 * CMC and open-set DIR. Open set, for each FPIR f (with U unknown probes, each scored by its
 * nearest gallery distance): m = the largest count with m/U ≤ f, v = the (m+1)-th smallest
 * unknown score; a probe is accepted when its nearest distance is < v, i.e. ≤ the threshold =
 * the largest probe score (known or unknown) below v (null: none can be). DIR = known probes
 * whose nearest gallery sample has their label and is accepted / known probes. Reported only when
 * U ≥ ⌈1/f⌉. Work (known + unknown probes)·|gallery|·k; memory 8·|gallery| + 8·probes.
 */
export function identificationMetrics(
  E: DataArray,
  n: number,
  k: number,
  labels: Int32Array,
  opts: IdentificationOptions = {},
): IdentificationMetrics {
  if (labels.length < n || E.length < n * k) throw new RangeError('identificationMetrics: E or labels too short');
  const split: GallerySplit = gallerySplit(labels, n, {
    seed: opts.seed,
    unknownFraction: opts.unknownFraction ?? 0.2,
  });
  return identifySplit(E, k, labels, split, opts);
}

/**
 * CMC and open-set DIR of a given split of the rows of E (n×k): a gallery and its probes. For a
 * gallery and a probe set of their own, stack their rows and use gallerySplitOf.
 */
export function identifySplit(
  E: DataArray,
  k: number,
  labels: Int32Array,
  split: GallerySplit,
  opts: IdentificationOptions = {},
): IdentificationMetrics {
  const distance = opts.distance ?? euclideanDistance;
  const ranks = opts.ranks ?? [1, 5, 10];
  const fars = opts.fars ?? [1e-1, 1e-2];
  const known = Array.from(split.knownProbes, (p) => scoreProbe(E, k, labels, split.gallery, p, distance));
  const unknown = Float64Array.from(
    split.unknownProbes,
    (p) => scoreProbe(E, k, labels, split.gallery, p, distance).top,
  ).sort();
  const noKnown =
    known.length === 0 ? (opts.noKnownReason ?? 'no known probes (no gallery label has a second sample)') : null;
  const cmc = ranks.map((rank) => ({
    rank,
    rate: noKnown ? null : known.filter((r) => r.rank <= rank).length / known.length,
  }));
  const openSet = fars.map((far): OpenSetPoint => {
    if (!(far > 0 && far < 1)) throw new RangeError(`FAR must be in (0, 1) (got ${far})`);
    const reason =
      unknown.length === 0
        ? 'no unknown probes (every label is in the gallery)'
        : unknown.length < impostorsNeeded(far)
          ? `needs at least ${impostorsNeeded(far)} unknown probes, has ${unknown.length}`
          : noKnown;
    if (reason) return { far, dir: null, threshold: null, reason };
    const v = unknown[maxCountAtRate(far, unknown.length)];
    let threshold = -Infinity;
    let hits = 0;
    for (const r of known) {
      if (r.top < v) {
        threshold = Math.max(threshold, r.top);
        if (r.topCorrect) hits++;
      }
    }
    for (const u of unknown) if (u < v) threshold = Math.max(threshold, u);
    return { far, dir: hits / known.length, threshold: threshold === -Infinity ? null : threshold, reason: null };
  });
  return {
    galleryCount: split.gallery.length,
    knownProbeCount: known.length,
    unknownProbeCount: unknown.length,
    unknownLabels: split.unknownLabels,
    cmc,
    openSet,
    reason: noKnown,
  };
}

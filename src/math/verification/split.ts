// The gallery/probe split of identification, deterministic for a seed. One generator,
// createRng(seed), drawn in this order:
//   1. the distinct labels, ascending, are shuffled (Fisher–Yates from the last position i down to
//      1, swapping i with rng.int(i + 1)); the first ⌊unknownFraction·L⌋ (at most L − 1) labels of
//      the shuffle are "unknown": all their samples are unknown probes (open set).
//   2. for each other label, ascending, its sample indices (ascending) are shuffled the same way;
//      the first goes to the gallery, the rest are known probes. A label with one sample is in the
//      gallery only (a distractor for every probe).
import { createRng, type Rng } from '../rng.js';
import { indicesByLabel } from './pairs.js';

export interface GallerySplit {
  /** sample indices, ascending: one per known label */
  gallery: Int32Array;
  /** probes whose label is in the gallery, ascending */
  knownProbes: Int32Array;
  /** probes whose label is not, ascending */
  unknownProbes: Int32Array;
  unknownLabels: number[];
}

function shuffle<T>(a: T[], rng: Rng): T[] {
  for (let i = a.length - 1; i >= 1; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

const ascending = (xs: number[]) => Int32Array.from(xs).sort();

/**
 * The split of a gallery and a probe set stacked as one: rows 0..galleryCount−1 are the gallery
 * (any number of samples a label), the rest probes, known when the gallery holds their label.
 */
export function gallerySplitOf(labels: Int32Array, n: number, galleryCount: number): GallerySplit {
  if (!(Number.isInteger(galleryCount) && galleryCount >= 1 && galleryCount <= n))
    throw new RangeError(`galleryCount must be in 1..${n} (got ${galleryCount})`);
  const inGallery = new Set(labels.subarray(0, galleryCount));
  const known: number[] = [];
  const unknown: number[] = [];
  const unknownLabels = new Set<number>();
  for (let i = galleryCount; i < n; i++) {
    if (inGallery.has(labels[i])) known.push(i);
    else {
      unknown.push(i);
      unknownLabels.add(labels[i]);
    }
  }
  return {
    gallery: Int32Array.from({ length: galleryCount }, (_, i) => i),
    knownProbes: Int32Array.from(known),
    unknownProbes: Int32Array.from(unknown),
    unknownLabels: [...unknownLabels].sort((a, b) => a - b),
  };
}

export function gallerySplit(
  labels: Int32Array,
  n: number,
  opts: { seed?: number; unknownFraction?: number } = {},
): GallerySplit {
  const fraction = opts.unknownFraction ?? 0;
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`unknownFraction must be in [0, 1) (got ${fraction})`);
  const rng = createRng(opts.seed ?? 0);
  const byLabel = indicesByLabel(labels, n);
  const order = shuffle([...byLabel.keys()], rng);
  const unknownCount = Math.max(0, Math.min(order.length - 1, Math.floor(fraction * order.length)));
  const unknown = new Set(order.slice(0, unknownCount));
  const gallery: number[] = [];
  const known: number[] = [];
  const unknownProbes: number[] = [];
  for (const [label, idx] of byLabel) {
    if (unknown.has(label)) {
      unknownProbes.push(...idx);
      continue;
    }
    const s = shuffle([...idx], rng);
    gallery.push(s[0]);
    known.push(...s.slice(1));
  }
  return {
    gallery: ascending(gallery),
    knownProbes: ascending(known),
    unknownProbes: ascending(unknownProbes),
    unknownLabels: [...unknown].sort((a, b) => a - b),
  };
}

// The pairs of a probe set against an enrolled set (a gallery), stacked in one n×k matrix: rows
// 0..g−1 enrolled, g..n−1 probes. A pair is (probe, enrolled item): genuine when their labels are
// equal, impostor otherwise; pairs within either set are not compared. Streamed in chunks like
// pairs.ts, with the same seeded sampling above a stated count.
import type { Distance } from '../distance.js';
import { chunker, indicesByLabel, sampler, type LabelledRows, type PairPlan, type PairStream } from './pairs.js';

/** Label −1 marks an enrolled item without a label: impostor against every probe. */
export const NO_LABEL = -1;

/** Enrolled row indices of each label (ascending), unlabelled items left out. */
function enrolledByLabel(labels: Int32Array, g: number): Map<number, number[]> {
  const by = indicesByLabel(labels, g);
  by.delete(NO_LABEL);
  return by;
}

/** Genuine (same label) and impostor probe × enrolled pairs of rows stacked with `g` enrolled first. */
export function crossPairCounts(labels: Int32Array, n: number, g: number): { genuine: number; impostors: number } {
  const by = enrolledByLabel(labels, g);
  let genuine = 0;
  for (let i = g; i < n; i++) genuine += by.get(labels[i])?.length ?? 0;
  return { genuine, impostors: (n - g) * g - genuine };
}

/** Genuine pairs in the order (probe ascending, then enrolled row ascending). Work per pass: G·k. */
export function crossGenuineStream(rows: LabelledRows, g: number, distance: Distance, plan: PairPlan): PairStream {
  const { E, n, k, labels } = rows;
  const by = enrolledByLabel(labels, g);
  return (sink) => {
    const out = chunker(sink);
    const take = sampler(plan);
    for (let i = g; i < n; i++) {
      const same = by.get(labels[i]);
      if (same) for (const j of same) if (take()) out.push(distance.pair(E, i * k, E, j * k, k));
    }
    out.flush();
  };
}

/**
 * Impostor pairs in the order (probe ascending, then enrolled row ascending). Work per pass:
 * (n − g)·g label tests and k operations per impostor kept.
 */
export function crossImpostorStream(rows: LabelledRows, g: number, distance: Distance, plan: PairPlan): PairStream {
  const { E, n, k, labels } = rows;
  return (sink) => {
    const out = chunker(sink);
    const take = sampler(plan);
    for (let i = g; i < n; i++) {
      const li = labels[i];
      for (let j = 0; j < g; j++) if (labels[j] !== li && take()) out.push(distance.pair(E, i * k, E, j * k, k));
    }
    out.flush();
  };
}

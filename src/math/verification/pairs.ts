// Genuine and impostor pairs of a labelled set, streamed as distance chunks so that no n×n matrix
// and no list of pairs is ever held. Above a stated count each kind is a seeded uniform sample
// without replacement (Knuth's Algorithm S), the same sample on every pass.
import type { Distance } from '../distance.js';
import { labelCounts } from '../metrics.js';
import { createRng } from '../rng.js';
import type { DataArray } from '../types.js';

/** Distances handed to a sink per call: 8·PAIR_CHUNK bytes of buffer, whatever n is. */
export const PAIR_CHUNK = 65536;

/** Receives `len` distances in buf[0..len); buf is reused after the call returns. */
export type ChunkSink = (buf: Float64Array, len: number) => void;

/** Streams every chunk of one pair set; may be called again for another pass over the same pairs. */
export type PairStream = (sink: ChunkSink) => void;

export interface LabelledRows {
  E: DataArray;
  n: number;
  k: number;
  labels: Int32Array;
}

/** Genuine pairs (i < j, same label) and all impostor pairs (i < j, labels differ). */
export function pairCounts(labels: Int32Array, n: number): { genuine: number; impostors: number } {
  const counts = labelCounts(labels.subarray(0, n));
  let genuine = 0;
  for (const c of counts.values()) genuine += (c * (c - 1)) / 2;
  return { genuine, impostors: (n * (n - 1)) / 2 - genuine };
}

/** Sample indices of each label, ascending, labels in ascending order. */
export function indicesByLabel(labels: Int32Array, n: number): Map<number, number[]> {
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byLabel.get(labels[i]);
    if (list) list.push(i);
    else byLabel.set(labels[i], [i]);
  }
  return new Map([...byLabel.entries()].sort((a, b) => a[0] - b[0]));
}

/** How many of `total` pairs a stream yields: all (count = total) or a seeded sample of `count`. */
export interface PairPlan {
  total: number;
  count: number;
  seed: number;
}

/**
 * Knuth's Algorithm S (TAOCP 2, 3.4.2): offered the pairs one by one, keeps the t-th (0-based)
 * when (total − t)·u < count − kept, u = the next uniform of createRng(seed) — exactly `count`,
 * uniform without replacement. A fresh sampler per pass gives every pass the same sample.
 */
export function sampler(plan: PairPlan): () => boolean {
  if (plan.count >= plan.total) return () => true;
  const rng = createRng(plan.seed);
  let seen = 0;
  let kept = 0;
  return () => {
    const keep = (plan.total - seen) * rng.uniform() < plan.count - kept;
    seen++;
    if (keep) kept++;
    return keep;
  };
}

/** Collects distances into PAIR_CHUNK-sized chunks for a sink. */
export function chunker(sink: ChunkSink) {
  const buf = new Float64Array(PAIR_CHUNK);
  let len = 0;
  return {
    push(d: number) {
      buf[len++] = d;
      if (len === PAIR_CHUNK) {
        sink(buf, len);
        len = 0;
      }
    },
    flush() {
      if (len > 0) sink(buf, len);
      len = 0;
    },
  };
}

/**
 * Genuine pairs in the order (label ascending, then i < j in sample index order), all or a
 * sample (`plan`). Work per pass: G·k (one uniform per genuine pair when sampling).
 */
export function genuineStream(rows: LabelledRows, distance: Distance, plan: PairPlan): PairStream {
  const { E, n, k, labels } = rows;
  const groups = [...indicesByLabel(labels, n).values()].filter((g) => g.length > 1);
  return (sink) => {
    const out = chunker(sink);
    const take = sampler(plan);
    for (const g of groups) {
      for (let a = 0; a < g.length; a++) {
        for (let b = a + 1; b < g.length; b++) if (take()) out.push(distance.pair(E, g[a] * k, E, g[b] * k, k));
      }
    }
    out.flush();
  };
}

/**
 * Impostor pairs in the order (i ascending, then j > i ascending), all or a sample (`plan`).
 * Work per pass: n(n−1)/2 label tests, one uniform per impostor pair when sampling, and k
 * operations per impostor kept.
 */
export function impostorStream(rows: LabelledRows, distance: Distance, plan: PairPlan): PairStream {
  const { E, n, k, labels } = rows;
  return (sink) => {
    const out = chunker(sink);
    const take = sampler(plan);
    for (let i = 0; i < n; i++) {
      const li = labels[i];
      for (let j = i + 1; j < n; j++) if (labels[j] !== li && take()) out.push(distance.pair(E, i * k, E, j * k, k));
    }
    out.flush();
  };
}

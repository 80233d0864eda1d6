// What a P×K batch can really hold on the training rows: reported, since the sampler takes what
// exists (sampler.ts) and a request it cannot honour must never change silently.
import { groupByLabel } from './sampler.js';

/**
 * Warnings when the training rows cannot fill batchSize = P·K: fewer training labels than P (a
 * validation split on labels removes some), or a K above the samples of most training labels.
 * Empty when every batch is full.
 */
export function batchShapeWarnings(
  labels: Int32Array,
  train: Int32Array,
  batchSize: number,
  K: number,
  split: 'labels' | 'samples' | 'none',
): string[] {
  const P = Math.floor(batchSize / K);
  const g = groupByLabel(labels, train);
  const L = g.labels.length;
  const counts: number[] = [];
  for (let i = 0; i < L; i++) counts.push(g.offsets[i + 1] - g.offsets[i]);
  counts.sort((a, b) => b - a);
  let most = 0;
  for (let i = 0; i < Math.min(P, L); i++) most += Math.min(K, counts[i]);
  const out: string[] = [];
  if (L < P) {
    out.push(
      `batchSize ${batchSize} asks for ${P} labels of ${K} samples, but training has ${L} labels` +
        `${split === 'labels' ? ' (validation holds out whole labels)' : ''}: a batch holds at most ${most} samples`,
    );
  }
  const short = counts.filter((c) => c < K).length;
  if (2 * short > L) {
    const median = counts[Math.floor(L / 2)];
    out.push(
      `samplesPerLabel ${K} exceeds the training samples of ${short} of ${L} labels (median ${median}): ` +
        `those labels give all they have, so a batch holds at most ${most} samples`,
    );
  }
  return out;
}

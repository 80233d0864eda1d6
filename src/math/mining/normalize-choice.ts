// `normalize: 'auto'`: whether the embeddings are unit-normalised, decided by the start's evidence.
//
// Unit norm discards one thing, the length of Wx. On face descriptors that length is nuisance (image
// quality, contrast) and dropping it sharpens the neighbourhoods; on features where it carries the
// class (ink per digit, counts) dropping it costs nearest neighbours that no training wins back
// (docs/decisions/0060). The start map W₀ (PCA, identity or uniform) is label-free, so its leave-one-out
// precision@1 on the training samples is a fair witness for classes it never saw: each way of
// embedding is scored on the same seeded rows, and plain embeddings are chosen only when they find
// strictly more true nearest neighbours. A tie keeps unit norm, the safer choice with an absolute
// margin. Cost: one product n·d·k and two leave-one-out passes n²·k, on the start gate's rows
// (n²·(d + k) ≤ GATE_BUDGET), so at most twice the gate's own. Pure; deterministic for its rows.
import { embed } from '../embed.js';
import { normalizeRow } from '../losses.js';
import { labelCounts } from '../metrics.js';
import type { DataArray } from '../types.js';
import { chancePrecision, nearestNeighbourHits } from './start-gate.js';

export interface NormalizeChoice {
  normalize: boolean;
  /** leave-one-out precision@1 of the start's plain embeddings Wx on the scored rows */
  plain: number;
  /** the same for unit-norm embeddings Wx/‖Wx‖ */
  unit: number;
  /** queries scored (rows with another row of their label) */
  queries: number;
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
  if (queries === 0) return { normalize: true, plain: 0, unit: 0, queries };
  const E = new Float64Array(n * k);
  embed(W0, k, d, X, n, false, E);
  const plain = nearestNeighbourHits(E, n, k, labels, counts);
  for (let i = 0; i < n; i++) normalizeRow(E, i * k, k); // as embed's unit norm, without a second product
  const unit = nearestNeighbourHits(E, n, k, labels, counts);
  return { normalize: !(plain > unit), plain: plain / queries, unit: unit / queries, queries };
}

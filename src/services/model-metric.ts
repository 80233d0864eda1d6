// The distance a model's answers are in when the request names none: a gallery search's and the
// thresholds of its evaluation. One owner, so that a threshold read off POST /models/:id/evaluate
// passes as a search's maxDistance as it is (docs/decisions/0031-galleries.md, "Default metric").
import type { Metric } from '../math/distance.js';
import type { EvaluateReply } from '../schemas/models.js';
import type { LoadedModel } from './models.js';

/** The model's training distance when it has one (mined samples), else euclidean, as /distances. */
export function defaultMetric(m: LoadedModel): Extract<Metric, 'euclidean' | 'squared_euclidean'> {
  const distance = (m.record.trainingParams as { distance?: string } | null)?.distance;
  return distance === 'squared' ? 'squared_euclidean' : 'euclidean';
}

/**
 * Puts an evaluation's thresholds (computed on euclidean distances) in the model's default metric.
 * Squaring is monotone, so the ROC, the EER and the identification rates do not change.
 */
export function thresholdsInMetric(
  figures: Pick<EvaluateReply, 'verification' | 'identification'>,
  m: LoadedModel,
): void {
  const metric = defaultMetric(m);
  const v = figures.verification;
  if (v) v.distance = metric;
  if (metric === 'euclidean') return;
  const square = (t: number | null) => (t === null ? null : t * t);
  if (v) {
    for (const p of v.tarAtFar) p.threshold = square(p.threshold);
    v.eerThreshold = square(v.eerThreshold);
  }
  for (const p of figures.identification?.openSet ?? []) p.threshold = square(p.threshold);
}

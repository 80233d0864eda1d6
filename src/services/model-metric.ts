// The distance a model's answers are in when the request names none: a gallery search's and the
// pairs of its evaluation. One owner, so that a threshold read off POST /models/:id/evaluate
// passes as a search's maxDistance as it is (docs/decisions/0031-galleries.md, "Default metric").
import type { EvaluateMetric } from '../jobs/messages.js';
import type { LoadedModel } from './models.js';

/** The model's training distance when it has one (mined samples), else euclidean, as /distances. */
export function defaultMetric(m: LoadedModel): EvaluateMetric {
  const distance = (m.record.trainingParams as { distance?: string } | null)?.distance;
  return distance === 'squared' ? 'squared_euclidean' : 'euclidean';
}

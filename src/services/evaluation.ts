// Model evaluation on a dataset's triplets and labelled samples, off the main thread (datasets can
// be large): the data and the weights are read here and handed to a worker.
import type { ComputeSettings } from '../compute/index.js';
import { labelIds } from '../compute/training-data.js';
import { AppError, badRequest, unprocessable } from '../errors.js';
import type { EvaluateResult } from '../jobs/messages.js';
import { runTask } from '../jobs/worker-pool.js';
import { DEFAULT_MARGIN } from '../math/index.js';
import type { Store } from '../store/types.js';
import type { DatasetService } from './datasets.js';
import type { ModelService } from './models.js';

export class EvaluationService {
  constructor(
    private readonly store: Store,
    private readonly models: ModelService,
    private readonly datasets: DatasetService,
    private readonly compute: ComputeSettings,
  ) {}

  async evaluate(modelId: string, datasetId: string, margin: number | undefined): Promise<EvaluateResult> {
    // 1e400 in the JSON text is Infinity, which the schema's minimum lets through.
    if (margin !== undefined && !Number.isFinite(margin))
      throw badRequest('NON_FINITE_VALUE', `body/margin must be a finite number (got ${margin})`);
    const model = await this.models.load(modelId);
    const ds = await this.datasets.get(datasetId);
    if (ds.dimension !== model.d) {
      throw badRequest(
        'DIMENSION_MISMATCH',
        `dataset ${ds.id} has dimension ${ds.dimension}, model ${model.record.id} expects ${model.d}`,
      );
    }
    if (ds.tripletCount === 0 && ds.sampleCount < 2) {
      throw unprocessable('NO_TRIPLETS', `dataset ${ds.id} has no triplets and too few samples to evaluate on`);
    }
    const triplets = await this.store.readTriplets(ds.id);
    const stored = await this.store.readSamples(ds.id);
    const samples = {
      count: stored.count,
      dimension: stored.dimension,
      data: stored.data,
      labels: labelIds(stored.labels),
    };
    // The margin the model was trained with, unless the request names one.
    const trained = model.record.trainingParams?.margin ?? DEFAULT_MARGIN;
    try {
      return await runTask(
        {
          kind: 'evaluate',
          // a copy: the cached weights stay with the model
          W: model.W.slice(),
          k: model.k,
          normalize: model.record.normalize,
          margin: margin ?? trained,
          triplets,
          samples,
          compute: this.compute,
        },
        (m) => (m.type === 'evaluated' ? m.result : undefined),
      );
    } catch (e) {
      throw new AppError(500, 'INTERNAL_ERROR', `evaluation failed: ${(e as Error).message}`);
    }
  }
}

// Model evaluation on a dataset's triplets, off the main thread (datasets can be large).
import { runTask } from '../jobs/worker-pool.js';
import type { EvaluateResult } from '../jobs/messages.js';
import { AppError, badRequest, unprocessable } from '../errors.js';
import type { Store } from '../store/types.js';
import type { DatasetService } from './datasets.js';
import type { ModelService } from './models.js';

export class EvaluationService {
  constructor(
    private readonly store: Store,
    private readonly models: ModelService,
    private readonly datasets: DatasetService,
  ) {}

  async evaluate(modelId: string, datasetId: string, margin: number | undefined): Promise<EvaluateResult> {
    // 1e400 in the JSON text is Infinity, which the schema's minimum lets through.
    if (margin !== undefined && !Number.isFinite(margin)) throw badRequest('NON_FINITE_VALUE', `body/margin must be a finite number (got ${margin})`);
    const model = this.models.get(modelId);
    const ds = this.datasets.get(datasetId);
    if (ds.dimension !== model.inputDimension) {
      throw badRequest('DIMENSION_MISMATCH', `dataset ${ds.id} has dimension ${ds.dimension}, model ${model.id} expects ${model.inputDimension}`);
    }
    if (ds.tripletCount === 0 && ds.sampleCount < 2) {
      throw unprocessable('NO_TRIPLETS', `dataset ${ds.id} has no triplets and too few samples to evaluate on`);
    }
    const trainedMargin = typeof model.metrics.margin === 'number' ? model.metrics.margin : 0.2;
    try {
      return await runTask(
        { kind: 'evaluate', dbPath: this.store.path, datasetId: ds.id, modelId: model.id, margin: margin ?? trainedMargin },
        (m) => (m.type === 'evaluated' ? m.result : undefined),
      );
    } catch (e) {
      throw new AppError(500, 'INTERNAL_ERROR', `evaluation failed: ${(e as Error).message}`);
    }
  }
}

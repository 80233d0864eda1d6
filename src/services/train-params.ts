// POST /train body + the dataset → the full, defaulted parameters stored with the job: the one
// mapper from a request to a job. The options and their defaults are src/domain/training.ts's.
import {
  JOB_MODEL_DEFAULTS,
  JobModelOptions,
  optionNames,
  TRAINING_DEFAULTS,
  type TrainingParams,
  type TrainingSource,
} from '../domain/training.js';
import { AppError } from '../errors.js';
import type { TrainBody } from '../schemas/jobs.js';
import type { DatasetRecord } from '../store/types.js';

/**
 * Samples are used when the dataset has them and the request does not ask for `mining: "none"`,
 * or when the dataset has samples and no triplets at all.
 */
export function usesSamples(body: TrainBody, ds: DatasetRecord): boolean {
  if (ds.sampleCount === 0) return false;
  return body.mining !== 'none' || ds.tripletCount === 0;
}

function unsupported(message: string): AppError {
  return new AppError(400, 'VALIDATION_ERROR', message);
}

/** Options of the body that a job of this kind would not use: refused, never silently dropped. */
function checkApplicable(body: TrainBody, source: TrainingSource): void {
  const own = new Set(optionNames(source));
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined || own.has(key) || key === 'datasetId' || key === 'triplets' || key in JobModelOptions)
      continue;
    throw unsupported(
      source === 'triplets'
        ? `body/${key} applies to training on labelled samples; this dataset trains on its triplets`
        : `body/${key} applies to the lbfgs and cg optimisers; mined training uses adam`,
    );
  }
  if (source === 'triplets') {
    if (body.optimizer === 'adam')
      throw unsupported('body/optimizer: adam trains on labelled samples with mining; for triplets use lbfgs or cg');
    if (body.mining !== undefined && body.mining !== 'none') {
      throw new AppError(
        422,
        'NO_SAMPLES',
        `mining "${body.mining}" needs labelled samples; upload them with POST /datasets/:id/samples`,
      );
    }
  } else if (body.optimizer !== undefined && body.optimizer !== 'adam') {
    throw unsupported(
      `body/optimizer: training on labelled samples mines a new batch every step and uses adam, not ${body.optimizer}`,
    );
  }
}

export function resolveParams(body: TrainBody, ds: DatasetRecord): TrainingParams {
  const source: TrainingSource = usesSamples(body, ds) ? 'samples' : 'triplets';
  checkApplicable(body, source);
  const defaults = TRAINING_DEFAULTS[source] as Record<string, unknown>;
  const given = body as Record<string, unknown>;
  const params: Record<string, unknown> = {};
  for (const key of optionNames(source)) params[key] = given[key] ?? defaults[key];
  params.source = source;
  const p = params as TrainingParams;
  if (p.source === 'samples' && p.samplesPerLabel > p.batchSize) {
    throw unsupported(`body/samplesPerLabel (${p.samplesPerLabel}) cannot exceed batchSize (${p.batchSize})`);
  }
  if (p.source === 'samples' && p.tripletWeight === 0 && p.softNeighbourWeight === 0) {
    throw unsupported('body/tripletWeight and body/softNeighbourWeight cannot both be 0: the batch would have no loss');
  }
  return p;
}

/** The job's model options (its model's name, whether to promote it), beside its training parameters. */
export function resolveModelOptions(body: TrainBody): JobModelOptions {
  return {
    modelName: body.modelName ?? JOB_MODEL_DEFAULTS.modelName,
    promote: body.promote ?? JOB_MODEL_DEFAULTS.promote,
  };
}

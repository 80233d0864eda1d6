// POST /train body + the dataset → the full, defaulted parameters stored with the job: the one
// mapper from a request to a job. The options and their defaults are src/domain/training.ts's.
import {
  JOB_MODEL_DEFAULTS,
  JobModelOptions,
  optionNames,
  TRAINING_DEFAULTS,
  type MinedTrainingParams,
  type TrainingParams,
  type TrainingSource,
} from '../domain/training.js';
import { minedTrainParams } from '../compute/mined-params.js';
import { batchExceedsData } from '../domain/batch-capacity.js';
import { AppError, unprocessable } from '../errors.js';
import type { TrainBody } from '../schemas/jobs.js';
import type { DatasetRecord } from '../store/types.js';
import { checkMinedParams } from '../math/mining/checks.js';

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
    if (body.normalize === 'auto')
      throw unsupported('body/normalize: auto chooses from labelled samples; training on triplets takes true or false');
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
  if (p.source === 'samples') fitBatch(p, body.batchSize !== undefined, ds);
  if (p.source === 'samples') checkAsTrainerWould(p);
  return p;
}

/**
 * The trainer's own checks of its options, run before the job is queued: the body's schema is
 * shared by both kinds of training (validationFraction up to 0.9 for triplets), so a mined job
 * could pass it and then fail in the worker (validationFraction 0.6, batchSize 8 with
 * samplesPerLabel 8). 400 with the trainer's words, which begin with the option's name.
 */
function checkAsTrainerWould(p: MinedTrainingParams): void {
  try {
    checkMinedParams(minedTrainParams(p));
  } catch (e) {
    if (e instanceof RangeError) throw unsupported(`body/${e.message}`);
    throw e;
  }
}

/**
 * A batch is P = batchSize / K labels of K samples. A requested batchSize must be a multiple of K and
 * within what the dataset can fill (else 400 / 422: never silently trained smaller). A defaulted one
 * is fitted — down to a multiple of K and to labels × K — so that the job records the batch it trains.
 */
function fitBatch(p: MinedTrainingParams, requested: boolean, ds: DatasetRecord): void {
  // Before any batch arithmetic: with one label the defaulted batch is K, which the trainer refuses
  // as "batchSize must be ≥ 2·samplesPerLabel", naming a field the request may not have sent.
  if (ds.sampleCount > 0 && ds.labelCount < 2) {
    throw unprocessable(
      'NO_TRIPLETS',
      `dataset ${ds.id} has samples of ${ds.labelCount} label only: a mined triplet needs a negative of another ` +
        'label; upload samples of at least two labels',
    );
  }
  const K = p.samplesPerLabel;
  if (K > p.batchSize) throw unsupported(`body/samplesPerLabel (${K}) cannot exceed batchSize (${p.batchSize})`);
  if (!requested) {
    const fitted = Math.floor(p.batchSize / K) * K;
    p.batchSize = ds.labelCount > 0 ? Math.min(fitted, ds.labelCount * K) : fitted;
    return;
  }
  if (p.batchSize % K !== 0) {
    const lo = Math.floor(p.batchSize / K) * K;
    throw unsupported(
      `body/batchSize (${p.batchSize}) must be a multiple of samplesPerLabel (${K}): a batch is P labels × K samples ` +
        `(${lo} or ${lo + K} would do)`,
    );
  }
  const why = ds.sampleCount > 0 ? batchExceedsData(p, ds) : null;
  if (why) throw unprocessable('BATCH_EXCEEDS_DATA', why);
}

/** The job's model options (its model's name, whether to promote it), beside its training parameters. */
export function resolveModelOptions(body: TrainBody): JobModelOptions {
  return {
    modelName: body.modelName ?? JOB_MODEL_DEFAULTS.modelName,
    promote: body.promote ?? JOB_MODEL_DEFAULTS.promote,
  };
}

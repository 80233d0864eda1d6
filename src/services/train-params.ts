// POST /train body + the dataset → the full, defaulted parameters stored with the job.
import { AppError } from '../errors.js';
import type { MinedJobParams, TrainJobParams, TripletJobParams } from '../jobs/messages.js';
import { DEFAULT_MINED_PARAMS, DEFAULT_TRAIN_PARAMS } from '../math/index.js';
import type { TrainBody } from '../schemas/jobs.js';
import type { DatasetRecord } from '../store/types.js';

/** Options that only mean something when mining from samples. */
const MINING_ONLY = ['loss', 'distance', 'batchSize', 'samplesPerLabel', 'evaluationInterval', 'patience'] as const;
/** Options that only mean something for the full-batch triplet optimisers. */
const TRIPLETS_ONLY = ['gradientTolerance', 'historySize'] as const;

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

export function resolveParams(body: TrainBody, ds: DatasetRecord): TrainJobParams {
  return usesSamples(body, ds) ? minedParams(body) : tripletParams(body);
}

function tripletParams(body: TrainBody): TripletJobParams {
  const d = DEFAULT_TRAIN_PARAMS;
  for (const key of [...MINING_ONLY, 'learningRate'] as const) {
    if (body[key] !== undefined) throw unsupported(`body/${key} applies to training on labelled samples; this dataset trains on its triplets`);
  }
  if (body.optimizer === 'adam') {
    throw unsupported('body/optimizer: adam trains on labelled samples with mining; for triplets use lbfgs or cg');
  }
  if (body.mining !== undefined && body.mining !== 'none') {
    throw new AppError(422, 'NO_SAMPLES', `mining "${body.mining}" needs labelled samples; upload them with POST /datasets/:id/samples`);
  }
  return {
    source: 'triplets',
    outputDimension: body.outputDimension,
    margin: body.margin ?? d.margin,
    optimizer: (body.optimizer as 'lbfgs' | 'cg' | undefined) ?? d.optimizer,
    maxIterations: body.maxIterations ?? d.maxIterations,
    normalize: body.normalize ?? d.normalize,
    weightDecay: body.weightDecay ?? d.weightDecay,
    init: body.init ?? d.init,
    validationFraction: body.validationFraction ?? 0,
    mining: 'none',
    seed: body.seed ?? d.seed,
    gradientTolerance: body.gradientTolerance ?? d.gradientTolerance,
    historySize: body.historySize ?? d.historySize,
  };
}

function minedParams(body: TrainBody): MinedJobParams {
  const d = DEFAULT_MINED_PARAMS;
  for (const key of TRIPLETS_ONLY) {
    if (body[key] !== undefined) throw unsupported(`body/${key} applies to the lbfgs and cg optimisers; mined training uses adam`);
  }
  if (body.optimizer !== undefined && body.optimizer !== 'adam') {
    throw unsupported(`body/optimizer: training on labelled samples mines a new batch every step and uses adam, not ${body.optimizer}`);
  }
  const p: MinedJobParams = {
    source: 'samples',
    outputDimension: body.outputDimension,
    margin: body.margin ?? d.margin,
    optimizer: 'adam',
    maxIterations: body.maxIterations ?? d.maxIterations,
    normalize: body.normalize ?? d.normalize,
    weightDecay: body.weightDecay ?? d.weightDecay,
    init: body.init ?? d.init,
    validationFraction: body.validationFraction ?? d.validationFraction,
    mining: body.mining ?? d.mining,
    loss: body.loss ?? d.loss,
    distance: body.distance ?? d.distance,
    learningRate: body.learningRate ?? d.learningRate,
    batchSize: body.batchSize ?? d.batchSize,
    samplesPerLabel: body.samplesPerLabel ?? d.samplesPerLabel,
    evaluationInterval: body.evaluationInterval ?? d.evaluationInterval,
    patience: body.patience ?? d.patience,
    seed: body.seed ?? d.seed,
  };
  if (p.samplesPerLabel > p.batchSize) throw unsupported(`body/samplesPerLabel (${p.samplesPerLabel}) cannot exceed batchSize (${p.batchSize})`);
  return p;
}

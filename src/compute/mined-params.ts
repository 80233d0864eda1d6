// A mined job's parameters as the math core takes them: the API's, over the core's defaults for
// the mining options the API does not expose. One function for the worker that trains and for
// POST /train, which runs the core's own checks on the result: a job the trainer would refuse is
// refused before it is queued, with the trainer's words.
import { DEFAULT_MINED_PARAMS, LEGACY_LOSS_MIX } from '../math/defaults.js';
import type { MinedTrainParams } from '../math/mining/types.js';
import type { MinedTrainingParams } from '../domain/training.js';

export function minedTrainParams(p: MinedTrainingParams): MinedTrainParams {
  // the API's validationMetric is the core's earlyStoppingMetric (absent in jobs stored before it existed)
  const { validationMetric, ...options } = p;
  return {
    ...DEFAULT_MINED_PARAMS,
    // a job stored before the loss mix existed trains (and resumes) as it was queued
    ...LEGACY_LOSS_MIX,
    ...options,
    earlyStoppingMetric: validationMetric ?? DEFAULT_MINED_PARAMS.earlyStoppingMetric,
  };
}

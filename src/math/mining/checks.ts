// Input checks of trainMined: the labelled samples' shapes and the mining, Adam and validation options.
import { checkCommonParams, isPositiveInteger } from '../training/checks.js';
import type { LabelledSamples, MinedTrainParams } from './types.js';
import { RELATIVE_LEARNING_RATE } from './learning-rate.js';

/** Throws a RangeError naming the first input out of range. */
export function validateMinedInputs(s: LabelledSamples, p: MinedTrainParams): void {
  const { n, d } = s;
  if (!(isPositiveInteger(n) && isPositiveInteger(d)))
    throw new RangeError(`samples need positive integer n and d (got n=${n}, d=${d})`);
  if (s.X.length !== n * d) throw new RangeError(`X has ${s.X.length} values, expected n·d = ${n * d}`);
  if (s.labels.length !== n) throw new RangeError(`labels has ${s.labels.length} values, expected n = ${n}`);
  checkMinedParams(p);
}

/** Throws a RangeError naming the first option out of range (its message begins with the option's name). */
export function checkMinedParams(p: MinedTrainParams): void {
  checkCommonParams(p);
  if (p.learningRate !== 'auto' && !(Number.isFinite(p.learningRate) && p.learningRate > 0))
    throw new RangeError(`learningRate must be > 0 or auto`);
  if (!(p.learningRateFloor >= 0 && p.learningRateFloor <= 1))
    throw new RangeError(`learningRateFloor must be in [0, 1]`);
  if (!(isPositiveInteger(p.samplesPerLabel) && p.samplesPerLabel >= 2))
    throw new RangeError(`samplesPerLabel must be an integer ≥ 2`);
  if (!(isPositiveInteger(p.batchSize) && p.batchSize >= 2 * p.samplesPerLabel)) {
    throw new RangeError(`batchSize must be an integer ≥ 2·samplesPerLabel (two labels per batch)`);
  }
  if (!(p.validationFraction >= 0 && p.validationFraction <= 0.5))
    throw new RangeError(`validationFraction must be in [0, 0.5]`);
  if (!isPositiveInteger(p.evaluationInterval)) throw new RangeError(`evaluationInterval must be a positive integer`);
  if (!(Number.isInteger(p.patience) && p.patience >= 0)) throw new RangeError(`patience must be an integer ≥ 0`);
  if (!(p.earlyStoppingStart >= 0 && p.earlyStoppingStart <= 1))
    throw new RangeError(`earlyStoppingStart must be in [0, 1]`);
  if (!isPositiveInteger(p.validationMaxSamples) || p.validationMaxSamples < 2)
    throw new RangeError(`validationMaxSamples must be an integer ≥ 2`);
  checkLossMix(p);
  checkDecayShrink(p);
}

/**
 * AdamW shrinks W by learning rate·weightDecay of itself a step (under `auto`,
 * RELATIVE_LEARNING_RATE·weightDecay at the schedule's peak, whatever the features' units): from 1
 * on, a step wipes W out or flips its sign, and nothing is learned.
 */
function checkDecayShrink(p: MinedTrainParams): void {
  const rate = p.learningRate === 'auto' ? RELATIVE_LEARNING_RATE : p.learningRate;
  const shrink = rate * p.weightDecay;
  if (!(shrink < 1)) {
    const most = p.learningRate === 'auto' ? ` (under learningRate auto, weightDecay below ${1 / rate})` : '';
    throw new RangeError(
      `weightDecay × learning rate must be below 1${most}, got ${shrink}: AdamW shrinks W by that share of itself a step`,
    );
  }
}

/** The batch objective's mix: finite non-negative weights, not all zero, a positive temperature. */
function checkLossMix(p: MinedTrainParams): void {
  const w = [p.tripletWeight, p.softNeighbourWeight, p.startPull];
  if (!w.every((x) => Number.isFinite(x) && x >= 0))
    throw new RangeError(`tripletWeight, softNeighbourWeight and startPull must be finite and ≥ 0`);
  // the core's own term, not an API option (docs/decisions/0073): named only when it is set
  const ms = p.multiSimilarityWeight ?? 0;
  if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`multiSimilarityWeight must be finite and ≥ 0`);
  if (p.tripletWeight === 0 && p.softNeighbourWeight === 0 && ms === 0)
    throw new RangeError(`tripletWeight and softNeighbourWeight cannot both be 0: the batch would have no loss`);
  if (!(Number.isFinite(p.softNeighbourTemperature) && p.softNeighbourTemperature > 0))
    throw new RangeError(`softNeighbourTemperature must be > 0`);
}

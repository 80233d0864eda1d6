// `learningRate: 'auto'`: Adam's base rate as a fraction of the start map's typical entry.
//
// Adam moves every entry of W by about the learning rate a step, whatever the gradient's size, so an
// absolute rate means a different relative step on every data set: the PCA start is rescaled to the
// data, and its entries shrink as the features grow (docs/decisions/0062 has their sizes). The same
// data in other units then trains another model, and one absolute default is too large for some sets
// and too small for others.
// Tying the rate to the RMS entry of W₀ makes training from the PCA start invariant to the features'
// scale, with the start pull (divided by ‖W₀‖²) and weight decay (trainMined rescales it under `auto`).
// The identity and uniform starts are not rescaled to the data, so `auto` gives them a fixed rate: with
// unit-norm embeddings their loss ignores the features' scale anyway, with plain ones it does not. Pure.

import { sumOfSquares } from '../training/diagnostics.js';

/** Adam's base rate per unit of W₀'s RMS entry under `auto`. */
export const RELATIVE_LEARNING_RATE = 0.01;

/** The base rate for W₀: RELATIVE_LEARNING_RATE · √(mean W₀²); a zero start falls back to the relative rate. */
export function startRelativeLearningRate(W0: Float64Array): number {
  const rms = W0.length > 0 ? Math.sqrt(sumOfSquares(W0) / W0.length) : 0;
  return rms > 0 && Number.isFinite(rms) ? RELATIVE_LEARNING_RATE * rms : RELATIVE_LEARNING_RATE;
}

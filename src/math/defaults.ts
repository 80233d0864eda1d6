// Default values of the math core's training options, each next to the reason for it.
// Callers (the HTTP layer, scripts, benches) fill unset options from here; the caller always
// supplies outputDimension.
import type { MinedTrainParams } from './mining/types.js';
import type { TrainParams } from './types.js';

/**
 * Hinge margin, in units of the training distance (squared euclidean for `train`, the mined
 * `distance` for `trainMined`). The PCA start (init.ts) scales W so that typical squared distances
 * are of order 1, as they are between unit-norm embeddings; against that scale this margin asks
 * for a clear but reachable gap between positives and negatives. It is FaceNet's α for unit-norm
 * embeddings, and the numpy prototype kept it for the mined trainer across data sets.
 */
export const DEFAULT_MARGIN = 0.2;

/** Minimum ms between onProgress calls when the hooks do not say: often enough for a live view, rare enough to cost nothing. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 250;

/** L-BFGS history length: the usual 5–20 range; more pairs cost memory (2·k·d each) for little gain on this objective. */
export const DEFAULT_HISTORY_SIZE = 10;

/**
 * Defaults of `train` (full-batch L-BFGS or CG on triplets).
 * init 'pca': on real data the top principal directions already carry most of the
 * neighbourhood structure, so the optimiser starts near a good basin and the hinge
 * (a non-convex function of W) is less likely to settle in a poor local minimum than
 * from the write-up's random U(−r, r); the reference learner also starts from PCA.
 * Uniform stays available for reproducing the write-up.
 */
export const DEFAULT_TRAIN_PARAMS: Readonly<Omit<TrainParams, 'outputDimension'>> = Object.freeze({
  margin: DEFAULT_MARGIN,
  optimizer: 'lbfgs',
  maxIterations: 400,
  normalize: false,
  weightDecay: 0,
  init: 'pca',
  seed: 0,
  gradientTolerance: 1e-8,
  historySize: DEFAULT_HISTORY_SIZE,
  preconditioner: 'whiten',
});

/**
 * The batch objective before issue 18: the mined triplet losses alone. Jobs stored without these
 * fields train (and resume) with them, and tests that pin the older behaviour name them.
 */
export const LEGACY_LOSS_MIX: Readonly<
  Pick<MinedTrainParams, 'tripletWeight' | 'softNeighbourWeight' | 'softNeighbourTemperature' | 'startPull'>
> = Object.freeze({ tripletWeight: 1, softNeighbourWeight: 0, softNeighbourTemperature: 0.1, startPull: 0 });

/**
 * Defaults of `trainMined` (Adam on P×K mined batches). They follow the numpy prototype reported in
 * the issue, which measured them across data sets rather than on one alone: P×K = 10×8, the margin on
 * plain euclidean distance between L2-normalised embeddings, Adam with cosine decay to 0 over
 * 3000 steps (the prototype's rate 3e-3 was absolute; `auto` ties it to the start's scale, 0062),
 * PCA init, and the sum of the semi-hard and batch-hard losses (semi-hard alone did best on MAP@R
 * but hurt precision@1 on unseen classes, batch-hard the reverse).
 * normalize `auto` (normalize-choice.ts): with validation on held-out labels, both ways train the first
 * tenth of the schedule and the better validation figure goes on; otherwise unit norm unless the label-free
 * start's plain embeddings find significantly more leave-one-out nearest neighbours (McNemar's z ≥ 2).
 * Neither way wins everywhere: with an absolute margin, unnormalised embeddings can satisfy the hinge by
 * growing W, and on face-like data unit norm often trains to the better ranking; where an embedding's
 * length carries the class (a steep identity spectrum, ink per digit) unit norm discards it; and on a
 * flatter spectrum plain embeddings trained better although the start favoured unit norm
 * (docs/decisions/0060, 0061, 0063 and 0065).
 * 10% validation (whole labels when there are enough of them), evaluated every 100 steps; early stop
 * after 10 evaluations without a MAP@R gain beyond the figure's round-to-round noise (measured from
 * the level of the last gain, so a slow climb counts), counted from the middle of the schedule on
 * (in the first half the learning rate is still high and a flat figure is not a plateau), keeping the
 * best W (the latest one within noise of the best). MAP@R rather than precision@1: see
 * docs/decisions/0047-early-stopping-noise.md.
 * startPull 50: a pull towards the PCA start, divided by the pairs of training labels, so that it
 * keeps what the raw neighbourhoods get right on unseen classes when few labels train and vanishes
 * when many do; with normalize it pulls directions only (the loss ignores the scale of W). Gated by
 * the start's own evidence (start-gate.ts): scaled by its leave-one-out precision@1 on the training
 * samples above chance, times the share it keeps of the raw features' own, so a start that keeps
 * noise with the largest variance (the README's 3-label walk-through: gate 0) is not held, and a
 * start that is right (digits: gate 0.91–0.99) is.
 * The soft-neighbour term stays off: it helped one data set and hurt another. Figures:
 * docs/decisions/0045-start-pull-default.md and 0051-start-pull-gate.md.
 */
export const DEFAULT_MINED_PARAMS: Readonly<Omit<MinedTrainParams, 'outputDimension'>> = Object.freeze({
  margin: DEFAULT_MARGIN,
  normalize: 'auto',
  weightDecay: 0,
  init: 'pca',
  seed: 0,
  mining: 'semihard+batchhard',
  loss: 'hinge',
  distance: 'euclidean',
  reduction: 'nonzero',
  learningRate: 'auto',
  learningRateFloor: 0,
  beta1: 0.9,
  beta2: 0.999,
  adamEpsilon: 1e-8,
  batchSize: 80,
  samplesPerLabel: 8,
  maxIterations: 3000,
  validationFraction: 0.1,
  validationSplit: 'auto',
  validationMaxSamples: 1000,
  evaluationInterval: 100,
  patience: 10,
  earlyStoppingStart: 0.5,
  earlyStoppingMetric: 'mapAtR',
  minDelta: 1e-4,
  ...LEGACY_LOSS_MIX,
  startPull: 50,
});

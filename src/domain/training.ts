// Training parameters, defined once: every option's schema (validation, OpenAPI, type) and every
// default. POST /train's body is built from these options; a job stores the defaulted parameters
// of its kind; the worker hands them to the math core as they are; a model keeps them.
import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { DEFAULT_MINED_PARAMS, DEFAULT_TRAIN_PARAMS } from '../math/index.js';
import { NAME_MAX_LENGTH } from './aliases.js';
import { TAR_METRICS } from '../math/mining/types.js';
import { FLOAT32_MAX } from '../math/embedding-range.js';

const MINING = ['none', 'semihard', 'batchhard', 'semihard+batchhard'] as const;

/**
 * The most an option with no scale of its own (a margin, a weight decay, a tolerance) may be: the
 * largest float32. No distance between finite float32 embeddings passes it, a loss summed over every
 * triplet a dataset may hold stays finite in float64, and a JSON 1e400 (Infinity) is refused.
 */
export const MAX_SCALE_FREE = FLOAT32_MAX;
const literals = <const T extends string>(values: readonly T[], options: object = {}) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  );

/** Every option of a training job, as POST /train documents it. */
export const TrainingOptions = {
  outputDimension: Type.Integer({ minimum: 1, description: 'k, the embedding dimension' }),
  margin: Type.Number({
    minimum: 0,
    maximum: MAX_SCALE_FREE,
    description: `Hinge margin. Default ${DEFAULT_TRAIN_PARAMS.margin}. Triplets: on squared distances. Mined samples: in units of \`distance\` (Euclidean by default)`,
  }),
  optimizer: literals(['lbfgs', 'cg', 'adam'], {
    description:
      "`lbfgs` (default for triplets) or `cg` (the write-up's choice), both with a strong-Wolfe line search; " +
      '`adam` (default and only choice for mined samples; full-batch on triplets) with `learningRate` and a cosine decay',
  }),
  maxIterations: Type.Integer({
    minimum: 1,
    description: `Default ${DEFAULT_TRAIN_PARAMS.maxIterations} for triplets, ${DEFAULT_MINED_PARAMS.maxIterations} Adam steps for mined samples`,
  }),
  normalize: Type.Union([Type.Boolean(), Type.Literal('auto')], {
    description:
      'L2-normalise embeddings in training and serving. Default false for triplets, `auto` for mined samples: ' +
      'with validation on held-out labels, both ways train the first tenth of the steps side by side and the one with the ' +
      'better validation figure goes on (unit norm on a tie); otherwise unit norm unless the start map’s plain embeddings find significantly ' +
      "more true nearest neighbours among the training samples (McNemar's z ≥ 2). The model and `metrics.normalized` say " +
      'which it chose, `metrics.normalizeEvidence` on what. See docs/decisions/0063 and 0065',
  }),
  weightDecay: Type.Number({
    minimum: 0,
    maximum: MAX_SCALE_FREE,
    description:
      'λ in ½·λ·‖W‖²_F. Default 0. Mined samples (AdamW, which shrinks W by learning rate·λ a step): ' +
      'learningRate·λ below 1, under `auto` λ below 100',
  }),
  init: literals(['uniform', 'pca', 'identity'], {
    description: "`pca` (default), `uniform` (the write-up's ±√6/√(k+d+1)) or `identity`",
  }),
  validationFraction: Type.Number({
    minimum: 0,
    maximum: 0.9,
    description: `Share held out for validation: of the triplets (default 0), or for mined samples of the labels (unseen classes) or of each label's samples, as validationSplit says (default ${DEFAULT_MINED_PARAMS.validationFraction})`,
  }),
  validationSplit: literals(['auto', 'labels', 'samples'], {
    description:
      'Mined samples: what validation holds out. `labels`: whole labels, so validation (and the kept W) measures classes ' +
      'never seen in training, as an open-set app meets them (needs 4 labels with 2+ samples, else samples with a warning); ' +
      "`samples`: a share of each label's samples; `auto` (default): labels when 20+ labels have 2+ samples, else samples. " +
      'The job reports the split it used in metrics.validationSplit',
  }),
  mining: literals(MINING, {
    description:
      "Online mining from the dataset's labelled samples in P×K batches. Default `semihard+batchhard` (the sum of both losses) " +
      'when the dataset has samples; `none` trains on the stored triplets.',
  }),
  loss: literals(['hinge', 'softplus'], {
    description: 'Mined samples: `hinge` (default) or `softplus`, the soft margin of Hermans et al.',
  }),
  distance: literals(['euclidean', 'squared'], {
    description: 'Mined samples: the distance the loss and the margin use. Default `euclidean`',
  }),
  learningRate: Type.Union([Type.Number({ minimum: 1e-12, maximum: 10 }), Type.Literal('auto')], {
    description:
      'Adam: base learning rate, or `auto` (default): 0.01 times the start map’s RMS entry, so that from the PCA ' +
      'start the same data in other units trains the same model; `metrics.learningRate` says what ran. See ' +
      'docs/decisions/0062',
  }),
  tripletWeight: Type.Number({
    minimum: 0,
    maximum: 1000,
    description: `Mined samples: weight of the mined triplet losses in each batch's objective (0 leaves them out). Default ${DEFAULT_MINED_PARAMS.tripletWeight}`,
  }),
  softNeighbourWeight: Type.Number({
    minimum: 0,
    maximum: 1000,
    description:
      'Mined samples: weight of the soft-neighbour (NCA-style) batch loss, −log of the softmax probability that a ' +
      `sample's neighbour in the batch has its label (0 leaves it out). Default ${DEFAULT_MINED_PARAMS.softNeighbourWeight}`,
  }),
  // Inclusive (OpenAPI 3.0 has no numeric exclusiveMinimum): a floor far below any useful temperature.
  softNeighbourTemperature: Type.Number({
    minimum: 1e-4,
    maximum: 100,
    description: `Mined samples: temperature of the soft-neighbour softmax, in units of \`distance\`, 1e-4 to 100. Default ${DEFAULT_MINED_PARAMS.softNeighbourTemperature}`,
  }),
  startPull: Type.Number({
    minimum: 0,
    maximum: 1e6,
    description:
      'Mined samples: pull towards the starting map W₀ (the `init`), λ·‖W − W₀‖²/‖W₀‖² with ' +
      'λ = startPull · gate / pairs of training labels: it keeps what the raw neighbourhoods already get right when few labels train, ' +
      'and vanishes when many do. The gate (0 to 1, reported as `metrics.startPullGate`) is how good the start is on the training ' +
      "samples: its leave-one-out precision@1 above chance, times the share it keeps of the raw features' own, so a start that " +
      'keeps noise is not held; with `normalize`, on the directions W/‖W‖ only ' +
      `(0 leaves it out). Default ${DEFAULT_MINED_PARAMS.startPull}`,
  }),
  batchSize: Type.Integer({
    minimum: 2,
    maximum: 100000,
    description: `Mined samples: P·K samples a batch. Default ${DEFAULT_MINED_PARAMS.batchSize}`,
  }),
  samplesPerLabel: Type.Integer({
    minimum: 2,
    maximum: 10000,
    description: `Mined samples: K. Default ${DEFAULT_MINED_PARAMS.samplesPerLabel}`,
  }),
  evaluationInterval: Type.Integer({
    minimum: 1,
    description: `Mined samples: validate every this many steps. Default ${DEFAULT_MINED_PARAMS.evaluationInterval}`,
  }),
  validationMetric: literals(
    ['mapAtR', 'precisionAt1', 'rPrecision', 'validationLoss', 'validationTripletAccuracy', ...TAR_METRICS],
    {
      description:
        `Mined samples: the validation figure early stopping and the kept W follow. Default \`${DEFAULT_MINED_PARAMS.earlyStoppingMetric}\`. ` +
        '`tar@far=1e-2` … `1e-4`: the true-accept rate at that false-accept rate over every pair of the validation samples ' +
        '(euclidean distance; reported as `validationTarAtFar`); when those pairs cannot support the FAR, early stopping ' +
        'follows mapAtR with a warning. See docs/decisions/0035',
    },
  ),
  patience: Type.Integer({
    minimum: 0,
    description: `Mined samples: evaluations without improvement before stopping early (0 never). Default ${DEFAULT_MINED_PARAMS.patience}`,
  }),
  seed: Type.Integer({
    minimum: 0,
    maximum: 2 ** 31 - 1,
    description: 'Same data, params and seed give the same model. Default 0',
  }),
  gradientTolerance: Type.Number({
    minimum: 0,
    maximum: MAX_SCALE_FREE,
    description: `Stop when ‖∇‖∞ falls below this. Default ${DEFAULT_TRAIN_PARAMS.gradientTolerance}`,
  }),
  historySize: Type.Integer({
    minimum: 1,
    maximum: 100,
    description: `L-BFGS memory. Default ${DEFAULT_TRAIN_PARAMS.historySize}`,
  }),
  preconditioner: literals(['whiten', 'none'], {
    description: `Triplet jobs: \`whiten\` optimises in coordinates where the training vectors' covariance is near the identity (the same loss and minima, reached in fewer iterations); \`none\` the plain problem, as the write-up. Default ${DEFAULT_TRAIN_PARAMS.preconditioner}`,
  }),
} satisfies Record<string, TSchema>;

const o = TrainingOptions;

/** A job on the stored triplets with a full-batch optimiser. */
export const TripletTrainingParams = Type.Object({
  source: Type.Literal('triplets'),
  outputDimension: o.outputDimension,
  margin: o.margin,
  optimizer: literals(['lbfgs', 'cg']),
  maxIterations: o.maxIterations,
  // `auto` chooses by labelled samples' evidence, which triplets do not give
  normalize: Type.Boolean({ description: o.normalize.description }),
  weightDecay: o.weightDecay,
  init: o.init,
  validationFraction: o.validationFraction,
  mining: Type.Literal('none'),
  seed: o.seed,
  gradientTolerance: o.gradientTolerance,
  historySize: o.historySize,
  // optional: jobs stored before it existed have none (and train, and resume, on the plain problem)
  preconditioner: Type.Optional(o.preconditioner),
});
export type TripletTrainingParams = Static<typeof TripletTrainingParams>;

/** A job mining P×K batches from the labelled samples, with Adam. */
export const MinedTrainingParams = Type.Object({
  source: Type.Literal('samples'),
  outputDimension: o.outputDimension,
  margin: o.margin,
  optimizer: Type.Literal('adam'),
  maxIterations: o.maxIterations,
  normalize: o.normalize,
  weightDecay: o.weightDecay,
  init: o.init,
  validationFraction: o.validationFraction,
  // optional: jobs stored before it existed have none (and split as `auto`)
  validationSplit: Type.Optional(o.validationSplit),
  mining: o.mining,
  loss: o.loss,
  distance: o.distance,
  learningRate: o.learningRate,
  batchSize: o.batchSize,
  samplesPerLabel: o.samplesPerLabel,
  evaluationInterval: o.evaluationInterval,
  patience: o.patience,
  seed: o.seed,
  // optional: jobs stored before it existed have none (and follow mapAtR)
  validationMetric: Type.Optional(o.validationMetric),
  // optional: jobs stored before they existed have none (and train with LEGACY_LOSS_MIX)
  tripletWeight: Type.Optional(o.tripletWeight),
  softNeighbourWeight: Type.Optional(o.softNeighbourWeight),
  softNeighbourTemperature: Type.Optional(o.softNeighbourTemperature),
  startPull: Type.Optional(o.startPull),
});
export type MinedTrainingParams = Static<typeof MinedTrainingParams>;

/** The defaulted parameters a job stores and a model keeps. */
export const TrainingParams = Type.Union([TripletTrainingParams, MinedTrainingParams], {
  $id: 'TrainingParams',
  description: 'Every parameter of the training run, defaults filled in; `source` says which kind',
});
export type TrainingParams = Static<typeof TrainingParams>;
export type TrainingSource = TrainingParams['source'];

/** The defaults of each kind of job (outputDimension has none: the caller chooses k). */
export const TRAINING_DEFAULTS: {
  triplets: Omit<TripletTrainingParams, 'outputDimension'>;
  samples: Omit<MinedTrainingParams, 'outputDimension'>;
} = {
  triplets: {
    ...pickDefaults(TripletTrainingParams, DEFAULT_TRAIN_PARAMS),
    source: 'triplets',
    validationFraction: 0,
    mining: 'none',
  } as Omit<TripletTrainingParams, 'outputDimension'>,
  samples: {
    ...pickDefaults(MinedTrainingParams, DEFAULT_MINED_PARAMS),
    source: 'samples',
    optimizer: 'adam',
    validationMetric: DEFAULT_MINED_PARAMS.earlyStoppingMetric,
  } as Omit<MinedTrainingParams, 'outputDimension'>,
};

/** The math core's defaults for the options a job of this kind stores. */
function pickDefaults(schema: TObject, defaults: object): Record<string, unknown> {
  const all = defaults as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) if (key in all) out[key] = all[key];
  return out;
}

/** The options a job of this kind stores, in their stored order. */
export const optionNames = (source: TrainingSource): string[] =>
  Object.keys((source === 'triplets' ? TripletTrainingParams : MinedTrainingParams).properties);

/**
 * What a job does with the model it makes, beside how it trains it: not training parameters (the
 * math never sees them, and a model does not keep them). POST /train takes them, the job stores them.
 */
export const JobModelOptions = {
  modelName: Type.String({
    maxLength: NAME_MAX_LENGTH,
    description: "The trained model's name (PATCH /models/:id renames it)",
  }),
  promote: Type.Boolean({
    description:
      'Move the alias `default` to the trained model when the job succeeds, in the same transaction; a job that fails or is cancelled moves nothing',
  }),
} satisfies Record<string, TSchema>;
export interface JobModelOptions {
  modelName: string | null;
  promote: boolean;
}
/** A job's model options when the request gives none. */
export const JOB_MODEL_DEFAULTS: JobModelOptions = { modelName: null, promote: false };

/**
 * Whether a job's model embeds with unit norm: the stored `normalize`, or for `auto` what the
 * trainer chose (reported as metrics.normalized).
 */
export function embeddedNormalized(p: TrainingParams, metrics: Record<string, unknown>): boolean {
  if (typeof p.normalize === 'boolean') return p.normalize;
  if (typeof metrics.normalized !== 'boolean') throw new Error('normalize auto: the trainer did not report its choice');
  return metrics.normalized;
}

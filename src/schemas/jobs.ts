import { Type, type Static } from '@sinclair/typebox';
import { FreeObject, NullableTimestamp, Timestamp } from './common.js';
import { Triplet } from './datasets.js';

export const JobStatus = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);

/** Everything /train accepts; unknown fields are rejected. Defaults live in services/train-params.ts. */
export const TrainBody = Type.Object(
  {
    datasetId: Type.Optional(Type.String({ description: 'Dataset to train on. Give this or `triplets`.' })),
    triplets: Type.Optional(
      Type.Array(Triplet, { minItems: 1, description: 'A small inline training set, stored as a new dataset' }),
    ),
    outputDimension: Type.Integer({ minimum: 1, description: 'k, the embedding dimension', examples: [16] }),
    margin: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'Hinge margin. Default 0.2. Triplets: on squared distances. Mined samples: in units of `distance` (Euclidean by default)',
      }),
    ),
    optimizer: Type.Optional(
      Type.Union([Type.Literal('lbfgs'), Type.Literal('cg'), Type.Literal('adam')], {
        description:
          '`lbfgs` (default for triplets) or `cg` (the write-up\'s choice), both with a strong-Wolfe line search; ' +
          '`adam` (default and only choice for mined samples; full-batch on triplets) with `learningRate` and a cosine decay',
      }),
    ),
    maxIterations: Type.Optional(Type.Integer({ minimum: 1, description: 'Default 400 for triplets, 3000 Adam steps for mined samples' })),
    normalize: Type.Optional(
      Type.Boolean({ description: 'L2-normalise embeddings in training and serving. Default false for triplets, true for mined samples' }),
    ),
    weightDecay: Type.Optional(Type.Number({ minimum: 0, description: 'λ in ½·λ·‖W‖²_F. Default 0' })),
    init: Type.Optional(
      Type.Union([Type.Literal('uniform'), Type.Literal('pca'), Type.Literal('identity')], {
        description: '`pca` (default), `uniform` (the write-up\'s ±√6/√(k+d+1)) or `identity`',
      }),
    ),
    validationFraction: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 0.9,
        description:
          'Share held out for validation: of the triplets (default 0), or of the labels — unseen classes — for mined samples (default 0.1)',
      }),
    ),
    mining: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('semihard'), Type.Literal('batchhard'), Type.Literal('semihard+batchhard')], {
        description:
          'Online mining from the dataset\'s labelled samples in P×K batches. Default `semihard+batchhard` (the sum of both losses) ' +
          'when the dataset has samples; `none` trains on the stored triplets.',
      }),
    ),
    loss: Type.Optional(
      Type.Union([Type.Literal('hinge'), Type.Literal('softplus')], {
        description: 'Mined samples: `hinge` (default) or `softplus`, the soft margin of Hermans et al.',
      }),
    ),
    distance: Type.Optional(
      Type.Union([Type.Literal('euclidean'), Type.Literal('squared')], {
        description: 'Mined samples: the distance the loss and the margin use. Default `euclidean`',
      }),
    ),
    learningRate: Type.Optional(Type.Number({ minimum: 1e-12, maximum: 10, description: 'Adam: base learning rate. Default 0.003' })),
    batchSize: Type.Optional(Type.Integer({ minimum: 2, maximum: 100000, description: 'Mined samples: P·K samples a batch. Default 80' })),
    samplesPerLabel: Type.Optional(Type.Integer({ minimum: 2, maximum: 10000, description: 'Mined samples: K. Default 8' })),
    evaluationInterval: Type.Optional(Type.Integer({ minimum: 1, description: 'Mined samples: validate every this many steps. Default 100' })),
    patience: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Mined samples: evaluations without improvement before stopping early (0 never). Default 10' }),
    ),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: 'Same data, params and seed give the same model. Default 0' })),
    gradientTolerance: Type.Optional(Type.Number({ minimum: 0, description: 'Stop when ‖∇‖∞ falls below this. Default 1e-8' })),
    historySize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'L-BFGS memory. Default 10' })),
  },
  {
    additionalProperties: false,
    examples: [
      { datasetId: 'ds_3q2x9bK1yY0aQvTn', outputDimension: 16, normalize: true, weightDecay: 0.0001, seed: 7 },
      { datasetId: 'ds_3q2x9bK1yY0aQvTn', outputDimension: 64, mining: 'semihard+batchhard', maxIterations: 3000 },
    ],
  },
);
export type TrainBody = Static<typeof TrainBody>;

export const Progress = Type.Object({
  iteration: Type.Integer(),
  maxIterations: Type.Integer(),
  loss: Type.Number({ description: 'Training loss: full objective (triplets) or the running mean over recent batches (mining)' }),
  gradientNorm: Type.Number(),
  activeFraction: Type.Number(),
  elapsedMs: Type.Number(),
  learningRate: Type.Optional(Type.Number({ description: 'Adam: the scheduled learning rate' })),
  validationLoss: Type.Optional(Type.Number({ description: 'Mined samples: latest validation figures' })),
  validationTripletAccuracy: Type.Optional(Type.Number()),
  precisionAt1: Type.Optional(Type.Number()),
  rPrecision: Type.Optional(Type.Number()),
  mapAtR: Type.Optional(Type.Number()),
  validationIteration: Type.Optional(Type.Integer({ description: 'Step of the validation figures above' })),
  bestIteration: Type.Optional(Type.Integer({ description: 'Step of the W that would be kept now' })),
  warning: Type.Optional(Type.String({ description: 'e.g. a collapse warning from the latest validation' })),
});

export const JobError = Type.Object({ code: Type.String(), message: Type.String() });

export const Job = Type.Object(
  {
    id: Type.String({ examples: ['job_Hk2m0aP9cQe1xV3b'] }),
    status: JobStatus,
    datasetId: Type.String(),
    params: FreeObject,
    progress: Type.Union([Progress, Type.Null()]),
    metrics: Type.Union([FreeObject, Type.Null()]),
    modelId: Type.Union([Type.String(), Type.Null()]),
    error: Type.Union([JobError, Type.Null()]),
    createdAt: Timestamp,
    startedAt: NullableTimestamp,
    finishedAt: NullableTimestamp,
  },
  { $id: 'Job' },
);

export const JobsQuery = Type.Object(
  {
    status: Type.Optional(JobStatus),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type JobsQuery = Static<typeof JobsQuery>;
